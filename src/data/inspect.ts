import { ident, type DuckSession } from './duck.js';
import { logicalTypeOf, type LoadedColumn } from './load.js';
import type { ColumnType } from './types.js';

/** Types a text value is tried as, most specific first; the first that fits wins. */
export const CANDIDATE_TYPES = ['BIGINT', 'DOUBLE', 'BOOLEAN', 'DATE', 'TIMESTAMP'] as const;
type Candidate = (typeof CANDIDATE_TYPES)[number];

/**
 * Share of a column's non-null values that must fit a type for the column to be inferred as
 * that type; the rest are type violations. 0.99 tolerates the odd "n/a" in a numeric column
 * without calling the whole column text.
 */
export const TYPE_THRESHOLD = 0.99;

/** What one pass over the table learns about each column; checks and the profile share it. */
export interface ColumnFacts {
  name: string;
  /** DuckDB's type as loaded (CSV: VARCHAR). */
  duckType: string;
  /** The inferred logical type. */
  type: ColumnType;
  nonNull: number;
  nulls: number;
  /** HyperLogLog estimate (`approx_count_distinct`), a few percent off on large columns. */
  distinctApprox: number;
  /** How many non-null values cast to each candidate type (empty for nested types). */
  conforming: Partial<Record<ColumnType, number>>;
}

const scalar = (duckType: string): boolean => logicalTypeOf(duckType) !== 'OTHER';

/**
 * A non-null value when `q` fits type `t`. DuckDB rounds `'12.5'` into a BIGINT, so a value
 * fits BIGINT only when it also reads as the same DOUBLE. A failed cast costs microseconds, so
 * numbers and dates are tried only on values that start like one (a digit, sign or point).
 */
export function fits(q: string, t: ColumnType): string {
  const text = `CAST(${q} AS VARCHAR)`;
  const numberLike = `(ascii(${text}) BETWEEN 48 AND 57 OR ascii(${text}) IN (43, 45, 46))`;
  switch (t) {
    case 'BIGINT':
      return `CASE WHEN ${numberLike} THEN CASE WHEN TRY_CAST(${q} AS BIGINT) = TRY_CAST(${q} AS DOUBLE) THEN 1 END END`;
    case 'DOUBLE':
      return `CASE WHEN ${numberLike} THEN TRY_CAST(${q} AS DOUBLE) END`;
    case 'DATE':
    case 'TIMESTAMP':
      return `CASE WHEN ascii(${text}) BETWEEN 48 AND 57 THEN TRY_CAST(${q} AS ${t}) END`;
    case 'OTHER':
      return `TRY_CAST(${q} AS VARCHAR)`;
    default:
      return `TRY_CAST(${q} AS ${t})`;
  }
}

/** Records the type is first inferred from: enough to decide, few enough that failed casts stay cheap. */
export const INFERENCE_SAMPLE_ROWS = 50_000;

/** Per column and candidate type, how many non-null values of `raw` (where `where` holds) fit. */
async function candidateCounts(duck: DuckSession, input: { columns: LoadedColumn[]; where: string }): Promise<Array<{ nonNull: number; fit: Partial<Record<ColumnType, number>> }>> {
  const parts = ['count(*) AS n'];
  input.columns.forEach((c, i) => {
    const q = ident(c.name);
    parts.push(`count(${q}) AS nn${i}`);
    if (scalar(c.duckType)) CANDIDATE_TYPES.forEach((t, j) => parts.push(`count(${fits(q, t)}) AS c${i}_${j}`));
  });
  const [row] = await duck.rows<Record<string, number>>(`SELECT ${parts.join(', ')} FROM raw WHERE ${input.where}`);
  return input.columns.map((c, i) => {
    const fit: Partial<Record<ColumnType, number>> = {};
    if (scalar(c.duckType)) CANDIDATE_TYPES.forEach((t, j) => (fit[t] = row![`c${i}_${j}`]!));
    return { nonNull: row![`nn${i}`]!, fit };
  });
}

/**
 * Learns each column's facts in two passes: the type is inferred from the first
 * INFERENCE_SAMPLE_ROWS records (every candidate cast), then one pass over all records counts
 * nulls, distinct values and the values fitting the inferred type (and `alsoCount`, the
 * contract's types). A column whose remaining records contradict the sample is inferred again
 * from all of them.
 */
export async function inspectColumns(duck: DuckSession, columns: LoadedColumn[], alsoCount: ReadonlyMap<string, ColumnType> = new Map()): Promise<{ rows: number; facts: ColumnFacts[] }> {
  const sample = await candidateCounts(duck, { columns, where: `rowid < ${INFERENCE_SAMPLE_ROWS}` });
  const types = columns.map((c, i) => inferType(logicalTypeOf(c.duckType), sample[i]!.nonNull, sample[i]!.fit));
  const parts = ['count(*) AS n'];
  columns.forEach((c, i) => {
    const q = ident(c.name);
    parts.push(`count(${q}) AS nn${i}`, `approx_count_distinct(${q}) AS d${i}`);
    if (scalar(c.duckType)) {
      parts.push(`count(${fits(q, types[i]!)}) AS t${i}`);
      const contract = alsoCount.get(c.name);
      if (contract && contract !== types[i]) parts.push(`count(${fits(q, contract)}) AS k${i}`);
    }
  });
  const [row] = await duck.rows<Record<string, number>>(`SELECT ${parts.join(', ')} FROM raw`);
  const rows = row!.n!;
  const facts: ColumnFacts[] = [];
  for (const [i, c] of columns.entries()) {
    const nonNull = row![`nn${i}`]!;
    let type = types[i]!;
    const conforming: Partial<Record<ColumnType, number>> = { VARCHAR: scalar(c.duckType) ? nonNull : 0, [logicalTypeOf(c.duckType)]: nonNull };
    if (scalar(c.duckType)) {
      conforming[type] = row![`t${i}`]!;
      const contract = alsoCount.get(c.name);
      if (contract && contract !== type) conforming[contract] = row![`k${i}`]!;
      if (rows > INFERENCE_SAMPLE_ROWS && conforming[type]! < TYPE_THRESHOLD * nonNull) {
        const [all] = await candidateCounts(duck, { columns: [c], where: 'true' });
        type = inferType(logicalTypeOf(c.duckType), nonNull, all!.fit);
        Object.assign(conforming, all!.fit);
      }
    }
    facts.push({ name: c.name, duckType: c.duckType, type, nonNull, nulls: rows - nonNull, distinctApprox: row![`d${i}`]!, conforming });
  }
  return { rows, facts };
}

/** A typed column keeps its type; a text column takes the first candidate that enough values fit. */
function inferType(loaded: ColumnType, nonNull: number, conforming: Partial<Record<ColumnType, number>>): ColumnType {
  if (loaded !== 'VARCHAR') return loaded;
  if (nonNull === 0) return 'VARCHAR';
  const fits = (t: Candidate): boolean => (conforming[t] ?? 0) >= TYPE_THRESHOLD * nonNull;
  return CANDIDATE_TYPES.find(fits) ?? 'VARCHAR';
}
