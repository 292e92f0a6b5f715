import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  auditPayloadStoreOptions,
  eraseAuditPayload,
  getAuditPayload,
  listAuditEntries,
  listAuditPayloads,
  openAuditPayloadStore,
  placeLegalHold,
  readAuditPayload,
  releaseLegalHold,
  sequenceBatch,
  recordPendingAuditPayload,
  storeAuditPayload,
  verifyAuditLog,
  type AuditContext,
  type StoreAuditPayloadInput,
} from '../../src/audit/index.js';
import { DEFAULT_RETENTION, loadConfig, type Clock } from '../../src/core/index.js';
import { subjectKey } from '../../src/data/index.js';
import { createBlobStore, createFsBlobStore, loadMigrations, migrate, type Db } from '../../src/store/index.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { eachBackend } from '../support/databases.js';
import { appendInferenceEntry } from '../support/inference-entry.js';

const at = (iso: string): Clock => ({ now: () => new Date(iso) });
const officer: AuditContext = { actor: { principalId: 'prn_officer', kind: 'human', authenticatedBy: 'api_token' }, requestId: 'req-erase' };
const sha = (s: string): string => createHash('sha256').update(s).digest('hex');
let unique = 0;
/** Bytes no other test stores: every payload row is its own. */
const fresh = (label: string): string => `{"prompt":"${label} #${++unique}","at":"${Date.now()}"}`;

async function rowOf(db: Db, sha256: string): Promise<Record<string, unknown>> {
  return (await db.query<Record<string, unknown>>('SELECT * FROM audit_payloads WHERE sha256 = $1', [sha256])).rows[0]!;
}

