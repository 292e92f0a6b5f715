import { createHash, createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAuditEntries } from '../../src/audit/index.js';
import { canonicalJson, type DsseEnvelope } from '../../src/core/index.js';
import { DATASET_MANIFEST_PREDICATE_TYPE, rawSnapshotNodeId, verifyDatasetManifest, type DatasetVersionRecord } from '../../src/data/index.js';
import { loadPolicyEngine } from '../../src/policy/index.js';
import { changeEntryCount, createPrincipalWithToken, createTestApp, type TestApp } from '../support/app.js';
import { eachBackend } from '../support/databases.js';
import { GERMAN_CREDIT, parquetRows, upload } from './support.js';

const CUSTOMERS = readFileSync(join(import.meta.dirname, '..', 'fixtures', 'data', 'customers.csv'));

/** German credit with a consent column: every 10th applicant withdrew consent (100 of 1000). */
function germanCreditWithConsent(): string {
  const [header, ...rows] = readFileSync(GERMAN_CREDIT, 'utf8').trimEnd().split('\n');
  return [`${header},consent`, ...rows.map((r, i) => `${r},${(i + 1) % 10 === 0 ? 'false' : 'true'}`)].join('\n') + '\n';
}

type Principal = { id: string; token: string };
type Promotion = { version: DatasetVersionRecord; manifest: DsseEnvelope };

async function blobCount(t: TestApp): Promise<number> {
  let n = 0;
  for await (const hash of t.deps.blobs.list()) if (hash) n++;
  return n;
}

