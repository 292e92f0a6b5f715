import { aggregateRow, ident, unpivotedAggregates } from '../duck.js';
import { doubleOf } from '../inspect.js';
import type { ColumnType, ValueFormat } from '../types.js';
import { numberText } from '../value-format.js';
import { countOf, type CheckContext, type CheckOutcome, type CheckPlan, type CountProbe, type QuarantineCheck } from './check.js';
import { detectorGate, detectorOn, gatedDetectorOn, PERSONAL_DETECTORS, PII_DETECTORS, type PiiDetector } from './pii-detectors.js';

/** Classifications under which personal data is expected; card numbers need PCI. */
const PERSONAL_CLASSES = new Set(['PII', 'PHI', 'PCI']);

/** One column where a detector matched: counts and row numbers, never the values. */
export interface PiiFinding {
  column: string;
  detector: PiiDetector;
  count: number;
  rowNumbers: number[];
}

/** A column as the check sees it: its name, DuckDB's type as loaded, and its logical type. */
type ScannedColumn = { name: string; duckType: string; type: ColumnType };

/**
 * What the detectors read of a column (SQL). `one`: a text per cell. `each`: a list of texts
 * per cell, every value inside a nested one. Booleans and dates hold none of the patterns.
 */
type Scan = { kind: 'one' | 'each'; sql: string };

const same = (sql: string): string => sql;

/**
 * The column's cells as the detectors read them. Text as written. A number as the digits of
 * its integral value, however written or stored: `4111111111111111.0`, a DECIMAL(18,0) or a
 * DOUBLE holding a card number reads `4111111111111111` (pii@2 read integer columns' text as
 * written and skipped decimal columns, so a card number exported as a decimal was missed, and
 * its min and max were in the profile); a fractional number holds no pattern, and a value that
 * is no number (a misfit) is read as written. A nested value (STRUCT, LIST, MAP…) as every value
 * inside it, and its whole JSON text (e-mails in map keys); any other type (ENUM, UUID…) as its text.
 */
function scanOf(c: ScannedColumn, how: { values: ValueFormat | undefined; shared?: (sql: string) => string }): Scan | undefined {
  const { values, shared = same } = how;
  const q = ident(c.name);
  if (c.type === 'VARCHAR') return { kind: 'one', sql: q };
  if (c.type === 'BIGINT' || c.type === 'DOUBLE') {
    if (c.duckType !== 'VARCHAR') return { kind: 'one', sql: shared(`CASE WHEN TRY_CAST(${q} AS HUGEINT) = ${q} THEN CAST(TRY_CAST(${q} AS HUGEINT) AS VARCHAR) END`) };
    // The DOUBLE is the one the type checks and the profile read (one shared expression); HUGEINT keeps 19 digits exact.
    const number = doubleOf(q, { values, shared });
    return {
      kind: 'one',
      sql: shared(`CASE WHEN ${number} IS NULL THEN CAST(${q} AS VARCHAR) WHEN ${number} = trunc(${number}) THEN CAST(TRY_CAST(${numberText(q, values)} AS HUGEINT) AS VARCHAR) END`),
    };
  }
  if (c.type === 'OTHER') {
    // '$' is the whole value: a JSON text, or a scalar's own text (an ENUM, a UUID); '$..*' every value inside.
    const json = shared(`to_json(${q})`);
    return { kind: 'each', sql: shared(`list_prepend(json_extract_string(${json}, '$'), json_extract_string(${json}, '$..*'))`) };
  }
  return undefined;
}

/** The detector's gate on a scan: false for every cell it cannot match (a nested cell: one with no value inside). */
const gateOn = (detector: PiiDetector, scan: Scan, shared: (sql: string) => string = same): string =>
  scan.kind === 'one' ? detectorGate(detector, scan.sql, shared) : `len(${scan.sql}) > 0`;

