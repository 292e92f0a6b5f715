import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOpenApi, routeTable } from '../../src/api/index.js';
import { sequenceBatch } from '../../src/audit/index.js';
import { MAX_DATASET_VERSION } from '../../src/data/index.js';
import { BUILT_IN_ROLES } from '../../src/identity/index.js';
import { createPrincipalWithToken, createTestApp, type TestApp } from '../support/app.js';
import { eachBackend } from '../support/databases.js';

/**
 * A refusal names the field as the client sent it (`query.end`, `params.version`), over the
 * real HTTP server on loopback: what a client reads is what it must change.
 */
describe.each(eachBackend().map((b) => [b.name, b] as const))('refusals name the field as sent [%s]', (_name, backend) => {
  let t: TestApp;
  let base: string;
  const get = async (path: string, token = t.adminToken): Promise<{ status: number; type: string; body: { errors?: Array<{ field: string; detail: string }> } & Record<string, unknown> }> => {
    const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, type: res.headers.get('content-type') ?? '', body: (await res.json()) as never };
  };

  beforeAll(async () => {
    t = await createTestApp(backend);
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(t.app.server.address() as { port: number }).port}`;
  });
  afterAll(async () => t?.close());

  describe('audit proofs and leaves', () => {
    let size: number;
    beforeAll(async () => {
      // The bootstrap's entries, sequenced: a log of a known size to ask beyond.
      await sequenceBatch(t.db, { key: t.keyring.active() });
      size = (await t.db.query<{ size: number }>('SELECT size FROM audit_log_state')).rows[0]!.size;
      expect(size).toBeGreaterThanOrEqual(2);
    });

    it('answers within the log', async () => {
      expect((await get(`/api/v1/audit/leaves?start=0&end=${size}`)).body.leaves).toHaveLength(size);
      expect((await get(`/api/v1/audit/proof/inclusion?index=0&size=${size}`)).status).toBe(200);
      expect((await get(`/api/v1/audit/proof/consistency?from=1&to=${size}`)).status).toBe(200);
    });

    it.each([
      ['/api/v1/audit/leaves?start=0&end=999', 'query.end', /log size/],
      ['/api/v1/audit/leaves?start=1&end=1', 'query.end', /greater than start/],
      ['/api/v1/audit/leaves?start=0&end=1001', 'query.end', /at most 1000/],
      ['/api/v1/audit/leaves?start=a&end=1', 'query.start', /./],
      ['/api/v1/audit/leaves?end=1', 'query.start', /./],
      ['/api/v1/audit/proof/inclusion?index=0&size=99999', 'query.size', /log size/],
      ['/api/v1/audit/proof/inclusion?index=1&size=1', 'query.index', /less than size/],
      ['/api/v1/audit/proof/consistency?from=0&to=1', 'query.from', /between 1 and to/],
      ['/api/v1/audit/proof/consistency?from=2&to=1', 'query.from', /between 1 and to/],
      ['/api/v1/audit/proof/consistency?from=1&to=99999', 'query.to', /log size/],
    ])('%s → 400 naming %s', async (path, field, detail) => {
      const r = await get(path);
      expect(r.status, JSON.stringify(r.body)).toBe(400);
      expect(r.type).toContain('application/problem+json');
      expect(r.body.errors).toEqual([{ field, detail: expect.stringMatching(detail) }]);
    });
  });

  it('a query parameter given twice is 400 naming it and saying to give it once; one a route repeats (derivedFrom) is still a list', async () => {
    for (const path of ['/api/v1/principals?limit=1&limit=2&name=a&name=b', '/api/v1/lineage/graph?node=dsv_x&node=dsv_y', '/api/v1/datasets?after=a&after=b']) {
      const r = await get(path);
      expect(r.status, path).toBe(400);
      const twice = [...new URL(path, base).searchParams.keys()].filter((k, i, all) => all.indexOf(k) !== i);
      const byField = (a: { field: string }, b: { field: string }): number => a.field.localeCompare(b.field);
      expect([...(r.body.errors ?? [])].sort(byField), path).toEqual(twice.map((k) => ({ field: `query.${k}`, detail: 'given more than once: give it once' })).sort(byField));
    }
    // A wrong type that is no repetition keeps zod's own words.
    expect((await get('/api/v1/principals?disabled=yes')).body.errors).toEqual([{ field: 'query.disabled', detail: expect.stringContaining('expected one of') }]);
    const derived = await fetch(`${base}/api/v1/datasets/twice/versions?sourceSystem=s&classification=internal&owner=x&derivedFrom=a@1&derivedFrom=b@1&codeSha256=${'0'.repeat(64)}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.adminToken}`, 'content-type': 'text/csv' },
      body: 'id\n1\n',
    });
    expect(JSON.stringify(await derived.json())).not.toContain('given more than once');
  });

  describe('integers in paths and query strings: decimal digits only', () => {
    let omni: string;
    beforeAll(async () => {
      // Every role and clearance, so each request gets past authorisation to its schema.
      omni = (await createPrincipalWithToken(t.db, { name: 'omni', roles: BUILT_IN_ROLES.filter((r) => r !== 'break-glass'), attributes: { clearance: ['pii', 'phi', 'pci'] } })).token;
      const steward = await createPrincipalWithToken(t.db, { name: 'steward', roles: ['data-steward'] });
      const res = await fetch(`${base}/api/v1/datasets/ints/versions?sourceSystem=s&classification=internal&owner=steward`, {
        method: 'POST',
        headers: { authorization: `Bearer ${steward.token}`, 'content-type': 'text/csv' },
        body: 'id,n\n1,a\n2,b\n',
      });
      expect(res.status, await res.text()).toBe(201);
    });

    // Each a number to z.coerce.number() (version 1, 16, 1000 or 5), and none written as a version is.
    const NOT_DECIMAL = ['0x10', '1e3', '%205%20', '5.0', '+1', '1_0', '%EF%BC%91' /* fullwidth 1 */, '0b1', 'Infinity', '', '01', '00'];
    const OUT_OF_RANGE = ['0', '-1', String(MAX_DATASET_VERSION + 1), '99999999999999999999'];

    it.each(['', '/checks', '/profile', '/manifest'])('…/versions/:version%s: 400 naming params.version for every form but decimal digits', async (suffix) => {
      for (const v of [...NOT_DECIMAL.filter((x) => x !== ''), ...OUT_OF_RANGE]) {
        const r = await get(`/api/v1/datasets/ints/versions/${v}${suffix}`, omni);
        expect(r.status, `${v}: ${JSON.stringify(r.body)}`).toBe(400);
        expect(r.type).toContain('application/problem+json');
        expect(r.body.errors?.map((e) => e.field), v).toEqual(['params.version']);
      }
      // Legitimate versions still resolve: 1 exists, 2 does not.
      expect((await get(`/api/v1/datasets/ints/versions/1${suffix}`, omni)).status).not.toBe(400);
      expect((await get(`/api/v1/datasets/ints/versions/2${suffix}`, omni)).status).toBe(404);
    });

    it('version 1 in decimal digits is the version; 01 is refused, as name@01 is in derivedFrom', async () => {
      expect((await get('/api/v1/datasets/ints/versions/1', omni)).body).toMatchObject({ datasetName: 'ints', version: 1 });
      const leading = await get('/api/v1/datasets/ints/versions/01', omni);
      expect(leading.status).toBe(400);
      expect(leading.body.errors).toEqual([{ field: 'params.version', detail: expect.stringContaining('without leading zeros') }]);
      // Zero itself is written "0": the lineage depth and the audit counts start there.
      expect((await get('/api/v1/lineage/graph?node=dsv_x&depth=0', omni)).status).not.toBe(400);
    });

    it('promoting or waiving a check of a version written otherwise is 400 naming params.version, nothing recorded', async () => {
      for (const [path, body] of [
        ['/api/v1/datasets/ints/versions/0x1/promote', {}],
        ['/api/v1/datasets/ints/versions/1e0/checks/pii/override', { reason: 'because' }],
      ] as const) {
        const res = await fetch(`${base}${path}`, { method: 'POST', headers: { authorization: `Bearer ${omni}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
        expect(res.status, path).toBe(400);
        expect(((await res.json()) as { errors: Array<{ field: string }> }).errors.map((e) => e.field)).toEqual(['params.version']);
      }
      expect((await get('/api/v1/datasets/ints/versions/1', omni)).body).toMatchObject({ state: 'quarantine' });
    });

    it.each([
      ['/api/v1/datasets?limit=', 'query.limit'],
      ['/api/v1/audit/entries?limit=', 'query.limit'],
      ['/api/v1/audit/payloads?limit=', 'query.limit'],
      ['/api/v1/principals?limit=', 'query.limit'],
      ['/api/v1/approvals?limit=', 'query.limit'],
      ['/api/v1/erasure-requests?limit=', 'query.limit'],
      ['/api/v1/lineage/graph?node=dsv_x&depth=', 'query.depth'],
      ['/api/v1/lineage/graph?node=dsv_x&limit=', 'query.limit'],
      ['/api/v1/audit/leaves?end=2&start=', 'query.start'],
      ['/api/v1/audit/proof/inclusion?index=0&size=', 'query.size'],
      ['/api/v1/audit/proof/consistency?from=1&to=', 'query.to'],
    ])('%s… → 400 naming %s unless decimal digits', async (prefix, field) => {
      for (const v of NOT_DECIMAL) {
        const r = await get(`${prefix}${v}`, omni);
        expect(r.status, `${v}: ${JSON.stringify(r.body)}`).toBe(400);
        expect(r.body.errors?.map((e) => e.field), v).toEqual([field]);
      }
      expect((await get(`${prefix}1`, omni)).status).not.toBe(400);
    });

    it('the OpenAPI document describes them as integers with their bounds and defaults', () => {
      const doc = buildOpenApi(routeTable(), { version: 'test' }) as { paths: Record<string, Record<string, { parameters: Array<{ name: string; schema: Record<string, unknown> }> }>> };
      const param = (path: string, name: string) => doc.paths[path]!.get!.parameters.find((p) => p.name === name)!.schema;
      expect(param('/api/v1/datasets/{name}/versions/{version}', 'version')).toMatchObject({ type: 'integer', minimum: 1, maximum: MAX_DATASET_VERSION, pattern: '^(0|[1-9][0-9]*)$' });
      expect(param('/api/v1/datasets', 'limit')).toMatchObject({ type: 'integer', minimum: 1, maximum: 1000, default: 100 });
      expect(param('/api/v1/lineage/graph', 'depth')).toMatchObject({ type: 'integer', minimum: 0, default: 10 });
      expect(param('/api/v1/audit/leaves', 'start')).toMatchObject({ type: 'integer', minimum: 0 });
    });
  });
});
