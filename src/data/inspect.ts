import { aggregateRow, ident, literal, unpivotedAggregates, type DuckSession } from './duck.js';
import { logicalTypeOf, type LoadedColumn, type Snapshot } from './load.js';
import type { AggregatePass } from './pass.js';
import type { ColumnType, ValueFormat } from './types.js';
import { declaredTemporal, numberText } from './value-format.js';

/** Types a text value is tried as, most specific first; the first that fits wins. */
export const CANDIDATE_TYPES = ['BIGINT', 'DOUBLE', 'BOOLEAN', 'DATE', 'TIMESTAMP'] as const;
type Candidate = (typeof CANDIDATE_TYPES)[number];

/**
 * Share of a column's non-null values that must fit a type for the column to be inferred as
 * that type; the rest are type violations. 0.99 tolerates the odd "n/a" in a numeric column
 * without calling the whole column text.
 */
export const TYPE_THRESHOLD = 0.99;

/**
 * What a text column's values look like when they read as text but a declaration would read
 * them as numbers or dates (see `readAsTextHint`): `decimal_comma`, numbers as a European
 * locale writes them (`1.234,56`, `12,50`); `ambiguous_point`, numbers whose point may be a
 * decimal point or a thousands separator (`1.000`, `12.500`), which no other value in the
 * column settles; `local_date`, dates written day or month first (`31.12.2025`, `31/12/2025`).
 */
export type TextHint = 'decimal_comma' | 'ambiguous_point' | 'local_date';

/** A date written day or month first, as a locale writes it: `31.12.2025`, `1.3.2025`, `31/12/2025`, `12/31/2025`, `31-12-2025` (a four-digit year: `1.2.10` is more likely a software version). */
const LOCAL_DATE = literal('[0-9]{1,2}\\.[0-9]{1,2}\\.[0-9]{4}|[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}|[0-9]{1,2}-[0-9]{1,2}-[0-9]{4}');

/**
 * A number that both readings of a point fit, undeclared: one to three digits, a point, three
 * digits (`1.000`, `-12.500`). DuckDB reads it as 1 or 12.5; an export under a European locale
 * means 1000 and 12500. Longer groupings (`1.234.567`) and a trailing sign read as no number.
 */
const AMBIGUOUS_POINT = literal('[+-]?[1-9][0-9]{0,2}\\.[0-9]{3}\\s*');

/** What one pass over the records learns about each column; checks and the profile share it. */
export interface ColumnFacts {
  name: string;
  /** DuckDB's type as loaded (CSV: VARCHAR). */
  duckType: string;
  /** The inferred logical type. */
  type: ColumnType;
  nonNull: number;
  nulls: number;
  /**
   * HyperLogLog estimate (`approx_count_distinct`); exact where the values were counted one by one. DuckDB 1.5's
   * sketch is small (duckdb/duckdb#20916): 2% off on the ingest bench's 2.5M amounts, 11% and 28% high on its two 12.5M-value columns.
   */
  distinctApprox: number;
  /** How many non-null values cast to each candidate type (empty for nested types). */
  conforming: Partial<Record<ColumnType, number>>;
  /** Set on a text column of a CSV file whose values a declaration it lacks (`decimalSeparator`, `dateFormat`) would read as numbers or dates. */
  looksLike?: TextHint;
}

/** A column with the type the shared pass holds it to: inferred from the sample, or from every record after the sample misled. */
export interface PlannedColumn extends LoadedColumn {
  type: ColumnType;
  /** Set when the type was inferred from every record: how many values fit each candidate. */
  fitAll?: Partial<Record<ColumnType, number>>;
  /** See ColumnFacts.looksLike. */
  looksLike?: TextHint;
}

const scalar = (duckType: string): boolean => logicalTypeOf(duckType) !== 'OTHER';
const same = (sql: string): string => sql;

