import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAuditEntries } from '../../src/audit/index.js';
import type { ColumnProfile } from '../../src/data/index.js';
import { createPrincipalWithToken, createTestApp, type TestApp } from '../support/app.js';
import { eachBackend } from '../support/databases.js';
import { GERMAN_CREDIT, leftovers, upload } from './support.js';

/** German credit end to end over the API: ingest, quarantine checks, profile, reads, evidence. */
describe.each(eachBackend().map((b) => [b.name, b] as const))('dataset ingest [%s]', (_name, backend) => {
  let t: TestApp;
  let steward: { id: string; token: string };
  let scientist: { id: string; token: string };
  const bytes = readFileSync(GERMAN_CREDIT);

  beforeAll(async () => {
    t = await createTestApp(backend);
    steward = await createPrincipalWithToken(t.db, { name: 'steward', roles: ['data-steward'] });
    scientist = await createPrincipalWithToken(t.db, { name: 'scientist', roles: ['data-scientist'] });
  });
  afterAll(async () => t?.close());

  it('ingests German credit into quarantine: snapshot stored by SHA-256, checks and profile recorded, audited', async () => {
    const res = await upload(t, {
      name: 'german-credit',
      body: bytes,
      token: scientist.token,
      query: { classification: 'confidential', owner: 'steward', purpose: 'credit scoring research' },
    });
    expect(res.statusCode, res.body).toBe(201);
    const v = res.json();
    const sha = createHash('sha256').update(bytes).digest('hex');
    expect(v).toMatchObject({
      datasetName: 'german-credit',
      version: 1,
      state: 'quarantine',
      format: 'csv',
      delimiter: ',',
      snapshot: { sha256: sha, size: bytes.length },
      sourceSystem: 'core-banking',
      purpose: 'credit scoring research',
      classification: 'confidential',
      ingestedBy: scientist.id,
      rowCount: 1000,
      blockingFailures: [],
      exclusions: [],
      certified: null,
    });
    // The raw snapshot is in the blob store, byte for byte.
    expect((await t.deps.blobs.getBytes(sha)).equals(bytes)).toBe(true);
    const types = Object.fromEntries((v.schema.columns as Array<{ name: string; type: string }>).map((c) => [c.name, c.type]));
    expect(types).toMatchObject({ checking_status: 'VARCHAR', duration_months: 'BIGINT', credit_amount: 'BIGINT', age_years: 'BIGINT', credit_risk: 'VARCHAR' });
    expect(v.schema.columns).toHaveLength(21);

    const [entry] = await listAuditEntries(t.db, { action: 'dataset.ingest', resourceId: v.id });
    expect(entry).toMatchObject({ actor: { principalId: scientist.id }, outcome: 'succeeded', resource: { type: 'dataset_version', id: v.id } });
    expect(entry!.reason).toContain(`sha256:${sha}`);
    expect(await listAuditEntries(t.db, { action: 'dataset.create', resourceId: v.datasetId })).toHaveLength(1);
  });

  it('lists every check by name and version, with status, blocking and evidence', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/datasets/german-credit/versions/1/checks', headers: { authorization: `Bearer ${steward.token}` } });
    expect(res.statusCode, res.body).toBe(200);
    const checks = res.json<{ checks: Array<{ name: string; version: number; status: string; blocking: boolean; evidence: Record<string, unknown> }> }>().checks;
    expect(checks.map((c) => `${c.name}@${c.version}`)).toEqual(['schema@4', 'row_count@1', 'null_rates@1', 'duplicates@1', 'types@3', 'pii@4', 'consent@5', 'residency@4']);
    for (const c of checks) expect(['pass', 'warn', 'fail']).toContain(c.status);
    const byName = Object.fromEntries(checks.map((c) => [c.name, c]));
    expect(byName.row_count).toMatchObject({ status: 'pass', evidence: { rows: 1000 } });
    expect(byName.schema).toMatchObject({ status: 'pass', blocking: true, evidence: { contract: null } });
    expect(byName.duplicates).toMatchObject({ status: 'pass', evidence: { duplicateRows: 0 } });
    expect(byName.pii).toMatchObject({ status: 'pass', evidence: { findings: [] } });
  });

  it('stores a per-column profile: quantiles and histograms for numbers, top-k for categories', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/datasets/german-credit/versions/1/profile', headers: { authorization: `Bearer ${steward.token}` } });
    expect(res.statusCode, res.body).toBe(200);
    const profile = res.json<{ rows: number; columns: ColumnProfile[] }>();
    expect(profile.rows).toBe(1000);
    const col = (n: string) => profile.columns.find((c) => c.name === n)!;
    const amount = col('credit_amount') as Required<Pick<ColumnProfile, 'numeric'>>;
    expect(amount.numeric.min).toBe(250);
    expect(amount.numeric.max).toBe(18424);
    expect(amount.numeric.quantiles.p50).toBeGreaterThan(2000);
    expect(amount.numeric.histogram.counts.reduce((a, b) => a + b, 0)).toBe(1000);
    expect(amount.numeric.histogram.edges).toHaveLength(amount.numeric.histogram.counts.length + 1);
    // 1000 records are all in the sample: the bins split the column's own range.
    expect(amount.numeric.histogram).toMatchObject({ edgesFrom: 'range' });
    expect(amount.numeric.histogram.edges[20]).toBe(18424);
    const risk = col('credit_risk');
    expect(risk.topK).toEqual([{ value: 'good', count: 700 }, { value: 'bad', count: 300 }]);
    expect(risk.nulls).toBe(0);
  });

  it('reads the dataset and its versions; a second ingest is version 2 and must keep the classification', async () => {
    const again = await upload(t, { name: 'german-credit', body: bytes, token: steward.token, query: { classification: 'confidential' } });
    expect(again.statusCode, again.body).toBe(201);
    expect(again.json()).toMatchObject({ version: 2, ingestedBy: steward.id });
    const blobsBefore = (await leftovers(t)).blobs;
    const reclassify = await upload(t, { name: 'german-credit', body: bytes, token: steward.token, query: { classification: 'public' } });
    expect(reclassify.statusCode).toBe(409);
    expect(reclassify.json()).toMatchObject({ code: 'conflict', errors: [{ field: 'query.classification' }] });
    expect((await leftovers(t)).blobs).toBe(blobsBefore);

    const auth = { authorization: `Bearer ${steward.token}` };
    const ds = await t.app.inject({ method: 'GET', url: '/api/v1/datasets/german-credit', headers: auth });
    expect(ds.json()).toMatchObject({ name: 'german-credit', classification: 'confidential', ownerId: steward.id, createdBy: scientist.id, latestVersion: 2 });
    const versions = await t.app.inject({ method: 'GET', url: '/api/v1/datasets/german-credit/versions', headers: auth });
    expect(versions.json<{ versions: Array<{ version: number }> }>().versions.map((x) => x.version)).toEqual([1, 2]);
    const list = await t.app.inject({ method: 'GET', url: '/api/v1/datasets', headers: auth });
    expect(list.json<{ datasets: Array<{ name: string }> }>().datasets.map((d) => d.name)).toContain('german-credit');
    const missing = await t.app.inject({ method: 'GET', url: '/api/v1/datasets/german-credit/versions/9', headers: auth });
    expect(missing.statusCode).toBe(404);
  });
});
