import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BREAK_GLASS_ALERT_EVENT } from '../../src/identity/index.js';
import { changeEntryCount, createPrincipalWithToken, decisionsOf } from '../support/app.js';
import { eachBackend } from '../support/databases.js';
import { bearer, createIdentityApp, entries, type IdentityApp } from './harness.js';

interface ElevationBody {
  id: string;
  principalId: string;
  reason: string;
  startedAt: string;
  expiresAt: string;
  endedAt: string | null;
}

const REASON = 'INC-4711: restore the scoring endpoint after the outage';

describe.each(eachBackend().map((b) => [b.name, b] as const))('break-glass [%s]', (_name, backend) => {
  let t: IdentityApp;
  let medic: { id: string; token: string };
  let scientist: { id: string; token: string };

  beforeAll(async () => {
    t = await createIdentityApp(backend);
    medic = await createPrincipalWithToken(t.db, { name: 'mo-oncall', roles: ['break-glass', 'data-scientist'] });
    scientist = await createPrincipalWithToken(t.db, { name: 'sam-scientist', roles: ['data-scientist'] });
  });
  afterAll(async () => t?.close());

  const call = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, token: string, payload?: object) =>
    t.app.inject({ method, url, headers: bearer(token), ...(payload ? { payload } : {}) });
  const elevate = (token: string, payload: object = { reason: REASON, durationMinutes: 30 }) => call('POST', '/api/v1/break-glass', token, payload);
  const elevations = async (): Promise<number> => (await t.db.query('SELECT 1 FROM elevations')).rowCount;

  it('refuses principals without the break-glass role, audited, and grants nothing', async () => {
    const res = await elevate(scientist.token);
    expect(res.statusCode).toBe(403);
    const [deny] = (await decisionsOf(t.db, scientist.id, 'denied')).filter((e) => e.resource.id === 'startBreakGlass');
    expect(deny?.requestId).toBe(res.headers['x-request-id']);
    expect(await elevations()).toBe(0);
    expect((await call('GET', '/api/v1/principals', scientist.token)).statusCode).toBe(403);
  });

  it.each([
    ['a short reason', { reason: 'urgent!!', durationMinutes: 30 }, 'body.reason'],
    ['a blank reason', { reason: '            ', durationMinutes: 30 }, 'body.reason'],
    ['no reason', { durationMinutes: 30 }, 'body.reason'],
    ['more than the maximum', { reason: REASON, durationMinutes: 61 }, 'body.durationMinutes'],
    ['a zero duration', { reason: REASON, durationMinutes: 0 }, 'body.durationMinutes'],
  ])('400 for %s, nothing written', async (_n, payload, field) => {
    const before = await changeEntryCount(t.db);
    const res = await elevate(medic.token, payload);
    expect(res.statusCode).toBe(400);
    expect((res.json().errors as Array<{ field: string }>).map((e) => e.field)).toEqual([field]);
    expect(await elevations()).toBe(0);
    // Only the decision that let the request in is recorded; no change, no alert.
    expect(await changeEntryCount(t.db)).toBe(before);
  });

  it('takes its maximum from breakGlass.maxMinutes, and uses it when no duration is asked', async () => {
    const short = await createIdentityApp(backend, { config: { breakGlass: { maxMinutes: 15 } } });
    try {
      const oncall = await createPrincipalWithToken(short.db, { name: 'oncall', roles: ['break-glass'] });
      const over = await short.app.inject({ method: 'POST', url: '/api/v1/break-glass', headers: bearer(oncall.token), payload: { reason: REASON, durationMinutes: 16 } });
      expect(over.statusCode).toBe(400);
      expect((over.json().errors as Array<{ field: string }>).map((e) => e.field)).toEqual(['body.durationMinutes']);
      const ok = await short.app.inject({ method: 'POST', url: '/api/v1/break-glass', headers: bearer(oncall.token), payload: { reason: REASON } });
      expect(ok.statusCode).toBe(201);
      const e = ok.json<{ startedAt: string; expiresAt: string }>();
      expect(Date.parse(e.expiresAt) - Date.parse(e.startedAt)).toBe(15 * 60_000);
    } finally {
      await short.close();
    }
  });

  it('elevates to platform-admin until expiry, raises an alert, and flags every action meanwhile', async () => {
    expect((await call('GET', '/api/v1/principals', medic.token)).statusCode).toBe(403);

    const res = await elevate(medic.token);
    expect(res.statusCode, res.body).toBe(201);
    const elevation = res.json<ElevationBody>();
    expect(elevation).toMatchObject({ principalId: medic.id, reason: REASON, startedAt: t.clock.now().toISOString(), endedAt: null });
    expect(Date.parse(elevation.expiresAt)).toBe(t.clock.now().getTime() + 30 * 60_000);
    const flag = { id: elevation.id, reason: REASON, expiresAt: elevation.expiresAt };

    const [elevate1] = await entries(t.db, 'breakglass.elevate', elevation.id);
    expect(elevate1).toMatchObject({ actor: { principalId: medic.id, elevation: flag }, reason: REASON, requestId: res.headers['x-request-id'] });
    const [alert] = await entries(t.db, 'alert.raise', elevation.id);
    expect(alert?.reason).toContain(`${BREAK_GLASS_ALERT_EVENT}: mo-oncall`);
    const line = t.logs.find((l) => l.event === BREAK_GLASS_ALERT_EVENT);
    expect(line).toMatchObject({ level: 40, alert: true, principalId: medic.id, elevationId: elevation.id, expiresAt: elevation.expiresAt });

    const me = await call('GET', '/api/v1/whoami', medic.token);
    expect(me.json()).toMatchObject({ roles: ['break-glass', 'data-scientist', 'platform-admin'], elevation: flag });

    // Under elevation: an admin-only change works, and its audit entry carries the flag.
    const created = await call('POST', '/api/v1/principals', medic.token, { name: 'emergency-svc', kind: 'service', roles: ['app-client'] });
    expect(created.statusCode, created.body).toBe(201);
    const [create] = await entries(t.db, 'principal.create', created.json<{ id: string }>().id);
    expect(create?.actor).toEqual({ principalId: medic.id, kind: 'human', authenticatedBy: 'api_token', elevation: flag });

    // One elevation at a time.
    expect((await elevate(medic.token)).statusCode).toBe(409);

    // Expired: grants nothing any more, and later entries are not flagged.
    t.clock.advance(30 * 60_000);
    const after = await call('GET', '/api/v1/principals', medic.token);
    expect(after.statusCode).toBe(403);
    const [deny] = (await decisionsOf(t.db, medic.id, 'denied')).filter((e) => e.requestId === after.headers['x-request-id']);
    expect(deny).toMatchObject({ resource: { id: 'listPrincipals' }, outcome: 'failed' });
    expect(deny?.actor.elevation).toBeUndefined();
    const meLater = await call('GET', '/api/v1/whoami', medic.token);
    expect(meLater.json().roles).toEqual(['break-glass', 'data-scientist']);
    expect(meLater.json().elevation).toBeUndefined();
    expect((await call('DELETE', '/api/v1/break-glass', medic.token)).statusCode).toBe(404);
  });

  it('ends early on DELETE, audited, and then grants nothing', async () => {
    const started = await elevate(medic.token, { reason: REASON });
    expect(started.statusCode).toBe(201);
    const elevation = started.json<ElevationBody>();
    expect(Date.parse(elevation.expiresAt) - Date.parse(elevation.startedAt)).toBe(60 * 60_000);
    expect((await call('GET', '/api/v1/principals', medic.token)).statusCode).toBe(200);

    t.clock.advance(5 * 60_000);
    const ended = await call('DELETE', '/api/v1/break-glass', medic.token);
    expect(ended.statusCode).toBe(200);
    expect(ended.json()).toMatchObject({ id: elevation.id, endedAt: t.clock.now().toISOString(), endedBy: medic.id });
    const [end] = await entries(t.db, 'breakglass.end', elevation.id);
    expect(end?.actor.elevation?.id).toBe(elevation.id);
    expect((await call('GET', '/api/v1/principals', medic.token)).statusCode).toBe(403);
  });

  it('a token narrowed away from break-glass does not carry the elevation', async () => {
    const narrowed = await call('POST', '/api/v1/tokens', medic.token, { name: 'science', scopes: ['role:data-scientist'] });
    const token = narrowed.json<{ token: string }>().token;
    expect((await elevate(medic.token)).statusCode).toBe(201);
    expect((await call('GET', '/api/v1/principals', medic.token)).statusCode).toBe(200);
    expect((await call('GET', '/api/v1/principals', token)).statusCode).toBe(403);
    expect((await call('GET', '/api/v1/whoami', token)).json().elevation).toBeUndefined();
    expect((await call('DELETE', '/api/v1/break-glass', medic.token)).statusCode).toBe(200);
  });

  it('losing the break-glass role ends what the elevation grants', async () => {
    expect((await elevate(medic.token)).statusCode).toBe(201);
    const demoted = await call('PATCH', `/api/v1/principals/${medic.id}`, t.adminToken, { roles: ['data-scientist'] });
    expect(demoted.statusCode).toBe(200);
    expect((await call('GET', '/api/v1/principals', medic.token)).statusCode).toBe(403);
  });
});