/** How a value is read: `shared` names per-record expressions the caller computes once (see AggregatePass.shared); `values` is the file's declared way of writing numbers and dates (none: DuckDB's own syntax). */
export interface Reading {
  shared?: ((sql: string) => string) | undefined;
  values?: ValueFormat | undefined;
}

/**
 * A non-null value when `q` fits type `t`. DuckDB rounds `'12.5'` into a BIGINT, so a value
 * fits BIGINT only when it also reads as the same DOUBLE. A failed cast costs microseconds, so
 * numbers and dates are tried only on values that start like one (a digit, sign or point);
 * a DOUBLE must be finite, and a number has no leading zero before another digit.
 * See `Reading` for `shared` and `values`.
 */
export function fits(q: string, t: ColumnType, reading: Reading = {}): string {
  const { shared = same, values } = reading;
  const first = shared(`ascii(CAST(${q} AS VARCHAR))`);
  // A zero before another digit ('01067', '007') makes a code (postal code, account or customer
  // number) whose leading zeros a number would lose: text. The second character is read only there.
  const numberLike = `(CASE WHEN ${first} = 48 THEN ascii(substr(CAST(${q} AS VARCHAR), 2, 1)) NOT BETWEEN 48 AND 57 ELSE (${first} BETWEEN 49 AND 57 OR ${first} IN (43, 45, 46)) END)`;
  switch (t) {
    case 'BIGINT': {
      // Undeclared, `1.000` is one to DuckDB and a thousand to a European export: no integer.
      // The pattern is tried only on the rare integer written with a point.
      const unambiguous = values?.decimalSeparator === undefined ? ` AND CASE WHEN contains(CAST(${q} AS VARCHAR), '.') THEN NOT regexp_full_match(CAST(${q} AS VARCHAR), ${AMBIGUOUS_POINT}) ELSE true END` : '';
      return `CASE WHEN ${numberLike} THEN CASE WHEN TRY_CAST(${numberTextOf(q, reading)} AS BIGINT) = ${doubleOf(q, reading)}${unambiguous} THEN 1 END END`;
    }
    case 'DOUBLE': {
      // '-inf' starts like a number and reads as one; like 'NaN' and 'Infinity', it is no measurement.
      const v = doubleOf(q, reading);
      return `CASE WHEN ${numberLike} AND isfinite(${v}) THEN ${v} END`;
    }
    case 'DATE':
    case 'TIMESTAMP': {
      // A declared format may start with a month's name (%b): no first-character shortcut then.
      return declaredTemporal(q, t, values) ? temporalOf(q, t, reading) : `CASE WHEN ${first} BETWEEN 48 AND 57 THEN ${temporalOf(q, t, { shared })} END`;
    }
    case 'OTHER':
      return `TRY_CAST(${q} AS VARCHAR)`;
    default:
      return `TRY_CAST(${q} AS ${t})`;
  }
}

/** The value `q` in DuckDB's number syntax, as `reading` declares numbers written (shared when rewritten). */
const numberTextOf = (q: string, reading: Reading): string => {
  const text = numberText(q, reading.values);
  return text === q ? q : (reading.shared ?? same)(text);
};

/** The value `q` read as a DOUBLE (null when it is none), as `reading` declares numbers written; one shared expression for every use. */
export function doubleOf(q: string, reading: Reading = {}): string {
  return (reading.shared ?? same)(`TRY_CAST(${numberTextOf(q, reading)} AS DOUBLE)`);
}

/**
 * What a numeric column read as text (CSV) counts as distinct values, so that `1`, `1.0` and
 * `1e0` count once, as a JSON Lines or Parquet number does: `value`, the number (null when the
 * text is none), and `other`, the text of every value `value` leaves out, which counts by its
 * spelling (as a boolean column counts text that is no boolean). A BIGINT column's integers
 * beyond 2^53, which a double would merge, count by spelling too. Undefined for other columns:
 * their values count as they are. `reading` as for `doubleOf`; `q` is the SQL of the value (default: the column).
 */
