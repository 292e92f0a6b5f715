import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addCalendarDuration,
  appendAuditEntry,
  getAuditPayload,
  holdsCoveringPayload,
  listAuditEntries,
  listLegalHolds,
  placeLegalHold,
  purgeExpiredPayloads,
  releaseLegalHold,
  retentionDeadlines,
  sequenceBatch,
  startRetentionPurge,
  recordPendingAuditPayload,
  storeAuditPayload,
  verifyAuditLog,
  type AuditContext,
  type PurgeReport,
  type StoreAuditPayloadInput,
} from '../../src/audit/index.js';
import { ConfigInvalid, DEFAULT_RETENTION, loadConfig, type Clock } from '../../src/core/index.js';
import type { BlobStore } from '../../src/store/index.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { eventually } from '../support/cli.js';
import { eachBackend } from '../support/databases.js';

const at = (iso: string): Clock => ({ now: () => new Date(iso) });
const officer: AuditContext = { actor: { principalId: 'prn_officer', kind: 'human', authenticatedBy: 'api_token' } };
const sha = (s: string): string => createHash('sha256').update(s).digest('hex');
const d = (iso: string): Date => new Date(iso);

describe('retention configuration', () => {
  const homes: string[] = [];
  afterAll(() => homes.forEach((h) => rmSync(h, { recursive: true, force: true })));
  const withFile = (audit: unknown) => {
    const home = mkdtempSync(join(tmpdir(), 'assay-retention-'));
    homes.push(home);
    writeFileSync(join(home, 'config.json'), JSON.stringify({ audit }));
    return () => loadConfig({ env: { ASSAY_HOME: home }, cwd: home });
  };
  const failure = (load: () => unknown): ConfigInvalid => {
    try {
      load();
    } catch (err) {
      if (err instanceof ConfigInvalid) return err;
      throw err;
    }
    throw new Error('expected ConfigInvalid');
  };

  it('defaults: inference 12 months with 3 hot (PCI DSS 10.5.1), lifecycle evidence 10 years (EU AI Act Art. 18), purge hourly', () => {
    const c = loadConfig({ env: { ASSAY_HOME: '/nonexistent-home' }, cwd: '/' });
    expect(c.audit.purgeIntervalSeconds).toBe(3600);
    expect(c.paths.auditPayloads).toBe('/nonexistent-home/audit-payloads');
    const iso = Object.fromEntries(Object.entries(c.audit.retention).map(([k, v]) => [k, [v.minimum.iso, v.hot.iso, v.maximum.iso]]));
    expect(iso).toEqual({ inference: ['P12M', 'P3M', 'P12M'], lifecycle_evidence: ['P10Y', 'P10Y', 'P10Y'] });
  });

  it('overrides a class and adds new ones from audit.retention; hot defaults to the minimum', () => {
    const c = withFile({
      retention: { inference: { minimum: 'P13M', hot: 'P90D', maximum: 'P2Y' }, request_body: { minimum: 'P6M', maximum: 'P6M' } },
      purgeIntervalSeconds: 0,
    })();
    expect(c.audit.purgeIntervalSeconds).toBe(0);
    expect(c.audit.retention.inference).toEqual({
      minimum: { iso: 'P13M', months: 13, days: 0 },
      hot: { iso: 'P90D', months: 0, days: 90 },
      maximum: { iso: 'P2Y', months: 24, days: 0 },
    });
    expect(c.audit.retention.request_body?.hot.iso).toBe('P6M');
    expect(c.audit.retention.lifecycle_evidence?.minimum.iso).toBe('P10Y');
  });

  it.each([
    ['a maximum below the minimum', { inference: { minimum: 'P12M', maximum: 'P6M' } }, 'audit.retention.inference.maximum'],
    ['a maximum that is shorter in some months (P30D vs P1M)', { x: { minimum: 'P1M', maximum: 'P30D' } }, 'audit.retention.x.maximum'],
    ['a hot period longer than the minimum', { inference: { minimum: 'P3M', hot: 'P1Y', maximum: 'P1Y' } }, 'audit.retention.inference.hot'],
    ['a duration that is not ISO 8601', { inference: { minimum: '12 months', maximum: 'P1Y' } }, 'audit.retention.inference.minimum'],
    ['an empty duration', { inference: { minimum: 'P', maximum: 'P1Y' } }, 'audit.retention.inference.minimum'],
    ['a class name with capitals', { Inference: { minimum: 'P1M', maximum: 'P1M' } }, 'audit.retention.Inference'],
    ['an unknown key in a class', { inference: { minimum: 'P1M', maximum: 'P1M', archive: 'P1Y' } }, 'audit.retention.inference.archive'],
    ['a missing maximum', { inference: { minimum: 'P1M' } }, 'audit.retention.inference.maximum'],
  ])('refuses %s at start, naming the key', (_label, retention, field) => {
    const err = failure(withFile({ retention }));
    expect(err.errors.map((e) => e.field)).toContain(field);
    expect(err.message).toContain('config.json');
  });

  it('accepts P1Y as at least P12M, and refuses a negative purge interval', () => {
    expect(() => withFile({ retention: { x: { minimum: 'P12M', maximum: 'P1Y' } } })()).not.toThrow();
    expect(failure(withFile({ purgeIntervalSeconds: -1 })).errors.map((e) => e.field)).toEqual(['audit.purgeIntervalSeconds']);
  });
});

