import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotFound } from '../../src/core/index.js';
import { createPrincipal, issueToken } from '../../src/identity/index.js';
import { lineageGraph, recordLineage, visibleClassifications, type LineageChange, type LineageGraph } from '../../src/lineage/index.js';
import { CLASSIFICATIONS } from '../../src/policy/index.js';
import { loadMigrations, migrate, type Db } from '../../src/store/index.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { eachBackend, type OpenedDb } from '../support/databases.js';
import { runEvent } from './fixtures.js';

/**
 * A run is part of its job: it carries the job's namespace, so it lies in a lineage domain at
 * least as narrow as its job's, whichever event (or recorded change) classified the job, before
 * or after the run. Over the real HTTP server for OpenLineage in, through `recordLineage` for
 * Assay's own runs, and through the migration that raises runs stored before; both backends.
 */

type Json = Record<string, unknown>;

const SYSTEM = { actor: { principalId: 'system', kind: 'system', authenticatedBy: 'system' } as const };
const P = { _producer: 'https://p', _schemaURL: 'https://s' };
const tags = (...pairs: Array<[string, string]>): Json => ({ tags: { ...P, tags: pairs.map(([key, value]) => ({ key, value, source: 'USER' })) } });
const classified = (c: string): Json => tags(['classification', c]);
const runIdOf = (e: Json): string => (e.run as Json).runId as string;

