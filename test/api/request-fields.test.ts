import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sequenceBatch } from '../../src/audit/index.js';
import { createTestApp, type TestApp } from '../support/app.js';
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
});
