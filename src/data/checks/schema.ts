import { TYPE_THRESHOLD } from '../inspect.js';
import type { ColumnSchema } from '../types.js';
import { describeValueFormat } from '../value-format.js';
import type { CheckContext, CheckOutcome, QuarantineCheck } from './check.js';

/** The schema a version's column facts describe. */
export function schemaOf(ctx: Pick<CheckContext, 'facts'>): ColumnSchema[] {
  return ctx.facts.map((f) => ({ name: f.name, type: f.type, nullable: f.nulls > 0 }));
}

/**
 * `schema@2`: the inferred schema, held to the contract (the latest certified version's
 * schema). A contract column that is missing, or whose values no longer fit its type
 * (fewer than 99% do), fails and blocks; new columns warn. Without a contract it passes:
 * this schema becomes the contract once certified. Version 2 infers DATE only for values
 * without a time of day (version 1 called a column of timestamps DATE; see `temporalOf`), and
 * no number for values with a leading zero before a digit (codes, see `fits`).
 */
export const schemaCheck: QuarantineCheck = {
  name: 'schema',
  version: 2,
  async run(ctx): Promise<CheckOutcome> {
    const inferred = schemaOf(ctx);
    const base = { name: this.name, version: this.version, blocking: true };
    // The declared way of writing numbers and dates decided which values fit which type.
    const values = ctx.declared.values ? { values: ctx.declared.values } : {};
    if (!ctx.contract) {
      return { ...base, status: 'pass', result: `${inferred.length} columns inferred; no certified version yet, so no contract to compare with`, evidence: { inferred, contract: null, ...values } };
    }
    const byName = new Map(ctx.facts.map((f) => [f.name, f]));
    const missing: string[] = [];
    const changed: Array<{ column: string; contractType: string; inferredType: string; fitting: number }> = [];
    for (const c of ctx.contract.schema.columns) {
      const f = byName.get(c.name);
      if (!f) missing.push(c.name);
      else if (f.type !== c.type && (f.conforming[c.type] ?? 0) < TYPE_THRESHOLD * f.nonNull) {
        changed.push({ column: c.name, contractType: c.type, inferredType: f.type, fitting: f.conforming[c.type] ?? 0 });
      }
    }
    const known = new Set(ctx.contract.schema.columns.map((c) => c.name));
    const added = inferred.filter((c) => !known.has(c.name)).map((c) => c.name);
    const evidence = { inferred, contract: { versionId: ctx.contract.versionId, version: ctx.contract.version }, missing, changed, added, ...values };
    if (missing.length > 0 || changed.length > 0) {
      // A type change under another declared way of writing numbers and dates is most likely the declaration's: say so.
      const contractValues = describeValueFormat(ctx.contract.values);
      const ownValues = describeValueFormat(ctx.declared.values);
      const hint = changed.length > 0 && contractValues !== ownValues ? `version ${ctx.contract.version} was read with ${contractValues}, this one with ${ownValues}` : '';
      const what = [missing.length ? `missing ${missing.join(', ')}` : '', changed.length ? `type changed: ${changed.map((c) => `${c.column} ${c.contractType}→${c.inferredType}`).join(', ')}` : '', hint]
        .filter(Boolean)
        .join('; ');
      return { ...base, status: 'fail', result: `breaks the contract of version ${ctx.contract.version}: ${what}`, evidence };
    }
    if (added.length > 0) return { ...base, status: 'warn', result: `new columns beyond the contract of version ${ctx.contract.version}: ${added.join(', ')}`, evidence };
    return { ...base, status: 'pass', result: `matches the contract of version ${ctx.contract.version}`, evidence };
  },
};
