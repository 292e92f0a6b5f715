import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashCanonical, sha256Hex } from '../../src/core/index.js';
import { createPgliteDb } from '../../src/store/index.js';
import { createPrincipalWithToken } from '../support/app.js';
import { cliEnv, runAssay, startAssayServer, type RunningServer } from '../support/cli.js';
import { GERMAN_CREDIT } from './support.js';

const root = mkdtempSync(join(tmpdir(), 'assay-cli-derive-'));
const home = join(root, 'home');

describe('assay dataset ingest --derived-from against a running server', () => {
  let server: RunningServer | undefined;
  let stella = '';
  let sam = '';
  const as = (token: string, args: string[]) => runAssay(['--home', home, ...args], cliEnv({ ASSAY_TOKEN: token }));
  const features = join(root, 'features.csv');
  const code = join(root, 'credit_features.sql');
  const paramsFile = join(root, 'params.json');
  const ingestFeatures = (extra: string[]) =>
    as(stella, ['--json', 'dataset', 'ingest', features, '--name', 'credit-features', '--source-system', 'feature-store', '--classification', 'confidential', '--owner', 'stella', ...extra]);

  beforeAll(async () => {
    expect(runAssay(['--home', home, 'init']).status).toBe(0);
    const db = await createPgliteDb({ dataDir: join(home, 'db') });
    try {
      stella = (await createPrincipalWithToken(db, { name: 'stella', roles: ['data-steward'] })).token;
      sam = (await createPrincipalWithToken(db, { name: 'sam', roles: ['data-steward'] })).token;
    } finally {
      await db.close();
    }
    server = await startAssayServer(home);
    const [header, ...rows] = readFileSync(GERMAN_CREDIT, 'utf8').trimEnd().split('\n');
    const cols = header!.split(',');
    const [d, a] = [cols.indexOf('duration_months'), cols.indexOf('credit_amount')];
    writeFileSync(features, ['duration_months,credit_amount,amount_per_month', ...rows.map((r) => r.split(',')).map((f) => `${f[d]},${f[a]},${(Number(f[a]) / Number(f[d])).toFixed(2)}`)].join('\n') + '\n');
    writeFileSync(code, 'SELECT duration_months, credit_amount, credit_amount / duration_months AS amount_per_month FROM credit\n');
    writeFileSync(paramsFile, JSON.stringify({ decimals: 2, window: 30 }));
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('derives from a certified version: the code is hashed locally, parameters come from --params-file and --param', () => {
    const ingested = as(stella, ['dataset', 'ingest', GERMAN_CREDIT, '--name', 'german-credit', '--source-system', 'uci', '--classification', 'confidential', '--owner', 'stella']);
    expect(ingested.status, ingested.stderr).toBe(0);
    const promoted = as(sam, ['dataset', 'promote', 'german-credit', '1']);
    expect(promoted.status, promoted.stderr).toBe(0);

    const r = ingestFeatures(['--derived-from', 'german-credit@1', '--code', code, '--params-file', paramsFile, '--param', 'window=90', '--param', 'columns=["duration_months","credit_amount"]', '--param', 'note=plain text']);
    expect(r.status, r.stderr).toBe(0);
    const parameters = { decimals: 2, window: 90, columns: ['duration_months', 'credit_amount'], note: 'plain text' };
    expect(JSON.parse(r.stdout)).toMatchObject({
      datasetName: 'credit-features',
      version: 1,
      state: 'quarantine',
      derivation: {
        inputs: [{ dataset: 'german-credit', version: 1 }],
        code: { sha256: sha256Hex(readFileSync(code)), name: 'credit_features.sql', uri: null },
        parameters,
        parametersSha256: hashCanonical(parameters),
      },
    });
    const show = as(stella, ['dataset', 'show', 'credit-features', '--version', '1']);
    expect(show.status, show.stderr).toBe(0);
    expect(show.stdout).toContain(`derived from german-credit@1 by credit_features.sql sha256:${sha256Hex(readFileSync(code))}`);
  });

  it('usage errors exit 2 before anything is sent; the server\'s refusals exit 1 naming the field', () => {
    for (const args of [
      ['--derived-from', 'german-credit@1'],
      ['--derived-from', 'german-credit@1', '--code', code, '--code-sha256', 'a'.repeat(64)],
      ['--code', code],
      ['--derived-from', 'german-credit@1', '--code', code, '--param', 'novalue'],
      // Two values for one key: recording the last would not be what was typed.
      ['--derived-from', 'german-credit@1', '--code', code, '--param', 'window=30', '--param', 'window=90'],
    ]) {
      const r = ingestFeatures(args);
      expect(r.status, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      // Ours as commander's: one "error:" line first.
      expect(r.stderr, args.join(' ')).toMatch(/^error: /);
    }
    // Parameters beyond the server's bound, from the file: the refusal names both flags that make them.
    const big = join(root, 'big-params.json');
    writeFileSync(big, JSON.stringify({ note: 'x'.repeat(17 * 1024) }));
    const tooBig = as(stella, ['dataset', 'ingest', features, '--name', 'credit-features', '--source-system', 'feature-store', '--classification', 'confidential', '--owner', 'stella', '--derived-from', 'german-credit@1', '--code', code, '--params-file', big]);
    expect(tooBig.status, tooBig.stderr).toBe(1);
    expect(tooBig.stderr).toMatch(/--param\/--params-file/);
    expect(tooBig.stderr).not.toMatch(/query\.parameters/);
    const unknown = ingestFeatures(['--derived-from', 'nope@1', '--code-sha256', 'a'.repeat(64)]);
    expect(unknown.status).toBe(1);
    expect(JSON.parse(unknown.stderr)).toMatchObject({ error: { code: 'validation_failed', errors: [{ field: 'query.derivedFrom' }] } });
  });

  // A request lists the derived versions that existed when it was filed: a feature table made
  // later from a version it reached holds the subject's data unlisted, so the scientist is told.
  it('a derived version built from an input an erasure request reached: exit 0, with a warning on stderr (the server counts the requests in Assay-Erasure-Requests)', () => {
    const customers = join(root, 'customers.csv');
    writeFileSync(customers, 'customer_id,score\nC1,0.5\nC2,0.7\n');
    const ingested = as(stella, ['dataset', 'ingest', customers, '--name', 'customers', '--source-system', 'crm', '--classification', 'confidential', '--owner', 'stella', '--subject-id-column', 'customer_id']);
    expect(ingested.status, ingested.stderr).toBe(0);
    expect(as(sam, ['dataset', 'promote', 'customers', '1']).status).toBe(0);
    const clean = as(stella, ['dataset', 'ingest', features, '--name', 'customer-features', '--source-system', 'feature-store', '--classification', 'confidential', '--owner', 'stella', '--derived-from', 'customers@1', '--code', code]);
    expect(clean.status, clean.stderr).toBe(0);
    expect(clean.stderr).not.toContain('erasure');
    const filed = as(sam, ['data', 'erasure-request', '--subject-id', 'C1', '--reason', 'the customer asked to be erased']);
    expect(filed.status, filed.stderr).toBe(0);

    for (const json of [[], ['--json']]) {
      const r = as(stella, [...json, 'dataset', 'ingest', features, '--name', 'customer-features', '--source-system', 'feature-store', '--classification', 'confidential', '--owner', 'stella', '--derived-from', 'customers@1,german-credit@1', '--code', code]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/^warning: 1 erasure request \(GDPR Art\. 17\) reached the inputs of customer-features v\d+: it may hold the data of subjects who asked to be erased, and those requests do not list it/m);
      if (json.length > 0) expect(JSON.parse(r.stdout)).toMatchObject({ datasetName: 'customer-features', derivation: { inputs: [{ dataset: 'customers' }, { dataset: 'german-credit' }] } });
    }
    const unrelated = as(stella, ['dataset', 'ingest', features, '--name', 'credit-features', '--source-system', 'feature-store', '--classification', 'confidential', '--owner', 'stella', '--derived-from', 'german-credit@1', '--code', code]);
    expect(unrelated.status, unrelated.stderr).toBe(0);
    expect(unrelated.stderr).not.toContain('erasure');
  });
});
