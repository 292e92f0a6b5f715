import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Unavailable } from '../../src/core/index.js';
import type { DuckSession } from '../../src/data/duck.js';
import { openSnapshot } from '../../src/data/load.js';
import { aggregatePass } from '../../src/data/pass.js';
import { scratchDuckSuite } from './support.js';

/**
 * When DuckDB runs out of memory on a pass that holds an exact distinct count beside other
 * aggregates (a table it cannot spill: a 3 GB file under a 256 MB limit, measured), the pass
 * runs again with each count(DISTINCT x) grouped in a query of its own, which spills. Running
 * out of memory cannot be provoked reliably in a test (how much DuckDB holds varies with
 * timing), so the session here is the real DuckDB with one thing imitated: the error DuckDB
 * gives for such a pass, which lies outside Assay.
 */
describe('a pass that runs out of memory', () => {
  const session = scratchDuckSuite('pass-fallback');

  /** The real session, refusing like DuckDB out of memory any aggregate query holding a distinct count beside other aggregates. */
  const tight = (duck: DuckSession, asked: string[]): DuckSession => ({
    ...duck,
    async aggregate(sql, params) {
      asked.push(sql);
      if (/count\(DISTINCT/.test(sql) && /, /.test(sql.slice(0, sql.indexOf(' FROM ')))) throw new Unavailable('the data engine (DuckDB) needed more than its memory limit');
      return duck.aggregate(sql, params);
    },
  });

  it('gives the same row with the distinct counts grouped apart', async () => {
    const path = join(session.dir(), 'keys.csv');
    await writeFile(path, ['id,grp', ...Array.from({ length: 2000 }, (_, i) => `${i % 1500},${i % 7}`)].join('\n') + '\n');
    const snapshot = await openSnapshot(session.duck(), { path, format: 'csv', csv: { delimiter: ',', header: ['id', 'grp'] } });
    const plan = (): ReturnType<typeof aggregatePass> => {
      const pass = aggregatePass(snapshot);
      pass.add('count(*)');
      pass.addDistinctCount('hash("id")');
      pass.addDistinctCount(pass.shared('CAST("grp" AS INTEGER) % 3'));
      pass.add('max(length("id"))');
      return pass;
    };
    const expected = await plan().run(session.duck());
    expect(expected).toEqual({ a0: 2000, a1: 1500, a2: 3, a3: 4 });
    const asked: string[] = [];
    expect(await plan().run(tight(session.duck(), asked))).toEqual(expected);
    // The pass was refused once, then read again without them, then once per distinct count.
    expect(asked).toHaveLength(4);
    expect(asked.slice(2).every((sql) => sql.includes('GROUP BY v'))).toBe(true);
  });

  it('a pass without distinct counts that runs out of memory is refused as before (503)', async () => {
    const path = join(session.dir(), 'plain.csv');
    await writeFile(path, 'id\n1\n2\n');
    const snapshot = await openSnapshot(session.duck(), { path, format: 'csv', csv: { delimiter: ',', header: ['id'] } });
    const pass = aggregatePass(snapshot);
    pass.add('count(*)');
    const refusing = { ...session.duck(), aggregate: () => Promise.reject(new Unavailable('out of memory')) } as DuckSession;
    await expect(pass.run(refusing)).rejects.toBeInstanceOf(Unavailable);
  });
});
