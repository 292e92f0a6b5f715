import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/core/index.js';
import { ingestDataset, promoteDatasetVersion, type DataEnv, type PromoteEnv } from '../../src/data/index.js';
import type { BlobStore } from '../../src/store/index.js';
import { eachBackend } from '../support/databases.js';
import { promoteEnvOf, withTwoStewards } from './support.js';

/**
 * Ordering hook, the one thing here that is not Assay as it runs: the real blob store does
 * every call, and the call named by a pause then waits (after the store answered, or before it
 * acts for `delete`) until the test lets it go. It pins two requests' interleaving, which
 * otherwise depends on timing.
 */
type Method = 'has' | 'adopt' | 'delete';
interface Pause {
  method: Method;
  hash?: string;
  /** Only a `has` that answered this. */
  answered?: boolean;
  reached: Promise<string>;
  release(): void;
}

function pausingStore(real: BlobStore): { blobs: BlobStore; pause(method: Method, match?: { hash?: string; answered?: boolean }): Pause } {
  const armed: Array<Pause & { arrive(hash: string): void; until: Promise<void> }> = [];
  const hold = async (method: Method, hash: string, answered?: boolean): Promise<void> => {
    const i = armed.findIndex((p) => p.method === method && (p.hash === undefined || p.hash === hash) && (p.answered === undefined || p.answered === answered));
    if (i < 0) return;
    const [p] = armed.splice(i, 1);
    p!.arrive(hash);
    await p!.until;
  };
  const blobs: BlobStore = {
    ...real,
    async has(hash) {
      const answer = await real.has(hash);
      await hold('has', hash, answer);
      return answer;
    },
    async adopt(path, expected) {
      const ref = await real.adopt(path, expected);
      await hold('adopt', expected.hash);
      return ref;
    },
    async delete(hash) {
      await hold('delete', hash);
      return real.delete(hash);
    },
  };
  return {
    blobs,
    pause(method, match = {}) {
      let arrive!: (hash: string) => void;
      let release!: () => void;
      const reached = new Promise<string>((resolve) => (arrive = resolve));
      const until = new Promise<void>((resolve) => (release = resolve));
      const p = { method, ...match, reached, release, arrive, until };
      armed.push(p);
      return p;
    },
  };
}

/** A small file with no blocking failure (versions of it certify without exceptions, to the same Parquet bytes); each `seed` gives other bytes. */
function csv(seed: number): Buffer {
  const rows = Array.from({ length: 50 }, (_, i) => `${i + 1},${(i * 37 + seed) % 1000}.50,${['north', 'south', 'east'][i % 3]}`);
  return Buffer.from(['id,amount,region', ...rows].join('\n') + '\n');
}

/**
 * Two requests holding the same bytes, one failing while the other is about to commit a
 * version referencing them: the failing one removes the blob it created once nothing
 * references it, and the other must not commit a reference to bytes that are gone.
 */