export function distinctParts(c: { name: string; duckType: string; type: ColumnType }, reading: Reading = {}, q = ident(c.name)): { value: string; other: string } | undefined {
  if (logicalTypeOf(c.duckType) !== 'VARCHAR' || (c.type !== 'BIGINT' && c.type !== 'DOUBLE')) return undefined;
  const d = doubleOf(q, reading);
  const value = c.type === 'DOUBLE' ? d : (reading.shared ?? same)(`CASE WHEN abs(${d}) < ${2 ** 53} THEN ${d} END`);
  return { value, other: `CASE WHEN ${value} IS NULL THEN ${q} END` };
}

/** The aggregates (to add up) estimating a column's distinct values (HyperLogLog), by value for numbers read as text (see `distinctParts`). */
export function approxDistinct(c: { name: string; duckType: string; type: ColumnType }, reading: Reading = {}): string[] {
  const parts = distinctParts(c, reading);
  return parts ? [`approx_count_distinct(${parts.value})`, `approx_count_distinct(${parts.other})`] : [`approx_count_distinct(${ident(c.name)})`];
}

/**
 * A text value as a DATE or TIMESTAMP of type `t`, or null. DuckDB's own casts lose
 * information: `'2024-05-01 10:30'` casts to the DATE 2024-05-01 (the time of day dropped), and
 * `'2024-05-01T10:30+02:00'` to the TIMESTAMP 10:30 (the offset dropped). So a TIMESTAMP is read
 * as an instant (an offset or zone name is applied, a value without one is UTC: the session's
 * zone, see duck.ts) and given in UTC; a value is a DATE only when it has no time of day (it
 * reads as its own midnight), and is then the calendar date as written. A format the
 * `reading` declares for `t` is read first; ISO 8601 values, which no declared format can be
 * confused with, still fit (see value-format.ts).
 */
export function temporalOf(q: string, t: 'DATE' | 'TIMESTAMP', reading: Reading = {}): string {
  const { shared = same, values } = reading;
  const iso = isoTemporalOf(q, t, shared);
  const declared = declaredTemporal(q, t, values);
  return declared ? shared(`coalesce(${declared}, ${iso})`) : iso;
}

function isoTemporalOf(q: string, t: 'DATE' | 'TIMESTAMP', shared: (sql: string) => string): string {
  // The zone-aware cast (ICU) costs about twice the plain one, so dates do without it.
  if (t === 'TIMESTAMP') return shared(`CAST(TRY_CAST(${q} AS TIMESTAMPTZ) AS TIMESTAMP)`);
  const date = shared(`TRY_CAST(${q} AS DATE)`);
  return `CASE WHEN ${date} = TRY_CAST(${q} AS TIMESTAMP) THEN ${date} END`;
}

/** Records the type is first inferred from: enough to decide, few enough that failed casts stay cheap. */
export const INFERENCE_SAMPLE_ROWS = 50_000;

/**
 * Over a text column's value `v` without a declared decimal separator, the counts that decide
 * how its points read and what it looks like as text (see `TextHint`): `amb`, values that
 * both readings of a point fit (AMBIGUOUS_POINT); `pt`, numbers with a point that only a
 * decimal point fits (`1.5`, `0.125`, `1234.567`), which settle the column's points; `dc`,
 * values a declared decimal comma reads as numbers; `dcs`, those of them written with a comma;
 * `ld`, dates written as a locale writes them (LOCAL_DATE).
 */
function pointCounts(v: string): string[] {
  const comma = `TRY_CAST(${numberText(v, { decimalSeparator: ',' })} AS DOUBLE)`;
  return [
    `count(CASE WHEN regexp_full_match(${v}, ${AMBIGUOUS_POINT}) THEN 1 END) AS amb`,
    `count(CASE WHEN contains(${v}, '.') AND NOT regexp_full_match(${v}, ${AMBIGUOUS_POINT}) AND (${fits(v, 'DOUBLE')}) IS NOT NULL THEN 1 END) AS pt`,
    `count(${comma}) AS dc`,
    `count(CASE WHEN contains(${v}, ',') AND ${comma} IS NOT NULL THEN 1 END) AS dcs`,
    `count(CASE WHEN regexp_full_match(${v}, ${LOCAL_DATE}) THEN 1 END) AS ld`,
  ];
}

