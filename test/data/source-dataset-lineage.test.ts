import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAuditEntries } from '../../src/audit/index.js';
import type { DsseEnvelope } from '../../src/core/index.js';
import { DATASET_INGEST_ACTION, verifyDatasetManifest, type DatasetVersionRecord } from '../../src/data/index.js';
import { recordLineage, type LineageGraph } from '../../src/lineage/index.js';
import { createPrincipalWithToken, createTestApp, type TestApp } from '../support/app.js';
import { eachBackend } from '../support/databases.js';
import { runEvent } from '../lineage/fixtures.js';
import { leftovers, upload } from './support.js';

/**
 * An ingest names the OpenLineage dataset its file was exported from (a warehouse table that
 * Spark reports): the graph links that dataset upstream of the version, so a validator walking
 * up from the certified version reaches the job that wrote the table, and one walking down
 * from the table reaches the version. Over the real HTTP server on a loopback port, on PGlite
 * and PostgreSQL.
 */

type Principal = { id: string; token: string };
type Problem = { errors: Array<{ field: string; detail: string }> };

const WAREHOUSE = 'postgres://warehouse:5432';
const CSV = 'loan_id,amount\n1,100\n2,250\n3,75\n';

describe.each(eachBackend().map((b) => [b.name, b] as const))('ingest naming its OpenLineage source dataset [%s]', (_name, backend) => {
  let t: TestApp;
  let base: string;
  let spark: Principal;
  let ingester: Principal;
  let promoter: Principal;
  let reader: Principal;

  const api = async <T>(who: Principal, method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; text: string; json: T }> => {
    const res = await fetch(base + path, {
      method,
      headers: { authorization: `Bearer ${who.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, text, json: JSON.parse(text) as T };
  };
  const ingest = (name: string, query: Record<string, string>) =>
    upload(t, { name, body: CSV, token: ingester.token, query: { classification: 'confidential', owner: 'promoter', ...query } });
  const graph = (who: Principal, query: string) => api<LineageGraph>(who, 'GET', `/api/v1/lineage/graph?${query}`);
  const nodesKeyed = async (name: string) =>
    (await t.db.query<{ id: string; classification: string }>(`SELECT id, classification FROM lineage_nodes WHERE type = 'external_dataset' AND namespace = $1 AND name = $2`, [WAREHOUSE, name])).rows;

  beforeAll(async () => {
    t = await createTestApp(backend);
    spark = await createPrincipalWithToken(t.db, { name: 'spark', roles: ['data-steward'], kind: 'service', attributes: { clearance: ['pii'] } });
    ingester = await createPrincipalWithToken(t.db, { name: 'ingester', roles: ['data-steward'], attributes: { clearance: ['pii'] } });
    promoter = await createPrincipalWithToken(t.db, { name: 'promoter', roles: ['data-steward'], attributes: { clearance: ['pii'] } });
    reader = await createPrincipalWithToken(t.db, { name: 'val-validator', roles: ['data-scientist'] });
    base = await t.app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => t?.close());

  it('upstream from the certified version reaches the Spark job that wrote the table; downstream from the table reaches the version', async () => {
    const event = runEvent({ namespace: 'spark-prod', job: 'risk.build_loans', input: 'risk.raw.loan_applications', output: 'risk.public.loans', outputNamespace: WAREHOUSE });
    // Airflow's DAG run started the Spark job (the ParentRunFacet openlineage-spark sends under Airflow).
    const dagRun = { runId: '0190f3a2-0000-7000-8000-00000000da60' };
    (event.run as Record<string, unknown>).facets = {
      parent: { _producer: 'https://example.com/tests', _schemaURL: 'https://openlineage.io/spec/facets/1-1-0/ParentRunFacet.json', run: dagRun, job: { namespace: 'airflow-prod', name: 'risk_daily' } },
    };
    expect((await api(spark, 'POST', '/api/v1/lineage', event)).status).toBe(201);

    const ingested = await ingest('loans', { sourceDatasetNamespace: WAREHOUSE, sourceDatasetName: 'risk.public.loans' });
    expect(ingested.statusCode, ingested.body).toBe(201);
    const v = JSON.parse(ingested.body) as DatasetVersionRecord;
    expect(v.sourceDataset).toEqual({ namespace: WAREHOUSE, name: 'risk.public.loans' });
    const entry = (await listAuditEntries(t.db, { action: DATASET_INGEST_ACTION })).find((e) => e.resource?.id === v.id);
    expect(entry?.reason).toContain(`loans v1 from core-banking (OpenLineage dataset ${WAREHOUSE} risk.public.loans): 3 rows`);

    const promoted = await api<{ version: DatasetVersionRecord; manifest: DsseEnvelope }>(promoter, 'POST', '/api/v1/datasets/loans/versions/1/promote');
    expect(promoted.status, promoted.text).toBe(200);
    expect(promoted.json.version.sourceDataset).toEqual({ namespace: WAREHOUSE, name: 'risk.public.loans' });
    expect(verifyDatasetManifest(promoted.json.manifest, (k) => t.keyring.publicKey(k)).predicate.sourceDataset).toEqual({ namespace: WAREHOUSE, name: 'risk.public.loans' });

    // The event's node is the one the ingest linked: no second node for the same table.
    const [table] = await nodesKeyed('risk.public.loans');
    expect(await nodesKeyed('risk.public.loans')).toHaveLength(1);
    const up = await graph(promoter, `node=${v.id}&direction=up&depth=5`);
    expect(up.status, up.text).toBe(200);
    expect(up.json.edges).toContainEqual({ from: table!.id, to: v.id, type: 'derived' });
    expect(up.json.nodes).toContainEqual(expect.objectContaining({ type: 'external_job', namespace: 'spark-prod', name: 'risk.build_loans' }));
    expect(up.json.nodes).toContainEqual(expect.objectContaining({ type: 'external_dataset', namespace: 'warehouse', name: 'risk.raw.loan_applications' }));

    // A model trained on the certified version (as training records it): the validator's walk from it reaches the Spark job too.
    await t.db.transaction((tx) =>
      recordLineage(tx, {
        nodes: [
          { id: 'run_TRAIN1', type: 'run', classification: 'confidential', name: 'train risk-scorer' },
          { id: 'mv_SCORER1', type: 'model_version', classification: 'confidential', name: 'risk-scorer v1' },
        ],
        edges: [
          { from: v.id, to: 'run_TRAIN1', type: 'input' },
          { from: 'run_TRAIN1', to: 'mv_SCORER1', type: 'output' },
        ],
      }),
    );
    const fromModel = await graph(reader, `node=mv_SCORER1&direction=up&depth=6`);
    expect(fromModel.status, fromModel.text).toBe(200);
    expect(fromModel.json.nodes).toContainEqual(expect.objectContaining({ type: 'external_job', namespace: 'spark-prod', name: 'risk.build_loans', distance: 5 }));

    // An examiner starting at one inference, giving no depth, reaches the DAG that scheduled the
    // Spark job: inference ← deployment ← model ← training run ← version ← table ← Spark run ← DAG run ← DAG.
    await t.db.transaction((tx) =>
      recordLineage(tx, {
        nodes: [
          { id: 'dep_SCORER1', type: 'deployment', classification: 'confidential' },
          { id: 'inf_SCORED1', type: 'inference', classification: 'confidential' },
        ],
        edges: [
          { from: 'mv_SCORER1', to: 'dep_SCORER1', type: 'deployed' },
          { from: 'dep_SCORER1', to: 'inf_SCORED1', type: 'served' },
        ],
      }),
    );
    const fromInference = await graph(reader, `node=inf_SCORED1&direction=up`);
    expect(fromInference.status, fromInference.text).toBe(200);
    expect(fromInference.json.truncated).toBe(false);
    expect(fromInference.json.nodes).toContainEqual(expect.objectContaining({ type: 'external_job', namespace: 'airflow-prod', name: 'risk_daily', distance: 8 }));

    const down = await graph(promoter, `namespace=${encodeURIComponent(WAREHOUSE)}&name=risk.public.loans&kind=dataset&direction=down&depth=3`);
    expect(down.status, down.text).toBe(200);
    expect(down.json.nodes).toContainEqual(expect.objectContaining({ id: v.id, type: 'dataset_version' }));
  });

  it('a dataset no event reported yet is created by the ingest, as restricted as the version; a later event merges into it', async () => {
    const ingested = await ingest('claims', { classification: 'PII', sourceDatasetNamespace: WAREHOUSE, sourceDatasetName: 'claims.public.claims' });
    expect(ingested.statusCode, ingested.body).toBe(201);
    const v = JSON.parse(ingested.body) as DatasetVersionRecord;
    const created = await nodesKeyed('claims.public.claims');
    expect(created).toEqual([{ id: expect.stringMatching(/^lnd_/), classification: 'PII' }]);
    // The table holds the PII the version holds: a reader not cleared for PII does not see it.
    const byName = `namespace=${encodeURIComponent(WAREHOUSE)}&name=claims.public.claims&kind=dataset&direction=down&depth=1`;
    expect((await graph(reader, byName)).status).toBe(404);
    expect((await graph(ingester, byName)).json.edges).toEqual([{ from: created[0]!.id, to: v.id, type: 'derived' }]);

    const event = runEvent({ namespace: 'spark-prod', job: 'claims.build', input: 'claims.raw', output: 'claims.public.claims', outputNamespace: WAREHOUSE });
    expect((await api(spark, 'POST', '/api/v1/lineage', event)).status).toBe(201);
    expect(await nodesKeyed('claims.public.claims')).toEqual(created);
    const up = await graph(ingester, `node=${v.id}&direction=up&depth=5`);
    expect(up.json.nodes).toContainEqual(expect.objectContaining({ type: 'external_job', namespace: 'spark-prod', name: 'claims.build' }));
  });

  it('one parameter without the other, or a name OpenLineage intake would refuse: 400 naming it, nothing written', async () => {
    const nodes = async () => (await t.db.query('SELECT 1 FROM lineage_nodes')).rowCount;
    const before = { left: await leftovers(t), nodes: await nodes() };
    const refusals: Array<[Record<string, string>, string, RegExp]> = [
      [{ sourceDatasetNamespace: WAREHOUSE }, 'query.sourceDatasetName', /required with query.sourceDatasetNamespace/],
      [{ sourceDatasetName: 'risk.public.loans' }, 'query.sourceDatasetNamespace', /required with query.sourceDatasetName:/],
      [{ sourceDatasetNamespace: WAREHOUSE, sourceDatasetName: 'x'.repeat(1501) }, 'query.sourceDatasetName', /1 to 1500 bytes/],
      [{ sourceDatasetNamespace: `${WAREHOUSE}\u001b[31m`, sourceDatasetName: 'risk.public.loans' }, 'query.sourceDatasetNamespace', /control or bidirectional/],
      [{ sourceDatasetNamespace: 'postgres://etl:s3cret-pw@warehouse:5432', sourceDatasetName: 'risk.public.loans' }, 'query.sourceDatasetNamespace', /./],
    ];
    for (const [query, field, message] of refusals) {
      const res = await ingest('refused', query);
      expect(res.statusCode, res.body).toBe(400);
      expect((JSON.parse(res.body) as Problem).errors).toEqual([{ field, detail: expect.stringMatching(message) }]);
    }
    expect({ left: await leftovers(t), nodes: await nodes() }).toEqual(before);

    // Naming none is as before: no source, and a manifest without the field still verifies.
    const plain = await ingest('plain', {});
    expect(plain.statusCode, plain.body).toBe(201);
    expect((JSON.parse(plain.body) as DatasetVersionRecord).sourceDataset).toBeNull();
    const promoted = await api<{ manifest: DsseEnvelope }>(promoter, 'POST', '/api/v1/datasets/plain/versions/1/promote');
    expect(promoted.status, promoted.text).toBe(200);
    expect(verifyDatasetManifest(promoted.json.manifest, (k) => t.keyring.publicKey(k)).predicate).not.toHaveProperty('sourceDataset');
  });
});
