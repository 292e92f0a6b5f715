import { ident } from '../duck.js';
import { fits } from '../inspect.js';
import { firstRowNumbers, type CheckOutcome, type QuarantineCheck } from './check.js';

/**
 * `types@1`: values that do not fit their column's type — the contract's type when the
 * contract has the column, the inferred type otherwise — counted per column with the first row
 * numbers. Violations of the contract fail and block; violations of an inferred type (at most
 * 1% of the column, by the inference threshold) warn.
 */
export const typesCheck: QuarantineCheck = {
  name: 'types',
  version: 1,
  async run(ctx): Promise<CheckOutcome> {
    const contractTypes = new Map(ctx.contract?.schema.columns.map((c) => [c.name, c.type]) ?? []);
    const columns = [];
    for (const f of ctx.facts) {
      const expected = contractTypes.get(f.name) ?? f.type;
      const violations = f.nonNull - (f.conforming[expected] ?? f.nonNull);
      if (violations <= 0) continue;
      const q = ident(f.name);
      const rowNumbers = await firstRowNumbers(ctx.duck, `${q} IS NOT NULL AND (${fits(q, expected)}) IS NULL`);
      columns.push({ column: f.name, expected, source: contractTypes.has(f.name) ? 'contract' : 'inferred', violations, rowNumbers });
    }
    const againstContract = columns.filter((c) => c.source === 'contract');
    const base = { name: this.name, version: this.version, blocking: true, evidence: { columns } };
    if (columns.length === 0) return { ...base, status: 'pass', result: 'every value fits its column type' };
    const summary = columns.map((c) => `${c.column}: ${c.violations} not ${c.expected}`).join(', ');
    return { ...base, status: againstContract.length > 0 ? 'fail' : 'warn', result: `type violations (${summary})` };
  },
};
