import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifierKey } from '../../src/audit/index.js';
import { ed25519RawPublicKey, openKeyring } from '../../src/core/index.js';
import { createPgliteDb } from '../../src/store/index.js';
import { createPrincipalWithToken } from '../support/app.js';
import { cliEnv, fetchFresh, runAssay, type RunningServer, startAssayServer } from '../support/cli.js';

// The examiner's side: a manifest envelope as the API served it, the log's public key(s), the
// certified Parquet and the raw snapshot, checked by `assay dataset verify-manifest` with no
// server, database or home. The Parquet is fetched as a data scientist would with `assay
// dataset download` (GET …/parquet), and must be the very file the manifest names.

const root = mkdtempSync(join(tmpdir(), 'assay-cli-manifest-'));
const home = join(root, 'home');
const csv = join(root, 'loans.csv');
const file = (name: string): string => join(root, name);
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Runs the command as an examiner would: no home, and a configuration that would break any command reading it. */
const examine = (args: string[]) => runAssay(['dataset', 'verify-manifest', ...args], cliEnv({ ASSAY_HOME: join(root, 'no-home'), ASSAY_PORT: 'eighty' }));

let server: RunningServer | undefined;
let parquet = '';
let statement: { predicate: { certifiedAt: string; dataset: { versionId: string } } } | undefined;

