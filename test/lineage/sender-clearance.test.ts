import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAuditEntries } from '../../src/audit/index.js';
import { recordLineage, type LineageGraph } from '../../src/lineage/index.js';
import { changeEntryCount, createPrincipalWithToken, createTestApp, type TestApp } from '../support/app.js';
import { eachBackend } from '../support/databases.js';
import { upload } from '../data/support.js';
import { datasetEvent, runEvent } from './fixtures.js';

/**
 * What an OpenLineage sender may change, by its clearance (src/lineage/sender-clearance.ts):
 * it classifies nodes only into domains it is cleared for, it never writes a dataset Assay
 * certifies, and a node it may not see keeps what it says while the sender's edges are kept.
 * Over the real HTTP server on a loopback port, on both backends.
 */

type Json = Record<string, unknown>;
interface Problem {
  status: number;
  code: string;
  detail: string;
  errors?: Array<{ field: string; detail: string }>;
}

const P = { _producer: 'https://p', _schemaURL: 'https://s' };
const tagged = (classification: string): Json => ({ tags: { ...P, tags: [{ key: 'classification', value: classification, source: 'USER' }] } });
const schema = (...fields: string[]): Json => ({ schema: { ...P, fields: fields.map((name) => ({ name, type: 'string' })) } });

describe.each(eachBackend().map((b) => [b.name, b] as const))('what an OpenLineage sender may change [%s]', (_name, backend) => {
  let t: TestApp;
  let base: string;
  /** Sends lineage, cleared for nothing regulated. */
  let plain: { id: string; token: string };
  /** Sends lineage, cleared for PHI. */
  let clinic: { id: string; token: string };
  /** Reads the graph, cleared for every regulated domain. */
  let reader: { id: string; token: string };

  beforeAll(async () => {
    t = await createTestApp(backend);
    base = await t.app.listen({ host: '127.0.0.1', port: 0 });
    plain = await createPrincipalWithToken(t.db, { name: 'spark', roles: ['data-steward'], kind: 'service' });
    clinic = await createPrincipalWithToken(t.db, { name: 'clinic-airflow', roles: ['data-steward'], kind: 'service', attributes: { clearance: ['phi'] } });
    reader = await createPrincipalWithToken(t.db, { name: 'ann-auditor', roles: ['auditor'], attributes: { clearance: ['pii', 'phi', 'pci'] } });
  });
  afterAll(async () => t?.close());

  async function post(token: string, body: unknown): Promise<{ status: number; text: string; json: Problem & Json }> {
    const res = await fetch(`${base}/api/v1/lineage`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, text, json: JSON.parse(text) as Problem & Json };
  }
  async function node(namespace: string, name: string, kind: 'dataset' | 'job' = 'dataset'): Promise<LineageGraph> {
    const q = new URLSearchParams({ namespace, name, kind, direction: 'both', depth: '2', facets: 'true' });
    const res = await fetch(`${base}/api/v1/lineage/graph?${q}`, { headers: { authorization: `Bearer ${reader.token}` } });
    expect(res.status).toBe(200);
    return (await res.json()) as LineageGraph;
  }
  const stored = async (): Promise<{ nodes: number; events: number; changes: number }> => ({
    nodes: (await t.db.query('SELECT 1 FROM lineage_nodes')).rowCount,
    events: (await t.db.query('SELECT 1 FROM lineage_events')).rowCount,
    changes: await changeEntryCount(t.db),
  });

  it('a sender may not classify a node into a domain it is not cleared for: 403 naming each tags facet, nothing written, the refusal audited', async () => {
    const event = runEvent({ job: 'oncology.extract', namespace: 'clinic', input: 'onc.visits', output: 'onc.extract' });
    (event.outputs as Json[])[0]!.facets = tagged('PHI');
    const second = runEvent({ job: 'cards.settle', namespace: 'cards', input: 'cards.raw', output: 'cards.settled' });
    (second.job as Json).facets = { ...tagged('PCI') };
    const before = await stored();

    const res = await post(plain.token, [event, second]);
    expect(res.status, res.text).toBe(403);
    expect(res.json.code).toBe('forbidden');
    expect(res.json.errors?.map((e) => e.field)).toEqual(['body.0.outputs.0.facets.tags', 'body.1.job.facets.tags']);
    expect(res.json.errors?.[0]?.detail).toMatch(/declares PHI; the sender is not cleared for PHI/);
    // The refusal is the only change: no node, no event, no ingest entry.
    const after = await stored();
    expect({ nodes: after.nodes, events: after.events }).toEqual({ nodes: before.nodes, events: before.events });
    expect(after.changes).toBe(before.changes + 1);
    const [denied] = (await listAuditEntries(t.db, { action: 'access.deny', principalId: plain.id })).slice(-1);
    expect(denied).toMatchObject({ decision: { effect: 'denied', policyIds: ['data.clearance-for-sensitive'] }, outcome: 'failed' });
    expect(denied?.reason).toContain('body.0.outputs.0.facets.tags declares PHI');

    // Cleared for PHI (but not PCI), the first event alone is accepted and classifies the node.
    expect((await post(clinic.token, second)).status).toBe(403);
    const ok = await post(clinic.token, event);
    expect(ok.status, ok.text).toBe(201);
    expect((await node('warehouse', 'onc.extract')).nodes.find((n) => n.name === 'onc.extract')).toMatchObject({ classification: 'PHI' });
  });

  it('a node the sender may not see keeps its facets, tags and run state; the edges are kept; the answer is the same as for an unknown node', async () => {
    // The clinic's job reads its PHI admissions table, classified and described by the clinic.
    const start = runEvent({ job: 'admissions.load', namespace: 'clinic', input: 'adm.raw', output: 'adm.patients' });
    start.eventType = 'START';
    (start.outputs as Json[])[0]!.facets = { ...tagged('PHI'), ...schema('patient_id', 'diagnosis') };
    (start.job as Json).facets = tagged('PHI');
    expect((await post(clinic.token, start)).status).toBe(201);
    const before = await node('warehouse', 'adm.patients');
    const patients = before.nodes.find((n) => n.name === 'adm.patients')!;

    // An uncleared sender names that table as its input, retags it and rewrites its schema,
    // deletes a facet, and reports the clinic's run COMPLETE with a tag of its own.
    const spark = runEvent({ job: 'marketing.copy', namespace: 'spark', input: 'adm.patients', output: 'mkt.contacts' });
    (spark.inputs as Json[])[0]!.facets = { ...tagged('public'), ...schema('name', 'email') };
    const rewrite = structuredClone(start);
    rewrite.eventType = 'COMPLETE';
    rewrite.eventTime = '2030-02-01T00:00:00.000Z';
    (rewrite.job as Json).facets = { ...tagged('internal'), documentation: { ...P, description: 'harmless' } };
    (rewrite.outputs as Json[])[0]!.facets = { schema: { ...P, _deleted: true } };
    rewrite.inputs = [];
    const res = await post(plain.token, [spark, rewrite]);
    expect(res.status, res.text).toBe(201);

    const after = await node('warehouse', 'adm.patients');
    const same = after.nodes.find((n) => n.id === patients.id)!;
    expect(same).toMatchObject({ classification: 'PHI', facets: patients.facets });
    expect(JSON.stringify(same.facets)).toContain('diagnosis');
    const job = (await node('clinic', 'admissions.load', 'job')).nodes.find((n) => n.type === 'external_job')!;
    expect(job.classification).toBe('PHI');
    expect(job.facets).not.toHaveProperty('documentation');
    const run = after.nodes.find((n) => n.type === 'external_run' && n.namespace === 'clinic')!;
    expect(run.attributes).toMatchObject({ state: 'START' });
    // The uncleared job's read of the PHI table is in the graph: an erasure walk follows it.
    const sparkRun = after.nodes.find((n) => n.type === 'external_run' && n.namespace === 'spark');
    expect(sparkRun).toBeDefined();
    expect(after.edges).toContainEqual(expect.objectContaining({ from: patients.id, to: sparkRun!.id, type: 'input' }));

    // The same kind of event naming a table nobody knows answers alike: the sender learns nothing.
    const unknown = runEvent({ job: 'marketing.copy', namespace: 'spark', input: 'never.seen', output: 'mkt.contacts2' });
    (unknown.inputs as Json[])[0]!.facets = { ...tagged('public'), ...schema('name', 'email') };
    const other = await post(plain.token, unknown);
    expect(other.status).toBe(res.status);
    expect(Object.keys(other.json).sort()).toEqual(Object.keys(res.json).sort());
  });

  it('a run under a job the sender may not see, new or not, keeps what it says: no facets, tags or state of the sender; its edges are kept; the answer is the one an unknown job gets', async () => {
    // The clinic's PHI export job, and one run of it.
    const first = runEvent({ job: 'ward.export', namespace: 'clinic', input: 'ward.beds', output: 'ward.export' });
    first.eventType = 'START';
    (first.job as Json).facets = tagged('PHI');
    expect((await post(clinic.token, first)).status).toBe(201);

    // An uncleared sender reports a run of its own under that job: a state, a run facet, a tag
    // within its clearance, and what the run read and wrote.
    const mine = (job: string): Json => {
      const e = runEvent({ job, namespace: 'clinic', input: 'lobby.visitors', output: 'lobby.report' });
      e.eventType = 'FAIL';
      (e.run as Json).facets = { ...tagged('internal'), errorMessage: { ...P, message: 'disk full', programmingLanguage: 'python' } };
      return e;
    };
    const hiddenJob = mine('ward.export');
    const res = await post(plain.token, hiddenJob);
    expect(res.status, res.text).toBe(201);

    const graph = await node('clinic', 'ward.export', 'job');
    const job = graph.nodes.find((n) => n.type === 'external_job')!;
    const runId = ((hiddenJob.run as Json).runId as string).toLowerCase();
    const run = graph.nodes.find((n) => n.type === 'external_run' && n.name === runId)!;
    // The run is there, under the job and as narrow as it, with the sender's edges...
    expect(graph.edges).toContainEqual(expect.objectContaining({ from: job.id, to: run.id, type: 'run_of' }));
    expect(run.classification).toBe('PHI');
    const report = (await node('warehouse', 'lobby.report')).nodes.find((n) => n.name === 'lobby.report')!;
    expect((await node('warehouse', 'lobby.report')).edges).toContainEqual(expect.objectContaining({ from: run.id, to: report.id, type: 'output' }));
    // ...but nothing the sender said about it.
    expect(run.facets).toEqual({});
    expect(run.attributes).toEqual({});
    const earlier = graph.nodes.find((n) => n.type === 'external_run' && n.id !== run.id)!;
    expect(earlier.attributes).toMatchObject({ state: 'START' });

    // The same event under a job nobody knows is applied, and answered alike.
    const unknownJob = mine('lobby.count');
    const other = await post(plain.token, unknownJob);
    expect(other.status).toBe(res.status);
    expect(Object.keys(other.json).sort()).toEqual(Object.keys(res.json).sort());
    const known = (await node('clinic', 'lobby.count', 'job')).nodes.find((n) => n.type === 'external_run')!;
    expect(known.attributes).toMatchObject({ state: 'FAIL' });
    expect(known.facets).toHaveProperty('errorMessage');
  });

  it("a dataset Assay certifies is written by its promotion alone, under an earlier namespace too: an outside output or DatasetEvent naming it is 403, nothing written; read as an input it keeps Assay's description", async () => {
    const scientist = await createPrincipalWithToken(t.db, { name: 'sam', roles: ['data-scientist'] });
    const steward = await createPrincipalWithToken(t.db, { name: 'stella', roles: ['data-steward'] });
    const ingested = await upload(t, { name: 'loans', token: scientist.token, body: 'id,amount\n1,100\n2,250\n', query: { classification: 'internal', owner: steward.id } });
    expect(ingested.statusCode, ingested.body).toBe(201);
    const promoted = await t.app.inject({ method: 'POST', url: '/api/v1/datasets/loans/versions/1/promote', headers: { authorization: `Bearer ${steward.token}` } });
    expect(promoted.statusCode, promoted.body).toBe(200);
    const certified = (await node('assay', 'loans')).nodes.find((n) => n.type === 'external_dataset' && n.name === 'loans')!;

    const overwrite = runEvent({ job: 'loans.backfill', namespace: 'spark', input: 'staging.loans', output: 'loans', outputNamespace: 'assay' });
    const describe = datasetEvent('assay', 'loans', schema('anything'));
    // The version is also linked to its dataset under a namespace Assay used before (as the
    // server's start links versions under a changed lineage.namespace).
    const version = (await node('assay', 'loans')).nodes.find((n) => n.type === 'dataset_version')!;
    await t.db.transaction((tx) => recordLineage(tx, { nodes: [], edges: [{ from: version.id, to: { kind: 'dataset', namespace: 'assay-old', name: 'loans' }, type: 'derived' }] }));
    const before = await stored();
    const overwriteOld = runEvent({ job: 'loans.backfill', namespace: 'spark', input: 'staging.loans', output: 'loans', outputNamespace: 'assay-old' });
    const res = await post(plain.token, [overwrite, describe, overwriteOld]);
    expect(res.status, res.text).toBe(403);
    // In Assay's namespace the answer is the same whether the dataset is certified or not yet.
    expect(res.json.errors).toEqual([
      { field: 'body.0.outputs.0', detail: expect.stringMatching(/^assay\/loans is in Assay's lineage namespace: only Assay writes its datasets/) },
      { field: 'body.1.dataset', detail: expect.stringMatching(/^assay\/loans is in Assay's lineage namespace/) },
      { field: 'body.2.outputs.0', detail: expect.stringMatching(/^assay-old\/loans is a dataset Assay certifies: only its promotion writes it/) },
    ]);
    const after = await stored();
    expect({ nodes: after.nodes, events: after.events, changes: after.changes }).toEqual({ ...before, changes: before.changes + 1 });
    const [denied] = (await listAuditEntries(t.db, { action: 'access.deny', principalId: plain.id })).slice(-1);
    expect(denied?.decision.policyIds).toEqual(['lineage:assay-datasets-written-by-assay']);
    // Even a sender cleared for everything may not.
    expect((await post(clinic.token, overwrite)).status).toBe(403);
    expect((await post(clinic.token, overwriteOld)).status).toBe(403);

    // Reading it is what outside jobs do: accepted, downstream of the version read (the current
    // one), its description Assay's.
    const read = runEvent({ job: 'loans.score', namespace: 'spark', input: 'loans', output: 'scores.loans' });
    (read.inputs as Json[])[0]!.namespace = 'assay';
    (read.inputs as Json[])[0]!.facets = { ...tagged('public'), ...schema('anything') };
    expect((await post(plain.token, read)).status).toBe(201);
    const graph = await node('assay', 'loans');
    expect(graph.nodes.find((n) => n.id === certified.id)).toMatchObject({ classification: certified.classification, facets: certified.facets });
    const scores = await node('warehouse', 'scores.loans');
    const sparkRun = scores.nodes.find((n) => n.type === 'external_run' && n.namespace === 'spark')!;
    expect(scores.edges).toContainEqual(expect.objectContaining({ from: version.id, to: sparkRun.id, type: 'input' }));
  });

  it('a certified dataset the sender may not see, under a namespace Assay used before, is answered as an unknown dataset there: accepted, its output edge and description left out; a sender that may see it is refused', async () => {
    // A PHI version linked to its dataset under an earlier lineage.namespace, as the server's
    // start links versions when the setting changed (linkCertifiedVersions).
    await t.db.transaction((tx) =>
      recordLineage(tx, {
        nodes: [{ id: 'dsv_01CHARTSV1', type: 'dataset_version', classification: 'PHI', name: 'charts v1' }],
        edges: [{ from: 'dsv_01CHARTSV1', to: { kind: 'dataset', namespace: 'assay-2024', name: 'charts', classification: 'PHI' }, type: 'derived' }],
      }),
    );
    const writes = (name: string): Json[] => [
      runEvent({ job: `${name}.backfill`, namespace: 'spark', input: `staging.${name}`, output: name, outputNamespace: 'assay-2024' }),
      datasetEvent('assay-2024', name, schema('anything')),
    ];
    const before = await stored();
    const hidden = await post(plain.token, writes('charts'));
    expect(hidden.status, hidden.text).toBe(201);
    const unknown = await post(plain.token, writes('never.seen'));
    expect(unknown.status, unknown.text).toBe(201);
    expect(Object.keys(hidden.json).sort()).toEqual(Object.keys(unknown.json).sort());
    expect((await stored()).events).toBe(before.events + 4);

    // The certified dataset has its version alone upstream, and keeps Assay's description.
    const graph = await node('assay-2024', 'charts');
    const charts = graph.nodes.find((n) => n.type === 'external_dataset')!;
    expect(charts).toMatchObject({ classification: 'PHI', facets: {} });
    expect(graph.edges.filter((e) => e.to === charts.id)).toEqual([expect.objectContaining({ from: 'dsv_01CHARTSV1', type: 'derived' })]);
    expect(graph.nodes.some((n) => n.type === 'external_job' && n.name === 'charts.backfill')).toBe(false);

    // A sender that may see it learns nothing it could not read: refused, as before.
    const cleared = await post(clinic.token, writes('charts'));
    expect(cleared.status, cleared.text).toBe(403);
    expect(cleared.json.errors).toEqual([
      { field: 'body.0.outputs.0', detail: expect.stringMatching(/^assay-2024\/charts is a dataset Assay certifies/) },
      { field: 'body.1.dataset', detail: expect.stringMatching(/^assay-2024\/charts is a dataset Assay certifies/) },
    ]);
  });

  it('asks whether a dataset is certified from its derived edges alone, never by reading every edge into it', async () => {
    // The subquery standingOf runs for every dataset of every event: a table an hourly job
    // writes gains an output edge per run, and the answer must not grow with them.
    const plan = await t.db.transaction(async (tx) => {
      await tx.query('SET LOCAL enable_seqscan = off');
      const r = await tx.query<{ 'QUERY PLAN': string }>(`EXPLAIN SELECT 1 FROM lineage_edges e WHERE e.dst = $1 AND e.type = 'derived'`, [1]);
      return r.rows.map((row) => row['QUERY PLAN']).join('\n');
    });
    expect(plan).toContain('lineage_edges_derived');
  });

  it("Assay's lineage namespace is written by Assay alone: an outside output or DatasetEvent there is 403 before the dataset is ever certified, so promotion never links a version below an outside writer", async () => {
    const scientist = await createPrincipalWithToken(t.db, { name: 'sue', roles: ['data-scientist'] });
    const steward = await createPrincipalWithToken(t.db, { name: 'stan', roles: ['data-steward'] });
    const before = await stored();
    // Spark claims to write the dataset Assay will certify as `deposits`, and describes it, before its first certification.
    const early = runEvent({ job: 'deposits.backfill', namespace: 'spark', input: 'staging.deposits', output: 'deposits', outputNamespace: 'assay' });
    const describe = datasetEvent('assay', 'deposits_extract', schema('anything'));
    const res = await post(plain.token, [early, describe]);
    expect(res.status, res.text).toBe(403);
    expect(res.json.errors).toEqual([
      { field: 'body.0.outputs.0', detail: expect.stringMatching(/^assay\/deposits is in Assay's lineage namespace: only Assay writes its datasets/) },
      { field: 'body.1.dataset', detail: expect.stringMatching(/^assay\/deposits_extract is in Assay's lineage namespace/) },
    ]);
    const after = await stored();
    expect({ nodes: after.nodes, events: after.events, changes: after.changes }).toEqual({ ...before, changes: before.changes + 1 });
    const [denied] = (await listAuditEntries(t.db, { action: 'access.deny', principalId: plain.id })).slice(-1);
    expect(denied?.decision.policyIds).toEqual(['lineage:assay-datasets-written-by-assay']);
    expect(denied?.reason).toContain('body.0.outputs.0 assay/deposits is in Assay');
    // Whoever sends it: a sender cleared for every domain too.
    expect((await post(clinic.token, early)).status).toBe(403);

    // Read as an input it is accepted; the description the sender gives it is not applied (Assay states it).
    const read = runEvent({ job: 'deposits.score', namespace: 'spark', input: 'deposits', output: 'scores.deposits' });
    (read.inputs as Json[])[0]!.namespace = 'assay';
    (read.inputs as Json[])[0]!.facets = { ...tagged('public'), ...schema('anything') };
    const accepted = await post(plain.token, read);
    expect(accepted.status, accepted.text).toBe(201);

    const ingested = await upload(t, { name: 'deposits', token: scientist.token, body: 'id,amount\n1,100\n2,250\n', query: { classification: 'internal', owner: steward.id } });
    expect(ingested.statusCode, ingested.body).toBe(201);
    const promoted = await t.app.inject({ method: 'POST', url: '/api/v1/datasets/deposits/versions/1/promote', headers: { authorization: `Bearer ${steward.token}` } });
    expect(promoted.statusCode, promoted.body).toBe(200);
    // Upstream of the certified dataset: its version alone, no outside writer; downstream: the outside reader.
    const graph = await node('assay', 'deposits');
    const certified = graph.nodes.find((n) => n.type === 'external_dataset' && n.namespace === 'assay' && n.name === 'deposits')!;
    const writers = graph.edges.filter((e) => e.to === certified.id).map((e) => graph.nodes.find((n) => n.id === e.from)?.type);
    expect(writers).toEqual(['dataset_version']);
    expect(graph.nodes.some((n) => n.type === 'external_job' && n.name === 'deposits.backfill')).toBe(false);
    expect(graph.edges).toContainEqual(expect.objectContaining({ from: certified.id, type: 'input' }));
    expect(certified.facets).not.toHaveProperty('schema');
    expect(certified.classification).toBe('internal');
  });

  it("Assay's jobs are run by Assay alone: an outside run of a job in Assay's namespace, or one claiming such a job's run as its parent, is 403 naming the job, nothing written", async () => {
    const before = await stored();
    // A run of Assay's own promotion job, as if Assay had run it; and a Spark run claiming Assay's ingest started it.
    const impersonating = runEvent({ job: 'dataset.promote/loans', namespace: 'assay', input: 'staging.loans', output: 'scores.loans' });
    const child = runEvent({ job: 'loans.enrich', namespace: 'spark', input: 'staging.loans', output: 'enriched.loans' });
    (child.run as Json).facets = {
      parent: { ...P, run: { runId: '00000000-0000-4000-8000-00000000beef' }, job: { namespace: 'assay', name: 'dataset.ingest/loans' } },
    };
    const res = await post(clinic.token, [impersonating, child]);
    expect(res.status, res.text).toBe(403);
    expect(res.json.errors).toEqual([
      { field: 'body.0.job', detail: expect.stringMatching(/^assay\/dataset\.promote\/loans is in Assay's lineage namespace: only Assay runs its jobs there/) },
      { field: 'body.1.run.facets.parent.job', detail: expect.stringMatching(/^assay\/dataset\.ingest\/loans is in Assay's lineage namespace/) },
    ]);
    expect(await stored()).toEqual({ ...before, changes: before.changes + 1 });
    const [denied] = (await listAuditEntries(t.db, { action: 'access.deny', principalId: clinic.id })).slice(-1);
    expect(denied?.decision.policyIds).toEqual(['lineage:assay-datasets-written-by-assay']);
    // The same runs under the sender's own namespaces are accepted.
    (impersonating.job as Json).namespace = 'spark';
    ((child.run as Json).facets as { parent: { job: Json } }).parent.job.namespace = 'airflow';
    const accepted = await post(clinic.token, [impersonating, child]);
    expect(accepted.status, accepted.text).toBe(201);
  });
});
