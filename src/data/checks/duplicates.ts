import { ident } from '../duck.js';
import { firstRowNumbers, type CheckOutcome, type QuarantineCheck } from './check.js';

/**
 * `duplicates@1`: records identical, field for field, to an earlier record. Records are
 * compared by a 64-bit hash of all their fields (DuckDB `hash`), so the count could in theory
 * include a collision; the row numbers are those of the repeats, not of the first occurrence.
 * Duplicates warn (they may be legitimate) and do not block.
 */
export const duplicatesCheck: QuarantineCheck = {
  name: 'duplicates',
  version: 1,
  async run(ctx): Promise<CheckOutcome> {
    const rowHash = `hash(${ctx.facts.map((f) => ident(f.name)).join(', ')})`;
    await ctx.duck.run(`CREATE TEMP TABLE dup_hashes AS SELECT h, min(rowid) AS first, count(*) AS c FROM (SELECT ${rowHash} AS h, rowid FROM raw) GROUP BY h HAVING count(*) > 1`);
    const [{ repeats }] = (await ctx.duck.rows<{ repeats: number }>('SELECT coalesce(sum(c - 1), 0)::BIGINT AS repeats FROM dup_hashes')) as [{ repeats: number }];
    const rowNumbers = repeats === 0 ? [] : await firstRowNumbers(ctx.duck, `rowid NOT IN (SELECT first FROM dup_hashes) AND ${rowHash} IN (SELECT h FROM dup_hashes)`);
    await ctx.duck.run('DROP TABLE dup_hashes');
    const base = { name: this.name, version: this.version, blocking: false, evidence: { duplicateRows: repeats, rowNumbers } };
    if (repeats === 0) return { ...base, status: 'pass', result: 'no duplicate records' };
    return { ...base, status: 'warn', result: `${repeats} records repeat an earlier record exactly` };
  },
};
