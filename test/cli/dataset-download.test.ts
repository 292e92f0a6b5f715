import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgliteDb } from '../../src/store/index.js';
import { duckRows } from '../data/support.js';
import { createPrincipalWithToken } from '../support/app.js';
import { cliEnv, eventually, exitOf, runAssay, spawnAssay, startAssayServer, type RunningServer } from '../support/cli.js';

const root = mkdtempSync(join(tmpdir(), 'assay-cli-download-'));
const home = join(root, 'home');
const work = join(root, 'work');
mkdirSync(work);
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
/** Files in the working directory, temporary ones included (they start with a dot). */
const workFiles = (): string[] => readdirSync(work).sort();
afterAll(() => rmSync(root, { recursive: true, force: true }));

// Each test runs CLI processes one after another: on a loaded machine each takes seconds to start.
describe('assay dataset download against a running server', { timeout: 180_000 }, () => {
  let server: RunningServer | undefined;
  let scientist = '';
  let steward = '';
  let auditorToken = '';
  let parquetSha = '';
  const as = (token: string, args: string[]) => runAssay(['--home', home, ...args], cliEnv({ ASSAY_TOKEN: token }));
  const download = (token: string, args: string[]) => runAssay(['--home', home, 'dataset', 'download', ...args], cliEnv({ ASSAY_TOKEN: token }));

  beforeAll(async () => {
    expect(runAssay(['--home', home, 'init']).status).toBe(0);
    const db = await createPgliteDb({ dataDir: join(home, 'db') });
    let promoter: string;
    try {
      scientist = (await createPrincipalWithToken(db, { name: 'sam', roles: ['data-scientist'] })).token;
      steward = (await createPrincipalWithToken(db, { name: 'stella', roles: ['data-steward'] })).token;
      promoter = (await createPrincipalWithToken(db, { name: 'pete', roles: ['data-steward'] })).token;
      auditorToken = (await createPrincipalWithToken(db, { name: 'aude', roles: ['auditor'] })).token;
    } finally {
      await db.close();
    }
    server = await startAssayServer(home);
    const csv = join(root, 'loans.csv');
    writeFileSync(csv, 'customer_id,amount\nK-501,10\nK-502,20\nK-503,30\n');
    const ingest = as(steward, ['dataset', 'ingest', csv, '--name', 'loans', '--source-system', 'core', '--classification', 'internal', '--owner', 'stella', '--subject-id-column', 'customer_id']);
    expect(ingest.status, ingest.stderr).toBe(0);
    const promote = as(promoter, ['--json', 'dataset', 'promote', 'loans', '1']);
    expect(promote.status, promote.stderr).toBe(0);
    parquetSha = (JSON.parse(promote.stdout) as { version: { certified: { parquetSha256: string } } }).version.certified.parquetSha256;
  });
  afterAll(async () => server?.stop());

  it('downloads to <name>-v<version>.parquet in the working directory, verified, and refuses to overwrite it without --force', () => {
    const r = runAssayIn(work, ['--home', home, 'dataset', 'download', 'loans', '--version', '1'], scientist);
    expect(r.status, r.stderr).toBe(0);
    const out = join(work, 'loans-v1.parquet');
    expect(r.stdout).toBe(`loans v1: ${readFileSync(out).length} bytes, 3 rows, sha256:${parquetSha} verified, written to ${out}\n`);
    expect(r.stderr).toBe('');
    expect(sha256(readFileSync(out))).toBe(parquetSha);
    expect(workFiles()).toEqual(['loans-v1.parquet']);

    writeFileSync(out, 'mine');
    const refused = runAssayIn(work, ['--home', home, 'dataset', 'download', 'loans', '--version', '1'], scientist);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain(`${out} exists: pass --force to replace it`);
    expect(readFileSync(out, 'utf8')).toBe('mine');
    const forced = runAssayIn(work, ['--home', home, '--json', 'dataset', 'download', 'loans', '--version', '1', '--force'], scientist);
    expect(forced.status, forced.stderr).toBe(0);
    expect(JSON.parse(forced.stdout)).toMatchObject({ dataset: 'loans', version: 1, path: out, sha256: parquetSha, rows: 3, erasureRequests: 0 });
    expect(sha256(readFileSync(out))).toBe(parquetSha);
    expect(workFiles()).toEqual(['loans-v1.parquet']);
  });

  it('--out names the file, which DuckDB reads; a refused download (the role, an unknown version) writes nothing and exits 1', async () => {
    const out = join(root, 'elsewhere.parquet');
    const r = download(scientist, ['loans', '--version', '1', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(await duckRows(`SELECT sum(amount::INTEGER)::INTEGER AS total FROM read_parquet('${out}')`)).toEqual([{ total: 60 }]);

    const denied = download(auditorToken, ['loans', '--version', '1', '--out', join(work, 'audited.parquet')]);
    expect(denied.status).toBe(1);
    expect(denied.stderr).toContain('server answered 403');
    const missing = download(scientist, ['loans', '--version', '7', '--out', join(work, 'v7.parquet')]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('server answered 404');
    expect(workFiles()).toEqual(['loans-v1.parquet']);
  });

  it('dataset manifest saves the envelope exactly as served, verified against the version record, for verify-manifest; the auditor may, a quarantined version has none', () => {
    const r = runAssayIn(work, ['--home', home, 'dataset', 'manifest', 'loans', '--version', '1'], auditorToken);
    expect(r.status, r.stderr).toBe(0);
    const out = join(work, 'loans-v1.manifest.json');
    const manifestSha = (JSON.parse(as(auditorToken, ['--json', 'dataset', 'show', 'loans', '--version', '1']).stdout) as { certified: { manifestSha256: string } }).certified.manifestSha256;
    expect(r.stdout).toBe(`loans v1: manifest sha256:${manifestSha} verified, written to ${out}\n`);
    expect(sha256(readFileSync(out))).toBe(manifestSha);
    const again = runAssayIn(work, ['--home', home, 'dataset', 'manifest', 'loans', '--version', '1'], auditorToken);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain(`${out} exists: pass --force to replace it`);
    expect(again.stderr).toContain('  - --out: exists');
    rmSync(out);

    const csv = join(root, 'loans-2.csv');
    writeFileSync(csv, 'customer_id,amount\nK-601,10\n');
    expect(as(steward, ['dataset', 'ingest', csv, '--name', 'loans', '--source-system', 'core', '--owner', 'stella', '--classification', 'internal']).status).toBe(0);
    const quarantined = runAssayIn(work, ['--home', home, 'dataset', 'manifest', 'loans', '--version', '2'], auditorToken);
    expect(quarantined.status).toBe(1);
    expect(quarantined.stderr).toBe('error: loans v2 is not certified (state: quarantine): only a certified version has a manifest\n');
    expect(workFiles()).toEqual(['loans-v1.parquet']);
  });

  it('every command taking a version reads it by one rule: v1 as 1 (as Assay prints it); anything else is a usage error (exit 2) naming the flag or argument, before anything is sent', () => {
    const out = join(root, 'as-printed.manifest.json');
    const asPrinted = runAssayIn(work, ['--home', home, '--json', 'dataset', 'manifest', 'loans', '--version', 'v1', '--out', out], auditorToken);
    expect(asPrinted.status, asPrinted.stderr).toBe(0);
    expect(JSON.parse(asPrinted.stdout)).toMatchObject({ dataset: 'loans', version: 1, path: out });
    const refused = [
      ['dataset', 'download', 'loans', '--version', '1.0'],
      ['dataset', 'manifest', 'loans', '--version', 'latest'],
      ['dataset', 'profile', 'loans', '--version', 'v0'],
      ['dataset', 'show', 'loans', '--version', '01'],
      ['dataset', 'promote', 'loans', 'two'],
      ['dataset', 'override', 'loans', '2x', '--check', 'pii', '--reason', 'waived by the board'],
    ];
    for (const args of refused) {
      const r = as(steward, args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(/'(--version <n>|version)'.* must be a version number, e\.g\. 3 \(or v3\)/);
    }
    expect(workFiles()).toEqual(['loans-v1.parquet']);
  });

  it('warns when an erasure request reached the version, and still downloads it', () => {
    // Through the CLI: this process's own connections may be stale after the synchronous CLI runs above.
    const filed = as(steward, ['data', 'erasure-request', '--subject-id', 'K-502', '--reason', 'Art. 17(1)(b): consent withdrawn, ticket DSR-9']);
    expect(filed.status, filed.stderr).toBe(0);
    const out = join(root, 'after-erasure.parquet');
    const r = download(scientist, ['loans', '--version', '1', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe("warning: 1 erasure request (GDPR Art. 17) reached loans v1: its rows may hold the data of subjects who asked to be erased; ask the dataset's data steward before you use it (assay data erasure-requests list)\n");
    expect(sha256(readFileSync(out))).toBe(parquetSha);
    // --json: the count is in the answer; stderr, which carries only JSON errors there, stays empty.
    const asJson = download(scientist, ['loans', '--version', '1', '--out', out, '--force', '--json']);
    expect(asJson.status, asJson.stderr).toBe(0);
    expect(JSON.parse(asJson.stdout)).toMatchObject({ erasureRequests: 1 });
    expect(asJson.stderr).toBe('');
  });
});

/** Runs the CLI with `cwd` as its working directory. */
function runAssayIn(cwd: string, args: string[], token: string) {
  return runAssay(args, cliEnv({ ASSAY_TOKEN: token }), cwd);
}

/**
 * A stand-in for the server (the only one in these tests): it answers the version record with
 * one digest and the file with other bytes, or with fewer bytes than it announced, which the
 * real server never does (it withholds what fails its digest) but a proxy, a disk or a network
 * in between may. What the CLI must never keep.
 */
describe('assay dataset download keeps nothing that is not what the version record states', { timeout: 120_000 }, () => {
  const good = Buffer.from('PAR1 the certified bytes PAR1');
  let mode: 'other-bytes' | 'cut-off' | 'stall' = 'other-bytes';
  let fake: Server;
  let url = '';

  beforeAll(async () => {
    fake = createServer((req, res) => {
      if (req.url === '/api/v1/datasets/loans/versions/1') {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ datasetName: 'loans', version: 1, state: 'certified', certified: { parquetSha256: sha256(good), rows: 3 } }));
        return;
      }
      const sent = mode === 'other-bytes' ? Buffer.from('PAR1 some other bytes! PAR1') : good.subarray(0, 10);
      res.writeHead(200, { 'content-type': 'application/vnd.apache.parquet', 'content-length': String(mode === 'other-bytes' ? sent.length : good.length) });
      res.write(sent);
      if (mode === 'other-bytes') res.end();
      // A slow link: the rest never comes while the user waits, until Ctrl-C.
      else if (mode === 'cut-off') setTimeout(() => res.destroy(), 50);
    });
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
  });
  afterAll(async () => new Promise<void>((resolve) => fake.close(() => resolve())));

  /** The CLI against the fake server, in the background: this process must keep answering it. */
  const fetchFrom = async (args: string[]) => {
    const child = spawnAssay(['dataset', 'download', 'loans', '--version', '1', '--url', url, ...args], cliEnv({ ASSAY_TOKEN: 'assay_fake' }));
    const status = await exitOf(child);
    return { status, output: child.output() };
  };

  it('bytes that hash to another digest: exit 1 naming both digests, the temporary file removed, no file', async () => {
    const dir = mkdtempSync(join(root, 'mismatch-'));
    mode = 'other-bytes';
    const r = await fetchFrom(['--out', join(dir, 'x.parquet')]);
    expect(r.status).toBe(1);
    expect(r.output).toContain(`the downloaded bytes hash to sha256:${sha256(Buffer.from('PAR1 some other bytes! PAR1'))}, not sha256:${sha256(good)} as the version record states: discarded`);
    expect(readdirSync(dir)).toEqual([]);
  });

  for (const [signal, who] of [['SIGINT', 'Ctrl-C'], ['SIGTERM', "a service manager's stop"]] as const) {
    it(`${signal} (${who}) mid-download: the partial temporary file is removed, exit 1 saying so`, async () => {
      const dir = mkdtempSync(join(root, `${signal}-`));
      mode = 'stall';
      const child = spawnAssay(['dataset', 'download', 'loans', '--version', '1', '--url', url, '--out', join(dir, 'x.parquet')], cliEnv({ ASSAY_TOKEN: 'assay_fake' }));
      // The transfer is under way once its temporary file holds the first bytes.
      await eventually(() => (readdirSync(dir).some((f) => f.endsWith('.part')) ? true : undefined));
      child.kill(signal);
      expect(await exitOf(child)).toBe(1);
      expect(child.output()).toContain(`was interrupted (${signal}) after 10 of ${good.length} bytes: the partial file was removed and nothing was written to ${join(dir, 'x.parquet')}`);
      expect(readdirSync(dir)).toEqual([]);
    });
  }

  it('a stream cut off before its Content-Length: exit 1 saying how much arrived, nothing left behind', async () => {
    const dir = mkdtempSync(join(root, 'cut-'));
    mode = 'cut-off';
    const r = await fetchFrom(['--out', join(dir, 'x.parquet')]);
    expect(r.status).toBe(1);
    expect(r.output).toMatch(new RegExp(`was cut off(?: after 10 of ${good.length} bytes|: 10 of ${good.length} bytes arrived)`));
    expect(existsSync(join(dir, 'x.parquet'))).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
  });
});
