import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAuditEntries, MAX_AUDIT_REASON } from '../../src/audit/index.js';
import { exceptionAuditReason, MAX_DATASET_VERSION, MAX_EXCEPTION_REASON, QUARANTINE_CHECKS } from '../../src/data/index.js';
import { changeEntryCount, createPrincipalWithToken, createTestApp, type TestApp } from '../support/app.js';
import { eachBackend } from '../support/databases.js';
import { upload } from './support.js';

// E-mail addresses in a dataset classified internal: pii@4 fails and blocks promotion. Each
// dataset's rows differ, so no two certify to the same Parquet blob.
const leaky = (name: string) => `id,email,amount\n1,anna@example.com,10\n2,bob@example.com,20\n3,${name}@example.org,30\n`;

type Principal = { id: string; token: string };
type Problem = { status: number; detail: string; errors?: Array<{ field: string; detail: string }> };

/** Exceptions to failing blocking checks, as a data steward and a compliance officer record them, over HTTP. */
describe('the dataset.override audit entry', () => {
  it('names the dataset version, and keeps the longest reason whole under the longest name, version number and check name', () => {
    const longestCheck = QUARANTINE_CHECKS.map((c) => c.name).reduce((a, b) => (b.length > a.length ? b : a));
    const reason = 'r'.repeat(MAX_EXCEPTION_REASON);
    const text = exceptionAuditReason({ datasetName: 'n'.repeat(128), version: MAX_DATASET_VERSION }, { check: longestCheck, reason });
    expect(text.startsWith(`${'n'.repeat(128)} v${MAX_DATASET_VERSION}: exception to failing blocking check ${longestCheck}: `)).toBe(true);
    expect(text.endsWith(reason)).toBe(true);
    expect(text.length).toBeLessThanOrEqual(MAX_AUDIT_REASON);
  });
});

