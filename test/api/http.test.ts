import { existsSync } from 'node:fs';
import { readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino, type Logger } from 'pino';
import { z } from 'zod';
import { defineRoute } from '../../src/api/route.js';
import { buildApp, routeTable, type RouteSpec } from '../../src/api/index.js';
import { listAuditEntries } from '../../src/audit/index.js';
import { issueToken } from '../../src/identity/index.js';
import { loadPolicyEngine, type PolicyEngine } from '../../src/policy/index.js';
import { eachBackend } from '../support/databases.js';
import { createTestApp, type TestApp } from '../support/app.js';

const PROBLEM = 'application/problem+json';

// A route that fails unexpectedly, to prove unknown errors become a 500 with a correlation id.
const exploding: RouteSpec = defineRoute({
  method: 'GET',
  path: '/api/v1/test/explode',
  operationId: 'explode',
  summary: 'test only',
  tags: ['test'],
  auth: 'token',
  authorize: { resource: () => ({ type: 'Platform' }) },
  request: { query: z.object({ n: z.coerce.number().int().optional() }) },
  responses: { 200: { description: 'never' } },
  handler: async () => {
    throw new Error('secret internal detail at /srv/assay/x.ts:42');
  },
});

/**
 * The real engine, plus one action for the test route that it allows: the Cedar schema has no
 * action for a route that exists only in tests, and the app refuses to serve an undecidable route.
 */
function withTestAction(engine: PolicyEngine, action: string): PolicyEngine {
  return {
    digest: engine.digest,
    policies: engine.policies,
    actions: [...engine.actions, action],
    autonomy: engine.autonomy,
    autonomyFile: engine.autonomyFile,
    authorize: (r) => (r.action === action ? { decision: 'allow', policyIds: ['test.allow'], reason: 'test route', errors: [] } : engine.authorize(r)),
    decisionCounts: () => engine.decisionCounts(),
    policiesFor: (a) => engine.policiesFor(a),
    decidePlacement: (r) => engine.decidePlacement(r),
    classifyAutonomy: (r) => engine.classifyAutonomy(r),
  };
}

/** The blob store's staging directory of this process: its one directory under `root/tmp`, where every put writes first. */
async function blobStaging(root: string): Promise<string> {
  const dirs = await readdir(join(root, 'tmp'));
  if (dirs.length !== 1) throw new Error(`expected one staging directory under ${root}/tmp, found ${dirs.join(', ')}`);
  return join(root, 'tmp', dirs[0]!);
}

/**
 * Runs `fn` while a regular file stands where the directory `dir` should be (the directory kept
 * aside, whole), then puts the directory back. The tests run as root, which writes through any
 * permission bits, and cannot remount a disk read-only here: a file in the directory's place
 * (ENOTDIR) is the write failure root cannot get past, and it takes the same path in the probe
 * as EROFS, ENOSPC or EACCES.
 */
async function withFileInPlaceOf(dir: string, fn: () => Promise<void>): Promise<void> {
  const aside = `${dir}.aside`;
  const existed = existsSync(dir);
  if (existed) await rename(dir, aside);
  await writeFile(dir, 'not a directory');
  try {
    await fn();
  } finally {
    await rm(dir, { force: true });
    if (existed) await rename(aside, dir);
  }
}

/** A logger keeping its warnings, to see what the server log says. */
function warningsInto(lines: string[]): Logger {
  return pino({ level: 'warn' }, { write: (line: string) => lines.push(line) });
}