describe.each(eachBackend().map((b) => [b.name, b] as const))('a run is as narrow as its job, over HTTP [%s]', (_name, backend) => {
  let t: TestApp;
  let base: string;
  const tokens: Record<'steward' | 'plain' | 'phi' | 'pii', string> = { steward: '', plain: '', phi: '', pii: '' };

  async function principal(name: string, roles: Array<'data-steward' | 'auditor'>, clearance: string[]): Promise<string> {
    const p = await createPrincipal(t.db, { name, kind: 'human', roles, attributes: { clearance } }, SYSTEM);
    return (await issueToken(t.db, { principalId: p.id, name: 'test' }, SYSTEM)).token;
  }

  beforeAll(async () => {
    t = await createTestApp(backend);
    base = await t.app.listen({ host: '127.0.0.1', port: 0 });
    // The sender classifies jobs PHI, so it is cleared for it (sender-clearance.test.ts).
    tokens.steward = await principal('etl', ['data-steward'], ['pii', 'phi', 'pci']);
    tokens.plain = await principal('ann', ['auditor'], []);
    tokens.phi = await principal('phil', ['auditor'], ['phi']);
    tokens.pii = await principal('pia', ['auditor'], ['pii']);
  });
  afterAll(async () => t?.close());

  async function post(body: unknown): Promise<void> {
    const res = await fetch(`${base}/api/v1/lineage`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.steward}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.status, await res.text()).toBe(201);
  }
  /** The graph answer as sent (text, to look for any trace of a name) and parsed. */
  async function read(query: Record<string, string | number>, who: keyof typeof tokens): Promise<{ status: number; text: string; g: LineageGraph }> {
    const qs = new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)]));
    const res = await fetch(`${base}/api/v1/lineage/graph?${qs}`, { headers: { authorization: `Bearer ${tokens[who]}` } });
    const text = await res.text();
    return { status: res.status, text, g: JSON.parse(text) as LineageGraph };
  }
  /** Everything within two steps below a warehouse dataset. */
  const below = (dataset: string, who: keyof typeof tokens) => read({ namespace: 'warehouse', name: dataset, kind: 'dataset', direction: 'down', depth: 2, facets: 'true' }, who);
  const runs = (g: LineageGraph) => g.nodes.filter((n) => n.type === 'external_run');

  it('an untagged run of a PHI job is PHI: an uncleared reader meets it only as withheld, the job\'s namespace nowhere; a PHI reader sees it', async () => {
    const event = runEvent({ job: 'oncology.nightly', namespace: 'clinic-phi', input: 'onc.visits', output: 'onc.summary' });
    (event.job as Json).facets = classified('PHI');
    await post(event);

    const plain = await below('onc.visits', 'plain');
    expect(plain.status).toBe(200);
    expect(runs(plain.g)).toEqual([]);
    expect(plain.g.withheld).toBe(1);
    for (const word of ['clinic-phi', 'oncology', runIdOf(event)]) expect(plain.text).not.toContain(word);

    const phi = await below('onc.visits', 'phi');
    const [run] = runs(phi.g);
    expect(run).toMatchObject({ namespace: 'clinic-phi', name: runIdOf(event), classification: 'PHI' });
    // Asked for by id, the run is not found for the uncleared reader, like the job.
    expect((await read({ node: run!.id }, 'plain')).status).toBe(404);
    expect((await read({ node: run!.id }, 'phi')).status).toBe(200);
  });

  it('a job classified by an earlier event keeps its later untagged runs in its domain, and no later event downgrades a run', async () => {
    const first = runEvent({ job: 'genomics.align', namespace: 'lab', input: 'gen.reads', output: 'gen.aligned' });
    (first.job as Json).facets = classified('PHI');
    await post(first);
    // A second run of the job, its event tagging neither job nor run.
    const second = runEvent({ job: 'genomics.align', namespace: 'lab', input: 'gen.reads', output: 'gen.aligned' });
    await post(second);
    // The first run again: untagged job, the run itself tagged public.
    const again = structuredClone(first);
    (again.job as Json).facets = {};
    (again.run as Json).facets = classified('public');
    again.eventTime = '2030-01-03T00:00:00.000Z';
    await post(again);

    const phi = await below('gen.reads', 'phi');
    expect(runs(phi.g).map((r) => [r.name, r.classification]).sort()).toEqual([[runIdOf(first), 'PHI'], [runIdOf(second), 'PHI']].sort());
    const plain = await below('gen.reads', 'plain');
    expect(runs(plain.g)).toEqual([]);
    expect(plain.g.withheld).toBe(2);
    expect(plain.text).not.toContain('"lab"');
  });

  it('a job classified PHI by a later event narrows the runs already stored', async () => {
    const r1 = runEvent({ job: 'claims.rollup', namespace: 'billing', input: 'cl.raw', output: 'cl.rolled' });
    const r2 = runEvent({ job: 'claims.rollup', namespace: 'billing', input: 'cl.raw', output: 'cl.rolled' });
    await post([r1, r2]);
    expect(runs((await below('cl.raw', 'plain')).g).map((r) => r.classification)).toEqual(['internal', 'internal']);

    // A JobEvent (no run at all) tags the job PHI.
    await post({
      eventTime: '2030-01-04T00:00:00.000Z',
      producer: 'https://example.com/tests',
      schemaURL: 'https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/JobEvent',
      job: { namespace: 'billing', name: 'claims.rollup', facets: classified('PHI') },
      inputs: [],
      outputs: [],
    });
    const plain = await below('cl.raw', 'plain');
    expect(runs(plain.g)).toEqual([]);
    expect(plain.g.withheld).toBe(2);
    expect(plain.text).not.toContain('billing');
    expect(runs((await below('cl.raw', 'phi')).g).map((r) => r.classification)).toEqual(['PHI', 'PHI']);
  });

  it('a run tagged PII of a PHI job is PHI: a reader cleared for PII alone does not see it', async () => {
    const event = runEvent({ job: 'ward.export', namespace: 'hospital', input: 'ward.in', output: 'ward.out' });
    (event.job as Json).facets = classified('PHI');
    (event.run as Json).facets = tags(['pii', 'true']);
    await post(event);
    const pii = await below('ward.in', 'pii');
    expect(runs(pii.g)).toEqual([]);
    expect(pii.text).not.toContain('hospital');
    expect(runs((await below('ward.in', 'phi')).g)).toMatchObject([{ classification: 'PHI' }]);
  });

  it('a parent run known only from a child\'s ParentRunFacet is as narrow as its job, classified PHI by an earlier event', async () => {
    const parent = runEvent({ job: 'hiv.cohort', namespace: 'scheduler-phi' });
    delete parent.inputs;
    delete parent.outputs;
    (parent.job as Json).facets = classified('PHI');
    await post(parent);
    // Another run of the same DAG job, never reported itself, is named as the parent of a child run.
    const parentRunId = '00000000-0000-4000-8000-0000000fffff';
    const child = runEvent({ job: 'cohort.extract', namespace: 'etl', input: 'cohort.in', output: 'cohort.out' });
    (child.run as Json).facets = { parent: { ...P, run: { runId: parentRunId }, job: { namespace: 'scheduler-phi', name: 'hiv.cohort' } } };
    await post(child);

    const up = (who: keyof typeof tokens) => read({ namespace: 'warehouse', name: 'cohort.out', kind: 'dataset', direction: 'up', depth: 3, facets: 'true' }, who);
    const plain = await up('plain');
    for (const word of ['scheduler-phi', 'hiv.cohort', parentRunId]) expect(plain.text).not.toContain(word);
    expect(runs(plain.g).map((r) => r.namespace)).toEqual(['etl']);
    const phi = await up('phi');
    expect(runs(phi.g).find((r) => r.name === parentRunId)).toMatchObject({ namespace: 'scheduler-phi', classification: 'PHI' });
  });
});

const ALL = [...CLASSIFICATIONS];
const UNCLEARED = visibleClassifications({ clearance: [], elevatedBreakGlass: false });

