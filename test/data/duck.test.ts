import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createReadStream } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ingestDataset, promoteDatasetVersion } from '../../src/data/index.js';
import { openDuckSession } from '../../src/data/duck.js';
import { eachBackend } from '../support/databases.js';
import { GERMAN_CREDIT, promoteEnvOf, scratchDuckSuite, withTwoStewards } from './support.js';

const ORDER = "SELECT current_setting('preserve_insertion_order') AS kept";

/**
 * Aggregates may read in any order (in parallel); everything else must see records in file
 * order, since LIMIT queries over the snapshot are how row numbers are found.
 */
describe('DuckDB session: file order kept except inside aggregates', () => {
  const session = scratchDuckSuite('duck');

  it('keeps insertion order for ordinary queries', async () => {
    expect(await session.duck().rows(ORDER)).toEqual([{ kept: true }]);
  });

  it('lets an aggregate ignore it, then keeps it again', async () => {
    expect(await session.duck().aggregate(ORDER)).toEqual([{ kept: false }]);
    expect(await session.duck().aggregate<{ n: number }>('SELECT count(*) AS n FROM range(1000)')).toEqual([{ n: 1000 }]);
    expect(await session.duck().rows(ORDER)).toEqual([{ kept: true }]);
  });

  it('keeps it again after an aggregate that fails', async () => {
    await expect(session.duck().aggregate('SELECT count(*) FROM no_such_table')).rejects.toThrow(/no_such_table/);
    expect(await session.duck().rows(ORDER)).toEqual([{ kept: true }]);
  });
});

describe('DuckDB session: out of memory', () => {
  it('is the server running short (503 unavailable naming data.duckdbMemoryLimit), not a 500 nor the file\'s fault', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'assay-duck-oom-'));
    const duck = await openDuckSession({ tempDir: dir, memoryLimit: '16MB' });
    try {
      // One list of 20 million numbers cannot spill: it must fit in memory at once.
      const failure = duck.rows('SELECT list(range) AS l FROM range(20000000)');
      await expect(failure).rejects.toMatchObject({ code: 'unavailable' });
      await expect(failure).rejects.toThrow(/memory limit of 16MB \(data\.duckdbMemoryLimit\)/);
      await expect(duck.run('CREATE TABLE big AS SELECT list(range) AS l FROM range(20000000)')).rejects.toMatchObject({ code: 'unavailable' });
      // Other errors stay as DuckDB gave them.
      await expect(duck.rows('SELECT * FROM no_such_table')).rejects.toThrow(/no_such_table/);
    } finally {
      duck.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('DuckDB at the least memory the configuration allows (data.duckdbMemoryLimit 64MB)', () => {
  // One backend is enough: the database plays no part in DuckDB's memory.
  const suite = withTwoStewards(eachBackend()[0]!);

  it('ingests and certifies the German credit demo', async () => {
    const env = { ...promoteEnvOf(suite.t), duckdbMemoryLimit: '64MB' };
    const v = await ingestDataset(env, { name: 'german-credit', source: createReadStream(GERMAN_CREDIT), mediaType: 'text/csv', sourceSystem: 'uci', classification: 'confidential', ownerId: suite.ownerId }, { actor: suite.ingester });
    expect(v).toMatchObject({ state: 'quarantine', rowCount: 1000 });
    const { version } = await promoteDatasetVersion(env, { name: 'german-credit', version: v.version }, { actor: suite.promoter });
    expect(version).toMatchObject({ state: 'certified', certified: { rows: 1000 } });
  });
});
