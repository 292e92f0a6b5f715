import { counted } from '../../core/index.js';
import { getCodes } from 'country-list';
import { literalList } from '../duck.js';
import type { CheckOutcome, QuarantineCheck } from './check.js';
import { exclusionOutcome, exclusionsOf, ruleColumn, ruleLocates, ruleProbes, valueText, type RuleColumn } from './consent.js';

/** Regions a residency may name, with the ISO 3166-1 alpha-2 codes inside them. */
export const REGIONS: Record<string, string[]> = {
  EU: ['AT', 'BE', 'BG', 'HR', 'CY', 'CZ', 'DK', 'EE', 'FI', 'FR', 'DE', 'GR', 'HU', 'IE', 'IT', 'LV', 'LT', 'LU', 'MT', 'NL', 'PL', 'PT', 'RO', 'SK', 'SI', 'ES', 'SE'],
  EEA: [...['AT', 'BE', 'BG', 'HR', 'CY', 'CZ', 'DK', 'EE', 'FI', 'FR', 'DE', 'GR', 'HU', 'IE', 'IT', 'LV', 'LT', 'LU', 'MT', 'NL', 'PL', 'PT', 'RO', 'SK', 'SI', 'ES', 'SE'], 'IS', 'LI', 'NO'],
};

/** The values (upper case) a residency column may hold for a row to be inside `residency`: the residency itself, and its member countries. */
export function insideValues(residency: string): string[] {
  const r = residency.toUpperCase();
  return [r, ...(REGIONS[r] ?? [])];
}

/** True when every place `residency` admits is one `contract` admits too (DE within EU, EU within EEA), in any case. */
function within(residency: string, contract: string): boolean {
  const admitted = new Set(insideValues(contract));
  return insideValues(residency).every((v) => admitted.has(v));
}

/** Every officially assigned ISO 3166-1 alpha-2 code (249), and the region names: the values a residency column is read as. */
const KNOWN_VALUES = [...getCodes(), ...Object.keys(REGIONS)];

/** The regions a residency may name (EU, EEA), for messages. */
export const RESIDENCY_REGIONS: readonly string[] = Object.keys(REGIONS);

/**
 * The residency a declaration names, trimmed and in upper case (`de` is `DE`), or undefined when
 * it is neither an ISO 3166-1 alpha-2 code nor a region: the values this check understands, so a
 * declared `Germany` cannot exclude every row as "outside".
 */
export function residencyOf(value: string): string | undefined {
  const r = value.trim().toUpperCase();
  return KNOWN_VALUES.includes(r) ? r : undefined;
}

/**
 * The rule that excludes rows by residency: version 3 reads a JSON column's strings without their
 * quotes; version 2 tells outside, empty and unrecognised apart; version 1 (one reason). Older
 * versions are kept to rebuild what they recorded.
 */
export type ResidencyRule = 'residency@1' | 'residency@2' | 'residency@3';

/** The rule the residency check records exclusions under. */
export const RESIDENCY_RULE: ResidencyRule = 'residency@3';

/** True when `rule` is a residency rule this code can rebuild. */
export const isResidencyRule = (rule: string): rule is ResidencyRule => rule === 'residency@1' || rule === 'residency@2' || rule === 'residency@3';

/**
 * The exclusion rules of a residency rule on `column` (values trimmed, any case). `residency@3`
 * reads a JSON column's strings without their quotes, and otherwise is `residency@2`:
 * a country code (or region) outside the residency → `residency_outside`; empty →
 * `residency_missing`; a value that is neither an ISO 3166-1 alpha-2 code nor a region (`DEU`,
 * `Germany`) → `residency_unrecognised`: no proof of residency is no residency. Together they
 * exclude exactly the rows `residency@1` excluded, under its single reason `residency`.
 */
