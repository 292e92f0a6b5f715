import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Conflict, NotFound, ValidationFailed } from '../../src/core/index.js';
import { lineageGraph, recordLineage, visibleClassifications, type GraphQuery, type LineageChange, type LineageGraph } from '../../src/lineage/index.js';
import { CLASSIFICATIONS } from '../../src/policy/index.js';
import { migrate, type Db } from '../../src/store/index.js';
import { eachBackend, type OpenedDb } from '../support/databases.js';

/**
 * The lineage graph in the real database, on both backends: what other modules record with
 * `recordLineage`, and what `lineageGraph` answers — depth, direction, cycles, the node cap,
 * and lineage domains.
 */

const ALL = [...CLASSIFICATIONS];
const UNCLEARED = visibleClassifications({ clearance: [], elevatedBreakGlass: false });

describe('lineage domains', () => {
  it('regulated classes need their clearance; elevated break-glass sees everything', () => {
    expect(UNCLEARED).toEqual(['public', 'internal', 'confidential']);
    expect(visibleClassifications({ clearance: ['phi'], elevatedBreakGlass: false })).toEqual(['public', 'internal', 'confidential', 'PHI']);
    expect(visibleClassifications({ clearance: ['PII', 'pci'], elevatedBreakGlass: false })).toEqual(['public', 'internal', 'confidential', 'PII', 'PCI']);
    expect(visibleClassifications({ clearance: [], elevatedBreakGlass: true })).toEqual(ALL);
  });
});

