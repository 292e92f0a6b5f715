import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DsseEnvelope } from '../../src/core/index.js';
import { verifyDatasetManifest, type DatasetVersionRecord } from '../../src/data/index.js';
import { createPrincipalWithToken, createTestApp, type TestApp } from '../support/app.js';
import { eachBackend } from '../support/databases.js';

/**
 * consent@5 and residency@4 over the real HTTP server on a loopback port: a version that leaves
 * out the consent column, residency or residency column its contract (the latest certified
 * version) declared would certify the rows those declarations excluded. The check fails and
 * blocks, so the steward must declare them again or record an exception saying why.
 */

type Principal = { id: string; token: string };
interface CheckView {
  name: string;
  version: number;
  status: string;
  blocking: boolean;
  result: string;
  evidence: Record<string, unknown>;
}

// Row 2 withdrew consent, row 3 lives outside the EU: version 1 excluded both.
const CSV = 'customer_id,amount,consent,country\nC1,10,yes,DE\nC2,20,no,FR\nC3,30,yes,US\nC4,40,yes,AT\n';
const DECLARED = { consentColumn: 'consent', residency: 'EU', residencyColumn: 'country' };

describe.each(eachBackend().map((b) => [b.name, b] as const))('a next version keeps its contract\'s consent and residency declarations [%s]', (_name, backend) => {
  let t: TestApp;
  let base: string;
  let ingester: Principal;
  let steward: Principal;

  async function call<T>(method: 'GET' | 'POST', path: string, init: { token: string; body?: unknown; csv?: string }): Promise<{ status: number; json: T; text: string }> {
    const headers: Record<string, string> = { authorization: `Bearer ${init.token}` };
    if (init.csv !== undefined) headers['content-type'] = 'text/csv';
    else if (init.body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(base + path, { method, headers, ...(init.csv !== undefined ? { body: init.csv } : init.body !== undefined ? { body: JSON.stringify(init.body) } : {}) });
    const text = await res.text();
    return { status: res.status, json: (text ? JSON.parse(text) : undefined) as T, text };
  }
  const ingest = (name: string, query: Record<string, string>) =>
    call<DatasetVersionRecord>('POST', `/api/v1/datasets/${name}/versions?${new URLSearchParams({ sourceSystem: 'crm', classification: 'internal', owner: steward.id, ...query }).toString()}`, { token: ingester.token, csv: CSV });
  const checksOf = async (name: string, version: number): Promise<Record<string, CheckView>> => {
    const r = await call<{ checks: CheckView[] }>('GET', `/api/v1/datasets/${name}/versions/${version}/checks`, { token: steward.token });
    expect(r.status, r.text).toBe(200);
    return Object.fromEntries(r.json.checks.map((c) => [c.name, c]));
  };
  const promote = (name: string, version: number, overrides?: Array<{ check: string; reason: string }>) =>
    call<{ manifest: DsseEnvelope; errors?: Array<{ field: string }> }>('POST', `/api/v1/datasets/${name}/versions/${version}/promote`, { token: steward.token, ...(overrides ? { body: { overrides } } : {}) });

  beforeAll(async () => {
    t = await createTestApp(backend);
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    ingester = await createPrincipalWithToken(t.db, { name: 'ivy-ingester', roles: ['data-steward'] });
    steward = await createPrincipalWithToken(t.db, { name: 'sol-steward', roles: ['data-steward'] });
    for (const name of ['customers', 'accounts']) {
      const v1 = await ingest(name, DECLARED);
      expect(v1.status, v1.text).toBe(201);
      expect((await promote(name, 1)).status).toBe(200);
    }
  });
  afterAll(async () => t?.close());

  it('a version without them fails consent and residency, blocking; promotion is refused naming both', async () => {
    const v2 = await ingest('customers', {});
    expect(v2.status, v2.text).toBe(201);
    expect(v2.json.blockingFailures).toEqual(['consent', 'residency']);
    const checks = await checksOf('customers', 2);
    expect(checks.consent).toMatchObject({ version: 5, status: 'fail', blocking: true, evidence: { column: null, contract: { version: 1, consentColumn: 'consent' } } });
    expect(checks.consent!.result).toContain('where the contract of version 1 excluded rows without consent in consent');
    expect(checks.residency).toMatchObject({ version: 4, status: 'fail', blocking: true, evidence: { contract: { version: 1, residency: 'EU', column: 'country' } } });
    expect(checks.residency!.result).toContain('declared residency EU and residency column country, this version does not');
    const refused = await promote('customers', 2);
    expect(refused.status, refused.text).toBe(409);
    expect(refused.json.errors!.map((e) => e.field).sort()).toEqual(expect.arrayContaining([expect.stringContaining('consent'), expect.stringContaining('residency')]));
  });

  it('dropping only the residency column fails residency alone; declaring everything again passes', async () => {
    const v3 = await ingest('customers', { consentColumn: 'consent', residency: 'EU' });
    expect(v3.json.blockingFailures).toEqual(['residency']);
    expect((await checksOf('customers', 3)).residency!.result).toContain('declared residency column country, this version does not');
    const v4 = await ingest('customers', DECLARED);
    expect(v4.json.blockingFailures).toEqual([]);
    const checks = await checksOf('customers', 4);
    expect(checks.consent).toMatchObject({ status: 'pass', blocking: false });
    expect(checks.residency).toMatchObject({ status: 'pass', blocking: false, evidence: { excluded: [expect.objectContaining({ reason: 'residency_outside', rowCount: 1 })] } });
  });

  it('a residency reaching beyond the contract\'s (EEA or US where it said EU) fails residency and blocks; a narrower one (DE) passes', async () => {
    for (const residency of ['EEA', 'US']) {
      const wider = await ingest('customers', { ...DECLARED, residency });
      expect(wider.status, wider.text).toBe(201);
      expect(wider.json.blockingFailures).toEqual(['residency']);
      const checks = await checksOf('customers', wider.json.version);
      expect(checks.residency).toMatchObject({ version: 4, status: 'fail', blocking: true, evidence: { residency, contract: { residency: 'EU' } } });
      expect(checks.residency!.result).toContain(`declared residency EU, this version ${residency}, which reaches beyond it`);
      expect((await promote('customers', wider.json.version)).status).toBe(409);
    }
    // In any case, as residencies are compared.
    const lower = await ingest('customers', { ...DECLARED, residency: 'us' });
    expect(lower.json.blockingFailures).toEqual(['residency']);
    const narrower = await ingest('customers', { ...DECLARED, residency: 'de' });
    expect(narrower.json.blockingFailures).toEqual([]);
  });

  it('consent read from another column than the contract\'s fails consent and blocks, naming both columns', async () => {
    const other = await ingest('customers', { ...DECLARED, consentColumn: 'amount' });
    expect(other.status, other.text).toBe(201);
    expect(other.json.blockingFailures).toEqual(['consent']);
    expect(other.json.exclusions.filter((e) => e.reason.startsWith('consent'))).toEqual([]);
    const checks = await checksOf('customers', other.json.version);
    expect(checks.consent).toMatchObject({ version: 5, status: 'fail', blocking: true, evidence: { column: 'amount', contract: { version: 1, consentColumn: 'consent' } } });
    expect(checks.consent!.result).toContain('consent read from amount, where the contract of version 1 excluded rows without consent in consent');
    expect((await promote('customers', other.json.version)).status).toBe(409);
  });

  it('an exception with its reason certifies such a version, and the manifest records it', async () => {
    expect((await ingest('accounts', {})).status).toBe(201);
    const reason = 'DPIA-114: consent is no longer the legal basis (contract, Art. 6(1)(b)); processing moved to an EU-only cluster';
    const promoted = await promote('accounts', 2, [
      { check: 'consent', reason },
      { check: 'residency', reason },
    ]);
    expect(promoted.status, promoted.text).toBe(200);
    const statement = verifyDatasetManifest(promoted.json.manifest, (k) => t.keyring.publicKey(k));
    expect(statement.predicate.overrides.map((o) => o.check).sort()).toEqual(['consent@5', 'residency@4']);
    expect(statement.predicate.checks.find((c) => c.check === 'consent@5')).toMatchObject({ status: 'fail', blocking: true });
  });
});
