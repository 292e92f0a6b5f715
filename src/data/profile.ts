import { aggregateRow, ident, unpivotedAggregates, type DuckSession } from './duck.js';
import { doubleOf, temporalOf, type ColumnFacts, type PlannedColumn } from './inspect.js';
import { storedTypeOf } from './load.js';
import type { AggregatePass } from './pass.js';
import type { ColumnType, ValueFormat } from './types.js';

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
  /** The type the certified Parquet holds the column as (the schema's `storedAs`); absent from profiles recorded before it was. */
  storedAs?: string;
  count: number;
  nulls: number;
  nullRate: number;
  /** HyperLogLog estimate (see ColumnFacts.distinctApprox for how far off); exact for a column whose values the sample's dictionary covers (they are counted one by one), and for every column of a file the sample holds whole. Numbers count by value, not by spelling (see `distinctParts`). */
  distinctApprox: number;
  /**
   * `finite`: how many values the statistics describe, the finite numbers (the histogram's
   * counts add up to it). NaN and ±Infinity, and in a CSV column text that is no number, are
   * counted in `count` but left out of every statistic, so `count − finite` is how many of them
   * there are: a drift reference needs it, or a column of 75% NaN profiles as one of its finite
   * values. Absent from profiles recorded before it was.
   */
  numeric?: { min: number; max: number; mean: number; stddev: number | null; quantiles: Record<string, number>; histogram: Histogram; finite?: number };
  temporal?: { min: string; max: string };
  text?: { minLength: number; maxLength: number; meanLength: number };
  topK?: Array<{ value: string; count: number }>;
  /** Set when values (top-k, min/max, quantiles) are withheld; counts remain. */
  redacted?: Redaction;
}

/**
 * HISTOGRAM_BINS bins with exact counts. `edgesFrom: 'range'`: equal widths from min to max.
 * `edgesFrom: 'sample'`: the inner edges split the range of the first records' values (see
 * INFERENCE_SAMPLE_ROWS) into equal widths, and the first and last bins reach out to the
 * column's min and max, which lie beyond that range.
 */
export interface Histogram {
  edges: number[];
  counts: number[];
  edgesFrom: 'range' | 'sample';
}

/** A version's profile. */
export interface DatasetProfile {
  rows: number;
  columns: ColumnProfile[];
}

/** What `profileColumns` assembles the profile from. */
export interface ProfileInput {
  rows: number;
  facts: ColumnFacts[];
  /** The statistics the shared pass computed (see `planStats`). */
  stats: ColumnStats[];
  /** The histograms and value counts (see `planHistograms`, `planDetails`). */
  details: ColumnDetails;
  /** Where each numeric column's histogram has its inner edges (see `Bounds`). */
  bounds: ReadonlyMap<string, Bounds>;
  /** Columns whose values must not appear (personal data found, the subject id column). */
  withheld: Map<string, Redaction>;
}

const NUMERIC = new Set<ColumnType>(['BIGINT', 'DOUBLE']);
const TEMPORAL = new Set<ColumnType>(['DATE', 'TIMESTAMP']);

/**
 * A column's value as a finite double, else null, computed once per record for the pass.
 * NaN and ±Infinity read as doubles but have no place in a profile (and make stddev fail);
 * nulls leave them out of every aggregate without a FILTER, which DuckDB evaluates per aggregate.
 */
const finiteOf = (pass: AggregatePass, q: string, values: ValueFormat | undefined): string => {
  // The same shared expression as `fits`, so the pass converts each value once.
  const v = doubleOf(q, { shared: pass.shared, values });
  return pass.shared(`CASE WHEN isfinite(${v}) THEN ${v} END`);
};

/**
 * Numeric values at most this large have a mean and standard deviation a double holds. A column
 * with larger ones takes its moments from values scaled by MOMENT_SCALE (2^-600, exact but for
 * values below 1e-127, which cannot move moments of values above 1e100).
 */
const MOMENT_LIMIT = 1e100;
const MOMENT_SCALE = 2 ** -600;
/**
 * A column whose values all lie below this (in magnitude, and not all zero) has deviations whose
 * squares underflow a double (1e-200 squared is 0: a standard deviation of 0), so it takes its
 * moments from values scaled by 2^600, exactly (a power of two), as MOMENT_LIMIT's columns do
 * by 2^-600.
 */
const MOMENT_FLOOR = 1e-100;