describe.each(eachBackend().map((b) => [b.name, b] as const))('audit payloads [%s]', (_name, backend) => {
  let t: TestApp;
  const deps = () => ({ db: t.db, blobs: t.auditPayloads });

  /** Stores a payload and the entry that references it, in one transaction, as a domain module would. */
  async function storeWithEntry(input: StoreAuditPayloadInput, clock: Clock = at('2024-01-15T08:00:00.000Z')) {
    const pending = await recordPendingAuditPayload({ db: t.db, retention: DEFAULT_RETENTION }, input);
    return t.db.transaction(async (tx) => {
      const payload = await storeAuditPayload(tx, { blobs: t.auditPayloads, retention: DEFAULT_RETENTION, clock }, pending);
      const entry = await appendInferenceEntry(tx, { inferenceId: `inf_${unique}`, requestSha256: payload.sha256 });
      return { payload, entry };
    });
  }

  async function sequenceAll(): Promise<void> {
    for (;;) if ((await sequenceBatch(t.db, { key: t.keyring.active() })).sequenced === 0) return;
  }
  const verify = () => verifyAuditLog(t.db, { publicKeys: t.keyring.list().map((k) => Buffer.from(k.publicKey, 'base64')) });

  beforeAll(async () => {
    t = await createTestApp(backend);
  });
  afterAll(async () => t?.close());

  it('keeps the bytes in the payload store and a record the entry references by hash, with the class deadlines', async () => {
    const body = fresh('store');
    const { payload, entry } = await storeWithEntry(
      { class: 'inference', mediaType: 'application/json', bytes: body, subjectId: 'subj-1' },
      at('2025-01-31T10:00:00.000Z'),
    );
    expect(payload).toMatchObject({
      sha256: sha(body),
      class: 'inference',
      mediaType: 'application/json',
      size: Buffer.byteLength(body),
      subjectIds: ['subj-1'],
      state: 'stored',
      storedAt: '2025-01-31T10:00:00.000Z',
      // PCI DSS 10.5.1: 3 months hot (31 January + 3 months is the last day of April), 12 months kept.
      hotUntil: '2025-04-30T10:00:00.000Z',
      retainUntil: '2026-01-31T10:00:00.000Z',
      purgeAfter: '2026-01-31T10:00:00.000Z',
    });
    expect(entry.payloadRefs).toEqual([{ name: 'request', sha256: payload.sha256 }]);
    expect((await t.auditPayloads.getBytes(payload.sha256)).toString()).toBe(body);
    expect(await getAuditPayload(t.db, payload.sha256)).toEqual(payload);
    expect((await listAuditPayloads(t.db, { subjectId: 'subj-1' })).map((p) => p.sha256)).toContain(payload.sha256);
  });

  it('records nothing when the caller\'s transaction rolls back', async () => {
    const body = fresh('rollback');
    const pending = await recordPendingAuditPayload({ db: t.db, retention: DEFAULT_RETENTION }, { class: 'inference', mediaType: 'text/plain', bytes: body });
    await expect(
      t.db.transaction(async (tx) => {
        await storeAuditPayload(tx, { blobs: t.auditPayloads, retention: DEFAULT_RETENTION }, pending);
        throw new Error('the entry could not be written');
      }),
    ).rejects.toThrow('the entry could not be written');
    expect((await t.db.query('SELECT 1 FROM audit_payloads WHERE sha256 = $1', [sha(body)])).rowCount).toBe(0);
  });

  it('refuses an unknown class or a bad media type naming the field, and writes nothing', async () => {
    const body = fresh('invalid');
    const store = async (input: Partial<StoreAuditPayloadInput>) => {
      const pending = await recordPendingAuditPayload({ db: t.db, retention: DEFAULT_RETENTION }, { class: 'inference', mediaType: 'text/plain', bytes: body, ...input });
      return t.db.transaction((tx) => storeAuditPayload(tx, { blobs: t.auditPayloads, retention: DEFAULT_RETENTION }, pending));
    };
    await expect(store({ class: 'gossip' })).rejects.toMatchObject({ code: 'validation_failed', errors: [{ field: 'class' }] });
    await expect(store({ mediaType: 'not a type' })).rejects.toMatchObject({ code: 'validation_failed', errors: [{ field: 'mediaType' }] });
    expect((await t.db.query('SELECT 1 FROM audit_payloads WHERE sha256 = $1', [sha(body)])).rowCount).toBe(0);
    expect((await t.db.query('SELECT 1 FROM audit_payload_pending WHERE sha256 = $1', [sha(body)])).rowCount).toBe(0);
    expect(await t.auditPayloads.has(sha(body))).toBe(false);
  });

  it('a later store of the same bytes pushes the deadlines out, never in, and adds its subject', async () => {
    const body = fresh('again');
    await storeWithEntry({ class: 'inference', mediaType: 'text/plain', bytes: body, subjectId: 'a' }, at('2025-03-01T00:00:00.000Z'));
    // Earlier clock: nothing moves in.
    await storeWithEntry({ class: 'inference', mediaType: 'text/plain', bytes: body, subjectId: 'a' }, at('2025-01-01T00:00:00.000Z'));
    expect(await getAuditPayload(t.db, sha(body))).toMatchObject({ subjectIds: ['a'], purgeAfter: '2026-03-01T00:00:00.000Z' });
    const later = await storeWithEntry({ class: 'inference', mediaType: 'text/plain', bytes: body, subjectId: 'b' }, at('2025-06-01T00:00:00.000Z'));
    expect(later.payload).toMatchObject({
      storedAt: '2025-03-01T00:00:00.000Z',
      subjectIds: ['a', 'b'],
      hotUntil: '2025-09-01T00:00:00.000Z',
      retainUntil: '2026-06-01T00:00:00.000Z',
      purgeAfter: '2026-06-01T00:00:00.000Z',
    });
  });

  it('reads the bytes only after recording the read', async () => {
    const body = fresh('read');
    const { payload } = await storeWithEntry({ class: 'inference', mediaType: 'application/json', bytes: body });
    const read = await readAuditPayload(deps(), payload.sha256, { ...officer, requestId: 'req-read', reason: 'complaint 42' });
    expect(read.bytes.toString()).toBe(body);
    const entries = await listAuditEntries(t.db, { action: 'audit.payload.read', resourceId: payload.sha256 });
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      actor: officer.actor,
      requestId: 'req-read',
      reason: 'complaint 42',
      payloadRefs: [{ name: 'read', sha256: payload.sha256 }],
    });
  });

  it('erasure removes the bytes, keeps hash and record, appends an entry, and the log still verifies', async () => {
    const body = fresh('erase');
    const { payload, entry: stored } = await storeWithEntry({ class: 'inference', mediaType: 'application/json', bytes: body, subjectId: 'subj-erase' });
    const erased = await eraseAuditPayload({ ...deps(), clock: at('2025-06-01T00:00:00.000Z') }, { sha256: payload.sha256, reason: 'GDPR request DSR-9' }, officer);
    expect(erased).toMatchObject({ sha256: payload.sha256, state: 'erased', erasedAt: '2025-06-01T00:00:00.000Z', erasedBy: 'prn_officer', size: payload.size });
    expect(await t.auditPayloads.has(payload.sha256)).toBe(false);

    const [entry] = await listAuditEntries(t.db, { action: 'audit.payload.erase', resourceId: payload.sha256 });
    expect(entry).toMatchObject({
      id: erased.eraseEntryId,
      outcome: 'succeeded',
      reason: 'GDPR request DSR-9',
      requestId: 'req-erase',
      payloadRefs: [{ name: 'erased', sha256: payload.sha256 }],
    });
    // The entry that referenced the bytes is untouched, and the whole tree verifies.
    const original = await t.db.query<{ payload_refs: unknown }>('SELECT payload_refs FROM audit_entries WHERE id = $1', [stored.id]);
    expect(original.rows[0]?.payload_refs).toEqual([{ name: 'request', sha256: payload.sha256 }]);
    await sequenceAll();
    expect(await verify()).toMatchObject({ ok: true });

    await expect(readAuditPayload(deps(), payload.sha256, officer)).rejects.toMatchObject({ code: 'not_found', message: expect.stringContaining('erased') });
    await expect(eraseAuditPayload(deps(), { sha256: payload.sha256, reason: 'again' }, officer)).rejects.toMatchObject({ code: 'conflict' });
    // The same bytes are not collected again, and nothing is written back.
    await expect(storeWithEntry({ class: 'inference', mediaType: 'application/json', bytes: body })).rejects.toMatchObject({ code: 'conflict' });
    expect(await t.auditPayloads.has(payload.sha256)).toBe(false);
  });

  it('refuses erasure before the class minimum unless overridden, recording the refusal', async () => {
    const body = fresh('minimum');
    const { payload } = await storeWithEntry({ class: 'lifecycle_evidence', mediaType: 'application/json', bytes: body }, at('2025-01-01T00:00:00.000Z'));
    const clock = at('2026-01-01T00:00:00.000Z');
    const err = await eraseAuditPayload({ ...deps(), clock }, { sha256: payload.sha256, reason: 'DSR-10' }, officer).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'conflict', errors: [{ field: 'overrideMinimum' }] });
    expect((err as Error).message).toContain('2035-01-01T00:00:00.000Z');
    expect(await t.auditPayloads.has(payload.sha256)).toBe(true);
    expect(await getAuditPayload(t.db, payload.sha256)).toEqual(payload);
    const refusals = await listAuditEntries(t.db, { action: 'audit.payload.erase', resourceId: payload.sha256 });
    expect(refusals).toHaveLength(1);
    expect(refusals[0]).toMatchObject({ outcome: 'failed', decision: { effect: 'denied', policyIds: ['retention:lifecycle_evidence'] } });

    const erased = await eraseAuditPayload({ ...deps(), clock }, { sha256: payload.sha256, reason: 'DSR-10, counsel approved', overrideMinimum: true }, officer);
    expect(erased.state).toBe('erased');
    const [, done] = await listAuditEntries(t.db, { action: 'audit.payload.erase', resourceId: payload.sha256 });
    expect(done).toMatchObject({ outcome: 'succeeded', decision: { effect: 'allowed', policyIds: ['retention-minimum-override'] } });
  });

  it('refuses erasure under a legal hold, naming hold and case, and changes nothing until it is released', async () => {
    const body = fresh('held');
    const { payload } = await storeWithEntry({ class: 'inference', mediaType: 'application/json', bytes: body, subjectId: 'subj-held' });
    const hold = await placeLegalHold({ db: t.db, retention: DEFAULT_RETENTION }, { caseId: 'CASE-7', reason: 'litigation', scope: { subjectId: 'subj-held' } }, officer);
    const before = await rowOf(t.db, payload.sha256);
    const err = await eraseAuditPayload(deps(), { sha256: payload.sha256, reason: 'DSR-11', overrideMinimum: true }, officer).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'conflict', errors: [{ field: 'sha256', message: expect.stringContaining(hold.id) }] });
    expect((err as Error).message).toContain('CASE-7');
    expect(await rowOf(t.db, payload.sha256)).toEqual(before);
    expect(await t.auditPayloads.has(payload.sha256)).toBe(true);
    const [refusal] = await listAuditEntries(t.db, { action: 'audit.payload.erase', resourceId: payload.sha256 });
    expect(refusal).toMatchObject({ outcome: 'failed', decision: { effect: 'denied', policyIds: [`legal-hold:${hold.id}`] } });

    await releaseLegalHold({ db: t.db }, { id: hold.id, reason: 'settled' }, officer);
    expect((await eraseAuditPayload(deps(), { sha256: payload.sha256, reason: 'DSR-11' }, officer)).state).toBe('erased');
  });

  it('matches data subjects by key: a hold for " Subj-Held-2" keeps the payload stored for "subj-held-2", and a lookup in any ASCII case finds it', async () => {
    const body = fresh('held-by-key');
    const { payload } = await storeWithEntry({ class: 'inference', mediaType: 'application/json', bytes: body, subjectId: 'subj-held-2' });
    const hold = await placeLegalHold({ db: t.db, retention: DEFAULT_RETENTION }, { caseId: 'CASE-8', reason: 'litigation', scope: { subjectId: '\u00a0Subj-Held-2\t' } }, officer);
    const err = await eraseAuditPayload(deps(), { sha256: payload.sha256, reason: 'DSR-12', overrideMinimum: true }, officer).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'conflict', errors: [{ field: 'sha256', message: expect.stringContaining(hold.id) }] });
    expect((await listAuditPayloads(t.db, { subjectId: ' SUBJ-HELD-2' })).map((p) => p.sha256)).toEqual([payload.sha256]);
    await releaseLegalHold({ db: t.db }, { id: hold.id, reason: 'settled' }, officer);
  });

  it('matches data subjects without their inner white space: a hold for an IBAN as printed keeps the payload stored for it compact, and a compact lookup finds one stored spaced', async () => {
    const { payload } = await storeWithEntry({ class: 'inference', mediaType: 'application/json', bytes: fresh('held-iban'), subjectId: 'DE89370400440532013000' });
    const hold = await placeLegalHold({ db: t.db, retention: DEFAULT_RETENTION }, { caseId: 'CASE-9', reason: 'litigation', scope: { subjectId: 'DE89 3704 0044 0532 0130 00' } }, officer);
    const err = await eraseAuditPayload(deps(), { sha256: payload.sha256, reason: 'DSR-13', overrideMinimum: true }, officer).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'conflict', errors: [{ field: 'sha256', message: expect.stringContaining(hold.id) }] });
    await releaseLegalHold({ db: t.db }, { id: hold.id, reason: 'settled' }, officer);
    const spaced = await storeWithEntry({ class: 'inference', mediaType: 'application/json', bytes: fresh('spaced-phone'), subjectId: '+49 30 7654321' });
    expect((await listAuditPayloads(t.db, { subjectId: '+49307654321' })).map((p) => p.sha256)).toEqual([spaced.payload.sha256]);
  });

  it('keys subject ids in SQL exactly as the data module keys its subject index', async () => {
    const ids = ['Anna@Example.COM', ' \t\n\r\u000b\f\u00a0\u1680\u2000\u200a\u2028\u2029\u202f\u205f\u3000\ufeffid\ufeff\u3000 ', '\u200bzero-width\u200b', '\u0085NEL\u0085', 'ÉLODIE-7', 'İstanbul', 'Zoe\u0308', 'E\u0301LODIE-8', '\u212bngstr\u00f6m', 'DE89 3704 0044 0532 0130 00', '+49\t30\u00a0123\u3000456\u2028', 'Zoe \u0308', 'A\u200bB C', ''];
    const r = await t.db.query<{ keys: string[] }>('SELECT array_agg(assay_subject_key(x) ORDER BY n) AS keys FROM unnest($1::text[]) WITH ORDINALITY AS u(x, n)', [ids]);
    expect(r.rows[0]!.keys).toEqual(ids.map(subjectKey));
  });

  it('lets rows change only by erasure, purge or a later store, and never be deleted (database triggers)', async () => {
    const body = fresh('guard');
    const { payload } = await storeWithEntry({ class: 'inference', mediaType: 'application/json', bytes: body, subjectId: 'subj-guard' });
    const refused = async (sql: string, params: unknown[] = [payload.sha256]) =>
      expect(t.db.query(sql, params)).rejects.toThrow(/audit_payloads|legal holds/);
    await refused('DELETE FROM audit_payloads WHERE sha256 = $1');
    await refused(`UPDATE audit_payloads SET class = 'lifecycle_evidence' WHERE sha256 = $1`);
    await refused(`UPDATE audit_payloads SET purge_after = purge_after - interval '1 day', retain_until = retain_until - interval '1 day' WHERE sha256 = $1`);
    await refused(`UPDATE audit_payloads SET subject_ids = '{}' WHERE sha256 = $1`);
    await refused(`UPDATE audit_payloads SET media_type = 'text/html' WHERE sha256 = $1`);

    await eraseAuditPayload(deps(), { sha256: payload.sha256, reason: 'DSR-12' }, officer);
    // Erasure is final.
    await refused('UPDATE audit_payloads SET erased_at = NULL, erased_by = NULL, erase_entry_id = NULL WHERE sha256 = $1');

    const hold = await placeLegalHold({ db: t.db, retention: DEFAULT_RETENTION }, { caseId: 'CASE-G', reason: 'r' }, officer);
    await refused('DELETE FROM audit_legal_holds WHERE id = $1', [hold.id]);
    await refused(`UPDATE audit_legal_holds SET scope = '{"classes":["inference"]}' WHERE id = $1`, [hold.id]);
    await releaseLegalHold({ db: t.db }, { id: hold.id, reason: 'done' }, officer);
    await refused(`UPDATE audit_legal_holds SET released_at = NULL, released_by = NULL, release_reason = NULL, release_entry_id = NULL WHERE id = $1`, [hold.id]);
    await expect(releaseLegalHold({ db: t.db }, { id: hold.id, reason: 'again' }, officer)).rejects.toMatchObject({ code: 'conflict' });
  });

  it('keeps payloads apart from the shared blob store: erasing one never deletes a shared blob with the same bytes', async () => {
    const home = mkdtempSync(join(tmpdir(), 'assay-payload-ns-'));
    try {
      const config = loadConfig({ env: { ASSAY_HOME: home }, cwd: home });
      const shared = await createBlobStore(config.blobStore);
      const payloads = await openAuditPayloadStore(config);
      const body = fresh('namespace');
      await shared.put(Buffer.from(body));
      const pending = await recordPendingAuditPayload({ db: t.db, retention: DEFAULT_RETENTION }, { class: 'inference', mediaType: 'text/plain', bytes: body });
      const { payload } = await t.db.transaction(async (tx) => ({
        payload: await storeAuditPayload(tx, { blobs: payloads, retention: DEFAULT_RETENTION, clock: at('2020-01-01T00:00:00.000Z') }, pending),
      }));
      await eraseAuditPayload({ db: t.db, blobs: payloads }, { sha256: payload.sha256, reason: 'DSR-13' }, officer);
      expect(await payloads.has(payload.sha256)).toBe(false);
      expect((await shared.getBytes(payload.sha256)).toString()).toBe(body);
      await shared.close();
      await payloads.close();
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});

describe.each(eachBackend().map((b) => [b.name, b] as const))('audit payloads stored before subject keys dropped inner white space [%s]', (_name, backend) => {
  it('are found by their compact subject id after the upgrade, through the rebuilt index (migration 0023)', async () => {
    const { db, cleanup } = await backend.open();
    const root = mkdtempSync(join(tmpdir(), 'assay-payload-keys-'));
    const blobs = await createFsBlobStore({ root });
    try {
      const migrations = loadMigrations();
      await migrate(db, migrations.filter((m) => m.version < 23));
      const body = fresh('before 0023');
      const pending = await recordPendingAuditPayload({ db, retention: DEFAULT_RETENTION }, { class: 'inference', mediaType: 'application/json', bytes: body, subjectId: 'DE89 3704 0044 0532 0130 00' });
      await db.transaction(async (tx) => {
        await storeAuditPayload(tx, { blobs, retention: DEFAULT_RETENTION }, pending);
        await appendInferenceEntry(tx, { inferenceId: 'inf_before_0023', requestSha256: sha(body) });
      });
      await migrate(db, migrations);
      // Read through the index over the keys, as a large table is: its entries were rebuilt.
      const found = await db.transaction(async (tx) => {
        await tx.query('SET LOCAL enable_seqscan = off');
        const plan = await tx.query<{ 'QUERY PLAN': string }>(`EXPLAIN SELECT sha256 FROM audit_payloads WHERE assay_subject_keys(subject_ids) @> ARRAY[assay_subject_key('DE89370400440532013000')]`);
        expect(plan.rows.map((r) => r['QUERY PLAN']).join('\n')).toContain('audit_payloads_subject_keys');
        return listAuditPayloads(tx, { subjectId: 'DE89370400440532013000' });
      });
      expect(found.map((p) => p.sha256)).toEqual([sha(body)]);
    } finally {
      await blobs.close();
      await cleanup();
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('audit payload store location', () => {
  it('is $ASSAY_HOME/audit-payloads on the filesystem and <prefix>audit-payloads/ in S3', () => {
    const fsConfig = loadConfig({ env: { ASSAY_HOME: '/srv/assay' }, cwd: '/' });
    expect(auditPayloadStoreOptions(fsConfig)).toEqual({ kind: 'fs', root: '/srv/assay/audit-payloads' });
    for (const [prefix, expected] of [
      ['', 'audit-payloads/'],
      ['assay', 'assay/audit-payloads/'],
      ['assay/', 'assay/audit-payloads/'],
    ] as const) {
      const s3 = loadConfig({ env: { ASSAY_HOME: '/srv/assay', ASSAY_BLOB_STORE: 's3', ASSAY_S3_BUCKET: 'b', ASSAY_S3_PREFIX: prefix }, cwd: '/' });
      expect(auditPayloadStoreOptions(s3)).toMatchObject({ kind: 's3', bucket: 'b', prefix: expected });
    }
  });
});
