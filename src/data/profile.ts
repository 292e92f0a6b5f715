import { ident, type DuckSession } from './duck.js';
import type { ColumnFacts } from './inspect.js';
import type { ColumnType } from './types.js';

/** Quantiles every numeric column is profiled at. */
export const PROFILE_QUANTILES = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99];
/** Equal-width bins of a numeric histogram. */
export const HISTOGRAM_BINS = 20;
/** Most frequent values kept for a categorical column. */
export const TOP_K = 10;
/** A text column with more distinct values than this is not categorical: no top-k. */
export const CATEGORICAL_MAX_DISTINCT = 1000;

/** Why a column's values are left out of the profile. */
export type Redaction = 'personal_data' | 'subject_id' | 'high_cardinality';

/** One column's statistics: the drift monitor's reference. */
export interface ColumnProfile {
  name: string;
  type: ColumnType;
  count: number;
  nulls: number;
  nullRate: number;
  /** HyperLogLog estimate. */
  distinctApprox: number;
  numeric?: { min: number; max: number; mean: number; stddev: number | null; quantiles: Record<string, number>; histogram: { edges: number[]; counts: number[] } };
  temporal?: { min: string; max: string };
  text?: { minLength: number; maxLength: number; meanLength: number };
  topK?: Array<{ value: string; count: number }>;
  /** Set when values (top-k, min/max, quantiles) are withheld; counts remain. */
  redacted?: Redaction;
}

/** A version's profile. */
export interface DatasetProfile {
  rows: number;
  columns: ColumnProfile[];
}

/** What `profileColumns` needs besides the table. */
export interface ProfileInput {
  rows: number;
  facts: ColumnFacts[];
  /** Columns whose values must not appear (personal data found, the subject id column). */
  withheld: Map<string, Redaction>;
}

const NUMERIC = new Set<ColumnType>(['BIGINT', 'DOUBLE']);
const TEMPORAL = new Set<ColumnType>(['DATE', 'TIMESTAMP']);
const num = (q: string): string => `TRY_CAST(${q} AS DOUBLE)`;

/**
 * Profiles every column: null and distinct counts for all; min, max, mean, standard deviation,
 * quantiles (t-digest, `approx_quantile`) and an equal-width histogram for numeric columns;
 * min and max for dates; lengths and the top-k values for text and booleans. Values of
 * columns holding personal data, of the subject id, and of high-cardinality text never enter
 * the profile, only their counts.
 */
export async function profileColumns(duck: DuckSession, input: ProfileInput): Promise<DatasetProfile> {
  const stats = await statsPass(duck, input);
  const columns: ColumnProfile[] = [];
  for (const [i, f] of input.facts.entries()) {
    const base: ColumnProfile = { name: f.name, type: f.type, count: f.nonNull, nulls: f.nulls, nullRate: input.rows ? f.nulls / input.rows : 0, distinctApprox: f.distinctApprox };
    const withheld = input.withheld.get(f.name) ?? (f.type === 'VARCHAR' && f.distinctApprox > CATEGORICAL_MAX_DISTINCT ? 'high_cardinality' : undefined);
    if (f.type === 'VARCHAR' && stats[`lmin${i}`] !== undefined) {
      base.text = { minLength: stats[`lmin${i}`] as number, maxLength: stats[`lmax${i}`] as number, meanLength: stats[`lavg${i}`] as number };
    }
    if (withheld) {
      columns.push({ ...base, redacted: withheld });
      continue;
    }
    if (NUMERIC.has(f.type) && stats[`min${i}`] !== null && stats[`min${i}`] !== undefined) {
      base.numeric = await numericProfile(duck, { column: f.name, stats, i });
    } else if (TEMPORAL.has(f.type) && stats[`tmin${i}`] != null) {
      base.temporal = { min: String(stats[`tmin${i}`]), max: String(stats[`tmax${i}`]) };
    } else if (f.type === 'VARCHAR' || f.type === 'BOOLEAN') {
      base.topK = await duck.rows<{ value: string; count: number }>(
        `SELECT CAST(${ident(f.name)} AS VARCHAR) AS value, count(*)::BIGINT AS count FROM raw WHERE ${ident(f.name)} IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ${TOP_K}`,
      );
    }
    columns.push(base);
  }
  return { rows: input.rows, columns };
}

/** One aggregate pass: numeric moments and quantiles, temporal bounds, text lengths. */
async function statsPass(duck: DuckSession, input: ProfileInput): Promise<Record<string, unknown>> {
  const parts: string[] = ['1 AS one'];
  input.facts.forEach((f, i) => {
    const q = ident(f.name);
    if (NUMERIC.has(f.type) && !input.withheld.has(f.name)) {
      parts.push(`min(${num(q)}) AS min${i}`, `max(${num(q)}) AS max${i}`, `avg(${num(q)}) AS avg${i}`, `stddev_samp(${num(q)}) AS sd${i}`);
      parts.push(`approx_quantile(${num(q)}, [${PROFILE_QUANTILES.join(', ')}]) AS q${i}`);
    } else if (TEMPORAL.has(f.type) && !input.withheld.has(f.name)) {
      parts.push(`CAST(min(TRY_CAST(${q} AS ${f.type})) AS VARCHAR) AS tmin${i}`, `CAST(max(TRY_CAST(${q} AS ${f.type})) AS VARCHAR) AS tmax${i}`);
    } else if (f.type === 'VARCHAR') {
      const len = `length(CAST(${q} AS VARCHAR))`;
      parts.push(`min(${len}) AS lmin${i}`, `max(${len}) AS lmax${i}`, `avg(${len}) AS lavg${i}`);
    }
  });
  const [row] = await duck.rows(`SELECT ${parts.join(', ')} FROM raw`);
  return row ?? {};
}

async function numericProfile(duck: DuckSession, input: { column: string; stats: Record<string, unknown>; i: number }): Promise<NonNullable<ColumnProfile['numeric']>> {
  const { stats, i } = input;
  const min = stats[`min${i}`] as number;
  const max = stats[`max${i}`] as number;
  const width = (max - min) / HISTOGRAM_BINS;
  const edges = Array.from({ length: HISTOGRAM_BINS + 1 }, (_, k) => (k === HISTOGRAM_BINS ? max : min + k * width));
  const counts = new Array<number>(HISTOGRAM_BINS).fill(0);
  const v = num(ident(input.column));
  const bin = width > 0 ? `least(CAST(floor((${v} - ${min}) / ${width}) AS BIGINT), ${HISTOGRAM_BINS - 1})` : '0';
  for (const r of await duck.rows<{ b: number; n: number }>(`SELECT ${bin} AS b, count(*)::BIGINT AS n FROM raw WHERE ${v} IS NOT NULL GROUP BY 1`)) counts[r.b] = r.n;
  const q = (stats[`q${i}`] as number[] | null) ?? [];
  return {
    min,
    max,
    mean: stats[`avg${i}`] as number,
    stddev: (stats[`sd${i}`] as number | null) ?? null,
    quantiles: Object.fromEntries(PROFILE_QUANTILES.map((p, k) => [`p${Math.round(p * 100)}`, q[k]!])),
    histogram: { edges, counts },
  };
}
