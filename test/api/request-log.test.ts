import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrincipalWithToken, createTestApp, type TestApp } from '../support/app.js';
import { eachBackend } from '../support/databases.js';

/**
 * The server's request log names a request's path and query parameters, never their values:
 * an ingest's purpose, a derivation's parameters and code URI travel in the query string, and
 * so does a credential the ingest refuses. Over the real HTTP server on a loopback port.
 */
describe.each(eachBackend().map((b) => [b.name, b] as const))('request log [%s]', (_name, backend) => {
  let t: TestApp;
  let base: string;
  let steward: { id: string; token: string };
  const lines: string[] = [];

  beforeAll(async () => {
    t = await createTestApp(backend, { logger: pino({ level: 'info' }, { write: (line: string) => lines.push(line) }) });
    steward = await createPrincipalWithToken(t.db, { name: 'steward', roles: ['data-steward'] });
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => t?.close());

  it('logs the query parameter names of an ingest, refused or accepted, and none of their values', async () => {
    const secret = 'hunter2-6b1f0c';
    const send = (query: Record<string, string>) =>
      fetch(`${base}/api/v1/datasets/ledger/versions?${new URLSearchParams({ classification: 'internal', owner: 'steward', ...query }).toString()}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${steward.token}`, 'content-type': 'text/csv' },
        body: 'id,amount\n1,10\n2,20\n',
      });
    const refused = await send({ sourceSystem: `postgresql://etl:${secret}@core-db/ledger` });
    expect(refused.status).toBe(400);
    const accepted = await send({ sourceSystem: 'core-db', purpose: `credit scoring ${secret}` });
    expect(accepted.status).toBe(201);
    const requests = lines.map((l) => JSON.parse(l) as { req?: { url: string; method: string } }).filter((l) => l.req?.url.startsWith('/api/v1/datasets/ledger/versions'));
    expect(requests.map((r) => r.req!.url)).toEqual([
      '/api/v1/datasets/ledger/versions?classification&owner&sourceSystem',
      '/api/v1/datasets/ledger/versions?classification&owner&sourceSystem&purpose',
    ]);
    expect(requests.every((r) => r.req!.method === 'POST')).toBe(true);
    expect(lines.filter((l) => l.includes(secret))).toEqual([]);
  });
});
