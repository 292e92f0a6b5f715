import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createPgliteDb } from '../../src/store/index.js';
import { cliEnv, eventually, exitOf, fetchFresh, readServerInfo, runAssay, spawnAssay } from '../support/cli.js';
import { createTestPostgres, postgresAvailable } from '../support/databases.js';

const homes: string[] = [];
function freshHome(): string {
  const dir = mkdtempSync(join(tmpdir(), 'assay-cli-'));
  homes.push(dir);
  return join(dir, 'home');
}
afterAll(() => {
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

describe('assay CLI: usage and exit codes', () => {
  it('version → 0, with --json too', () => {
    const r = runAssay(['version']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^assay \d+\.\d+\.\d+/);
    expect(JSON.parse(runAssay(['--json', 'version']).stdout)).toMatchObject({ version: expect.any(String) });
  });

  it.each([
    ['no command', []],
    ['an unknown command', ['frobnicate']],
    ['a bad --port', ['server', '--port', 'eighty']],
    ['an unknown flag', ['init', '--colour']],
  ])('%s → exit 2 with help', (_n, args) => {
    const r = runAssay(args);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/Usage: assay|error:/);
  });

  it.each([
    ['a role that is not one', ['principal', 'create', 'bob', '--role', 'bad'], "argument 'bad' is invalid"],
    ['a missing required flag', ['principal', 'create', 'bob'], "required option '--role <role>'"],
    ['a bad choice', ['dataset', 'ingest', 'f.csv', '--format', 'xls'], "argument 'xls' is invalid"],
  ])('%s → the usage error once, then help', (_n, args, error) => {
    const r = runAssay(args);
    expect(r.status).toBe(2);
    expect(r.stderr.match(/^error:/gm)).toHaveLength(1);
    expect(r.stderr.split(error)).toHaveLength(2);
    expect(r.stderr).toContain('Usage: assay');
    expect(r.stdout).toBe('');
  });

  it('a --port with a leading zero → exit 2, as ASSAY_PORT=07600 stops the start', () => {
    const r = runAssay(['--home', freshHome(), 'server', '--port', '07600']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("option '--port <port>' argument '07600' is invalid");
  });

  it('bad configuration → exit 1 naming the variable, once', () => {
    const r = runAssay(['--home', freshHome(), 'init'], cliEnv({ ASSAY_PORT: 'eighty' }));
    expect(r.status).toBe(1);
    expect(r.stderr.match(/ASSAY_PORT/g)).toHaveLength(1);
    expect(r.stderr).toMatch(/^error: invalid configuration \(environment\)\n {2}- port: .*\(from ASSAY_PORT\)\n/);
  });

  it('a bad setting in the config file → exit 1 listing each bad setting once, for init and server', () => {
    const home = freshHome();
    mkdirSync(home, { recursive: true });
    writeFileSync(join(home, 'config.json'), JSON.stringify({ port: 'x', breakGlass: { maxMinutes: 0 } }));
    for (const command of ['init', 'server']) {
      const r = runAssay(['--home', home, command]);
      expect(r.status, command).toBe(1);
      expect(r.stderr.match(/breakGlass\.maxMinutes/g), r.stderr).toHaveLength(1);
      expect(r.stderr.match(/\bport:/g), r.stderr).toHaveLength(1);
      expect(r.stderr.split('\n')[0]).toBe(`error: invalid configuration (${join(home, 'config.json')})`);
    }
  });
});

describe('assay init and server on the embedded database', () => {
  const home = freshHome();

  it('init creates keys, database and the admin token once (0600), and is idempotent', () => {
    const first = runAssay(['--home', home, 'init', '--json']);
    expect(first.status, first.stderr).toBe(0);
    const r = JSON.parse(first.stdout);
    expect(r).toMatchObject({ created: true, database: 'pglite' });
    const tokenFile = join(home, 'admin.token');
    expect(readFileSync(tokenFile, 'utf8').trim()).toBe(r.adminToken);
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    expect(statSync(home).mode & 0o777).toBe(0o700);

    const second = runAssay(['--home', home, 'init', '--json']);
    expect(second.status).toBe(0);
    const r2 = JSON.parse(second.stdout);
    expect(r2).toMatchObject({ created: false, adminPrincipalId: r.adminPrincipalId });
    expect(r2.adminToken).toBeUndefined();
    expect(readFileSync(tokenFile, 'utf8').trim()).toBe(r.adminToken);
  });

  it('server answers /readyz, authenticates, refuses a second owner of the database, and stops cleanly', async () => {
    const token = readFileSync(join(home, 'admin.token'), 'utf8').trim();
    const server = spawnAssay(['--home', home, 'server', '--port', '0']);
    try {
      const info = await eventually(() => readServerInfo(home));
      expect(info.pid).toBe(server.pid);
      const ready = await eventually(async () => {
        const res = await fetchFresh(`${info.url}/readyz`).catch(() => undefined);
        return res?.status === 200 ? res : undefined;
      });
      expect(await ready.json()).toMatchObject({ status: 'ready' });

      const anon = await fetchFresh(`${info.url}/api/v1/whoami`);
      expect(anon.status).toBe(401);
      expect(anon.headers.get('content-type')).toContain('application/problem+json');
      const me = await fetchFresh(`${info.url}/api/v1/whoami`, { headers: { authorization: `Bearer ${token}` } });
      expect(me.status).toBe(200);

      const second = runAssay(['--home', home, 'server', '--port', '0']);
      expect(second.status).toBe(1);
      expect(second.stderr).toContain(`locked by process ${server.pid}`);

      const init = runAssay(['--home', home, 'init']);
      expect(init.status).toBe(0);
      expect(init.stdout).toContain(`server (pid ${server.pid}) is running`);

      // Through the running server: the bootstrap entries are sequenced and verify.
      const verified = await eventually(() => {
        const r = runAssay(['--home', home, '--json', 'audit', 'verify']);
        const report = JSON.parse(r.stdout) as { ok: boolean; size: number };
        return report.size >= 2 ? { r, report } : undefined;
      }, 200);
      expect(verified.r.status).toBe(0);
      expect(verified.report.ok).toBe(true);
    } finally {
      server.kill('SIGTERM');
    }
    expect(await exitOf(server)).toBe(0);
    expect(existsSync(join(home, 'server.json'))).toBe(false);
    expect(existsSync(join(home, 'db.lock'))).toBe(false);
  });

  it('server on a port already taken: exit 1 naming the port and the way out, and the database lock released', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as AddressInfo).port;
    try {
      const r = runAssay(['--home', home, 'server', '--port', String(port)]);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`port ${port} on 127.0.0.1 is already in use (another server?): choose another with --port or ASSAY_PORT`);
      expect(existsSync(join(home, 'db.lock'))).toBe(false);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  it('audit verify without a server reads the database itself, and names the first damaged entry', async () => {
    const ok = runAssay(['--home', home, 'audit', 'verify']);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/audit log OK: \d+ entries, \d+ signed checkpoints verified/);

    const db = await createPgliteDb({ dataDir: join(home, 'db') });
    await db.exec('ALTER TABLE audit_entries DISABLE TRIGGER USER');
    const victim = (await db.query<{ entry_id: string }>('SELECT entry_id FROM audit_leaves WHERE idx = 1')).rows[0]!.entry_id;
    const before = (await db.query<{ request_id: string | null }>('SELECT request_id FROM audit_entries WHERE id = $1', [victim])).rows[0]!;
    await db.query(`UPDATE audit_entries SET request_id = 'tampered' WHERE id = $1`, [victim]);
    await db.close();
    try {
      const bad = runAssay(['--home', home, 'audit', 'verify']);
      expect(bad.status).toBe(1);
      expect(bad.stderr).toContain('first bad index 1: changed');
    } finally {
      const again = await createPgliteDb({ dataDir: join(home, 'db') });
      await again.query('UPDATE audit_entries SET request_id = $1 WHERE id = $2', [before.request_id, victim]);
      await again.exec('ALTER TABLE audit_entries ENABLE TRIGGER USER');
      await again.close();
    }
    expect(runAssay(['--home', home, 'audit', 'verify']).status).toBe(0);
  });

  it('server refuses to start when an applied migration was edited', async () => {
    const db = await createPgliteDb({ dataDir: join(home, 'db') });
    const original = (await db.query<{ checksum: string }>('SELECT checksum FROM assay_migrations WHERE version = 1')).rows[0]!.checksum;
    await db.query(`UPDATE assay_migrations SET checksum = repeat('f', 64) WHERE version = 1`);
    await db.close();
    try {
      const r = runAssay(['--home', home, 'server', '--port', '0']);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('0001_identity.sql');
      expect(r.stderr).toContain('edited');
      expect(existsSync(join(home, 'db.lock'))).toBe(false);
    } finally {
      const again = await createPgliteDb({ dataDir: join(home, 'db') });
      await again.query('UPDATE assay_migrations SET checksum = $1 WHERE version = 1', [original]);
      await again.close();
    }
  });

  it('server refuses an uninitialised home', () => {
    const r = runAssay(['--home', freshHome(), 'server', '--port', '0']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('assay init');
  });
});

describe.skipIf(!postgresAvailable())('assay init and server on PostgreSQL', () => {
  it('two servers share one PostgreSQL database', async () => {
    const database = await createTestPostgres();
    const home = freshHome();
    const env = cliEnv({ DATABASE_URL: database.url });
    const servers: ReturnType<typeof spawnAssay>[] = [];
    try {
      const init = runAssay(['--home', home, 'init', '--json'], env);
      expect(init.status, init.stderr).toBe(0);
      expect(JSON.parse(init.stdout)).toMatchObject({ created: true, database: 'postgres' });
      const token = readFileSync(join(home, 'admin.token'), 'utf8').trim();
      for (const port of ['0', '0']) {
        const s = spawnAssay(['--home', home, 'server', '--port', port, '--json'], env);
        servers.push(s);
        // With --json the server prints its ServerInfo document on stdout once listening.
        const info = await eventually(() => {
          try {
            return JSON.parse(s.output()) as { url: string; database: string };
          } catch {
            return undefined;
          }
        });
        expect(info.database).toBe('postgres');
        const me = await eventually(async () => {
          const res = await fetchFresh(`${info.url}/api/v1/whoami`, { headers: { authorization: `Bearer ${token}` } }).catch(() => undefined);
          return res?.status === 200 ? res : undefined;
        });
        expect(await me.json()).toMatchObject({ roles: ['platform-admin'] });
      }
    } finally {
      for (const s of servers) s.kill('SIGTERM');
      for (const s of servers) await exitOf(s);
      await database.drop();
    }
  });
});
