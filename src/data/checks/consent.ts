import { counted } from '../../core/index.js';
import { columnText, literalList } from '../duck.js';
import type { CheckContext, CheckOutcome, CountProbe, ExclusionFinding, Locate, QuarantineCheck } from './check.js';

/** Values (case-insensitive, trimmed) that granted consent under `consent@1`: English words and digits. */
const GIVEN_V1 = ['true', 't', 'yes', 'y', '1', 'granted', 'given', 'opt-in', 'optin', 'consented'];
/** Values that withdrew or refused consent under `consent@1`. */
const WITHDRAWN_V1 = ['false', 'f', 'no', 'n', '0', 'withdrawn', 'revoked', 'denied', 'refused', 'opt-out', 'optout'];

/** Values that granted consent under `consent@2` and `consent@3`: `consent@1`'s and yes in the languages of EU data (ja, oui, sí, sim, tak…). */
const GIVEN_V2 = [...GIVEN_V1, 'ja', 'j', 'oui', 'si', 'sí', 'sì', 'sim', 'tak'];
/** Values that withdrew or refused consent under `consent@2` and `consent@3`: `consent@1`'s and no in the same languages (nein, nee, nej, non, não, nie). */
const WITHDRAWN_V2 = [...WITHDRAWN_V1, 'nein', 'nee', 'nej', 'non', 'não', 'nao', 'nie'];

/** Values (case-insensitive, trimmed) that grant consent: `consent@2`'s and the words German consent records use (erteilt, zugestimmt, einverstanden); anything else does not. */
export const CONSENT_GIVEN = [...GIVEN_V2, 'erteilt', 'zugestimmt', 'einverstanden'];
/**
 * Values that withdraw or refuse consent: `consent@2`'s and the words consent records use for a
 * withdrawal or a refusal in German (widerrufen, abgelehnt, nicht erteilt…), French, Spanish,
 * Italian, Dutch and Portuguese.
 */
export const CONSENT_WITHDRAWN = [
  ...WITHDRAWN_V2,
  ...['widerrufen', 'abgelehnt', 'verweigert', 'zurückgezogen', 'nicht erteilt', 'keine zustimmung'],
  ...['retiré', 'révoqué', 'refusé', 'revocado', 'retirado', 'rechazado', 'revocato', 'ritirato', 'rifiutato', 'ingetrokken', 'geweigerd', 'revogado', 'retirado', 'recusado'],
].filter((v, i, all) => all.indexOf(v) === i);

/**
 * The rule that excludes rows by consent: version 4 knows the words of German (and other EU)
 * consent records beyond yes and no; version 3 reads a JSON column's strings without their
 * quotes; version 2 knows more languages than version 1. Older versions are kept to rebuild what they recorded.
 */
export type ConsentRule = 'consent@1' | 'consent@2' | 'consent@3' | 'consent@4';

/** The rule the consent check records exclusions under. */
export const CONSENT_RULE: ConsentRule = 'consent@4';

/** True when `rule` is a consent rule this code can rebuild. */
export const isConsentRule = (rule: string): rule is ConsentRule => rule === 'consent@1' || rule === 'consent@2' || rule === 'consent@3' || rule === 'consent@4';

/** The values that give and withdraw consent under `rule`. */
function vocabulary(rule: ConsentRule): [given: string[], withdrawn: string[]] {
  if (rule === 'consent@1') return [GIVEN_V1, WITHDRAWN_V1];
  return rule === 'consent@4' ? [CONSENT_GIVEN, CONSENT_WITHDRAWN] : [GIVEN_V2, WITHDRAWN_V2];
}

/** A column an exclusion rule reads: its name, and whether DuckDB typed it JSON (a JSON Lines key holding strings in some records, objects, arrays or numbers in others). */
export interface RuleColumn {
  name: string;
  json: boolean;
}

/** The RuleColumn `name` of `columns` (as loaded, with DuckDB's types). */
export function ruleColumn(name: string, columns: ReadonlyArray<{ name: string; duckType: string }>): RuleColumn {
  return { name, json: columns.find((c) => c.name === name)?.duckType === 'JSON' };
}

/**
 * `column`'s values as text (SQL). With `unwrap`, a JSON column's strings are read without their
 * quotes (`yes`, not `"yes"`); a cast keeps them, so every string of such a column was unrecognised.
 */
export function valueText(column: RuleColumn, unwrap: boolean): string {
  return columnText({ name: column.name, json: unwrap && column.json });
}

/**
 * The exclusion rules of a consent rule on column `column`: a row stays only when consent is
 * affirmatively given. Withdrawn or refused → `consent_withdrawn`; empty → `consent_missing`;
 * any other value → `consent_unrecognised` (no proof of consent is no consent).
 */
