import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routeTable, type AppDeps, type RouteSpec } from '../../src/api/index.js';
import { BUILT_IN_ROLES, type AuthenticatedPrincipal, type Role } from '../../src/identity/index.js';
import { loadPolicyEngine, type PolicyEngine } from '../../src/policy/index.js';
import { createPrincipalWithToken, createTestApp, decisionsOf, type TestApp } from '../support/app.js';
import { eachBackend } from '../support/databases.js';

/**
 * The authorisation matrix: every token route of the route table × every built-in role, with
 * the decision the default policy pack must give. `A` allows, `-` denies. A route missing from
 * the table (a new route nobody wrote a policy expectation for), a route the table names that
 * no longer exists, or a role column that is not a built-in role fails the test.
 *
 * The resource of each cell is built by the route's own `authorize` descriptor, from a
 * representative request: path parameters name another principal, a token owned by another
 * principal, a legal hold, a payload, someone else's approval request. Own-principal routes act on the caller.
 */
const COLUMNS = 'adm stw sci mle val rsk cmp sec aud app brk';
const ROLE_OF: Record<string, Role> = {
  adm: 'platform-admin',
  stw: 'data-steward',
  sci: 'data-scientist',
  mle: 'ml-engineer',
  val: 'model-validator',
  rsk: 'risk-officer',
  cmp: 'compliance-officer',
  sec: 'security-officer',
  aud: 'auditor',
  app: 'app-client',
  brk: 'break-glass',
};

