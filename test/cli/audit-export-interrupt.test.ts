import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer, request as httpRequest, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sequenceBatch } from '../../src/audit/index.js';
import { newId, openKeyring } from '../../src/core/index.js';
import { createPgliteDb } from '../../src/store/index.js';
import { cliEnv, eventually, exitOf, runAssay, spawnAssay, startAssayServer, type RunningServer } from '../support/cli.js';

/**
 * Ctrl-C (SIGINT) or a service manager's SIGTERM during `assay audit export` used to end the
 * process with its hidden .assay-bundle-* folder of audit leaves left beside --out. These run the
 * CLI as a user would, signal it mid-export, and look at what is left in the --out folder.
 */
const root = mkdtempSync(join(tmpdir(), 'assay-export-interrupt-'));
const home = join(root, 'home');
afterAll(() => rmSync(root, { recursive: true, force: true }));

// Enough leaves that the export is still writing them long after its first chunk of 512 is spooled.
const ENTRIES = 20_000;

beforeAll(async () => {
  const init = runAssay(['--home', home, 'init']);
  expect(init.status, init.stderr).toBe(0);
  const db = await createPgliteDb({ dataDir: join(home, 'db') });
  try {
    // One statement rather than 20 000 appendAuditEntry calls: the same rows and pending marks, in seconds.
    const ids = Array.from({ length: ENTRIES }, () => newId('aud'));
    await db.query(
      `WITH e AS (
         INSERT INTO audit_entries (id, actor, action, resource, decision, outcome)
         SELECT id, '{"principalId":"prn_bulk","kind":"human","authenticatedBy":"api_token"}', 'dataset.ingest',
                jsonb_build_object('type', 'thing', 'id', id), '{"effect":"allowed","policyIds":[]}', 'succeeded'
           FROM unnest($1::text[]) WITH ORDINALITY AS t(id, n) ORDER BY n
         RETURNING id)
       INSERT INTO audit_pending (entry_id) SELECT id FROM e`,
      [ids],
    );
    const key = (await openKeyring(join(home, 'keys'))).active();
    while ((await sequenceBatch(db, { key, maxBatch: 5000 })).sequenced > 0);
  } finally {
    await db.close();
  }
}, 180_000);

/** True once an export's temporary folder in `dir` holds spooled leaves: the export is under way. */
function leavesSpooled(dir: string): true | undefined {
  for (const name of readdirSync(dir).filter((n) => n.startsWith('.assay-bundle-'))) {
    try {
      if (statSync(join(dir, name, 'leaves.jsonl')).size > 0) return true;
    } catch {
      // the folder exists, its leaves file not yet
    }
  }
  return undefined;
}

describe('assay audit export interrupted (no server: on the database)', { timeout: 120_000 }, () => {
  for (const [signal, who] of [['SIGINT', 'Ctrl-C'], ['SIGTERM', "a service manager's stop"]] as const) {
    it(`${signal} (${who}) mid-export: its folder of leaves is removed, no bundle, exit 1 saying so`, async () => {
      const dir = mkdtempSync(join(root, `${signal}-`));
      const out = join(dir, 'bundle.tar');
      const child = spawnAssay(['--home', home, 'audit', 'export', '--out', out]);
      await eventually(() => leavesSpooled(dir), 10);
      child.kill(signal);
      expect(await exitOf(child)).toBe(1);
      expect(child.output()).toMatch(new RegExp(`error: the audit export was interrupted \\(${signal}\\) after \\d+ of ${ENTRIES + 2} leaves: its temporary files were removed and nothing was written to ${out}\\n`));
      expect(readdirSync(dir)).toEqual([]);
    });
  }
});

/**
 * A slow server: a proxy in front of the real one that never answers the second request for
 * leaves. Ctrl-C must not wait for it, and the process must end rather than hang on the request.
 */
describe('assay audit export interrupted while the server is slow to answer', { timeout: 120_000 }, () => {
  let server: RunningServer;
  let proxy: Server;
  let proxyUrl = '';
  let leafRequests = 0;
  const held: ServerResponse[] = [];

  beforeAll(async () => {
    server = await startAssayServer(home);
    proxy = createServer((req, res) => {
      if (req.url?.startsWith('/api/v1/audit/leaves') && ++leafRequests > 1) {
        held.push(res); // never answered
        return;
      }
      const upstream = httpRequest(`${server.url}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  }, 120_000);
  afterAll(async () => {
    for (const res of held) res.destroy();
    await new Promise<void>((resolve) => proxy?.close(() => resolve()));
    await server?.stop();
  });

  it('SIGINT while a request for leaves hangs: exit 1 at once, the folder removed, no bundle', async () => {
    const dir = mkdtempSync(join(root, 'slow-'));
    const out = join(dir, 'bundle.tgz');
    const child = spawnAssay(['--home', home, 'audit', 'export', '--url', proxyUrl, '--out', out], cliEnv());
    await eventually(() => (held.length > 0 ? true : undefined));
    expect(leavesSpooled(dir)).toBe(true);
    child.kill('SIGINT');
    expect(await exitOf(child)).toBe(1);
    expect(child.output()).toMatch(new RegExp(`error: the audit export was interrupted \\(SIGINT\\) after 512 of \\d+ leaves: its temporary files were removed and nothing was written to ${out}\\n`));
    expect(readdirSync(dir)).toEqual([]);
  });
});