/**
 * The factor a numeric column's moments are taken at in the detail pass: MOMENT_SCALE for a
 * column holding values beyond MOMENT_LIMIT, its inverse for one holding only values below
 * MOMENT_FLOOR (not all zero), and 1 (the shared pass's moments, unscaled) for any other.
 */
function momentScale(stats: ColumnStats): number {
  const top = Math.max(Math.abs(stats.min as number), Math.abs(stats.max as number));
  if (top >= MOMENT_LIMIT) return MOMENT_SCALE;
  return top > 0 && top < MOMENT_FLOOR ? 1 / MOMENT_SCALE : 1;
}

/** One column's moments, quantiles, bounds or lengths, as the shared pass computed them. */
export type ColumnStats = Record<string, unknown>;

/**
 * Adds the profile's statistics to the shared pass: min, max, mean, standard deviation and
 * quantiles (t-digest, `approx_quantile`) of numeric columns, min and max of dates, and the
 * lengths of text. They are computed for every column, since which columns hold personal data
 * is known only after the pass; `profileColumns` drops what must be withheld.
 */
export function planStats(pass: AggregatePass, columns: PlannedColumn[], values: ValueFormat | undefined): (result: Record<string, unknown>) => ColumnStats[] {
  const keys = columns.map((c) => {
    const q = ident(c.name);
    const parts: Record<string, string> = {};
    if (NUMERIC.has(c.type)) {
      const v = finiteOf(pass, q, values);
      // Moments of values beyond ±MOMENT_LIMIT overflow a double (DuckDB's stddev then fails the
      // ingest, its avg answers Infinity): such values are left out here, and a column that holds
      // any takes its moments from scaled values in the detail pass (planDetails), so the common
      // column pays no second pair of moments on every record.
      const small = pass.shared(`CASE WHEN abs(${v}) < ${MOMENT_LIMIT} THEN ${v} END`);
      Object.assign(parts, {
        min: `min(${v})`,
        max: `max(${v})`,
        avg: `avg(${small})`,
        sd: `stddev_samp(${small})`,
        q: `approx_quantile(${v}, [${PROFILE_QUANTILES.join(', ')}])`,
      });
    } else if (TEMPORAL.has(c.type)) {
      const v = pass.shared(temporalOf(q, c.type as 'DATE' | 'TIMESTAMP', { shared: pass.shared, values }));
      Object.assign(parts, { tmin: `CAST(min(${v}) AS VARCHAR)`, tmax: `CAST(max(${v}) AS VARCHAR)` });
    } else if (c.type === 'VARCHAR') {
      const len = pass.shared(`length(CAST(${q} AS VARCHAR))`);
      Object.assign(parts, { lmin: `min(${len})`, lmax: `max(${len})`, lavg: `avg(${len})` });
    }
    return Object.entries(parts).map(([name, sql]) => [name, pass.add(sql)] as const);
  });
  return (result) => keys.map((k) => Object.fromEntries(k.map(([name, key]) => [name, result[key]])));
}

/** A histogram's or value count's entries as DuckDB's `histogram` returns them. */
export type HistogramEntries = Array<{ key: unknown; value: number }>;

/** Per column: its numeric histogram (bin → count) or its value counts (value → count). */
export type ColumnDetails = Map<string, HistogramEntries>;

/** The range a numeric histogram's bins split into equal widths: the sample's finite values' min and max, or the column's. */
export interface Bounds {
  lo: number;
  hi: number;
}

/**
 * The bounds of each numeric column's histogram, from the finite values of the sampled records,
 * so the histograms can be counted in the same pass as everything else. Columns without a
 * finite sampled value get none (their histogram waits for the column's own min and max).
 * `rows` is the sample's record count: its numbers read as text are bounded unpivoted (see
 * `unpivotedAggregates`), 1,066 aggregates of a sample of 800 columns having cost a second.
 */