/** A text column's candidate counts (see `candidateCounts`), with its `pointCounts` when read without a declared decimal separator or date format. */
interface CandidateCounts {
  nonNull: number;
  fit: Partial<Record<ColumnType, number>>;
  points?: { amb: number; pt: number; dc: number; dcs: number; ld: number };
}

const POINT_KEYS = ['amb', 'pt', 'dc', 'dcs', 'ld'] as const;

/**
 * Per column and candidate type, how many non-null values of `source` fit. With `rows` (the
 * record count of `source`, a small table), the text columns are counted unpivoted, each
 * candidate's test once for all of them (see `unpivotedAggregates`): a 50-record sample of 800
 * columns spent 4 s binding 4,800 tests in 96 queries.
 */
async function candidateCounts(
  duck: DuckSession,
  input: { columns: LoadedColumn[]; source: string; values: ValueFormat | undefined; perQuery?: number; rows?: number },
): Promise<CandidateCounts[]> {
  // Undeclared, a point may be a thousands separator: the counts that say whether it is one, and what text would read otherwise.
  const points = input.values?.decimalSeparator === undefined || input.values.dateFormat === undefined;
  const unpivoted = input.rows === undefined ? [] : input.columns.filter((c) => c.duckType === 'VARCHAR');
  const byText = await unpivotedAggregates(duck, {
    source: input.source,
    rows: input.rows ?? 0,
    values: unpivoted.map((c) => ident(c.name)),
    aggregates: (v) => [...CANDIDATE_TYPES.map((t, j) => `count(${fits(v, t, { values: input.values })}) AS c${j}`), ...(points ? pointCounts(v) : [])],
  });
  const position = new Map(unpivoted.map((c, i) => [c.name, i]));
  const parts: string[] = [];
  input.columns.forEach((c, i) => {
    if (position.has(c.name)) return;
    const q = ident(c.name);
    parts.push(`count(${q}) AS nn${i}`);
    if (scalar(c.duckType)) CANDIDATE_TYPES.forEach((t, j) => parts.push(`count(${fits(q, t, { values: input.values })}) AS c${i}_${j}`));
    if (points && c.duckType === 'VARCHAR') parts.push(...pointCounts(q).map((sql) => sql.replace(/ AS (\w+)$/, ` AS $1_${i}`)));
  });
  const row = (parts.length === 0 ? {} : await aggregateRow((sql) => duck.aggregate(sql), { select: parts, from: input.source, ...(input.perQuery ? { perQuery: input.perQuery } : {}) })) as Record<string, number>;
  const pointsOf = (c: LoadedColumn, get: (key: string) => unknown): CandidateCounts['points'] =>
    points && c.duckType === 'VARCHAR' ? (Object.fromEntries(POINT_KEYS.map((k) => [k, Number(get(k) ?? 0)])) as NonNullable<CandidateCounts['points']>) : undefined;
  return input.columns.map((c, i) => {
    const at = position.get(c.name);
    const fit: Partial<Record<ColumnType, number>> = {};
    if (at !== undefined) {
      const got = byText[at];
      CANDIDATE_TYPES.forEach((t, j) => (fit[t] = Number(got?.[`c${j}`] ?? 0)));
      return withPoints({ nonNull: Number(got?.n ?? 0), fit }, pointsOf(c, (k) => got?.[k]));
    }
    if (scalar(c.duckType)) CANDIDATE_TYPES.forEach((t, j) => (fit[t] = row[`c${i}_${j}`]!));
    return withPoints({ nonNull: row[`nn${i}`]!, fit }, pointsOf(c, (k) => row[`${k}_${i}`]));
  });
}

