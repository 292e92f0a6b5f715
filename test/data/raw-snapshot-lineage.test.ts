import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawSnapshotNodeId, type DatasetVersionRecord } from '../../src/data/index.js';
import type { LineageGraph } from '../../src/lineage/index.js';
import { createPrincipalWithToken, createTestApp, type TestApp } from '../support/app.js';
import { eachBackend } from '../support/databases.js';
import { upload } from './support.js';

/**
 * The raw snapshot node of a promotion belongs to its dataset: two datasets ingested from the
 * same bytes get a node each, with their own name and classification, so a PHI dataset's
 * upstream never shows another dataset's name and an internal dataset's raw snapshot is not
 * withheld because the same bytes were also ingested as PHI. Over the real HTTP server on a
 * loopback port, on both backends.
 */

type Principal = { id: string; token: string };

// Neither personal data nor anything a quarantine check blocks on: both datasets certify as they are.
const BYTES = 'visit_id,code,score\n1,A01,3\n2,B20,5\n3,C34,2\n4,A01,7\n';

describe.each(eachBackend().map((b) => [b.name, b] as const))('raw snapshot lineage nodes [%s]', (_name, backend) => {
  let t: TestApp;
  let base: string;
  let ingester: Principal;
  let promoter: Principal;
  let scientist: Principal;

  const api = async <T>(who: Principal, method: 'GET' | 'POST', path: string): Promise<{ status: number; text: string; json: T }> => {
    const res = await fetch(base + path, { method, headers: { authorization: `Bearer ${who.token}` } });
    const text = await res.text();
    return { status: res.status, text, json: JSON.parse(text) as T };
  };
  const ingestAndPromote = async (name: string, classification: string): Promise<DatasetVersionRecord> => {
    const ingested = await upload(t, { name, body: BYTES, token: ingester.token, query: { classification, owner: 'ingester', purpose: 'care quality' } });
    expect(ingested.statusCode, ingested.body).toBe(201);
    const version = (JSON.parse(ingested.body) as DatasetVersionRecord).version;
    const promoted = await api<{ version: DatasetVersionRecord }>(promoter, 'POST', `/api/v1/datasets/${name}/versions/${version}/promote`);
    expect(promoted.status, promoted.text).toBe(200);
    return promoted.json.version;
  };
  const upstream = (who: Principal, v: DatasetVersionRecord) => api<LineageGraph>(who, 'GET', `/api/v1/lineage/graph?node=${v.id}&direction=up&depth=1&facets=true`);

  beforeAll(async () => {
    t = await createTestApp(backend);
    ingester = await createPrincipalWithToken(t.db, { name: 'ingester', roles: ['data-steward'] });
    promoter = await createPrincipalWithToken(t.db, { name: 'promoter', roles: ['data-steward'] });
    scientist = await createPrincipalWithToken(t.db, { name: 'dana-scientist', roles: ['data-scientist'] });
    for (const p of [ingester, promoter]) await t.db.query(`UPDATE principals SET attributes = '{"clearance": ["phi"]}' WHERE id = $1`, [p.id]);
    base = await t.app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => t?.close());

  it('two datasets from identical bytes get a raw node each, with their own name and classification; versions of one dataset share theirs', async () => {
    const clinic = await ingestAndPromote('clinic', 'PHI');
    const leak = await ingestAndPromote('leak1', 'internal');
    expect(leak.snapshot.sha256).toBe(clinic.snapshot.sha256);
    expect(rawSnapshotNodeId(leak)).not.toBe(rawSnapshotNodeId(clinic));

    // The PHI steward's upstream view of clinic names clinic's snapshot only.
    const phiView = await upstream(promoter, clinic);
    expect(phiView.status).toBe(200);
    expect(phiView.json.nodes.find((n) => n.type === 'raw_snapshot')).toMatchObject({
      id: rawSnapshotNodeId(clinic),
      name: 'clinic raw snapshot',
      classification: 'PHI',
      attributes: { sha256: clinic.snapshot.sha256, size: clinic.snapshot.size, datasetId: clinic.datasetId },
    });
    expect(phiView.text).not.toContain('leak1');

    // An uncleared reader sees leak1's own raw snapshot, internal, and learns nothing of clinic.
    const plain = await upstream(scientist, leak);
    expect(plain.status).toBe(200);
    expect(plain.json.withheld).toBe(0);
    expect(plain.json.nodes.find((n) => n.type === 'raw_snapshot')).toMatchObject({
      id: rawSnapshotNodeId(leak),
      name: 'leak1 raw snapshot',
      classification: 'internal',
      attributes: { sha256: leak.snapshot.sha256 },
    });
    expect(plain.json.edges).toEqual([{ from: rawSnapshotNodeId(leak), to: leak.id, type: 'promoted', facets: {} }]);
    expect(plain.text).not.toContain('clinic');
    // Downstream of leak1's snapshot lies leak1 only.
    const down = await api<LineageGraph>(scientist, 'GET', `/api/v1/lineage/graph?node=${rawSnapshotNodeId(leak)}&direction=down&depth=1`);
    expect(down.json).toMatchObject({ withheld: 0, nodes: [expect.objectContaining({ id: rawSnapshotNodeId(leak) }), expect.objectContaining({ id: leak.id })] });
    expect(down.json.nodes).toHaveLength(2);

    // A second version of clinic from the same bytes hangs off the same node as the first.
    const clinic2 = await ingestAndPromote('clinic', 'PHI');
    expect(clinic2.version).toBe(2);
    expect(rawSnapshotNodeId(clinic2)).toBe(rawSnapshotNodeId(clinic));
    const both = await api<LineageGraph>(promoter, 'GET', `/api/v1/lineage/graph?node=${rawSnapshotNodeId(clinic)}&direction=down&depth=1`);
    expect(both.json.edges.map((e) => e.to).sort()).toEqual([clinic.id, clinic2.id].sort());
  });
});