/** The detector on a scan, behind its gate where the pass shares the gate's parts. */
const matchOn = (detector: PiiDetector, scan: Scan, shared?: (sql: string) => string): string => {
  if (scan.kind === 'each') return `coalesce(list_bool_or(list_transform(${scan.sql}, assay_cell -> ${detectorOn(detector, 'assay_cell')})), false)`;
  return shared ? gatedDetectorOn(detector, scan.sql, shared) : detectorOn(detector, scan.sql);
};

type Pair = { key: string; column: ScannedColumn; detector: PiiDetector };

/** The columns pii@4 (as pii@3) scans, each with every detector, keyed `column:detector`. */
function scanned(columns: ScannedColumn[], values: ValueFormat | undefined): Pair[] {
  const detectors = Object.keys(PII_DETECTORS) as PiiDetector[];
  return columns.filter((c) => scanOf(c, { values })).flatMap((c) => detectors.map((detector) => ({ key: `${c.name}:${detector}`, column: c, detector })));
}

/** The key of a column's probe counting cells that pass the gate of any detector the shared pass did not run on it. */
const elsewhereKey = (column: string): string => `${column}:other gates`;

const fullCount = (values: ValueFormat | undefined) => (p: Pair): CountProbe => ({
  key: p.key,
  column: p.column.name,
  predicate: (shared) => matchOn(p.detector, scanOf(p.column, { values, shared })!, shared),
});

/**
 * How many sampled cells pass each pair's gate. Cells read as one text each are counted on the
 * sample unpivoted, each gate once for every column (see `unpivotedAggregates`): the same gate on
 * the same text; nested cells (a list per cell) by one aggregate per pair.
 */
async function sampledGates(plan: CheckPlan, pairs: Pair[]): Promise<number[]> {
  const values = plan.declared.values;
  const detectors = Object.keys(PII_DETECTORS) as PiiDetector[];
  const texts = [...new Map(pairs.filter((p) => scanOf(p.column, { values })!.kind === 'one').map((p) => [p.column.name, p.column])).values()];
  const position = new Map(texts.map((c, i) => [c.name, i]));
  const byText = await unpivotedAggregates(plan.duck, {
    source: plan.sample,
    rows: plan.sampled.rows,
    values: texts.map((c) => `CAST(${scanOf(c, { values })!.sql} AS VARCHAR)`),
    aggregates: (v) => detectors.map((d, j) => `${countOf(detectorGate(d, v))} AS g${j}`),
  });
  const nested = pairs.filter((p) => !position.has(p.column.name));
  const gates = nested.map((p, i) => `${countOf(gateOn(p.detector, scanOf(p.column, { values })!))} AS g${i}`);
  const sampled = nested.length === 0 ? {} : ((await aggregateRow((sql) => plan.duck.rows(sql), { select: gates, from: plan.sample })) as Record<string, number>);
  const ofNested = new Map(nested.map((p, i) => [p.key, sampled[`g${i}`]!]));
  return pairs.map((p) => {
    const at = position.get(p.column.name);
    return at === undefined ? ofNested.get(p.key)! : Number(byText[at]?.[`g${detectors.indexOf(p.detector)}`] ?? 0);
  });
}

/**
 * The shared pass runs a detector on a column only where some sampled cell passes its gate;
 * for each column's other detectors it just counts cells passing any of their gates (integer
 * comparisons). Nearly always that count is zero and so are those detectors' matches; when it
 * is not, `moreProbes` counts them after all. Counts stay exact either way.
 */