export async function sampleBounds(duck: DuckSession, input: { sample: string; rows: number; columns: PlannedColumn[]; values: ValueFormat | undefined }): Promise<Map<string, Bounds>> {
  const numeric = input.columns.filter((c) => NUMERIC.has(c.type));
  if (numeric.length === 0) return new Map();
  const bounds = (v: string, i: number | string): string => `min(${v}) FILTER (WHERE isfinite(${v})) AS lo${i}, max(${v}) FILTER (WHERE isfinite(${v})) AS hi${i}`;
  // Numbers read as text: unpivoted, one pair of bounds for all (see `unpivotedAggregates`); typed numbers one pair each.
  const text = numeric.filter((c) => c.duckType === 'VARCHAR');
  const byText = await unpivotedAggregates(duck, { source: input.sample, rows: input.rows, values: text.map((c) => ident(c.name)), aggregates: (v) => [bounds(doubleOf(v, { values: input.values }), '')] });
  const typed = numeric.filter((c) => c.duckType !== 'VARCHAR');
  const parts = typed.map((c, i) => bounds(doubleOf(ident(c.name), { values: input.values }), i));
  const row = (parts.length === 0 ? {} : await aggregateRow((sql) => duck.rows(sql), { select: parts, from: input.sample })) as Record<string, number | null>;
  const found = [
    ...text.map((c, i) => [c, (byText[i]?.lo as number | null | undefined) ?? null, (byText[i]?.hi as number | null | undefined) ?? null] as const),
    ...typed.map((c, i) => [c, row[`lo${i}`] ?? null, row[`hi${i}`] ?? null] as const),
  ];
  const of = new Map(found.map(([c, lo, hi]) => [c.name, { lo, hi }]));
  return new Map(numeric.flatMap((c) => (of.get(c.name)!.lo == null ? [] : [[c.name, { lo: of.get(c.name)!.lo!, hi: of.get(c.name)!.hi! }] as const])));
}

/** Adds the histogram of each numeric column with bounds to `pass`; the reader returns them by column. */
export function planHistograms(
  pass: AggregatePass,
  input: { columns: Array<{ name: string; type: ColumnType }>; bounds: ReadonlyMap<string, Bounds>; values: ValueFormat | undefined },
): (result: Record<string, unknown>) => ColumnDetails {
  const keys = input.columns.flatMap((c) => {
    const bounds = input.bounds.get(c.name);
    return NUMERIC.has(c.type) && bounds ? [[c.name, pass.add(`histogram(${binOf(pass, c.name, { bounds, values: input.values })})`)] as const] : [];
  });
  return (result) => new Map(keys.map(([name, key]) => [name, (result[key] as HistogramEntries | null) ?? []]));
}

/**
 * Adds to a pass over every record what the profile still lacks once the shared pass is done
 * (see ProfileInput.details): the histogram of each numeric column that had no bounds, between
 * its min and max (recorded in `bounds`), and the value counts of each categorical text column
 * and each boolean column (`histogram` ignores nulls). Planned for every such column, since which
 * hold personal data is known only later; text columns have at most about
 * CATEGORICAL_MAX_DISTINCT values, so their maps stay small.
 */
export function planDetails(
  pass: AggregatePass,
  input: { facts: ColumnFacts[]; stats: ColumnStats[]; have: ColumnDetails; bounds: Map<string, Bounds>; values: ValueFormat | undefined },
): (result: Record<string, unknown>) => ColumnDetails {
  const keys = input.facts.flatMap((f, i) => {
    const stats = input.stats[i]!;
    if (input.have.has(f.name)) return [];
    if (NUMERIC.has(f.type)) {
      if (stats.min === null || stats.min === undefined) return [];
      const bounds = { lo: stats.min as number, hi: stats.max as number };
      input.bounds.set(f.name, bounds);
      return [[f.name, pass.add(`histogram(${binOf(pass, f.name, { bounds, values: input.values })})`)] as const];
    }
    if (isCategorical(f) || f.type === 'BOOLEAN') return [[f.name, pass.add(valueCounts(f.name))] as const];
    return [];
  });
  // Columns holding values beyond MOMENT_LIMIT, or only values below MOMENT_FLOOR: their moments from scaled values (see momentScale).
  const scaled = input.facts.flatMap((f, i) => {
    const stats = input.stats[i]!;
    if (!NUMERIC.has(f.type) || stats.min === null || stats.min === undefined || momentScale(stats) === 1) return [];
    const v = pass.shared(`${finiteOf(pass, ident(f.name), input.values)} * ${momentScale(stats)}`);
    return [{ stats, avg: pass.add(`avg(${v})`), sd: pass.add(`stddev_samp(${v})`) }];
  });
  return (result) => {
    for (const m of scaled) Object.assign(m.stats, { avgScaled: result[m.avg], sdScaled: result[m.sd] });
    return new Map(keys.map(([name, key]) => [name, (result[key] as HistogramEntries | null) ?? []]));
  };
}

