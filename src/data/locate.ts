import { ROW_NUMBER_LIMIT, type Locate } from './checks/check.js';
import { ident, type DuckSession } from './duck.js';
import type { Snapshot } from './load.js';

/**
 * A request whose first ROW_NUMBER_LIMIT matches are expected within this share of the file
 * (if its matches are spread evenly) gets a LIMIT query of its own, which stops reading there.
 * Rarer ones are found together in one scan of the whole file, so a handful of sparse findings
 * costs one scan, not one each.
 */
const NEAR_SHARE = 0.1;

interface Wanted extends Locate {
  /** How many row numbers to report. */
  n: number;
}

/**
 * The first ROW_NUMBER_LIMIT row numbers (1-based, file order) of the records matching each
 * request, by key. The counts are known already (from the shared pass), so each search stops
 * as soon as it has found what it will report. Record numbers come from `snapshot.numbered`,
 * which reads in file order on one thread: these are LIMIT queries, not aggregates.
 */
export async function locateRows(duck: DuckSession, snapshot: Snapshot, requests: Locate[]): Promise<Map<string, number[]>> {
  const wanted: Wanted[] = requests.filter((r) => r.count > 0).map((r) => ({ ...r, n: Math.min(ROW_NUMBER_LIMIT, r.count) }));
  const found = new Map<string, number[]>();
  const near = wanted.filter((r) => r.n / r.count <= NEAR_SHARE);
  const far = wanted.filter((r) => r.n / r.count > NEAR_SHARE);
  if (near.length > 0) await locateNear(duck, { snapshot, wanted: near, found });
  if (far.length > 0) await locateFar(duck, { snapshot, wanted: far, found });
  return found;
}

/** One LIMIT query a request, run together as a UNION ALL; DuckDB keeps file order under a LIMIT (preserve_insertion_order). */
async function locateNear(duck: DuckSession, s: { snapshot: Snapshot; wanted: Wanted[]; found: Map<string, number[]> }): Promise<void> {
  const row = ident(s.snapshot.rowColumn);
  const branches = s.wanted.map((w, i) => `(SELECT ${i} AS k, ${row} AS r FROM ${s.snapshot.numbered} WHERE ${w.predicate} LIMIT ${w.n})`);
  const rows = await duck.rows<{ k: number; r: number }>(`SELECT k, r FROM (${branches.join(' UNION ALL ')})`);
  for (const w of s.wanted) s.found.set(w.key, []);
  for (const { k, r } of rows) s.found.get(s.wanted[k]!.key)!.push(r);
  for (const w of s.wanted) s.found.get(w.key)!.sort((a, b) => a - b);
}

/** One scan for all rare requests: each matching record with the requests it matches, the first `n` kept per request. */
async function locateFar(duck: DuckSession, s: { snapshot: Snapshot; wanted: Wanted[]; found: Map<string, number[]> }): Promise<void> {
  const matches = s.wanted.map((w) => `coalesce((${w.predicate}), false)`);
  const rows = await duck.rows<Record<string, number | boolean>>(
    `SELECT ${ident(s.snapshot.rowColumn)} AS r, ${matches.map((m, i) => `${m} AS m${i}`).join(', ')} FROM ${s.snapshot.numbered} WHERE ${matches.join(' OR ')}`,
  );
  rows.sort((a, b) => (a.r as number) - (b.r as number));
  s.wanted.forEach((w, i) => s.found.set(w.key, rows.filter((x) => x[`m${i}`] === true).slice(0, w.n).map((x) => x.r as number)));
}