async function probesOf(plan: CheckPlan): Promise<CountProbe[]> {
  const values = plan.declared.values;
  const pairs = scanned(plan.columns, values);
  if (pairs.length === 0) return [];
  const passed = await sampledGates(plan, pairs);
  const run = pairs.filter((_, i) => passed[i]! > 0);
  const skipped = pairs.filter((_, i) => !(passed[i]! > 0));
  const columns = [...new Map(skipped.map((p) => [p.column.name, p.column])).values()];
  return [
    ...run.map(fullCount(values)),
    ...columns.map((column) => ({
      key: elsewhereKey(column.name),
      column: column.name,
      predicate: (shared: (sql: string) => string) =>
        anyOf(skipped.filter((p) => p.column.name === column.name).map((p) => gateOn(p.detector, scanOf(column, { values, shared })!, shared))),
    })),
  ];
}

/** True where any condition holds, testing each only where the previous ones did not (an OR would evaluate them all on every cell). */
function anyOf(conditions: string[]): string {
  return `CASE ${conditions.map((c) => `WHEN ${c} THEN true`).join(' ')} ELSE false END`;
}

/** Each pair's count: from the shared pass, zero where no cell passed its gate, or from `moreProbes`. */
function countOfPair(ctx: CheckContext, p: Pair): number {
  return ctx.hasProbe(p.key) ? ctx.probe(p.key) : 0;
}

/**
 * `pii@4`: runs every detector (see pii-detectors.ts) over every text, number and nested
 * column, as `scanOf` reads their cells, and reports per column and detector how many cells
 * matched and the first row numbers. pii@3 read the same columns, and its detectors took no-break
 * spaces for no spaces and no `/` in an international phone number; pii@2's detectors are
 * pii@3's, and it read only text and integer columns, integers as written. It
 * fails, blocking promotion, when the data holds more than its classification admits:
 * personal data in a dataset classified public, internal or confidential, or card numbers in
 * anything but PCI. PHI has no reliable pattern; it is declared by classification.
 */
export const piiCheck: QuarantineCheck = {
  name: 'pii',
  version: 4,
  probes: probesOf,
  moreProbes: (ctx) =>
    scanned(ctx.facts, ctx.declared.values)
      .filter((p) => !ctx.hasProbe(p.key) && ctx.hasProbe(elsewhereKey(p.column.name)) && ctx.probe(elsewhereKey(p.column.name)) > 0)
      .map(fullCount(ctx.declared.values)),
  locate: (ctx) =>
    scanned(ctx.facts, ctx.declared.values).map((p) => ({ key: p.key, predicate: matchOn(p.detector, scanOf(p.column, { values: ctx.declared.values })!), count: countOfPair(ctx, p) })),
  async run(ctx): Promise<CheckOutcome> {
    const detectors = Object.keys(PII_DETECTORS) as PiiDetector[];
    const findings: PiiFinding[] = scanned(ctx.facts, ctx.declared.values)
      .filter((p) => countOfPair(ctx, p) > 0)
      .map((p) => ({ column: p.column.name, detector: p.detector, count: countOfPair(ctx, p), rowNumbers: ctx.located(p.key) }));
    const classification = ctx.declared.classification;
    const personal = findings.filter((x) => PERSONAL_DETECTORS.includes(x.detector));
    const cards = findings.filter((x) => x.detector === 'pan');
    const problems = [
      personal.length > 0 && !PERSONAL_CLASSES.has(classification) ? `personal data (${describe(personal)}) in a dataset classified ${classification}` : '',
      cards.length > 0 && classification !== 'PCI' ? `card numbers (${describe(cards)}) in a dataset classified ${classification}, not PCI` : '',
    ].filter(Boolean);
    const base = { name: this.name, version: this.version, blocking: true, evidence: { classification, detectors, findings } };
    if (problems.length > 0) return { ...base, status: 'fail', result: `${problems.join('; ')}: reclassify or remove the columns` };
    if (findings.length > 0) return { ...base, status: 'pass', result: `found ${describe(findings)}, as classification ${classification} admits` };
    return { ...base, status: 'pass', result: 'no personal or payment data patterns found' };
  },
};

function describe(findings: PiiFinding[]): string {
  return findings.map((f) => `${f.detector} in ${f.column}: ${f.count}`).join(', ');
}