async function get(path: string, token: string): Promise<Buffer> {
  const res = await fetchFresh(`${server!.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
  expect(res.status, path).toBe(200);
  return Buffer.from(await res.arrayBuffer());
}

beforeAll(async () => {
  writeFileSync(csv, 'customer_id,amount\nK-501,10\nK-502,20\nK-503,30\n');
  expect(runAssay(['--home', home, 'init']).status).toBe(0);
  const admin = readFileSync(join(home, 'admin.token'), 'utf8').trim();
  const db = await createPgliteDb({ dataDir: join(home, 'db') });
  const [scientist, steward] = await (async () => {
    try {
      return [
        await createPrincipalWithToken(db, { name: 'sam-scientist', roles: ['data-scientist'] }),
        await createPrincipalWithToken(db, { name: 'stella-steward', roles: ['data-steward'] }),
      ];
    } finally {
      await db.close();
    }
  })();
  server = await startAssayServer(home);
  const as = (token: string, args: string[]) => runAssay(['--home', home, ...args], cliEnv({ ASSAY_TOKEN: token }));
  const ingest = as(scientist.token, ['dataset', 'ingest', csv, '--name', 'loans', '--source-system', 'core', '--classification', 'internal', '--owner', 'stella-steward']);
  expect(ingest.status, ingest.stderr).toBe(0);
  expect(as(steward.token, ['dataset', 'promote', 'loans', '1']).status).toBe(0);

  const envelope = await get('/api/v1/datasets/loans/versions/1/manifest', steward.token);
  writeFileSync(file('manifest.json'), envelope);
  const env = JSON.parse(envelope.toString('utf8')) as { payload: string; signatures: Array<{ keyid: string }> };
  statement = JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8')) as typeof statement;
  const parquetSha = (JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8')) as { subject: Array<{ digest: { sha256: string } }> }).subject[0]!.digest.sha256;
  parquet = file('loans-v1.parquet');
  const fetched = as(scientist.token, ['dataset', 'download', 'loans', '--version', '1', '--out', parquet]);
  expect(fetched.status, fetched.stderr).toBe(0);
  expect(readFileSync(parquet).equals(readFileSync(join(home, 'blobs', 'sha256', parquetSha.slice(0, 2), parquetSha.slice(2, 4), parquetSha)))).toBe(true);
  writeFileSync(file('signer.pub'), await get(`/api/v1/audit/public-key?keyid=${env.signatures[0]!.keyid}`, admin));

  // The log's key is rotated after the certification, and the retired private key destroyed
  // (key management): the server starts and keeps serving the retired key's public half.
  await server.stop();
  await (await openKeyring(join(home, 'keys'))).rotate();
  rmSync(join(home, 'keys', `${env.signatures[0]!.keyid}.pem`));
  server = await startAssayServer(home);
  writeFileSync(file('active.pub'), await get('/api/v1/audit/public-key', admin));
  writeFileSync(file('keys.json'), await get('/api/v1/audit/public-keys', admin));
  await server.stop();
  server = undefined;
  // The operator's audit bundles: the whole log, and one whose window ends as the version was certified.
  for (const [name, window] of [['log.tar', []], ['before.tar', ['--to', statement!.predicate.certifiedAt]]] as const) {
    const exported = runAssay(['--home', home, 'audit', 'export', ...window, '--out', file(name)]);
    expect(exported.status, exported.stderr).toBe(0);
  }
}, 120_000);

afterAll(async () => server?.stop());

describe('assay dataset verify-manifest (offline)', () => {
  it('verifies the envelope with the signing key, and the certified Parquet and raw snapshot against it', () => {
    const r = examine([file('manifest.json'), '--public-key', file('signer.pub'), '--parquet', parquet, '--snapshot', csv]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^manifest OK: loans@1 \(dsv_\w+\) signed by key [0-9a-f]{64}\n/);
    expect(r.stdout).toContain(`certified by `);
    expect(r.stdout).toContain(': 3 rows');
    expect(r.stdout).toMatch(/parquet sha256:[0-9a-f]{64} matches the file given/);
    expect(r.stdout).toMatch(/raw snapshot sha256:[0-9a-f]{64} matches the file given/);
    expect(r.stdout).toMatch(/manifest sha256:[0-9a-f]{64}: the dataset\.promote entry/);
    expect(r.stderr).toBe('');

    const json = examine([file('manifest.json'), '--public-key', readFileSync(file('signer.pub'), 'utf8')]);
    expect(json.status, json.stderr).toBe(0);
    const asJson = JSON.parse(runAssay(['--json', 'dataset', 'verify-manifest', file('manifest.json'), '--public-key', file('signer.pub')]).stdout) as Record<string, unknown>;
    expect(asJson).toMatchObject({ ok: true, dataset: 'loans', version: 1, rows: 3, parquetChecked: false, snapshotChecked: false, versionId: statement!.predicate.dataset.versionId });
  });

  it('a manifest signed before a key rotation: not with the active key (naming the key list), but with the saved key list', () => {
    const active = examine([file('manifest.json'), '--public-key', file('active.pub')]);
    expect(active.status).toBe(1);
    expect(active.stderr).toMatch(/^manifest NOT VERIFIED: unknown_key — signed by key [0-9a-f]{64}, which is none of the keys you trust; GET \/api\/v1\/audit\/public-keys lists/);
    const listed = examine([file('manifest.json'), '--public-key', file('keys.json'), '--parquet', parquet]);
    expect(listed.status, listed.stderr).toBe(0);
    expect(listed.stdout).toContain('manifest OK: loans@1');
    expect(listed.stderr).toBe(''); // certified within the span its key signed in
    // A list saying the key began signing after the certification: verified, with a question to ask.
    const list = JSON.parse(readFileSync(file('keys.json'), 'utf8')) as { keys: Array<{ createdAt: string }> };
    list.keys[0]!.createdAt = '2099-01-01T00:00:00.000Z';
    writeFileSync(file('keys-late.json'), JSON.stringify(list));
    const late = examine([file('manifest.json'), '--public-key', file('keys-late.json')]);
    expect(late.status, late.stderr).toBe(0);
    expect(late.stderr).toBe(`warning: certified at ${statement!.predicate.certifiedAt}, outside the span key ${/signed by key ([0-9a-f]{64})/.exec(late.stdout)![1]} signed in (2099-01-01T00:00:00.000Z to ${(JSON.parse(readFileSync(file('keys.json'), 'utf8')) as { keys: Array<{ retiredAt: string }> }).keys[0]!.retiredAt}): ask the operator\n`);
  });

  it('refuses a tampered envelope, another Parquet or snapshot, and a foreign key', () => {
    const envelope = JSON.parse(readFileSync(file('manifest.json'), 'utf8')) as { payload: string; signatures: Array<{ keyid: string }> };
    const payload = Buffer.from(envelope.payload, 'base64');
    payload[payload.indexOf('"rows":3') + 7] = '4'.charCodeAt(0);
    writeFileSync(file('tampered.json'), JSON.stringify({ ...envelope, payload: payload.toString('base64') }));
    const tampered = examine([file('tampered.json'), '--public-key', file('keys.json')]);
    expect(tampered.status).toBe(1);
    expect(tampered.stderr).toMatch(/^manifest NOT VERIFIED: bad_signature — DSSE signature by key [0-9a-f]{64} does not verify/);

    const otherParquet = examine([file('manifest.json'), '--public-key', file('keys.json'), '--parquet', csv]);
    expect(otherParquet.status).toBe(1);
    expect(otherParquet.stderr).toContain(`manifest NOT VERIFIED: parquet_mismatch — ${csv} has SHA-256 `);
    writeFileSync(file('changed.csv'), readFileSync(csv, 'utf8').replace('K-502', 'K-592'));
    const otherSnapshot = examine([file('manifest.json'), '--public-key', file('keys.json'), '--parquet', parquet, '--snapshot', file('changed.csv')]);
    expect(otherSnapshot.status).toBe(1);
    expect(otherSnapshot.stderr).toContain('manifest NOT VERIFIED: snapshot_mismatch');

    // An attacker's key under the log's name, and its id put in the envelope: unknown to the examiner.
    const [name] = readFileSync(file('signer.pub'), 'utf8').split('+');
    const foreign = verifierKey(name!, ed25519RawPublicKey(generateKeyPairSync('ed25519').publicKey));
    const byForeign = examine([file('manifest.json'), '--public-key', foreign]);
    expect(byForeign.status).toBe(1);
    expect(byForeign.stderr).toContain('unknown_key');

    // Envelopes of the wrong shape: malformed or unknown_key, never a crash.
    writeFileSync(file('odd.json'), JSON.stringify({ ...envelope, signatures: 'x' }));
    const odd = examine([file('odd.json'), '--public-key', file('keys.json')]);
    expect(odd.status).toBe(1);
    expect(odd.stderr).toMatch(/^manifest NOT VERIFIED: malformed — malformed DSSE envelope; signatures: /);
    writeFileSync(file('no-keyid.json'), JSON.stringify({ ...envelope, signatures: [{ sig: (envelope as unknown as { signatures: Array<{ sig: string }> }).signatures[0]!.sig }] }));
    const noKeyid = examine([file('no-keyid.json'), '--public-key', file('keys.json')]);
    expect(noKeyid.status).toBe(1);
    expect(noKeyid.stderr).toContain('manifest NOT VERIFIED: unknown_key — signed by key (no keyid), which is none of the keys you trust');

    writeFileSync(file('not-json.json'), 'PAR1 not an envelope');
    const notJson = examine([file('not-json.json'), '--public-key', file('keys.json')]);
    expect(notJson.status).toBe(1);
    expect(notJson.stderr).toMatch(/^manifest NOT VERIFIED: malformed — /);
    expect(notJson.stderr).not.toContain('PAR1');
  });

  it('with --bundle: the promotion is found in the verified audit log, naming this manifest; a bundle that misses it, or does not verify, fails', () => {
    const recorded = examine([file('manifest.json'), '--public-key', file('keys.json'), '--bundle', file('log.tar')]);
    expect(recorded.status, recorded.stderr).toBe(0);
    const sha = /manifest sha256:([0-9a-f]{64})/.exec(recorded.stdout)![1];
    expect(recorded.stdout).toMatch(new RegExp(`manifest sha256:${sha}: recorded by audit entry \\d+ \\(dataset\\.promote by prn_\\w+ at \\S+Z\\), in the bundle signed at log size \\d+\\n`));
    const asJson = JSON.parse(runAssay(['--json', 'dataset', 'verify-manifest', file('manifest.json'), '--public-key', file('keys.json'), '--bundle', file('log.tar')]).stdout) as {
      auditEntry: { index: number; principalId: string };
    };
    expect(asJson.auditEntry).toMatchObject({ index: expect.any(Number), principalId: expect.stringMatching(/^prn_/) });

    // The log's window ends before the promotion: signed and intact, but it does not show the certification.
    const before = examine([file('manifest.json'), '--public-key', file('keys.json'), '--bundle', file('before.tar')]);
    expect(before.status).toBe(1);
    expect(before.stderr).toMatch(new RegExp(`^manifest NOT VERIFIED: not_recorded — the audit bundle \\(entries 0 to \\d+, recorded from the start until \\S+\\) holds no dataset\\.promote entry naming manifest sha256:${sha}; the manifest was certified at ${statement!.predicate.certifiedAt.replace(/\./g, '\\.')}, outside the bundle's window`));

    // A bundle whose leaves were changed after export does not verify, whatever it holds.
    const dir = file('log-extracted');
    mkdirSync(dir);
    expect(spawnSync('tar', ['-xf', file('log.tar'), '-C', dir]).status).toBe(0);
    const member = spawnSync('tar', ['-tf', file('log.tar')], { encoding: 'utf8' }).stdout.split('\n').find((m) => m.endsWith('leaves.jsonl'))!;
    const leaves = join(dir, member);
    writeFileSync(leaves, readFileSync(leaves, 'utf8').replace('"action":"', '"action":"x'));
    const changed = examine([file('manifest.json'), '--public-key', file('keys.json'), '--bundle', dirname(leaves)]);
    expect(changed.status).toBe(1);
    expect(changed.stderr).toMatch(/^manifest NOT VERIFIED: bundle_unverified — the audit bundle does not verify \(changed\)/);
  });

  it.each([
    ['no --public-key', [file('manifest.json')]],
    ['a --public-key that is no key', [file('manifest.json'), '--public-key', 'not-a-key']],
    ['a --public-key file holding no key', [file('manifest.json'), '--public-key', csv]],
    ['a missing manifest', [file('missing.json'), '--public-key', file('keys.json')]],
    ['a missing --parquet', [file('manifest.json'), '--public-key', file('keys.json'), '--parquet', file('missing.parquet')]],
    ['a missing --bundle', [file('manifest.json'), '--public-key', file('keys.json'), '--bundle', file('missing.tar')]],
  ])('%s → exit 2', (_label, args) => {
    const r = examine(args);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/error/);
  });
});
