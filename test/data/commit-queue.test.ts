import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { listAuditEntries } from '../../src/audit/index.js';
import { Conflict, sha256Hex } from '../../src/core/index.js';
import { DATASET_CREATE_ACTION, DATASET_PROMOTE_ACTION, getDatasetVersion, ingestDataset, promoteDatasetVersion, requestErasure, type DataEnv, type DatasetVersionRecord } from '../../src/data/index.js';
import type { BlobStore, Db } from '../../src/store/index.js';
import { eachBackend } from '../support/databases.js';
import { promoteEnvOf, waitingForLock, withTwoStewards } from './support.js';

/**
 * Ordering hook, the one thing here that is not Assay as it runs: the real blob store answers
 * every call, and the first `has` answering true (an ingest's commit making sure of its
 * snapshot, inside its transaction, after its version row is written) then waits until the
 * test lets it go. It holds one ingest's transaction open while another reaches its own.
 */
function pausedAtCommit(real: BlobStore): { blobs: BlobStore; reached: Promise<void>; release(): void } {
  let arrive!: () => void;
  let release!: () => void;
  const reached = new Promise<void>((r) => (arrive = r));
  const until = new Promise<void>((r) => (release = r));
  let armed = true;
  const blobs: BlobStore = {
    ...real,
    async has(hash) {
      const answer = await real.has(hash);
      if (answer && armed) {
        armed = false;
        arrive();
        await until;
      }
      return answer;
    },
  };
  return { blobs, reached, release };
}

/** `db` counting the transactions run through it, re-runs after a serialisation failure included. */
function countingTransactions(db: Db): { db: Db; runs(): number } {
  let runs = 0;
  return { db: { ...db, transaction: (fn, options) => db.transaction((tx) => (runs++, fn(tx)), options) }, runs: () => runs };
}

/** A small CSV file; each `seed` gives other bytes. */
function csv(seed: number): Buffer {
  const rows = Array.from({ length: 20 }, (_, i) => `${i + 1},${(i * 31 + seed) % 1000}`);
  return Buffer.from(['id,amount', ...rows].join('\n') + '\n');
}

/**
 * Ingests into one dataset on several servers (PostgreSQL): the second waits for the first's
 * commit and then takes the next version number, in its first run of the transaction. Under a
 * snapshot taken before that wait it re-ran (a serialisation failure), and a burst of 30
 * concurrent ingests into one dataset ran out of re-runs and answered 500. Promotions likewise:
 * of two datasets, one commits while the other is committing and neither re-runs (a burst of
 * 20 at once answered 500 to 9); of one dataset, the second waits and is refused by the
 * contract the first certified. An erasure request filed while an ingest holding the subject
 * commits finds its version, whose entry precedes the request's in the log: it used to answer
 * without it.
 */
