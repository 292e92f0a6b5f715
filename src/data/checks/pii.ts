import { aggregateRow, ident } from '../duck.js';
import { countOf, type CheckContext, type CheckOutcome, type CheckPlan, type CountProbe, type QuarantineCheck } from './check.js';
import { detectorGate, detectorOn, gatedDetectorOn, PERSONAL_DETECTORS, PII_DETECTORS, type PiiDetector } from './pii-detectors.js';

/**
 * Columns scanned: text and integers (card and tax ids read as integers). A column at least 99%
 * decimals, booleans or dates holds none of these patterns, and its few misfits are reported by
 * the types check.
 */
const SCANNED_TYPES = new Set(['VARCHAR', 'BIGINT']);

/** Classifications under which personal data is expected; card numbers need PCI. */
const PERSONAL_CLASSES = new Set(['PII', 'PHI', 'PCI']);

/** One column where a detector matched: counts and row numbers, never the values. */
export interface PiiFinding {
  column: string;
  detector: PiiDetector;
  count: number;
  rowNumbers: number[];
}

type Pair = { key: string; column: string; detector: PiiDetector };

/** The columns pii@2 scans, each with every detector, keyed `column:detector`. */
function scanned(columns: Array<{ name: string; type: string }>): Pair[] {
  const detectors = Object.keys(PII_DETECTORS) as PiiDetector[];
  return columns.filter((c) => SCANNED_TYPES.has(c.type)).flatMap((c) => detectors.map((detector) => ({ key: `${c.name}:${detector}`, column: c.name, detector })));
}

/** The key of a column's probe counting cells that pass the gate of any detector the shared pass did not run on it. */
const elsewhereKey = (column: string): string => `${column}:other gates`;

const fullCount = (p: Pair): CountProbe => ({ key: p.key, column: p.column, predicate: (shared) => gatedDetectorOn(p.detector, ident(p.column), shared) });

/**
 * The shared pass runs a detector on a column only where some sampled cell passes its gate;
 * for each column's other detectors it just counts cells passing any of their gates (integer
 * comparisons). Nearly always that count is zero and so are those detectors' matches; when it
 * is not, `moreProbes` counts them after all. Counts stay exact either way.
 */
async function probesOf(plan: CheckPlan): Promise<CountProbe[]> {
  const pairs = scanned(plan.columns);
  if (pairs.length === 0) return [];
  const gates = pairs.map((p, i) => `${countOf(detectorGate(p.detector, ident(p.column)))} AS g${i}`);
  const sampled = (await aggregateRow((sql) => plan.duck.rows(sql), { select: gates, from: plan.sample })) as Record<string, number>;
  const run = pairs.filter((_, i) => sampled![`g${i}`]! > 0);
  const skipped = pairs.filter((_, i) => !(sampled![`g${i}`]! > 0));
  const columns = [...new Set(skipped.map((p) => p.column))];
  return [
    ...run.map(fullCount),
    ...columns.map((column) => ({
      key: elsewhereKey(column),
      column,
      predicate: (shared: (sql: string) => string) => anyOf(skipped.filter((p) => p.column === column).map((p) => detectorGate(p.detector, ident(column), shared))),
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
 * `pii@2`: runs every detector (see pii-detectors.ts) over every text and integer column and
 * reports, per column and detector, how many cells matched and the first row numbers. It
 * fails, blocking promotion, when the data holds more than its classification admits:
 * personal data in a dataset classified public, internal or confidential, or card numbers in
 * anything but PCI. PHI has no reliable pattern; it is declared by classification.
 */
export const piiCheck: QuarantineCheck = {
  name: 'pii',
  version: 2,
  probes: probesOf,
  moreProbes: (ctx) => scanned(ctx.facts).filter((p) => !ctx.hasProbe(p.key) && ctx.hasProbe(elsewhereKey(p.column)) && ctx.probe(elsewhereKey(p.column)) > 0).map(fullCount),
  locate: (ctx) => scanned(ctx.facts).map((p) => ({ key: p.key, predicate: detectorOn(p.detector, ident(p.column)), count: countOfPair(ctx, p) })),
  async run(ctx): Promise<CheckOutcome> {
    const detectors = Object.keys(PII_DETECTORS) as PiiDetector[];
    const findings: PiiFinding[] = scanned(ctx.facts)
      .filter((p) => countOfPair(ctx, p) > 0)
      .map((p) => ({ column: p.column, detector: p.detector, count: countOfPair(ctx, p), rowNumbers: ctx.located(p.key) }));
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
