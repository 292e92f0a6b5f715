import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendAuditEntry, sequenceBatch, verifierKey } from '../../src/audit/index.js';
import { ed25519RawPublicKey, openKeyring } from '../../src/core/index.js';
import { createPgliteDb, type Db } from '../../src/store/index.js';
import { randomEntry } from '../support/audit-entries.js';
import { cliEnv, eventually, exitOf, fetchFresh, readServerInfo, runAssay, spawnAssay } from '../support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'assay-cli-bundle-'));
const home = join(dir, 'home');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const BEFORE = 50;
const DURING = 120;
const AFTER = 30;
const BOOTSTRAP = 2; // init records the administrator and its token first
let from = '';
let to = '';

async function appendEntries(db: Db, first: number, n: number): Promise<void> {
  const key = (await openKeyring(join(home, 'keys'))).active();
  await db.transaction(async (tx) => {
    for (let i = first; i < first + n; i++) await appendAuditEntry(tx, randomEntry(i));
  });
  while ((await sequenceBatch(db, { key, maxBatch: 40 })).sequenced > 0);
}

/** Waits until the database clock has entered a later millisecond and returns that millisecond (ISO). */
async function nextMillisecond(db: Db): Promise<string> {
  const now = async (): Promise<number> => Date.parse((await db.query<{ t: string }>('SELECT clock_timestamp() AS t')).rows[0]!.t);
  const boundary = (await now()) + 1;
  while ((await now()) < boundary);
  return new Date(boundary).toISOString();
}

/** The home's verifier key, as `GET /api/v1/audit/public-key` serves it. */
function keyOf(bundle: string): string {
  const r = runAssay(['--json', 'audit', 'verify', '--bundle', bundle]);
  return (JSON.parse(r.stdout) as { key: string }).key;
}

beforeAll(async () => {
  const init = runAssay(['--home', home, 'init']);
  expect(init.status, init.stderr).toBe(0);
  const db = await createPgliteDb({ dataDir: join(home, 'db') });
  try {
    await appendEntries(db, 0, BEFORE);
    from = await nextMillisecond(db);
    await appendEntries(db, BEFORE, DURING);
    to = await nextMillisecond(db);
    await appendEntries(db, BEFORE + DURING, AFTER);
  } finally {
    await db.close();
  }
}, 120_000);

