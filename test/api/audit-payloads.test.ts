import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAuditEntries, recordPendingAuditPayload, sequenceBatch, storeAuditPayload, type AuditPayload, type LegalHold, type PurgeReport } from '../../src/audit/index.js';
import { DEFAULT_RETENTION, type Clock } from '../../src/core/index.js';
import { changeEntryCount, createPrincipalWithToken, createTestApp, decisionsOf, type TestApp } from '../support/app.js';
import { eachBackend } from '../support/databases.js';
import { appendInferenceEntry } from '../support/inference-entry.js';

const PROBLEM = 'application/problem+json';
const at = (iso: string): Clock => ({ now: () => new Date(iso) });
type Who = { id: string; token: string };

describe.each(eachBackend().map((b) => [b.name, b] as const))('audit payload API [%s]', (_name, backend) => {
  let t: TestApp;
  let compliance: Who;
  let security: Who;
  let auditor: Who;
  let scientist: Who;
  let admin: Who;
  let n = 0;

  const call = (method: 'GET' | 'POST', url: string, who: Who, body?: unknown) =>
    t.app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${who.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });

  /** A payload and the entry referencing it, stored at `storedAt`. */
  async function seed(storedAt: string, options: { subjectId?: string; payloadClass?: string } = {}): Promise<{ payload: AuditPayload; body: string }> {
    const body = `{"messages":[{"role":"user","content":"patient ${++n} has a rash"}]}`;
    const pending = await recordPendingAuditPayload({ db: t.db, retention: DEFAULT_RETENTION }, {
      class: options.payloadClass ?? 'inference',
      mediaType: 'application/json',
      bytes: body,
      ...(options.subjectId ? { subjectId: options.subjectId } : {}),
    });
    const payload = await t.db.transaction(async (tx) => {
      const p = await storeAuditPayload(tx, { blobs: t.auditPayloads, retention: DEFAULT_RETENTION, clock: at(storedAt) }, pending);
      await appendInferenceEntry(tx, { inferenceId: `inf_${n}`, requestSha256: p.sha256 });
      return p;
    });
    return { payload, body };
  }

  beforeAll(async () => {
    t = await createTestApp(backend);
    admin = { id: t.adminId, token: t.adminToken };
    compliance = await createPrincipalWithToken(t.db, { name: 'cora-compliance', roles: ['compliance-officer'] });
    security = await createPrincipalWithToken(t.db, { name: 'sid-security', roles: ['security-officer'] });
    auditor = await createPrincipalWithToken(t.db, { name: 'ada-auditor', roles: ['auditor'] });
    scientist = await createPrincipalWithToken(t.db, { name: 'sam-scientist', roles: ['data-scientist'] });
  });
  afterAll(async () => t?.close());

  it('serves payload bytes only to compliance and security officers, recording every read and every refusal', async () => {
    const { payload, body } = await seed('2025-01-01T00:00:00.000Z');
    const url = `/api/v1/audit/payloads/${payload.sha256}/content`;
    for (const who of [auditor, admin, scientist]) {
      const res = await call('GET', url, who);
      expect(res.statusCode).toBe(403);
      expect(res.headers['content-type']).toContain(PROBLEM);
      expect(res.body).not.toContain('rash');
    }
    const denials = await decisionsOf(t.db, auditor.id, 'denied');
    expect(denials.map((e) => e.resource.id)).toContain('readAuditPayload');
    expect(await listAuditEntries(t.db, { action: 'audit.payload.read', resourceId: payload.sha256 })).toEqual([]);

    for (const who of [compliance, security]) {
      const res = await call('GET', `${url}?reason=complaint%2042`, who);
      expect(res.statusCode).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      const got = res.json<{ contentBase64: string; mediaType: string; size: number }>();
      expect(Buffer.from(got.contentBase64, 'base64').toString()).toBe(body);
      expect(got).toMatchObject({ mediaType: 'application/json', size: Buffer.byteLength(body) });
    }
    const reads = await listAuditEntries(t.db, { action: 'audit.payload.read', resourceId: payload.sha256 });
    expect(reads.map((e) => e.actor.principalId)).toEqual([compliance.id, security.id]);
    expect(reads[0]).toMatchObject({ reason: 'complaint 42', payloadRefs: [{ name: 'read', sha256: payload.sha256 }] });
  });

  it('shows records (not bytes) to auditors too, with the holds covering them; bad and unknown hashes are 400 and 404', async () => {
    const { payload } = await seed('2025-02-01T00:00:00.000Z', { subjectId: 'subj-api' });
    const rec = await call('GET', `/api/v1/audit/payloads/${payload.sha256}`, auditor);
    expect(rec.statusCode).toBe(200);
    expect(rec.json()).toMatchObject({ sha256: payload.sha256, class: 'inference', state: 'stored', subjectIds: ['subj-api'], legalHolds: [] });
    expect(rec.body).not.toContain('rash');
    expect((await call('GET', `/api/v1/audit/payloads/${payload.sha256}`, scientist)).statusCode).toBe(403);

    const list = await call('GET', '/api/v1/audit/payloads?subject=subj-api', auditor);
    expect(list.json<{ payloads: AuditPayload[] }>().payloads.map((p) => p.sha256)).toEqual([payload.sha256]);

    const bad = await call('GET', '/api/v1/audit/payloads/XYZ', auditor);
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors).toEqual([expect.objectContaining({ field: 'params.sha256' })]);
    const missing = await call('GET', `/api/v1/audit/payloads/${'0'.repeat(64)}`, auditor);
    expect(missing.statusCode).toBe(404);
    expect(missing.headers['content-type']).toContain(PROBLEM);
  });

  it('places holds (officers, administrators), lists them (auditors too), releases them (compliance only)', async () => {
    const placed = await call('POST', '/api/v1/audit/holds', admin, { caseId: 'CASE-API', reason: 'incident 9', scope: { subjectId: 'subj-hold' } });
    expect(placed.statusCode).toBe(201);
    const hold = placed.json<LegalHold>();
    expect(hold).toMatchObject({ caseId: 'CASE-API', active: true, placedBy: admin.id, scope: { subjectId: 'subj-hold' } });
    expect((await call('POST', '/api/v1/audit/holds', scientist, { caseId: 'X', reason: 'y' })).statusCode).toBe(403);

    const listed = await call('GET', '/api/v1/audit/holds?active=true', auditor);
    expect(listed.json<{ holds: LegalHold[] }>().holds.map((h) => h.id)).toContain(hold.id);
    expect((await call('GET', `/api/v1/audit/holds/${hold.id}`, security)).json()).toMatchObject({ id: hold.id });
    expect((await call('GET', '/api/v1/audit/holds/hold_01J00000000000000000000000', auditor)).statusCode).toBe(404);

    // An administrator can preserve but not release: releasing lets evidence be destroyed.
    expect((await call('POST', `/api/v1/audit/holds/${hold.id}/release`, admin, { reason: 'mine' })).statusCode).toBe(403);
    const released = await call('POST', `/api/v1/audit/holds/${hold.id}/release`, compliance, { reason: 'incident closed' });
    expect(released.statusCode).toBe(200);
    expect(released.json()).toMatchObject({ active: false, releasedBy: compliance.id });
    const twice = await call('POST', `/api/v1/audit/holds/${hold.id}/release`, compliance, { reason: 'again' });
    expect(twice.statusCode).toBe(409);
    expect(twice.json()).toMatchObject({ code: 'conflict', errors: [{ field: 'params.id' }] });
  });

  it.each([
    ['an unknown class', { caseId: 'C', reason: 'r', scope: { classes: ['gossip'] } }, 'body.scope.classes.0'],
    ['an unknown scope field', { caseId: 'C', reason: 'r', scope: { colour: 'red' } }, 'body.scope.colour'],
    ['a bad time', { caseId: 'C', reason: 'r', scope: { storedFrom: 'yesterday' } }, 'body.scope.storedFrom'],
    ['no case', { reason: 'r' }, 'body.caseId'],
  ])('refuses a hold with %s: 400 naming the field, nothing written', async (_label, body, field) => {
    const before = (await t.db.query('SELECT id FROM audit_legal_holds')).rowCount;
    const res = await call('POST', '/api/v1/audit/holds', compliance, body);
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toContain(PROBLEM);
    expect(res.json<{ errors: Array<{ field: string }> }>().errors.map((e) => e.field)).toContain(field);
    expect((await t.db.query('SELECT id FROM audit_legal_holds')).rowCount).toBe(before);
  });

  it('erases (compliance only): 409 naming the hold while held and nothing changes; afterwards bytes are gone and the log verifies', async () => {
    const { payload } = await seed('2024-01-01T00:00:00.000Z', { subjectId: 'subj-erase' });
    const hold = (await call('POST', '/api/v1/audit/holds', security, { caseId: 'CASE-E', reason: 'breach', scope: { subjectId: 'subj-erase' } })).json<LegalHold>();
    const url = `/api/v1/audit/payloads/${payload.sha256}/erase`;

    expect((await call('POST', url, admin, { reason: 'DSR-1' })).statusCode).toBe(403);
    expect((await call('POST', url, auditor, { reason: 'DSR-1' })).statusCode).toBe(403);
    const held = await call('POST', url, compliance, { reason: 'DSR-1' });
    expect(held.statusCode).toBe(409);
    expect(held.json().detail).toContain(hold.id);
    expect(held.json().detail).toContain('CASE-E');
    expect(await t.auditPayloads.has(payload.sha256)).toBe(true);
    expect((await call('GET', `/api/v1/audit/payloads/${payload.sha256}`, auditor)).json()).toMatchObject({
      state: 'stored',
      legalHolds: [{ id: hold.id, caseId: 'CASE-E' }],
    });

    const noReason = await call('POST', url, compliance, {});
    expect(noReason.statusCode).toBe(400);
    expect(noReason.json().errors).toEqual([expect.objectContaining({ field: 'body.reason' })]);

    await call('POST', `/api/v1/audit/holds/${hold.id}/release`, compliance, { reason: 'breach closed' });
    const erased = await call('POST', url, compliance, { reason: 'DSR-1' });
    expect(erased.statusCode).toBe(200);
    expect(erased.json()).toMatchObject({ sha256: payload.sha256, state: 'erased', erasedBy: compliance.id });
    expect(await t.auditPayloads.has(payload.sha256)).toBe(false);
    const read = await call('GET', `/api/v1/audit/payloads/${payload.sha256}/content`, compliance);
    expect(read.statusCode).toBe(404);
    expect(read.json().detail).toContain('erased');

    for (;;) if ((await sequenceBatch(t.db, { key: t.keyring.active() })).sequenced === 0) break;
    expect((await call('GET', '/api/v1/audit/verify', auditor)).json()).toMatchObject({ ok: true });
  });

  it('refuses erasure before the class minimum without overrideMinimum', async () => {
    const { payload } = await seed(new Date().toISOString(), { payloadClass: 'lifecycle_evidence' });
    const url = `/api/v1/audit/payloads/${payload.sha256}/erase`;
    const early = await call('POST', url, compliance, { reason: 'DSR-2' });
    expect(early.statusCode).toBe(409);
    expect(early.json().errors).toEqual([expect.objectContaining({ field: 'body.overrideMinimum' })]);
    expect(await t.auditPayloads.has(payload.sha256)).toBe(true);
    const forced = await call('POST', url, compliance, { reason: 'DSR-2, court order 17', overrideMinimum: true });
    expect(forced.statusCode).toBe(200);
    expect(forced.json().state).toBe('erased');
  });

  it('shows the retention policy', async () => {
    const res = await call('GET', '/api/v1/audit/retention', auditor);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      classes: {
        inference: { minimum: 'P12M', hot: 'P3M', maximum: 'P12M' },
        lifecycle_evidence: { minimum: 'P10Y', hot: 'P10Y', maximum: 'P10Y' },
      },
      purgeIntervalSeconds: 3600,
    });
    expect((await call('GET', '/api/v1/audit/retention', scientist)).statusCode).toBe(403);
  });

  it('purges on request (administrators, compliance): a dry run changes nothing, a real run is audited', async () => {
    const { payload } = await seed('2001-01-01T00:00:00.000Z');
    expect((await call('POST', '/api/v1/audit/purge', auditor, { dryRun: true })).statusCode).toBe(403);
    const entries = await changeEntryCount(t.db);
    const dry = await call('POST', '/api/v1/audit/purge', admin, { dryRun: true });
    expect(dry.statusCode).toBe(200);
    expect(dry.json<PurgeReport>().purged.map((p) => p.sha256)).toContain(payload.sha256);
    expect(await t.auditPayloads.has(payload.sha256)).toBe(true);
    // A dry run records only the decision that let it run.
    expect(await changeEntryCount(t.db)).toBe(entries);
    expect((await decisionsOf(t.db, admin.id, 'allowed')).at(-1)).toMatchObject({
      resource: { id: 'purgeAuditPayloads' },
      decision: { policyIds: ['audit.purge-payloads'] },
      requestId: dry.headers['x-request-id'],
    });

    const real = await call('POST', '/api/v1/audit/purge', compliance, {});
    expect(real.statusCode).toBe(200);
    const purged = real.json<PurgeReport>().purged.find((p) => p.sha256 === payload.sha256);
    expect(purged?.entryId).toMatch(/^aud_/);
    expect(await t.auditPayloads.has(payload.sha256)).toBe(false);
    const [entry] = await listAuditEntries(t.db, { action: 'audit.payload.purge', resourceId: payload.sha256 });
    expect(entry).toMatchObject({ actor: { principalId: compliance.id }, requestId: real.headers['x-request-id'] });

    const bad = await call('POST', '/api/v1/audit/purge', admin, { limit: 0 });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors).toEqual([expect.objectContaining({ field: 'body.limit' })]);
  });

  it('documents every payload, hold, retention and purge route in OpenAPI', async () => {
    const doc = (await call('GET', '/api/v1/openapi.json', admin)).json<{ paths: Record<string, Record<string, { operationId: string }>> }>();
    const ops = Object.values(doc.paths).flatMap((p) => Object.values(p).map((o) => o.operationId));
    expect(ops).toEqual(
      expect.arrayContaining([
        'listAuditPayloads',
        'getAuditPayload',
        'readAuditPayload',
        'eraseAuditPayload',
        'listLegalHolds',
        'placeLegalHold',
        'getLegalHold',
        'releaseLegalHold',
        'getAuditRetention',
        'purgeAuditPayloads',
      ]),
    );
    expect(doc.paths['/api/v1/audit/payloads/{sha256}/erase']?.post).toBeDefined();
  });
});