export function residencyRules(input: { column: RuleColumn; residency: string }, rule: ResidencyRule = RESIDENCY_RULE): Array<{ reason: string; predicate: string }> {
  const v = `upper(trim(${valueText(input.column, rule === 'residency@3')}))`;
  const inside = insideValues(input.residency);
  if (rule === 'residency@1') return [{ reason: 'residency', predicate: `coalesce(${v}, '') NOT IN (${literalList(inside)})` }];
  const known = [...new Set([...KNOWN_VALUES, ...inside])];
  return [
    { reason: 'residency_outside', predicate: `${v} IN (${literalList(KNOWN_VALUES)}) AND ${v} NOT IN (${literalList(inside)})` },
    { reason: 'residency_missing', predicate: `coalesce(${v}, '') = ''` },
    { reason: 'residency_unrecognised', predicate: `${v} <> '' AND ${v} NOT IN (${literalList(known)})` },
  ];
}

/**
 * `residency@4`: with a residency and a residency column declared, rows from outside the
 * residency (a region such as EU includes its member countries) are excluded, by reason under
 * the rule `residency@3` (see `residencyRules`). Values that are no country code at all warn:
 * the column may hold another coding (alpha-3, names), and then every such row is excluded. A
 * version that leaves out the residency or the residency column its contract (the latest
 * certified version) declared fails and blocks: its rows from elsewhere would be certified as
 * the dataset's. `residency@2` passed then. Version 4 also fails and blocks a residency that
 * reaches outside the contract's (EU where it said DE, US where it said EU): declared anew, it
 * let those rows in just as leaving it out did; a narrower one (DE where it said EU) passes.
 */
export const residencyCheck: QuarantineCheck = {
  name: 'residency',
  version: 4,
  probes: ({ declared: d, columns }) =>
    d.residencyColumn && d.residency ? ruleProbes(d.residencyColumn, residencyRules({ column: ruleColumn(d.residencyColumn, columns), residency: d.residency })) : [],
  locate: (ctx) => {
    const { residencyColumn: column, residency } = ctx.declared;
    return column && residency ? ruleLocates(ctx, residencyRules({ column: ruleColumn(column, ctx.snapshot.columns), residency })) : [];
  },
  async run(ctx): Promise<CheckOutcome> {
    const { residency, residencyColumn: column } = ctx.declared;
    const base = { name: this.name, version: this.version, blocking: false };
    const contract = ctx.contract;
    const dropped = [contract?.residency && !residency ? `residency ${contract.residency}` : '', contract?.residencyColumn && !column ? `residency column ${contract.residencyColumn}` : ''].filter(Boolean);
    const widened = contract?.residency && residency && !within(residency, contract.residency);
    if (contract && (dropped.length > 0 || widened)) {
      const what = [dropped.length > 0 ? `declared ${dropped.join(' and ')}, this version does not` : '', widened ? `declared residency ${contract.residency}, this version ${residency}, which reaches beyond it` : '']
        .filter(Boolean)
        .join('; ');
      return {
        ...base,
        blocking: true,
        status: 'fail',
        result: `the contract of version ${contract.version} ${what}: rows from elsewhere would be certified (declare them, or record an exception saying why they no longer apply)`,
        evidence: { residency: residency ?? null, column: column ?? null, contract: { version: contract.version, residency: contract.residency, column: contract.residencyColumn } },
      };
    }
    if (!column) return { ...base, status: 'pass', result: residency ? `data resides in ${residency}; no per-row residency column declared` : 'no residency declared', evidence: { residency: residency ?? null, column: null } };
    // Ingest refuses a residency column without a residency, and one the file does not have.
    if (!residency) throw new Error('residency column declared without a residency');
    const exclusions = exclusionsOf(ctx, { rule: RESIDENCY_RULE, rules: residencyRules({ column: ruleColumn(column, ctx.snapshot.columns), residency }) });
    const evidence = { residency, column, inside: insideValues(residency), excluded: exclusions.map(({ predicate: _p, ...e }) => e) };
    if (exclusions.length === 0) return { ...base, status: 'pass', result: `every row resides in ${residency}`, evidence, exclusions };
    return exclusionOutcome(base, {
      exclusions,
      evidence,
      unrecognised: 'residency_unrecognised',
      excluded: (rows) => `${counted(rows, 'row')} not shown to reside in ${residency} ${rows === 1 ? 'is' : 'are'} excluded`,
      hint: (rows) => `${rows} hold no ISO 3166-1 alpha-2 country code: is ${column} coded otherwise?`,
    });
  },
};