describe.each(eachBackend().map((b) => [b.name, b] as const))('a run is as narrow as its job, in the store [%s]', (_name, backend) => {
  let opened: OpenedDb;
  let db: Db;
  beforeAll(async () => {
    opened = await backend.open();
    db = opened.db;
  });
  afterAll(async () => opened?.cleanup());

  const record = (change: LineageChange): Promise<void> => db.transaction((tx) => recordLineage(tx, change));
  const classOf = async (id: string): Promise<string | undefined> =>
    (await db.query<{ classification: string }>('SELECT classification FROM lineage_nodes WHERE id = $1', [id])).rows[0]?.classification;
  const externalClassOf = async (type: string, namespace: string, name: string): Promise<string | undefined> =>
    (await db.query<{ classification: string }>('SELECT classification FROM lineage_nodes WHERE type = $1 AND namespace = $2 AND name = $3', [type, namespace, name])).rows[0]
      ?.classification;

  it('the migration raises the runs stored before it to their jobs\' classification, and nothing else', async () => {
    const shipped = loadMigrations();
    const mine = shipped.findIndex((m) => m.name === '0016_lineage_runs_as_narrow_as_jobs.sql');
    expect(mine).toBeGreaterThan(0);
    await migrate(db, shipped.slice(0, mine));
    // What the earlier code stored: untagged runs of classified jobs, as internal.
    const node = (id: string, type: string, classification: string, ns?: string): Promise<unknown> =>
      db.query('INSERT INTO lineage_nodes (id, type, namespace, name, classification) VALUES ($1, $2, $3, $4, $5)', [id, type, ns ?? null, ns ? id : null, classification]);
    await node('lnd_phijob', 'external_job', 'PHI', 'clinic');
    await node('lnd_run1', 'external_run', 'internal', 'clinic');
    await node('lnd_run2', 'external_run', 'PII', 'clinic');
    await node('lnd_pcijob', 'external_job', 'PCI', 'cards');
    await node('lnd_run3', 'external_run', 'PHI', 'cards');
    await node('lnd_pubjob', 'external_job', 'public', 'open');
    await node('lnd_run4', 'external_run', 'confidential', 'open');
    await node('lnd_out', 'external_dataset', 'internal', 'clinic');
    await db.query(
      `INSERT INTO lineage_edges (src, dst, type)
       SELECT s.key, d.key, x.type FROM (VALUES ('lnd_phijob', 'lnd_run1', 'run_of'), ('lnd_phijob', 'lnd_run2', 'run_of'), ('lnd_pcijob', 'lnd_run3', 'run_of'),
                                             ('lnd_pubjob', 'lnd_run4', 'run_of'), ('lnd_run1', 'lnd_out', 'output')) AS x(s, d, type)
       JOIN lineage_nodes s ON s.id = x.s JOIN lineage_nodes d ON d.id = x.d`,
    );
    expect((await migrate(db)).applied.map((m) => m.name)[0]).toBe('0016_lineage_runs_as_narrow_as_jobs.sql');
    expect(await classOf('lnd_run1')).toBe('PHI');
    expect(await classOf('lnd_run2')).toBe('PHI');
    // Already narrower than its job (PHI before PCI), or than a public job: left as it was.
    expect(await classOf('lnd_run3')).toBe('PHI');
    expect(await classOf('lnd_run4')).toBe('confidential');
    expect(await classOf('lnd_out')).toBe('internal');
  });

  it("Assay's own runs: a run recorded with a wider classification than its job takes the job's, and a job raised later raises its runs", async () => {
    await migrate(db);
    await record({
      nodes: [
        { id: 'job_PHI1', type: 'job', classification: 'PHI', name: 'derive:ward' },
        { id: 'run_PHI1', type: 'run', classification: 'internal', name: 'derive:ward v1' },
      ],
      edges: [{ from: 'job_PHI1', to: 'run_PHI1', type: 'run_of' }],
    });
    expect(await classOf('run_PHI1')).toBe('PHI');

    await record({
      nodes: [
        { id: 'job_LATE1', type: 'job', classification: 'internal', name: 'train:x' },
        { id: 'run_LATE1', type: 'run', classification: 'internal' },
        { id: 'run_LATE2', type: 'run', classification: 'internal' },
      ],
      edges: [
        { from: 'job_LATE1', to: 'run_LATE1', type: 'run_of' },
        { from: 'job_LATE1', to: 'run_LATE2', type: 'run_of' },
      ],
    });
    expect(await classOf('run_LATE1')).toBe('internal');
    // The job alone, recorded again as PCI: both runs follow it out of everyone's sight but PCI's.
    await record({ nodes: [{ id: 'job_LATE1', type: 'job', classification: 'PCI' }] });
    expect([await classOf('run_LATE1'), await classOf('run_LATE2')]).toEqual(['PCI', 'PCI']);
    await expect(lineageGraph(db, { start: { id: 'run_LATE1' }, depth: 1, direction: 'both', visible: UNCLEARED })).rejects.toBeInstanceOf(NotFound);
    const all = await lineageGraph(db, { start: { id: 'job_LATE1' }, depth: 1, direction: 'down', visible: ALL });
    expect(all.nodes.map((n) => n.classification)).toEqual(['PCI', 'PCI', 'PCI']);
  });

  it('an Assay run of an OpenLineage job named by namespace and name takes the job\'s classification', async () => {
    await migrate(db);
    await record({
      nodes: [{ id: 'run_EXT1', type: 'run', classification: 'public' }],
      edges: [{ from: { kind: 'job', namespace: 'airflow', name: 'phi.dag', classification: 'PHI' }, to: 'run_EXT1', type: 'run_of' }],
    });
    expect(await externalClassOf('external_job', 'airflow', 'phi.dag')).toBe('PHI');
    expect(await classOf('run_EXT1')).toBe('PHI');
  });
});
