import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobCorrupt } from '../../src/core/index.js';
import { createPrincipalWithToken, createTestApp, type TestApp } from '../support/app.js';
import { eachBackend } from '../support/databases.js';
import { upload } from './support.js';

const FILE = 'id,amount\n1,10\n2,20\n3,30\n';

/**
 * A raw snapshot that rotted in place on disk (same size, other bytes) fails every read, so its
 * version can never be promoted. Ingesting the original file again, the operator's natural
 * remedy, replaces the stored bytes: both versions then read and promote. Real database (both
 * backends), real filesystem blob store.
 */
describe.each(eachBackend().map((b) => [b.name, b] as const))('a rotted snapshot repaired by a re-ingest [%s]', (_name, backend) => {
  let t: TestApp;
  let ingester: { id: string; token: string };
  let promoter: { id: string; token: string };

  beforeAll(async () => {
    t = await createTestApp(backend);
    ingester = await createPrincipalWithToken(t.db, { name: 'ingester', roles: ['data-steward'] });
    promoter = await createPrincipalWithToken(t.db, { name: 'promoter', roles: ['data-steward'] });
  });
  afterAll(async () => t?.close());

  const promote = (name: string) =>
    t.app.inject({ method: 'POST', url: `/api/v1/datasets/${name}/versions/1/promote`, headers: { authorization: `Bearer ${promoter.token}`, 'content-type': 'application/json' }, payload: '{}' });

  it('the same bytes ingested again replace the rotted blob, and the first version promotes', async () => {
    const first = await upload(t, { name: 'ledger', body: FILE, token: ingester.token, query: { classification: 'internal', owner: 'ingester' } });
    expect(first.statusCode, first.body).toBe(201);
    const hash = (first.json() as { snapshot: { sha256: string } }).snapshot.sha256;
    const path = join(t.deps.config.paths.blobs, 'sha256', hash.slice(0, 2), hash.slice(2, 4), hash);
    const rotted = Buffer.from(await readFile(path));
    rotted[5] = rotted[5]! ^ 0x01;
    // A new file, as a disk fault would leave it: the spooled upload the blob was linked from is gone.
    await rm(path);
    await writeFile(path, rotted, { mode: 0o600 });
    await expect(t.deps.blobs.getBytes(hash)).rejects.toBeInstanceOf(BlobCorrupt);
    expect((await promote('ledger')).statusCode).toBe(500);

    const again = await upload(t, { name: 'ledger-again', body: FILE, token: ingester.token, query: { classification: 'internal', owner: 'ingester' } });
    expect(again.statusCode, again.body).toBe(201);
    expect((again.json() as { snapshot: { sha256: string } }).snapshot.sha256).toBe(hash);
    expect((await t.deps.blobs.getBytes(hash)).toString()).toBe(FILE);
    const promoted = await promote('ledger');
    expect(promoted.statusCode, promoted.body).toBe(200);
    expect((await promote('ledger-again')).statusCode).toBe(200);
  });
});
