import { describe, expect, it } from 'vitest';
import { AGGREGATES_PER_QUERY, aggregateRow } from '../../src/data/duck.js';
import { aggregatePass } from '../../src/data/pass.js';
import { scratchDuckSuite } from './support.js';

/**
 * Wide files. One query of thousands of aggregates made DuckDB plan for seconds (time growing
 * with the square of the aggregates) and keep every aggregate's state on every thread: a
 * 50-record CSV of 800 columns ran out of memory (a 500) after a quarter of a minute. Rows of
 * aggregates are now asked for in slices.
 */
describe('rows of many aggregates, in slices', () => {
  const session = scratchDuckSuite('wide');

  it('aggregateRow merges the slices into the row one query would give, each slice at most AGGREGATES_PER_QUERY', async () => {
    const n = AGGREGATES_PER_QUERY * 2 + 7;
    const parts = Array.from({ length: n }, (_, i) => `sum(x * ${i}) AS s${i}`);
    const sources: number[] = [];
    const asked: string[] = [];
    const row = await aggregateRow(
      (sql) => {
        asked.push(sql);
        return session.duck().rows(sql);
      },
      {
        select: parts,
        from: (slice) => {
          sources.push(slice.length);
          return '(SELECT range AS x FROM range(10))';
        },
      },
    );
    expect(sources).toEqual([AGGREGATES_PER_QUERY, AGGREGATES_PER_QUERY, 7]);
    expect(asked).toHaveLength(3);
    expect(Object.keys(row)).toHaveLength(n);
    for (let i = 0; i < n; i++) expect(row[`s${i}`]).toBe(45 * i);
  });

  it('a pass wider than one query computes each derived column its slices use, and only those', async () => {
    const scan = '(SELECT range AS x, range * 2 AS y FROM range(100))';
    const pass = aggregatePass({ scan, columns: [{ name: 'x', duckType: 'BIGINT' }, { name: 'y', duckType: 'BIGINT' }], refuse: (e: unknown) => e, aggregatesPerRead: AGGREGATES_PER_QUERY } as never);
    const keys = Array.from({ length: AGGREGATES_PER_QUERY * 3 + 7 }, (_, i) => {
      const d = pass.shared(`x + ${i}`);
      // A derived column built on an earlier one: the slice needs both.
      const e = pass.shared(`${d} * 2`);
      return pass.add(`sum(${e})`);
    });
    const result = await pass.run(session.duck());
    keys.forEach((key, i) => expect(result[key]).toBe(2 * (4950 + 100 * i)));
  });

  it('quarantines a 50-record CSV of 800 columns', async () => {
    const columns = 800;
    const header = Array.from({ length: columns }, (_, i) => `c${i}`).join(',');
    // c797: a few e-mail addresses, found by the PII detector in a column far down the file.
    const value = (r: number, i: number): string => (i === 797 ? `person${r % 3}@example.com` : i % 3 === 0 ? `v${(r * i) % 7}` : String(r * i));
    const records = Array.from({ length: 50 }, (_, r) => Array.from({ length: columns }, (_, i) => value(r, i)).join(','));
    const report = await session.quarantineCsv('wide', [header, ...records]);
    expect(report.rows).toBe(50);
    expect(report.schema).toHaveLength(columns);
    expect(report.profile.columns).toHaveLength(columns);
    expect(report.schema.find((c) => c.name === 'c1')?.type).toBe('BIGINT');
    expect(report.schema.find((c) => c.name === 'c3')?.type).toBe('VARCHAR');
    // Value counts of few-valued columns in every batch of dictionaries, first to last: c{i} holds v{(r·i) mod 7}.
    for (const i of [3, 402, 798]) {
      const expected = new Map<string, number>();
      for (let r = 0; r < 50; r++) expected.set(`v${(r * i) % 7}`, (expected.get(`v${(r * i) % 7}`) ?? 0) + 1);
      const column = report.profile.columns.find((c) => c.name === `c${i}`) as { topK?: Array<{ value: string; count: number }> };
      expect(new Map(column.topK!.map((t) => [t.value, t.count]))).toEqual(expected);
    }
    const pii = report.checks.find((c) => c.name === 'pii')!;
    const findings = (pii.evidence.findings as Array<{ column: string; detector: string; count: number }>).map((f) => `${f.column}:${f.detector}:${f.count}`);
    expect(findings).toEqual(['c797:email:50']);
  });
});
