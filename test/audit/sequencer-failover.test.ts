import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LEGACY_STRAY_LISTING_ACTION, STRAY_PAYLOAD_SWEEP_ACTION } from '../../src/audit/index.js';
import { createPostgresDb } from '../../src/store/index.js';
import { cliEnv, eventually, exitOf, runAssay, spawnAssay } from '../support/cli.js';
import { createTestPostgres, postgresAvailable } from '../support/databases.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

// node:http with a fresh connection per request: a server killed mid-test must not leave
// pooled keep-alive sockets behind for the next request to stall on.
function post(url: string, token: string, name: string): Promise<number> {
  const body = JSON.stringify({ name });
  return new Promise((resolve) => {
    const req = request(
      `${url}/api/v1/tokens`,
      {
        method: 'POST',
        agent: false,
        timeout: 30_000,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
    req.end(body);
  });
}

describe.skipIf(!postgresAvailable())('audit sequencer: two server processes on one PostgreSQL', () => {
  it('appends from both into one gap-free sequence, and the survivor takes over after kill -9', async () => {
    const database = await createTestPostgres();
    const dir = mkdtempSync(join(tmpdir(), 'assay-failover-'));
    dirs.push(dir);
    const home = join(dir, 'home');
    const env = cliEnv({ DATABASE_URL: database.url });
    const servers: ReturnType<typeof spawnAssay>[] = [];
    const db = await createPostgresDb({ connectionString: database.url });
    try {
      expect(runAssay(['--home', home, 'init'], env).status).toBe(0);
      const token = readFileSync(join(home, 'admin.token'), 'utf8').trim();
      const urls: string[] = [];
      for (let k = 0; k < 2; k++) {
        const s = spawnAssay(['--home', home, 'server', '--port', '0', '--json'], env);
        servers.push(s);
        // With --json the server prints its ServerInfo on stdout once listening.
        const info = await eventually(() => {
          try {
            return JSON.parse(s.output()) as { url: string };
          } catch {
            return undefined;
          }
        });
        urls.push(info.url);
      }
      const [a, b] = [servers[0]!, servers[1]!];

      const first = await Promise.all(Array.from({ length: 60 }, (_, i) => post(urls[i % 2]!, token, `t${i}`)));
      expect(first.filter((s) => s !== 201)).toEqual([]);
      // Kill -9 one server while writes continue on the other.
      const during = Array.from({ length: 60 }, (_, i) => post(urls[1]!, token, `u${i}`));
      a.kill('SIGKILL');
      expect((await Promise.all(during)).filter((s) => s !== 201)).toEqual([]);
      await exitOf(a);
      const third = await Promise.all(Array.from({ length: 30 }, (_, i) => post(urls[1]!, token, `v${i}`)));
      expect(third.filter((s) => s !== 201)).toEqual([]);
      // Every committed entry is sequenced exactly once, indexes 0..n-1, nothing left pending.
      const entries = (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_entries')).rows[0]!.n;
      // Besides these, a server's start may record housekeeping: the payload store's one listing.
      const housekeeping = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_entries WHERE action = ANY($1::text[])`, [[LEGACY_STRAY_LISTING_ACTION, STRAY_PAYLOAD_SWEEP_ACTION]])).rows[0]!.n;
      // The bootstrap's 2 and the 150 token issues; each request also recorded its authorisation decision.
      const changes = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_entries WHERE action <> 'authz.decide'`)).rows[0]!.n;
      expect(changes - housekeeping).toBe(2 + 150);
      expect(entries - housekeeping).toBe(2 + 150 + 150);
      await eventually(async () => {
        const r = await db.query<{ size: number }>('SELECT size FROM audit_log_state');
        return r.rows[0]!.size === entries ? true : undefined;
      });
      const leaves = await db.query<{ idx: number; entry_id: string }>('SELECT idx, entry_id FROM audit_leaves ORDER BY idx');
      expect(leaves.rows.map((r) => r.idx)).toEqual(Array.from({ length: entries }, (_, i) => i));
      expect(new Set(leaves.rows.map((r) => r.entry_id)).size).toBe(entries);
      expect((await db.query('SELECT 1 FROM audit_pending')).rowCount).toBe(0);
      const cp = await db.query<{ size: number }>('SELECT max(size) AS size FROM audit_checkpoints');
      expect(cp.rows[0]!.size).toBe(entries);
      b.kill('SIGTERM');
      expect(await exitOf(b)).toBe(0);
    } finally {
      for (const s of servers) if (s.exitCode === null && s.signalCode === null) s.kill('SIGKILL');
      await db.close();
      await database.drop();
    }
  });
});