const withPoints = (counts: CandidateCounts, points: CandidateCounts['points']): CandidateCounts => (points ? { ...counts, points } : counts);

/** The name of a temporary table holding the first INFERENCE_SAMPLE_ROWS records, for inference and for planning the shared pass. */
export async function sampleSnapshot(duck: DuckSession, snapshot: Snapshot): Promise<string> {
  try {
    await duck.run(`CREATE OR REPLACE TEMP TABLE assay_sample AS SELECT * FROM ${snapshot.scan} LIMIT ${INFERENCE_SAMPLE_ROWS}`);
  } catch (err) {
    throw await snapshot.refuse(err);
  }
  return 'assay_sample';
}

/** Each column's type as the sample suggests (every candidate cast on each sampled value). */
export async function inferFromSample(duck: DuckSession, input: { snapshot: Snapshot; sample: string; values: ValueFormat | undefined }): Promise<PlannedColumn[]> {
  const { columns } = input.snapshot;
  const [{ n: rows }] = (await duck.rows<{ n: number }>(`SELECT count(*) AS n FROM ${input.sample}`)) as [{ n: number }];
  const counts = await candidateCounts(duck, { columns, source: input.sample, values: input.values, rows });
  return columns.map((c, i) => inferred(c, { counts: counts[i]!, values: input.values, csv: input.snapshot.format === 'csv' }));
}

/** `columns` with the contradicted ones inferred again from every record (one more pass, rarely needed). */
export async function inferFromAll(duck: DuckSession, input: { snapshot: Snapshot; columns: PlannedColumn[]; contradicted: string[]; values: ValueFormat | undefined }): Promise<PlannedColumn[]> {
  const again = input.columns.filter((c) => input.contradicted.includes(c.name));
  const counts = await candidateCounts(duck, { columns: again, source: input.snapshot.scan, values: input.values, perQuery: input.snapshot.aggregatesPerRead });
  const redone = new Map(again.map((c, i) => [c.name, { ...inferred(c, { counts: counts[i]!, values: input.values, csv: input.snapshot.format === 'csv' }), fitAll: counts[i]!.fit }]));
  return input.columns.map((c) => redone.get(c.name) ?? c);
}

/** Facts from one shared pass, and the columns whose records contradict the sample's type. */
export interface InspectedColumns {
  rows: number;
  facts: ColumnFacts[];
  contradicted: string[];
}

/**
 * Adds to `pass` what the column facts need: per column, nulls, distinct values and the values
 * fitting the planned type (and `alsoCount`, the contract's types). Returns the function that
 * reads the facts from the pass's result, naming the columns whose records contradict a type
 * the sample suggested (fewer than TYPE_THRESHOLD fit). The distinct values of the columns in
 * `distinctElsewhere` are not estimated: their `distinctApprox` is NaN until the caller sets it.
 */
