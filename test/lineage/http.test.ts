import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAuditEntries } from '../../src/audit/index.js';
import { canonicalBytes, sha256Hex } from '../../src/core/index.js';
import { createPrincipal, issueToken, type Role } from '../../src/identity/index.js';
import { eventsSha256, MAX_EVENTS_PER_REQUEST, type FacetPosition, type LineageGraph } from '../../src/lineage/index.js';
import { changeEntryCount, createPrincipalWithToken, createTestApp, type TestApp } from '../support/app.js';
import { eachBackend } from '../support/databases.js';
import { exampleFullEvent, facetExamples, positionOf, runEvent, withFacet, without } from './fixtures.js';

/**
 * OpenLineage in and the graph out, over the real HTTP server on a loopback port, on both
 * backends: Marquez-compatible ingestion validated against the official schemas, all or
 * nothing, audited in the same transaction; graph queries by Assay id and by OpenLineage
 * namespace and name, with lineage domains and problem+json for every bad request.
 */

interface Problem {
  type: string;
  status: number;
  code: string;
  detail: string;
  errors?: Array<{ field: string; detail: string }>;
}

type Json = Record<string, unknown>;

const SYSTEM = { actor: { principalId: 'system', kind: 'system', authenticatedBy: 'system' } as const };

describe.each(eachBackend().map((b) => [b.name, b] as const))('lineage over HTTP [%s]', (_name, backend) => {
  let t: TestApp;
  let base: string;
  let steward: { id: string; token: string };
  let auditor: { id: string; token: string };
  let phiAuditor: { id: string; token: string };

  async function withClearance(name: string, roles: Role[], clearance: string[]): Promise<{ id: string; token: string }> {
    const p = await createPrincipal(t.db, { name, kind: 'human', roles, attributes: { clearance } }, SYSTEM);
    return { id: p.id, token: (await issueToken(t.db, { principalId: p.id, name: 'test' }, SYSTEM)).token };
  }

  beforeAll(async () => {
    t = await createTestApp(backend);
    base = await t.app.listen({ host: '127.0.0.1', port: 0 });
    // The orchestrator classifies datasets into every regulated domain, so it is cleared for each.
    steward = await createPrincipalWithToken(t.db, { name: 'airflow', roles: ['data-steward'], kind: 'service', attributes: { clearance: ['pii', 'phi', 'pci'] } });
    auditor = await createPrincipalWithToken(t.db, { name: 'ann-auditor', roles: ['auditor'] });
    phiAuditor = await withClearance('phil-auditor', ['auditor'], ['phi']);
  });
  afterAll(async () => t?.close());

  async function call<T>(method: 'GET' | 'POST', path: string, options: { token?: string; body?: unknown; raw?: string } = {}): Promise<{ status: number; type: string; json: T }> {
    const payload = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
    const res = await fetch(base + path, {
      method,
      headers: { authorization: `Bearer ${options.token ?? steward.token}`, ...(payload !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(payload !== undefined ? { body: payload } : {}),
    });
    const text = await res.text();
    return { status: res.status, type: res.headers.get('content-type') ?? '', json: (text ? JSON.parse(text) : undefined) as T };
  }
  const post = (body: unknown, path = '/api/v1/lineage') => call<Json & Problem>('POST', path, { body });
  const graph = (query: string, token = auditor.token) => call<LineageGraph & Problem>('GET', `/api/v1/lineage/graph?${query}`, { token });
  const q = (params: Record<string, string | number>): string => new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)])).toString();
  const counts = async (): Promise<{ nodes: number; events: number; changes: number }> => ({
    nodes: Number((await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM lineage_nodes')).rows[0]!.n),
    events: Number((await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM lineage_events')).rows[0]!.n),
    changes: await changeEntryCount(t.db),
  });

  it("accepts the OpenLineage project's full example event: graph, raw event and audit entry, together", async () => {
    const event = exampleFullEvent();
    const res = await post(event);
    expect(res.status, JSON.stringify(res.json)).toBe(201);
    const receipt = res.json as unknown as { received: number; eventIds: string[]; auditEntryId: string };
    expect(receipt.received).toBe(1);

    const g = await graph(q({ namespace: 'food_delivery', name: 'dbt', kind: 'job', facets: 'true' }));
    expect(g.status).toBe(200);
    const job = g.json.nodes[0]!;
    expect(job).toMatchObject({ type: 'external_job', namespace: 'food_delivery', name: 'dbt', distance: 0, facets: { sql: { query: 'SELECT 1' } } });
    const run = g.json.nodes.find((n) => n.type === 'external_run')!;
    expect(run).toMatchObject({ name: 'f69a6e9b-9bac-3c9a-9cf6-eacb70ecc9a9', attributes: { state: 'COMPLETE' } });
    expect(g.json.edges).toEqual([{ from: job.id, to: run.id, type: 'run_of', facets: {} }]);

    const stored = await t.db.query<{ event: Json; audit_entry_id: string; principal_id: string; kind: string; sha256: string }>(
      'SELECT event, audit_entry_id, principal_id, kind, sha256 FROM lineage_events WHERE id = $1',
      [receipt.eventIds[0]],
    );
    expect(stored.rows[0]).toMatchObject({ event, audit_entry_id: receipt.auditEntryId, principal_id: steward.id, kind: 'RunEvent' });
    const [entry] = await listAuditEntries(t.db, { action: 'lineage.events.ingest', resourceId: receipt.eventIds[0] });
    expect(entry).toMatchObject({ id: receipt.auditEntryId, actor: { principalId: steward.id, kind: 'service' }, outcome: 'succeeded' });
    expect(entry!.reason).toContain(`sha256:${stored.rows[0]!.sha256}`);
  });

  it('vouches in its one audit entry for every event of a full batch, past what the entry can name one by one', async () => {
    const events = Array.from({ length: MAX_EVENTS_PER_REQUEST }, (_, i) => runEvent({ job: `batch.job.${i}`, output: `batch.out.${i}` }));
    const res = await post(events);
    expect(res.status, JSON.stringify(res.json).slice(0, 500)).toBe(201);
    const receipt = res.json as unknown as { eventIds: string[]; auditEntryId: string };
    // As an examiner recomputes it: the stored events in id order, each event's hash, one digest.
    const stored = await t.db.query<{ id: string; sha256: string }>('SELECT id, sha256 FROM lineage_events WHERE audit_entry_id = $1 ORDER BY id', [receipt.auditEntryId]);
    expect(stored.rows.map((r) => r.id)).toEqual(receipt.eventIds);
    expect(stored.rows.map((r) => r.sha256)).toEqual(events.map((e) => sha256Hex(canonicalBytes(e))));
    const [entry] = await listAuditEntries(t.db, { action: 'lineage.events.ingest', resourceId: receipt.eventIds[0] });
    expect(entry!.reason!.length).toBeLessThanOrEqual(2000);
    expect(entry!.reason).not.toContain(stored.rows.at(-1)!.sha256);
    expect(entry!.reason).toContain(`events sha256:${sha256Hex(canonicalBytes(stored.rows.map((r) => r.sha256)))}`);
    expect(eventsSha256(stored.rows.map((r) => r.sha256))).toBe(sha256Hex(canonicalBytes(stored.rows.map((r) => r.sha256))));
    // The events it names end at a whole one, and it says how many it left out.
    expect(entry!.reason).toMatch(new RegExp(`sha256:[0-9a-f]{64} … and ${MAX_EVENTS_PER_REQUEST - (entry!.reason!.match(/ sha256:[0-9a-f]{64}/g)!.length - 1)} more$`));
  });

  // Where each position's facet is read back from: the job node (walking down from the job), or
  // the run node, the output dataset and the two edges (walking down from the input dataset:
  // the job is upstream of its run, so it is not on that walk).
  async function readBack(position: FacetPosition, names: { job: string; input: string; output: string }): Promise<Record<string, unknown> | undefined> {
    const from = position === 'job' ? { namespace: 'tests', name: names.job, kind: 'job' } : { namespace: 'warehouse', name: names.input, kind: 'dataset' };
    const g = (await graph(q({ ...from, direction: 'down', depth: 2, facets: 'true' }))).json;
    const node = (type: string, name?: string) => g.nodes.find((n) => n.type === type && (name === undefined || n.name === name));
    if (position === 'job') return node('external_job')?.facets;
    if (position === 'run') return node('external_run')?.facets;
    if (position === 'dataset') return node('external_dataset', names.output)?.facets;
    return g.edges.find((e) => e.type === position)?.facets;
  }

  it.each(facetExamples().map((e) => [e.label, e] as const))('accepts and keeps the facet example %s in a run event', async (label, example) => {
    const position = positionOf(example);
    const names = { job: `job.${label}`, input: `in.${label}`, output: `out.${label}` };
    const event = withFacet(runEvent({ job: names.job, input: names.input, output: names.output }), { position, key: example.key, facet: example.facet });
    const res = await post(event);
    expect(res.status, JSON.stringify(res.json)).toBe(201);
    expect((await readBack(position, names))?.[example.key]).toEqual(example.facet);
  });

  it('merges column-level lineage and later facets into the same dataset node, and deletes a facet on request', async () => {
    const producer = { _producer: 'https://example.com/p', _schemaURL: 'https://example.com/s' };
    const first = withFacet(runEvent({ job: 'merge.job', output: 'merge.out' }), { position: 'dataset', key: 'documentation', facet: { ...producer, description: 'v1' } });
    const second = withFacet(runEvent({ job: 'merge.job', output: 'merge.out' }), { position: 'dataset', key: 'columnLineage', facet: { ...producer, fields: { a: { inputFields: [{ namespace: 'warehouse', name: 'in.table', field: 'a' }] } } } });
    expect((await post([first, second])).status).toBe(201);
    const read = async () => (await graph(q({ namespace: 'warehouse', name: 'merge.out', kind: 'dataset', depth: 0, facets: 'true' }))).json.nodes[0]!.facets!;
    expect(Object.keys(await read()).sort()).toEqual(['columnLineage', 'documentation']);
    const deletion = withFacet(runEvent({ job: 'merge.job', output: 'merge.out' }), { position: 'dataset', key: 'documentation', facet: { ...producer, _deleted: true } });
    expect((await post(deletion)).status).toBe(201);
    expect(Object.keys(await read())).toEqual(['columnLineage']);
    // Two runs of one job: one job node, two run nodes, one output dataset.
    const g = await graph(q({ namespace: 'tests', name: 'merge.job', kind: 'job', direction: 'down', depth: 2 }));
    expect(g.json.nodes.filter((n) => n.type === 'external_run')).toHaveLength(3);
    expect(g.json.nodes.filter((n) => n.type === 'external_dataset')).toHaveLength(1);
  });

  it('keys names as sent, without Unicode normalisation: a composed and a decomposed name are two datasets, each found in its own form', async () => {
    // On Linux and in S3, "café" in NFC and in NFD are two different paths or keys: merging them would join two files' lineage.
    const composed = 'lake/caf\u00e9.parquet';
    const decomposed = 'lake/cafe\u0301.parquet';
    expect(composed.normalize('NFC')).toBe(decomposed.normalize('NFC'));
    expect((await post([runEvent({ job: 'nfc.writer', output: composed }), runEvent({ job: 'nfd.writer', output: decomposed })])).status).toBe(201);
    for (const [name, writer] of [[composed, 'nfc.writer'], [decomposed, 'nfd.writer']] as const) {
      const g = await graph(q({ namespace: 'warehouse', name, kind: 'dataset', direction: 'up', depth: 2 }));
      expect(g.status).toBe(200);
      expect(g.json.nodes[0]).toMatchObject({ type: 'external_dataset', name, distance: 0 });
      expect(g.json.nodes.filter((n) => n.type === 'external_job').map((n) => n.name)).toEqual([writer]);
    }
  });

  it('links a run to its parent run (ParentRunFacet) and accepts the batch endpoint', async () => {
    const parent = runEvent({ job: 'dag.parent', namespace: 'airflow' });
    const child = withFacet(runEvent({ job: 'dag.child', namespace: 'airflow' }), {
      position: 'run',
      key: 'parent',
      facet: { _producer: 'https://p', _schemaURL: 'https://s', run: { runId: (parent.run as Json).runId }, job: { namespace: 'airflow', name: 'dag.parent' } },
    });
    const res = await post([parent, child], '/api/v1/lineage/batch');
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ status: 'success', summary: { received: 2, successful: 2, failed: 0 } });
    const g = await graph(q({ namespace: 'airflow', name: 'dag.parent', kind: 'job', direction: 'down', depth: 3 }));
    // parent job → parent run → child run (the child's job is upstream of the child run, not on this walk).
    const childRunId = (child.run as Json).runId as string;
    const childRun = g.json.nodes.find((n) => n.name === childRunId);
    expect(childRun).toMatchObject({ type: 'external_run', namespace: 'airflow', distance: 2 });
    expect(g.json.edges.find((e) => e.type === 'parent')?.to).toBe(childRun!.id);
  });

  describe('bad input: 400 problem+json naming the field, nothing written', () => {
    it.each<[string, () => unknown, string]>([
      ['a RunEvent without run.runId', () => without(runEvent(), ['run', 'runId']), 'body.run.runId'],
      ['a RunEvent without job.namespace', () => without(runEvent(), ['job', 'namespace']), 'body.job.namespace'],
      ['a RunEvent without eventTime', () => without(runEvent(), ['eventTime']), 'body.eventTime'],
      ['an input without its name', () => without(runEvent(), ['inputs', 0, 'name']), 'body.inputs.0.name'],
      ['a facet without _producer', () => withFacet(runEvent(), { position: 'run', key: 'nominalTime', facet: { _schemaURL: 'https://s', nominalStartTime: '2030-01-01T00:00:00Z' } }), 'body.run.facets.nominalTime._producer'],
      ['a standard facet missing its own required field', () => withFacet(runEvent(), { position: 'job', key: 'sql', facet: { _producer: 'https://p', _schemaURL: 'https://s' } }), 'body.job.facets.sql.query'],
      ['a batch whose second event is invalid', () => [runEvent({ job: 'never.stored' }), without(runEvent(), ['producer'])], 'body.1.producer'],
      ['an empty array', () => [], 'body'],
      ['a JSON string', () => 'START', 'body'],
    ])('%s', async (_what, make, field) => {
      const before = await counts();
      const res = await post(make());
      expect(res.status).toBe(400);
      expect(res.type).toContain('application/problem+json');
      expect(res.json.errors?.map((e) => e.field)).toContain(field);
      expect(await counts()).toEqual(before);
    });

    it('a batch is all or nothing: the valid event of a refused batch is nowhere', async () => {
      await post([runEvent({ job: 'never.stored' }), without(runEvent(), ['run', 'runId'])], '/api/v1/lineage/batch');
      expect((await graph(q({ namespace: 'tests', name: 'never.stored', kind: 'job' }))).status).toBe(404);
    });

    it('a namespace or name holding a control or bidi character (it would reach the audit entry and terminals) → 400 naming each, nothing written', async () => {
      const before = await counts();
      const forged = withFacet(runEvent({ job: 'forged\u001b[2K\rapproved', output: 'out\nFAKE LINE' }), {
        position: 'run',
        key: 'parent',
        facet: { _producer: 'https://p', _schemaURL: 'https://s', run: { runId: '00000000-0000-4000-8000-00000000f00d' }, job: { namespace: 'air\u202Eflow', name: 'dag' } },
      });
      (forged.inputs as Json[])[0]!.namespace = 'ware\thouse';
      const res = await post([runEvent({ job: 'plain.neighbour' }), forged]);
      expect(res.status).toBe(400);
      expect(res.json.errors?.map((e) => e.field)).toEqual(['body.1.job.name', 'body.1.inputs.0.namespace', 'body.1.outputs.0.name', 'body.1.run.facets.parent.job.namespace']);
      expect(res.json.errors?.[0]?.detail).toContain('U+001B');
      expect(await counts()).toEqual(before);
    });

    it.each(['text/plain', 'application/xml', undefined])('an event sent as %s → 415 naming headers.content-type (accepted: application/json), nothing written', async (type) => {
      const before = await counts();
      for (const path of ['/api/v1/lineage', '/api/v1/lineage/batch']) {
        const res = await fetch(base + path, {
          method: 'POST',
          headers: { authorization: `Bearer ${steward.token}`, ...(type ? { 'content-type': type } : {}) },
          // A Buffer: fetch gives a string body its own text/plain type.
          body: Buffer.from(JSON.stringify(runEvent({ job: 'sent.as.text' }))),
        });
        expect(res.status, path).toBe(415);
        expect(res.headers.get('content-type')).toContain('application/problem+json');
        expect(await res.json()).toMatchObject({ errors: [{ field: 'headers.content-type', detail: `${type ? `unsupported: ${type}` : 'missing'}; accepted: application/json` }] });
      }
      expect(await counts()).toEqual(before);
    });

    it('malformed JSON is refused before any validation', async () => {
      const res = await call<Problem>('POST', '/api/v1/lineage', { raw: '{"eventTime": ' });
      expect(res.status).toBe(400);
      expect(res.json.errors?.[0]?.field).toBe('body');
    });
  });

  describe('graph queries', () => {
    it.each([
      [q({ node: 'lnd_x', namespace: 'a', name: 'b', kind: 'job' }), 'query.node'],
      [q({ namespace: 'a', name: 'b' }), 'query.kind'],
      [q({ name: 'b', kind: 'dataset' }), 'query.namespace'],
      [q({ node: 'x', depth: 21 }), 'query.depth'],
      [q({ node: 'x', depth: -1 }), 'query.depth'],
      [q({ node: 'x', direction: 'sideways' }), 'query.direction'],
      [q({ node: 'x', limit: 0 }), 'query.limit'],
      [q({ node: 'x', kind: 'model' }), 'query.kind'],
      [q({ node: 'x', colour: 'red' }), 'query.colour'],
      ['', 'query.namespace'],
    ])('?%s → 400 naming %s', async (query, field) => {
      const res = await graph(query);
      expect(res.status).toBe(400);
      expect(res.type).toContain('application/problem+json');
      expect(res.json.errors?.map((e) => e.field)).toContain(field);
    });

    it('an unknown node → 404 problem+json', async () => {
      for (const query of [q({ node: 'dsv_01J0000000000000000000NONE' }), q({ namespace: 'nowhere', name: 'nothing', kind: 'dataset' })]) {
        const res = await graph(query);
        expect(res.status).toBe(404);
        expect(res.json).toMatchObject({ code: 'not_found', type: 'urn:assay:problem:not_found' });
      }
    });

    it('a PHI dataset is withheld from an auditor without PHI clearance, counted but not named, and shown to one with it', async () => {
      const phi = { _producer: 'https://p', _schemaURL: 'https://s', tags: [{ key: 'classification', value: 'PHI', source: 'USER' }] };
      const event = runEvent({ job: 'claims.etl', input: 'patients.visits', output: 'claims.summary' });
      (event.inputs as Json[])[0]!.facets = { tags: phi };
      expect((await post(event)).status).toBe(201);

      const query = q({ namespace: 'warehouse', name: 'claims.summary', kind: 'dataset', direction: 'up', depth: 5 });
      const hidden = await graph(query, auditor.token);
      expect(hidden.status).toBe(200);
      expect(hidden.json.withheld).toBe(1);
      expect(hidden.json.nodes.map((n) => n.name)).not.toContain('patients.visits');
      expect(JSON.stringify(hidden.json)).not.toContain('patients');
      const shown = await graph(query, phiAuditor.token);
      expect(shown.json.withheld).toBe(0);
      expect(shown.json.nodes.find((n) => n.name === 'patients.visits')).toMatchObject({ classification: 'PHI', type: 'external_dataset' });
      expect(shown.json.edges).toHaveLength(hidden.json.edges.length + 1);

      // The PHI dataset itself, asked for directly: not found for the one, found for the other.
      const direct = q({ namespace: 'warehouse', name: 'patients.visits', kind: 'dataset' });
      expect((await graph(direct, auditor.token)).status).toBe(404);
      expect((await graph(direct, phiAuditor.token)).status).toBe(200);
    });

    it('facets name no node the caller may not see: references to hidden datasets, jobs and runs are withheld, for a cleared caller they stay', async () => {
      const p = { _producer: 'https://p', _schemaURL: 'https://s' };
      const phiTags = { ...p, tags: [{ key: 'classification', value: 'PHI', source: 'USER' }] };
      const secret = { namespace: 'secret-clinic', name: 'hiv_patients_2024' };
      const visible = { namespace: 'warehouse', name: 'public.visits' };
      const unknown = { namespace: 'nowhere', name: 'never.reported' };
      // The parent DAG run is PHI (its job and its run both tagged).
      const parentEvent = runEvent({ job: 'hiv_cohort_dag', namespace: 'scheduler' });
      delete parentEvent.inputs;
      delete parentEvent.outputs;
      (parentEvent.job as Json).facets = { tags: phiTags };
      (parentEvent.run as Json).facets = { tags: phiTags };
      const parentRunId = (parentEvent.run as Json).runId as string;
      const event = runEvent({ job: 'lake.aggregate', namespace: 'lake-etl' });
      const columnLineage = {
        ...p,
        fields: {
          diagnosis_count: { inputFields: [{ ...secret, field: 'diagnosis', transformations: [{ type: 'INDIRECT', subtype: 'GROUP_BY' }] }, { ...visible, field: 'visit_id' }, { ...unknown, field: 'x' }] },
        },
        dataset: [{ ...secret, field: 'diagnosis', transformations: [{ type: 'INDIRECT', subtype: 'FILTER' }] }],
      };
      const symlinks = { ...p, identifiers: [{ ...secret, type: 'TABLE' }, { namespace: 'hive', name: 'lake.agg_stats', type: 'TABLE' }] };
      event.inputs = [
        { ...secret, facets: { tags: phiTags }, inputFacets: {} },
        // A custom input facet on a visible edge, naming the hidden dataset the OpenLineage way.
        { ...visible, facets: {}, inputFacets: { joinedWith: { ...p, source: { ...secret } } } },
      ];
      event.outputs = [{ namespace: 's3://lake', name: 'agg_stats', facets: { columnLineage, symlinks }, outputFacets: {} }];
      (event.run as Json).facets = { parent: { ...p, run: { runId: parentRunId }, job: { namespace: 'scheduler', name: 'hiv_cohort_dag' } } };
      expect((await post([parentEvent, event])).status).toBe(201);

      const scientist = await withClearance('dana-scientist', ['data-scientist'], []);
      const phiScientist = await withClearance('phoebe-scientist', ['data-scientist'], ['phi']);
      const path = `/api/v1/lineage/graph?${q({ namespace: 's3://lake', name: 'agg_stats', kind: 'dataset', direction: 'up', depth: 2, facets: 'true' })}`;
      const read = async (token: string): Promise<{ text: string; g: LineageGraph }> => {
        const res = await fetch(base + path, { headers: { authorization: `Bearer ${token}` } });
        expect(res.status).toBe(200);
        const text = await res.text();
        return { text, g: JSON.parse(text) as LineageGraph };
      };

      const hidden = await read(scientist.token);
      for (const word of ['secret-clinic', 'hiv_patients_2024', 'diagnosis"', 'hiv_cohort_dag', parentRunId]) expect(hidden.text).not.toContain(word);
      // The PHI input and the PHI parent run: met, counted, not named.
      expect(hidden.g.withheld).toBe(2);
      const W = { withheld: true };
      const out = hidden.g.nodes.find((n) => n.name === 'agg_stats')!;
      expect(out.facets!.columnLineage).toEqual({
        ...columnLineage,
        fields: { diagnosis_count: { inputFields: [W, { ...visible, field: 'visit_id' }, { ...unknown, field: 'x' }] } },
        dataset: [W],
      });
      expect(out.facets!.symlinks).toEqual({ ...symlinks, identifiers: [W, symlinks.identifiers[1]] });
      const run = hidden.g.nodes.find((n) => n.type === 'external_run')!;
      expect(run.facets!.parent).toEqual({ ...p, run: W, job: W });
      const inputEdge = hidden.g.edges.find((e) => e.type === 'input' && e.to === run.id)!;
      expect(inputEdge.facets).toEqual({ joinedWith: { ...p, source: W } });

      const shown = await read(phiScientist.token);
      expect(shown.g.withheld).toBe(0);
      expect(shown.text).toContain('hiv_patients_2024');
      expect(shown.g.nodes.find((n) => n.name === 'agg_stats')!.facets).toEqual({ columnLineage, symlinks });
      expect(shown.g.nodes.find((n) => n.type === 'external_run' && n.name !== parentRunId && n.distance === 1)!.facets!.parent).toMatchObject({ job: { namespace: 'scheduler', name: 'hiv_cohort_dag' } });
      expect(shown.g.edges.find((e) => e.type === 'input' && e.to === run.id && e.facets?.joinedWith)!.facets).toEqual({ joinedWith: { ...p, source: secret } });
    });

    it('who may send events and read the graph is policy: an app client may do neither', async () => {
      const app = await createPrincipalWithToken(t.db, { name: 'scoring-app', roles: ['app-client'], kind: 'service' });
      const sent = await call<Problem>('POST', '/api/v1/lineage', { token: app.token, body: runEvent() });
      expect(sent.status).toBe(403);
      expect(sent.json.detail).toContain('lineage.ingest-events');
      expect((await graph(q({ node: 'x' }), app.token)).status).toBe(403);
    });
  });
});
