import { ident } from '../duck.js';
import { firstRowNumbers, type CheckOutcome, type QuarantineCheck } from './check.js';
import { detectorOn, PERSONAL_DETECTORS, PII_DETECTORS, registerPiiMacros, type PiiDetector } from './pii-detectors.js';

/**
 * Columns scanned: text and integers (card and tax ids read as integers). A column at least 99%
 * decimals, booleans or dates holds none of these patterns, and its few misfits are reported by
 * types@1.
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

/**
 * `pii@1`: runs every detector (see pii-detectors.ts) over every text and integer column in one pass and
 * reports, per column and detector, how many cells matched and the first row numbers. It
 * fails, blocking promotion, when the data holds more than its classification admits:
 * personal data in a dataset classified public, internal or confidential, or card numbers in
 * anything but PCI. PHI has no reliable pattern; it is declared by classification.
 */
export const piiCheck: QuarantineCheck = {
  name: 'pii',
  version: 1,
  async run(ctx): Promise<CheckOutcome> {
    await registerPiiMacros(ctx.duck);
    const detectors = Object.keys(PII_DETECTORS) as PiiDetector[];
    const scanned = ctx.facts.filter((f) => SCANNED_TYPES.has(f.type));
    const parts = scanned.flatMap((f, i) => detectors.map((d) => `count(CASE WHEN ${detectorOn(d, ident(f.name))} THEN 1 END) AS "${i}:${d}"`));
    const [counts] = parts.length ? await ctx.duck.rows<Record<string, number>>(`SELECT ${parts.join(', ')} FROM raw`) : [{}];
    const findings: PiiFinding[] = [];
    for (const [i, f] of scanned.entries()) {
      for (const d of detectors) {
        const count = counts?.[`${i}:${d}`] ?? 0;
        if (count > 0) findings.push({ column: f.name, detector: d, count, rowNumbers: await firstRowNumbers(ctx.duck, detectorOn(d, ident(f.name))) });
      }
    }
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
