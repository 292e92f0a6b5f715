import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgliteDb } from '../../src/store/index.js';
import { createPrincipalWithToken } from '../support/app.js';
import { cliEnv, runAssay, startAssayServer, type RunningServer } from '../support/cli.js';
import { GERMAN_CREDIT } from './support.js';

const root = mkdtempSync(join(tmpdir(), 'assay-cli-data-'));
const home = join(root, 'home');

// Each test runs CLI processes one after another, up to a dozen: on a loaded machine each takes seconds to start.
describe('assay dataset ingest / list / show against a running server', { timeout: 180_000 }, () => {
  let server: RunningServer | undefined;
  let stewardToken = '';
  let secondStewardToken = '';
  let complianceToken = '';
  const as = (token: string, args: string[]) => runAssay(['--home', home, ...args], cliEnv({ ASSAY_TOKEN: token }));

  beforeAll(async () => {
    expect(runAssay(['--home', home, 'init']).status).toBe(0);
    const db = await createPgliteDb({ dataDir: join(home, 'db') });
    try {
      stewardToken = (await createPrincipalWithToken(db, { name: 'stella', roles: ['data-steward'] })).token;
      secondStewardToken = (await createPrincipalWithToken(db, { name: 'sam', roles: ['data-steward'] })).token;
      complianceToken = (await createPrincipalWithToken(db, { name: 'cora', roles: ['compliance-officer'] })).token;
    } finally {
      await db.close();
    }
    server = await startAssayServer(home);
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('streams German credit to the server into quarantine', () => {
    const r = as(stewardToken, ['--json', 'dataset', 'ingest', GERMAN_CREDIT, '--name', 'german-credit', '--source-system', 'uci', '--classification', 'confidential', '--owner', 'stella', '--purpose', 'credit scoring']);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ datasetName: 'german-credit', version: 1, state: 'quarantine', rowCount: 1000, sourceSystem: 'uci' });
  });

  it('lists and shows datasets, versions and checks', () => {
    const list = as(stewardToken, ['dataset', 'list']);
    expect(list.status, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/^german-credit {2}confidential {2}owner prn_\w+ {2}latest v1\n$/);
    const show = as(stewardToken, ['dataset', 'show', 'german-credit', '--version', '1']);
    expect(show.status, show.stderr).toBe(0);
    expect(show.stdout).toContain('german-credit v1  quarantine  csv  1000 rows');
    // Its columns, each with the type the certified Parquet holds it as where that differs: a CSV file's values as written.
    expect(show.stdout).toContain('\n  column checking_status  VARCHAR\n  column duration_months  BIGINT  stored as VARCHAR\n');
    expect(show.stdout).toMatch(/pass +schema@4 +blocking/);
    expect(show.stdout).toMatch(/pass +pii@4/);
  });

  it('bad input: exit 1 with the server\'s problem, naming the field', () => {
    const file = join(root, 'semi.csv');
    writeFileSync(file, 'a;b;c\n1;2;3\n');
    const r = as(stewardToken, ['--json', 'dataset', 'ingest', file, '--name', 'semi', '--source-system', 's', '--classification', 'internal', '--owner', 'stella']);
    expect(r.status).toBe(1);
    // --json keeps the API's field names; the advice is in the CLI's terms either way.
    expect(JSON.parse(r.stderr)).toMatchObject({ error: { code: 'validation_failed', message: expect.stringMatching(/; pass --delimiter ';'$/), errors: [{ field: 'query.delimiter' }] } });
    const human = as(stewardToken, ['dataset', 'ingest', file, '--name', 'semi', '--source-system', 's', '--classification', 'internal', '--owner', 'stella']);
    expect(human.status).toBe(1);
    expect(human.stderr).toBe(`error: server answered 400: wrong delimiter: declared ",", but every line splits into 3 columns on ";"; pass --delimiter ';'\n  - --delimiter: the file looks ";"-separated (3 columns), not ","-separated\n`);
    const tabs = join(root, 'tabs.csv');
    writeFileSync(tabs, 'a\tb\n1\t2\n');
    expect(as(stewardToken, ['dataset', 'ingest', tabs, '--name', 'tabs', '--source-system', 's', '--classification', 'internal', '--owner', 'stella']).stderr).toContain('on tab; pass --delimiter tab\n');
    const ok = as(stewardToken, ['dataset', 'ingest', file, '--name', 'semi', '--source-system', 's', '--classification', 'internal', '--owner', 'stella', '--delimiter', ';']);
    expect(ok.status, ok.stderr).toBe(0);
  });

  it('a .tsv or .tab file is tab-separated CSV: sent as text/csv with --delimiter tab unless the flag says otherwise', () => {
    const tsv = join(root, 'Export.TSV');
    writeFileSync(tsv, 'id\tName\tBetrag\r\n1\tMüller\t7\r\n2\tWeiß\t8\r\n');
    const r = as(stewardToken, ['--json', 'dataset', 'ingest', tsv, '--name', 'tsv-export', '--source-system', 's', '--classification', 'internal', '--owner', 'stella']);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ format: 'csv', delimiter: '\t', rowCount: 2, schema: { columns: [{ name: 'id' }, { name: 'Name' }, { name: 'Betrag', type: 'BIGINT' }] } });
    // --delimiter still decides: a .tab file that is in fact ;-separated reads by it.
    const tab = join(root, 'semi.tab');
    writeFileSync(tab, 'a;b\n1;2\n');
    const semi = as(stewardToken, ['--json', 'dataset', 'ingest', tab, '--name', 'tab-export', '--source-system', 's', '--classification', 'internal', '--owner', 'stella', '--delimiter', ';']);
    expect(semi.status, semi.stderr).toBe(0);
  });

  it('a refused ingest names the flags typed, on every line: --source-system, not query.sourceSystem', () => {
    const file = join(root, 'flags.csv');
    writeFileSync(file, 'a,b\n1,2\n');
    const base = ['dataset', 'ingest', file, '--name', 'flags', '--classification', 'internal', '--owner', 'stella'];
    const cases: [string[], string, string][] = [
      [['--source-system', 'https://user:pw@host/x'], '--source-system', 'query.sourceSystem'],
      [['--source-system', 's', '--purpose', 'see https://u:p@h/x'], '--purpose', 'query.purpose'],
      [['--source-system', 's', '--date-format', '%Q'], '--date-format', 'query.dateFormat'],
      [['--source-system', 's', '--derived-from', 'semi@1', '--code-sha256', 'abc'], '--code-sha256', 'query.codeSha256'],
    ];
    for (const [flags, flag, field] of cases) {
      const human = as(stewardToken, [...base, ...flags]);
      expect(human.status, human.stderr).toBe(1);
      const lines = human.stderr.trimEnd().split('\n');
      expect(lines[0]).toMatch(new RegExp(`^error: server answered 400: .*${flag}$`));
      expect(lines[1]).toMatch(new RegExp(`^ {2}- ${flag}: `));
      expect(human.stderr).not.toContain('query.');
      // --json keeps the API's names, in the message as in the fields.
      const json = as(stewardToken, ['--json', ...base, ...flags]);
      expect(JSON.parse(json.stderr)).toMatchObject({ error: { message: expect.stringContaining(field), errors: [{ field }] } });
    }
    expect(as(stewardToken, ['dataset', 'show', 'flags']).stderr).toContain('404');
  });

  it('--source-dataset-namespace and --source-dataset-name name the OpenLineage dataset the file was exported from; one alone is refused naming the other flag', () => {
    const file = join(root, 'loans-export.csv');
    writeFileSync(file, 'loan_id,amount\n1,100\n2,250\n');
    const base = ['dataset', 'ingest', file, '--name', 'loans-export', '--source-system', 'warehouse', '--classification', 'internal', '--owner', 'stella'];
    const alone = as(stewardToken, [...base, '--source-dataset-namespace', 'postgres://warehouse:5432']);
    expect(alone.status).toBe(1);
    expect(alone.stderr).toContain('  - --source-dataset-name: required with --source-dataset-namespace');
    const r = as(stewardToken, ['--json', ...base, '--source-dataset-namespace', 'postgres://warehouse:5432', '--source-dataset-name', 'risk.public.loans']);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ version: 1, sourceDataset: { namespace: 'postgres://warehouse:5432', name: 'risk.public.loans' } });
    const show = as(stewardToken, ['dataset', 'show', 'loans-export', '--version', '1']);
    expect(show.stdout).toContain('\n  exported from OpenLineage dataset risk.public.loans in namespace postgres://warehouse:5432\n');
  });

  it('a file exported under a European locale: --decimal-separator and --date-format type it', () => {
    const file = join(root, 'buchungen.csv');
    writeFileSync(file, 'konto;betrag;datum\n1;1.234,56;31.12.2024\n2;-0,5;01.02.2024\n');
    const r = as(stewardToken, ['--json', 'dataset', 'ingest', file, '--name', 'buchungen', '--source-system', 's', '--classification', 'internal', '--owner', 'stella', '--delimiter', ';', '--decimal-separator', ',', '--date-format', '%d.%m.%Y']);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ values: { decimalSeparator: ',', dateFormat: '%d.%m.%Y' }, schema: { columns: [{ type: 'BIGINT' }, { type: 'DOUBLE' }, { type: 'DATE' }] } });
    expect(as(stewardToken, ['dataset', 'show', 'buchungen', '--version', '1']).stdout).toContain('  read with decimalSeparator ",", dateFormat "%d.%m.%Y"\n');
    const wrong = as(stewardToken, ['dataset', 'ingest', file, '--name', 'buchungen', '--source-system', 's', '--delimiter', ';', '--decimal-separator', ';']);
    expect(wrong.status).not.toBe(0);
    expect(wrong.stderr).toContain("argument ';' is invalid. Allowed choices are ., ,");
  });

  it('--residency takes a country code or region in any case, recorded in upper case; anything else is refused before anything is sent', () => {
    const file = join(root, 'residents.csv');
    writeFileSync(file, 'id,country\n1,DE\n2,FR\n');
    const ingest = (residency: string) => as(stewardToken, ['--json', 'dataset', 'ingest', file, '--name', 'residents', '--source-system', 's', '--classification', 'internal', '--owner', 'stella', '--residency', residency, '--residency-column', 'country']);
    for (const residency of ['Germany', 'Mars']) {
      const refused = ingest(residency);
      expect(refused.status).toBe(2);
      expect(refused.stderr).toContain(`option '--residency <region>' argument '${residency}' is invalid. must be an ISO 3166-1 alpha-2 country code (e.g. DE) or a region (EU, EEA)`);
    }
    expect(as(stewardToken, ['dataset', 'show', 'residents']).stderr).toContain('404');
    const ok = ingest('de');
    expect(ok.status, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ residency: 'DE', exclusions: [{ reason: 'residency_outside', rowNumbers: [2] }] });
  });

  it('a file that cannot be read: exit 1 naming it, before anything is sent', () => {
    const ingest = (file: string) => as(stewardToken, ['--json', 'dataset', 'ingest', file, '--name', 'unread', '--source-system', 's', '--classification', 'internal', '--owner', 'stella']);
    const missing = ingest(join(root, 'no-such.csv'));
    expect(missing.status).toBe(1);
    expect(JSON.parse(missing.stderr)).toEqual({ error: { code: 'validation_failed', message: `cannot read ${join(root, 'no-such.csv')}: no such file`, errors: [{ field: 'file', message: 'no such file' }] } });
    // A directory used to go out as a body the reader failed on: the user saw "socket hang up".
    const directory = ingest(root);
    expect(directory.status).toBe(1);
    expect(JSON.parse(directory.stderr)).toMatchObject({ error: { code: 'validation_failed', message: `cannot upload ${root}: not a regular file (a directory)`, errors: [{ field: 'file' }] } });
    expect(as(stewardToken, ['dataset', 'show', 'unread']).stderr).toContain('404');
  });

  it('promote and override: never the ingester; a failing blocking check needs a recorded exception first', () => {
    const file = join(root, 'contacts.csv');
    writeFileSync(file, 'id,email,score\n1,anna@example.org,3\n2,ben@example.org,5\n3,,4\n');
    const ingested = as(stewardToken, ['--json', 'dataset', 'ingest', file, '--name', 'contacts', '--source-system', 'crm', '--classification', 'internal', '--owner', 'stella']);
    expect(ingested.status, ingested.stderr).toBe(0);
    expect(JSON.parse(ingested.stdout)).toMatchObject({ state: 'quarantine', blockingFailures: ['pii'] });

    const own = as(stewardToken, ['--json', 'dataset', 'promote', 'contacts', '1']);
    expect(own.status).toBe(1);
    expect(JSON.parse(own.stderr)).toMatchObject({ error: { code: 'forbidden' } });
    const unpaired = as(secondStewardToken, ['dataset', 'promote', 'contacts', '1', '--override', 'pii']);
    expect(unpaired.status).toBe(2);
    expect(unpaired.stderr).toMatch(/^error: each --override needs its --reason \(1 overrides, 0 reasons\)\n$/);
    const blocked = as(secondStewardToken, ['--json', 'dataset', 'promote', 'contacts', '1']);
    expect(blocked.status).toBe(1);
    expect(blocked.stderr).toContain('pii');
    const ownException = as(stewardToken, ['--json', 'dataset', 'override', 'contacts', '1', '--check', 'pii', '--reason', 'my own data']);
    expect(ownException.status).toBe(1);
    expect(JSON.parse(ownException.stderr)).toMatchObject({ error: { code: 'forbidden' } });

    // Refusals name the flags typed, each issue once: which --override, not body.overrides.1.check.
    const wrongChecks = as(secondStewardToken, ['dataset', 'promote', 'contacts', '1', '--override', 'schema', '--reason', 'it passed', '--override', 'nosuch', '--reason', 'no such check']);
    expect(wrongChecks.status).toBe(1);
    expect(wrongChecks.stderr).toMatch(/^error: server answered 400: invalid exceptions\n {2}- --override \(1st\): schema@\d+ is pass: .*\n {2}- --override \(2nd\): the version has no check "nosuch" .*\n$/);
    const shortReason = as(secondStewardToken, ['dataset', 'promote', 'contacts', '1', '--override', 'pii', '--reason', 'ok']);
    expect(shortReason.stderr).toMatch(/^error: server answered 400: invalid body: --reason \(1st\)\n {2}- --reason \(1st\): /);
    // A version past what the server holds (int4) is its refusal, named as typed; one that is no version number never leaves the CLI.
    expect(as(secondStewardToken, ['dataset', 'promote', 'contacts', '9999999999']).stderr).toMatch(/^error: server answered 400: invalid params: VERSION\n {2}- VERSION: /);
    const notAVersion = as(secondStewardToken, ['dataset', 'promote', 'contacts', 'v1x']);
    expect(notAVersion.status).toBe(2);
    expect(notAVersion.stderr).toContain("is invalid for argument 'version'. must be a version number, e.g. 3 (or v3)");
    expect(as(complianceToken, ['dataset', 'override', 'contacts', '1', '--check', 'pii', '--reason', 'ok']).stderr).toMatch(/^error: server answered 400: invalid body: --reason\n {2}- --reason: /);
    // --json keeps the API's names.
    expect(JSON.parse(as(secondStewardToken, ['--json', 'dataset', 'promote', 'contacts', '1', '--override', 'pii', '--reason', 'ok']).stderr)).toMatchObject({ error: { message: expect.stringContaining('body.overrides.0.reason'), errors: [{ field: 'body.overrides.0.reason' }] } });

    const waived = as(complianceToken, ['dataset', 'override', 'contacts', '1', '--check', 'pii', '--reason', 'contact e-mails approved for churn scoring, DPIA-17']);
    expect(waived.status, waived.stderr).toBe(0);
    expect(waived.stdout).toMatch(/^contacts v1: pii@4 waived by prn_\w+ at .+: contact e-mails approved for churn scoring, DPIA-17\n$/);
    const certified = as(secondStewardToken, ['--json', 'dataset', 'promote', 'contacts', '1']);
    expect(certified.status, certified.stderr).toBe(0);
    const out = JSON.parse(certified.stdout) as { version: { state: string; certified: { rows: number } }; manifest: { payloadType: string } };
    expect(out.version).toMatchObject({ state: 'certified', certified: { rows: 3 } });
    expect(out.manifest.payloadType).toBe('application/vnd.in-toto+json');
    const again = as(complianceToken, ['--json', 'dataset', 'override', 'contacts', '1', '--check', 'pii', '--reason', 'too late now']);
    expect(again.status).toBe(1);

    // An examiner reading the certified version sees who certified it and what, and under the
    // failing pii check the exception that let it through: who recorded it, when and why.
    const shown = as(complianceToken, ['dataset', 'show', 'contacts', '--version', '1']);
    expect(shown.status, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/^contacts v1 {2}certified .*\n {2}certified by prn_\w+ at \S+: 3 rows, parquet sha256:[0-9a-f]{64}, manifest sha256:[0-9a-f]{64}\n/);
    expect(shown.stdout).toMatch(/ {2}fail pii@4 +blocking .*\n {7}exception by prn_\w+ at \S+: contact e-mails approved for churn scoring, DPIA-17\n/);
    // The dataset's list says so too: without it a version certified past a failing check lists like one that passed them all.
    expect(as(complianceToken, ['dataset', 'show', 'contacts']).stdout).toMatch(/\n {2}contacts v1 {2}certified .* {2}waived by exception: pii\n {4}certified by prn_\w+ at /);
    expect(shown.stdout).toMatch(/^contacts v1 {2}certified .* {2}waived by exception: pii\n/);
  });

  it('dataset profile: each column as a steward reads it, never the values of personal data; a refusal names what was typed', () => {
    const credit = as(stewardToken, ['dataset', 'profile', 'german-credit', '--version', '1']);
    expect(credit.status, credit.stderr).toBe(0);
    expect(credit.stdout.split('\n')[0]).toBe('german-credit v1: 1000 rows, 21 columns');
    expect(credit.stdout).toContain('\n  duration_months  BIGINT (stored as VARCHAR)  1000 values, 0 nulls (0%), ~33 distinct\n    min 4  p1 6  p5 6  p25 12  p50 18  p75 24  p95 48  p99 60  max 72; mean 20.9, stddev 12.06\n');
    expect(credit.stdout).toContain('\n  checking_status  VARCHAR  1000 values, 0 nulls (0%), ~4 distinct\n    length 3 to 3, mean 3\n    top: "A14" 394, "A11" 274, "A12" 269, "A13" 63\n');

    // contacts (above) holds e-mail addresses: counted, never shown.
    const email = as(complianceToken, ['dataset', 'profile', 'contacts', '--version', '1', '--column', 'email']);
    expect(email.status, email.stderr).toBe(0);
    expect(email.stdout).toBe('contacts v1: 3 rows, 3 columns\n  email  VARCHAR  2 values, 1 null (33.33%), ~2 distinct\n    length 15 to 16, mean 15.5\n    values withheld: personal data found in the column\n');
    expect(email.stdout).not.toContain('example.org');
    const asJson = JSON.parse(as(complianceToken, ['--json', 'dataset', 'profile', 'contacts', '--version', '1', '--column', 'score']).stdout) as { rows: number; columns: Array<{ name: string; numeric?: { max: number } }> };
    expect(asJson).toMatchObject({ rows: 3, columns: [{ name: 'score', numeric: { max: 5 } }] });

    const noColumn = as(stewardToken, ['dataset', 'profile', 'contacts', '--version', '1', '--column', 'Email']);
    expect(noColumn.status).toBe(1);
    expect(noColumn.stderr).toBe('error: contacts v1 has no column "Email"; it has id, email, score\n');
    expect(as(stewardToken, ['dataset', 'profile', 'contacts', '--version', '9']).stderr).toMatch(/^error: server answered 404: /);
    expect(as(stewardToken, ['dataset', 'profile', 'Contacts!', '--version', '1']).stderr).toMatch(/^error: server answered 400: invalid params: NAME\n {2}- NAME: /);
    expect(as(stewardToken, ['dataset', 'profile', 'contacts', '--version', '1.5']).status).toBe(2);
    // v1 as Assay prints it.
    expect(as(stewardToken, ['dataset', 'profile', 'contacts', '--version', 'v1', '--column', 'score']).stdout).toMatch(/^contacts v1: 3 rows, 3 columns\n {2}score /);
  });

  it('the administrator runs the platform but does not ingest data (data.ingest)', () => {
    const r = runAssay(['--home', home, '--json', 'dataset', 'ingest', GERMAN_CREDIT, '--name', 'x', '--source-system', 's', '--classification', 'internal', '--owner', 'stella'], cliEnv());
    expect(r.status).toBe(1);
    expect(JSON.parse(r.stderr)).toMatchObject({ error: { code: 'forbidden' } });
  });
});
