import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAuditEntries } from '../../src/audit/index.js';
import { LINK_CERTIFIED_ACTION, linkCertifiedVersions, type DatasetVersionRecord } from '../../src/data/index.js';
import { createPrincipalWithToken, createTestApp, type TestApp } from '../support/app.js';
import { eachBackend } from '../support/databases.js';

/**
 * Certified versions and their OpenLineage datasets: promotion links a version to the dataset
 * as OpenLineage names it (lineage.namespace, the dataset's name). Versions certified before it
 * did, or under another namespace, are linked at server start by linkCertifiedVersions, with
 * its audit entry, once. Over the real HTTP server on a loopback port, on PGlite and PostgreSQL.
 */
describe.each(eachBackend().map((b) => [b.name, b] as const))('linking certified versions to their OpenLineage datasets [%s]', (_name, backend) => {
  let t: TestApp;
  let v1: DatasetVersionRecord;

  const links = async (id: string): Promise<string[]> =>
    (
      await t.db.query<{ link: string }>(
        `SELECT x.namespace || ' ' || x.name AS link FROM lineage_nodes s JOIN lineage_edges e ON e.src = s.key AND e.type = 'derived'
           JOIN lineage_nodes x ON x.key = e.dst AND x.type = 'external_dataset' WHERE s.id = $1 ORDER BY 1`,
        [id],
      )
    ).rows.map((r) => r.link);

  beforeAll(async () => {
    t = await createTestApp(backend);
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    const base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    const ingester = await createPrincipalWithToken(t.db, { name: 'ida', roles: ['data-steward'] });
    const steward = await createPrincipalWithToken(t.db, { name: 'stu', roles: ['data-steward'] });
    const query = new URLSearchParams({ sourceSystem: 'crm', classification: 'confidential', owner: steward.id });
    const res = await fetch(`${base}/api/v1/datasets/loans/versions?${query.toString()}`, { method: 'POST', headers: { authorization: `Bearer ${ingester.token}`, 'content-type': 'text/csv' }, body: 'id,amount\n1,10\n2,20\n' });
    expect(res.status).toBe(201);
    v1 = (await res.json()) as DatasetVersionRecord;
    const promoted = await fetch(`${base}/api/v1/datasets/loans/versions/1/promote`, { method: 'POST', headers: { authorization: `Bearer ${steward.token}` } });
    expect(promoted.status).toBe(200);
  });
  afterAll(async () => t?.close());

  it('promotion links the version to its dataset in the configured namespace, classified as the version', async () => {
    expect(await links(v1.id)).toEqual(['assay loans']);
    const node = await t.db.query<{ classification: string }>(`SELECT classification FROM lineage_nodes WHERE type = 'external_dataset' AND namespace = 'assay' AND name = 'loans'`);
    expect(node.rows[0]?.classification).toBe('confidential');
    expect(await linkCertifiedVersions(t.db, 'assay')).toEqual([]);
  });

  it('links a version certified before promotion did, once, with its audit entry; and again under another namespace', async () => {
    // As an earlier release left it: certified, with no link.
    await t.db.query(`DELETE FROM lineage_edges e USING lineage_nodes s WHERE e.src = s.key AND s.id = $1 AND e.type = 'derived'`, [v1.id]);
    expect(await links(v1.id)).toEqual([]);
    expect(await linkCertifiedVersions(t.db, 'assay')).toEqual([v1.id]);
    expect(await links(v1.id)).toEqual(['assay loans']);
    const entries = await listAuditEntries(t.db, { action: LINK_CERTIFIED_ACTION });
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ actor: { principalId: 'system' }, resource: { type: 'lineage_namespace', id: 'assay' } });
    expect(entries[0]!.reason).toContain(`1 certified dataset versions linked to their OpenLineage datasets in namespace assay (derived edges in the lineage graph): ${v1.id}`);
    expect(await linkCertifiedVersions(t.db, 'assay')).toEqual([]);
    expect(await listAuditEntries(t.db, { action: LINK_CERTIFIED_ACTION })).toHaveLength(1);
    expect(await linkCertifiedVersions(t.db, 'lake.assay')).toEqual([v1.id]);
    expect(await links(v1.id)).toEqual(['assay loans', 'lake.assay loans']);
  });
});
