import { ident, literal } from '../duck.js';
import type { CheckOutcome, QuarantineCheck } from './check.js';
import { exclusionsOf, ruleLocates, ruleProbes } from './consent.js';

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

/** The exclusion rule of `residency@1`: rows whose residency value (trimmed, any case) is not inside the residency, empty included. */
export function residencyRules(input: { column: string; residency: string }): Array<{ reason: string; predicate: string }> {
  const v = `upper(trim(CAST(${ident(input.column)} AS VARCHAR)))`;
  return [{ reason: 'residency', predicate: `coalesce(${v}, '') NOT IN (${insideValues(input.residency).map(literal).join(', ')})` }];
}

/**
 * `residency@1`: with a residency and a residency column declared, rows from outside the
 * residency (a region such as EU includes its member countries) are excluded with reason
 * `residency`.
 */
export const residencyCheck: QuarantineCheck = {
  name: 'residency',
  version: 1,
  probes: ({ declared: d }) => (d.residencyColumn && d.residency ? ruleProbes(d.residencyColumn, residencyRules({ column: d.residencyColumn, residency: d.residency })) : []),
  locate: (ctx) => {
    const { residencyColumn: column, residency } = ctx.declared;
    return column && residency ? ruleLocates(ctx, residencyRules({ column, residency })) : [];
  },
  async run(ctx): Promise<CheckOutcome> {
    const { residency, residencyColumn: column } = ctx.declared;
    const base = { name: this.name, version: this.version, blocking: false };
    if (!column) return { ...base, status: 'pass', result: residency ? `data resides in ${residency}; no per-row residency column declared` : 'no residency declared', evidence: { residency: residency ?? null, column: null } };
    // Ingest refuses a residency column without a residency, and one the file does not have.
    if (!residency) throw new Error('residency column declared without a residency');
    const exclusions = exclusionsOf(ctx, { rule: 'residency@1', rules: residencyRules({ column, residency }) });
    const excluded = exclusions[0]?.rowCount ?? 0;
    const evidence = { residency, column, inside: insideValues(residency), excluded: exclusions.map(({ predicate: _p, ...e }) => e) };
    if (excluded === 0) return { ...base, status: 'pass', result: `every row resides in ${residency}`, evidence, exclusions };
    return { ...base, status: 'pass', result: `${excluded} rows outside ${residency} are excluded`, evidence, exclusions };
  },
};
