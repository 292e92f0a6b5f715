import { ident } from '../duck.js';
import type { CheckContext, CheckOutcome, CountProbe, ExclusionFinding, Locate, QuarantineCheck } from './check.js';

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

type Rule = { reason: string; predicate: string };

/** Probes counting each rule's records (a rule reads its one column). */
export function ruleProbes(column: string, rules: Rule[]): CountProbe[] {
  return rules.map((r) => ({ key: r.reason, column, predicate: () => r.predicate }));
}

/** The rules' records to cite by number. */
export function ruleLocates(ctx: CheckContext, rules: Rule[]): Locate[] {
  return rules.map((r) => ({ key: r.reason, predicate: r.predicate, count: ctx.probe(r.reason) }));
}

/** Counts and first row numbers of each rule's rows, leaving out rules that match nothing. */
export function exclusionsOf(ctx: CheckContext, input: { rule: string; rules: Rule[] }): ExclusionFinding[] {
  return input.rules
    .filter((r) => ctx.probe(r.reason) > 0)
    .map((r) => ({ reason: r.reason, rule: input.rule, predicate: r.predicate, rowCount: ctx.probe(r.reason), rowNumbers: ctx.located(r.reason) }));
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
  probes: ({ declared: d }) => (d.consentColumn ? ruleProbes(d.consentColumn, consentRules(d.consentColumn)) : []),
  locate: (ctx) => (ctx.declared.consentColumn ? ruleLocates(ctx, consentRules(ctx.declared.consentColumn)) : []),
  async run(ctx): Promise<CheckOutcome> {
    const column = ctx.declared.consentColumn;
    const base = { name: this.name, version: this.version, blocking: false };
    if (!column) return { ...base, status: 'pass', result: 'no consent column declared', evidence: { column: null } };
    const exclusions = exclusionsOf(ctx, { rule: 'consent@1', rules: consentRules(column) });
    const excluded = exclusions.reduce((n, e) => n + e.rowCount, 0);
    const evidence = { column, given: CONSENT_GIVEN, withdrawn: CONSENT_WITHDRAWN, excluded: exclusions.map(({ predicate: _p, ...e }) => e) };
    if (excluded === 0) return { ...base, status: 'pass', result: `every row has consent in ${column}`, evidence, exclusions };
    return { ...base, status: 'pass', result: `${excluded} rows without consent are excluded (${exclusions.map((e) => `${e.reason}: ${e.rowCount}`).join(', ')})`, evidence, exclusions };
  },
};