describe('retention deadlines', () => {
  it('adds months on the UTC calendar, clamping to the last day of the month, then days', () => {
    const m = (months: number, days = 0) => ({ iso: '', months, days });
    expect(addCalendarDuration(d('2024-01-31T12:34:56.789Z'), m(1))).toEqual(d('2024-02-29T12:34:56.789Z'));
    expect(addCalendarDuration(d('2023-01-31T00:00:00.000Z'), m(1))).toEqual(d('2023-02-28T00:00:00.000Z'));
    expect(addCalendarDuration(d('2024-02-29T00:00:00.000Z'), m(12))).toEqual(d('2025-02-28T00:00:00.000Z'));
    expect(addCalendarDuration(d('2024-11-15T00:00:00.000Z'), m(3))).toEqual(d('2025-02-15T00:00:00.000Z'));
    expect(addCalendarDuration(d('2024-01-01T00:00:00.000Z'), m(120))).toEqual(d('2034-01-01T00:00:00.000Z'));
    expect(addCalendarDuration(d('2024-12-31T00:00:00.000Z'), m(0, 1))).toEqual(d('2025-01-01T00:00:00.000Z'));
  });

  it('derives hot, minimum and maximum from the class; an unknown class names the field', () => {
    expect(retentionDeadlines(DEFAULT_RETENTION, 'inference', d('2025-05-10T00:00:00.000Z'))).toEqual({
      hotUntil: d('2025-08-10T00:00:00.000Z'),
      retainUntil: d('2026-05-10T00:00:00.000Z'),
      purgeAfter: d('2026-05-10T00:00:00.000Z'),
    });
    expect(() => retentionDeadlines(DEFAULT_RETENTION, 'nope', new Date())).toThrow(expect.objectContaining({ code: 'validation_failed', errors: [expect.objectContaining({ field: 'class' })] }));
  });
});

