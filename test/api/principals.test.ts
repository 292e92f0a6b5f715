import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAuditEntries } from '../../src/audit/index.js';
import { changeEntryCount, createPrincipalWithToken, createTestApp, decisionsOf, type TestApp } from '../support/app.js';
import { eachBackend } from '../support/databases.js';
import { bearer, createIdentityApp, entries, type IdentityApp } from '../identity/harness.js';

const PROBLEM = 'application/problem+json';

interface Created {
  id: string;
  name: string;
  roles: string[];
  attributes: Record<string, unknown>;
  disabledAt: string | null;
  token?: string;
  tokenId?: string;
}

function fieldsOf(body: { errors?: Array<{ field: string }> }): string[] {
  return (body.errors ?? []).map((e) => e.field).sort();
}

describe.each(eachBackend().map((b) => [b.name, b] as const))('principals and tokens API [%s]', (_name, backend) => {
  let t: TestApp;
  let auditor: { id: string; token: string };

  beforeAll(async () => {
    t = await createTestApp(backend);
    auditor = await createPrincipalWithToken(t.db, { name: 'ada-auditor', roles: ['auditor'] });
  });
  afterAll(async () => t?.close());

  const call = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, token: string, payload?: object) =>
    t.app.inject({ method, url, headers: bearer(token), ...(payload ? { payload } : {}) });
  const count = async (table: string): Promise<number> => (await t.db.query(`SELECT 1 FROM ${table}`)).rowCount;

  it('creates a principal with roles, attributes and a first token in one audited transaction', async () => {
    const res = await call('POST', '/api/v1/principals', t.adminToken, {
      name: 'svc-scoring',
      kind: 'service',
      roles: ['ml-engineer', 'data-scientist', 'ml-engineer'],
      attributes: { team: 'credit-risk', clearance: ['pii', 'internal', 'pii'], region: 'eu-west' },
      token: { name: 'ci' },
    });
    expect(res.statusCode, res.body).toBe(201);
    const created = res.json<Created>();
    expect(created).toMatchObject({
      name: 'svc-scoring',
      kind: 'service',
      roles: ['data-scientist', 'ml-engineer'],
      attributes: { team: 'credit-risk', clearance: ['internal', 'pii'], region: 'eu-west' },
      createdBy: t.adminId,
      disabledAt: null,
      oidc: null,
    });
    expect(created.token).toMatch(/^assay_/);

    const me = await call('GET', '/api/v1/whoami', created.token!);
    expect(me.statusCode).toBe(200);
    expect(me.json()).toMatchObject({ id: created.id, roles: ['data-scientist', 'ml-engineer'], scopes: ['read', 'write'] });

    const [create] = await entries(t.db, 'principal.create', created.id);
    expect(create).toMatchObject({ actor: { principalId: t.adminId, authenticatedBy: 'api_token' }, requestId: res.headers['x-request-id'] });
    const [issue] = await entries(t.db, 'token.issue', created.tokenId);
    expect(issue?.requestId).toBe(res.headers['x-request-id']);
    // The secret never reaches the audit log.
    expect(JSON.stringify(await listAuditEntries(t.db))).not.toContain(created.token);
  });

  it('400 naming every bad field, and nothing written', async () => {
    const before = [await count('principals'), await count('api_tokens'), await changeEntryCount(t.db)];
    const res = await call('POST', '/api/v1/principals', t.adminToken, {
      name: 'has space',
      kind: 'robot',
      roles: ['wizard'],
      attributes: { team: 'Credit Risk', colour: 'red', clearance: ['secret'] },
      token: { name: 'x', scopes: ['role:wizard'] },
    });
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toContain(PROBLEM);
    expect(fieldsOf(res.json())).toEqual(
      expect.arrayContaining(['body.name', 'body.kind', 'body.roles.0', 'body.attributes.colour', 'body.attributes.team', 'body.attributes.clearance.0']),
    );
    expect([await count('principals'), await count('api_tokens'), await changeEntryCount(t.db)]).toEqual(before);
  });

  it('refuses a taken name (409) and a token scope the principal cannot hold (400), writing nothing', async () => {
    const before = [await count('principals'), await count('api_tokens')];
    const dup = await call('POST', '/api/v1/principals', t.adminToken, { name: 'ada-auditor', roles: ['auditor'], token: { name: 'x' } });
    expect(dup.statusCode).toBe(409);
    expect(fieldsOf(dup.json())).toEqual(['body.name']);
    const exceed = await call('POST', '/api/v1/principals', t.adminToken, {
      name: 'would-exceed',
      roles: ['auditor'],
      token: { name: 'x', scopes: ['role:platform-admin'] },
    });
    expect(exceed.statusCode).toBe(400);
    expect(fieldsOf(exceed.json())).toEqual(['body.token.scopes']);
    expect([await count('principals'), await count('api_tokens')]).toEqual(before);
  });

  it('lists with filters and cursor paging, and shows one', async () => {
    const page1 = await call('GET', '/api/v1/principals?limit=1', t.adminToken);
    expect(page1.statusCode).toBe(200);
    const p1 = page1.json<{ principals: Created[]; nextCursor: string | null }>();
    expect(p1.principals).toHaveLength(1);
    expect(p1.nextCursor).toBe(p1.principals[0]!.id);
    const page2 = await call('GET', `/api/v1/principals?limit=1000&after=${p1.nextCursor}`, t.adminToken);
    expect(page2.json<{ principals: Created[] }>().principals.map((p) => p.id)).not.toContain(p1.principals[0]!.id);
    const byName = await call('GET', '/api/v1/principals?name=ada-auditor', t.adminToken);
    expect(byName.json<{ principals: Created[] }>().principals.map((p) => p.id)).toEqual([auditor.id]);
    const services = await call('GET', '/api/v1/principals?kind=service', t.adminToken);
    expect(services.json<{ principals: Created[] }>().principals.map((p) => p.name)).toEqual(['svc-scoring']);

    const one = await call('GET', `/api/v1/principals/${auditor.id}`, t.adminToken);
    expect(one.json()).toMatchObject({ id: auditor.id, name: 'ada-auditor', roles: ['auditor'] });
    expect((await call('GET', '/api/v1/principals/prn_00000000000000000000000000', t.adminToken)).statusCode).toBe(404);
    const bad = await call('GET', '/api/v1/principals/nope', t.adminToken);
    expect(bad.statusCode).toBe(400);
    expect(fieldsOf(bad.json())).toEqual(['params.id']);
  });

  it.each([
    ['POST', '/api/v1/principals', 'createPrincipal'],
    ['GET', '/api/v1/principals', 'listPrincipals'],
    ['GET', '/api/v1/principals/:self', 'getPrincipal'],
    ['PATCH', '/api/v1/principals/:self', 'updatePrincipal'],
    ['POST', '/api/v1/principals/:self/tokens', 'issuePrincipalToken'],
    ['GET', '/api/v1/principals/:self/tokens', 'listPrincipalTokens'],
  ] as const)('%s %s is for platform-admins: 403 for others, audited', async (method, path, operationId) => {
    const res = await call(method, path.replace(':self', auditor.id), auditor.token, method === 'GET' ? undefined : { roles: ['platform-admin'] });
    expect(res.statusCode).toBe(403);
    const denials = (await decisionsOf(t.db, auditor.id, 'denied')).filter((e) => e.resource.id === operationId);
    expect(denials.at(-1)).toMatchObject({ requestId: res.headers['x-request-id'], decision: { effect: 'denied' }, outcome: 'failed' });
    expect((await call('GET', `/api/v1/principals/${auditor.id}`, t.adminToken)).json().roles).toEqual(['auditor']);
  });

  it('patches roles and attributes, disables and enables, each audited; a disabled principal cannot authenticate', async () => {
    const p = await createPrincipalWithToken(t.db, { name: 'pat-patched', roles: ['data-scientist'] });
    const patched = await call('PATCH', `/api/v1/principals/${p.id}`, t.adminToken, {
      roles: ['data-steward', 'data-scientist'],
      attributes: { team: 'lending', region: 'eu-west' },
      reason: 'joined the lending stewards',
    });
    expect(patched.statusCode, patched.body).toBe(200);
    expect(patched.json()).toMatchObject({ roles: ['data-scientist', 'data-steward'], attributes: { team: 'lending', region: 'eu-west' } });
    const [roles] = await entries(t.db, 'principal.roles.set', p.id);
    expect(roles?.reason).toBe('roles data-scientist → data-scientist, data-steward: joined the lending stewards');
    expect(roles?.actor.principalId).toBe(t.adminId);
    expect(await entries(t.db, 'principal.attributes.set', p.id)).toHaveLength(1);

    // The same values again change nothing and record nothing.
    await call('PATCH', `/api/v1/principals/${p.id}`, t.adminToken, { roles: ['data-steward', 'data-scientist'] });
    expect(await entries(t.db, 'principal.roles.set', p.id)).toHaveLength(1);

    expect((await call('PATCH', `/api/v1/principals/${p.id}`, t.adminToken, { disabled: true })).json().disabledAt).not.toBeNull();
    expect(await entries(t.db, 'principal.disable', p.id)).toHaveLength(1);
    const refused = await call('GET', '/api/v1/whoami', p.token);
    expect(refused.statusCode).toBe(401);
    expect(refused.json().detail).toBe('principal disabled');
    const [fail] = await listAuditEntries(t.db, { action: 'authn.fail', principalId: p.id });
    expect(fail).toMatchObject({ reason: 'principal disabled', outcome: 'failed', requestId: refused.headers['x-request-id'] });

    expect((await call('PATCH', `/api/v1/principals/${p.id}`, t.adminToken, { disabled: false })).json().disabledAt).toBeNull();
    expect(await entries(t.db, 'principal.enable', p.id)).toHaveLength(1);
    expect((await call('GET', '/api/v1/whoami', p.token)).statusCode).toBe(200);
  });

  it('refuses to leave no enabled platform-admin, and an empty or unknown change', async () => {
    // The sole administrator cannot demote itself: separation of duties refuses it first.
    const self = await call('PATCH', `/api/v1/principals/${t.adminId}`, t.adminToken, { roles: ['auditor'] });
    expect(self.statusCode).toBe(403);
    expect(self.json().detail).toContain('sod.no-self-privilege-change');
    // A break-glass operator acts as platform-admin without holding the role, so it reaches the
    // last-administrator guard: that guard still holds.
    const oncall = await createPrincipalWithToken(t.db, { name: 'olly-oncall', roles: ['break-glass'] });
    const elevated = await call('POST', '/api/v1/break-glass', oncall.token, { reason: 'restore access after an outage', durationMinutes: 5 });
    expect(elevated.statusCode, elevated.body).toBe(201);
    const demote = await call('PATCH', `/api/v1/principals/${t.adminId}`, oncall.token, { roles: ['auditor'] });
    expect(demote.statusCode).toBe(409);
    expect(fieldsOf(demote.json())).toEqual(['body.roles']);
    const disable = await call('PATCH', `/api/v1/principals/${t.adminId}`, oncall.token, { disabled: true });
    expect(disable.statusCode).toBe(409);
    expect(fieldsOf(disable.json())).toEqual(['body.disabled']);
    expect((await call('DELETE', '/api/v1/break-glass', oncall.token)).statusCode).toBe(200);
    expect((await call('GET', '/api/v1/whoami', t.adminToken)).json().roles).toEqual(['platform-admin']);

    expect((await call('PATCH', `/api/v1/principals/${auditor.id}`, t.adminToken, {})).statusCode).toBe(400);
    const unknown = await call('PATCH', `/api/v1/principals/${auditor.id}`, t.adminToken, { name: 'renamed' });
    expect(fieldsOf(unknown.json())).toContain('body.name');
    expect((await call('PATCH', '/api/v1/principals/prn_00000000000000000000000000', t.adminToken, { disabled: true })).statusCode).toBe(404);
  });

  it('read-scoped tokens read but cannot write; the refusal is audited', async () => {
    const res = await call('POST', `/api/v1/principals/${auditor.id}/tokens`, t.adminToken, { name: 'reader', scopes: ['read'] });
    expect(res.statusCode).toBe(201);
    const reader = res.json<{ token: string; scopes: string[] }>();
    expect(reader.scopes).toEqual(['read']);
    expect((await call('GET', '/api/v1/audit/status', reader.token)).statusCode).toBe(200);
    const write = await call('POST', '/api/v1/tokens', reader.token, { name: 'more' });
    expect(write.statusCode).toBe(403);
    expect(write.json().detail).toContain('issueOwnToken');
    const [deny] = await listAuditEntries(t.db, { action: 'access.deny', resourceId: 'issueOwnToken' });
    expect(deny).toMatchObject({ decision: { policyIds: ['scope:issueOwnToken'] }, requestId: write.headers['x-request-id'] });
  });

  it('operation-id scopes admit exactly those operations', async () => {
    const res = await call('POST', '/api/v1/tokens', auditor.token, { name: 'whoami-only', scopes: ['getCurrentPrincipal'] });
    expect(res.statusCode).toBe(201);
    const only = res.json<{ token: string }>().token;
    expect((await call('GET', '/api/v1/whoami', only)).statusCode).toBe(200);
    expect((await call('GET', '/api/v1/tokens', only)).statusCode).toBe(403);
  });

  it('refuses a scope that names no operation (400 naming the field), issuing nothing', async () => {
    const before = [await count('principals'), await count('api_tokens'), await changeEntryCount(t.db)];
    const own = await call('POST', '/api/v1/tokens', auditor.token, { name: 'typo', scopes: ['read', 'ingestDatasetVersoin'] });
    expect(own.statusCode).toBe(400);
    expect(own.json()).toMatchObject({ errors: [{ field: 'body.scopes.1', detail: expect.stringContaining('did you mean "ingestDatasetVersion"?') }] });
    const other = await call('POST', `/api/v1/principals/${auditor.id}/tokens`, t.adminToken, { name: 'bogus', scopes: ['bogus'] });
    expect(other.statusCode).toBe(400);
    expect(fieldsOf(other.json())).toEqual(['body.scopes.0']);
    const enrol = await call('POST', '/api/v1/principals', t.adminToken, { name: 'never-made', roles: ['auditor'], token: { scopes: ['getCurrentPrincipal', 'bogus'] } });
    expect(enrol.statusCode).toBe(400);
    expect(fieldsOf(enrol.json())).toEqual(['body.token.scopes.1']);
    expect([await count('principals'), await count('api_tokens'), await changeEntryCount(t.db)]).toEqual(before);
  });

  it('a token stored with a scope no operation has (issued before scopes were checked) keeps working', async () => {
    const res = await call('POST', '/api/v1/tokens', auditor.token, { name: 'legacy', scopes: ['getCurrentPrincipal'] });
    const issued = res.json<{ id: string; token: string }>();
    await t.db.query("UPDATE api_tokens SET scopes = ARRAY['bogus', 'getCurrentPrincipal'] WHERE id = $1", [issued.id]);
    expect((await call('GET', '/api/v1/whoami', issued.token)).json()).toMatchObject({ scopes: ['bogus', 'getCurrentPrincipal'] });
    expect((await call('GET', '/api/v1/tokens', issued.token)).statusCode).toBe(403);
  });

  it('role scopes narrow the roles a token acts with, never widen them', async () => {
    const steward = await createPrincipalWithToken(t.db, { name: 'sue-steward', roles: ['auditor', 'data-steward'] });
    const narrowed = await call('POST', '/api/v1/tokens', steward.token, { name: 'audit-only', scopes: ['role:data-steward'] });
    expect(narrowed.statusCode, narrowed.body).toBe(201);
    const token = narrowed.json<{ token: string; scopes: string[] }>();
    expect(token.scopes).toEqual(['read', 'role:data-steward', 'write']);
    expect((await call('GET', '/api/v1/whoami', token.token)).json().roles).toEqual(['data-steward']);
    // The auditor role is outside the token's scopes, so the audit API refuses it.
    expect((await call('GET', '/api/v1/audit/status', token.token)).statusCode).toBe(403);
    // …and it cannot mint itself a token without the narrowing.
    expect((await call('POST', '/api/v1/tokens', token.token, { name: 'wider' })).statusCode).toBe(403);
    expect((await call('POST', '/api/v1/tokens', token.token, { name: 'same', scopes: ['role:data-steward'] })).statusCode).toBe(201);
    expect((await call('POST', '/api/v1/tokens', steward.token, { name: 'x', scopes: ['role:platform-admin'] })).statusCode).toBe(400);
  });

  it('lists tokens without secrets, and revokes: self or admin only, once, audited', async () => {
    const owner = await createPrincipalWithToken(t.db, { name: 'otto-owner', roles: ['data-scientist'] });
    const other = await createPrincipalWithToken(t.db, { name: 'olga-other', roles: ['data-scientist'] });
    const second = (await call('POST', '/api/v1/tokens', owner.token, { name: 'laptop' })).json<{ id: string; token: string }>();

    const mine = await call('GET', '/api/v1/tokens', owner.token);
    expect(mine.json<{ tokens: Array<{ name: string }> }>().tokens.map((x) => x.name)).toEqual(['laptop', 'test']);
    const adminView = await call('GET', `/api/v1/principals/${owner.id}/tokens`, t.adminToken);
    expect(adminView.statusCode).toBe(200);
    for (const body of [mine.body, adminView.body]) {
      expect(body).not.toContain(second.token);
      expect(body).not.toContain(owner.token);
      expect(body).not.toMatch(/"token"|sha256/);
    }

    const foreign = await call('DELETE', `/api/v1/tokens/${second.id}`, other.token);
    expect(foreign.statusCode).toBe(403);
    const [refusal] = (await decisionsOf(t.db, other.id, 'denied')).filter((e) => e.requestId === foreign.headers['x-request-id']);
    expect(refusal).toMatchObject({ resource: { type: 'operation', id: 'revokeToken' }, decision: { policyIds: [] } });
    expect(refusal?.reason).toContain(`Token ${second.id}`);
    expect((await call('GET', '/api/v1/whoami', second.token)).statusCode).toBe(200);

    const revoked = await call('DELETE', `/api/v1/tokens/${second.id}`, owner.token);
    expect(revoked.statusCode).toBe(200);
    expect(revoked.json().revokedAt).not.toBeNull();
    const again = await call('DELETE', `/api/v1/tokens/${second.id}`, owner.token);
    expect(again.json().revokedAt).toBe(revoked.json().revokedAt);
    expect(await entries(t.db, 'token.revoke', second.id)).toHaveLength(1);

    const refused = await call('GET', '/api/v1/whoami', second.token);
    expect(refused.statusCode).toBe(401);
    expect(refused.json().detail).toBe('bearer token revoked');
    const [fail] = await entries(t.db, 'authn.fail', second.id);
    expect(fail).toMatchObject({ actor: { principalId: owner.id }, reason: 'bearer token revoked', decision: { effect: 'denied' } });

    const otherTokenId = (await call('GET', `/api/v1/principals/${other.id}/tokens`, t.adminToken)).json<{ tokens: Array<{ id: string }> }>().tokens[0]!.id;
    expect((await call('DELETE', `/api/v1/tokens/${otherTokenId}`, t.adminToken)).statusCode).toBe(200);
    expect((await call('GET', '/api/v1/whoami', other.token)).statusCode).toBe(401);
    expect((await call('DELETE', '/api/v1/tokens/tok_00000000000000000000000000', t.adminToken)).statusCode).toBe(404);
  });

  it('audits refused credentials without recording them', async () => {
    const unknown = `assay_${'B'.repeat(43)}`;
    const res = await t.app.inject({ url: '/api/v1/whoami', headers: bearer(unknown) });
    expect(res.statusCode).toBe(401);
    const [fail] = (await listAuditEntries(t.db, { action: 'authn.fail' })).filter((e) => e.requestId === res.headers['x-request-id']);
    expect(fail).toMatchObject({ actor: { principalId: 'anonymous' }, reason: 'unknown bearer token', resource: { type: 'api_token' } });
    expect(JSON.stringify(fail)).not.toContain('B'.repeat(43));
  });

  it('documents every identity route in OpenAPI', async () => {
    const doc = (await call('GET', '/api/v1/openapi.json', t.adminToken)).json<{ paths: Record<string, Record<string, { operationId: string }>> }>();
    const ops = Object.values(doc.paths).flatMap((p) => Object.values(p).map((o) => o.operationId));
    expect(ops).toEqual(
      expect.arrayContaining([
        'createPrincipal', 'listPrincipals', 'getPrincipal', 'updatePrincipal', 'issuePrincipalToken', 'listPrincipalTokens',
        'issueOwnToken', 'listOwnTokens', 'revokeToken', 'startBreakGlass', 'endBreakGlass',
      ]),
    );
  });
});

