import { ident } from '../duck.js';
import { ROW_NUMBER_LIMIT, type CheckContext, type CheckOutcome, type QuarantineCheck } from './check.js';

/** A 64-bit hash of all of a record's fields. */
const recordHash = (columns: Array<{ name: string }>): string => `hash(${columns.map((c) => ident(c.name)).join(', ')})`;

/**
 * The first row numbers of records that repeat an earlier one. Only for files with repeats:
 * one pass finds the repeated hashes, then one in file order numbers their occurrences and
 * keeps all but each hash's first.
 */
async function repeatRowNumbers(ctx: CheckContext): Promise<number[]> {
  const h = recordHash(ctx.facts);
  const row = ident(ctx.snapshot.rowColumn);
  await ctx.duck.run(`CREATE OR REPLACE TEMP TABLE assay_dup_hashes AS SELECT h FROM (SELECT ${h} AS h FROM ${ctx.snapshot.scan}) GROUP BY h HAVING count(*) > 1`);
  try {
    const rows = await ctx.duck.rows<{ r: number }>(
      `SELECT r FROM (SELECT r, row_number() OVER (PARTITION BY h ORDER BY r) AS k FROM (SELECT ${row} AS r, ${h} AS h FROM ${ctx.snapshot.numbered}) WHERE h IN (SELECT h FROM assay_dup_hashes))
       WHERE k > 1 ORDER BY r LIMIT ${ROW_NUMBER_LIMIT}`,
    );
    return rows.map((x) => x.r);
  } finally {
    await ctx.duck.run('DROP TABLE assay_dup_hashes');
  }
}

/**
 * `duplicates@1`: records identical, field for field, to an earlier record. Records are
 * compared by a 64-bit hash of all their fields (DuckDB `hash`), so the count could in theory
 * include a collision; the row numbers are those of the repeats, not of the first occurrence.
 * Duplicates warn (they may be legitimate) and do not block.
 */
export const duplicatesCheck: QuarantineCheck = {
  name: 'duplicates',
  version: 1,
  probes: (plan) => [{ key: 'distinct', sql: `count(DISTINCT ${recordHash(plan.columns)})` }],
  async run(ctx): Promise<CheckOutcome> {
    const repeats = ctx.rows - ctx.probe('distinct');
    const rowNumbers = repeats === 0 ? [] : await repeatRowNumbers(ctx);
    const base = { name: this.name, version: this.version, blocking: false, evidence: { duplicateRows: repeats, rowNumbers } };
    if (repeats === 0) return { ...base, status: 'pass', result: 'no duplicate records' };
    return { ...base, status: 'warn', result: `${repeats} records repeat an earlier record exactly` };
  },
};
