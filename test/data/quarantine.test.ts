import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { subjectHash, subjectSalt } from '../../src/data/index.js';
import { createPrincipalWithToken, createTestApp, type TestApp } from '../support/app.js';
import { eachBackend } from '../support/databases.js';
import { upload } from './support.js';

const CUSTOMERS = readFileSync(join(import.meta.dirname, '..', 'fixtures', 'data', 'customers.csv'));
/** Every personal or payment value in the fixture: none may appear in evidence, profile or version. */
const SECRETS = ['anna@example.com', 'bob@example.org', 'carl@example.net', 'dana@example.com', 'eve@example.com', '1234567', '123-4567', 'DE893704', 'GB82WEST', '4111111111111111', '5500 0000', '123-45-6789', '86095742719'];

type Check = { name: string; status: string; blocking: boolean; result: string; evidence: Record<string, unknown> };

describe.each(eachBackend().map((b) => [b.name, b] as const))('quarantine checks on personal data [%s]', (_name, backend) => {
  let t: TestApp;
  let steward: { id: string; token: string };
  const get = async <T>(url: string): Promise<T> => {
    const res = await t.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${steward.token}` } });
    expect(res.statusCode, res.body).toBe(200);
    return res.json<T>();
  };
  const checksOf = async (name: string): Promise<Record<string, Check>> =>
    Object.fromEntries((await get<{ checks: Check[] }>(`/api/v1/datasets/${name}/versions/1/checks`)).checks.map((c) => [c.name, c]));

  beforeAll(async () => {
    t = await createTestApp(backend);
    steward = await createPrincipalWithToken(t.db, { name: 'steward', roles: ['data-steward'] });
    await t.db.query(`UPDATE principals SET attributes = '{"clearance": ["pii", "pci"]}' WHERE id = $1`, [steward.id]);
    const res = await upload(t, {
      name: 'customers',
      body: CUSTOMERS,
      token: steward.token,
      query: { classification: 'PII', owner: 'steward', consentColumn: 'consent', residency: 'EU', residencyColumn: 'country', subjectIdColumn: 'customer_id' },
    });
    expect(res.statusCode, res.body).toBe(201);
  });
  afterAll(async () => t?.close());

  it('pii@4 counts each detector per column with row numbers; checksums reject the broken twins', async () => {
    const pii = (await checksOf('customers')).pii!;
    const findings = (pii.evidence.findings as Array<{ column: string; detector: string; count: number; rowNumbers: number[] }>).map((f) => `${f.column}:${f.detector}:${f.count}:${f.rowNumbers.join('/')}`);
    expect(findings.sort()).toEqual(
      [
        'email:email:4:1/3/4/5',
        'note:email:1:2',
        'phone:phone:2:1/2',
        'iban:iban:2:1/3',
        'card:pan:2:1/3',
        'ssn:us_ssn:1:1',
        'tax_id:de_tax_id:1:1',
      ].sort(),
    );
    // Card numbers in a dataset classified PII (not PCI): fails and blocks promotion.
    expect(pii).toMatchObject({ status: 'fail', blocking: true });
    expect(pii.result).toMatch(/card numbers .* classified PII, not PCI/);
    const version = await get<{ blockingFailures: string[] }>('/api/v1/datasets/customers/versions/1');
    expect(version.blockingFailures).toEqual(['pii']);
  });

  it('consent@5 and residency@4 exclude rows with counts, reasons and row numbers', async () => {
    const checks = await checksOf('customers');
    // 'maybe' neither gives nor withdraws consent: excluded, and a warning asks whether the column is coded otherwise.
    expect(checks.consent).toMatchObject({ status: 'warn' });
    expect(checks.consent!.result).toMatch(/1 hold a value that neither gives nor withdraws consent: is consent coded otherwise\?$/);
    const version = await get<{ exclusions: unknown[] }>('/api/v1/datasets/customers/versions/1');
    expect(version.exclusions).toEqual([
      { reason: 'consent_missing', rule: 'consent@4', rowCount: 1, rowNumbers: [4] },
      { reason: 'consent_unrecognised', rule: 'consent@4', rowCount: 1, rowNumbers: [5] },
      { reason: 'consent_withdrawn', rule: 'consent@4', rowCount: 2, rowNumbers: [2, 3] },
      { reason: 'residency_missing', rule: 'residency@3', rowCount: 1, rowNumbers: [5] },
      { reason: 'residency_outside', rule: 'residency@3', rowCount: 1, rowNumbers: [3] },
    ]);
  });

  it('a residency declared in any case is recorded in upper case, as the check reads it, with the same exclusions', async () => {
    const res = await upload(t, { name: 'customers-eu', body: CUSTOMERS, token: steward.token, query: { classification: 'PII', owner: 'steward', residency: 'eu', residencyColumn: 'country' } });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toMatchObject({ residency: 'EU', exclusions: [{ reason: 'residency_missing', rowNumbers: [5] }, { reason: 'residency_outside', rowNumbers: [3] }] });
    expect(await get('/api/v1/datasets/customers-eu/versions/1')).toMatchObject({ residency: 'EU' });
    expect((await checksOf('customers-eu')).residency!.evidence).toMatchObject({ residency: 'EU', column: 'country' });
  });

  it('evidence, profile and version never hold the values; personal columns are redacted in the profile', async () => {
    const checks = JSON.stringify(await get('/api/v1/datasets/customers/versions/1/checks'));
    const profile = await get<{ columns: Array<{ name: string; redacted?: string; topK?: unknown }> }>('/api/v1/datasets/customers/versions/1/profile');
    const version = JSON.stringify(await get('/api/v1/datasets/customers/versions/1'));
    for (const secret of SECRETS) {
      expect(checks, secret).not.toContain(secret);
      expect(JSON.stringify(profile), secret).not.toContain(secret);
      expect(version, secret).not.toContain(secret);
    }
    const col = (n: string) => profile.columns.find((c) => c.name === n)!;
    expect(col('email')).toMatchObject({ redacted: 'personal_data' });
    expect(col('email').topK).toBeUndefined();
    expect(col('customer_id')).toMatchObject({ redacted: 'subject_id' });
    expect(col('country').topK).toBeDefined();
  });

  it('builds the subject index from salted hashes only, the salt kept out of the evidence', async () => {
    const salt = await subjectSalt(t.db);
    const rows = (await t.db.query<{ subject_hash: Buffer }>('SELECT subject_hash FROM dataset_subjects')).rows.map((r) => r.subject_hash.toString('hex')).sort();
    expect(rows).toEqual(['C1', 'C2', 'C3', 'C5'].map((id) => subjectHash(salt, id).toString('hex')).sort());
    const everything = JSON.stringify([await get('/api/v1/datasets/customers/versions/1/checks'), await get('/api/v1/datasets/customers/versions/1/profile')]);
    expect(everything).not.toContain(salt.toString('hex'));
    expect(everything).not.toContain(salt.toString('base64'));
  });

  it('PCI classification admits the card numbers; internal admits no personal data', async () => {
    for (const [name, classification, status] of [['cards', 'PCI', 'pass'], ['leaky', 'internal', 'fail']] as const) {
      const res = await upload(t, { name, body: CUSTOMERS, token: steward.token, query: { classification, owner: 'steward' } });
      expect(res.statusCode, res.body).toBe(201);
      expect((await checksOf(name)).pii).toMatchObject({ status });
    }
    expect((await checksOf('leaky')).pii!.result).toMatch(/personal data .* classified internal/);
  });

  it('types@3 reports values that do not fit the inferred type, with row numbers; duplicates@1 the repeats', async () => {
    const lines = ['id,amount,label'];
    for (let i = 1; i <= 200; i++) lines.push(`${i},${i === 150 ? 'n/a' : i * 3},${i === 7 || i === 9 ? 'dup' : `x${i}`}`);
    lines.push('7,21,dup', '7,21,dup');
    const res = await upload(t, { name: 'typed', body: lines.join('\n') + '\n', token: steward.token, query: { classification: 'internal', owner: 'steward' } });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json<{ schema: { columns: Array<{ name: string; type: string }> } }>().schema.columns.map((c) => c.type)).toEqual(['BIGINT', 'BIGINT', 'VARCHAR']);
    const checks = await checksOf('typed');
    expect(checks.types).toMatchObject({ status: 'warn', evidence: { columns: [{ column: 'amount', expected: 'BIGINT', source: 'inferred', violations: 1, rowNumbers: [150] }] } });
    expect(checks.duplicates).toMatchObject({ status: 'warn', evidence: { duplicateRows: 2, rowNumbers: [201, 202] } });
  });

  it('NaN and infinities in a numeric column are no 500: the profile leaves them out', async () => {
    const lines = ['id,ratio'];
    // Under 1% misfits, so the column stays DOUBLE; NaN and the infinities are reported by types@3.
    for (let i = 1; i <= 300; i++) lines.push(`${i},${i === 10 ? 'NaN' : i === 20 ? '-inf' : i === 30 ? 'Infinity' : (i / 4).toFixed(2)}`);
    const res = await upload(t, { name: 'ratios', body: lines.join('\n') + '\n', token: steward.token, query: { classification: 'internal', owner: 'steward' } });
    expect(res.statusCode, res.body).toBe(201);
    const profile = await get<{ columns: Array<{ name: string; numeric?: { min: number; max: number; histogram: { counts: number[] } } }> }>('/api/v1/datasets/ratios/versions/1/profile');
    const ratio = profile.columns.find((c) => c.name === 'ratio')!.numeric!;
    expect(res.json<{ schema: { columns: Array<{ type: string }> } }>().schema.columns.map((c) => c.type)).toEqual(['BIGINT', 'DOUBLE']);
    expect([ratio.min, ratio.max]).toEqual([0.25, 75]);
    expect(ratio.histogram.counts.reduce((a, b) => a + b, 0)).toBe(297);
    const types = (await checksOf('ratios')).types;
    expect(types).toMatchObject({ status: 'warn', evidence: { columns: [{ column: 'ratio', expected: 'DOUBLE', violations: 3, rowNumbers: [10, 20, 30] }] } });
  });
});