describe.each(eachBackend({ includeUnavailable: true }).filter((b) => b.name === 'postgres').map((b) => [b.name, b] as const))('ingests and promotions committing at once [%s]', (_name, backend) => {
  describe.skipIf(!backend.available)('', () => {
    const suite = withTwoStewards(backend);
    const ingest = (env: DataEnv, name: string, seed: number, declared: { subjectIdColumn?: string; classification?: 'internal' | 'confidential' } = {}) =>
      ingestDataset(
        env,
        { name, source: Readable.from([csv(seed)]), mediaType: 'text/csv', sourceSystem: 'core-banking', classification: 'internal', ownerId: suite.ownerId, ...declared },
        { actor: suite.ingester },
      );

    /** Ingest A paused in its commit, then ingest B (declaring `second`), until B waits for A; then A goes on. */
    async function interleaved(name: string, seeds: [number, number], second: { classification?: 'confidential' } = {}) {
      const first = pausedAtCommit(suite.t.deps.blobs);
      const a = ingest(promoteEnvOf(suite.t, first.blobs), name, seeds[0]);
      a.catch(() => undefined);
      await first.reached;
      const counted = countingTransactions(suite.t.db);
      const b = ingest({ ...promoteEnvOf(suite.t), db: counted.db }, name, seeds[1], second);
      b.catch(() => undefined);
      await waitingForLock(suite.t.db, b);
      first.release();
      return { a: await a, b: await b.then((v) => v, (e: unknown) => e), runs: counted.runs() };
    }

    /** The promotion's error, or undefined once it succeeded. */
    const promoted = (p: Promise<unknown>): Promise<unknown> => p.then(() => undefined, (e: unknown) => e);
    const promotionsOf = async (versionId: string): Promise<number> => (await listAuditEntries(suite.t.db, { action: DATASET_PROMOTE_ACTION, resourceId: versionId })).length;

    it('a promotion certifying while another dataset\'s is committing commits in one run of its transaction', async () => {
      const east = await ingest(promoteEnvOf(suite.t), 'east', 6);
      const west = await ingest(promoteEnvOf(suite.t), 'west', 7);
      const first = pausedAtCommit(suite.t.deps.blobs);
      const counted = countingTransactions(suite.t.db);
      const a = promoteDatasetVersion({ ...promoteEnvOf(suite.t, first.blobs), db: counted.db }, { name: 'east', version: east.version }, { actor: suite.promoter });
      a.catch(() => undefined);
      await first.reached;
      await promoteDatasetVersion(promoteEnvOf(suite.t), { name: 'west', version: west.version }, { actor: suite.promoter });
      first.release();
      expect((await a).version.state).toBe('certified');
      expect(counted.runs()).toBe(1);
      expect([await promotionsOf(east.id), await promotionsOf(west.id)]).toEqual([1, 1]);
    });

    it('of two promotions of one dataset at once, the second waits for the first and is refused: the first is its contract now', async () => {
      await ingest(promoteEnvOf(suite.t), 'north', 8);
      await promoteDatasetVersion(promoteEnvOf(suite.t), { name: 'north', version: 1 }, { actor: suite.promoter });
      // Both checked against v1's contract.
      const v2 = await ingest(promoteEnvOf(suite.t), 'north', 9);
      const v3 = await ingest(promoteEnvOf(suite.t), 'north', 10);
      const first = pausedAtCommit(suite.t.deps.blobs);
      const a = promoteDatasetVersion(promoteEnvOf(suite.t, first.blobs), { name: 'north', version: v2.version }, { actor: suite.promoter });
      a.catch(() => undefined);
      await first.reached;
      const b = promoted(promoteDatasetVersion(promoteEnvOf(suite.t), { name: 'north', version: v3.version }, { actor: suite.promoter }));
      await waitingForLock(suite.t.db, b);
      first.release();
      expect((await a).version.state).toBe('certified');
      const refused = await b;
      expect(refused).toBeInstanceOf(Conflict);
      expect((refused as Conflict).errors).toEqual([{ field: 'checks.schema', message: expect.stringContaining(`the contract is now version ${v2.version}`) }]);
      expect((await getDatasetVersion(suite.t.db, { name: 'north', version: v3.version })).state).toBe('quarantine');
      expect([await promotionsOf(v2.id), await promotionsOf(v3.id)]).toEqual([1, 0]);
    });

    it('an erasure request filed while an ingest holding the subject commits waits for it and finds the version', async () => {
      const held = pausedAtCommit(suite.t.deps.blobs);
      // Paused past its dataset.ingest entry, before its commit.
      const a = ingest(promoteEnvOf(suite.t, held.blobs), 'customers', 11, { subjectIdColumn: 'id' });
      a.catch(() => undefined);
      await held.reached;
      const request = requestErasure({ db: suite.t.db, flagsModels: true }, { subjectId: '7', reason: 'GDPR Art. 17 request, ticket 4711' }, { actor: suite.promoter });
      request.catch(() => undefined);
      await waitingForLock(suite.t.db, request);
      held.release();
      const v = await a;
      expect((await request).datasetVersions.map((h) => h.id)).toEqual([v.id]);
    });

    it('a version ingested while another is committing gets the next number, without re-running its transaction', async () => {
      await ingest(promoteEnvOf(suite.t), 'queued', 1);
      const { a, b, runs } = await interleaved('queued', [2, 3]);
      expect([a.version, (b as DatasetVersionRecord).version]).toEqual([2, 3]);
      expect(runs).toBe(1);
    });

    it("a new dataset's first two ingests at once declaring other classifications: the second waits and is refused 409, leaving nothing", async () => {
      const before = (await suite.t.db.query('SELECT 1 FROM dataset_versions')).rowCount;
      const { a, b } = await interleaved('declared-twice', [12, 13], { classification: 'confidential' });
      expect(a.version).toBe(1);
      expect(b).toBeInstanceOf(Conflict);
      expect((b as Conflict).message).toContain('created concurrently with another classification');
      expect((await suite.t.db.query('SELECT 1 FROM dataset_versions')).rowCount).toBe(before + 1);
      expect((await suite.t.db.query('SELECT 1 FROM dataset_pending_blobs')).rowCount).toBe(0);
      expect(await suite.t.deps.blobs.has(sha256Hex(csv(13)))).toBe(false);
    });

    it("a new dataset's first two ingests at once: one creates it (one dataset.create), the other waits and adds version 2", async () => {
      const { a, b, runs } = await interleaved('created-once', [4, 5]);
      expect([a.version, (b as DatasetVersionRecord).version]).toEqual([1, 2]);
      expect(runs).toBe(1);
      expect((await listAuditEntries(suite.t.db, { action: DATASET_CREATE_ACTION, resourceId: a.datasetId })).length).toBe(1);
      expect((await suite.t.db.query(`SELECT 1 FROM datasets WHERE name = 'created-once'`)).rowCount).toBe(1);
    });
  });
});