describe('assay audit export / verify --bundle (no server: on the database)', () => {
  const bundle = join(dir, 'window.tar');
  const first = BOOTSTRAP + BEFORE;
  const last = first + DURING - 1;

  it('exports the window and verifies it with no home, no configuration and no server', () => {
    const r = runAssay(['--home', home, 'audit', 'export', '--from', from, '--to', to, '--out', bundle]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`wrote ${bundle}: leaves ${first}..${last} (${DURING})`);
    expect(r.stdout).toContain(`${DURING} recorded in the window`);

    // A broken ASSAY_PORT would stop any command that reads configuration: this one must not.
    const v = runAssay(['audit', 'verify', '--bundle', bundle], cliEnv({ ASSAY_PORT: 'eighty' }));
    expect(v.status, v.stderr).toBe(0);
    expect(v.stdout).toMatch(new RegExp(`^audit bundle OK: leaves ${first}\\.\\.${last} \\(${DURING}\\) of \\S+ match checkpoint ${BOOTSTRAP + BEFORE + DURING + AFTER}`));
    expect(v.stdout).toContain('consistent with checkpoint');
    expect(v.stderr).toContain('warning: no --public-key given');
    expect(v.stderr).toContain('/api/v1/audit/public-key');
  });

  it('with --public-key (a key or a file): no warning; another key fails as wrong_key', () => {
    const key = keyOf(bundle);
    const given = runAssay(['audit', 'verify', '--bundle', bundle, '--public-key', key]);
    expect(given.status, given.stderr).toBe(0);
    expect(given.stderr).toBe('');
    const keyFile = join(dir, 'log.pub');
    writeFileSync(keyFile, key + '\n');
    expect(runAssay(['audit', 'verify', '--bundle', bundle, '--public-key', keyFile]).status).toBe(0);

    const [name] = key.split('+');
    const foreignKey = verifierKey(name!, ed25519RawPublicKey(generateKeyPairSync('ed25519').publicKey));
    const foreign = runAssay(['--json', 'audit', 'verify', '--bundle', bundle, '--public-key', foreignKey]);
    expect(foreign.status).toBe(1);
    expect(JSON.parse(foreign.stdout)).toMatchObject({ ok: false, problem: { kind: 'wrong_key', file: 'public-key.txt' } });
    const plain = runAssay(['audit', 'verify', '--bundle', bundle, '--public-key', foreignKey]);
    expect(plain.stderr).toContain('audit bundle NOT VERIFIED: public-key.txt: wrong_key');
  });

  it('--json prints the report', () => {
    const r = runAssay(['--json', 'audit', 'verify', '--bundle', bundle]);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      ok: true,
      keyTrusted: 'bundle',
      span: { start: first, end: last + 1 },
      leaves: DURING,
      window: { from, to, entries: DURING },
    });
  });

  it('names the first bad index of a tampered bundle, and a broken file without a stack trace', () => {
    const bytes = readFileSync(bundle);
    const victim = BEFORE + 10; // randomEntry(i) carries requestId req_i; leaf index = BOOTSTRAP + i
    const at = bytes.indexOf(`"requestId":"req_${victim}"`);
    expect(at).toBeGreaterThan(0);
    const changed = Buffer.from(bytes);
    changed[at + 14] = 'X'.charCodeAt(0);
    const file = join(dir, 'changed.tar');
    writeFileSync(file, changed);
    const r = runAssay(['audit', 'verify', '--bundle', file]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`audit bundle DAMAGED: first bad index ${BOOTSTRAP + victim}: changed`);

    const notTar = join(dir, 'not.tar');
    writeFileSync(notTar, 'this is not a bundle\n'.repeat(50));
    const m = runAssay(['audit', 'verify', '--bundle', notTar]);
    expect(m.status).toBe(1);
    expect(m.stderr).toMatch(/^audit bundle DAMAGED: bundle: malformed — not a readable tar archive/);
    expect(m.stderr).not.toMatch(/\n\s+at /);
    // A mistyped path is no damaged bundle: it says it cannot read it, and never DAMAGED.
    const missing = join(dir, 'missing.tar');
    const typo = runAssay(['--json', 'audit', 'verify', '--bundle', missing]);
    expect(typo.status).toBe(1);
    expect(JSON.parse(typo.stderr)).toEqual({
      error: { code: 'validation_failed', message: `cannot read ${missing}: no such bundle file or folder`, errors: [{ field: 'bundle', message: 'no such file or folder' }] },
    });
    expect(runAssay(['audit', 'verify', '--bundle', missing]).stderr).not.toContain('DAMAGED');
  });

  it('an empty window fails with a clear message and writes nothing', () => {
    const out = join(dir, 'empty.tar');
    const r = runAssay(['--home', home, 'audit', 'export', '--from', '2001-01-01', '--to', '2001-01-02', '--out', out]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('no sequenced audit entries were recorded from 2001-01-01T00:00:00.000Z to 2001-01-02T00:00:00.000Z');
    expect(() => readFileSync(out)).toThrow();
  });

  it.each([
    ['a bad --from', ['audit', 'export', '--from', 'yesterday', '--out', 'x.tar']],
    ['--from not before --to', ['audit', 'export', '--from', '2026-01-02', '--to', '2026-01-01', '--out', 'x.tar']],
    ['no --out', ['audit', 'export']],
    ['a bad --public-key', ['audit', 'verify', '--bundle', 'x.tar', '--public-key', 'not-a-key']],
    ['a --public-key whose key id does not match', ['audit', 'verify', '--bundle', 'x.tar', '--public-key', 'assay+00000000+AcJc1Q5gk8sVlOf0yl8xNy3zEy3p4cC5JoX0+n0rO3Ho']],
    ['--public-key without --bundle', ['audit', 'verify', '--public-key', 'x+00000000+AAAA']],
    ['--bundle with --url', ['audit', 'verify', '--bundle', 'x.tar', '--url', 'http://127.0.0.1:1']],
  ])('%s → exit 2', (_label, args) => {
    const r = runAssay(['--home', home, ...args]);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/error/);
  });
});