// prettier-ignore
const MATRIX: Record<string, string> = {
  //                          adm stw sci mle val rsk cmp sec aud app brk
  getOpenApi:               ' A   A   A   A   A   A   A   A   A   A   A ',
  getCurrentPrincipal:      ' A   A   A   A   A   A   A   A   A   A   A ',
  issueOwnToken:            ' A   A   A   A   A   A   A   A   A   A   A ',
  listOwnTokens:            ' A   A   A   A   A   A   A   A   A   A   A ',
  revokeToken:              ' A   -   -   -   -   -   -   -   -   -   - ',
  startBreakGlass:          ' -   -   -   -   -   -   -   -   -   -   A ',
  endBreakGlass:            ' -   -   -   -   -   -   -   -   -   -   A ',
  createPrincipal:          ' A   -   -   -   -   -   -   -   -   -   - ',
  listPrincipals:           ' A   -   -   -   -   -   -   -   -   -   - ',
  getPrincipal:             ' A   -   -   -   -   -   -   -   -   -   - ',
  updatePrincipal:          ' A   -   -   -   -   -   -   -   -   -   - ',
  issuePrincipalToken:      ' A   -   -   -   -   -   -   -   -   -   - ',
  listPrincipalTokens:      ' A   -   -   -   -   -   -   -   -   -   - ',
  getAuditPublicKey:        ' A   -   -   -   -   -   -   -   A   -   - ',
  listAuditPublicKeys:      ' A   -   -   -   -   -   -   -   A   -   - ',
  getAuditCheckpoint:       ' A   -   -   -   -   -   -   -   A   -   - ',
  getAuditLeaves:           ' A   -   -   -   -   -   -   -   A   -   - ',
  getAuditInclusionProof:   ' A   -   -   -   -   -   -   -   A   -   - ',
  getAuditConsistencyProof: ' A   -   -   -   -   -   -   -   A   -   - ',
  verifyAuditLog:           ' A   -   -   -   -   -   -   -   A   -   - ',
  getAuditStatus:           ' A   -   -   -   -   -   -   -   A   -   - ',
  searchAuditEntries:       ' A   -   -   -   -   -   -   -   A   -   - ',
  listAuditPayloads:        ' -   -   -   -   -   -   A   A   A   -   - ',
  getAuditPayload:          ' -   -   -   -   -   -   A   A   A   -   - ',
  readAuditPayload:         ' -   -   -   -   -   -   A   A   -   -   - ',
  eraseAuditPayload:        ' -   -   -   -   -   -   A   -   -   -   - ',
  listLegalHolds:           ' A   -   -   -   -   -   A   A   A   -   - ',
  getLegalHold:             ' A   -   -   -   -   -   A   A   A   -   - ',
  placeLegalHold:           ' A   -   -   -   -   -   A   A   -   -   - ',
  releaseLegalHold:         ' -   -   -   -   -   -   A   -   -   -   - ',
  getAuditRetention:        ' A   -   -   -   -   A   A   A   A   -   - ',
  purgeAuditPayloads:       ' A   -   -   -   -   -   A   -   -   -   - ',
  decideAutonomy:           ' A   A   A   A   A   A   A   A   A   A   A ',
  listApprovalRequests:     ' A   -   -   -   -   A   A   -   A   -   - ',
  getApprovalRequest:       ' A   -   -   -   -   A   A   -   A   -   - ',
  approveApprovalRequest:   ' A   -   -   -   -   A   -   -   -   -   - ',
  rejectApprovalRequest:    ' A   -   -   -   -   A   -   -   -   -   - ',
  getMetrics:               ' A   -   -   -   -   -   -   A   -   -   - ',
  ingestLineageEvents:      ' A   A   -   A   -   -   -   -   -   -   - ',
  ingestLineageEventBatch:  ' A   A   -   A   -   -   -   -   -   -   - ',
  getLineageGraph:          ' A   A   A   A   A   A   A   A   A   -   - ',
  ingestDatasetVersion:     ' -   A   A   A   -   -   -   -   -   -   - ',
  listDatasets:             ' A   A   A   A   A   A   A   -   A   -   - ',
  getDataset:               ' A   A   A   A   A   A   A   -   A   -   - ',
  listDatasetVersions:      ' A   A   A   A   A   A   A   -   A   -   - ',
  getDatasetVersion:        ' A   A   A   A   A   A   A   -   A   -   - ',
  getDatasetVersionChecks:  ' A   A   A   A   A   A   A   -   A   -   - ',
  getDatasetVersionProfile: ' A   A   A   A   A   A   A   -   A   -   - ',
  getDatasetVersionManifest:' A   A   A   A   A   A   A   -   A   -   - ',
  downloadCertifiedDataset: ' -   A   A   A   A   -   -   -   -   -   - ',
  approveDataset:           ' -   A   -   -   -   -   -   -   -   -   - ',
  overrideDatasetCheck:     ' -   A   -   -   -   -   A   -   -   -   - ',
  requestErasure:           ' A   A   -   -   -   -   A   -   -   -   - ',
  listErasureRequests:      ' A   A   -   -   -   -   A   -   A   -   - ',
  getErasureRequest:        ' A   A   -   -   -   -   A   -   A   -   - ',
};

const CALLER = 'prn_01J00000000000000000CALLER';
const OTHER = 'prn_01J000000000000000000OTHER';
const TOKEN = 'tok_01J000000000000000000TOKEN';
const HOLD = 'hold_01J0000000000000000000HOLD';
const APPROVAL = 'apr_01J00000000000000APPROVAL';
const SHA256 = 'a'.repeat(64);

type TokenRoute = Extract<RouteSpec, { auth: 'token' }>;
const tokenRoutes = (): TokenRoute[] => routeTable().filter((r): r is TokenRoute => r.auth === 'token');
const cells = (row: string): string[] => row.trim().split(/\s+/);

/** A caller acting with `roles` only; `elevated` adds a break-glass elevation in force. */
function caller(roles: Role[], elevated = false): AuthenticatedPrincipal {
  return {
    id: CALLER,
    name: 'caller',
    kind: 'human',
    roles,
    attributes: {},
    createdAt: '2030-01-01T00:00:00.000Z',
    createdBy: null,
    disabledAt: null,
    oidc: null,
    authenticatedBy: 'api_token',
    tokenId: 'tok_01J00000000000000000CALLER',
    scopes: ['read', 'write'],
    authenticatedAt: '2030-01-01T00:00:00.000Z',
    ...(elevated ? { elevation: { id: 'elv_1', reason: 'matrix test', expiresAt: '2030-01-01T01:00:00.000Z' } } : {}),
  };
}

