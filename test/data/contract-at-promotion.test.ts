import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAuditEntries } from '../../src/audit/index.js';
import { Conflict } from '../../src/core/index.js';
import { DATASET_PROMOTE_ACTION, getDatasetVersion, ingestDataset, promoteDatasetVersion, type DatasetVersionRecord, type PromoteEnv } from '../../src/data/index.js';
import type { BlobStore, Db } from '../../src/store/index.js';
import { changeEntryCount, createPrincipalWithToken, createTestApp, type TestApp } from '../support/app.js';
import { eachBackend } from '../support/databases.js';
import { gatedBlobStore, leftovers, promoteEnvOf, upload, withTwoStewards } from './support.js';

/**
 * A version is certified only as checked against the dataset's contract in force (its latest
 * certified version). One ingested before an earlier version was certified was checked against
 * no contract: certified, it would drop a contract column unseen and become the contract itself.
 */

interface Problem {
  status: number;
  detail: string;
  errors?: Array<{ field: string; detail: string }>;
}

const WITH_SEGMENT = 'id,amount,segment\n1,10,retail\n2,20,sme\n';
const WITHOUT_SEGMENT = 'id,amount\n1,10\n2,20\n';

describe.each(eachBackend().map((b) => [b.name, b] as const))('the contract at promotion [%s]', (_name, backend) => {
  let t: TestApp;
  let ingester: { id: string; token: string };
  let steward: { id: string; token: string };
  beforeAll(async () => {
    t = await createTestApp(backend);
    ingester = await createPrincipalWithToken(t.db, { name: 'ingester', roles: ['data-scientist'] });
    steward = await createPrincipalWithToken(t.db, { name: 'steward', roles: ['data-steward'] });
  });
  afterAll(async () => t?.close());

  const ingest = async (name: string, body: string): Promise<DatasetVersionRecord> => {
    const res = await upload(t, { name, token: ingester.token, body, query: { classification: 'internal', owner: steward.id } });
    expect(res.statusCode, res.body).toBe(201);
    return res.json<DatasetVersionRecord>();
  };
  const promote = (name: string, version: number) =>
    t.app.inject({ method: 'POST', url: `/api/v1/datasets/${name}/versions/${version}/promote`, headers: { authorization: `Bearer ${steward.token}` } });
  const state = async (name: string, version: number): Promise<string> =>
    (await t.app.inject({ method: 'GET', url: `/api/v1/datasets/${name}/versions/${version}`, headers: { authorization: `Bearer ${steward.token}` } })).json<DatasetVersionRecord>().state;

  it('refuses a version checked against no contract once another version is certified, and writes nothing', async () => {
    await ingest('loans', WITH_SEGMENT);
    await ingest('loans', WITHOUT_SEGMENT); // checked now: no version is certified, so no contract
    expect((await promote('loans', 1)).statusCode).toBe(200);

    const before = { ...(await leftovers(t)), changes: await changeEntryCount(t.db) };
    const refused = await promote('loans', 2);
    expect(refused.statusCode, refused.body).toBe(409);
    const problem = refused.json<Problem>();
    expect(problem.errors).toEqual([{ field: 'checks.schema', detail: expect.stringContaining('checked against no contract') }]);
    expect(problem.detail).toMatch(/contract is now version 1 \(dsv_[0-9A-Z]{26}\): ingest the file again/);
    expect(await state('loans', 2)).toBe('quarantine');
    expect({ ...(await leftovers(t)), changes: await changeEntryCount(t.db) }).toEqual(before);

    // Ingested again, the same file is held to the contract, and its schema check says what breaks it.
    const again = await ingest('loans', WITHOUT_SEGMENT);
    const checks = (await t.app.inject({ method: 'GET', url: `/api/v1/datasets/loans/versions/${again.version}/checks`, headers: { authorization: `Bearer ${steward.token}` } })).json<{
      checks: Array<{ name: string; status: string; result: string }>;
    }>().checks;
    expect(checks.find((c) => c.name === 'schema')).toMatchObject({ status: 'fail', result: expect.stringContaining('missing segment') });
  });

  it('refuses a version checked against a contract that a later certification replaced', async () => {
    await ingest('cards', WITH_SEGMENT);
    expect((await promote('cards', 1)).statusCode).toBe(200);
    await ingest('cards', WITH_SEGMENT); // v2, checked against v1
    await ingest('cards', WITH_SEGMENT); // v3, checked against v1
    expect((await promote('cards', 2)).statusCode).toBe(200);
    const refused = await promote('cards', 3);
    expect(refused.statusCode, refused.body).toBe(409);
    expect(refused.json<Problem>().errors?.[0]).toMatchObject({ field: 'checks.schema', detail: expect.stringContaining('checked against the contract of version 1') });
    // Checked against the contract in force, a version is certified as before.
    await ingest('cards', WITH_SEGMENT);
    expect((await promote('cards', 4)).statusCode).toBe(200);
  });
});

/**
 * The contract check runs twice: before the promotion's slow work (Parquet, manifest) and again
 * inside the certifying transaction, where it counts. Two promotions of versions checked against
 * the same contract both pass the first; whichever certifies second must meet the second check.
 */
describe.each(eachBackend().map((b) => [b.name, b] as const))('the contract at promotion, two promotions at once [%s]', (_name, backend) => {
  const suite = withTwoStewards(backend);
  const env = (blobs?: BlobStore): PromoteEnv => promoteEnvOf(suite.t, blobs);
  const ingest = (name: string, body: string) =>
    ingestDataset(env(), { name, source: Readable.from([Buffer.from(body)]), mediaType: 'text/csv', sourceSystem: 'core-banking', classification: 'internal', ownerId: suite.ownerId }, { actor: suite.ingester });

  it('refuses the later of two promotions checked against one contract, as it commits, and leaves nothing of it behind', async () => {
    await ingest('race', WITH_SEGMENT);
    await promoteDatasetVersion(env(), { name: 'race', version: 1 }, { actor: suite.promoter });
    const v2 = await ingest('race', WITH_SEGMENT); // checked against v1
    const v3 = await ingest('race', WITH_SEGMENT); // checked against v1
    // Pauses v3's promotion as it stores its manifest: past the first contract check, before its transaction.
    const store = suite.t.deps.blobs;
    const gate = gatedBlobStore(store, 'put');
    const later = promoteDatasetVersion(env(gate.blobs), { name: 'race', version: v3.version }, { actor: suite.promoter });
    later.catch(() => undefined);
    const manifest = await gate.reached;

    await promoteDatasetVersion(env(), { name: 'race', version: v2.version }, { actor: suite.promoter });
    gate.release();
    const refused = await later.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(Conflict);
    expect((refused as Conflict).errors).toEqual([{ field: 'checks.schema', message: expect.stringContaining(`the contract is now version ${v2.version}`) }]);
    expect((await getDatasetVersion(suite.t.db, { name: 'race', version: v3.version })).state).toBe('quarantine');
    // v3's promotion wrote no entry, and its manifest is gone with its pending records.
    expect(await changesOf(suite.t.db, v2.id)).toBe(1);
    expect(await changesOf(suite.t.db, v3.id)).toBe(0);
    expect(await store.has(manifest)).toBe(false);
    expect((await suite.t.db.query('SELECT 1 FROM dataset_pending_blobs')).rowCount).toBe(0);
  });
});

/** Promotion entries written about one version. */
async function changesOf(db: Db, versionId: string): Promise<number> {
  return (await listAuditEntries(db, { action: DATASET_PROMOTE_ACTION })).filter((e) => e.resource.id === versionId).length;
}
