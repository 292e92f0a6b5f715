import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAuditEntries } from '../../src/audit/index.js';
import { loadConfig, newId, sha256Hex } from '../../src/core/index.js';
import { ERASURE_REQUEST_ACTION, MAX_ERASURE_REASON, reachedSha256, subjectHash, subjectSalt, type DatasetVersionRecord, type ErasureRequestRecord, type ErasureRequestSummary } from '../../src/data/index.js';
import { recordLineage } from '../../src/lineage/index.js';
import { changeEntryCount, createPrincipalWithToken, createTestApp, type TestApp } from '../support/app.js';
import { eachBackend } from '../support/databases.js';

/**
 * GDPR Art. 17 erasure requests over the real HTTP server on a loopback port: small CSVs are
 * ingested with a subject id column through the real ingest, one is certified by a steward (its
 * lineage node), and model versions are recorded downstream with recordLineage, as the training
 * module will. An erasure request must find every version holding the subject and every model
 * trained on them, at any depth and in any lineage domain, and every dataset version derived from
 * them (feature tables, through the real derived ingest), and keep only the salted hash. Its
 * answers name only what lies in lineage domains the reader is cleared for, and count the rest.
 */

type Principal = { id: string; token: string };
interface Problem {
  detail: string;
  errors?: Array<{ field: string; detail: string }>;
}

const SUBJECT = 'CUST-1001';
const CREDIT_A = 'customer_id,amount\nCUST-1001,10\nCUST-1002,20\nCUST-1003,30\n';
const CREDIT_B = 'customer_id,income\nCUST-1003,100\nCUST-1001,200\n';
const OTHER = 'customer_id,amount\nCUST-2001,5\nCUST-2002,6\n';

/** Every row of the erasure tables and every audit entry, as text: where a leaked id would show. */
async function everythingStored(t: TestApp): Promise<string> {
  const tables = ['erasure_requests', 'erasure_request_hits', 'erasure_request_derived', 'erasure_request_external', 'erasure_request_models', 'model_retrain_flags', 'audit_entries'];
  const parts: string[] = [];
  for (const table of tables) {
    const r = await t.db.query<{ row: string }>(`SELECT to_jsonb(t)::text AS row FROM ${table} t`);
    parts.push(...r.rows.map((x) => x.row));
  }
  return parts.join('\n');
}