export function consentRules(column: RuleColumn, rule: ConsentRule = CONSENT_RULE): Array<{ reason: string; predicate: string }> {
  const v = `lower(trim(${valueText(column, rule === 'consent@3' || rule === 'consent@4')}))`;
  const [given, withdrawn] = vocabulary(rule);
  return [
    { reason: 'consent_withdrawn', predicate: `${v} IN (${literalList(withdrawn)})` },
    { reason: 'consent_missing', predicate: `coalesce(${v}, '') = ''` },
    { reason: 'consent_unrecognised', predicate: `${v} <> '' AND ${v} NOT IN (${literalList([...given, ...withdrawn])})` },
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

/**
 * The outcome of an exclusion check once its rows are counted: pass, naming the
 * excluded rows by reason (`excluded` words the count); warn when some hold a value the rule does
 * not know (reason `unrecognised`), asking with `hint` whether the column is coded otherwise.
 */
export function exclusionOutcome(
  base: { name: string; version: number; blocking: boolean },
  input: { exclusions: ExclusionFinding[]; evidence: Record<string, unknown>; unrecognised: string; excluded: (rows: number) => string; hint: (rows: number) => string },
): CheckOutcome {
  const { exclusions, evidence } = input;
  const rows = exclusions.reduce((n, e) => n + e.rowCount, 0);
  const result = `${input.excluded(rows)} (${exclusions.map((e) => `${e.reason}: ${e.rowCount}`).join(', ')})`;
  const unrecognised = exclusions.find((e) => e.reason === input.unrecognised)?.rowCount ?? 0;
  if (unrecognised > 0) return { ...base, status: 'warn', result: `${result}; ${input.hint(unrecognised)}`, evidence, exclusions };
  return { ...base, status: 'pass', result, evidence, exclusions };
}

/** Counts and first row numbers of each rule's rows, leaving out rules that match nothing. */
export function exclusionsOf(ctx: CheckContext, input: { rule: string; rules: Rule[] }): ExclusionFinding[] {
  return input.rules
    .filter((r) => ctx.probe(r.reason) > 0)
    .map((r) => ({ reason: r.reason, rule: input.rule, predicate: r.predicate, rowCount: ctx.probe(r.reason), rowNumbers: ctx.located(r.reason) }));
}

/**
 * `consent@5`: with a declared consent column, rows without affirmative consent are excluded
 * from the certified data, counted by reason under the rule `consent@4` (ingest has already
 * refused a declared column the file does not have). Unrecognised values warn: the column may
 * be coded otherwise, and then every such row is excluded. Without a consent column there is
 * nothing to check (the consent basis is the one stated at promotion), unless the contract (the
 * latest certified version) excluded by one: then the check fails and blocks, because leaving the
 * declaration out would certify the rows whose consent was withdrawn. `consent@2` passed then.
 * Version 4 also fails and blocks another consent column than the contract's: consent read from
 * a column that grants it everywhere certified those rows just as leaving it out did.
 * Version 5 reads the words of German consent records (erteilt, widerrufen, nicht erteilt…) and
 * withdrawals in more languages (rule `consent@4`): under version 4 (rule `consent@3`) they
 * were unrecognised, their rows excluded with a warning.
 */
export const consentCheck: QuarantineCheck = {
  name: 'consent',
  version: 5,
  probes: ({ declared: d, columns }) => (d.consentColumn ? ruleProbes(d.consentColumn, consentRules(ruleColumn(d.consentColumn, columns))) : []),
  locate: (ctx) => (ctx.declared.consentColumn ? ruleLocates(ctx, consentRules(ruleColumn(ctx.declared.consentColumn, ctx.snapshot.columns))) : []),
  async run(ctx): Promise<CheckOutcome> {
    const column = ctx.declared.consentColumn;
    const base = { name: this.name, version: this.version, blocking: false };
    if (!column) {
      const held = ctx.contract?.consentColumn;
      if (!held) return { ...base, status: 'pass', result: 'no consent column declared', evidence: { column: null } };
      return {
        ...base,
        blocking: true,
        status: 'fail',
        result: `no consent column declared, where the contract of version ${ctx.contract!.version} excluded rows without consent in ${held}: rows whose consent was withdrawn would be certified (declare consentColumn, or record an exception saying why consent no longer applies)`,
        evidence: { column: null, contract: { version: ctx.contract!.version, consentColumn: held } },
      };
    }
    const held = ctx.contract?.consentColumn;
    if (held && held !== column) {
      return {
        ...base,
        blocking: true,
        status: 'fail',
        result: `consent read from ${column}, where the contract of version ${ctx.contract!.version} excluded rows without consent in ${held}: rows whose consent was withdrawn there would be certified (declare consentColumn ${held}, or record an exception saying why consent is now recorded in ${column})`,
        evidence: { column, contract: { version: ctx.contract!.version, consentColumn: held } },
      };
    }
    const exclusions = exclusionsOf(ctx, { rule: CONSENT_RULE, rules: consentRules(ruleColumn(column, ctx.snapshot.columns)) });
    const evidence = { column, given: CONSENT_GIVEN, withdrawn: CONSENT_WITHDRAWN, excluded: exclusions.map(({ predicate: _p, ...e }) => e) };
    if (exclusions.length === 0) return { ...base, status: 'pass', result: `every row has consent in ${column}`, evidence, exclusions };
    return exclusionOutcome(base, {
      exclusions,
      evidence,
      unrecognised: 'consent_unrecognised',
      excluded: (rows) => `${counted(rows, 'row')} without consent ${rows === 1 ? 'is' : 'are'} excluded`,
      hint: (rows) => `${rows} hold a value that neither gives nor withdraws consent: is ${column} coded otherwise?`,
    });
  },
};
