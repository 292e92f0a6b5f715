import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrincipal } from '../../src/identity/index.js';
import { eachBackend } from '../support/databases.js';
import { createPrincipalWithToken, createTestApp, decisionsOf, type TestApp } from '../support/app.js';

const PROBLEM = 'application/problem+json';
const system = { actor: { principalId: 'system', kind: 'system', authenticatedBy: 'system' } as const };

describe.each(eachBackend().map((b) => [b.name, b] as const))('routes authorised by Cedar policy [%s]', (_name, backend) => {
  let t: TestApp;
  let auditor: { id: string; token: string };
  let scientist: { id: string; token: string };

  beforeAll(async () => {
    t = await createTestApp(backend);
    auditor = await createPrincipalWithToken(t.db, { name: 'ada-auditor', roles: ['auditor'] });
    scientist = await createPrincipalWithToken(t.db, { name: 'sam-scientist', roles: ['data-scientist'] });
  });
  afterAll(async () => t?.close());

  const get = (url: string, token: string) => t.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });

  it('lets administrators and auditors read the audit log, recording each allow with the permitting policy', async () => {
    expect((await get('/api/v1/audit/status', t.adminToken)).statusCode).toBe(200);
    expect((await get('/api/v1/audit/status', auditor.token)).statusCode).toBe(200);
    const res = await get('/api/v1/audit/entries?limit=1', auditor.token);
    expect(res.statusCode).toBe(200);
    const allows = await decisionsOf(t.db, auditor.id, 'allowed');
    expect(allows.map((e) => e.resource.id)).toEqual(['getAuditStatus', 'searchAuditEntries']);
    expect(allows.at(-1)).toMatchObject({
      resource: { type: 'operation', id: 'searchAuditEntries' },
      decision: { effect: 'allowed', policyIds: ['audit.read-log'] },
      outcome: 'succeeded',
      requestId: res.headers['x-request-id'],
    });
    expect(allows.at(-1)?.reason).toContain('permitted by audit.read-log');
  });

  it('refuses other roles with 403 problem+json naming what is required, and records the refusal', async () => {
    const res = await get('/api/v1/audit/entries', scientist.token);
    expect(res.statusCode).toBe(403);
    expect(res.headers['content-type']).toContain(PROBLEM);
    const body = res.json<{ type: string; detail: string }>();
    expect(body.type).toBe('urn:assay:problem:forbidden');
    expect(body.detail).toContain('audit.read-log');
    expect(body.detail).toContain('auditor');
    const denials = await decisionsOf(t.db, scientist.id, 'denied');
    expect(denials).toHaveLength(1);
    expect(denials[0]).toMatchObject({
      resource: { type: 'operation', id: 'searchAuditEntries' },
      decision: { effect: 'denied', policyIds: [] },
      outcome: 'failed',
      requestId: res.headers['x-request-id'],
    });
    expect(denials[0]?.reason).toContain('no policy permits it');
  });

  it('fails the request closed when the decision cannot be recorded', async () => {
    // A trigger makes the decision's audit entry unwritable: the allow must not go through.
    const before = await decisionsOf(t.db, auditor.id);
    await t.db.query(`CREATE OR REPLACE FUNCTION assay_test_refuse_authz() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.action = 'authz.decide' THEN RAISE EXCEPTION 'audit store unavailable'; END IF; RETURN NEW; END $$`);
    await t.db.query('CREATE TRIGGER assay_test_refuse_authz BEFORE INSERT ON audit_entries FOR EACH ROW EXECUTE FUNCTION assay_test_refuse_authz()');
    try {
      const res = await get('/api/v1/audit/status', auditor.token);
      expect(res.statusCode).toBe(500);
      expect(res.body).not.toContain('"size"');
    } finally {
      await t.db.query('DROP TRIGGER assay_test_refuse_authz ON audit_entries');
    }
    expect(await decisionsOf(t.db, auditor.id)).toHaveLength(before.length);
    expect((await get('/api/v1/audit/status', auditor.token)).statusCode).toBe(200);
  });

  it('serves self-service routes to any authenticated principal', async () => {
    const res = await get('/api/v1/whoami', scientist.token);
    expect(res.statusCode).toBe(200);
    expect(res.json<{ roles: string[] }>().roles).toEqual(['data-scientist']);
  });

  it('refuses unknown roles when creating a principal, and writes nothing', async () => {
    await expect(createPrincipal(t.db, { name: 'x', kind: 'human', roles: ['wizard'] }, system)).rejects.toMatchObject({
      code: 'validation_failed',
    });
    const r = await t.db.query('SELECT 1 FROM principals WHERE name = $1', ['x']);
    expect(r.rowCount).toBe(0);
  });
});