describe.each(eachBackend().map((b) => [b.name, b] as const))('lineage graph [%s]', (_name, backend) => {
  let opened: OpenedDb;
  let db: Db;
  beforeAll(async () => {
    opened = await backend.open();
    db = opened.db;
    await migrate(db);
  });
  afterAll(async () => opened?.cleanup());

  const record = (change: LineageChange): Promise<void> => db.transaction((tx) => recordLineage(tx, change));
  const graph = (q: Partial<GraphQuery> & Pick<GraphQuery, 'start'>): Promise<LineageGraph> =>
    lineageGraph(db, { depth: 10, direction: 'both', visible: ALL, ...q });
  const ids = (g: LineageGraph): string[] => g.nodes.map((n) => n.id).sort();
  const edges = (g: LineageGraph): string[] => g.edges.map((e) => `${e.from}>${e.to}:${e.type}`).sort();

  // raw → dataset version → run (of a job) → model version → deployment → inference
  beforeAll(async () => {
    await record({
      nodes: [
        { id: 'rsn_A', type: 'raw_snapshot', classification: 'internal' },
        { id: 'dsv_A', type: 'dataset_version', classification: 'internal', name: 'german-credit' },
        { id: 'job_A', type: 'job', classification: 'internal' },
        { id: 'run_A', type: 'run', classification: 'internal' },
        { id: 'mv_A', type: 'model_version', classification: 'internal' },
        { id: 'dep_A', type: 'deployment', classification: 'internal' },
        { id: 'inf_A', type: 'inference', classification: 'internal' },
      ],
      edges: [
        { from: 'rsn_A', to: 'dsv_A', type: 'promoted' },
        { from: 'dsv_A', to: 'run_A', type: 'input' },
        { from: 'job_A', to: 'run_A', type: 'run_of' },
        { from: 'run_A', to: 'mv_A', type: 'output' },
        { from: 'mv_A', to: 'dep_A', type: 'deployed' },
        { from: 'dep_A', to: 'inf_A', type: 'served' },
      ],
    });
  });

  it('walks an inference back to its raw snapshot in one answer, every edge upstream → downstream', async () => {
    const g = await graph({ start: { id: 'inf_A' }, direction: 'up' });
    expect(ids(g)).toEqual(['dep_A', 'dsv_A', 'inf_A', 'job_A', 'mv_A', 'rsn_A', 'run_A']);
    expect(edges(g)).toEqual([
      'dep_A>inf_A:served',
      'dsv_A>run_A:input',
      'job_A>run_A:run_of',
      'mv_A>dep_A:deployed',
      'rsn_A>dsv_A:promoted',
      'run_A>mv_A:output',
    ]);
    expect(g).toMatchObject({ truncated: false, withheld: 0 });
    expect(g.nodes.find((n) => n.id === 'rsn_A')?.distance).toBe(5);
    expect(g.nodes.find((n) => n.id === 'dsv_A')).toMatchObject({ type: 'dataset_version', name: 'german-credit', classification: 'internal' });
  });

  it('depth bounds the walk, and each direction only goes its way', async () => {
    expect(ids(await graph({ start: { id: 'inf_A' }, direction: 'up', depth: 2 }))).toEqual(['dep_A', 'inf_A', 'mv_A']);
    expect(ids(await graph({ start: { id: 'inf_A' }, direction: 'down' }))).toEqual(['inf_A']);
    expect(ids(await graph({ start: { id: 'rsn_A' }, direction: 'down', depth: 3 }))).toEqual(['dsv_A', 'mv_A', 'rsn_A', 'run_A']);
    expect(ids(await graph({ start: { id: 'run_A' }, depth: 0 }))).toEqual(['run_A']);
    // both = ancestors and descendants: the job is upstream of the run, not a sibling walked to.
    expect(ids(await graph({ start: { id: 'mv_A' }, depth: 1 }))).toEqual(['dep_A', 'mv_A', 'run_A']);
  });

  it('is cycle-safe: each node once, the walk ends', async () => {
    await record({
      nodes: [
        { id: 'dsv_C1', type: 'dataset_version', classification: 'public' },
        { id: 'dsv_C2', type: 'dataset_version', classification: 'public' },
        { id: 'dsv_C3', type: 'dataset_version', classification: 'public' },
      ],
      edges: [
        { from: 'dsv_C1', to: 'dsv_C2', type: 'derived' },
        { from: 'dsv_C2', to: 'dsv_C3', type: 'derived' },
        { from: 'dsv_C3', to: 'dsv_C1', type: 'derived' },
      ],
    });
    for (const direction of ['up', 'down', 'both'] as const) {
      const g = await graph({ start: { id: 'dsv_C1' }, direction, depth: 20 });
      expect(ids(g), direction).toEqual(['dsv_C1', 'dsv_C2', 'dsv_C3']);
      expect(g.edges).toHaveLength(3);
    }
  });

  it('caps the nodes and says so, with only edges between nodes it shows', async () => {
    const fan = Array.from({ length: 30 }, (_, i) => `dsv_F${String(i).padStart(2, '0')}`);
    await record({
      nodes: [{ id: 'rsn_F', type: 'raw_snapshot', classification: 'public' }, ...fan.map((id) => ({ id, type: 'dataset_version' as const, classification: 'public' as const }))],
      edges: fan.map((id) => ({ from: 'rsn_F', to: id, type: 'promoted' as const })),
    });
    const g = await graph({ start: { id: 'rsn_F' }, direction: 'down', maxNodes: 10 });
    expect(g.truncated).toBe(true);
    expect(g.nodes).toHaveLength(10);
    const shown = new Set(g.nodes.map((n) => n.id));
    expect(g.edges).toHaveLength(9);
    expect(g.edges.every((e) => shown.has(e.from) && shown.has(e.to))).toBe(true);
    expect((await graph({ start: { id: 'rsn_F' }, direction: 'down', maxNodes: 31 })).truncated).toBe(false);
    // A hub: the walk itself stops reading past its row bound (cap × (depth + 1)), and says so.
    const hub = await graph({ start: { id: 'rsn_F' }, direction: 'down', maxNodes: 2, depth: 1 });
    expect(hub).toMatchObject({ truncated: true });
    expect(hub.nodes.map((n) => n.distance)).toEqual([0, 1]);
    expect(hub.edges).toHaveLength(1);
  });

  it('says truncated only when the cap or the row bound left something out', async () => {
    // depth 0 asks for the start alone: a cap of 1 leaves nothing out, however connected it is.
    for (const direction of ['up', 'down', 'both'] as const) {
      const alone = await graph({ start: { id: 'dsv_A' }, direction, depth: 0, maxNodes: 1 });
      expect(alone, direction).toMatchObject({ truncated: false, withheld: 0 });
      expect(ids(alone)).toEqual(['dsv_A']);
    }
    // Exactly as many nodes as the cap: all shown, nothing beyond.
    expect(await graph({ start: { id: 'inf_A' }, direction: 'up', depth: 1, maxNodes: 2 })).toMatchObject({ truncated: false });
    expect(await graph({ start: { id: 'inf_A' }, direction: 'up', depth: 2, maxNodes: 2 })).toMatchObject({ truncated: true });
  });

  describe('lineage domains', () => {
    // public raw → PHI dataset version → public run → public model version
    beforeAll(async () => {
      await record({
        nodes: [
          { id: 'rsn_H', type: 'raw_snapshot', classification: 'public' },
          { id: 'dsv_H', type: 'dataset_version', classification: 'PHI', name: 'patients' },
          { id: 'run_H', type: 'run', classification: 'public' },
          { id: 'dsv_HP', type: 'dataset_version', classification: 'public' },
          { id: 'mv_H', type: 'model_version', classification: 'public' },
        ],
        edges: [
          { from: 'rsn_H', to: 'dsv_H', type: 'promoted' },
          { from: 'dsv_H', to: 'run_H', type: 'input' },
          { from: 'dsv_HP', to: 'run_H', type: 'input' },
          { from: 'run_H', to: 'mv_H', type: 'output' },
        ],
      });
    });

    it('withholds a PHI node and its edges from a viewer without PHI clearance, and does not walk through it', async () => {
      const g = await graph({ start: { id: 'mv_H' }, direction: 'up', visible: UNCLEARED });
      expect(ids(g)).toEqual(['dsv_HP', 'mv_H', 'run_H']);
      expect(edges(g)).toEqual(['dsv_HP>run_H:input', 'run_H>mv_H:output']);
      expect(g.withheld).toBe(1);
      expect(JSON.stringify(g)).not.toMatch(/dsv_H"|patients|rsn_H/);
    });

    it('shows it to a viewer cleared for PHI', async () => {
      const g = await graph({ start: { id: 'mv_H' }, direction: 'up', visible: visibleClassifications({ clearance: ['phi'], elevatedBreakGlass: false }) });
      expect(ids(g)).toEqual(['dsv_H', 'dsv_HP', 'mv_H', 'rsn_H', 'run_H']);
      expect(g.withheld).toBe(0);
    });

    it('answers a PHI start node as not found to a viewer without clearance, like a node that does not exist', async () => {
      await expect(graph({ start: { id: 'dsv_H' }, visible: UNCLEARED })).rejects.toThrow(NotFound);
      await expect(graph({ start: { id: 'dsv_nothing' }, visible: ALL })).rejects.toThrow(NotFound);
      const message = (p: Promise<unknown>): Promise<string> => p.then(() => '', (e: Error) => e.message);
      const a = await message(graph({ start: { id: 'dsv_H' }, visible: UNCLEARED }));
      const b = await message(graph({ start: { id: 'dsv_Hx' }, visible: UNCLEARED }));
      expect(a).not.toBe('');
      expect(a.replace('dsv_H', 'X')).toBe(b.replace('dsv_Hx', 'X'));
    });

    it('a classification only ever rises: reporting the PHI node as public again changes nothing', async () => {
      await record({ nodes: [{ id: 'dsv_H', type: 'dataset_version', classification: 'public' }] });
      await record({ nodes: [{ id: 'rsn_H', type: 'raw_snapshot', classification: 'PII' }] });
      const { rows } = await db.query<{ id: string; classification: string }>("SELECT id, classification FROM lineage_nodes WHERE id IN ('dsv_H', 'rsn_H') ORDER BY id");
      expect(rows).toEqual([
        { id: 'dsv_H', classification: 'PHI' },
        { id: 'rsn_H', classification: 'PII' },
      ]);
    });
  });

  describe('recordLineage', () => {
    const count = async (): Promise<number> => Number((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM lineage_nodes')).rows[0]!.n);

    it('links Assay objects to OpenLineage datasets by namespace and name, creating them once', async () => {
      const source = { kind: 'dataset' as const, namespace: 'postgres://crm:5432', name: 'public.customers' };
      await record({ nodes: [{ id: 'rsn_X', type: 'raw_snapshot', classification: 'confidential' }, { id: 'dsv_X', type: 'dataset_version', classification: 'confidential' }], edges: [{ from: source, to: 'dsv_X', type: 'derived' }, { from: 'rsn_X', to: 'dsv_X', type: 'promoted' }] });
      const before = await count();
      await record({ edges: [{ from: source, to: 'dsv_X', type: 'derived' }] });
      expect(await count()).toBe(before);
      const g = await graph({ start: source, direction: 'down', depth: 1 });
      expect(g.nodes[0]).toMatchObject({ type: 'external_dataset', namespace: 'postgres://crm:5432', name: 'public.customers', classification: 'internal', distance: 0 });
      expect(g.edges.map((e) => e.type)).toEqual(['derived']);
    });

    it.each<[string, LineageChange, string]>([
      ['an edge type the node types do not fit', { edges: [{ from: 'dep_A', to: 'rsn_A', type: 'promoted' }] }, 'edges.0.type'],
      ['an edge to an id nobody recorded', { edges: [{ from: 'rsn_A', to: 'dsv_missing', type: 'promoted' }] }, 'edges.0.to'],
      ['an edge from a node to itself', { edges: [{ from: 'dsv_C1', to: 'dsv_C1', type: 'derived' }] }, 'edges.0.to'],
      ['a malformed id', { nodes: [{ id: 'not an id', type: 'run', classification: 'public' }] }, 'nodes.0.id'],
      ['an unknown classification', { nodes: [{ id: 'run_Z', type: 'run', classification: 'secret' as 'public' }] }, 'nodes.0.classification'],
      ['an unknown edge type', { edges: [{ from: 'rsn_A', to: 'dsv_A', type: 'copied' as 'derived' }] }, 'edges.0.type'],
    ])('refuses %s, naming the field, and writes nothing', async (_what, change, field) => {
      const before = await count();
      const withNode: LineageChange = { ...change, nodes: [...(change.nodes ?? []), { id: 'run_NEW', type: 'run', classification: 'public' }] };
      const err = await record(withNode).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ValidationFailed);
      expect((err as ValidationFailed).errors.map((i) => i.field)).toContain(field);
      expect(await count()).toBe(before);
    });

    it('refuses an id already recorded with another type (Conflict), and writes nothing', async () => {
      const before = await count();
      await expect(record({ nodes: [{ id: 'dsv_A', type: 'run', classification: 'public' }, { id: 'run_NEW2', type: 'run', classification: 'public' }] })).rejects.toThrow(Conflict);
      expect(await count()).toBe(before);
    });
  });
  it('refuses an answer whose facets would exceed the budget (400 naming query.limit), measured before any document is loaded; without facets it answers', async () => {
    await record({
      nodes: [
        { id: 'dsv_BIG', type: 'dataset_version', classification: 'internal', name: 'wide', attributes: { note: 'x'.repeat(5000) } },
        { id: 'run_BIG', type: 'run', classification: 'internal', attributes: { note: 'y'.repeat(5000) } },
      ],
      edges: [{ from: 'dsv_BIG', to: 'run_BIG', type: 'input' }],
    });
    const refused = graph({ start: { id: 'dsv_BIG' }, depth: 1, facets: true, maxFacetBytes: 8000 });
    await expect(refused).rejects.toBeInstanceOf(ValidationFailed);
    await expect(refused).rejects.toMatchObject({ errors: [{ field: 'query.limit', message: expect.stringMatching(/over 8000 bytes: ask for fewer nodes/) }] });
    // One node alone fits; so does the whole answer under the default budget, and without facets.
    expect((await graph({ start: { id: 'dsv_BIG' }, depth: 0, facets: true, maxFacetBytes: 8000 })).nodes[0]?.attributes).toMatchObject({ note: 'x'.repeat(5000) });
    expect(ids(await graph({ start: { id: 'dsv_BIG' }, depth: 1, facets: true }))).toEqual(['dsv_BIG', 'run_BIG']);
    expect(ids(await graph({ start: { id: 'dsv_BIG' }, depth: 1, maxFacetBytes: 1 }))).toEqual(['dsv_BIG', 'run_BIG']);
  });
});