describe.each(eachBackend().map((b) => [b.name, b] as const))('legal holds and purge [%s]', (_name, backend) => {
  let t: TestApp;
  let n = 0;
  const holdDeps = () => ({ db: t.db, retention: DEFAULT_RETENTION });

  /** Stores a payload with its referencing entry (about `resource`), as a domain module would. */
  async function store(input: Omit<StoreAuditPayloadInput, 'bytes' | 'mediaType'> & { storedAt: string; resource?: { type: string; id: string } }) {
    const body = `payload ${++n} ${input.class} ${input.storedAt}`;
    const pending = await recordPendingAuditPayload({ db: t.db, retention: DEFAULT_RETENTION }, { class: input.class, mediaType: 'text/plain', bytes: body, ...(input.subjectId ? { subjectId: input.subjectId } : {}) });
    return t.db.transaction(async (tx) => {
      const p = await storeAuditPayload(tx, { blobs: t.auditPayloads, retention: DEFAULT_RETENTION, clock: at(input.storedAt) }, pending);
      await appendAuditEntry(tx, {
        actor: officer.actor,
        action: 'inference.complete',
        resource: input.resource ?? { type: 'inference', id: `inf_${n}` },
        decision: { effect: 'allowed', policyIds: [] },
        outcome: 'succeeded',
        payloadRefs: [{ name: 'request', sha256: p.sha256 }],
      });
      return p;
    });
  }
  const entryCount = async () => (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_entries')).rows[0]!.n;
  const purge = (options: { now: string; dryRun?: boolean; limit?: number; batchSize?: number; blobs?: BlobStore }) =>
    purgeExpiredPayloads({ db: t.db, blobs: options.blobs ?? t.auditPayloads, ...options, now: d(options.now) });
  /** Releases every active hold, so each test starts from none. */
  async function releaseAll(): Promise<void> {
    for (const h of await listLegalHolds(t.db, { active: true })) await releaseLegalHold({ db: t.db }, { id: h.id, reason: 'test cleanup' }, officer);
  }

  beforeAll(async () => {
    t = await createTestApp(backend);
  });
  afterAll(async () => t?.close());

  it('places, lists and releases holds, each audited; bad input names the field and writes nothing', async () => {
    const hold = await placeLegalHold(
      holdDeps(),
      { caseId: ' CASE-1 ', reason: 'regulator inquiry', scope: { classes: ['inference'], storedFrom: '2024-01-01T00:00:00+02:00' } },
      { ...officer, requestId: 'req-h1' },
    );
    expect(hold).toMatchObject({ caseId: 'CASE-1', active: true, placedBy: 'prn_officer', scope: { classes: ['inference'], storedFrom: '2023-12-31T22:00:00.000Z' } });
    expect(hold.id).toMatch(/^hold_[0-9A-Z]{26}$/);
    expect((await listLegalHolds(t.db, { active: true })).map((h) => h.id)).toEqual([hold.id]);
    const [placed] = await listAuditEntries(t.db, { action: 'audit.hold.place', resourceId: hold.id });
    expect(placed).toMatchObject({ id: hold.placeEntryId, requestId: 'req-h1', reason: 'case CASE-1: regulator inquiry' });

    const before = await entryCount();
    for (const [input, field] of [
      [{ caseId: 'C', reason: 'r', scope: { classes: ['inference', 'gossip'] } }, 'scope.classes.1'],
      [{ caseId: 'C', reason: 'r', scope: { storedFrom: '2025-01-01T00:00:00Z', storedTo: '2024-01-01T00:00:00Z' } }, 'scope.storedTo'],
      [{ caseId: 'C', reason: 'r', scope: { colour: 'red' } }, 'scope.colour'],
      [{ caseId: '', reason: 'r' }, 'caseId'],
      [{ caseId: 'C', reason: '  ' }, 'reason'],
    ] as const) {
      await expect(placeLegalHold(holdDeps(), input as never, officer)).rejects.toMatchObject({
        code: 'validation_failed',
        errors: expect.arrayContaining([expect.objectContaining({ field })]),
      });
    }
    expect(await listLegalHolds(t.db)).toHaveLength(1);
    expect(await entryCount()).toBe(before);

    const released = await releaseLegalHold({ db: t.db }, { id: hold.id, reason: 'inquiry closed' }, officer);
    expect(released).toMatchObject({ active: false, releasedBy: 'prn_officer', releaseReason: 'inquiry closed' });
    const [rel] = await listAuditEntries(t.db, { action: 'audit.hold.release', resourceId: hold.id });
    expect(rel?.id).toBe(released.releaseEntryId);
    expect(await listLegalHolds(t.db, { active: true })).toEqual([]);
    expect(await listLegalHolds(t.db, { active: false })).toEqual([released]);
    await expect(releaseLegalHold({ db: t.db }, { id: hold.id, reason: 'again' }, officer)).rejects.toMatchObject({ code: 'conflict' });
    await expect(releaseLegalHold({ db: t.db }, { id: 'hold_01J00000000000000000000000', reason: 'x' }, officer)).rejects.toMatchObject({ code: 'not_found' });
  });

  it('covers payloads by class, subject, resource and storage window (all given criteria must match)', async () => {
    const a = await store({ class: 'inference', subjectId: 's-a', storedAt: '2024-03-01T00:00:00.000Z', resource: { type: 'model_version', id: 'mv_1' } });
    const b = await store({ class: 'lifecycle_evidence', subjectId: 's-b', storedAt: '2024-06-01T00:00:00.000Z' });
    const place = (scope: object) => placeLegalHold(holdDeps(), { caseId: 'CASE-S', reason: 'r', scope }, officer);
    const byClass = await place({ classes: ['lifecycle_evidence'] });
    const bySubject = await place({ subjectId: 's-a' });
    const byResource = await place({ resource: { type: 'model_version', id: 'mv_1' } });
    const byWindow = await place({ storedFrom: '2024-05-01T00:00:00Z', storedTo: '2024-07-01T00:00:00Z' });
    const both = await place({ classes: ['inference'], subjectId: 's-b' });
    const everything = await place({});
    const ids = async (sha256: string) => (await holdsCoveringPayload(t.db, sha256)).map((h) => h.id).sort();
    expect(await ids(a.sha256)).toEqual([bySubject.id, byResource.id, everything.id].sort());
    expect(await ids(b.sha256)).toEqual([byClass.id, byWindow.id, everything.id].sort());
    expect(both.id).toBeDefined();
    await releaseAll();
    expect(await ids(a.sha256)).toEqual([]);
  });

  it('covers the payloads of a subject id however its inner white space falls, and keeps them from the purge', async () => {
    const compact = await store({ class: 'inference', subjectId: 'DE89370400440532013000', storedAt: '2028-03-01T00:00:00.000Z' });
    const spaced = await store({ class: 'inference', subjectId: '+49 30 1234567', storedAt: '2028-03-01T00:00:00.000Z' });
    const iban = await placeLegalHold(holdDeps(), { caseId: 'CASE-W', reason: 'r', scope: { subjectId: 'DE89 3704 0044 0532 0130 00' } }, officer);
    const phone = await placeLegalHold(holdDeps(), { caseId: 'CASE-W', reason: 'r', scope: { subjectId: '+49301234567' } }, officer);
    expect((await holdsCoveringPayload(t.db, compact.sha256)).map((h) => h.id)).toEqual([iban.id]);
    expect((await holdsCoveringPayload(t.db, spaced.sha256)).map((h) => h.id)).toEqual([phone.id]);
    const dry = await purge({ now: '2030-01-01T00:00:00.000Z', dryRun: true, limit: 10_000 });
    expect(dry.purged.map((p) => p.sha256)).not.toContain(compact.sha256);
    expect(dry.held).toEqual(expect.arrayContaining([expect.objectContaining({ sha256: compact.sha256, holdIds: [iban.id] }), expect.objectContaining({ sha256: spaced.sha256, holdIds: [phone.id] })]));
    await releaseAll();
  });

  it('purges only payloads past their maximum that no hold covers, one entry each; a dry run changes nothing', async () => {
    await releaseAll();
    const now = '2030-01-01T00:00:00.000Z';
    // Everything earlier tests left behind is due by then too: purge it first, so counts below are exact.
    await purge({ now, limit: 10_000 });
    const expired = await store({ class: 'inference', storedAt: '2028-06-01T00:00:00.000Z' });
    const held = await store({ class: 'inference', subjectId: 's-held', storedAt: '2028-07-01T00:00:00.000Z' });
    const recent = await store({ class: 'inference', storedAt: '2029-06-01T00:00:00.000Z' });
    const evidence = await store({ class: 'lifecycle_evidence', storedAt: '2021-01-01T00:00:00.000Z' });
    const hold = await placeLegalHold(holdDeps(), { caseId: 'CASE-P', reason: 'litigation', scope: { subjectId: 's-held' } }, officer);

    const entriesBefore = await entryCount();
    const rowsBefore = (await t.db.query('SELECT * FROM audit_payloads ORDER BY sha256')).rows;
    const dry = await purge({ now, dryRun: true });
    expect(dry).toEqual<PurgeReport>({
      dryRun: true,
      now,
      purged: [{ sha256: expired.sha256, class: 'inference', purgeAfter: '2029-06-01T00:00:00.000Z', entryId: null }],
      held: [{ sha256: held.sha256, class: 'inference', purgeAfter: '2029-07-01T00:00:00.000Z', holdIds: [hold.id] }],
      more: false,
    });
    expect(await entryCount()).toBe(entriesBefore);
    expect((await t.db.query('SELECT * FROM audit_payloads ORDER BY sha256')).rows).toEqual(rowsBefore);
    expect(await t.auditPayloads.has(expired.sha256)).toBe(true);

    const report = await purge({ now });
    expect(report.purged.map((p) => p.sha256)).toEqual([expired.sha256]);
    expect(report.held.map((p) => p.sha256)).toEqual([held.sha256]);
    expect(await t.auditPayloads.has(expired.sha256)).toBe(false);
    for (const kept of [held, recent, evidence]) {
      expect(await t.auditPayloads.has(kept.sha256)).toBe(true);
      expect((await getAuditPayload(t.db, kept.sha256)).state).toBe('stored');
    }
    const record = await getAuditPayload(t.db, expired.sha256);
    expect(record).toMatchObject({ state: 'purged', purgedAt: now, purgeEntryId: report.purged[0]!.entryId, sha256: expired.sha256 });
    const [entry] = await listAuditEntries(t.db, { action: 'audit.payload.purge', resourceId: expired.sha256 });
    expect(entry).toMatchObject({
      id: record.purgeEntryId,
      actor: { principalId: 'system', kind: 'system' },
      decision: { effect: 'allowed', policyIds: ['retention:inference'] },
      payloadRefs: [{ name: 'purged', sha256: expired.sha256 }],
    });
    expect(await entryCount()).toBe(entriesBefore + 1);

    // Idempotent: nothing left to do while the hold stands.
    expect((await purge({ now })).purged).toEqual([]);
    await releaseLegalHold({ db: t.db }, { id: hold.id, reason: 'case closed' }, officer);
    expect((await purge({ now })).purged.map((p) => p.sha256)).toEqual([held.sha256]);
    expect(await t.auditPayloads.has(held.sha256)).toBe(false);

    for (;;) if ((await sequenceBatch(t.db, { key: t.keyring.active() })).sequenced === 0) break;
    expect(await verifyAuditLog(t.db, { publicKeys: t.keyring.list().map((k) => Buffer.from(k.publicKey, 'base64')) })).toMatchObject({ ok: true });
  });

  it('finishes after a crash between deleting the bytes and recording the purge', async () => {
    await releaseAll();
    const now = '2031-01-01T00:00:00.000Z';
    await purge({ now, limit: 10_000 });
    const p = await store({ class: 'inference', storedAt: '2029-12-01T00:00:00.000Z' });
    // A store whose delete removes the bytes and then "crashes" before the row is updated.
    const crashing: BlobStore = {
      ...t.auditPayloads,
      delete: async (hash) => {
        await t.auditPayloads.delete(hash);
        throw new Error('process killed');
      },
    };
    await expect(purge({ now, blobs: crashing })).rejects.toThrow('process killed');
    expect(await t.auditPayloads.has(p.sha256)).toBe(false);
    expect((await getAuditPayload(t.db, p.sha256)).state).toBe('stored');
    expect(await listAuditEntries(t.db, { action: 'audit.payload.purge', resourceId: p.sha256 })).toEqual([]);

    const again = await purge({ now });
    expect(again.purged.map((x) => x.sha256)).toEqual([p.sha256]);
    expect((await getAuditPayload(t.db, p.sha256)).state).toBe('purged');
    expect(await listAuditEntries(t.db, { action: 'audit.payload.purge', resourceId: p.sha256 })).toHaveLength(1);
  });

  it('bounds each call by limit (reporting more) and each transaction by batchSize', async () => {
    await releaseAll();
    const now = '2032-01-01T00:00:00.000Z';
    await purge({ now, limit: 10_000 });
    const due = [];
    for (let i = 0; i < 5; i++) due.push(await store({ class: 'inference', storedAt: `2030-0${i + 1}-01T00:00:00.000Z` }));
    const first = await purge({ now, limit: 3, batchSize: 2 });
    expect(first.purged.map((p) => p.sha256)).toEqual(due.slice(0, 3).map((p) => p.sha256));
    expect(first.more).toBe(true);
    const dry = await purge({ now, dryRun: true, limit: 1 });
    expect(dry).toMatchObject({ more: true, purged: [{ sha256: due[3]!.sha256 }] });
    const rest = await purge({ now, limit: 3 });
    expect(rest.purged.map((p) => p.sha256)).toEqual(due.slice(3).map((p) => p.sha256));
    expect(rest.more).toBe(false);
  });

  it('collects purged bytes anew when they are stored again, with fresh deadlines', async () => {
    await releaseAll();
    const now = '2033-01-01T00:00:00.000Z';
    const body = 'the same bytes, a year later';
    const storeBody = async (storedAt: string) => {
      const pending = await recordPendingAuditPayload({ db: t.db, retention: DEFAULT_RETENTION }, { class: 'inference', mediaType: 'text/plain', bytes: body });
      return t.db.transaction((tx) => storeAuditPayload(tx, { blobs: t.auditPayloads, retention: DEFAULT_RETENTION, clock: at(storedAt) }, pending));
    };
    await storeBody('2031-06-01T00:00:00.000Z');
    await purge({ now, limit: 10_000 });
    expect((await getAuditPayload(t.db, sha(body))).state).toBe('purged');
    const revived = await storeBody('2033-02-01T00:00:00.000Z');
    expect(revived).toMatchObject({ state: 'stored', storedAt: '2033-02-01T00:00:00.000Z', purgeAfter: '2034-02-01T00:00:00.000Z', purgedAt: null });
    expect((await t.auditPayloads.getBytes(sha(body))).toString()).toBe(body);
  });

  it('runs on a schedule and stops cleanly', async () => {
    await releaseAll();
    // Stored long enough ago that the real clock has passed its maximum.
    const p = await store({ class: 'inference', storedAt: '2001-01-01T00:00:00.000Z' });
    const reports: PurgeReport[] = [];
    const errors: unknown[] = [];
    const schedule = startRetentionPurge({
      db: t.db,
      blobs: t.auditPayloads,
      intervalMs: 60 * 60 * 1000,
      onReport: (r) => reports.push(r),
      onError: (e) => errors.push(e),
    });
    try {
      await eventually(async () => ((await getAuditPayload(t.db, p.sha256)).state === 'purged' ? true : undefined));
    } finally {
      await schedule.stop();
    }
    expect(errors).toEqual([]);
    expect(reports.flatMap((r) => r.purged.map((x) => x.sha256))).toContain(p.sha256);
  });
});