/** Path parameters of a representative request: someone else's principal and token, a hold, a payload. */
function paramsFor(path: string): Record<string, string> {
  const params: Record<string, string> = {};
  for (const [, name] of path.matchAll(/:(\w+)/g)) {
    if (name === 'sha256') params[name] = SHA256;
    else if (path.includes('/principals/')) params[name!] = OTHER;
    else if (path.includes('/holds/')) params[name!] = HOLD;
    else if (path.includes('/tokens/')) params[name!] = TOKEN;
    else if (path.includes('/approvals/')) params[name!] = APPROVAL;
  }
  return params;
}

/** The lookups resource builders make — a token's owner, an approval request's requester — find someone else. */
const lookupDb = { query: async () => ({ rows: [{ principal_id: OTHER, requester_id: OTHER }], rowCount: 1 }) };

/** The engine's decision for one cell, with the resource the route's own descriptor builds. */
async function decide(engine: PolicyEngine, route: TokenRoute, principal: AuthenticatedPrincipal): Promise<'A' | '-'> {
  const deps = { db: lookupDb, policy: engine } as unknown as AppDeps;
  const resource = await route.authorize.resource({ params: paramsFor(route.path), query: {}, principal, deps });
  const d = engine.authorize({ principal, action: route.operationId, resource, context: { elevated: principal.elevation !== undefined } });
  expect(d.errors).toEqual([]);
  // An allow always names the permit that decided it: the audit entry must be able to say why.
  if (d.decision === 'allow') expect(d.policyIds.length).toBeGreaterThan(0);
  return d.decision === 'allow' ? 'A' : '-';
}

describe('authorisation matrix: every token route × every built-in role', () => {
  let engine: PolicyEngine;
  beforeAll(async () => {
    engine = await loadPolicyEngine();
  });

  it('has one column per built-in role, in order', () => {
    expect(cells(COLUMNS).map((c) => ROLE_OF[c])).toEqual([...BUILT_IN_ROLES]);
    for (const [op, row] of Object.entries(MATRIX)) expect(cells(row), op).toHaveLength(BUILT_IN_ROLES.length);
  });

  it('lists exactly the token routes of the route table: a new route needs its row', () => {
    const routes = tokenRoutes().map((r) => r.operationId);
    expect(routes.filter((op) => !(op in MATRIX)), 'routes missing from the matrix').toEqual([]);
    expect(Object.keys(MATRIX).filter((op) => !routes.includes(op)), 'matrix rows without a route').toEqual([]);
  });

  it.each(tokenRoutes().map((r) => [r.operationId, r] as const))('%s decides as the matrix says', async (op, route) => {
    const actual: string[] = [];
    for (const role of BUILT_IN_ROLES) actual.push(await decide(engine, route, caller([role])));
    expect(actual.join(' ')).toBe(cells(MATRIX[op] ?? '').join(' '));
  });

  it('an elevated break-glass principal decides like platform-admin (and keeps its own break-glass routes)', async () => {
    for (const route of tokenRoutes()) {
      const row = cells(MATRIX[route.operationId] ?? '');
      const expected = row[0] === 'A' || row[10] === 'A' ? 'A' : '-';
      expect(await decide(engine, route, caller(['break-glass', 'platform-admin'], true)), route.operationId).toBe(expected);
    }
  });
});

