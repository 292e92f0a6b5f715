import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { buildApp, type AppDeps } from '../../src/api/index.js';
import { createPostgresDb, migrate, type Db } from '../../src/store/index.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { createTestPostgres, eachBackend, postgresAvailable, type TestPostgres } from '../support/databases.js';
import { tcpRelay, type TcpRelay } from '../support/relay.js';

/**
 * `/readyz` when the PostgreSQL server goes away: a real server behind a TCP relay on a loopback
 * port, which the test then closes, so the driver meets a real ECONNREFUSED. The answer is
 * unauthenticated: it names the failed checks and the error code, never the database's host,
 * port or user, which only the server log records.
 */
describe.skipIf(!postgresAvailable())('readiness when the database goes away [postgres]', () => {
  let t: TestApp;
  let database: TestPostgres;
  let relay: TcpRelay;
  let db: Db;
  let app: ReturnType<typeof buildApp>;
  const logged: Array<{ check?: string; msg: string }> = [];

  beforeAll(async () => {
    // Blob store, scratch, policy and keyring of a test app; only its database is replaced.
    t = await createTestApp(eachBackend()[0]!);
    database = await createTestPostgres();
    const target = new URL(database.url);
    relay = tcpRelay(`http://127.0.0.1:${target.port}`, (client, upstream) => {
      client.pipe(upstream);
      upstream.pipe(client);
    });
    target.port = new URL(await relay.listen()).port;
    db = await createPostgresDb({ connectionString: target.toString() });
    await migrate(db);
    const deps: AppDeps = { ...t.deps, db };
    app = buildApp({ deps, logger: pino({ level: 'warn' }, { write: (line: string) => logged.push(JSON.parse(line) as { check?: string; msg: string }) }) });
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
    await db?.close().catch(() => undefined);
    await relay?.close().catch(() => undefined);
    await database?.drop();
    await t?.close();
  });

  it('is ready through the relay, then 503 naming database and migrations with ECONNREFUSED only; the log names the cause', async () => {
    const before = await app.inject({ url: '/readyz' });
    expect(before.statusCode, before.body).toBe(200);

    await relay.close();
    // The first query may meet the pooled connection the relay cut ("Connection terminated", no
    // code); from then on every connection attempt is refused.
    const first = await app.inject({ url: '/readyz' });
    expect(first.statusCode).toBe(503);
    expect(first.json().checks.database.detail).toMatch(/^(ECONNREFUSED; )?the server log has the cause$/);
    const r = await app.inject({ url: '/readyz' });
    expect(r.statusCode).toBe(503);
    expect(r.json()).toMatchObject({
      status: 'not_ready',
      checks: {
        database: { status: 'failed', detail: 'ECONNREFUSED; the server log has the cause' },
        migrations: { status: 'failed', detail: 'ECONNREFUSED; the server log has the cause' },
        blobStore: { status: 'ok' },
        scratch: { status: 'ok' },
      },
    });
    for (const body of [first.body, r.body]) {
      expect(body).not.toContain('127.0.0.1');
      expect(body).not.toContain(database.name);
    }
    const database503 = logged.findLast((l) => l.check === 'database');
    expect(database503?.msg).toMatch(/^readiness check database failed: .*ECONNREFUSED 127\.0\.0\.1:\d+/);
    expect(logged.some((l) => l.check === 'migrations')).toBe(true);
  });
});