/** A text column with at most CATEGORICAL_MAX_DISTINCT values (by the HyperLogLog estimate): its values can be counted one by one. */
export const isCategorical = (f: ColumnFacts): boolean => f.type === 'VARCHAR' && f.distinctApprox <= CATEGORICAL_MAX_DISTINCT;

/** The aggregate counting each value of a column, as text. */
export const valueCounts = (column: string): string => `histogram(CAST(${ident(column)} AS VARCHAR))`;

/**
 * Profiles every column: null and distinct counts for all; the shared pass's statistics; the
 * detail pass's equal-width histogram for numeric columns and top-k values for text and
 * booleans. Values of columns holding personal data, of the subject id, and of
 * high-cardinality text never enter the profile, only their counts.
 */
export function profileColumns(input: ProfileInput): DatasetProfile {
  const columns = input.facts.map((f, i) => columnProfile(f, { ...input, stats: input.stats[i]! }));
  return { rows: input.rows, columns };
}

function columnProfile(f: ColumnFacts, input: Omit<ProfileInput, 'stats' | 'facts'> & { stats: ColumnStats }): ColumnProfile {
  const { stats } = input;
  const base: ColumnProfile = { name: f.name, type: f.type, storedAs: storedTypeOf(f.duckType), count: f.nonNull, nulls: f.nulls, nullRate: input.rows ? f.nulls / input.rows : 0, distinctApprox: f.distinctApprox };
  const withheld = input.withheld.get(f.name) ?? (f.type === 'VARCHAR' && f.distinctApprox > CATEGORICAL_MAX_DISTINCT ? 'high_cardinality' : undefined);
  // Like numbers and dates, a column with no value has no lengths (rather than lengths of null).
  if (f.type === 'VARCHAR' && stats.lmin != null) base.text = { minLength: stats.lmin as number, maxLength: stats.lmax as number, meanLength: stats.lavg as number };
  if (withheld) return { ...base, redacted: withheld };
  const entries = input.details.get(f.name) ?? [];
  if (NUMERIC.has(f.type) && stats.min !== null && stats.min !== undefined) base.numeric = numericProfile(stats, entries as Array<{ key: number; value: number }>, input.bounds.get(f.name)!);
  else if (TEMPORAL.has(f.type) && stats.tmin != null) base.temporal = { min: String(stats.tmin), max: String(stats.tmax) };
  else if (f.type === 'BOOLEAN') {
    const folded = booleanCounts(entries as Array<{ key: string; value: number }>);
    base.topK = topK(folded.counts);
    if (entries.length > 0) base.distinctApprox = folded.counts.length + folded.other;
  } else if (f.type === 'VARCHAR') base.topK = topK(entries as Array<{ key: string; value: number }>);
  return base;
}

/** How DuckDB reads text as a BOOLEAN (`TRY_CAST`, in any case but not padded); other text is no boolean. */
const BOOLEAN_TEXT = new Map<string, 'true' | 'false'>([
  ...['true', 't', '1', 'yes', 'y'].map((k) => [k, 'true'] as const),
  ...['false', 'f', '0', 'no', 'n'].map((k) => [k, 'false'] as const),
]);

/**
 * A boolean column's value counts by value: a CSV file's spellings (`TRUE`, `yes`, `1`) count as
 * the `true` or `false` a JSON Lines or Parquet boolean reads as, so the same data profiles
 * alike in every format; `other` is how many distinct values are no boolean (left out of the
 * counts, as a numeric histogram leaves out what is no number).
 */
function booleanCounts(entries: Array<{ key: string; value: number }>): { counts: Array<{ key: string; value: number }>; other: number } {
  const counts = new Map<string, number>();
  let other = 0;
  for (const e of entries) {
    const b = BOOLEAN_TEXT.get(String(e.key).toLowerCase());
    if (b === undefined) other++;
    else counts.set(b, (counts.get(b) ?? 0) + e.value);
  }
  return { counts: [...counts].map(([key, value]) => ({ key, value })), other };
}

/**
 * The width of one of HISTOGRAM_BINS equal bins between the bounds, always finite: bounds near
 * ±1.8e308 (`-1e308` and `1e308`) have a range no double holds, so it is computed from halves.
 */
function binWidth({ lo, hi }: Bounds): number {
  return Number.isFinite(hi - lo) ? (hi - lo) / HISTOGRAM_BINS : (hi / 2 - lo / 2) / (HISTOGRAM_BINS / 2);
}