describe.each(eachBackend().map((b) => [b.name, b] as const))('erasure requests over HTTP [%s]', (_name, backend) => {
  let t: TestApp;
  let base: string;
  let scientist: Principal;
  let steward: Principal;
  let compliance: Principal;
  let auditor: Principal;
  let clearedCompliance: Principal;
  const versions: Record<string, DatasetVersionRecord> = {};
  const node = { run1: newId('run'), mv1: newId('mv'), run2: newId('run'), mv2: newId('mv'), dep1: newId('dep'), run3: newId('run'), mvOther: newId('mv') };

  async function call<T>(method: 'GET' | 'POST', path: string, token: string, body?: unknown): Promise<{ status: number; json: T; text: string }> {
    const res = await fetch(base + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, json: (text ? JSON.parse(text) : undefined) as T, text };
  }
  const erase = (token: string, body: unknown) => call<ErasureRequestRecord & Problem>('POST', '/api/v1/erasure-requests', token, body);

  /** Ingests `csv` over HTTP as the next version of `name`, by `who`, with more query parameters. */
  async function ingestAs(who: Principal, name: string, csv: string, query: Record<string, string>): Promise<DatasetVersionRecord> {
    const q = new URLSearchParams({ owner: steward.id, ...query });
    const res = await fetch(`${base}/api/v1/datasets/${name}/versions?${q.toString()}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${who.token}`, 'content-type': 'text/csv' },
      body: csv,
    });
    const text = await res.text();
    expect(res.status, text).toBe(201);
    return JSON.parse(text) as DatasetVersionRecord;
  }
  async function promoteAs(who: Principal, name: string, version = 1): Promise<void> {
    const res = await fetch(`${base}/api/v1/datasets/${name}/versions/${version}/promote`, { method: 'POST', headers: { authorization: `Bearer ${who.token}` } });
    expect(res.status, await res.text()).toBe(200);
  }
  const ingest = (name: string, csv: string): Promise<DatasetVersionRecord> =>
    ingestAs(scientist, name, csv, { sourceSystem: 'core-banking', classification: 'internal', subjectIdColumn: 'customer_id' });
  const promote = (name: string): Promise<void> => promoteAs(steward, name);

  beforeAll(async () => {
    t = await createTestApp(backend);
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    scientist = await createPrincipalWithToken(t.db, { name: 'sam-scientist', roles: ['data-scientist'] });
    steward = await createPrincipalWithToken(t.db, { name: 'stella-steward', roles: ['data-steward'] });
    compliance = await createPrincipalWithToken(t.db, { name: 'carla-compliance', roles: ['compliance-officer'] });
    auditor = await createPrincipalWithToken(t.db, { name: 'alex-auditor', roles: ['auditor'] });
    clearedCompliance = await createPrincipalWithToken(t.db, { name: 'pia-compliance', roles: ['compliance-officer'], attributes: { clearance: ['pii'] } });
    versions.a = await ingest('credit-a', CREDIT_A);
    versions.b = await ingest('credit-b', CREDIT_B);
    versions.other = await ingest('credit-other', OTHER);
    // credit-a and credit-other are certified (their lineage nodes exist); credit-b stays in quarantine.
    await promote('credit-a');
    await promote('credit-other');
    // What training will record: credit-a → run → model, fine-tuned into a PII-domain model that
    // nobody here is cleared to see, and deployed; credit-other trains a model of its own.
    await t.db.transaction((tx) =>
      recordLineage(tx, {
        nodes: [
          { id: node.run1, type: 'run', classification: 'internal' },
          { id: node.mv1, type: 'model_version', classification: 'internal', name: 'credit-scorer v1' },
          { id: node.run2, type: 'run', classification: 'internal' },
          { id: node.mv2, type: 'model_version', classification: 'PII' },
          { id: node.dep1, type: 'deployment', classification: 'internal' },
          { id: node.run3, type: 'run', classification: 'internal' },
          { id: node.mvOther, type: 'model_version', classification: 'internal', name: 'other-scorer v1' },
        ],
        edges: [
          { from: versions.a!.id, to: node.run1, type: 'input' },
          { from: node.run1, to: node.mv1, type: 'output' },
          { from: node.mv1, to: node.run2, type: 'input' },
          { from: node.run2, to: node.mv2, type: 'output' },
          { from: node.mv1, to: node.dep1, type: 'deployed' },
          { from: versions.other!.id, to: node.run3, type: 'input' },
          { from: node.run3, to: node.mvOther, type: 'output' },
        ],
      }),
    );
  });
  afterAll(async () => t?.close());

  it('finds every version holding the subject and every model trained on them, flags the models, audits it, keeps only the salted hash', async () => {
    const res = await erase(compliance.token, { subjectId: `  ${SUBJECT} `, reason: 'Art. 17(1)(b): consent withdrawn, ticket DSR-77' });
    expect(res.status, res.text).toBe(201);
    const r = res.json;
    expect(r.id).toMatch(/^era_[0-9A-Z]{26}$/);
    expect(r).toMatchObject({ requestedBy: compliance.id, status: 'open', flagsModels: true, datasetVersionCount: 2, derivedDatasetVersionCount: 0, modelCount: 2, flaggedRetrainRequired: 2 });
    expect(r.datasetVersions).toEqual([
      { dataset: 'credit-a', version: 1, id: versions.a!.id, state: 'certified' },
      { dataset: 'credit-b', version: 1, id: versions.b!.id, state: 'quarantine' },
    ]);
    // The fine-tuned model two runs away is found and flagged although it lies in a domain the
    // officer may not see: counted in the totals and in withheld, not named. The deployment and
    // the other model are not reached.
    expect(r.models).toEqual([{ nodeId: node.mv1, name: 'credit-scorer v1', retrainRequired: true }]);
    expect(r.withheld).toEqual({ datasetVersions: 0, derivedDatasetVersions: 0, externalDatasets: 0, models: 1 });
    // A reader cleared for PII sees it named.
    const cleared = await call<ErasureRequestRecord>('GET', `/api/v1/erasure-requests/${r.id}`, clearedCompliance.token);
    expect(cleared.status, cleared.text).toBe(200);
    expect(cleared.json.models).toEqual([
      { nodeId: node.mv1, name: 'credit-scorer v1', retrainRequired: true },
      { nodeId: node.mv2, retrainRequired: true },
    ]);
    expect(cleared.json.withheld).toEqual({ datasetVersions: 0, derivedDatasetVersions: 0, externalDatasets: 0, models: 0 });

    const flags = await t.db.query<{ model_node_id: string; state: string }>('SELECT model_node_id, state FROM model_retrain_flags WHERE erasure_request_id = $1 ORDER BY model_node_id', [r.id]);
    expect(flags.rows).toEqual([
      { model_node_id: node.mv1, state: 'retrain_required' },
      { model_node_id: node.mv2, state: 'retrain_required' },
    ]);
    const [entry, ...more] = await listAuditEntries(t.db, { action: ERASURE_REQUEST_ACTION, resourceId: r.id });
    expect(more).toEqual([]);
    expect(entry).toMatchObject({ actor: { principalId: compliance.id }, resource: { type: 'erasure_request', id: r.id }, outcome: 'succeeded' });
    expect(entry?.reason).toContain('2 dataset versions');
    expect(entry?.reason).toContain('2 flagged retrain_required');
    expect(entry?.reason).toContain(`reason: Art. 17(1)(b): consent withdrawn, ticket DSR-77; found: dataset version ${versions.a!.id}, dataset version ${versions.b!.id}, model version`);

    // Only the salted hash is kept, the one the subject index holds; neither it nor the id is ever shown.
    const hash = subjectHash(await subjectSalt(t.db), SUBJECT);
    const stored = await t.db.query<{ subject_hash: Buffer }>('SELECT subject_hash FROM erasure_requests WHERE id = $1', [r.id]);
    expect(Buffer.from(stored.rows[0]!.subject_hash).equals(hash)).toBe(true);
    expect((await t.db.query('SELECT 1 FROM dataset_subjects WHERE subject_hash = $1', [hash])).rowCount).toBe(2);
    const everything = await everythingStored(t);
    expect(everything).toContain(r.id);
    expect(everything).not.toContain(SUBJECT);
    for (const shown of [res.text, (await call('GET', `/api/v1/erasure-requests/${r.id}`, auditor.token)).text]) {
      expect(shown).not.toContain(SUBJECT);
      expect(shown).not.toContain(hash.toString('hex'));
      expect(shown).not.toContain(hash.toString('base64'));
      expect(shown).not.toContain('subjectHash');
    }
  });

  it('finds a subject whatever the ASCII case and padding of its id, in the file or in the request', async () => {
    const mixed = await ingest('contacts', 'customer_id,amount\n"\tAnna@Example.com",1\nbob@example.org,2\n');
    // The subject hashes went through a file beside the spooled upload; neither is left behind.
    expect(readdirSync(t.deps.config.paths.tmp).filter((f) => f.startsWith('upload-'))).toEqual([]);
    expect((await t.db.query('SELECT 1 FROM dataset_subjects WHERE version_id = $1', [mixed.id])).rowCount).toBe(2);
    const res = await erase(compliance.token, { subjectId: 'anna@EXAMPLE.com ', reason: 'Art. 17(1)(b): consent withdrawn, ticket DSR-80' });
    expect(res.status, res.text).toBe(201);
    expect(res.json.datasetVersions).toEqual([{ dataset: 'contacts', version: 1, id: mixed.id, state: 'quarantine' }]);
  });

  it('finds a subject whatever white space its id holds within: an IBAN as printed finds the file holding it compact, and a compact one the file printing it', async () => {
    const compact = await ingest('iban-compact', 'customer_id,amount\nDE89370400440532013000,1\nDE12500105170648489890,2\n');
    const printed = await ingest('iban-printed', 'customer_id,amount\n"GB29 NWBK 6016 1331 9268 19",1\n"+49 30 1234567",2\n"+44 20\u00a07946 0958",3\n');
    const found = async (subjectId: string) => {
      const res = await erase(compliance.token, { subjectId, reason: 'Art. 17(1)(b): consent withdrawn, ticket DSR-82' });
      expect(res.status, res.text).toBe(201);
      return res.json.datasetVersions.map((v) => v.id);
    };
    expect(await found('DE89 3704 0044 0532 0130 00')).toEqual([compact.id]);
    expect(await found('GB29NWBK60161331926819')).toEqual([printed.id]);
    expect(await found('+49301234567')).toEqual([printed.id]);
    expect(await found('+49 30 1234567 ')).toEqual([printed.id]);
    expect(await found('+442079460958')).toEqual([printed.id]);
  });

  it('keeps the subject index append-only, every row naming an existing version (database triggers)', async () => {
    const hash = createHash('sha256').update('nobody').digest();
    await expect(t.db.query('INSERT INTO dataset_subjects (subject_hash, version_id) VALUES ($1, $2)', [hash, 'dsv_00000000000000000000000000'])).rejects.toThrow(/must name an existing dataset version/);
    await expect(t.db.query('DELETE FROM dataset_subjects WHERE version_id = $1', [versions.a!.id])).rejects.toThrow(/never changed or deleted/);
    await expect(t.db.query('UPDATE dataset_subjects SET version_id = $1 WHERE version_id = $2', [versions.b!.id, versions.a!.id])).rejects.toThrow(/never changed or deleted/);
    expect((await t.db.query('SELECT 1 FROM dataset_subjects WHERE version_id = $1', [versions.a!.id])).rowCount).toBe(3);
  });

  it('finds a subject in a version indexed before ids were normalised (the id merely trimmed)', async () => {
    const salt = await subjectSalt(t.db);
    const legacy = createHash('sha256').update(`${salt.toString('hex')}:Legacy-ID-7`).digest();
    await t.db.query('INSERT INTO dataset_subjects (subject_hash, version_id) VALUES ($1, $2)', [legacy, versions.other!.id]);
    const res = await erase(compliance.token, { subjectId: ' Legacy-ID-7', reason: 'Art. 17(1)(b): consent withdrawn, ticket DSR-81' });
    expect(res.status, res.text).toBe(201);
    expect(res.json.datasetVersions).toEqual([{ dataset: 'credit-other', version: 1, id: versions.other!.id, state: 'certified' }]);
  });

  it('finds a subject in a version indexed before inner white space was removed: typed as the file spelled it, or an IBAN in any spacing', async () => {
    const salt = await subjectSalt(t.db);
    for (const key of ['+49 40 7654321', 'de44 5001 0517 5407 3249 31', 'zo\u00eb m\u00fcller-7']) {
      const legacy = createHash('sha256').update(`${salt.toString('hex')}:${key}`).digest();
      await t.db.query('INSERT INTO dataset_subjects (subject_hash, version_id) VALUES ($1, $2)', [legacy, versions.other!.id]);
    }
    const hit = [{ dataset: 'credit-other', version: 1, id: versions.other!.id, state: 'certified' }];
    // The last typed decomposed (e + U+0308), as the file did not spell it.
    for (const subjectId of ['+49 40 7654321', ' +49 40 7654321', 'DE44 5001 0517 5407 3249 31', 'DE44500105175407324931', 'Zoe\u0308 Mu\u0308ller-7']) {
      const res = await erase(compliance.token, { subjectId, reason: 'Art. 17(1)(b): consent withdrawn, ticket DSR-83' });
      expect(res.status, res.text).toBe(201);
      expect(res.json.datasetVersions, subjectId).toEqual(hit);
    }
  });

  it('records a subject found nowhere, with zero hits: the request itself is evidence', async () => {
    const res = await erase(steward.token, { subjectId: 'CUST-9999', reason: 'Art. 17(1)(a): no longer necessary' });
    expect(res.status, res.text).toBe(201);
    expect(res.json).toMatchObject({ requestedBy: steward.id, datasetVersionCount: 0, modelCount: 0, flaggedRetrainRequired: 0, datasetVersions: [], models: [] });
    expect((await t.db.query('SELECT 1 FROM erasure_requests WHERE id = $1', [res.json.id])).rowCount).toBe(1);
    expect(await listAuditEntries(t.db, { action: ERASURE_REQUEST_ACTION, resourceId: res.json.id })).toHaveLength(1);
  });

  it('reads requests back: one with what it reached, and the list with counts (auditors too)', async () => {
    const filed = await erase(compliance.token, { subjectId: 'CUST-1003', reason: 'Art. 17(1)(b), ticket DSR-78' });
    expect(filed.status, filed.text).toBe(201);
    const one = await call<ErasureRequestRecord>('GET', `/api/v1/erasure-requests/${filed.json.id}`, auditor.token);
    expect(one.status, one.text).toBe(200);
    expect(one.json).toEqual(filed.json);

    const list = await call<{ erasureRequests: ErasureRequestSummary[]; nextCursor: string | null }>('GET', '/api/v1/erasure-requests?limit=2', auditor.token);
    expect(list.status, list.text).toBe(200);
    expect(list.json.erasureRequests).toHaveLength(2);
    expect(list.json.nextCursor).toBe(list.json.erasureRequests[1]!.id);
    const rest = await call<{ erasureRequests: ErasureRequestSummary[]; nextCursor: string | null }>('GET', `/api/v1/erasure-requests?after=${list.json.nextCursor!}`, auditor.token);
    const all = [...list.json.erasureRequests, ...rest.json.erasureRequests];
    expect(all.map((x) => x.id)).toContain(filed.json.id);
    expect(all.find((x) => x.id === filed.json.id)).toEqual({
      id: filed.json.id,
      requestedBy: compliance.id,
      requestedAt: filed.json.requestedAt,
      reason: 'Art. 17(1)(b), ticket DSR-78',
      status: 'open',
      flagsModels: true,
      datasetVersionCount: 2,
      derivedDatasetVersionCount: 0,
      externalDatasetCount: 0,
      modelCount: 2,
      flaggedRetrainRequired: 2,
    });
    expect((await call('GET', `/api/v1/erasure-requests/era_${'0'.repeat(26)}`, auditor.token)).status).toBe(404);
  });

  it('refuses a bad body with 400 naming the field, and records nothing', async () => {
    const before = { changes: await changeEntryCount(t.db), requests: (await t.db.query('SELECT 1 FROM erasure_requests')).rowCount };
    const blank = await erase(compliance.token, { subjectId: '   ', reason: 'Art. 17(1)(b)' });
    expect(blank.status).toBe(400);
    expect(blank.json.errors?.map((e) => e.field)).toEqual(['body.subjectId']);
    const missing = await erase(compliance.token, { reason: 'Art. 17(1)(b)' });
    expect(missing.status).toBe(400);
    expect(missing.json.errors?.map((e) => e.field)).toEqual(['body.subjectId']);
    const noReason = await erase(compliance.token, { subjectId: SUBJECT, reason: 'x' });
    expect(noReason.status).toBe(400);
    expect(noReason.json.errors?.map((e) => e.field)).toEqual(['body.reason']);
    const extra = await erase(compliance.token, { subjectId: SUBJECT, reason: 'Art. 17(1)(b)', subjectHash: 'ab' });
    expect(extra.status).toBe(400);
    expect(extra.json.errors?.map((e) => e.field)).toEqual(['body.subjectHash']);
    // A reason quoting the id would store it: refused, and the answer does not echo it either.
    const quoting = await erase(compliance.token, { subjectId: SUBJECT, reason: `customer ${SUBJECT.toLowerCase()} asked by letter` });
    expect(quoting.status).toBe(400);
    expect(quoting.json.errors?.map((e) => e.field)).toEqual(['body.reason']);
    expect(quoting.json.errors?.[0]?.detail).toContain('must not contain the subject id');
    // Longer than the audit entry keeps whole after the counts and the digest.
    const long = await erase(compliance.token, { subjectId: SUBJECT, reason: `Art. 17(1)(b) ${'x'.repeat(MAX_ERASURE_REASON)}` });
    expect(long.status).toBe(400);
    expect(long.json.errors?.map((e) => e.field)).toEqual(['body.reason']);
    for (const r of [blank, missing, noReason, extra, quoting, long]) expect(r.text).not.toContain(SUBJECT);
    expect({ changes: await changeEntryCount(t.db), requests: (await t.db.query('SELECT 1 FROM erasure_requests')).rowCount }).toEqual(before);
  });

  it('refuses roles the policy does not admit (403), before anything is recorded', async () => {
    const before = (await t.db.query('SELECT 1 FROM erasure_requests')).rowCount;
    const res = await erase(scientist.token, { subjectId: SUBJECT, reason: 'Art. 17(1)(b)' });
    expect(res.status).toBe(403);
    expect(res.json.detail).toContain('erasure.request-erasure');
    expect((await call('GET', '/api/v1/erasure-requests', scientist.token)).status).toBe(403);
    expect((await erase(auditor.token, { subjectId: SUBJECT, reason: 'Art. 17(1)(b)' })).status).toBe(403);
    expect((await t.db.query('SELECT 1 FROM erasure_requests')).rowCount).toBe(before);
  });

  it('keeps the longest reason whole in the audit entry, after the counts; the ids follow as far as they fit', async () => {
    const reason = 'Art. 17(1)(b), ticket DSR-80: '.padEnd(MAX_ERASURE_REASON, 'x');
    const res = await erase(clearedCompliance.token, { subjectId: SUBJECT, reason });
    expect(res.status, res.text).toBe(201);
    const [entry] = await listAuditEntries(t.db, { action: ERASURE_REQUEST_ACTION, resourceId: res.json.id });
    expect(entry?.reason).toMatch(/^subject found in 2 dataset versions; /);
    expect(entry?.reason).toContain(`; reason: ${reason}`);
    // Then the ids, ending at a whole one.
    expect(entry?.reason).toMatch(/([0-9A-Z]{26}| … and \d+ more)$/);
    expect(entry!.reason!.length).toBeLessThanOrEqual(2000);
  });

  it('with data.erasureFlagsModels off, records the models but flags none', async () => {
    expect(loadConfig({ env: {}, cwd: '/' }).data.erasureFlagsModels).toBe(true);
    t.deps.config.data.erasureFlagsModels = false;
    try {
      const res = await erase(clearedCompliance.token, { subjectId: SUBJECT, reason: 'Art. 17(1)(b), ticket DSR-79' });
      expect(res.status, res.text).toBe(201);
      expect(res.json).toMatchObject({ flagsModels: false, datasetVersionCount: 2, modelCount: 2, flaggedRetrainRequired: 0, withheld: { datasetVersions: 0, derivedDatasetVersions: 0, externalDatasets: 0, models: 0 } });
      expect(res.json.models.map((m) => m.retrainRequired)).toEqual([false, false]);
      expect((await t.db.query('SELECT 1 FROM model_retrain_flags WHERE erasure_request_id = $1', [res.json.id])).rowCount).toBe(0);
      const [entry] = await listAuditEntries(t.db, { action: ERASURE_REQUEST_ACTION, resourceId: res.json.id });
      expect(entry?.reason).toContain('data.erasureFlagsModels is off');
    } finally {
      t.deps.config.data.erasureFlagsModels = true;
    }
  });

  it('names a dataset version in a domain the reader is not cleared for only to a cleared reader, and counts it for the others', async () => {
    const clearedScientist = await createPrincipalWithToken(t.db, { name: 'pat-scientist', roles: ['data-scientist'], attributes: { clearance: ['pii'] } });
    const query = new URLSearchParams({ sourceSystem: 'claims', classification: 'PII', owner: steward.id, subjectIdColumn: 'customer_id' });
    const ingested = await fetch(`${base}/api/v1/datasets/claims-pii/versions?${query.toString()}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${clearedScientist.token}`, 'content-type': 'text/csv' },
      body: 'customer_id,claim\nCUST-5005,1\nCUST-5006,2\n',
    });
    expect(ingested.status, await ingested.text()).toBe(201);

    const res = await erase(compliance.token, { subjectId: 'CUST-5005', reason: 'Art. 17(1)(b), ticket DSR-80' });
    expect(res.status, res.text).toBe(201);
    expect(res.json).toMatchObject({ datasetVersionCount: 1, datasetVersions: [], withheld: { datasetVersions: 1, derivedDatasetVersions: 0, externalDatasets: 0, models: 0 } });
    expect(res.text).not.toContain('claims-pii');
    const cleared = await call<ErasureRequestRecord>('GET', `/api/v1/erasure-requests/${res.json.id}`, clearedCompliance.token);
    expect(cleared.json).toMatchObject({ datasetVersions: [{ dataset: 'claims-pii', version: 1, state: 'quarantine' }], withheld: { datasetVersions: 0, derivedDatasetVersions: 0, externalDatasets: 0, models: 0 } });
    // The request holds the hit whoever reads it.
    expect((await t.db.query('SELECT 1 FROM erasure_request_hits WHERE request_id = $1', [res.json.id])).rowCount).toBe(1);
  });

  describe('derived dataset versions (feature tables)', () => {
    const PATIENT = 'PAT-7001';
    const node = { run: newId('run'), mv: newId('mv') };
    const chain: Record<string, DatasetVersionRecord> = {};
    let pip: Principal;
    let sid: Principal;

    /** A feature table's declaration: built from `from` by some code, its bytes mattering only as a hash. */
    const derivedFrom = (from: string) => ({ sourceSystem: 'ehr', classification: 'PII', derivedFrom: from, codeSha256: sha256Hex(`features from ${from}`), transform: 'features.sql' });

    beforeAll(async () => {
      pip = await createPrincipalWithToken(t.db, { name: 'pip-scientist', roles: ['data-scientist'], attributes: { clearance: ['pii'] } });
      sid = await createPrincipalWithToken(t.db, { name: 'sid-steward', roles: ['data-steward'], attributes: { clearance: ['pii'] } });
      // raw (subject index) → certified → feature table (PII, no subject index) → certified →
      // feature table of that (PII, no subject index) → certified → a model trained on it (PII).
      chain.raw = await ingestAs(scientist, 'admissions', `patient_id,age,stay_days\n${PATIENT},41,3\nPAT-7002,67,9\n`, { sourceSystem: 'ehr', classification: 'internal', subjectIdColumn: 'patient_id' });
      await promoteAs(steward, 'admissions');
      chain.features = await ingestAs(pip, 'admission-features', 'age_band,stay_days\n40,3\n60,9\n', derivedFrom('admissions@1'));
      await promoteAs(sid, 'admission-features');
      chain.features2 = await ingestAs(pip, 'admission-features-2', 'age_band,long_stay\n40,0\n60,1\n', derivedFrom('admission-features@1'));
      await promoteAs(sid, 'admission-features-2');
      // A feature table with a subject index of its own that holds the subject: a hit, not a derived version.
      chain.indexed = await ingestAs(pip, 'admission-contacts', `patient_id,ward\n${PATIENT},A\n`, { ...derivedFrom('admissions@1'), subjectIdColumn: 'patient_id' });
      await t.db.transaction((tx) =>
        recordLineage(tx, {
          nodes: [
            { id: node.run, type: 'run', classification: 'PII' },
            { id: node.mv, type: 'model_version', classification: 'PII', name: 'readmission v1' },
          ],
          edges: [
            { from: chain.features2!.id, to: node.run, type: 'input' },
            { from: node.run, to: node.mv, type: 'output' },
          ],
        }),
      );
    });

    it('finds every dataset version derived from a hit, at any depth, and the model trained on the last; records, audits and withholds them like hits', async () => {
      const res = await erase(compliance.token, { subjectId: PATIENT, reason: 'Art. 17(1)(b): consent withdrawn, ticket DSR-90' });
      expect(res.status, res.text).toBe(201);
      const r = res.json;
      expect(r).toMatchObject({ datasetVersionCount: 2, derivedDatasetVersionCount: 2, modelCount: 1, flaggedRetrainRequired: 1 });
      // The officer is not cleared for PII: the internal raw version is named, the PII feature
      // tables (one of them a hit through its own index) and the model are counted, not named.
      expect(r.datasetVersions).toEqual([{ dataset: 'admissions', version: 1, id: chain.raw!.id, state: 'certified' }]);
      expect(r.derivedDatasetVersions).toEqual([]);
      expect(r.models).toEqual([]);
      expect(r.withheld).toEqual({ datasetVersions: 1, derivedDatasetVersions: 2, externalDatasets: 0, models: 1 });
      expect(res.text).not.toContain('admission-features');

      const cleared = await call<ErasureRequestRecord>('GET', `/api/v1/erasure-requests/${r.id}`, clearedCompliance.token);
      expect(cleared.status, cleared.text).toBe(200);
      expect(cleared.json.datasetVersions).toEqual([
        { dataset: 'admission-contacts', version: 1, id: chain.indexed!.id, state: 'quarantine' },
        { dataset: 'admissions', version: 1, id: chain.raw!.id, state: 'certified' },
      ]);
      expect(cleared.json.derivedDatasetVersions).toEqual([
        { dataset: 'admission-features', version: 1, id: chain.features!.id, state: 'certified' },
        { dataset: 'admission-features-2', version: 1, id: chain.features2!.id, state: 'certified' },
      ]);
      expect(cleared.json.models).toEqual([{ nodeId: node.mv, name: 'readmission v1', retrainRequired: true }]);
      expect(cleared.json.withheld).toEqual({ datasetVersions: 0, derivedDatasetVersions: 0, externalDatasets: 0, models: 0 });

      const rows = await t.db.query<{ version_id: string; state: string }>('SELECT version_id, state FROM erasure_request_derived WHERE request_id = $1 ORDER BY version_id', [r.id]);
      expect(new Set(rows.rows)).toEqual(
        new Set([
          { version_id: chain.features!.id, state: 'certified' },
          { version_id: chain.features2!.id, state: 'certified' },
        ]),
      );
      const [entry, ...more] = await listAuditEntries(t.db, { action: ERASURE_REQUEST_ACTION, resourceId: r.id });
      expect(more).toEqual([]);
      expect(entry?.reason).toContain('2 derived dataset versions downstream; ');
      expect(entry?.reason).toContain('1 model version downstream, ');
      const [d1, d2] = [chain.features!.id, chain.features2!.id].sort();
      expect(entry?.reason).toContain(`derived version ${d1}, derived version ${d2}, model version ${node.mv}`);
      expect(entry?.reason).not.toContain(PATIENT);
    });

    it('keeps the derived versions a request recorded: the database refuses to delete or rewrite them', async () => {
      const before = (await t.db.query('SELECT 1 FROM erasure_request_derived')).rowCount;
      expect(before).toBeGreaterThan(0);
      await expect(t.db.query('DELETE FROM erasure_request_derived')).rejects.toThrow(/never deleted/);
      await expect(t.db.query(`UPDATE erasure_request_derived SET state = 'quarantine'`)).rejects.toThrow(/not changed/);
      await expect(t.db.query('UPDATE erasure_request_derived SET version_id = $1', [chain.raw!.id])).rejects.toThrow(/not changed/);
      expect((await t.db.query('SELECT 1 FROM erasure_request_derived')).rowCount).toBe(before);
    });

    it('reads a request filed before derived versions were looked for: none listed, the count null', async () => {
      // Such a request has no derived_version_count and no erasure_request_derived rows.
      const id = newId('era');
      await t.db.query(
        `INSERT INTO erasure_requests (id, subject_hash, requested_by, requested_at, reason, status, flags_models, dataset_version_count, model_count, flagged_count)
         VALUES ($1, $2, $3, now(), 'Art. 17(1)(b), ticket DSR-12', 'open', true, 1, 0, 0)`,
        [id, createHash('sha256').update('earlier').digest(), compliance.id],
      );
      await t.db.query(`INSERT INTO erasure_request_hits (request_id, version_id, state) VALUES ($1, $2, 'certified')`, [id, chain.raw!.id]);
      const old = await call<ErasureRequestRecord>('GET', `/api/v1/erasure-requests/${id}`, clearedCompliance.token);
      expect(old.status, old.text).toBe(200);
      expect(old.json).toMatchObject({
        datasetVersionCount: 1,
        derivedDatasetVersionCount: null,
        externalDatasetCount: null,
        externalDatasets: [],
        datasetVersions: [{ dataset: 'admissions', version: 1, id: chain.raw!.id, state: 'certified' }],
        derivedDatasetVersions: [],
        models: [],
        withheld: { datasetVersions: 0, derivedDatasetVersions: 0, externalDatasets: 0, models: 0 },
      });
      const list = await call<{ erasureRequests: ErasureRequestSummary[] }>('GET', `/api/v1/erasure-requests?limit=1000`, auditor.token);
      expect(list.json.erasureRequests.find((x) => x.id === id)).toMatchObject({ datasetVersionCount: 1, derivedDatasetVersionCount: null });
    });
  });

  describe('OpenLineage datasets built outside Assay (Spark feature tables)', () => {
    const BORROWER = 'BOR-5001';
    const runId = (n: number): string => `01890a5d-ac96-774b-b0a4-6c2b7e0c8a0${n}`;
    /** A RunEvent of a job outside Assay reading `input` and writing `output`, as Spark's OpenLineage listener sends it. */
    const sparkEvent = (n: number, input: { namespace: string; name: string }, output: { namespace: string; name: string; classification?: string }) => ({
      eventType: 'COMPLETE',
      eventTime: '2026-12-06T10:00:00.000Z',
      producer: 'https://github.com/OpenLineage/OpenLineage/tree/1.24.2/integration/spark',
      schemaURL: 'https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent',
      run: { runId: runId(n) },
      job: { namespace: 'spark://risk-cluster', name: `features_${n}` },
      inputs: [input],
      outputs: [
        {
          namespace: output.namespace,
          name: output.name,
          ...(output.classification
            ? { facets: { tags: { _producer: 'https://example.com/spark', _schemaURL: 'https://openlineage.io/spec/facets/1-0-0/TagsDatasetFacet.json#/$defs/TagsDatasetFacet', tags: [{ key: 'classification', value: output.classification }] } } }
            : {}),
        },
      ],
    });
    let loans: DatasetVersionRecord;
    /** The orchestrator's lineage sender: it tags tables PII, so it is cleared for PII. */
    let spark: { id: string; token: string };
    const nodeOf = async (namespace: string, name: string): Promise<string> =>
      (await t.db.query<{ id: string }>(`SELECT id FROM lineage_nodes WHERE type = 'external_dataset' AND namespace = $1 AND name = $2`, [namespace, name])).rows[0]!.id;

    beforeAll(async () => {
      loans = await ingestAs(scientist, 'loans', `borrower_id,amount\n${BORROWER},900\nBOR-5002,1200\n`, { sourceSystem: 'core-banking', classification: 'internal', subjectIdColumn: 'borrower_id' });
      await promoteAs(steward, 'loans');
      // Spark reads the certified loans (Assay's namespace and the dataset's name, as Assay's own
      // events call it) into a feature table, and a second job scores that into a PII table;
      // a third job reads a table that has nothing to do with the subject.
      spark = await createPrincipalWithToken(t.db, { name: 'spark-lineage', roles: ['data-steward'], kind: 'service', attributes: { clearance: ['pii'] } });
      const res = await call<Problem>('POST', '/api/v1/lineage', spark.token, [
        sparkEvent(1, { namespace: 'assay', name: 'loans' }, { namespace: 's3://features', name: 'loan_features' }),
        sparkEvent(2, { namespace: 's3://features', name: 'loan_features' }, { namespace: 'postgres://dwh:5432', name: 'risk.loan_scores', classification: 'PII' }),
        sparkEvent(3, { namespace: 's3://features', name: 'unrelated' }, { namespace: 's3://features', name: 'unrelated_features' }),
      ]);
      expect(res.status, res.text).toBe(201);
    });

    it('promotion links the certified version to the dataset as OpenLineage names it, so outside jobs reading it are downstream', async () => {
      const features = await nodeOf('s3://features', 'loan_features');
      const up = await call<{ nodes: Array<{ id: string; type: string }> }>('GET', `/api/v1/lineage/graph?node=${features}&direction=up&depth=5`, clearedCompliance.token);
      expect(up.status, up.text).toBe(200);
      expect(up.json.nodes.map((n) => n.id)).toEqual(expect.arrayContaining([loans.id, await nodeOf('assay', 'loans')]));
      expect(up.json.nodes.find((n) => n.id === loans.id)).toMatchObject({ type: 'dataset_version' });
    });

    it('finds the OpenLineage datasets built from a hit, at any depth; records, audits and withholds them like versions', async () => {
      const res = await erase(compliance.token, { subjectId: BORROWER, reason: 'Art. 17(1)(a): no longer necessary, ticket DSR-55' });
      expect(res.status, res.text).toBe(201);
      const r = res.json;
      const features = await nodeOf('s3://features', 'loan_features');
      const scores = await nodeOf('postgres://dwh:5432', 'risk.loan_scores');
      expect(r).toMatchObject({ datasetVersionCount: 1, externalDatasetCount: 2 });
      // Assay's own dataset under its namespace is the hit itself; the unrelated table is not downstream.
      expect(r.externalDatasets).toEqual([{ nodeId: features, namespace: 's3://features', name: 'loan_features' }]);
      expect(r.withheld).toMatchObject({ externalDatasets: 1 });
      expect(res.text).not.toContain('loan_scores');

      const cleared = await call<ErasureRequestRecord>('GET', `/api/v1/erasure-requests/${r.id}`, clearedCompliance.token);
      expect(cleared.json.externalDatasets).toEqual([
        { nodeId: scores, namespace: 'postgres://dwh:5432', name: 'risk.loan_scores' },
        { nodeId: features, namespace: 's3://features', name: 'loan_features' },
      ]);
      expect(cleared.json.withheld).toMatchObject({ externalDatasets: 0 });
      const [entry] = await listAuditEntries(t.db, { action: ERASURE_REQUEST_ACTION, resourceId: r.id });
      expect(entry?.reason).toContain('2 external datasets downstream; ');
      expect(entry?.reason).toContain(`external dataset ${features}`);
      expect(entry?.reason).toContain(`external dataset ${scores}`);

      await expect(t.db.query('DELETE FROM erasure_request_external')).rejects.toThrow(/never deleted/);
      await expect(t.db.query('UPDATE erasure_request_external SET node_id = $1', [features])).rejects.toThrow(/not changed/);
      const list = await call<{ erasureRequests: ErasureRequestSummary[] }>('GET', `/api/v1/erasure-requests?limit=1000`, auditor.token);
      expect(list.json.erasureRequests.find((x) => x.id === r.id)).toMatchObject({ externalDatasetCount: 2 });
    });

    it("finds a table an outside job wrote under a namespace Assay used before, beside a version's own dataset there; leaves out only the versions' own datasets", async () => {
      const subject = 'BOR-7001';
      const deposits = await ingestAs(scientist, 'deposits', `borrower_id,amount\n${subject},50\nBOR-7002,60\n`, { sourceSystem: 'core-banking', classification: 'internal', subjectIdColumn: 'borrower_id' });
      await promoteAs(steward, 'deposits');
      // The version is also linked to its dataset under a namespace Assay used before (as the
      // server's start links versions under a changed lineage.namespace), and Spark copies the
      // certified deposits into an extract it names under that old namespace (Assay's current
      // one it may only read).
      await t.db.transaction((tx) => recordLineage(tx, { nodes: [], edges: [{ from: deposits.id, to: { kind: 'dataset', namespace: 'assay-old', name: 'deposits' }, type: 'derived' }] }));
      const res = await call<Problem>('POST', '/api/v1/lineage', steward.token, sparkEvent(4, { namespace: 'assay', name: 'deposits' }, { namespace: 'assay-old', name: 'deposits_marketing_extract' }));
      expect(res.status, res.text).toBe(201);

      const r = await erase(compliance.token, { subjectId: subject, reason: 'Art. 17(1)(a): no longer necessary, ticket DSR-56' });
      expect(r.status, r.text).toBe(201);
      const extract = await nodeOf('assay-old', 'deposits_marketing_extract');
      expect(r.json).toMatchObject({ datasetVersionCount: 1, externalDatasetCount: 1 });
      expect(r.json.externalDatasets).toEqual([{ nodeId: extract, namespace: 'assay-old', name: 'deposits_marketing_extract' }]);
    });

    it('withholds a table a reader reaches only through nodes it may not see, as the lineage graph does, and names one it also reaches another way', async () => {
      const subject = 'BOR-9001';
      const transfers = await ingestAs(scientist, 'transfers', `borrower_id,amount\n${subject},40\nBOR-9002,30\n`, { sourceSystem: 'core-banking', classification: 'internal', subjectIdColumn: 'borrower_id' });
      await promoteAs(steward, 'transfers');
      // A job tagged PII (so are its runs) enriches the certified transfers into two untagged
      // (internal) tables; an untagged job copies them into the second one as well.
      const piiJobTags = { _producer: 'https://example.com/spark', _schemaURL: 'https://openlineage.io/spec/facets/1-0-0/TagsJobFacet.json#/$defs/TagsJobFacet', tags: [{ key: 'pii', value: 'true' }] };
      const input = { namespace: 'assay', name: 'transfers' };
      const enrich = sparkEvent(6, input, { namespace: 's3://enriched', name: 'transfers_enriched' });
      const sent = await call<Problem>('POST', '/api/v1/lineage', spark.token, [
        { ...enrich, job: { namespace: 'spark://risk-cluster', name: 'enrich_transfers', facets: { tags: piiJobTags } }, outputs: [...enrich.outputs, { namespace: 's3://enriched', name: 'transfers_daily' }] },
        sparkEvent(7, input, { namespace: 's3://enriched', name: 'transfers_daily' }),
      ]);
      expect(sent.status, sent.text).toBe(201);
      const onlyBehindPii = await nodeOf('s3://enriched', 'transfers_enriched');
      const bothWays = await nodeOf('s3://enriched', 'transfers_daily');

      // The officer without PII clearance: the lineage graph from the version does not show the
      // table behind the PII run, and the erasure answer names it neither, over HTTP and read back.
      const graph = await call<{ nodes: Array<{ id: string }>; withheld: number }>('GET', `/api/v1/lineage/graph?node=${transfers.id}&direction=down&depth=5`, compliance.token);
      expect(graph.status, graph.text).toBe(200);
      expect(graph.json.nodes.map((n) => n.id)).toContain(bothWays);
      expect(graph.json.nodes.map((n) => n.id)).not.toContain(onlyBehindPii);
      const res = await erase(compliance.token, { subjectId: subject, reason: 'Art. 17(1)(a): no longer necessary, ticket DSR-58' });
      expect(res.status, res.text).toBe(201);
      const r = res.json;
      expect(r).toMatchObject({ datasetVersionCount: 1, externalDatasetCount: 2 });
      expect(r.externalDatasets).toEqual([{ nodeId: bothWays, namespace: 's3://enriched', name: 'transfers_daily' }]);
      expect(r.withheld).toEqual({ datasetVersions: 0, derivedDatasetVersions: 0, externalDatasets: 1, models: 0 });
      expect(res.text).not.toContain('transfers_enriched');
      expect(res.text).not.toContain(onlyBehindPii);
      for (const reader of [compliance, auditor]) {
        const back = await call<ErasureRequestRecord>('GET', `/api/v1/erasure-requests/${r.id}`, reader.token);
        expect(back.status, back.text).toBe(200);
        expect(back.json.externalDatasets).toEqual(r.externalDatasets);
        expect(back.json.withheld).toEqual(r.withheld);
        expect(back.text).not.toContain('transfers_enriched');
      }

      // An officer cleared for PII sees both named, whoever filed the request.
      const cleared = await call<ErasureRequestRecord>('GET', `/api/v1/erasure-requests/${r.id}`, clearedCompliance.token);
      expect(cleared.status, cleared.text).toBe(200);
      expect(cleared.json.externalDatasets).toEqual([
        { nodeId: bothWays, namespace: 's3://enriched', name: 'transfers_daily' },
        { nodeId: onlyBehindPii, namespace: 's3://enriched', name: 'transfers_enriched' },
      ]);
      expect(cleared.json.withheld).toEqual({ datasetVersions: 0, derivedDatasetVersions: 0, externalDatasets: 0, models: 0 });
      const filedCleared = await erase(clearedCompliance.token, { subjectId: subject, reason: 'Art. 17(1)(a): no longer necessary, ticket DSR-59' });
      expect(filedCleared.status, filedCleared.text).toBe(201);
      expect(filedCleared.json.externalDatasets.map((x) => x.nodeId)).toEqual([bothWays, onlyBehindPii]);
      expect(filedCleared.json.withheld.externalDatasets).toBe(0);

      // The audit entry is evidence for its own readers, not a reader's view: it names every table
      // reached, as it names hits in any domain, whoever filed the request.
      const [entry] = await listAuditEntries(t.db, { action: ERASURE_REQUEST_ACTION, resourceId: r.id });
      expect(entry?.reason).toContain(`external dataset ${onlyBehindPii}`);
      expect(entry?.reason).toContain(`external dataset ${bothWays}`);
    });

    it('places a run reading a certified dataset downstream of the version current at its event time, or of the one its version facet names; a read it cannot place stays downstream of every version', async () => {
      const inFirst = 'ACC-3001';
      const inSecond = 'ACC-3002';
      const options = { sourceSystem: 'core-banking', classification: 'internal', subjectIdColumn: 'borrower_id' };
      const v1 = await ingestAs(scientist, 'accounts', `borrower_id,amount\n${inFirst},1\nACC-3009,2\n`, options);
      await promoteAs(steward, 'accounts');
      const v2 = await ingestAs(scientist, 'accounts', `borrower_id,amount\n${inSecond},3\nACC-3009,4\n`, options);
      await promoteAs(steward, 'accounts', 2);
      const certifiedAt = async (id: string): Promise<string> =>
        new Date((await t.db.query<{ certified_at: string }>('SELECT certified_at FROM dataset_versions WHERE id = $1', [id])).rows[0]!.certified_at).toISOString();
      const [t1, t2] = [await certifiedAt(v1.id), await certifiedAt(v2.id)];
      expect(t1 < t2).toBe(true);
      const version1 = { version: { _producer: 'https://example.com/spark', _schemaURL: 'https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet', datasetVersion: '1' } };
      const read = (k: number, at: string, output: string, facets?: Record<string, unknown>) => ({
        ...sparkEvent(k, { namespace: 'assay', name: 'accounts', ...(facets ? { facets } : {}) }, { namespace: 's3://accounts', name: output }),
        eventTime: at,
        run: { runId: `01890a5d-ac96-774b-b0a4-6c2b7e0c8b1${k}` },
      });
      const sent = await call<Problem>('POST', '/api/v1/lineage', steward.token, [
        // While v1 was current; once v2 was; long before either (a clock or a replay Assay cannot
        // place); and after v2, naming v1 with the version facet.
        read(1, t1, 'read_while_v1'),
        read(2, t2, 'read_while_v2'),
        read(3, '2000-01-01T00:00:00.000Z', 'read_unplaced'),
        read(4, t2, 'pinned_v1', version1),
        // One run started while v1 was current and completed once v2 was: it read at its start.
        { ...read(5, t1, 'started_while_v1'), eventType: 'START' },
        read(5, t2, 'started_while_v1'),
      ]);
      expect(sent.status, sent.text).toBe(201);

      // The graph draws each read from the version read.
      const down = await call<{ nodes: Array<{ name?: string }> }>('GET', `/api/v1/lineage/graph?node=${v1.id}&direction=down&depth=4`, clearedCompliance.token);
      expect(down.status, down.text).toBe(200);
      const names = down.json.nodes.map((n) => n.name).filter((n) => n?.startsWith('read_') || n?.endsWith('_v1')).sort();
      expect(names).toEqual(['pinned_v1', 'read_unplaced', 'read_while_v1', 'started_while_v1']);

      // An erasure request for a subject of v1 alone reaches what was built from v1 (and the read
      // that cannot say), not what was built from v2 alone; and the other way round.
      const reached = async (subjectId: string, ticket: string): Promise<string[]> => {
        const r = await erase(clearedCompliance.token, { subjectId, reason: `Art. 17(1)(a): no longer necessary, ticket ${ticket}` });
        expect(r.status, r.text).toBe(201);
        return r.json.externalDatasets.map((x) => x.name);
      };
      expect(await reached(inFirst, 'DSR-61')).toEqual(['pinned_v1', 'read_unplaced', 'read_while_v1', 'started_while_v1']);
      expect(await reached(inSecond, 'DSR-62')).toEqual(['read_unplaced', 'read_while_v2']);
    });

    it('keeps the reason, the counts and a digest of everything reached whole in the audit entry, however many tables a request reaches', async () => {
      const subject = 'BOR-8001';
      await ingestAs(scientist, 'savings', `borrower_id,amount\n${subject},70\nBOR-8002,80\n`, { sourceSystem: 'core-banking', classification: 'internal', subjectIdColumn: 'borrower_id' });
      await promoteAs(steward, 'savings');
      // One Spark job fans the certified savings out into 120 tables: their ids alone exceed what an entry holds.
      const fan = { ...sparkEvent(5, { namespace: 'assay', name: 'savings' }, { namespace: 's3://fan', name: 'unused' }), outputs: Array.from({ length: 120 }, (_, i) => ({ namespace: 's3://fan', name: `savings_part_${i}` })) };
      const sent = await call<Problem>('POST', '/api/v1/lineage', steward.token, fan);
      expect(sent.status, sent.text).toBe(201);

      const reason = `Art. 17(1)(a): no longer necessary, ticket DSR-57. ${'Letter of the data subject, read and checked. '.repeat(40)}`.slice(0, MAX_ERASURE_REASON).trim();
      const r = await erase(compliance.token, { subjectId: subject, reason });
      expect(r.status, r.text).toBe(201);
      expect(r.json).toMatchObject({ datasetVersionCount: 1, externalDatasetCount: 120, modelCount: 0, flaggedRetrainRequired: 0 });
      const [entry] = await listAuditEntries(t.db, { action: ERASURE_REQUEST_ACTION, resourceId: r.json.id });
      expect(entry?.reason).toContain('subject found in 1 dataset version; 0 derived dataset versions downstream; 120 external datasets downstream; 0 model versions downstream, 0 flagged retrain_required');
      expect(entry?.reason).toContain(`; reason: ${reason}; `);
      // The digest commits to every table, also those the entry has no room to name.
      const cleared = await call<ErasureRequestRecord>('GET', `/api/v1/erasure-requests/${r.json.id}`, clearedCompliance.token);
      expect(cleared.json.externalDatasets).toHaveLength(120);
      expect(entry?.reason).toContain(`reached sha256:${reachedSha256(cleared.json)}`);
      expect(entry?.reason?.length).toBeLessThanOrEqual(2000);
    });
  });

  it('keeps the evidence: the database refuses to delete or rewrite requests, hits and flags', async () => {
    await expect(t.db.query('DELETE FROM erasure_requests')).rejects.toThrow(/never deleted/);
    await expect(t.db.query('DELETE FROM model_retrain_flags')).rejects.toThrow(/never deleted/);
    await expect(t.db.query('DELETE FROM erasure_request_hits')).rejects.toThrow(/never deleted/);
    await expect(t.db.query('UPDATE erasure_requests SET reason = $1', ['rewritten'])).rejects.toThrow(/not changed/);
    await expect(t.db.query(`UPDATE model_retrain_flags SET flagged_at = now()`)).rejects.toThrow(/not changed/);
    expect((await t.db.query('SELECT 1 FROM erasure_requests')).rowCount).toBeGreaterThan(0);
    // Only the status moves, once, from open (as the later erasure and retraining workflows will).
    const [first] = (await t.db.query<{ id: string }>('SELECT id FROM erasure_requests ORDER BY id LIMIT 1')).rows;
    await t.db.query(`UPDATE erasure_requests SET status = 'completed' WHERE id = $1`, [first!.id]);
    await expect(t.db.query(`UPDATE erasure_requests SET status = 'open' WHERE id = $1`, [first!.id])).rejects.toThrow(/not changed/);
  });
});
