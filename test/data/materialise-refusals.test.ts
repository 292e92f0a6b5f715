import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { materialiseCertified } from '../../src/data/certified-parquet.js';
import type { DatasetVersionRecord } from '../../src/data/index.js';
import { eachBackend } from '../support/databases.js';
import { withIngesterAndPromoter } from './support.js';

/**
 * Promotion loads the version's snapshot again, served by the real blob store verified against
 * its hash. A snapshot that ingest now refuses (quarantined before the refusal existed) is a
 * conflict, never certified as it is, and never a 400 naming a body the promotion has not.
 */
describe.each(eachBackend().map((b) => [b.name, b] as const))('materialising a snapshot ingest now refuses [%s]', (_name, backend) => {
  const suite = withIngesterAndPromoter(backend);
  const dir = mkdtempSync(join(tmpdir(), 'assay-materialise-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a CSV header whose names differ only in case (refused by ingest since) is a conflict, not 400 body.header', async () => {
    const body = Buffer.from('id,ID\n1,2\n');
    const blob = await suite.t.deps.blobs.put(body);
    const version = { datasetName: 'twins', version: 1, format: 'csv', delimiter: ',', snapshot: { sha256: blob.hash, size: body.byteLength }, exclusions: [], consentColumn: null, residencyColumn: null, residency: null };
    const env = { db: suite.t.db, claim: 'test-claim', blobs: suite.t.deps.blobs, tmpDir: dir, duckdbMemoryLimit: '256MB' };
    const refused = await materialiseCertified(env, version as unknown as DatasetVersionRecord, mkdtempSync(join(dir, 'promote-'))).catch((err: unknown) => err);
    expect(refused).toMatchObject({ code: 'conflict', message: expect.stringMatching(/^twins v1 cannot be certified: .*; ingest the file again$/) });
    expect((refused as { errors: unknown[] }).errors).toEqual([]);
  });
});