describe.each(eachBackend().map((b) => [b.name, b] as const))('HTTP API in process [%s]', (_name, backend) => {
  let t: TestApp;
  const logged: string[] = [];
  const auth = (): Record<string, string> => ({ authorization: `Bearer ${t.adminToken}` });

  beforeAll(async () => {
    t = await createTestApp(backend, { routes: routeTable([exploding]), policy: withTestAction(await loadPolicyEngine(), 'explode'), logger: warningsInto(logged) });
  });
  afterAll(async () => t?.close());

  it('answers /healthz and /readyz without a token', async () => {
    expect((await t.app.inject({ url: '/healthz' })).json()).toMatchObject({ status: 'ok' });
    const ready = await t.app.inject({ url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({
      status: 'ready',
      checks: { database: { status: 'ok' }, migrations: { status: 'ok' }, blobStore: { status: 'ok' }, scratch: { status: 'ok' } },
    });
  });

  it('reports not ready, naming the check, when the migration ledger diverges', async () => {
    await t.db.query(`UPDATE assay_migrations SET checksum = repeat('0', 64) WHERE version = 1`);
    try {
      const r = await t.app.inject({ url: '/readyz' });
      expect(r.statusCode).toBe(503);
      expect(r.json().checks.migrations).toMatchObject({ status: 'failed' });
      expect(r.json().checks.migrations.detail).toContain('0001_identity.sql');
    } finally {
      const { loadMigrations } = await import('../../src/store/index.js');
      await t.db.query('UPDATE assay_migrations SET checksum = $1 WHERE version = 1', [loadMigrations()[0]!.checksum]);
    }
  });

  it.each([
    ['blobStore', 'the blob store, naming its staging directory', () => blobStaging(t.deps.config.paths.blobs)],
    ['scratch', 'the scratch directory uploads spool to', async () => t.deps.config.paths.tmp],
  ] as const)('reports %s not ready (%s) when no file can be written there; ready again once it can', async (failing, _what, dirOf) => {
    const dir = await dirOf();
    await withFileInPlaceOf(dir, async () => {
      const r = await t.app.inject({ url: '/readyz' });
      expect(r.statusCode).toBe(503);
      expect(r.json()).toMatchObject({
        status: 'not_ready',
        checks: { database: { status: 'ok' }, migrations: { status: 'ok' }, blobStore: { status: failing === 'blobStore' ? 'failed' : 'ok' }, scratch: { status: failing === 'scratch' ? 'failed' : 'ok' } },
      });
      // The unauthenticated answer gives the error code, not the server's paths; the log has them.
      expect(r.json().checks[failing].detail).toBe('ENOTDIR; the server log has the cause');
      expect(r.body).not.toContain(t.deps.config.home);
      const warning = logged.map((l) => JSON.parse(l) as { check?: string; msg: string }).find((l) => l.check === failing);
      expect(warning?.msg).toContain(`readiness check ${failing} failed: cannot write in ${dir}: ENOTDIR`);
    });
    const again = await t.app.inject({ url: '/readyz' });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ status: 'ready', checks: { blobStore: { status: 'ok' }, scratch: { status: 'ok' } } });
  });

  it('probes leave nothing behind, even many at once, and create a missing scratch directory as an upload would', async () => {
    const staging = await blobStaging(t.deps.config.paths.blobs);
    const scratch = t.deps.config.paths.tmp;
    await rm(scratch, { recursive: true, force: true });
    const before = await readdir(staging);
    const answers = await Promise.all(Array.from({ length: 8 }, () => t.app.inject({ url: '/readyz' })));
    expect(answers.map((a) => a.statusCode)).toEqual(Array(8).fill(200));
    expect(await readdir(staging)).toEqual(before);
    expect(await readdir(scratch)).toEqual([]);
  });

  it.each([
    ['no header', undefined, 'missing Authorization header'],
    ['not bearer', 'Basic YWRtaW46YWRtaW4=', 'Bearer'],
    ['malformed token', 'Bearer nonsense', 'malformed'],
    ['unknown token', `Bearer assay_${'A'.repeat(43)}`, 'unknown'],
  ])('401 problem+json for %s', async (_name, header, detail) => {
    const r = await t.app.inject({ url: '/api/v1/whoami', headers: header ? { authorization: header } : {} });
    expect(r.statusCode).toBe(401);
    expect(r.headers['content-type']).toContain(PROBLEM);
    expect(r.headers['www-authenticate']).toContain('Bearer');
    expect(r.json()).toMatchObject({ status: 401, code: 'unauthenticated', instance: '/api/v1/whoami' });
    expect(r.json().detail).toContain(detail);
  });

  it('401 for an expired token', async () => {
    const issued = await issueToken(
      t.db,
      { principalId: t.adminId, name: 'old', expiresAt: '2020-01-01T00:00:00Z' },
      { actor: { principalId: t.adminId, kind: 'human', authenticatedBy: 'api_token' } },
    );
    const r = await t.app.inject({ url: '/api/v1/whoami', headers: { authorization: `Bearer ${issued.token}` } });
    expect(r.statusCode).toBe(401);
    expect(r.json().detail).toContain('expired');
  });

  it('requires a token on every /api/v1 route, even unknown ones, before saying 404', async () => {
    for (const route of routeTable().filter((r) => r.path.startsWith('/api/v1/'))) {
      const r = await t.app.inject({ method: route.method, url: route.path.replace(/:(\w+)/g, 'x') });
      expect(r.statusCode, `${route.method} ${route.path}`).toBe(401);
    }
    expect((await t.app.inject({ url: '/api/v1/nope' })).statusCode).toBe(401);
    const found = await t.app.inject({ url: '/api/v1/nope', headers: auth() });
    expect(found.statusCode).toBe(404);
    expect(found.headers['content-type']).toContain(PROBLEM);
  });

  it('identifies the caller', async () => {
    const r = await t.app.inject({ url: '/api/v1/whoami', headers: auth() });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ id: t.adminId, roles: ['platform-admin'] });
  });

  it('echoes a safe request id and mints one otherwise', async () => {
    const given = await t.app.inject({ url: '/healthz', headers: { 'x-request-id': 'trace-123' } });
    expect(given.headers['x-request-id']).toBe('trace-123');
    const minted = await t.app.inject({ url: '/healthz', headers: { 'x-request-id': 'bad id\u0000' } });
    expect(minted.headers['x-request-id']).toMatch(/^req_[0-9A-Z]{26}$/);
  });

  it.each([
    ['malformed JSON', '{"name": ', 'application/json', 400, 'malformed_request'],
    ['empty body', '', 'application/json', 400, 'malformed_request'],
    ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0x6e, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]), 'application/json', 400, 'malformed_request'],
    ['a non-JSON content type', 'name=x', 'application/x-www-form-urlencoded', 415, 'unsupported_media_type'],
  ])('%s → %i problem+json, and no token issued', async (_n, payload, type, status, code) => {
    const before = await t.db.query('SELECT id FROM api_tokens');
    const r = await t.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: { ...auth(), 'content-type': type }, payload });
    expect(r.statusCode).toBe(status);
    expect(r.headers['content-type']).toContain(PROBLEM);
    expect(r.json()).toMatchObject({ status, code });
    expect((await t.db.query('SELECT id FROM api_tokens')).rowCount).toBe(before.rowCount);
  });

  it('a JSON body labelled with a charset (application/json; charset=utf-8, as many clients send it) is read, not 415 "takes no body"', async () => {
    for (const type of ['application/json; charset=utf-8', 'application/json;charset=UTF-8', 'application/merge-patch+json; charset="utf-8"', 'application/json; charset=iso-8859-1']) {
      const r = await t.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: { ...auth(), 'content-type': type }, payload: JSON.stringify({ name: `charset-${type.length}` }) });
      expect(r.statusCode, `${type}: ${r.body}`).toBe(201);
    }
    const bad = await t.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: { ...auth(), 'content-type': 'application/json; charset=utf-8' }, payload: '{"name": ' });
    expect(bad.json()).toMatchObject({ status: 400, code: 'malformed_request' });
  });

  it('415 names headers.content-type and what the operation accepts: JSON, or no body at all', async () => {
    const before = await t.db.query('SELECT id FROM api_tokens');
    const json = await t.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: { ...auth(), 'content-type': 'text/plain' }, payload: '{"name": "ci"}' });
    expect(json.statusCode).toBe(415);
    expect(json.json()).toMatchObject({ errors: [{ field: 'headers.content-type', detail: 'unsupported: text/plain; accepted: application/json' }] });
    const none = await t.app.inject({ method: 'DELETE', url: '/api/v1/tokens/tok_00000000000000000000000000', headers: { ...auth(), 'content-type': 'application/xml' }, payload: '<x/>' });
    expect(none.statusCode).toBe(415);
    expect(none.json()).toMatchObject({ errors: [{ field: 'headers.content-type', detail: 'unsupported: application/xml; this operation takes no body' }] });
    expect((await t.db.query('SELECT id FROM api_tokens')).rowCount).toBe(before.rowCount);
  });

  it('413 for a body over the limit, naming body, the limit and the setting that raises it', async () => {
    const r = await t.app.inject({
      method: 'POST',
      url: '/api/v1/tokens',
      headers: { ...auth(), 'content-type': 'application/json' },
      payload: JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024) }),
    });
    expect(r.statusCode).toBe(413);
    // A sender with one large event (an openlineage-spark event carrying its logical plan runs to
    // megabytes) must learn what the limit is and which setting raises it.
    expect(r.json()).toMatchObject({
      code: 'payload_too_large',
      detail: 'the request body is over 1048576 bytes, the largest JSON body this server accepts (maxJsonBodyBytes, ASSAY_MAX_JSON_BODY_BYTES)',
      errors: [{ field: 'body', detail: 'over 1048576 bytes (maxJsonBodyBytes)' }],
    });
  });

  it('400 naming every bad field', async () => {
    const r = await t.app.inject({
      method: 'POST',
      url: '/api/v1/tokens',
      headers: auth(),
      payload: { name: '', expiresInDays: 0, colour: 'red' },
    });
    expect(r.statusCode).toBe(400);
    const fields = (r.json().errors as Array<{ field: string }>).map((e) => e.field).sort();
    expect(fields).toEqual(['body.colour', 'body.expiresInDays', 'body.name']);
  });

  it('issues a token that works, shown once, and audits the issue in the same transaction', async () => {
    const r = await t.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: { ...auth(), 'x-request-id': 'issue-1' }, payload: { name: 'ci', expiresInDays: 30 } });
    expect(r.statusCode).toBe(201);
    const issued = r.json();
    expect(issued.token).toMatch(/^assay_/);
    expect(Date.parse(issued.expiresAt)).toBeGreaterThan(Date.now());
    const me = await t.app.inject({ url: '/api/v1/whoami', headers: { authorization: `Bearer ${issued.token}` } });
    expect(me.json().id).toBe(t.adminId);
    const stored = await t.db.query<{ token_sha256: string }>('SELECT token_sha256 FROM api_tokens WHERE id = $1', [issued.id]);
    expect(stored.rows[0]?.token_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(stored.rows)).not.toContain(issued.token);
    const entries = await listAuditEntries(t.db, { action: 'token.issue', resourceId: issued.id });
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ actor: { principalId: t.adminId }, requestId: 'issue-1', outcome: 'succeeded' });
  });

  it('fails closed: when the audit entry cannot be written, no token is issued', async () => {
    await t.db.exec(`CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit unavailable'; END; $$;
      CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_entries FOR EACH ROW EXECUTE FUNCTION refuse_audit();`);
    try {
      const before = await t.db.query('SELECT id FROM api_tokens');
      const r = await t.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: auth(), payload: { name: 'doomed' } });
      expect(r.statusCode).toBe(500);
      expect((await t.db.query('SELECT id FROM api_tokens')).rowCount).toBe(before.rowCount);
      expect((await t.db.query(`SELECT id FROM api_tokens WHERE name = 'doomed'`)).rowCount).toBe(0);
    } finally {
      await t.db.exec('DROP TRIGGER refuse_audit ON audit_entries; DROP FUNCTION refuse_audit();');
    }
  });

  it('turns an unexpected error into a 500 with a correlation id and no internals', async () => {
    const r = await t.app.inject({ url: '/api/v1/test/explode', headers: auth() });
    expect(r.statusCode).toBe(500);
    expect(r.headers['content-type']).toContain(PROBLEM);
    const body = r.json();
    expect(body.correlationId).toMatch(/^err_/);
    expect(body.detail).toContain(body.correlationId);
    expect(r.body).not.toContain('secret internal detail');
    expect(r.body).not.toContain('x.ts');
  });

  it('validates query parameters, naming them', async () => {
    const r = await t.app.inject({ url: '/api/v1/test/explode?n=abc', headers: auth() });
    expect(r.statusCode).toBe(400);
    expect(r.json().errors[0].field).toBe('query.n');
  });

  it('serves an OpenAPI document generated from the same schemas', async () => {
    const r = await t.app.inject({ url: '/api/v1/openapi.json', headers: auth() });
    expect(r.statusCode).toBe(200);
    const doc = r.json();
    expect(doc.openapi).toBe('3.1.0');
    const ops = Object.values(doc.paths as Record<string, Record<string, { operationId: string }>>).flatMap((p) =>
      Object.values(p).map((o) => o.operationId),
    );
    expect(ops.sort()).toEqual([...routeTable().map((x) => x.operationId), 'explode'].sort());
    const body = doc.paths['/api/v1/tokens'].post.requestBody.content['application/json'].schema;
    expect(body.required).toEqual(['name']);
    expect(body.properties.expiresInDays).toMatchObject({ type: 'integer', minimum: 1, maximum: 3650 });
    expect(body.additionalProperties).toBe(false);
    expect(doc.paths['/api/v1/test/explode'].get.parameters[0]).toMatchObject({ name: 'n', in: 'query', required: false });
  });

  it('refuses to build an app with a token route the policy schema has no action for', async () => {
    const policy = await loadPolicyEngine();
    const build = () => buildApp({ deps: { ...t.deps, policy }, logger: pino({ level: 'silent' }), routes: routeTable([exploding]) });
    expect(build).toThrow(/no Cedar action for the token routes explode/);
  });
});
