import { ident } from '../duck.js';
import { firstRowNumbers, type CheckOutcome, type ExclusionFinding, type QuarantineCheck } from './check.js';

/** Values (case-insensitive, trimmed) that grant consent; anything else does not. */
export const CONSENT_GIVEN = ['true', 't', 'yes', 'y', '1', 'granted', 'given', 'opt-in', 'optin', 'consented'];
/** Values that withdraw or refuse consent. */
export const CONSENT_WITHDRAWN = ['false', 'f', 'no', 'n', '0', 'withdrawn', 'revoked', 'denied', 'refused', 'opt-out', 'optout'];

const list = (values: string[]): string => values.map((v) => `'${v}'`).join(', ');

/**
 * The exclusion rules of `consent@1` on column `column`: a row stays only when consent is
 * affirmatively given. Withdrawn or refused → `consent_withdrawn`; empty → `consent_missing`;
 * any other value → `consent_unrecognised` (no proof of consent is no consent).
 */
export function consentRules(column: string): Array<{ reason: string; predicate: string }> {
  const v = `lower(trim(CAST(${ident(column)} AS VARCHAR)))`;
  return [
    { reason: 'consent_withdrawn', predicate: `${v} IN (${list(CONSENT_WITHDRAWN)})` },
    { reason: 'consent_missing', predicate: `coalesce(${v}, '') = ''` },
    { reason: 'consent_unrecognised', predicate: `${v} <> '' AND ${v} NOT IN (${list([...CONSENT_GIVEN, ...CONSENT_WITHDRAWN])})` },
  ];
}

/** Counts and first row numbers of each rule's rows in `raw`, leaving out rules that match nothing. */
export async function exclusionsOf(ctx: Parameters<QuarantineCheck['run']>[0], input: { rule: string; rules: Array<{ reason: string; predicate: string }> }): Promise<ExclusionFinding[]> {
  const counts = await ctx.duck.rows<Record<string, number>>(`SELECT ${input.rules.map((r, i) => `count(*) FILTER (WHERE ${r.predicate}) AS r${i}`).join(', ')} FROM raw`);
  const out: ExclusionFinding[] = [];
  for (const [i, r] of input.rules.entries()) {
    const rowCount = counts[0]?.[`r${i}`] ?? 0;
    if (rowCount > 0) out.push({ reason: r.reason, rule: input.rule, predicate: r.predicate, rowCount, rowNumbers: await firstRowNumbers(ctx.duck, r.predicate) });
  }
  return out;
}

/**
 * `consent@1`: with a declared consent column, rows without affirmative consent are excluded
 * from the certified data, counted by reason (ingest has already refused a declared column
 * the file does not have). Without a consent column there is nothing to check: the consent
 * basis is then the one stated at promotion.
 */
export const consentCheck: QuarantineCheck = {
  name: 'consent',
  version: 1,
  async run(ctx): Promise<CheckOutcome> {
    const column = ctx.declared.consentColumn;
    const base = { name: this.name, version: this.version, blocking: false };
    if (!column) return { ...base, status: 'pass', result: 'no consent column declared', evidence: { column: null } };
    const exclusions = await exclusionsOf(ctx, { rule: 'consent@1', rules: consentRules(column) });
    const excluded = exclusions.reduce((n, e) => n + e.rowCount, 0);
    const evidence = { column, given: CONSENT_GIVEN, withdrawn: CONSENT_WITHDRAWN, excluded: exclusions.map(({ predicate: _p, ...e }) => e) };
    if (excluded === 0) return { ...base, status: 'pass', result: `every row has consent in ${column}`, evidence, exclusions };
    return { ...base, status: 'pass', result: `${excluded} rows without consent are excluded (${exclusions.map((e) => `${e.reason}: ${e.rowCount}`).join(', ')})`, evidence, exclusions };
  },
};
