import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFsBlobStore, type BlobStore } from '../../src/store/index.js';
import { changeEntryCount, createPrincipalWithToken, createTestApp, type TestApp } from '../support/app.js';
import { eachBackend } from '../support/databases.js';
import { leftovers, upload } from './support.js';

/** A CSV of about 3 MiB: more than the 1 MiB filesystem below holds. */
const LARGE = 'id,name,amount\n' + Array.from({ length: 120_000 }, (_, i) => `${i},name-${i},${(i * 7.31) % 1000}`).join('\n') + '\n';

/** True when this process may mount a tmpfs (root with CAP_SYS_ADMIN, as CI runs). */
function canMountTmpfs(): boolean {
  if (process.getuid?.() !== 0) return false;
  const probe = mkdtempSync(join(tmpdir(), 'assay-mount-probe-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe], { stdio: 'ignore' });
    execFileSync('umount', [probe], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}

/**
 * The server's disk filling up is the operator's problem, not the uploader's: a 507 problem
 * that says so, the upload never blamed ("cut off"), nothing half-written. A real full
 * filesystem (a 1 MiB tmpfs) stands in for the disk, so this needs the right to mount one;
 * where that is missing the suite is skipped under a name that says so.
 */
const mountable = canMountTmpfs();
describe.skipIf(!mountable)(`storage full during an ingest (a 1 MiB tmpfs${mountable ? '' : ': SKIPPED, this process may not mount one'})`, () => {
  const [backend] = eachBackend();
  let t: TestApp;
  let steward: { id: string; token: string };
  let full: string;
  let spool: string;
  let realBlobs: BlobStore;
  const ingest = () => upload(t, { name: 'too-big', body: LARGE, token: steward.token, query: { classification: 'internal', owner: 'steward' } });
  const expectInsufficientStorage = (res: { statusCode: number; headers: Record<string, unknown>; body: string }) => {
    expect(res.statusCode, res.body).toBe(507);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(JSON.parse(res.body)).toMatchObject({ code: 'insufficient_storage', status: 507, title: 'Insufficient storage' });
    expect(res.body).toMatch(/nothing was kept/);
  };

  beforeAll(async () => {
    full = mkdtempSync(join(tmpdir(), 'assay-full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', full]);
    t = await createTestApp(backend!);
    steward = await createPrincipalWithToken(t.db, { name: 'steward', roles: ['data-steward'] });
    spool = t.deps.config.paths.tmp;
    realBlobs = t.deps.blobs;
  });
  afterAll(async () => {
    await t?.close();
    execFileSync('umount', [full]);
    rmSync(full, { recursive: true, force: true });
  });

  it('the upload spool fills up: 507, not a 400 blaming the upload; no version, no spooled file, no change recorded', async () => {
    rmSync(spool, { recursive: true, force: true });
    mkdirSync(join(full, 'spool'));
    symlinkSync(join(full, 'spool'), spool);
    const before = { ...(await leftovers(t)), changes: await changeEntryCount(t.db) };
    try {
      expectInsufficientStorage(await ingest());
      expect({ ...(await leftovers(t)), changes: await changeEntryCount(t.db) }).toEqual(before);
      expect(readdirSync(join(full, 'spool'))).toEqual([]);
    } finally {
      rmSync(spool);
      rmSync(join(full, 'spool'), { recursive: true, force: true });
    }
  });

  it('the blob store fills up adopting the snapshot: 507; no version, no partial blob', async () => {
    const tiny = await createFsBlobStore({ root: join(full, 'blobs') });
    t.deps.blobs = tiny;
    try {
      const before = { ...(await leftovers(t)), changes: await changeEntryCount(t.db) };
      expectInsufficientStorage(await ingest());
      expect({ ...(await leftovers(t)), changes: await changeEntryCount(t.db) }).toEqual(before);
      // The store's own staging directory holds nothing but its owner file.
      const [own] = readdirSync(join(full, 'blobs', 'tmp'));
      expect(readdirSync(join(full, 'blobs', 'tmp', own!))).toEqual(['owner.json']);
    } finally {
      t.deps.blobs = realBlobs;
      await tiny.close();
    }
    // Space again: the same upload goes through.
    const res = await ingest();
    expect(res.statusCode, res.body).toBe(201);
  });
});
