import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  LEGACY_STRAY_LISTING_ACTION,
  listAuditEntries,
  recordPendingAuditPayload,
  sequenceBatch,
  startRetentionPurge,
  storeAuditPayload,
  STRAY_PAYLOAD_GRACE_MS,
  STRAY_PAYLOAD_SWEEP_ACTION,
  sweepStrayPayloads,
  verifyAuditLog,
  type AuditPayload,
  type PendingAuditPayload,
  type StraySweepReport,
} from '../../src/audit/index.js';
import { DEFAULT_RETENTION, sha256Hex, systemClock, type Clock } from '../../src/core/index.js';
import { createFsBlobStore, loadMigrations, migrate, type BlobStore, type Db } from '../../src/store/index.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { eventually } from '../support/cli.js';
import { eachBackend, type OpenedDb } from '../support/databases.js';
import { appendInferenceEntry } from '../support/inference-entry.js';

const sha = (s: string): string => sha256Hex(Buffer.from(s));
let unique = 0;
const fresh = (label: string): string => `{"prompt":"${label} #${++unique}","at":"${Date.now()}"}`;
const T0 = new Date('2030-03-01T00:00:00.000Z');
const after = (ms: number): Date => new Date(T0.getTime() + ms);
const HOUR = 60 * 60 * 1000;
const atT0: Clock = { now: () => T0 };

/**
 * The payload store as it is, except that listing it fails: a sweep that still listed the store
 * (the cost this design removes: millions of objects on S3) rejects instead of passing.
 */
function unlisted(store: BlobStore): BlobStore {
  return {
    ...store,
    list: () => {
      throw new Error('the stray sweep listed the payload store');
    },
  };
}

async function pendingOf(db: Db): Promise<string[]> {
  return (await db.query<{ sha256: string }>('SELECT sha256 FROM audit_payload_pending ORDER BY sha256')).rows.map((r) => r.sha256);
}

/**
 * Every request records its payload's hash as pending, committed on its own, before the
 * transaction that writes the bytes and the row; the commit clears the record. A transaction
 * that rolls back, or a process that dies before COMMIT (the database rolls it back: the same
 * state), leaves the record, and the sweep removes those bytes after the grace, reading only the
 * records, never a listing of the store.
 */
