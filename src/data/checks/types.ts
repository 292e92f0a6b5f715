import { ident } from '../duck.js';
import { fits } from '../inspect.js';
import type { ColumnType } from '../types.js';
import type { CheckContext, CheckOutcome, Locate, QuarantineCheck } from './check.js';

/** Per column with violations: the type its values are held to, where that comes from, how many do not fit it. */
function violationsOf(ctx: CheckContext): Array<{ column: string; expected: ColumnType; source: 'contract' | 'inferred'; violations: number }> {
  const contractTypes = new Map(ctx.contract?.schema.columns.map((c) => [c.name, c.type]) ?? []);
  return ctx.facts.flatMap((f) => {
    const expected = contractTypes.get(f.name) ?? f.type;
    const violations = f.nonNull - (f.conforming[expected] ?? f.nonNull);
    return violations > 0 ? [{ column: f.name, expected, source: contractTypes.has(f.name) ? ('contract' as const) : ('inferred' as const), violations }] : [];
  });
}

/**
 * `types@3`: values that do not fit their column's type — the contract's type when the
 * contract has the column, the inferred type otherwise — counted per column with the first row
 * numbers. Violations of the contract fail and block; violations of an inferred type (at most
 * 1% of the column, by the inference threshold) warn. The counts come from the column facts.
 * Since version 2 a value with a time of day is no DATE, an offset is applied to a TIMESTAMP
 * (see `temporalOf`; version 1 took DuckDB's casts, which drop both), and a value with a
 * leading zero before a digit is no number (see `fits`). Since version 3, in a file without a
 * declared decimal separator, `1.000` is no integer: DuckDB reads it as one, a European export
 * means a thousand (version 2 counted it as the integer 1).
 */
export const typesCheck: QuarantineCheck = {
  name: 'types',
  version: 3,
  locate: (ctx): Locate[] =>
    violationsOf(ctx).map((v) => {
      const q = ident(v.column);
      return { key: v.column, predicate: `${q} IS NOT NULL AND (${fits(q, v.expected, { values: ctx.declared.values })}) IS NULL`, count: v.violations };
    }),
  async run(ctx): Promise<CheckOutcome> {
    const columns = violationsOf(ctx).map((v) => ({ ...v, rowNumbers: ctx.located(v.column) }));
    const againstContract = columns.filter((c) => c.source === 'contract');
    const base = { name: this.name, version: this.version, blocking: true, evidence: { columns } };
    if (columns.length === 0) return { ...base, status: 'pass', result: 'every value fits its column type' };
    const summary = columns.map((c) => `${c.column}: ${c.violations} not ${c.expected}`).join(', ');
    return { ...base, status: againstContract.length > 0 ? 'fail' : 'warn', result: `type violations (${summary})` };
  },
};
