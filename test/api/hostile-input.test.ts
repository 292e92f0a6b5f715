import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOpenApi, PROBLEM_CONTENT_TYPE, routeTable } from '../../src/api/index.js';
import { BUILT_IN_ROLES } from '../../src/identity/index.js';
import { NASTY_STRINGS } from '../audit/nasty-strings.js';
import { createPrincipalWithToken, createTestApp, type TestApp } from '../support/app.js';
import { eachBackend } from '../support/databases.js';

/**
 * Invariant 6 across the whole API: every route of the route table, driven by the OpenAPI
 * document generated from the schemas that validate it, gets a plausible request and then
 * hostile ones — every path parameter, query parameter and body field replaced by hostile
 * values (wrong types, NUL and other control characters, invalid percent-encoding, numbers
 * out of range, megabyte strings, deep nesting), and bodies that are not JSON at all. None may
 * answer 5xx, and every refusal is an RFC 9457 problem+json. (Whether a refusal leaves state
 * behind is each route's own test: some refusals are evidence and are recorded.) The caller
 * holds every built-in role and every clearance, so requests get past authorisation to the
 * validation and domain code behind it.
 */

type JsonSchema = {
  type?: string;
  enum?: unknown[];
  default?: unknown;
  anyOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  pattern?: string;
  minLength?: number;
  minimum?: number;
};
type Parameter = { name: string; in: 'path' | 'query'; required?: boolean; schema: JsonSchema };
type Operation = { operationId: string; parameters?: Parameter[]; requestBody?: { content: Record<string, { schema: JsonSchema }> } };

const ID_PATTERN = /^\^([a-z]+_)\[0-9A-Z\]\{26\}\$$/;

/** A value the schema accepts, as far as a short walk can tell (enough to reach the handler). */
function sample(s: JsonSchema): unknown {
  if (s.enum) return s.enum[0];
  if (s.default !== undefined) return s.default;
  if (s.anyOf) return sample(s.anyOf[0]!);
  switch (s.type) {
    case 'object':
      return Object.fromEntries((s.required ?? []).map((k) => [k, sample(s.properties?.[k] ?? {})]));
    case 'array':
      return [];
    case 'integer':
    case 'number':
      return Math.max(s.minimum ?? 1, 1);
    case 'boolean':
      return true;
    case 'string': {
      const id = s.pattern ? ID_PATTERN.exec(s.pattern) : null;
      if (id) return `${id[1]}${'0'.repeat(26)}`;
      if (s.pattern === '^[0-9a-f]{64}$') return 'a'.repeat(64);
      return 'fuzz-value'.padEnd(Math.max(s.minLength ?? 0, 10), 'x');
    }
    default:
      return {};
  }
}

/** Hostile text for a path or query parameter, already percent-encoded where it must be. */
const HOSTILE_TEXT = [
  '',
  '%00',
  'a%00b',
  '%FF%FE',
  '%E0%80',
  '..%2F..%2Fetc%2Fpasswd',
  encodeURIComponent("'; DROP TABLE audit_entries; --"),
  encodeURIComponent('😀'),
  '-1',
  '0',
  '1.5',
  '1e309',
  'NaN',
  '99999999999999999999999',
  // Past PostgreSQL's integer and bigint, yet safe integers to JavaScript.
  '2147483648',
  '9223372036854775808',
  'x'.repeat(10_000),
  ...NASTY_STRINGS.map(encodeURIComponent),
];

/** Hostile JSON values for a body field. */
const HOSTILE_VALUES: unknown[] = [
  null,
  true,
  -1,
  0,
  1.5,
  2 ** 31,
  2 ** 53,
  -(2 ** 63),
  1e308,
  [],
  {},
  [null],
  { $ne: 1 },
  'x'.repeat(1_000_000),
  ...NASTY_STRINGS,
];

