import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/core/index.js';
import { listAuditEntries } from '../../src/audit/index.js';
import { ingestDataset, PENDING_BLOB_SWEEP_ACTION, promoteDatasetVersion, sweepPendingBlobs, type DataEnv, type PromoteEnv } from '../../src/data/index.js';
import type { BlobStore, Db, Tx } from '../../src/store/index.js';
import { eachBackend } from '../support/databases.js';
import { gatedBlobStore, promoteEnvOf, withTwoStewards } from './support.js';

/**
 * A process that dies at the commit: the crash hook, the one thing here that is not Assay as it
 * runs. The request's first transaction (its commit) fails, and from then on nothing the request
 * does reaches the database or the blob store, as nothing would after a kill -9: the pending
 * records and the blobs it stored stay exactly as the dead process left them.
 */
function crashingAtCommit(env: PromoteEnv, when: { afterWork?: () => void } = {}): PromoteEnv {
  let dead = false;
  const gone = (): Promise<never> => Promise.reject(new Error('process died'));
  const db = new Proxy(env.db, {
    get(target, prop, receiver) {
      if (prop === 'transaction') {
        // With afterWork: the commit's statements all run, then the process dies before COMMIT.
        if (when.afterWork) {
          const started = when.afterWork;
          return (work: (tx: Tx) => Promise<unknown>, options?: Parameters<Db['transaction']>[1]) =>
            dead
              ? gone()
              : target.transaction(async (tx) => {
                  started();
                  await work(tx);
                  dead = true;
                  throw new Error('process died');
                }, options);
        }
        return () => {
          dead = true;
          return gone();
        };
      }
      if (prop === 'query') return (...args: Parameters<Db['query']>) => (dead ? gone() : target.query(...args));
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
  const blobs: BlobStore = { ...env.blobs, delete: (hash) => (dead ? gone() : env.blobs.delete(hash)) };
  return { ...env, db, blobs };
}

/** A small file no check blocks; each `seed` gives other bytes. */
function csv(seed: number): Buffer {
  const rows = Array.from({ length: 40 }, (_, i) => `${i + 1},${(i * 31 + seed) % 997}.25,${['north', 'south'][i % 2]}`);
  return Buffer.from(['id,amount,region', ...rows].join('\n') + '\n');
}

describe.each(eachBackend().map((b) => [b.name, b] as const))('blobs a dead request left behind [%s]', (_name, backend) => {
  const suite = withTwoStewards(backend);

  const env = (): PromoteEnv => promoteEnvOf(suite.t);
  const ingest = (e: DataEnv, name: string, bytes: Buffer, extra: { consentColumn?: string } = {}) =>
    ingestDataset(e, { name, source: Readable.from([bytes]), mediaType: 'text/csv', sourceSystem: 'core-banking', classification: 'internal', ownerId: suite.ownerId, ...extra }, { actor: suite.ingester });
  const pending = async (): Promise<string[]> => (await suite.t.db.query<{ sha256: string }>('SELECT sha256 FROM dataset_pending_blobs ORDER BY sha256')).rows.map((r) => r.sha256);
  const sweepEntries = () => listAuditEntries(suite.t.db, { action: PENDING_BLOB_SWEEP_ACTION });
  /** Clears what earlier tests left, so each test sees only its own records. */
  const sweepAll = () => sweepPendingBlobs({ db: suite.t.db, blobs: suite.t.deps.blobs, graceMs: 0 });
  /** After sweeping what earlier tests left: an ingest of new bytes whose process dies at the commit. */
  async function deadIngest(name: string, seed: number): Promise<{ bytes: Buffer; sha: string }> {
    await sweepAll();
    const bytes = csv(seed);
    await expect(ingest(crashingAtCommit(env()), name, bytes)).rejects.toThrow('process died');
    return { bytes, sha: sha256Hex(bytes) };
  }

  it('ingest and promotion that commit, and an ingest that fails, leave no pending record', async () => {
    const one = await ingest(env(), 'clean', csv(1));
    expect(await pending()).toEqual([]);
    await promoteDatasetVersion(env(), { name: 'clean', version: one.version }, { actor: suite.promoter });
    expect(await pending()).toEqual([]);
    // Ingested after version 1 is certified, version 2 is checked against its contract, and may be promoted.
    await ingest(env(), 'clean', csv(2));
    expect(await pending()).toEqual([]);
    await expect(ingest(env(), 'clean-failing', csv(3), { consentColumn: 'nope' })).rejects.toMatchObject({ code: 'validation_failed' });
    // The certifying ingester is refused by the database after both blobs are stored.
    await expect(promoteDatasetVersion(env(), { name: 'clean', version: 2 }, { actor: suite.ingester })).rejects.toThrow(/violates check constraint/);
    expect(await pending()).toEqual([]);
    expect(await suite.t.deps.blobs.has(sha256Hex(csv(3)))).toBe(false);
  });

  it('an ingest that died before its commit leaves its snapshot pending; the sweep removes it with an audit entry naming it', async () => {
    const { sha } = await deadIngest('crashed', 10);
    expect(await pending()).toEqual([sha]);
    expect(await suite.t.deps.blobs.has(sha)).toBe(true);
    const before = (await sweepEntries()).length;

    const report = await sweepPendingBlobs({ db: suite.t.db, blobs: suite.t.deps.blobs, graceMs: 0 });
    expect(report).toMatchObject({ removed: [sha], kept: [], records: 1 });
    expect(await suite.t.deps.blobs.has(sha)).toBe(false);
    expect(await pending()).toEqual([]);
    const entries = await sweepEntries();
    expect(entries).toHaveLength(before + 1);
    const entry = entries.find((e) => e.id === report.entryIds[0])!;
    expect(entry).toMatchObject({ actor: { principalId: 'system', kind: 'system' }, outcome: 'succeeded' });
    expect(entry.reason).toContain(`sha256:${sha}`);
    // Nothing left: a second sweep clears and writes nothing.
    expect(await sweepPendingBlobs({ db: suite.t.db, blobs: suite.t.deps.blobs, graceMs: 0 })).toMatchObject({ removed: [], records: 0, entryIds: [] });
    expect(await sweepEntries()).toHaveLength(before + 1);
  });

  it('a promotion that died before its commit leaves Parquet and manifest pending; the sweep removes both and keeps the snapshot a version references', async () => {
    await sweepAll();
    const v = await ingest(env(), 'crashed-promotion', csv(20));
    await expect(promoteDatasetVersion(crashingAtCommit(env()), { name: 'crashed-promotion', version: v.version }, { actor: suite.promoter })).rejects.toThrow('process died');
    const left = await pending();
    expect(left).toHaveLength(2);
    for (const hash of left) expect(await suite.t.deps.blobs.has(hash)).toBe(true);
    const report = await sweepPendingBlobs({ db: suite.t.db, blobs: suite.t.deps.blobs, graceMs: 0 });
    expect(report.removed.sort()).toEqual(left);
    for (const hash of left) expect(await suite.t.deps.blobs.has(hash)).toBe(false);
    expect(await suite.t.deps.blobs.has(v.snapshot.sha256)).toBe(true);
    // The version promotes normally afterwards, storing the same Parquet bytes again.
    const { version } = await promoteDatasetVersion(env(), { name: 'crashed-promotion', version: v.version }, { actor: suite.promoter });
    expect(await suite.t.deps.blobs.has(version.certified!.parquetSha256)).toBe(true);
    expect(await pending()).toEqual([]);
  });

  it('never removes a blob a committed version references, whoever else left a pending record of it', async () => {
    await sweepAll();
    const bytes = csv(30);
    const v = await ingest(env(), 'referenced', bytes);
    // A request that stored the same bytes and died: its record names a blob a version now references.
    await suite.t.db.query('INSERT INTO dataset_pending_blobs (sha256, claim_id, stored_at) VALUES ($1, $2, $3)', [v.snapshot.sha256, 'dead-claim', '2020-01-01T00:00:00Z']);
    const report = await sweepPendingBlobs({ db: suite.t.db, blobs: suite.t.deps.blobs, graceMs: 0 });
    expect(report).toMatchObject({ removed: [], kept: [v.snapshot.sha256], records: 1 });
    expect((await suite.t.deps.blobs.getBytes(v.snapshot.sha256)).equals(bytes)).toBe(true);
    expect(await pending()).toEqual([]);
  });

  it('keeps a record younger than the grace period, and its blob; removes both once it is older', async () => {
    const { sha } = await deadIngest('young', 40);
    const hour = 60 * 60 * 1000;
    expect(await sweepPendingBlobs({ db: suite.t.db, blobs: suite.t.deps.blobs, graceMs: hour })).toMatchObject({ removed: [], kept: [], records: 0 });
    expect(await pending()).toEqual([sha]);
    expect(await suite.t.deps.blobs.has(sha)).toBe(true);
    const later = new Date(Date.now() + 2 * hour);
    expect(await sweepPendingBlobs({ db: suite.t.db, blobs: suite.t.deps.blobs, graceMs: hour, now: later })).toMatchObject({ removed: [sha], records: 1 });
    expect(await suite.t.deps.blobs.has(sha)).toBe(false);
  });

  it('keeps a blob an older dead request stored while a younger request still claims it', async () => {
    const { sha } = await deadIngest('claimed-twice', 50);
    await suite.t.db.query(`UPDATE dataset_pending_blobs SET stored_at = '2020-01-01T00:00:00Z' WHERE sha256 = $1`, [sha]);
    await suite.t.db.query('INSERT INTO dataset_pending_blobs (sha256, claim_id, stored_at) VALUES ($1, $2, $3)', [sha, 'live-claim', new Date().toISOString()]);
    const report = await sweepPendingBlobs({ db: suite.t.db, blobs: suite.t.deps.blobs, graceMs: 60 * 60 * 1000 });
    expect(report).toMatchObject({ removed: [], kept: [sha], records: 1 });
    expect(await suite.t.deps.blobs.has(sha)).toBe(true);
    expect(await pending()).toEqual([sha]);
    await suite.t.db.query(`DELETE FROM dataset_pending_blobs WHERE claim_id = 'live-claim'`);
    await suite.t.deps.blobs.delete(sha);
  });

  it('a live request whose snapshot the sweep took for a dead one still commits, with its snapshot stored again', async () => {
    await sweepAll();
    const bytes = csv(60);
    const sha = sha256Hex(bytes);
    // Pauses the live ingest just after its snapshot is stored, before its commit.
    const gate = gatedBlobStore(suite.t.deps.blobs, 'adopt', (hash) => hash === sha);
    const live = ingest({ ...env(), blobs: gate.blobs }, 'slow', bytes);
    live.catch(() => undefined);
    await gate.reached;
    // A wrong guess: the sweep takes the live request's record for a dead one's.
    const report = await sweepPendingBlobs({ db: suite.t.db, blobs: suite.t.deps.blobs, graceMs: 0 });
    expect(report.removed).toEqual([sha]);
    expect(await suite.t.deps.blobs.has(sha)).toBe(false);
    gate.release();
    const v = await live;
    expect(v.snapshot.sha256).toBe(sha);
    expect((await suite.t.deps.blobs.getBytes(sha)).equals(bytes)).toBe(true);
    expect(await pending()).toEqual([]);
  });

  // Two transactions at once: PostgreSQL only (PGlite runs one at a time).
  it.runIf(backend.name === 'postgres')('never waits for a failed request releasing a blob: leaves its record to the next sweep', async () => {
    await sweepAll();
    const bytes = csv(90);
    const sha = sha256Hex(bytes);
    // Pauses the failed ingest as it releases its snapshot: holding the blob's lock, before it deletes its pending record.
    const gate = gatedBlobStore(suite.t.deps.blobs, 'delete', (hash) => hash === sha);
    const failing = ingest({ ...env(), blobs: gate.blobs }, 'releasing', bytes, { consentColumn: 'absent' });
    failing.catch(() => undefined);
    await gate.reached;
    // Were the sweep to wait for the blob's lock, it would hold the record the release is about to delete: each would wait for the other.
    expect(await sweepPendingBlobs({ db: suite.t.db, blobs: suite.t.deps.blobs, graceMs: 0 })).toEqual({ removed: [], kept: [], records: 0, entryIds: [] });
    expect(await pending()).toEqual([sha]);
    gate.release();
    await expect(failing).rejects.toThrow('absent');
    expect(await pending()).toEqual([]);
    expect(await suite.t.deps.blobs.has(sha)).toBe(false);
  });

  it('a commit that stored again bytes another request removed, and died before committing, leaves them pending; the sweep removes them', async () => {
    await sweepAll();
    const bytes = csv(80);
    const sha = sha256Hex(bytes);
    // Another request stored the same bytes first; this ingest finds them stored and relies on them.
    await suite.t.deps.blobs.put(bytes);
    let committing = false;
    const blobs: BlobStore = {
      ...suite.t.deps.blobs,
      async has(hash) {
        // That other request fails and removes its bytes just as this one commits, so the commit stores them again.
        if (committing && hash === sha) await suite.t.deps.blobs.delete(hash);
        return suite.t.deps.blobs.has(hash);
      },
    };
    const crashing = crashingAtCommit({ ...env(), blobs }, { afterWork: () => (committing = true) });
    await expect(ingest(crashing, 'stored-again', bytes)).rejects.toThrow('process died');
    expect(await suite.t.deps.blobs.has(sha)).toBe(true);
    expect(await pending()).toEqual([sha]);
    expect((await sweepPendingBlobs({ db: suite.t.db, blobs: suite.t.deps.blobs, graceMs: 0 })).removed).toEqual([sha]);
    expect(await suite.t.deps.blobs.has(sha)).toBe(false);
  });

  it('a sweep whose blob deletion fails changes nothing: records and audit entry commit with the deletion or not at all', async () => {
    const { sha } = await deadIngest('undeletable', 70);
    const before = (await sweepEntries()).length;
    const failing: BlobStore = { ...suite.t.deps.blobs, delete: () => Promise.reject(new Error('disk gone')) };
    await expect(sweepPendingBlobs({ db: suite.t.db, blobs: failing, graceMs: 0 })).rejects.toThrow('disk gone');
    expect(await pending()).toEqual([sha]);
    expect(await sweepEntries()).toHaveLength(before);
    expect((await sweepPendingBlobs({ db: suite.t.db, blobs: suite.t.deps.blobs, graceMs: 0 })).removed).toEqual([sha]);
  });

  it('asks whether a blob is referenced from indexes, the manifest digest included, never by reading every version', async () => {
    // The statement isBlobReferenced runs before every deletion a failing request or the sweep makes.
    const plan = await suite.t.db.transaction(async (tx) => {
      await tx.query('SET LOCAL enable_seqscan = off');
      const r = await tx.query<{ 'QUERY PLAN': string }>('EXPLAIN SELECT 1 FROM dataset_versions WHERE snapshot_sha256 = $1 OR certified_sha256 = $1 OR manifest_sha256 = $1 LIMIT 1', ['a'.repeat(64)]);
      return r.rows.map((row) => row['QUERY PLAN']).join('\n');
    });
    expect(plan).not.toMatch(/Seq Scan/);
    expect(plan).toContain('dataset_versions_by_manifest');
  });
});