export function planFacts(
  pass: AggregatePass,
  columns: PlannedColumn[],
  options: { alsoCount: ReadonlyMap<string, ColumnType>; distinctElsewhere: ReadonlySet<string>; values: ValueFormat | undefined },
): (result: Record<string, unknown>) => InspectedColumns {
  const { alsoCount, distinctElsewhere, values } = options;
  const n = pass.add('count(*)');
  const keys = columns.map((c) => {
    const q = ident(c.name);
    const contract = alsoCount.get(c.name);
    return {
      nonNull: pass.add(`count(${q})`),
      distinct: distinctElsewhere.has(c.name) ? undefined : approxDistinct(c, { shared: pass.shared, values }).map((sql) => pass.add(sql)),
      fit: scalar(c.duckType) ? pass.add(`count(${fitsInPass(q, c, { shared: pass.shared, values })})`) : undefined,
      contract: scalar(c.duckType) && contract && contract !== c.type ? pass.add(`count(${fits(q, contract, { shared: pass.shared, values })})`) : undefined,
    };
  });
  return (result) => {
    const rows = result[n] as number;
    const facts: ColumnFacts[] = [];
    const contradicted: string[] = [];
    for (const [i, c] of columns.entries()) {
      const k = keys[i]!;
      const nonNull = result[k.nonNull] as number;
      const conforming: Partial<Record<ColumnType, number>> = { VARCHAR: scalar(c.duckType) ? nonNull : 0, [logicalTypeOf(c.duckType)]: nonNull, ...c.fitAll };
      if (k.fit) conforming[c.type] = result[k.fit] as number;
      if (k.contract) conforming[alsoCount.get(c.name)!] = result[k.contract] as number;
      if (k.fit && !c.fitAll && rows > INFERENCE_SAMPLE_ROWS && conforming[c.type]! < TYPE_THRESHOLD * nonNull) contradicted.push(c.name);
      const distinctApprox = k.distinct ? k.distinct.reduce((n, key) => n + (result[key] as number), 0) : Number.NaN;
      facts.push({ name: c.name, duckType: c.duckType, type: c.type, nonNull, nulls: rows - nonNull, distinctApprox, conforming, ...(c.looksLike ? { looksLike: c.looksLike } : {}) });
    }
    return { rows, facts, contradicted };
  };
}

/** `fits` for the shared pass: every value of a text column fits VARCHAR, so that count is the non-null count (computed once). */
function fitsInPass(q: string, c: PlannedColumn, reading: Reading): string {
  return c.type === 'VARCHAR' && logicalTypeOf(c.duckType) === 'VARCHAR' ? q : fits(q, c.type, reading);
}

/**
 * A typed column keeps its type; a text column takes the first candidate that enough values
 * fit. Without a declared decimal separator, a column whose values include one that both
 * readings of a point fit (`1.000`: one, or a thousand) and none that settles it (`1.5`,
 * `0.125`) is no number: a wrong number is worse than text the steward is told about.
 */
function inferred(c: LoadedColumn, input: { counts: CandidateCounts; values: ValueFormat | undefined; csv: boolean }): PlannedColumn {
  const { nonNull, fit, points } = input.counts;
  const pointUndeclared = input.values?.decimalSeparator === undefined;
  const loaded = logicalTypeOf(c.duckType);
  if (loaded !== 'VARCHAR') return { ...c, type: loaded };
  if (nonNull === 0) return { ...c, type: 'VARCHAR' };
  const unsettled = pointUndeclared && points !== undefined && points.amb > 0 && points.pt === 0;
  const enough = (t: Candidate): boolean => (fit[t] ?? 0) >= TYPE_THRESHOLD * nonNull && !(unsettled && (t === 'BIGINT' || t === 'DOUBLE'));
  const type = CANDIDATE_TYPES.find(enough) ?? 'VARCHAR';
  // Only a CSV file's values can be declared (JSON Lines strings keep their type): no hint elsewhere.
  const looksLike = type === 'VARCHAR' && points && input.csv ? readAsTextHint(points, { nonNull, values: input.values }) : undefined;
  return looksLike ? { ...c, type, looksLike } : { ...c, type };
}

/**
 * What a text column's values look like when a declaration it lacks would read them as numbers
 * or dates: enough of them (TYPE_THRESHOLD) under a decimal comma, some written with one; or
 * points that nothing settled; or enough dates written as a locale writes them.
 */
function readAsTextHint(points: NonNullable<CandidateCounts['points']>, input: { nonNull: number; values: ValueFormat | undefined }): TextHint | undefined {
  const enough = (n: number): boolean => n >= TYPE_THRESHOLD * input.nonNull;
  if (input.values?.decimalSeparator === undefined) {
    if (enough(points.dc) && points.dcs > 0) return 'decimal_comma';
    if (points.amb > 0 && points.pt === 0) return 'ambiguous_point';
  }
  return input.values?.dateFormat === undefined && enough(points.ld) ? 'local_date' : undefined;
}