/**
 * The bin of each record's value: HISTOGRAM_BINS equal-width bins between the bounds, the first
 * and last open towards smaller and larger values; null (left out) without a finite value.
 * Bounds of zero width put values up to them in the first bin, larger ones in the last.
 */
function binOf(pass: AggregatePass, column: string, how: { bounds: Bounds; values: ValueFormat | undefined }): string {
  const { bounds, values } = how;
  const { lo } = bounds;
  const width = binWidth(bounds);
  const v = finiteOf(pass, ident(column), values);
  // Clamped while still a double: a value far beyond sample bounds (or a range overflowing to
  // ±Infinity) makes a quotient no BIGINT holds, and the cast would fail the whole ingest.
  // `least` ignores nulls (least(null, 19) is 19), so a value that is not a number must be left out before it.
  // A range that overflows a double is measured in halves, else v − lo would overflow inside it.
  const offset = Number.isFinite(bounds.hi - lo) ? `(${v} - (${lo})) / ${width}` : `(${v} / 2 - (${lo / 2})) / ${width / 2}`;
  const bin = width > 0 ? `CAST(least(greatest(floor(${offset}), 0), ${HISTOGRAM_BINS - 1}) AS BIGINT)` : `CASE WHEN ${v} <= ${lo} THEN 0 ELSE ${HISTOGRAM_BINS - 1} END`;
  return `CASE WHEN ${v} IS NOT NULL THEN ${bin} END`;
}

/** The TOP_K most frequent values, ties broken by value in byte order (as DuckDB orders text). */
function topK(entries: Array<{ key: string; value: number }>): Array<{ value: string; count: number }> {
  return entries
    .map((e) => ({ value: e.key, count: e.value, bytes: Buffer.from(e.key, 'utf8') }))
    .sort((a, b) => b.count - a.count || Buffer.compare(a.bytes, b.bytes))
    .slice(0, TOP_K)
    .map(({ value, count }) => ({ value, count }));
}

/**
 * Mean and sample standard deviation, from the scaled values when the column holds values beyond
 * MOMENT_LIMIT or only below MOMENT_FLOOR. The standard deviation is null for a single value, and
 * when no double holds it (values spanning ±1.7e308: 2.4e308 is Infinity, which JSON has not).
 */
function moments(stats: ColumnStats): { mean: number; stddev: number | null } {
  const scale = momentScale(stats);
  const mean = scale !== 1 ? (stats.avgScaled as number) / scale : (stats.avg as number);
  const scaledSd = stats.sdScaled as number | null;
  const sd = scale !== 1 ? (scaledSd === null ? null : scaledSd / scale) : ((stats.sd as number | null) ?? null);
  return { mean, stddev: sd !== null && Number.isFinite(sd) ? sd : null };
}

/** The k-th inner edge, lo + k·width, in halves when k·width overflows a double (the edge lies within the bounds, so it does not). */
const edgeAt = (lo: number, k: number, width: number): number => (Number.isFinite(k * width) ? lo + k * width : (lo / 2 + k * (width / 2)) * 2);

function numericProfile(stats: ColumnStats, bins: Array<{ key: number; value: number }>, bounds: Bounds): NonNullable<ColumnProfile['numeric']> {
  const min = stats.min as number;
  const max = stats.max as number;
  const width = binWidth(bounds);
  const edges = Array.from({ length: HISTOGRAM_BINS + 1 }, (_, k) => (k === 0 ? min : k === HISTOGRAM_BINS ? max : edgeAt(bounds.lo, k, width)));
  const counts = new Array<number>(HISTOGRAM_BINS).fill(0);
  for (const b of bins) counts[b.key] = b.value;
  const q = (stats.q as number[] | null) ?? [];
  return {
    // Off the per-record pass: the histogram already counts every finite value exactly.
    finite: counts.reduce((a, b) => a + b, 0),
    min,
    max,
    ...moments(stats),
    // DuckDB's t-digest answers 2.2e-308 (the least normal double) for the upper quantiles of a
    // column of zeros; a quantile lies within the values, so it is held to [min, max].
    quantiles: Object.fromEntries(PROFILE_QUANTILES.map((p, k) => [`p${Math.round(p * 100)}`, Math.min(max, Math.max(min, q[k]!))])),
    histogram: { edges, counts, edgesFrom: bounds.lo === min && bounds.hi === max ? 'range' : 'sample' },
  };
}
