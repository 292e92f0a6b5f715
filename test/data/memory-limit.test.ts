import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { literal, openDuckSession, type DuckSession } from '../../src/data/duck.js';
import { openSnapshot } from '../../src/data/load.js';
import { runQuarantine } from '../../src/data/quarantine.js';

const ROWS = 16_000_000;

/**
 * A file large for the memory limit: 16 million distinct keys (227 MB) under 128 MB. DuckDB
 * keeps an exact distinct count that shares a query with other aggregates in a table it cannot
 * spill; with this many keys it ran out of memory (a 503), while the same count grouped in a
 * query of its own spills. The quarantine must still give exact duplicate counts.
 */
describe('quarantine of a file with more distinct keys than the memory limit holds', () => {
  let dir: string;
  let duck: DuckSession;
  const path = (): string => join(dir, 'keys.csv');

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'assay-memory-limit-'));
    duck = await openDuckSession({ tempDir: dir, memoryLimit: '128MB' });
    // One record repeats record 6 (the key 5) at the end.
    await duck.run(
      `COPY (SELECT * FROM (SELECT i AS id, i % 1000 AS code, i % 7 AS grp FROM range(${ROWS}) t(i)) UNION ALL SELECT 5, 5, 5) TO ${literal(path())} (HEADER)`,
    );
  });
  afterAll(async () => {
    duck?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('counts duplicates exactly, with the repeat\'s row number, within 128 MB', async () => {
    const snapshot = await openSnapshot(duck, { path: path(), format: 'csv', csv: { delimiter: ',', header: ['id', 'code', 'grp'] } });
    const report = await runQuarantine(duck, { snapshot, declared: { classification: 'internal' }, contract: undefined });
    expect(report.rows).toBe(ROWS + 1);
    expect(report.checks.find((c) => c.name === 'duplicates')).toMatchObject({ status: 'warn', evidence: { duplicateRows: 1, rowNumbers: [ROWS + 1] } });
  });
});