describe.each(eachBackend().map((b) => [b.name, b] as const))('token expiry and last use, on a hand-moved clock [%s]', (_name, backend) => {
  let t: IdentityApp;
  beforeAll(async () => {
    t = await createIdentityApp(backend);
  });
  afterAll(async () => t?.close());

  const whoami = (token: string) => t.app.inject({ url: '/api/v1/whoami', headers: bearer(token) });
  const lastUsed = async (tokenId: string): Promise<string | null> => {
    const r = await t.db.query<{ last_used_at: string | null }>('SELECT last_used_at FROM api_tokens WHERE id = $1', [tokenId]);
    return r.rows[0]!.last_used_at;
  };

  it('a token expires exactly when its days are up', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: bearer(t.adminToken), payload: { name: 'day', expiresInDays: 1 } });
    const issued = res.json<{ id: string; token: string; expiresAt: string }>();
    expect(Date.parse(issued.expiresAt)).toBe(t.clock.now().getTime() + 86_400_000);
    t.clock.advance(86_400_000 - 1);
    expect((await whoami(issued.token)).statusCode).toBe(200);
    t.clock.advance(1);
    const expired = await whoami(issued.token);
    expect(expired.statusCode).toBe(401);
    expect(expired.json().detail).toBe('bearer token expired');
    expect(await entries(t.db, 'authn.fail', issued.id)).toHaveLength(1);
  });

  it('records last use at most once a minute per token', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: bearer(t.adminToken), payload: { name: 'busy' } });
    const issued = res.json<{ id: string; token: string }>();
    expect(await lastUsed(issued.id)).toBeNull();
    const first = t.clock.now().getTime();
    await whoami(issued.token);
    expect(Date.parse((await lastUsed(issued.id))!)).toBe(first);
    t.clock.advance(30_000);
    await whoami(issued.token);
    await whoami(issued.token);
    expect(Date.parse((await lastUsed(issued.id))!)).toBe(first);
    t.clock.advance(30_000);
    await whoami(issued.token);
    expect(Date.parse((await lastUsed(issued.id))!)).toBe(first + 60_000);
    const listed = await t.app.inject({ url: '/api/v1/tokens', headers: bearer(t.adminToken) });
    expect(listed.json<{ tokens: Array<{ id: string; lastUsedAt: string }> }>().tokens.find((x) => x.id === issued.id)?.lastUsedAt).toBe(
      new Date(first + 60_000).toISOString(),
    );
  });
});
