import { Unavailable } from '../core/index.js';
import { aggregateRow, columnNameKey, ident, type DuckSession } from './duck.js';
import type { Snapshot } from './load.js';

/**
 * Aggregates over every record of a snapshot, gathered from the column inspection, the checks
 * and the profile, and computed together in one scan. Reading and parsing the file is most of
 * what a pass costs, so one pass with a hundred aggregates beats a dozen passes with a few.
 */
export interface AggregatePass {
  /** Adds an aggregate expression and returns the key its value comes back under; the same SQL added twice is computed once. */
  add(sql: string): string;
  /** Adds the exact count of distinct values of `value` (a per-record expression), as `add` does. */
  addDistinctCount(value: string): string;
  /**
   * A per-record expression (e.g. `length(x)`) computed once per record for every aggregate
   * that uses it: DuckDB does not share subexpressions between aggregates. Returns the SQL
   * that refers to it.
   */
  shared(sql: string): string;
  /** Runs the pass (unless nothing was added); the result maps each key to its value. */
  run(duck: DuckSession): Promise<Record<string, unknown>>;
}

/** SQL tokens a name may hide in: string literals (left alone) and double-quoted identifiers. */
const IDENTIFIERS = /'(?:[^']|'')*'|"(?:[^"]|"")*"/g;

/**
 * A pass over `snapshot.scan`; a reader error surfaces as the snapshot's 400. When DuckDB runs
 * out of memory, exact distinct counts are taken out of the pass and grouped apart (see `run`).
 */
export function aggregatePass(snapshot: Snapshot): AggregatePass {
  const aggregates = new Map<string, string>();
  /** The value expression of each distinct count, by its aggregate's SQL. */
  const distinctOf = new Map<string, string>();
  const derived = new Map<string, string>();
  // The derived columns sit beside the file's own: their names start with what none of the file's
  // does, in any case (DuckDB's names ignore case, so a column `__SHARED0` is `__shared0`).
  let prefix = '__shared';
  while (snapshot.columns.some((c) => c.name.toLowerCase().startsWith(prefix))) prefix = `_${prefix}`;
  const add = (sql: string): string => {
    let key = aggregates.get(sql);
    if (!key) aggregates.set(sql, (key = `a${aggregates.size}`));
    return key;
  };
  return {
    add,
    addDistinctCount(value) {
      const sql = `count(DISTINCT ${value})`;
      distinctOf.set(sql, value);
      return add(sql);
    },
    shared(sql) {
      let name = derived.get(sql);
      if (!name) derived.set(sql, (name = `${prefix}${derived.size}`));
      return ident(name);
    },
    async run(duck) {
      // Nothing asked, nothing read: a pass costs a scan of the whole file.
      if (aggregates.size === 0) return {};
      // Each slice of a wide pass computes only the derived columns its aggregates use, found
      // by name (linear: a wide file has thousands of derived columns and dozens of slices).
      const index = new Map([...derived].map(([sql, name], i) => [ident(name), { sql, name, i, level: 0 }]));
      const fileColumns = new Set(snapshot.columns.map((c) => columnNameKey(c.name)));
      const source = (slice: readonly string[]): string => {
        const used = new Map<string, { sql: string; name: string; i: number; level: number }>();
        const read = new Map<string, string>();
        // A derived column may use an earlier one: take those too, and note the file's columns any of them reads.
        const todo = [...slice];
        for (let text = todo.pop(); text !== undefined; text = todo.pop()) {
          for (const [token] of text.matchAll(IDENTIFIERS)) {
            const d = index.get(token);
            if (d && !used.has(d.name)) {
              used.set(d.name, d);
              todo.push(d.sql);
            } else if (!d && token.startsWith('"')) {
              const key = columnNameKey(token.slice(1, -1).replaceAll('""', '"'));
              if (fileColumns.has(key)) read.set(key, token);
            }
          }
        }
        if (used.size === 0) return snapshot.scan;
        // One level of projection per step of derivation, each over the one below, carrying only
        // the columns read. A derived column naming an earlier one in the same SELECT (DuckDB's
        // aliases read left to right) cost about 2 ms of binding per reference over a table of
        // 800 columns: 55 ms of a 60 ms slice, 10 s of a 50-record file's pass.
        const ordered = [...used.values()].sort((a, b) => a.i - b.i);
        for (const d of ordered) {
          const below = [...d.sql.matchAll(IDENTIFIERS)].map(([token]) => used.get(index.get(token)?.name ?? '')?.level ?? 0);
          d.level = Math.max(0, ...below) + 1;
        }
        let from = snapshot.scan;
        const carried = [...read.values()];
        for (let level = 1; level <= Math.max(...ordered.map((d) => d.level)); level++) {
          const items = [...carried, ...ordered.map((d) => (d.level < level ? ident(d.name) : d.level === level ? `${d.sql} AS ${ident(d.name)}` : '')).filter(Boolean)];
          from = `(SELECT ${items.join(', ')} FROM ${from})`;
        }
        return from;
      };
      const ask = (list: Array<[string, string]>): Promise<Record<string, unknown>> =>
        aggregateRow((sql) => duck.aggregate(sql), { select: list.map(([sql, key]) => `${sql} AS ${key}`), from: source, perQuery: snapshot.aggregatesPerRead });
      const all = [...aggregates];
      try {
        return await ask(all);
      } catch (err) {
        // DuckDB keeps an exact distinct count that shares its query with other aggregates in
        // a table it cannot spill, which outgrows a small memory limit on a large file (3 GB
        // under 256 MB). Grouped in a query of its own, the same count spills: one more read.
        const distinct = all.filter(([sql]) => distinctOf.has(sql));
        if (!(err instanceof Unavailable) || distinct.length === 0) throw await snapshot.refuse(err);
        try {
          const row = all.length > distinct.length ? await ask(all.filter((a) => !distinct.includes(a))) : {};
          for (const [sql, key] of distinct) {
            const [got] = await duck.aggregate<{ n: number }>(`SELECT count(v) AS n FROM (SELECT ${distinctOf.get(sql)} AS v FROM ${source([sql])} GROUP BY v)`);
            row[key] = got!.n;
          }
          return row;
        } catch (again) {
          throw await snapshot.refuse(again);
        }
      }
    },
  };
}
