import { counted } from '../../core/index.js';
import { ident } from '../duck.js';
import { ROW_NUMBER_LIMIT, type CheckContext, type CheckOutcome, type CheckPlan, type Probe, type QuarantineCheck } from './check.js';

/** A 64-bit hash of the given columns' values (DuckDB `hash`). */
const hashOf = (columns: Array<{ name: string }>): string => `hash(${columns.map((c) => ident(c.name)).join(', ')})`;

/** The distinct record hashes: when every record's is distinct, no record repeats another. */
const recordHashes = (columns: Array<{ name: string }>): Probe => ({ key: 'distinct', distinctOf: hashOf(columns) });

/**
 * A column whose sampled values are all present and distinct, if there is one: should its
 * values hash distinctly over the whole file, no two records are identical, which hashing that
 * one column proves more cheaply than hashing all of them.
 */
function sampledKey(plan: CheckPlan): string | undefined {
  const { rows, distinct } = plan.sampled;
  return plan.columns.find((c) => rows > 0 && distinct.get(c.name) === rows)?.name;
}

/**
 * The exact number of records that repeat an earlier one field for field, and the first row
 * numbers of those repeats. Only for files where some record hashes repeat: one pass keeps the
 * repeated hashes; the records with those hashes (file order) are then compared field by field.
 */
async function confirmRepeats(ctx: CheckContext): Promise<{ repeats: number; rowNumbers: number[] }> {
  const h = hashOf(ctx.facts);
  const columns = ctx.facts.map((c) => ident(c.name)).join(', ');
  const row = ident(ctx.snapshot.rowColumn);
  await ctx.duck.aggregate(`CREATE OR REPLACE TEMP TABLE assay_dup_hashes AS SELECT h FROM (SELECT ${h} AS h FROM ${ctx.snapshot.scan}) GROUP BY h HAVING count(*) > 1`);
  try {
    await ctx.duck.run(
      `CREATE OR REPLACE TEMP TABLE assay_dup_rows AS SELECT r FROM (SELECT r, row_number() OVER (PARTITION BY ${columns} ORDER BY r) AS k
         FROM (SELECT ${row} AS r, ${columns} FROM ${ctx.snapshot.numbered} WHERE ${h} IN (SELECT h FROM assay_dup_hashes))) WHERE k > 1`,
    );
    const [{ n }] = (await ctx.duck.rows<{ n: number }>('SELECT count(*) AS n FROM assay_dup_rows')) as [{ n: number }];
    const first = await ctx.duck.rows<{ r: number }>(`SELECT r FROM assay_dup_rows ORDER BY r LIMIT ${ROW_NUMBER_LIMIT}`);
    return { repeats: n, rowNumbers: first.map((x) => x.r) };
  } finally {
    await ctx.duck.run('DROP TABLE IF EXISTS assay_dup_hashes');
    await ctx.duck.run('DROP TABLE IF EXISTS assay_dup_rows');
  }
}

/**
 * `duplicates@1`: records identical, field for field, to an earlier record. Records are told
 * apart by a 64-bit hash (DuckDB `hash`): of a column the sample shows to be a key, when its
 * hashes stay distinct over the file; else of all fields. Only records whose hashes repeat are
 * then compared field by field, so the count is exact (a hash collision is no duplicate). The
 * row numbers are those of the repeats, not of the first occurrence. Duplicates warn (they may
 * be legitimate) and do not block.
 */
export const duplicatesCheck: QuarantineCheck = {
  name: 'duplicates',
  version: 1,
  probes(plan) {
    const key = sampledKey(plan);
    return [key ? { key: 'key', distinctOf: hashOf([{ name: key }]) } : recordHashes(plan.columns)];
  },
  // A key column whose hashes repeat somewhere proves nothing: the records' own hashes then decide.
  moreProbes: (ctx) => (ctx.hasProbe('key') && ctx.probe('key') < ctx.rows ? [recordHashes(ctx.facts)] : []),
  async run(ctx): Promise<CheckOutcome> {
    // Without a record-hash count, the key's hashes were all distinct: so are the records.
    const candidates = ctx.hasProbe('distinct') ? ctx.rows - ctx.probe('distinct') : 0;
    const { repeats, rowNumbers } = candidates === 0 ? { repeats: 0, rowNumbers: [] } : await confirmRepeats(ctx);
    const base = { name: this.name, version: this.version, blocking: false, evidence: { duplicateRows: repeats, rowNumbers } };
    if (repeats === 0) return { ...base, status: 'pass', result: 'no duplicate records' };
    return { ...base, status: 'warn', result: `${counted(repeats, 'record')} ${repeats === 1 ? 'repeats' : 'repeat'} an earlier record exactly` };
  },
};