/** Requests over HTTP for a sample of cells: the wiring asks the engine and records what it said. */
describe.each(eachBackend().map((b) => [b.name, b] as const))('authorisation matrix over HTTP [%s]', (_name, backend) => {
  let t: TestApp;
  const holders = new Map<Role, { id: string; token: string }>();
  let adminTokenId: string;

  beforeAll(async () => {
    t = await createTestApp(backend);
    for (const role of BUILT_IN_ROLES) holders.set(role, await createPrincipalWithToken(t.db, { name: `holder-${role}`, roles: [role] }));
    adminTokenId = (await t.db.query<{ id: string }>('SELECT id FROM api_tokens WHERE principal_id = $1', [t.adminId])).rows[0]!.id;
  });
  afterAll(async () => t?.close());

  const expected = (op: string, role: Role): 'A' | '-' => cells(MATRIX[op] ?? '')[BUILT_IN_ROLES.indexOf(role)] as 'A' | '-';

  async function check(sample: { method: 'GET' | 'POST' | 'DELETE'; url: string; op: string; role: Role }): Promise<void> {
    const who = holders.get(sample.role)!;
    const res = await t.app.inject({ method: sample.method, url: sample.url, headers: { authorization: `Bearer ${who.token}` } });
    const allow = expected(sample.op, sample.role) === 'A';
    expect(res.statusCode, `${sample.op} as ${sample.role}: ${res.body}`).toBe(allow ? 200 : 403);
    const [decision] = (await decisionsOf(t.db, who.id)).filter((e) => e.requestId === res.headers['x-request-id']);
    expect(decision).toMatchObject({
      resource: { type: 'operation', id: sample.op },
      decision: { effect: allow ? 'allowed' : 'denied' },
      outcome: allow ? 'succeeded' : 'failed',
    });
    if (allow) expect(decision?.decision.policyIds.length).toBeGreaterThan(0);
  }

  it.each([
    ['GET', '/api/v1/audit/retention', 'getAuditRetention'],
    ['GET', '/api/v1/audit/payloads', 'listAuditPayloads'],
    ['GET', '/api/v1/audit/status', 'getAuditStatus'],
  ] as const)('%s %s: every role, as the matrix says', async (method, url, op) => {
    for (const role of BUILT_IN_ROLES) await check({ method, url, op, role });
  });

  it('a sample of other cells, denials before any body is read', async () => {
    await check({ method: 'GET', url: '/api/v1/whoami', op: 'getCurrentPrincipal', role: 'app-client' });
    await check({ method: 'GET', url: '/api/v1/openapi.json', op: 'getOpenApi', role: 'data-steward' });
    await check({ method: 'GET', url: '/api/v1/principals', op: 'listPrincipals', role: 'platform-admin' });
    await check({ method: 'GET', url: '/api/v1/principals', op: 'listPrincipals', role: 'security-officer' });
    await check({ method: 'POST', url: '/api/v1/principals', op: 'createPrincipal', role: 'data-scientist' });
    await check({ method: 'POST', url: '/api/v1/audit/purge', op: 'purgeAuditPayloads', role: 'auditor' });
    await check({ method: 'GET', url: `/api/v1/audit/payloads/${SHA256}/content`, op: 'readAuditPayload', role: 'platform-admin' });
    await check({ method: 'POST', url: '/api/v1/break-glass', op: 'startBreakGlass', role: 'app-client' });
    await check({ method: 'POST', url: `/api/v1/audit/holds/${HOLD}/release`, op: 'releaseLegalHold', role: 'security-officer' });
    // The token's owner is looked up: the administrator's token is not the ML engineer's to revoke.
    await check({ method: 'DELETE', url: `/api/v1/tokens/${adminTokenId}`, op: 'revokeToken', role: 'ml-engineer' });
  });
});