/** Request bodies that are not the JSON the route expects, as raw text. */
const DEEP = 250_000;
const HOSTILE_BODIES = [
  '',
  '{',
  'null',
  '[]',
  '"text"',
  '1e999999',
  '{"a":1,"a":2}',
  '{"__proto__":{"admin":true}}',
  '\u0000',
  // Nesting deeper than any recursive walker's stack, within the default 1 MiB body limit.
  '['.repeat(DEEP) + ']'.repeat(DEEP),
  `{"eventType":"START","a":${'['.repeat(DEEP)}${']'.repeat(DEEP)}}`,
  `{"name":${'['.repeat(DEEP)}"\\u0000"${']'.repeat(DEEP)}}`,
];

interface Probe {
  what: string;
  method: string;
  url: string;
  body?: string;
  contentType?: string;
}

function probesFor(method: string, path: string, op: Operation): Probe[] {
  const params = op.parameters ?? [];
  const pathParams = params.filter((p) => p.in === 'path');
  const queryParams = params.filter((p) => p.in === 'query');
  const bodySchema = op.requestBody?.content['application/json']?.schema;
  const base = {
    path: Object.fromEntries(pathParams.map((p) => [p.name, encodeURIComponent(String(sample(p.schema)))])),
    query: Object.fromEntries(queryParams.filter((p) => p.required).map((p) => [p.name, encodeURIComponent(String(sample(p.schema)))])),
    body: bodySchema ? sample(bodySchema) : undefined,
  };
  const url = (pathValues: Record<string, string>, query: Record<string, string>): string => {
    const p = path.replace(/\{(\w+)\}/g, (_m, name: string) => pathValues[name] ?? '');
    const q = Object.entries(query).map(([k, v]) => `${encodeURIComponent(k)}=${v}`);
    return q.length > 0 ? `${p}?${q.join('&')}` : p;
  };
  const json = (body: unknown): Pick<Probe, 'body' | 'contentType'> => (body === undefined ? {} : { body: JSON.stringify(body), contentType: 'application/json' });
  const probes: Probe[] = [{ what: 'a plausible request', method, url: url(base.path, base.query), ...json(base.body) }];
  for (const p of pathParams) {
    for (const v of HOSTILE_TEXT) probes.push({ what: `path ${p.name}=${v.slice(0, 40)}`, method, url: url({ ...base.path, [p.name]: v }, base.query), ...json(base.body) });
  }
  for (const p of queryParams) {
    for (const v of HOSTILE_TEXT) probes.push({ what: `query ${p.name}=${v.slice(0, 40)}`, method, url: url(base.path, { ...base.query, [p.name]: v }), ...json(base.body) });
    probes.push({ what: `query ${p.name} twice`, method, url: `${url(base.path, base.query)}${queryParams.some((q) => q.required) ? '&' : '?'}${p.name}=a&${p.name}=b`, ...json(base.body) });
  }
  probes.push({ what: 'an unknown query parameter', method, url: `${url(base.path, base.query)}${Object.keys(base.query).length > 0 ? '&' : '?'}zzz=%00`, ...json(base.body) });
  if (bodySchema) {
    for (const raw of HOSTILE_BODIES) probes.push({ what: `body ${JSON.stringify(raw.slice(0, 20))}`, method, url: url(base.path, base.query), body: raw, contentType: 'application/json' });
    probes.push({ what: 'a JSON body sent as text/plain', method, url: url(base.path, base.query), body: JSON.stringify(base.body), contentType: 'text/plain' });
    const fields = Object.keys(bodySchema.properties ?? {});
    const target = typeof base.body === 'object' && base.body !== null && !Array.isArray(base.body) ? (base.body as Record<string, unknown>) : {};
    for (const field of [...fields, 'unknownField']) {
      for (const v of HOSTILE_VALUES) probes.push({ what: `body.${field}=${JSON.stringify(v)?.slice(0, 40)}`, method, url: url(base.path, base.query), ...json({ ...target, [field]: v }) });
    }
  }
  return probes;
}