describe('assay audit export through the running server', () => {
  it('reads the public audit API, and the bundle verifies with the key the server publishes', async () => {
    const server = spawnAssay(['--home', home, 'server', '--port', '0']);
    try {
      const info = await eventually(() => readServerInfo(home));
      const token = readFileSync(join(home, 'admin.token'), 'utf8').trim();
      const res = await eventually(async () => {
        const r = await fetchFresh(`${info.url}/api/v1/audit/public-key`, { headers: { authorization: `Bearer ${token}` } }).catch(() => undefined);
        return r?.status === 200 ? r : undefined;
      });
      const key = (await res.text()).trim();

      const out = join(dir, 'served.tgz');
      const r = runAssay(['--home', home, '--json', 'audit', 'export', '--from', from, '--to', to, '--out', out]);
      expect(r.status, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({
        out,
        exportedVia: 'server',
        span: { start: BOOTSTRAP + BEFORE, end: BOOTSTRAP + BEFORE + DURING },
        key,
        earliestCheckpoint: null,
      });
      expect(readFileSync(out).subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
      const v = runAssay(['audit', 'verify', '--bundle', out, '--public-key', key]);
      expect(v.status, v.stderr).toBe(0);
      expect(v.stdout).toContain(`audit bundle OK: leaves ${BOOTSTRAP + BEFORE}..${BOOTSTRAP + BEFORE + DURING - 1}`);
    } finally {
      server.kill('SIGTERM');
    }
    expect(await exitOf(server)).toBe(0);
  });
});

describe('a bundle signed before a key rotation', () => {
  it('is not verified with the new key, which says to look in the key list, and verifies with the retired key the server still lists', async () => {
    const bundle = join(dir, 'window.tar'); // exported above, under the first key
    const signedBy = keyOf(bundle);
    await (await openKeyring(join(home, 'keys'))).rotate();
    const server = spawnAssay(['--home', home, 'server', '--port', '0']);
    try {
      const info = await eventually(() => readServerInfo(home));
      const token = readFileSync(join(home, 'admin.token'), 'utf8').trim();
      const get = async (path: string): Promise<Response | undefined> => {
        const r = await fetchFresh(`${info.url}${path}`, { headers: { authorization: `Bearer ${token}` } }).catch(() => undefined);
        return r?.status === 200 ? r : undefined;
      };
      const active = (await (await eventually(() => get('/api/v1/audit/public-key')))!.text()).trim();
      expect(active).not.toBe(signedBy);
      const r = runAssay(['audit', 'verify', '--bundle', bundle, '--public-key', active]);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/^audit bundle NOT VERIFIED: public-key\.txt: wrong_key — the bundle is signed for key /);
      expect(r.stderr).toContain('if its key was rotated since the bundle was signed');
      expect(r.stderr).toContain('GET /api/v1/audit/public-keys');
      expect(r.stderr).not.toContain('DAMAGED');

      const list = (await (await get('/api/v1/audit/public-keys'))!.json()) as { keys: Array<{ publicKey: string; status: string }> };
      const retired = list.keys.find((k) => k.publicKey === signedBy);
      expect(retired?.status).toBe('retired');
      const ok = runAssay(['audit', 'verify', '--bundle', bundle, '--public-key', retired!.publicKey]);
      expect(ok.status, ok.stderr).toBe(0);
      expect(ok.stdout).toContain('audit bundle OK');
      // The key list saved as served: the bundle must be signed by one of its keys.
      const listFile = join(dir, 'public-keys.json');
      writeFileSync(listFile, JSON.stringify(list));
      const byList = runAssay(['--json', 'audit', 'verify', '--bundle', bundle, '--public-key', listFile]);
      expect(byList.status, byList.stderr).toBe(0);
      expect(JSON.parse(byList.stdout)).toMatchObject({ ok: true, keyTrusted: 'given', key: signedBy });
      const [name] = signedBy.split('+');
      const foreign = () => verifierKey(name!, ed25519RawPublicKey(generateKeyPairSync('ed25519').publicKey));
      const otherList = join(dir, 'other-keys.json');
      writeFileSync(otherList, JSON.stringify({ keys: [{ publicKey: foreign() }, { publicKey: foreign() }] }));
      const notListed = runAssay(['audit', 'verify', '--bundle', bundle, '--public-key', otherList]);
      expect(notListed.status).toBe(1);
      expect(notListed.stderr).toContain(`audit bundle NOT VERIFIED: public-key.txt: wrong_key — the bundle is signed for key ${signedBy}, which is none of the 2 keys you trust`);
      writeFileSync(otherList, JSON.stringify({ keys: [{ publicKey: 'not-a-key' }] }));
      expect(runAssay(['audit', 'verify', '--bundle', bundle, '--public-key', otherList]).status).toBe(2);
    } finally {
      server.kill('SIGTERM');
    }
    expect(await exitOf(server)).toBe(0);
  });
});
