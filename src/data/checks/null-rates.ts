import type { CheckOutcome, QuarantineCheck } from './check.js';

/** Columns with a larger share of nulls than this are reported as mostly empty. */
export const NULL_RATE_WARNING = 0.5;

/**
 * `null_rates@1`: nulls per column (an empty CSV field is null). Warns on columns more than
 * half empty, and on columns the contract had without nulls that now have some.
 */
export const nullRatesCheck: QuarantineCheck = {
  name: 'null_rates',
  version: 1,
  async run(ctx): Promise<CheckOutcome> {
    const columns = ctx.facts.map((f) => ({ column: f.name, nulls: f.nulls, rate: ctx.rows === 0 ? 0 : f.nulls / ctx.rows }));
    const mostlyEmpty = columns.filter((c) => c.rate > NULL_RATE_WARNING).map((c) => c.column);
    const wasComplete = new Set(ctx.contract?.schema.columns.filter((c) => !c.nullable).map((c) => c.name) ?? []);
    const newNulls = columns.filter((c) => c.nulls > 0 && wasComplete.has(c.column)).map((c) => c.column);
    const evidence = { columns, mostlyEmpty, newNulls, threshold: NULL_RATE_WARNING };
    const base = { name: this.name, version: this.version, blocking: false };
    if (mostlyEmpty.length === 0 && newNulls.length === 0) return { ...base, status: 'pass', result: 'no column is mostly empty', evidence };
    const parts = [mostlyEmpty.length ? `more than ${NULL_RATE_WARNING * 100}% null: ${mostlyEmpty.join(', ')}` : '', newNulls.length ? `nulls where the contract had none: ${newNulls.join(', ')}` : ''];
    return { ...base, status: 'warn', result: parts.filter(Boolean).join('; '), evidence };
  },
};
