import { beforeAll, describe, expect, it } from 'vitest';
import { AGGREGATES_PER_QUERY, ident, literal } from '../../src/data/duck.js';
import { countFromValues, planValueCounts, sampleDictionaries, type ValueCountedColumn } from '../../src/data/dictionary.js';
import type { Snapshot } from '../../src/data/load.js';
import { aggregatePass } from '../../src/data/pass.js';
import { scratchDuckSuite } from './support.js';

/** Records as a table: `tier` has two values in the first 4 records and thousands after; `flag` one, with a quote. */
const snapshot: Snapshot = {
  format: 'csv',
  columns: [
    { name: 'tier', duckType: 'VARCHAR' },
    { name: 'flag', duckType: 'VARCHAR' },
  ],
  scan: 'records',
  numbered: '(SELECT rowid + 1 AS r, * FROM records)',
  rowColumn: 'r',
  refuse: async (err) => err,
  aggregatesPerRead: AGGREGATES_PER_QUERY,
};

describe('value counts bounded by the sample', () => {
  const session = scratchDuckSuite('dictionary');
  beforeAll(async () => {
    const duck = session.duck();
    await duck.run(`CREATE TABLE records AS SELECT CASE WHEN i <= 4 THEN CASE WHEN i % 2 = 0 THEN 'gold' ELSE 'silver' END ELSE 'x' || i END AS tier,
      CASE WHEN i % 3 = 0 THEN NULL ELSE 'it''s' END AS flag FROM range(1, 5001) t(i)`);
    await duck.run('CREATE TABLE sample AS SELECT * FROM records LIMIT 4');
  });

  it('counts only the values the sample holds, and says how many values that accounts for', async () => {
    const duck = session.duck();
    const dictionaries = await sampleDictionaries(duck, { sample: 'sample', columns: ['tier', 'flag'] });
    expect([...dictionaries.get('tier')!.values].sort()).toEqual(['gold', 'silver']);
    const pass = aggregatePass(snapshot);
    const read = planValueCounts(pass, [...dictionaries.values()]);
    const counts = read(await pass.run(duck));
    const tier = counts.get('tier')!;
    expect(tier.entries.map((e) => [e.key, e.value]).sort()).toEqual([
      ['gold', 2],
      ['silver', 2],
    ]);
    // 4,996 values the sample lacked: the counts fall short of the column's 5,000 values, and never list them.
    expect(tier.counted).toBe(4);
    expect(counts.get('flag')).toEqual({ entries: [{ key: "it's", value: 3334 }], counted: 3334 });
  });

  it('countFromValues: columns whose predicates differ only by their name share a branch; a name inside a string literal stays that literal', async () => {
    const values = [
      { key: '"x"', value: 3 },
      { key: '"y"', value: 5 },
      { key: 'a', value: 7 },
    ];
    // Each column's first probe compares it with its own quoted name, as a string.
    const column = (name: string): ValueCountedColumn => ({
      column: name,
      values,
      nulls: 2,
      probes: [
        { key: 'named', column: name, predicate: () => `${ident(name)} = ${literal(ident(name))}` },
        { key: 'a', column: name, predicate: () => `${ident(name)} = 'a'` },
        { key: 'null', column: name, predicate: () => `${ident(name)} IS NULL` },
      ],
    });
    const counts = await countFromValues(session.duck(), [column('x'), column('y'), column("it's")]);
    expect(counts.get('x')).toEqual(new Map([['named', 3], ['a', 7], ['null', 2]]));
    expect(counts.get('y')).toEqual(new Map([['named', 5], ['a', 7], ['null', 2]]));
    expect(counts.get("it's")).toEqual(new Map([['named', 0], ['a', 7], ['null', 2]]));
  });
});
