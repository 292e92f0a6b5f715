import { describe, expect, it } from 'vitest';
import { AGGREGATES_PER_QUERY, aggregateRow, distinctCounts, UNPIVOT_MAX_CELLS, type DuckSession } from '../../src/data/duck.js';
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

  /** The session, counting the queries asked through it. */
  const counted = (duck: DuckSession): { duck: DuckSession; queries: string[] } => {
    const queries: string[] = [];
    return { queries, duck: { ...duck, rows: (sql, params) => (queries.push(sql), duck.rows(sql, params)) } };
  };

  it('distinctCounts: exact per column, nulls left out, one query for the text columns of a small table', async () => {
    const duck = session.duck();
    const width = AGGREGATES_PER_QUERY * 3;
    // Column t{i} holds the residues of r mod (i + 1) over 200 records, every tenth record null; odd names, a BIGINT and a DOUBLE column too.
    const text = Array.from({ length: width }, (_, i) => `CASE WHEN r % 10 = 0 THEN NULL ELSE CAST(r % ${i + 1} AS VARCHAR) END AS t${i}`);
    await duck.run(
      `CREATE OR REPLACE TEMP TABLE dc AS SELECT ${text.join(', ')}, CAST(NULL AS VARCHAR) AS "all null", 'x' AS "Say ""hi""", r AS n, CASE WHEN r % 2 = 0 THEN -0.0 ELSE 0.0 END AS z FROM range(200) AS t(r)`,
    );
    const columns = [
      ...Array.from({ length: width }, (_, i) => ({ name: `t${i}`, duckType: 'VARCHAR' })),
      { name: 'all null', duckType: 'VARCHAR' },
      { name: 'Say "hi"', duckType: 'VARCHAR' },
      { name: 'n', duckType: 'BIGINT' },
      { name: 'z', duckType: 'DOUBLE' },
    ];
    const { duck: asked, queries } = counted(duck);
    const got = await distinctCounts(asked, { source: 'dc', columns });
    expect(got.rows).toBe(200);
    for (const c of columns) {
      const [{ d }] = (await duck.rows<{ d: number }>(`SELECT count(DISTINCT "${c.name.replaceAll('"', '""')}") AS d FROM dc`)) as [{ d: number }];
      expect(got.distinct.get(c.name), c.name).toBe(d);
    }
    expect(got.distinct.get('t0')).toBe(1);
    // Residues 0…149 of r mod 150, but the multiples of 10: those records are null.
    expect(got.distinct.get('t149')).toBe(135);
    expect(got.distinct.get('all null')).toBe(0);
    expect(got.distinct.get('n')).toBe(200);
    // -0.0 and 0.0 are one DOUBLE: typed columns are never compared as text.
    expect(got.distinct.get('z')).toBe(1);
    // The record count, one query for every text column, and one for the two typed ones.
    expect(queries.filter((q) => /UNPIVOT/.test(q))).toHaveLength(1);
    expect(queries).toHaveLength(3);
  });

  it('distinctCounts: a table of more text cells than UNPIVOT_MAX_CELLS is counted in slices, as exactly', async () => {
    const duck = session.duck();
    const rows = UNPIVOT_MAX_CELLS / 2 + 1;
    await duck.run(`CREATE OR REPLACE TEMP TABLE dc_big AS SELECT CAST(r % 1000 AS VARCHAR) AS a, CASE WHEN r % 3 = 0 THEN NULL ELSE CAST(r AS VARCHAR) END AS b FROM range(${rows}) AS t(r)`);
    const { duck: asked, queries } = counted(duck);
    const got = await distinctCounts(asked, { source: 'dc_big', columns: [{ name: 'a', duckType: 'VARCHAR' }, { name: 'b', duckType: 'VARCHAR' }] });
    expect(got.rows).toBe(rows);
    expect(got.distinct.get('a')).toBe(1000);
    expect(got.distinct.get('b')).toBe(rows - Math.ceil(rows / 3));
    expect(queries.some((q) => /UNPIVOT/.test(q))).toBe(false);
  });
});