describe.each(eachBackend().map((b) => [b.name, b] as const))('hostile input on every route [%s]', (_name, backend) => {
  let t: TestApp;
  let token: string;
  const operations: Array<{ method: string; path: string; op: Operation }> = [];

  beforeAll(async () => {
    t = await createTestApp(backend);
    const omni = await createPrincipalWithToken(t.db, { name: 'fuzzer', roles: BUILT_IN_ROLES.filter((r) => r !== 'break-glass'), attributes: { clearance: ['pii', 'phi', 'pci'] } });
    token = omni.token;
    const doc = buildOpenApi(routeTable(), { version: 'test' }) as { paths: Record<string, Record<string, Operation>> };
    for (const [path, ops] of Object.entries(doc.paths)) for (const [method, op] of Object.entries(ops)) operations.push({ method: method.toUpperCase(), path, op });
  });
  afterAll(async () => t?.close());

  it('covers every route of the route table', () => {
    expect(operations.map((o) => o.op.operationId).sort()).toEqual(routeTable().map((r) => r.operationId).sort());
  });

  it('names the field: NUL in a body or path, a path that does not decode, a long but valid dataset name', async () => {
    const ask = async (method: 'GET' | 'POST', url: string, body?: unknown): Promise<{ status: number; fields: string[]; type: string }> => {
      const res = await t.app.inject({ method, url, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { payload: JSON.stringify(body) } : {}) });
      const json = res.json<{ errors?: Array<{ field: string }> }>();
      return { status: res.statusCode, fields: (json.errors ?? []).map((e) => e.field), type: String(res.headers['content-type']) };
    };
    expect(await ask('POST', '/api/v1/tokens', { name: 'ci', expiresInDays: 1, extra: { deep: ['ok', 'nul \u0000 here'] } })).toMatchObject({ status: 400, fields: ['body.extra.deep.1'] });
    expect(await ask('POST', '/api/v1/tokens', { name: 'a\u0000b' })).toMatchObject({ status: 400, fields: ['body.name'] });
    expect(await ask('GET', `/api/v1/principals/prn_${'0'.repeat(25)}%00`)).toMatchObject({ status: 400, fields: ['params.id'] });
    expect(await ask('GET', '/api/v1/audit/entries?action=a%00b')).toMatchObject({ status: 400, fields: ['query.action'] });
    expect(await ask('GET', '/api/v1/datasets/%FF%FE')).toMatchObject({ status: 400, fields: ['path'], type: expect.stringContaining('problem+json') });
    // 128 characters is a valid dataset name: unknown, not refused for its length.
    expect(await ask('GET', `/api/v1/datasets/${'d'.repeat(128)}`)).toMatchObject({ status: 404 });
    expect(await ask('GET', `/api/v1/datasets/${'d'.repeat(129)}`)).toMatchObject({ status: 400, fields: ['params.name'] });
    expect(await ask('GET', `/api/v1/datasets/${'d'.repeat(2000)}`)).toMatchObject({ status: 400, fields: ['path'] });
  });

  it.each(routeTable().map((r) => [r.operationId] as const))('%s: never 5xx, and refusals are problem+json', async (operationId) => {
    const { method, path, op } = operations.find((o) => o.op.operationId === operationId)!;
    const probes = probesFor(method, path, op);
    const failures: string[] = [];
    for (const p of probes) {
      const res = await t.app.inject({
        method: p.method as 'GET',
        url: p.url,
        headers: { authorization: `Bearer ${token}`, ...(p.contentType ? { 'content-type': p.contentType } : {}) },
        ...(p.body === undefined ? {} : { payload: p.body }),
      });
      if (res.statusCode >= 500) failures.push(`${p.what} → ${res.statusCode} ${res.body.slice(0, 200)}`);
      else if (res.statusCode >= 400 && !String(res.headers['content-type']).startsWith(PROBLEM_CONTENT_TYPE)) failures.push(`${p.what} → ${res.statusCode} as ${String(res.headers['content-type'])}`);
    }
    expect(failures, `${operationId}: ${probes.length} requests`).toEqual([]);
  });
});
