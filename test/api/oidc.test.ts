import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAuditEntries } from '../../src/audit/index.js';
import { eachBackend } from '../support/databases.js';
import { bearer, createIdentityApp, entries, type IdentityApp } from '../identity/harness.js';

const ISSUER = 'https://idp.example.test/realms/assay';
const AUDIENCE = 'assay-api';

interface TestKey {
  kid: string;
  alg: 'RS256' | 'ES256';
  privateKey: CryptoKey;
  jwk: JWK;
}

async function makeKey(kid: string, alg: TestKey['alg']): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, alg, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

/** A real JWKS endpoint on loopback: what an identity provider publishes; `keys` can be rotated at any time. */
interface JwksServer {
  url: string;
  keys: TestKey[];
  fetches: number;
  close(): Promise<void>;
}

async function serveJwks(keys: TestKey[]): Promise<JwksServer> {
  const state = { keys, fetches: 0 };
  const server: Server = createServer((req, res) => {
    state.fetches++;
    res.writeHead(200, { 'content-type': 'application/jwk-set+json' });
    res.end(JSON.stringify({ keys: state.keys.map((k) => k.jwk) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}/protocol/openid-connect/certs`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }) as JwksServer;
}

function b64url(value: object | string): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

describe.each(eachBackend().map((b) => [b.name, b] as const))('OIDC bearer JWTs [%s]', (_name, backend) => {
  let t: IdentityApp;
  let jwks: JwksServer;
  let k1: TestKey;
  let k2: TestKey;
  let ec: TestKey;
  let stranger: TestKey;

  beforeAll(async () => {
    [k1, k2, ec, stranger] = await Promise.all([makeKey('k1', 'RS256'), makeKey('k2', 'RS256'), makeKey('ec1', 'ES256'), makeKey('k1', 'RS256')]);
    jwks = await serveJwks([k1, ec]);
    t = await createIdentityApp(backend, {
      config: {
        oidc: {
          issuers: [
            {
              issuer: ISSUER,
              name: 'corp',
              audience: AUDIENCE,
              jwksUri: jwks.url,
              roleMapping: { 'ml-team': 'ml-engineer', auditors: 'auditor', oncall: 'break-glass' },
              // The test rotates keys within seconds; production keeps the 30 s default.
              jwksCooldownSeconds: 0,
            },
            // An issuer whose key set cannot be fetched (nothing listens on port 9).
            { issuer: 'https://down.example.test', audience: AUDIENCE, jwksUri: 'http://127.0.0.1:9/jwks' },
          ],
        },
      },
    });
  });
  afterAll(async () => {
    await t?.close();
    await jwks?.close();
  });

  const claims = (extra: JWTPayload = {}): JWTPayload => {
    const now = t.clock.seconds();
    return { iss: ISSUER, aud: AUDIENCE, sub: 'alice', groups: ['ml-team', 'not-mapped'], iat: now, exp: now + 300, ...extra };
  };
  const sign = (payload: JWTPayload, key: TestKey = k1, header: Record<string, unknown> = {}) =>
    new SignJWT(payload).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT', ...header }).sign(key.privateKey);
  const whoami = (jwt: string) => t.app.inject({ url: '/api/v1/whoami', headers: bearer(jwt) });

  it('maps a valid token to a principal created on first sight (audited once) with mapped roles', async () => {
    const jwt = await sign(claims());
    const res = await whoami(jwt);
    expect(res.statusCode, res.body).toBe(200);
    const me = res.json<{ id: string; name: string; kind: string; roles: string[]; authenticatedBy: string; oidc: object }>();
    expect(me).toMatchObject({ name: 'corp:alice', kind: 'human', roles: ['ml-engineer'], authenticatedBy: 'oidc', oidc: { issuer: ISSUER, subject: 'alice' } });
    expect((await whoami(await sign(claims()))).json().id).toBe(me.id);
    const created = await entries(t.db, 'principal.create', me.id);
    expect(created).toHaveLength(1);
    expect(created[0]).toMatchObject({ actor: { principalId: me.id, kind: 'human', authenticatedBy: 'oidc' } });
    expect(created[0]?.reason).toContain(ISSUER);
    // ES256 from the same key set works too.
    expect((await whoami(await sign(claims(), ec))).json().id).toBe(me.id);
  });

  it('follows the identity provider when its groups change, audited', async () => {
    const res = await whoami(await sign(claims({ sub: 'bob', groups: ['ml-team'] })));
    const id = res.json<{ id: string }>().id;
    const moved = await whoami(await sign(claims({ sub: 'bob', groups: ['auditors'] })));
    expect(moved.json().roles).toEqual(['auditor']);
    const [sync] = await entries(t.db, 'principal.roles.sync', id);
    expect(sync).toMatchObject({ actor: { principalId: id, authenticatedBy: 'oidc' }, reason: 'roles from OIDC claim groups: ml-engineer → auditor' });
    // Roles are the IdP's to change: the API refuses to set them.
    const patch = await t.app.inject({ method: 'PATCH', url: `/api/v1/principals/${id}`, headers: bearer(t.adminToken), payload: { roles: ['platform-admin'] } });
    expect(patch.statusCode).toBe(409);
    // Disabling works: the next token of the subject is refused.
    await t.app.inject({ method: 'PATCH', url: `/api/v1/principals/${id}`, headers: bearer(t.adminToken), payload: { disabled: true } });
    const refused = await whoami(await sign(claims({ sub: 'bob', groups: ['auditors'] })));
    expect(refused.statusCode).toBe(401);
    expect(refused.json().detail).toBe('principal disabled');
  });

  it('role gates apply to OIDC principals like to any other', async () => {
    const jwt = await sign(claims({ sub: 'carol', groups: ['ml-team'] }));
    expect((await t.app.inject({ url: '/api/v1/principals', headers: bearer(jwt) })).statusCode).toBe(403);
  });

  it('accepts exp and nbf within the clock skew (60 s by default)', async () => {
    const now = t.clock.seconds();
    expect((await whoami(await sign(claims({ exp: now - 50 })))).statusCode).toBe(200);
    expect((await whoami(await sign(claims({ nbf: now + 50 })))).statusCode).toBe(200);
  });

  const badTokens: Array<[string, () => Promise<string>, string]> = [
    ['expired beyond the skew', () => sign(claims({ exp: t.clock.seconds() - 61 })), 'token expired'],
    ['not yet valid beyond the skew', () => sign(claims({ nbf: t.clock.seconds() + 61 })), 'token not yet valid (nbf)'],
    ['for another audience', () => sign(claims({ aud: 'someone-else' })), 'token audience not accepted'],
    ['from an untrusted issuer', () => sign(claims({ iss: 'https://evil.example.test' })), 'token issuer not trusted'],
    ['without exp', () => sign(claims({ exp: undefined })), 'token claim exp invalid (missing)'],
    ['without a subject', () => sign(claims({ sub: undefined })), 'token has no usable sub claim'],
    [
      'with alg none',
      async () => `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claims())}.`,
      'token algorithm not allowed',
    ],
    [
      'with a tampered payload',
      async () => {
        const [h, , s] = (await sign(claims())).split('.');
        return `${h}.${b64url(claims({ groups: ['oncall', 'auditors'] }))}.${s}`;
      },
      'token signature invalid',
    ],
    ['signed by a stranger reusing a known kid', () => sign(claims(), stranger), 'token signature invalid'],
    ['with an unknown kid', () => sign(claims(), { ...stranger, kid: 'k-unknown' }), 'token key id (kid) not in the issuer key set'],
    [
      'with HS256 keyed by the public key (algorithm confusion)',
      async () => {
        const secret = new TextEncoder().encode(JSON.stringify(k1.jwk));
        return new SignJWT(claims()).setProtectedHeader({ alg: 'HS256', kid: 'k1' }).sign(secret);
      },
      'token algorithm not allowed',
    ],
  ];

  it.each(badTokens)('401 problem+json for a token %s, audited without the token', async (_n, make, reason) => {
    const jwt = await make();
    const res = await whoami(jwt);
    expect(res.statusCode).toBe(401);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.headers['www-authenticate']).toContain('Bearer');
    expect(res.json()).toMatchObject({ code: 'unauthenticated', detail: reason });
    const [fail] = (await listAuditEntries(t.db, { action: 'authn.fail' })).filter((e) => e.requestId === res.headers['x-request-id']);
    expect(fail).toMatchObject({ reason, outcome: 'failed', decision: { effect: 'denied', policyIds: ['authn'] }, actor: { principalId: 'anonymous' } });
    const recorded = JSON.stringify(fail);
    for (const part of jwt.split('.').filter((p) => p.length > 0)) expect(recorded).not.toContain(part);
  });

  it('503, audited, when the issuer key set cannot be fetched', async () => {
    const jwt = await sign({ ...claims(), iss: 'https://down.example.test' });
    const res = await whoami(jwt);
    expect(res.statusCode).toBe(503);
    expect(res.json().code).toBe('unavailable');
    const [fail] = (await listAuditEntries(t.db, { action: 'authn.fail' })).filter((e) => e.requestId === res.headers['x-request-id']);
    expect(fail?.reason).toBe('issuer key set unavailable');
  });

  it('caches the key set, and picks up a rotated key on its unknown kid', async () => {
    const before = jwks.fetches;
    for (let i = 0; i < 3; i++) expect((await whoami(await sign(claims()))).statusCode).toBe(200);
    expect(jwks.fetches).toBe(before);

    const early = await whoami(await sign(claims(), k2));
    expect(early.statusCode).toBe(401);
    expect(early.json().detail).toBe('token key id (kid) not in the issuer key set');
    expect(jwks.fetches).toBe(before + 1);

    // The IdP rotates: k2 is published, k1 retired.
    jwks.keys = [k2];
    const rotated = await whoami(await sign(claims(), k2));
    expect(rotated.statusCode, rotated.body).toBe(200);
    expect(rotated.json().name).toBe('corp:alice');
    expect(jwks.fetches).toBe(before + 2);
    const retired = await whoami(await sign(claims(), k1));
    expect(retired.statusCode).toBe(401);
    expect(retired.json().detail).toBe('token key id (kid) not in the issuer key set');
  });

  it('an expiring token stops working when the clock passes exp plus the skew', async () => {
    jwks.keys = [k1, k2];
    const jwt = await sign(claims({ exp: t.clock.seconds() + 10 }), k2);
    expect((await whoami(jwt)).statusCode).toBe(200);
    // jose refuses from exp + skew on (exp <= now - skew).
    t.clock.advance(69_000);
    expect((await whoami(jwt)).statusCode).toBe(200);
    t.clock.advance(1_000);
    expect((await whoami(jwt)).json().detail).toBe('token expired');
  });

  it('break-glass works for OIDC principals holding the role through a group', async () => {
    const jwt = await sign(claims({ sub: 'dana', groups: ['oncall'], exp: t.clock.seconds() + 3600 }), k2);
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/break-glass',
      headers: bearer(jwt),
      payload: { reason: 'INC-9: IdP outage drill, restoring access', durationMinutes: 5 },
    });
    expect(res.statusCode, res.body).toBe(201);
    const me = await whoami(jwt);
    expect(me.json()).toMatchObject({ roles: ['break-glass', 'platform-admin'], elevation: { id: res.json().id } });
  });
});