describe.each(eachBackend().map((b) => [b.name, b] as const))('shared blobs and a failing request [%s]', (_name, backend) => {
  const suite = withTwoStewards(backend);

  const envWith = (blobs: BlobStore): PromoteEnv => promoteEnvOf(suite.t, blobs);
  const ingest = (env: DataEnv, name: string, file: { bytes: Buffer; consentColumn?: string }) =>
    ingestDataset(env, { name, source: Readable.from([file.bytes]), mediaType: 'text/csv', sourceSystem: 'core-banking', classification: 'internal', ownerId: suite.ownerId, ...(file.consentColumn ? { consentColumn: file.consentColumn } : {}) }, { actor: suite.ingester });
  const snapshotOf = async (name: string): Promise<string | undefined> =>
    (await suite.t.db.query<{ sha: string }>('SELECT v.snapshot_sha256 AS sha FROM dataset_versions v JOIN datasets d ON d.id = v.dataset_id WHERE d.name = $1', [name])).rows[0]?.sha;

  /** Resolves once `settled` has, or once another transaction waits for a blob's advisory lock. */
  async function settledOrWaitingForBlobLock(settled: Promise<unknown>): Promise<void> {
    let done = false;
    void settled.then(
      () => (done = true),
      () => (done = true),
    );
    if (suite.t.db.kind === 'pglite') {
      // One connection: the remover's transaction holds it, so nothing here can look at pg_locks;
      // the other request either commits around the remover (the defect) or queues behind it.
      await Promise.race([settled.catch(() => undefined), sleep(2000)]);
      return;
    }
    while (!done) {
      const waiting = await suite.t.db.query(`SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = x'626c6f62'::int::oid AND NOT granted`);
      if (waiting.rowCount > 0) return;
      await sleep(10);
    }
  }

  /**
   * Two ingests of the same new bytes, each paused at its first blob call: A (declaring a column
   * the file lacks, so it fails and releases what it stored) as it stores the snapshot, then B
   * as it finds it stored. The scenarios interleave from there.
   */
  async function sameBytesTwice(n: number, names: [string, string]) {
    const { blobs, pause } = pausingStore(suite.t.deps.blobs);
    const env = envWith(blobs);
    const bytes = csv(n);
    const sha = sha256Hex(bytes);
    const stored = pause('adopt', { hash: sha });
    const failing = ingest(env, names[0], { bytes, consentColumn: 'nope' });
    failing.catch(() => undefined);
    await stored.reached;
    const found = pause('has', { hash: sha, answered: true });
    const committing = ingest(env, names[1], { bytes });
    committing.catch(() => undefined);
    await found.reached;
    return { pause, bytes, sha, stored, found, failing, committing };
  }

  it('an ingest finds the snapshot stored, a failing ingest that stored it removes it, then the first commits: the snapshot is stored again from its upload', async () => {
    const { bytes, sha, stored, found, failing, committing } = await sameBytesTwice(1, ['race-a', 'race-b']);
    stored.release();
    await expect(failing).rejects.toMatchObject({ code: 'validation_failed' });
    // The race happened: the snapshot B found is gone before B commits.
    expect(await suite.t.deps.blobs.has(sha)).toBe(false);
    found.release();
    const v = await committing;
    expect(v.snapshot.sha256).toBe(sha);
    expect(await snapshotOf('race-b')).toBe(sha);
    expect((await suite.t.deps.blobs.getBytes(sha)).equals(bytes)).toBe(true);
  });

  it("a failing ingest decides to remove the snapshot just before another commits a version referencing it: the commit waits for the removal and stores the snapshot again", async () => {
    const { pause, bytes, sha, stored, found, failing, committing } = await sameBytesTwice(2, ['lock-a', 'lock-b']);
    // A has decided nothing references the snapshot and is about to delete it.
    const deleting = pause('delete', { hash: sha });
    stored.release();
    await deleting.reached;
    found.release();
    await settledOrWaitingForBlobLock(committing);
    deleting.release();
    await expect(failing).rejects.toMatchObject({ code: 'validation_failed' });
    const v = await committing;
    expect(await snapshotOf('lock-b')).toBe(v.snapshot.sha256);
    expect((await suite.t.deps.blobs.getBytes(sha)).equals(bytes)).toBe(true);
  });

  it('a version commits while holding the snapshot it references, and a failing ingest that stored the snapshot waits to decide: it finds the reference and keeps the bytes', async () => {
    const { pause, bytes, sha, stored, found, failing, committing } = await sameBytesTwice(4, ['held-a', 'held-b']);
    // B's second look is its commit's, under the blob's lock; it pauses there, uncommitted.
    const checking = pause('has', { hash: sha, answered: true });
    found.release();
    await checking.reached;
    stored.release();
    await settledOrWaitingForBlobLock(failing);
    checking.release();
    const v = await committing;
    await expect(failing).rejects.toMatchObject({ code: 'validation_failed' });
    expect(await snapshotOf('held-b')).toBe(v.snapshot.sha256);
    expect((await suite.t.deps.blobs.getBytes(sha)).equals(bytes)).toBe(true);
  });

  it('a promotion finds the certified Parquet stored, a failing promotion that stored it removes it, then the first commits: the Parquet is stored again from its scratch file', async () => {
    const env = envWith(suite.t.deps.blobs);
    const bytes = csv(3);
    const one = await ingest(env, 'promote-race', { bytes });
    const two = await ingest(env, 'promote-race', { bytes });
    const { blobs, pause } = pausingStore(suite.t.deps.blobs);
    const paused = envWith(blobs);
    const stored = pause('adopt');
    // A is the versions' ingester: the database refuses its certification after both blobs are stored.
    const failing = promoteDatasetVersion(paused, { name: 'promote-race', version: one.version }, { actor: suite.ingester });
    failing.catch(() => undefined);
    const parquet = await stored.reached;
    const found = pause('has', { hash: parquet, answered: true });
    const committing = promoteDatasetVersion(paused, { name: 'promote-race', version: two.version }, { actor: suite.promoter });
    committing.catch(() => undefined);
    await found.reached;
    stored.release();
    await expect(failing).rejects.toThrow(/violates check constraint/);
    expect(await suite.t.deps.blobs.has(parquet)).toBe(false);
    found.release();
    const { version } = await committing;
    expect(version.certified).toMatchObject({ parquetSha256: parquet });
    expect(await suite.t.deps.blobs.has(parquet)).toBe(true);
    // Read back in full: the stored bytes hash to the address the version records.
    expect((await suite.t.deps.blobs.getBytes(parquet)).length).toBeGreaterThan(0);
    expect(await suite.t.deps.blobs.has(version.certified!.manifestSha256)).toBe(true);
    const v1 = await suite.t.db.query<{ state: string }>('SELECT state FROM dataset_versions WHERE id = $1', [one.id]);
    expect(v1.rows[0]?.state).toBe('quarantine');
  });
});