describe.each(eachBackend().map((b) => [b.name, b] as const))('exceptions to failing blocking checks [%s]', (_name, backend) => {
  let t: TestApp;
  let base: string;
  let ingester: Principal;
  let stewards: Principal[];
  let compliance: Principal;

  const post = (who: Principal, path: string, body?: unknown) =>
    fetch(`${base}/api/v1/datasets/${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${who.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const override = (who: Principal, path: string, reason: string) => post(who, `${path}/checks/pii/override`, { reason });
  const overrideRows = async (name: string) =>
    (await t.db.query<{ overridden_by: string; reason: string }>(
      `SELECT o.overridden_by, o.reason FROM dataset_check_overrides o JOIN dataset_versions v ON v.id = o.version_id JOIN datasets d ON d.id = v.dataset_id WHERE d.name = $1`,
      [name],
    )).rows;
  const ingest = async (name: string) => {
    const res = await upload(t, { name, body: leaky(name), token: ingester.token, query: { classification: 'internal', owner: 'ingester' } });
    expect(res.statusCode, res.body).toBe(201);
    expect(JSON.parse(res.body)).toMatchObject({ blockingFailures: ['pii'] });
    return (JSON.parse(res.body) as { id: string }).id;
  };

  beforeAll(async () => {
    t = await createTestApp(backend);
    ingester = await createPrincipalWithToken(t.db, { name: 'ingester', roles: ['data-steward'] });
    stewards = [];
    for (const name of ['steward-a', 'steward-b', 'steward-c']) stewards.push(await createPrincipalWithToken(t.db, { name, roles: ['data-steward'] }));
    compliance = await createPrincipalWithToken(t.db, { name: 'compliance', roles: ['compliance-officer'] });
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => t?.close());

  it('an exception to a check that does not exist, or does not fail, names params.check (where the check was named), not a body field', async () => {
    await ingest('fields');
    const changes = await changeEntryCount(t.db);
    for (const check of ['nope', 'schema', 'consent']) {
      const res = await post(compliance, `fields/versions/1/checks/${check}/override`, { reason: 'because reasons' });
      const problem = (await res.json()) as Problem;
      expect(res.status, JSON.stringify(problem)).toBe(400);
      expect(problem.errors?.map((e) => e.field)).toEqual(['params.check']);
    }
    expect(await overrideRows('fields')).toEqual([]);
    expect(await changeEntryCount(t.db)).toBe(changes);
  });

  it('an exception to a certified version says exceptions wait on quarantine, not that a version is promoted once', async () => {
    await ingest('late');
    expect((await post(stewards[0]!, 'late/versions/1/promote', { overrides: [{ check: 'pii', reason: 'sandbox addresses, not real ones' }] })).status).toBe(200);
    const res = await override(compliance, 'late/versions/1', 'an exception after the fact');
    const problem = (await res.json()) as Problem;
    expect(res.status).toBe(409);
    expect(problem.detail).toMatch(/already certified; exceptions are recorded only while a version is in quarantine/);
    expect(problem.detail).not.toMatch(/promoted once/);
  });

  it('a reason, source system, purpose or transform holding control or bidirectional formatting characters is refused naming the field, and nothing is kept', async () => {
    await ingest('spoof');
    const changes = await changeEntryCount(t.db);
    // What a terminal would show as a second, forged line; a carriage return; a right-to-left override.
    const forged = 'sandbox data\u001b[2K\u001b[1Adataset.override: approved by the CISO';
    for (const reason of [forged, 'line one\nline two', 'overwrite\rsigned off', 'ok \u202Eevil', 'isolated \u2066x\u2069']) {
      const alone = await override(compliance, 'spoof/versions/1', reason);
      const problem = (await alone.json()) as Problem;
      expect(alone.status, JSON.stringify(reason)).toBe(400);
      expect(problem.errors?.map((e) => e.field)).toEqual(['body.reason']);
      const inline = await post(stewards[0]!, 'spoof/versions/1/promote', { overrides: [{ check: 'pii', reason }] });
      expect(inline.status).toBe(400);
      expect(((await inline.json()) as Problem).errors?.map((e) => e.field)).toEqual(['body.overrides.0.reason']);
    }
    expect(await overrideRows('spoof')).toEqual([]);
    const ingests: Array<[Record<string, string>, string]> = [
      [{ sourceSystem: 'crm\u001b[31m' }, 'query.sourceSystem'],
      [{ purpose: 'credit\nscoring' }, 'query.purpose'],
      [{ derivedFrom: 'spoof@1', codeSha256: 'a'.repeat(64), transform: 'evil\u202Eyp.exe' }, 'query.transform'],
    ];
    for (const [query, field] of ingests) {
      const res = await upload(t, { name: 'spoof-2', body: leaky('spoof-2'), token: ingester.token, query: { classification: 'internal', owner: 'ingester', ...query } });
      expect(res.statusCode, res.body).toBe(400);
      expect((JSON.parse(res.body) as Problem).errors?.map((e) => e.field)).toEqual([field]);
    }
    expect((await t.db.query(`SELECT 1 FROM datasets WHERE name = 'spoof-2'`)).rowCount).toBe(0);
    expect(await changeEntryCount(t.db)).toBe(changes);
    // Plain text in any script, with punctuation, is evidence as given.
    const plain = 'Sandbox-Adressen (Ticket DSR-7): ça va, 特徴 — ok';
    const res = await override(compliance, 'spoof/versions/1', plain);
    expect(res.status).toBe(201);
    expect(await overrideRows('spoof')).toEqual([{ overridden_by: compliance.id, reason: plain }]);
  });

  it('a source system, purpose, code URI or transform embedding a credential is refused naming the field, never echoing it, and nothing is kept: a signed manifest and an undeletable row could never give it back', async () => {
    await ingest('creds');
    const changes = await changeEntryCount(t.db);
    const secret = 'ghp_16C7e42F292c6912E7710c838347Ae178B4a';
    const derived = { derivedFrom: 'creds@1', codeSha256: 'a'.repeat(64) };
    const ingests: Array<[Record<string, string>, string]> = [
      [{ sourceSystem: `postgresql://etl:${secret}@core-db.bank.internal:5432/ledger` }, 'query.sourceSystem'],
      [{ sourceSystem: `https://sftp.bank.example/export?password=${secret}` }, 'query.sourceSystem'],
      [{ purpose: `scoring, see https://svc:${secret}@wiki.bank.example/p/7` }, 'query.purpose'],
      [{ ...derived, codeUri: `https://${secret}@github.com/bank/features.git#3f2a` }, 'query.codeUri'],
      [{ ...derived, codeUri: `git+ssh://git:${secret}@git.bank.example/features.git` }, 'query.codeUri'],
      [{ ...derived, codeUri: `https://bucket.s3.amazonaws.com/build.py?X-Amz-Credential=AKIA&X-Amz-Signature=${secret}` }, 'query.codeUri'],
      [{ ...derived, transform: `https://u:${secret}@ci.bank.example/job` }, 'query.transform'],
    ];
    for (const [query, field] of ingests) {
      const res = await upload(t, { name: 'creds-2', body: leaky('creds-2'), token: ingester.token, query: { classification: 'internal', owner: 'ingester', ...query } });
      expect(res.statusCode, res.body).toBe(400);
      const problem = JSON.parse(res.body) as Problem;
      expect(problem.errors?.map((e) => e.field)).toEqual([field]);
      expect(problem.errors?.[0]?.detail).toMatch(/must not embed credentials/);
      expect(res.body).not.toContain(secret);
    }
    expect((await t.db.query(`SELECT 1 FROM datasets WHERE name = 'creds-2'`)).rowCount).toBe(0);
    expect(await changeEntryCount(t.db)).toBe(changes);
    // Locations without credentials are evidence as given: a URL at a commit, an SSH user name, a DSN without a password.
    const promoted = await post(stewards[0]!, 'creds/versions/1/promote', { overrides: [{ check: 'pii', reason: 'sandbox addresses, not real ones' }] });
    expect(promoted.status).toBe(200);
    const ok = await upload(t, {
      name: 'creds-3',
      body: leaky('creds-3'),
      token: ingester.token,
      query: { classification: 'internal', owner: 'ingester', sourceSystem: 'postgresql://core-db.bank.internal:5432/ledger', ...derived, codeUri: 'ssh://git@git.bank.example/features.git#3f2a', transform: 'build_features' },
    });
    expect(ok.statusCode, ok.body).toBe(201);
    expect(JSON.parse(ok.body)).toMatchObject({ sourceSystem: 'postgresql://core-db.bank.internal:5432/ledger', derivation: { code: { uri: 'ssh://git@git.bank.example/features.git#3f2a' } } });
  });

  it('a token scoped to approveDataset alone certifies, but records no exception inline (scope:overrideDatasetCheck, audited as access.deny)', async () => {
    const versionId = await ingest('scoped');
    const issued = await fetch(`${base}/api/v1/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stewards[0]!.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'certify-only', scopes: ['approveDataset'] }),
    });
    expect(issued.status).toBe(201);
    const narrow = { id: stewards[0]!.id, token: ((await issued.json()) as { token: string }).token };
    const res = await post(narrow, 'scoped/versions/1/promote', { overrides: [{ check: 'pii', reason: 'waived under a narrow token' }] });
    const problem = (await res.json()) as Problem;
    expect(res.status, JSON.stringify(problem)).toBe(403);
    expect(problem.detail).toMatch(/scopes \(approveDataset\) do not cover overrideDatasetCheck/);
    expect(await overrideRows('scoped')).toEqual([]);
    const denied = await listAuditEntries(t.db, { action: 'access.deny', principalId: narrow.id });
    expect(denied.map((e) => e.decision?.policyIds)).toContainEqual(['scope:overrideDatasetCheck']);
    // Once a compliance officer recorded the exception, the same token certifies the version.
    expect((await override(compliance, 'scoped/versions/1', 'sandbox addresses, DPIA-12')).status).toBe(201);
    const certified = await post(narrow, 'scoped/versions/1/promote');
    expect(certified.status).toBe(200);
    expect(await listAuditEntries(t.db, { action: 'dataset.promote', resourceId: versionId })).toHaveLength(1);
  });

  it('the audit log keeps an exception\'s reason whole, and never half a character: the longest reason fits the entry, a longer one is 400', async () => {
    const versionId = await ingest('long-reason');
    const tooLong = await override(compliance, 'long-reason/versions/1', 'x'.repeat(1801));
    expect(tooLong.status).toBe(400);
    expect(((await tooLong.json()) as Problem).errors?.map((e) => e.field)).toEqual(['body.reason']);
    // 900 emoji are 1800 UTF-16 units: the entry's prefix and the reason fit its 2000 whole.
    const reason = '😀'.repeat(900);
    expect((await override(compliance, 'long-reason/versions/1', reason)).status).toBe(201);
    const [entry] = await listAuditEntries(t.db, { action: 'dataset.override', resourceId: versionId });
    expect(entry?.reason).toBe(`long-reason v1: exception to failing blocking check pii: ${reason}`);
    // A purpose of emoji overflows the ingest entry: it is cut between characters, never inside one
    // (U+FFFD). One of the two purposes, a character apart, puts the cut where a pair starts.
    for (const [name, purpose] of [['purpose-a', '😀'.repeat(999)], ['purpose-b', `a${'😀'.repeat(999)}`]] as const) {
      const res = await upload(t, { name, body: leaky(name), token: ingester.token, query: { classification: 'internal', owner: 'ingester', purpose } });
      expect(res.statusCode, res.body).toBe(201);
      const [ingested] = await listAuditEntries(t.db, { action: 'dataset.ingest', resourceId: (JSON.parse(res.body) as { id: string }).id });
      expect(ingested?.reason).toMatch(/; purpose: a?(😀)+$/u);
      expect(ingested?.reason).not.toContain('\uFFFD');
    }
  });

  it('concurrent exceptions to one check: exactly one is recorded, the others are 400 naming params.check, never a 500', async () => {
    const versionId = await ingest('race');
    const who = [compliance, ...stewards];
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => override(who[i % who.length]!, 'race/versions/1', `concurrent reason ${i}`)));
    const statuses = answers.map((r) => r.status).sort();
    expect(statuses).toEqual([201, 400, 400, 400, 400, 400, 400, 400]);
    for (const res of answers.filter((r) => r.status === 400)) {
      const problem = (await res.json()) as Problem;
      expect(problem.errors).toEqual([{ field: 'params.check', detail: expect.stringMatching(/^pii(@4)? already has an exception, recorded by prn_/) }]);
    }
    const rows = await overrideRows('race');
    expect(rows).toHaveLength(1);
    expect(await listAuditEntries(t.db, { action: 'dataset.override', resourceId: versionId })).toHaveLength(1);
  });

  it('promotions with an exception racing a separate exception to the same check: one exception, never a 500, and what fails leaves nothing', async () => {
    const versionId = await ingest('race-promote');
    const blobsBefore = await blobCount(t);
    const answers = await Promise.all([
      override(compliance, 'race-promote/versions/1', 'recorded on its own'),
      ...stewards.map((s, i) => post(s, 'race-promote/versions/1/promote', { overrides: [{ check: 'pii', reason: `inline reason ${i}` }] })),
    ]);
    const problems = await Promise.all(answers.map(async (r) => ({ status: r.status, body: (await r.json()) as Problem })));
    expect(problems.filter((p) => p.status >= 500), JSON.stringify(problems)).toEqual([]);
    // One exception is recorded, by whichever request got there first.
    const rows = await overrideRows('race-promote');
    expect(rows).toHaveLength(1);
    expect(await listAuditEntries(t.db, { action: 'dataset.override', resourceId: versionId })).toHaveLength(1);
    // A promotion beaten to the exception is 400 naming its body field, or 409 once another promotion certified the version.
    for (const p of problems.slice(1).filter((x) => x.status !== 200)) {
      expect([400, 409]).toContain(p.status);
      if (p.status === 400) expect(p.body.errors?.map((e) => e.field)).toEqual(['body.overrides.0.check']);
    }
    const promoted = problems.slice(1).filter((p) => p.status === 200).length;
    expect(promoted).toBeLessThanOrEqual(1);
    expect(await listAuditEntries(t.db, { action: 'dataset.promote', resourceId: versionId })).toHaveLength(promoted);
    // Each promotion that certified stored its Parquet and manifest; the refused ones left no blob.
    expect(await blobCount(t)).toBe(blobsBefore + 2 * promoted);
  });
});

async function blobCount(t: TestApp): Promise<number> {
  let n = 0;
  for await (const hash of t.deps.blobs.list()) if (hash) n++;
  return n;
}
