import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { listAuditEntries } from '../../src/audit/index.js';
import { ingestDataset, LINK_CERTIFIED_ACTION, linkCertifiedVersions, promoteDatasetVersion } from '../../src/data/index.js';
import { createPostgresDb, type Db, type Tx } from '../../src/store/index.js';
import { createTestPostgres, postgresAvailable, type TestBackend, type TestPostgres } from '../support/databases.js';
import { promoteEnvOf, waitingForLock, withTwoStewards } from './support.js';

/**
 * Ordering hook, the one thing here that is not Assay as it runs: `db` whose transactions stop
 * before their first audit entry (the linking is written, not committed) until the test lets them go.
 */
function pausedBeforeAuditEntry(db: Db): { db: Db; reached: Promise<void>; release(): void } {
  let arrive!: () => void;
  let release!: () => void;
  const reached = new Promise<void>((r) => (arrive = r));
  const until = new Promise<void>((r) => (release = r));
  const paused = (tx: Tx): Tx => ({
    ...tx,
    async query(sql, params) {
      if (sql.includes('INSERT INTO audit_entries')) {
        arrive();
        await until;
      }
      return tx.query(sql, params);
    },
  });
  return { db: { ...db, transaction: (fn, options) => db.transaction((tx) => fn(paused(tx)), options) }, reached, release };
}

/**
 * Two servers starting at once on one PostgreSQL database (a rolling restart after
 * lineage.namespace changed) both link the certified versions not yet linked: the versions are
 * linked once, by one `lineage.link_certified` entry. The second used to find them unlinked
 * while the first was committing, wait for its rows, link nothing, and still record an entry
 * claiming it linked them.
 */
describe.skipIf(!postgresAvailable())('linking certified versions from two servers at once [postgres]', () => {
  let database: TestPostgres | undefined;
  const shared: TestBackend = {
    name: 'postgres',
    available: true,
    async open() {
      database = await createTestPostgres();
      const db = await createPostgresDb({ connectionString: database.url });
      return { db, cleanup: async () => (await db.close(), await database!.drop()) };
    },
  };
  const suite = withTwoStewards(shared);
  let other: Db | undefined;
  afterAll(async () => other?.close());

  it('the second server waits for the first and links nothing: one lineage.link_certified entry', async () => {
    const env = promoteEnvOf(suite.t);
    const v = await ingestDataset(env, { name: 'loans', source: Readable.from([Buffer.from('id,amount\n1,10\n2,20\n')]), mediaType: 'text/csv', sourceSystem: 'crm', classification: 'internal', ownerId: suite.ownerId }, { actor: suite.ingester });
    await promoteDatasetVersion(env, { name: 'loans', version: v.version }, { actor: suite.promoter });
    // Linked under another namespace than the one the servers now start with.
    other = await createPostgresDb({ connectionString: database!.url });
    const first = pausedBeforeAuditEntry(suite.t.db);
    const a = linkCertifiedVersions(first.db, 'warehouse-assay');
    a.catch(() => undefined);
    await first.reached;
    const b = linkCertifiedVersions(other, 'warehouse-assay');
    b.catch(() => undefined);
    await waitingForLock(suite.t.db, b);
    first.release();
    expect(await a).toEqual([v.id]);
    expect(await b).toEqual([]);
    expect(await listAuditEntries(suite.t.db, { action: LINK_CERTIFIED_ACTION })).toHaveLength(1);
  });
});