/** Separation of duties through every path the API has today for changing a principal. */
describe.each(eachBackend().map((b) => [b.name, b] as const))('separation of duties over the API [%s]', (_name, backend) => {
  let t: TestApp;
  let second: { id: string; token: string };
  const dirs: string[] = [];

  beforeAll(async () => {
    t = await createTestApp(backend);
    second = await createPrincipalWithToken(t.db, { name: 'second-admin', roles: ['platform-admin'] });
  });
  afterAll(async () => {
    await t?.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  const patch = (id: string, token: string, payload: object) =>
    t.app.inject({ method: 'PATCH', url: `/api/v1/principals/${id}`, headers: { authorization: `Bearer ${token}` }, payload });
  const rolesOf = async (id: string): Promise<string[]> =>
    (await t.db.query<{ roles: string[] }>('SELECT roles FROM principals WHERE id = $1', [id])).rows[0]!.roles;

  it('the only routes whose body can set roles, attributes or status are createPrincipal (a new principal) and updatePrincipal', () => {
    const changers = routeTable()
      .filter((r) => {
        const shape = (r.request.body as { shape?: Record<string, unknown> } | undefined)?.shape ?? {};
        return ['roles', 'attributes', 'disabled'].some((k) => k in shape);
      })
      .map((r) => r.operationId)
      .sort();
    // A new route here (a batch endpoint, say) must be reviewed for sod.no-self-privilege-change.
    expect(changers).toEqual(['createPrincipal', 'updatePrincipal']);
  });

  it.each([
    ['roles', { roles: ['platform-admin', 'auditor'] }],
    ['attributes', { attributes: { clearance: ['phi'] } }],
    ['status', { disabled: true }],
  ])('an administrator cannot change its own %s: 403, audited with the forbid, nothing changed', async (_what, body) => {
    for (const [id, token] of [[t.adminId, t.adminToken], [second.id, second.token]] as const) {
      const before = await rolesOf(id);
      const res = await patch(id, token, body);
      expect(res.statusCode).toBe(403);
      expect(res.json<{ detail: string }>().detail).toContain('sod.no-self-privilege-change');
      const [decision] = (await decisionsOf(t.db, id, 'denied')).filter((e) => e.requestId === res.headers['x-request-id']);
      expect(decision).toMatchObject({
        resource: { type: 'operation', id: 'updatePrincipal' },
        decision: { effect: 'denied', policyIds: ['sod.no-self-privilege-change'] },
      });
      expect(await rolesOf(id)).toEqual(before);
      expect((await t.db.query('SELECT 1 FROM principals WHERE id = $1 AND disabled_at IS NOT NULL', [id])).rowCount).toBe(0);
    }
  });

  it('a second administrator makes the change instead', async () => {
    const res = await patch(second.id, t.adminToken, { roles: ['platform-admin', 'auditor'], reason: 'second pair of eyes' });
    expect(res.statusCode, res.body).toBe(200);
    expect(await rolesOf(second.id)).toEqual(['auditor', 'platform-admin']);
  });

  it('break-glass elevation cannot be turned into a standing role for oneself', async () => {
    const oncall = await createPrincipalWithToken(t.db, { name: 'oncall', roles: ['break-glass'] });
    const headers = { authorization: `Bearer ${oncall.token}` };
    const up = await t.app.inject({ method: 'POST', url: '/api/v1/break-glass', headers, payload: { reason: 'INC-1: restore service', durationMinutes: 5 } });
    expect(up.statusCode, up.body).toBe(201);
    const res = await patch(oncall.id, oncall.token, { roles: ['break-glass', 'platform-admin'] });
    expect(res.statusCode).toBe(403);
    expect(await rolesOf(oncall.id)).toEqual(['break-glass']);
    // Issuing a token for oneself through the administrators' route cannot widen roles either.
    const token = await t.app.inject({
      method: 'POST',
      url: `/api/v1/principals/${oncall.id}/tokens`,
      headers,
      payload: { name: 'wider', scopes: ['role:platform-admin'] },
    });
    expect(token.statusCode).toBe(400);
    expect(await rolesOf(oncall.id)).toEqual(['break-glass']);
  });

  it('a site permit cannot lift the forbid: forbids always win', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'assay-sod-site-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'lax.cedar'), '@id("site.anyone-updates-principals")\npermit (principal, action == Assay::Action::"updatePrincipal", resource);\n');
    const lax = await loadPolicyEngine({ siteDir: dir });
    const self = caller(['platform-admin']);
    const d = lax.authorize({ principal: self, action: 'updatePrincipal', resource: { type: 'Principal', ...self }, context: { elevated: false } });
    expect(d).toMatchObject({ decision: 'deny', policyIds: ['sod.no-self-privilege-change'] });
  });
});