describe.each(eachBackend().map((b) => [b.name, b] as const))('stray audit payload bytes [%s]', (_name, backend) => {
  let t: TestApp;
  let store: BlobStore;
  beforeAll(async () => {
    t = await createTestApp(backend);
    // The one listing of a fresh install (nothing to find); every sweep after it runs unlisted.
    expect((await sweepStrayPayloads({ db: t.db, blobs: t.auditPayloads, now: T0 })).recorded).toBe(0);
    store = unlisted(t.auditPayloads);
  });
  afterAll(async () => t?.close());

  const deps = { retention: DEFAULT_RETENTION };
  const record = (body: string, clock: Clock = atT0): Promise<PendingAuditPayload> =>
    recordPendingAuditPayload({ db: t.db, retention: DEFAULT_RETENTION, clock }, { class: 'inference', mediaType: 'text/plain', bytes: body });
  /** A request whose transaction wrote the bytes, the row and the entry, and whose process died before COMMIT. */
  const diesBeforeCommit = async (body: string, clock: Clock = atT0): Promise<void> => {
    const pending = await record(body, clock);
    await expect(
      t.db.transaction(async (tx) => {
        const p = await storeAuditPayload(tx, { ...deps, blobs: t.auditPayloads }, pending);
        await appendInferenceEntry(tx, { inferenceId: `inf_${++unique}`, requestSha256: p.sha256 });
        throw new Error('process died');
      }),
    ).rejects.toThrow('process died');
  };
  const commit = (pending: PendingAuditPayload): Promise<AuditPayload> =>
    t.db.transaction(async (tx) => {
      const p = await storeAuditPayload(tx, { ...deps, blobs: t.auditPayloads }, pending);
      await appendInferenceEntry(tx, { inferenceId: `inf_${++unique}`, requestSha256: p.sha256 });
      return p;
    });
  const storeCommitted = async (body: string): Promise<AuditPayload> => commit(await record(body));
  const sweep = (now: Date, graceMs?: number): Promise<StraySweepReport> =>
    sweepStrayPayloads({ db: t.db, blobs: store, now, ...(graceMs === undefined ? {} : { graceMs }) });
  /** Clears what earlier tests left, so each test sees only its own records. */
  const sweepAll = () => sweep(after(1000 * STRAY_PAYLOAD_GRACE_MS), 0);
  const pending = () => pendingOf(t.db);

  it('a transaction that dies before its commit leaves its record; after the grace the sweep removes its bytes, audited', async () => {
    await sweepAll();
    const kept = await storeCommitted(fresh('kept'));
    expect(await pending()).toEqual([]);
    const body = fresh('crashed');
    await diesBeforeCommit(body);
    expect(await pending()).toEqual([sha(body)]);
    expect(await t.auditPayloads.has(sha(body))).toBe(true);

    expect(await sweep(after(STRAY_PAYLOAD_GRACE_MS - 1))).toEqual({ recorded: 0, removed: [], kept: [], records: 0, entryIds: [] });
    expect(await t.auditPayloads.has(sha(body))).toBe(true);

    const swept = await sweep(after(STRAY_PAYLOAD_GRACE_MS));
    expect(swept).toMatchObject({ removed: [sha(body)], kept: [], records: 1 });
    expect(await t.auditPayloads.has(sha(body))).toBe(false);
    expect(await t.auditPayloads.has(kept.sha256)).toBe(true);
    expect(await pending()).toEqual([]);
    const entry = (await listAuditEntries(t.db, { action: STRAY_PAYLOAD_SWEEP_ACTION })).find((e) => e.id === swept.entryIds[0]);
    expect(entry).toMatchObject({ actor: { principalId: 'system', kind: 'system' }, outcome: 'succeeded', payloadRefs: [{ name: 'stray', sha256: sha(body) }] });
    // The sweep is an ordinary entry: the log still verifies.
    for (;;) if ((await sequenceBatch(t.db, { key: t.keyring.active() })).sequenced === 0) break;
    const report = await verifyAuditLog(t.db, { publicKeys: t.keyring.list().map((k) => Buffer.from(k.publicKey, 'base64')) });
    expect(report.ok).toBe(true);
    // Nothing left: a second sweep clears and writes nothing.
    expect(await sweep(after(2 * STRAY_PAYLOAD_GRACE_MS))).toEqual({ recorded: 0, removed: [], kept: [], records: 0, entryIds: [] });
  });

  it('a request that died after recording, before writing anything, leaves a record the sweep clears, removing nothing', async () => {
    await sweepAll();
    const body = fresh('recorded only');
    await record(body);
    const swept = await sweep(after(STRAY_PAYLOAD_GRACE_MS));
    expect(swept).toMatchObject({ removed: [], kept: [], records: 1 });
    expect(await pending()).toEqual([]);
  });

  it('never removes a committed payload: its commit clears its record, and a dead request\'s record of the same bytes goes, the bytes stay', async () => {
    await sweepAll();
    const body = fresh('second chance');
    await diesBeforeCommit(body);
    const p = await storeCommitted(body);
    // Only the dead request's record is left.
    expect(await pending()).toEqual([sha(body)]);
    const swept = await sweep(after(2 * STRAY_PAYLOAD_GRACE_MS));
    expect(swept).toMatchObject({ removed: [], kept: [sha(body)], records: 1 });
    expect(await t.auditPayloads.getBytes(p.sha256)).toEqual(Buffer.from(body));
    expect(await pending()).toEqual([]);
  });

  it('keeps bytes another request has recorded and not yet committed, until that request is dead too', async () => {
    await sweepAll();
    const body = fresh('claimed');
    await diesBeforeCommit(body);
    // A live request of the same bytes, recorded after the dead one's grace ran out.
    const live = await record(body, { now: () => after(STRAY_PAYLOAD_GRACE_MS) });
    expect(await sweep(after(STRAY_PAYLOAD_GRACE_MS))).toMatchObject({ removed: [], kept: [sha(body)], records: 1 });
    expect(await t.auditPayloads.has(sha(body))).toBe(true);
    const p = await commit(live);
    expect(await t.auditPayloads.getBytes(p.sha256)).toEqual(Buffer.from(body));
    expect(await pending()).toEqual([]);
  });

  it('a request slower than the grace loses nothing: the sweep removes the bytes, its commit writes them anew', async () => {
    await sweepAll();
    const body = fresh('slow');
    await diesBeforeCommit(body);
    const slow = await record(body);
    // Both records are past the grace: the sweep takes the slow request for dead.
    expect(await sweep(after(STRAY_PAYLOAD_GRACE_MS))).toMatchObject({ removed: [sha(body)], records: 2 });
    const p = await commit(slow);
    expect(await t.auditPayloads.getBytes(p.sha256)).toEqual(Buffer.from(body));
  });

  it('a store of the same bytes that starts while a sweep is removing them waits for it, then writes them anew', async () => {
    await sweepAll();
    const body = fresh('raced');
    await diesBeforeCommit(body);
    let storing: Promise<AuditPayload> | undefined;
    // The sweep has decided to remove the bytes and holds their lock when it asks whether they are there.
    const racing: BlobStore = {
      ...store,
      has: async (hash) => {
        if (hash === sha(body) && !storing) {
          let done = false;
          storing = storeCommitted(body).finally(() => (done = true));
          // PGlite runs one transaction at a time: the store waits for the sweep's commit. With
          // PostgreSQL, wait until the store is blocked on the hash's lock (or, were there no
          // lock, has committed already, which the bytes check below then catches).
          if (t.db.kind === 'postgres') {
            await eventually(async () => {
              const waiting = await t.db.query(`SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`);
              return done || waiting.rowCount > 0 ? true : undefined;
            }, 20);
          }
        }
        return store.has(hash);
      },
    };
    const swept = await sweepStrayPayloads({ db: t.db, blobs: racing, now: after(STRAY_PAYLOAD_GRACE_MS) });
    expect(swept.removed).toEqual([sha(body)]);
    const p = await storing!;
    expect(await t.auditPayloads.getBytes(p.sha256)).toEqual(Buffer.from(body));
  });

  // Two transactions at once: PostgreSQL only (PGlite runs one at a time).
  it.runIf(backend.name === 'postgres')('never waits for a store that holds the hash: leaves its records to the next sweep', async () => {
    await sweepAll();
    const body = fresh('held');
    await diesBeforeCommit(body);
    const live = await record(body);
    let inStore!: () => void;
    const storing = new Promise<void>((resolve) => (inStore = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    // A caller's transaction that stored the payload and still has work to do before it commits.
    const committing = t.db.transaction(async (tx) => {
      const p = await storeAuditPayload(tx, { ...deps, blobs: t.auditPayloads }, live);
      inStore();
      await released;
      await appendInferenceEntry(tx, { inferenceId: `inf_${++unique}`, requestSha256: p.sha256 });
      return p;
    });
    await storing;
    // Were the sweep to wait for the hash's lock, it would wait for this commit, which waits for the sweep.
    expect(await sweep(after(STRAY_PAYLOAD_GRACE_MS))).toEqual({ recorded: 0, removed: [], kept: [], records: 0, entryIds: [] });
    // Both records: the dead request's, and the live one's, whose deletion is not yet committed.
    expect(await pending()).toEqual([sha(body), sha(body)]);
    release();
    const p = await committing;
    expect(await sweep(after(STRAY_PAYLOAD_GRACE_MS))).toMatchObject({ removed: [], kept: [sha(body)], records: 1 });
    expect(await t.auditPayloads.getBytes(p.sha256)).toEqual(Buffer.from(body));
  });

  it('the retention schedule sweeps too, its first sweep with the grace it is given', async () => {
    await sweepAll();
    const body = fresh('scheduled');
    // The schedule sweeps at the time it is: a record of now, past a grace of 0.
    await diesBeforeCommit(body, systemClock);
    const sweeps: StraySweepReport[] = [];
    const errors: unknown[] = [];
    const schedule = startRetentionPurge({
      db: t.db,
      blobs: store,
      intervalMs: HOUR,
      firstSweepGraceMs: 0,
      onSweep: (r) => sweeps.push(r),
      onError: (e) => errors.push(e),
    });
    try {
      await eventually(async () => (sweeps.length > 0 ? true : undefined));
    } finally {
      await schedule.stop();
    }
    expect(errors).toEqual([]);
    expect(sweeps[0]?.removed).toEqual([sha(body)]);
    expect(await t.auditPayloads.has(sha(body))).toBe(false);
  });
});

/**
 * A database and payload store from a release before pending records: strays there have no
 * record (one an earlier sweep had marked, one never seen). The first sweep after the upgrade
 * lists the store once, records what no stored payload admits to, and says so in an entry; the
 * sweeps after it only read records and remove those strays once past the grace.
 */
describe.each(eachBackend().map((b) => [b.name, b] as const))('strays of an earlier release [%s]', (_name, backend) => {
  let opened: OpenedDb;
  let root: string;
  let payloads: BlobStore;
  beforeAll(async () => {
    opened = await backend.open();
    root = mkdtempSync(join(tmpdir(), 'assay-legacy-strays-'));
    payloads = await createFsBlobStore({ root });
  });
  afterAll(async () => {
    await payloads?.close();
    await opened?.cleanup();
    rmSync(root, { recursive: true, force: true });
  });

  it('lists the store once after the upgrade, records what it finds, and removes it after the grace without listing again', async () => {
    const { db } = opened;
    const migrations = loadMigrations();
    const before = migrations.filter((m) => m.version < 20);
    expect(before).toHaveLength(19);
    await migrate(db, before);
    const marked = (await payloads.put(Buffer.from(fresh('marked by an earlier sweep')))).hash;
    const unseen = (await payloads.put(Buffer.from(fresh('never seen by a sweep')))).hash;
    await db.query('INSERT INTO audit_payload_strays (sha256, first_seen_at) VALUES ($1, $2)', [marked, new Date(T0.getTime() - HOUR).toISOString()]);

    await migrate(db, migrations);
    // A payload stored and committed after the upgrade: listed, and left alone.
    const body = fresh('committed');
    const pending = await recordPendingAuditPayload({ db, retention: DEFAULT_RETENTION }, { class: 'inference', mediaType: 'text/plain', bytes: body });
    await db.transaction(async (tx) => {
      await storeAuditPayload(tx, { blobs: payloads, retention: DEFAULT_RETENTION }, pending);
      await appendInferenceEntry(tx, { inferenceId: 'inf_legacy', requestSha256: sha(body) });
    });

    const first = await sweepStrayPayloads({ db, blobs: payloads, now: T0 });
    expect(first).toMatchObject({ recorded: 1, removed: [], records: 0 });
    expect(await pendingOf(db)).toEqual([marked, unseen].sort());
    const listings = await listAuditEntries(db, { action: LEGACY_STRAY_LISTING_ACTION });
    expect(listings).toHaveLength(1);
    expect(listings[0]).toMatchObject({ actor: { principalId: 'system' }, outcome: 'succeeded' });
    expect(listings[0]!.reason).toContain('3 blob(s), 1 that no stored payload admits to');

    // The mark counts from when the earlier sweep first saw the bytes; the listed stray from the listing.
    const second = await sweepStrayPayloads({ db, blobs: unlisted(payloads), now: after(STRAY_PAYLOAD_GRACE_MS - HOUR) });
    expect(second).toMatchObject({ recorded: 0, removed: [marked], records: 1 });
    const third = await sweepStrayPayloads({ db, blobs: unlisted(payloads), now: after(STRAY_PAYLOAD_GRACE_MS) });
    expect(third).toMatchObject({ recorded: 0, removed: [unseen], records: 1 });
    expect(await payloads.has(marked)).toBe(false);
    expect(await payloads.has(unseen)).toBe(false);
    expect((await payloads.getBytes(sha(body))).toString()).toBe(body);
    expect(await listAuditEntries(db, { action: LEGACY_STRAY_LISTING_ACTION })).toHaveLength(1);
  });
});