describe.each(eachBackend().map((b) => [b.name, b] as const))('dataset promotion [%s]', (_name, backend) => {
  let t: TestApp;
  let base: string;
  let ingester: Principal;
  let promoter: Principal;
  let compliance: Principal;
  let risk: Principal;

  const promote = (who: Principal, path: string, body?: unknown) =>
    fetch(`${base}/api/v1/datasets/${path}/promote`, {
      method: 'POST',
      headers: { authorization: `Bearer ${who.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const state = async (name: string) =>
    (await t.db.query<{ state: string; overrides: number }>(
      `SELECT v.state, (SELECT count(*)::int FROM dataset_check_overrides o WHERE o.version_id = v.id) AS overrides
         FROM dataset_versions v JOIN datasets d ON d.id = v.dataset_id WHERE d.name = $1 AND v.version = 1`,
      [name],
    )).rows[0];

  beforeAll(async () => {
    t = await createTestApp(backend);
    ingester = await createPrincipalWithToken(t.db, { name: 'ingester', roles: ['data-steward'] });
    promoter = await createPrincipalWithToken(t.db, { name: 'promoter', roles: ['data-steward'] });
    compliance = await createPrincipalWithToken(t.db, { name: 'compliance', roles: ['compliance-officer'] });
    risk = await createPrincipalWithToken(t.db, { name: 'risk', roles: ['risk-officer'] });
    for (const p of [ingester, promoter, compliance, risk]) await t.db.query(`UPDATE principals SET attributes = '{"clearance": ["PII", "pii", "pci"]}' WHERE id = $1`, [p.id]);
    const credit = await upload(t, {
      name: 'german-credit',
      body: germanCreditWithConsent(),
      token: ingester.token,
      query: { classification: 'confidential', owner: 'ingester', consentColumn: 'consent', purpose: 'credit scoring', residency: 'EU' },
    });
    expect(credit.statusCode, credit.body).toBe(201);
    const customers = await upload(t, {
      name: 'customers',
      body: CUSTOMERS,
      token: ingester.token,
      query: { classification: 'PII', owner: 'ingester', consentColumn: 'consent', residency: 'EU', residencyColumn: 'country', subjectIdColumn: 'customer_id' },
    });
    expect(customers.statusCode, customers.body).toBe(201);
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => t?.close());

  it('refuses bad input with 400 naming the field, and changes nothing', async () => {
    const before = { changes: await changeEntryCount(t.db), blobs: await blobCount(t) };
    const unknown = await promote(promoter, 'german-credit/versions/1', { overrides: [{ check: 'nope', reason: 'because' }] });
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { errors: Array<{ field: string }> }).errors.map((e) => e.field)).toEqual(['body.overrides.0.check']);
    const passing = await promote(promoter, 'german-credit/versions/1', { overrides: [{ check: 'schema', reason: 'because' }] });
    expect(passing.status).toBe(400);
    expect(JSON.stringify(await passing.json())).toMatch(/body\.overrides\.0\.check.*only a failing blocking check/);
    const shortReason = await promote(promoter, 'german-credit/versions/1', { overrides: [{ check: 'pii', reason: 'x' }] });
    expect(shortReason.status).toBe(400);
    expect(JSON.stringify(await shortReason.json())).toContain('body.overrides.0.reason');
    const extra = await promote(promoter, 'german-credit/versions/1', { force: true });
    expect(extra.status).toBe(400);
    expect(await state('german-credit')).toEqual({ state: 'quarantine', overrides: 0 });
    expect({ changes: await changeEntryCount(t.db), blobs: await blobCount(t) }).toEqual(before);
  });

  it('a version number past the column (int4) → 400 naming params.version on every version route, never a 500; the largest it holds is only unknown', async () => {
    const before = { changes: await changeEntryCount(t.db), blobs: await blobCount(t) };
    const ask = (version: string, [method, rest, body]: [string, string, unknown?]) =>
      fetch(`${base}/api/v1/datasets/german-credit/versions/${version}${rest}`, {
        method,
        headers: { authorization: `Bearer ${promoter.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    const routes: Array<[string, string, unknown?]> = [
      ['GET', ''],
      ['GET', '/checks'],
      ['GET', '/profile'],
      ['GET', '/manifest'],
      ['POST', '/promote'],
      ['POST', '/checks/pii/override', { reason: 'because' }],
    ];
    for (const route of routes) {
      for (const version of ['2147483648', '9007199254740991']) {
        const res = await ask(version, route);
        const problem = (await res.json()) as { errors?: Array<{ field: string }> };
        expect(res.status, `${route.join(' ')} ${version}: ${JSON.stringify(problem)}`).toBe(400);
        expect(problem.errors?.map((e) => e.field)).toEqual(['params.version']);
      }
      const largest = await ask('2147483647', route);
      expect(largest.status, `${route.join(' ')} 2147483647`).toBe(404);
    }
    expect(await state('german-credit')).toEqual({ state: 'quarantine', overrides: 0 });
    expect({ changes: await changeEntryCount(t.db), blobs: await blobCount(t) }).toEqual(before);
  });

  it('the manifest of a version still in quarantine → 409 naming params.version and its state; a version that does not exist stays 404', async () => {
    const manifest = async (who: Principal, path: string) => {
      const res = await fetch(`${base}/api/v1/datasets/${path}/manifest`, { headers: { authorization: `Bearer ${who.token}` } });
      return { status: res.status, type: res.headers.get('content-type') ?? '', problem: (await res.json()) as { code: string; detail: string; errors?: Array<{ field: string; detail: string }> } };
    };
    const quarantined = await manifest(promoter, 'german-credit/versions/1');
    expect(quarantined.status, JSON.stringify(quarantined.problem)).toBe(409);
    expect(quarantined.type).toContain('application/problem+json');
    expect(quarantined.problem).toMatchObject({
      code: 'conflict',
      detail: 'german-credit v1 is not certified yet (state: quarantine): its manifest is signed when it is promoted',
      errors: [{ field: 'params.version', detail: 'not certified yet (state: quarantine)' }],
    });
    expect(await manifest(promoter, 'german-credit/versions/2')).toMatchObject({ status: 404, problem: { code: 'not_found', detail: 'dataset version german-credit@2 not found' } });
    expect(await manifest(promoter, 'no-such-dataset/versions/1')).toMatchObject({ status: 404, problem: { code: 'not_found' } });
    // A reader not cleared for PII learns nothing of the PII dataset's versions: the same 403
    // for the quarantined version as for one that does not exist.
    const uncleared = await createPrincipalWithToken(t.db, { name: 'uncleared', roles: ['data-scientist'] });
    const [existing, missing] = [await manifest(uncleared, 'customers/versions/1'), await manifest(uncleared, 'customers/versions/2')];
    expect(existing).toMatchObject({ status: 403, problem: { code: 'forbidden' } });
    expect({ ...existing.problem, requestId: '', instance: '' }).toEqual({ ...missing.problem, requestId: '', instance: '' });
    expect(existing.status).toBe(missing.status);
  });

  it('refuses self-promotion by the ingester (sod.no-self-approval), and the database refuses it too', async () => {
    const res = await promote(ingester, 'german-credit/versions/1');
    expect(res.status).toBe(403);
    expect(JSON.stringify(await res.json())).toContain('sod.no-self-approval');
    expect(await state('german-credit')).toEqual({ state: 'quarantine', overrides: 0 });
    await expect(
      t.db.query(
        `UPDATE dataset_versions SET state = 'certified', certified_by = ingested_by, certified_at = now(), manifest_sha256 = repeat('a', 64), certified_sha256 = repeat('b', 64), certified_rows = 1
          WHERE id = (SELECT v.id FROM dataset_versions v JOIN datasets d ON d.id = v.dataset_id WHERE d.name = 'german-credit')`,
      ),
    ).rejects.toThrow(/check/i);
  });

  it('promotes German credit: certified Parquet holds exactly the consented rows, the signed manifest verifies, tampering fails', async () => {
    const res = await promote(promoter, 'german-credit/versions/1');
    const body = (await res.json()) as Promotion;
    expect(res.status, JSON.stringify(body)).toBe(200);
    const v = body.version;
    expect(v).toMatchObject({ state: 'certified', rowCount: 1000, certified: { by: promoter.id, rows: 900 } });
    expect(v.exclusions).toEqual([expect.objectContaining({ reason: 'consent_withdrawn', rowCount: 100 })]);

    const [{ n, withdrawn, distinctCredit }] = (await parquetRows(
      t,
      v.certified!.parquetSha256,
      `SELECT count(*)::INTEGER AS n, count(*) FILTER (WHERE consent <> 'true')::INTEGER AS withdrawn, count(DISTINCT credit_amount)::INTEGER AS "distinctCredit" FROM $file`,
    )) as [{ n: number; withdrawn: number; distinctCredit: number }];
    expect({ n, withdrawn }).toEqual({ n: 900, withdrawn: 0 });
    expect(distinctCredit).toBeGreaterThan(500);

    const envelope = (await (await fetch(`${base}/api/v1/datasets/german-credit/versions/1/manifest`, { headers: { authorization: `Bearer ${promoter.token}` } })).json()) as DsseEnvelope;
    expect(envelope).toEqual(body.manifest);
    const key = (keyid: string) => t.keyring.publicKey(keyid);
    const statement = verifyDatasetManifest(envelope, key);
    expect(statement.predicateType).toBe(DATASET_MANIFEST_PREDICATE_TYPE);
    expect(statement.subject.map((s) => s.digest.sha256)).toEqual([v.certified!.parquetSha256, v.snapshot.sha256]);
    expect(statement.predicate).toMatchObject({
      snapshot: { sha256: v.snapshot.sha256, rows: 1000, format: 'csv', delimiter: ',' },
      certified: { sha256: v.certified!.parquetSha256, rows: 900 },
      classification: 'confidential',
      residency: { region: 'EU', column: null },
      consent: { purpose: 'credit scoring', column: 'consent' },
      subjectIdColumn: null,
      owner: ingester.id,
      exclusions: [{ reason: 'consent_withdrawn', rule: 'consent@4', rows: 100 }],
      excludedRows: 100,
      overrides: [],
      ingestedBy: ingester.id,
      certifiedBy: promoter.id,
    });
    expect(statement.predicate.checks.map((c) => c.check)).toEqual(['schema@4', 'row_count@1', 'null_rates@1', 'duplicates@1', 'types@3', 'pii@4', 'consent@5', 'residency@4']);
    expect(statement.predicate.retention.rule).toMatch(/dataset-version/);
    // Each check's evidence, as the API answers it, is bound by its digest: an examiner hashes what the server shows.
    const shown = ((await (await fetch(`${base}/api/v1/datasets/german-credit/versions/1/checks`, { headers: { authorization: `Bearer ${promoter.token}` } })).json()) as {
      checks: Array<{ name: string; version: number; evidence: Record<string, unknown> }>;
    }).checks;
    expect(statement.predicate.checks.map((c) => [c.check, c.evidenceSha256])).toEqual(
      shown.map((c) => [`${c.name}@${c.version}`, createHash('sha256').update(canonicalJson(c.evidence)).digest('hex')]),
    );
    expect(shown.find((c) => c.name === 'consent')?.evidence).toMatchObject({ column: 'consent' });
    // The manifest blob is what the version references.
    const stored = await t.deps.blobs.getBytes(v.certified!.manifestSha256);
    expect(JSON.parse(stored.toString('utf8'))).toEqual(envelope);

    // The README's offline check, with nothing of Assay's: the key from the public-key route, PAE by hand, Ed25519.
    const vkey = (await (await fetch(`${base}/api/v1/audit/public-key`, { headers: { authorization: `Bearer ${t.adminToken}` } })).text()).trim();
    // name+hexkeyid+base64: split at the first two '+', as base64 may hold more.
    const b64 = vkey.split('+').slice(2).join('+');
    const keyBytes = Buffer.from(b64, 'base64');
    expect(keyBytes[0]).toBe(0x01);
    const pub = keyBytes.subarray(1);
    expect(envelope.signatures[0]!.keyid).toBe(createHash('sha256').update(pub).digest('hex'));
    const body64 = Buffer.from(envelope.payload, 'base64');
    const signed = Buffer.concat([Buffer.from(`DSSEv1 ${Buffer.byteLength(envelope.payloadType)} ${envelope.payloadType} ${body64.length} `), body64]);
    const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), pub]);
    expect(cryptoVerify(null, signed, createPublicKey({ key: spki, format: 'der', type: 'spki' }), Buffer.from(envelope.signatures[0]!.sig, 'base64'))).toBe(true);
    const offline = JSON.parse(body64.toString('utf8')) as typeof statement;
    expect(offline.predicate.snapshot.rows - offline.predicate.excludedRows!).toBe(offline.predicate.certified.rows);

    // One byte changed in the signed payload: the signature no longer verifies.
    const payload = Buffer.from(envelope.payload, 'base64');
    payload[payload.length - 2] = (payload[payload.length - 2] ?? 0) ^ 1;
    expect(() => verifyDatasetManifest({ ...envelope, payload: payload.toString('base64') }, key)).toThrow(/does not verify/);

    const [promoted] = await listAuditEntries(t.db, { action: 'dataset.promote', resourceId: v.id });
    expect(promoted).toMatchObject({ actor: { principalId: promoter.id }, outcome: 'succeeded' });
    expect(promoted?.reason).toContain(`parquet sha256:${v.certified!.parquetSha256}`);

    // Lineage raw snapshot → certified version, recorded in the promotion's transaction.
    const graph = (await (
      await fetch(`${base}/api/v1/lineage/graph?node=${v.id}&depth=2&direction=up`, { headers: { authorization: `Bearer ${promoter.token}` } })
    ).json()) as { nodes: Array<{ id: string; type: string }>; edges: Array<{ from: string; to: string; type: string }> };
    const raw = rawSnapshotNodeId(v);
    expect(graph.nodes).toEqual(expect.arrayContaining([expect.objectContaining({ id: raw, type: 'raw_snapshot' }), expect.objectContaining({ id: v.id, type: 'dataset_version' })]));
    expect(graph.edges).toEqual([{ from: raw, to: v.id, type: 'promoted' }]);
  });

  it('a second promotion is refused with 409', async () => {
    const changes = await changeEntryCount(t.db);
    const res = await promote(promoter, 'german-credit/versions/1');
    expect(res.status).toBe(409);
    expect(await changeEntryCount(t.db)).toBe(changes);
  });

  it('a failing blocking check blocks promotion (409 naming it) until an allowed role records an exception', async () => {
    const blobs = await blobCount(t);
    const blocked = await promote(promoter, 'customers/versions/1');
    expect(blocked.status).toBe(409);
    expect(JSON.stringify(await blocked.json())).toMatch(/checks\.pii/);
    expect(await state('customers')).toEqual({ state: 'quarantine', overrides: 0 });
    expect(await blobCount(t)).toBe(blobs);

    const override = (who: Principal) =>
      fetch(`${base}/api/v1/datasets/customers/versions/1/checks/pii/override`, {
        method: 'POST',
        headers: { authorization: `Bearer ${who.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ reason: 'test card numbers from the issuer sandbox, not real PANs' }),
      });
    // Risk officers judge models, not data: no policy lets them waive a data check.
    const byRisk = await override(risk);
    expect(byRisk.status).toBe(403);
    expect(JSON.stringify(await byRisk.json())).toContain('data.override-blocking-checks');
    // The ingester may not waive checks on their own upload, nor inline with a promotion.
    const byIngester = await override(ingester);
    expect(byIngester.status).toBe(403);
    expect(JSON.stringify(await byIngester.json())).toContain('sod.no-self-approval');
    expect(await state('customers')).toEqual({ state: 'quarantine', overrides: 0 });

    const reason = 'sandbox card numbers, confirmed with the issuer';
    const res = await promote(promoter, 'customers/versions/1', { overrides: [{ check: 'pii', reason }] });
    const body = (await res.json()) as Promotion;
    expect(res.status, JSON.stringify(body)).toBe(200);
    // C1 (DE, true) stays; C2 and C3 withdrew, the second C1 gave none, C5's is unrecognised; C3 and C5 are outside the EU.
    expect(body.version.certified).toMatchObject({ by: promoter.id, rows: 1 });
    const rows = await parquetRows(t, body.version.certified!.parquetSha256, 'SELECT customer_id, country, consent FROM $file');
    expect(rows).toEqual([{ customer_id: 'C1', country: 'DE', consent: 'true' }]);

    const overrides = await t.db.query<{ check_name: string; overridden_by: string; reason: string }>(
      'SELECT check_name, overridden_by, reason FROM dataset_check_overrides WHERE version_id = $1',
      [body.version.id],
    );
    expect(overrides.rows).toEqual([{ check_name: 'pii', overridden_by: promoter.id, reason }]);
    const statement = verifyDatasetManifest(body.manifest, (k) => t.keyring.publicKey(k));
    expect(statement.predicate.overrides).toEqual([{ check: 'pii@4', by: promoter.id, at: expect.any(String), reason }]);
    expect(statement.predicate.exclusions.map((e) => `${e.reason}:${e.rows}`).sort()).toEqual(['consent_missing:1', 'consent_unrecognised:1', 'consent_withdrawn:2', 'residency_missing:1', 'residency_outside:1']);
    // C3 (withdrawn, US) and C5 (unrecognised, no country) are excluded for two reasons each: the
    // reasons count 6 rows, the distinct rows left out are 4, and an examiner's sum closes.
    const p = statement.predicate;
    expect(p.excludedRows).toBe(4);
    expect(p.snapshot.rows - p.excludedRows!).toBe(p.certified.rows);
    expect((await listAuditEntries(t.db, { action: 'dataset.promote', resourceId: body.version.id }))[0]?.reason).toContain('1 of 5 rows (4 excluded)');
    const [entry] = await listAuditEntries(t.db, { action: 'dataset.override', resourceId: body.version.id });
    expect(entry).toMatchObject({ actor: { principalId: promoter.id }, outcome: 'succeeded' });
    expect(entry?.reason).toContain(reason);
    expect(await listAuditEntries(t.db, { action: 'dataset.promote', resourceId: body.version.id })).toHaveLength(1);
  });
});

/**
 * A site whose policies let a role fetch manifests but not read versions (an outside verifier):
 * the 409 for a quarantined version would tell it that version exists, so it gets the 404 of a
 * version that does not.
 */
describe.each(eachBackend().map((b) => [b.name, b] as const))('manifests for a caller who may not read versions [%s]', (_name, backend) => {
  let t: TestApp;
  let site: string;
  let verifier: Principal;
  let base: string;
  const get = async (path: string) => {
    const res = await fetch(`${base}/api/v1/datasets/ledger/versions/${path}`, { headers: { authorization: `Bearer ${verifier.token}` } });
    return { status: res.status, problem: (await res.json()) as { code?: string; detail?: string } };
  };
  const manifest = (version: number) => get(`${version}/manifest`);

  beforeAll(async () => {
    site = await mkdtemp(join(tmpdir(), 'assay-site-'));
    writeFileSync(
      join(site, 'verifiers.cedar'),
      `@id("site.manifest-verifiers")\npermit (principal, action == Assay::Action::"getDatasetVersionManifest", resource) when { principal in Assay::Role::"app-client" };\n`,
    );
    t = await createTestApp(backend, { policy: await loadPolicyEngine({ siteDir: site }) });
    const ingester = await createPrincipalWithToken(t.db, { name: 'ingester', roles: ['data-steward'] });
    const promoter = await createPrincipalWithToken(t.db, { name: 'promoter', roles: ['data-steward'] });
    verifier = await createPrincipalWithToken(t.db, { name: 'verifier', roles: ['app-client'], kind: 'service' });
    for (let i = 0; i < 2; i++) {
      const res = await upload(t, { name: 'ledger', body: 'id,amount\n1,10\n2,20\n3,30\n', token: ingester.token, query: { classification: 'internal', owner: 'ingester' } });
      expect(res.statusCode, res.body).toBe(201);
    }
    const promoted = await t.app.inject({ method: 'POST', url: '/api/v1/datasets/ledger/versions/1/promote', headers: { authorization: `Bearer ${promoter.token}` } });
    expect(promoted.statusCode, promoted.body).toBe(200);
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await t?.close();
    if (site) await rm(site, { recursive: true, force: true });
  });

  it('a certified version: its manifest; a quarantined one: the same 404 as a version that does not exist', async () => {
    expect((await manifest(1)).status).toBe(200);
    expect((await get('2')).status).toBe(403);
    const [quarantined, missing] = [await manifest(2), await manifest(3)];
    expect(quarantined).toEqual({ status: 404, problem: expect.objectContaining({ code: 'not_found', detail: 'dataset version ledger@2 not found' }) });
    expect(missing).toEqual({ status: 404, problem: expect.objectContaining({ code: 'not_found', detail: 'dataset version ledger@3 not found' }) });
    expect(Object.keys(quarantined.problem).sort()).toEqual(Object.keys(missing.problem).sort());
  });
});
