import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAuditEntries } from '../../src/audit/index.js';
import { createPrincipal } from '../../src/identity/index.js';
import { eachBackend } from '../support/databases.js';
import { createPrincipalWithToken, createTestApp, type TestApp } from '../support/app.js';

const PROBLEM = 'application/problem+json';
const system = { actor: { principalId: 'system', kind: 'system', authenticatedBy: 'system' } as const };

describe.each(eachBackend().map((b) => [b.name, b] as const))('role-gated routes [%s]', (_name, backend) => {
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

  it('lets administrators and auditors read the audit log', async () => {
    expect((await get('/api/v1/audit/status', t.adminToken)).statusCode).toBe(200);
    expect((await get('/api/v1/audit/status', auditor.token)).statusCode).toBe(200);
    expect((await get('/api/v1/audit/entries?limit=1', auditor.token)).statusCode).toBe(200);
  });

  it('refuses other roles with 403 problem+json and records the refusal', async () => {
    const res = await get('/api/v1/audit/entries', scientist.token);
    expect(res.statusCode).toBe(403);
    expect(res.headers['content-type']).toContain(PROBLEM);
    const body = res.json<{ type: string; detail: string }>();
    expect(body.type).toBe('urn:assay:problem:forbidden');
    expect(body.detail).toContain('auditor');
    const denials = await listAuditEntries(t.db, { action: 'access.deny', principalId: scientist.id });
    expect(denials).toHaveLength(1);
    expect(denials[0]).toMatchObject({
      resource: { type: 'operation', id: 'searchAuditEntries' },
      decision: { effect: 'denied' },
      outcome: 'failed',
      requestId: res.headers['x-request-id'],
    });
  });

  it('still serves routes without roles to any authenticated principal', async () => {
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
