// Stray payload bytes: storeAuditPayload writes the bytes before their row, in the caller's
// transaction, so a transaction that rolls back (or a process that dies before its commit)
// leaves bytes no row admits to. Retention would never purge them and an erasure request would
// never find them; for payloads that hold personal data that is a leak. Every request records
// the hash first, committed on its own (recordPendingAuditPayload), and its commit clears the
// record: a record older than the grace names bytes that may be such a leftover. The sweep
// looks only at those hashes, never at a listing of the payload store (millions of objects on
// S3 would make every sweep cost a full listing), and removes the bytes, audited, when no
// stored payload admits to them and no other request claims them. It decides and deletes under
// the hash's advisory lock, which a store takes before writing the bytes: a store racing the
// sweep either finishes first (the sweep then sees its row) or writes the bytes anew after it.
// The sweep only tries the lock: a hash a store holds waits for the next sweep.
//
// Strays left by releases before pending records existed have no record. The first sweep after
// the upgrade lists the store once to record them, and records in the database (with an audit
// entry) that it did; no later sweep lists again. Automatic, not an admin operation: a
// regulated operator expects personal data that no retention rule or erasure would reach to be
// removed without someone having to remember a one-off command after an upgrade (storage
// limitation, GDPR Art. 5(1)(e)), and expects evidence that it happened and what it found,
// which the listing's entry and the sweep's entries naming every removed hash give. The listing
// costs what one of the earlier sweeps cost, once; its records wait out the same grace as any
// other, so a server of the earlier release still committing a row during a rolling upgrade
// loses nothing.

import { systemClock } from '../core/index.js';
import type { BlobStore, Db, Tx } from '../store/index.js';
import { auditReason, SYSTEM_ACTOR, type Actor } from './entry.js';
import { appendAuditEntry } from './log.js';
import { tryLockPayloadHash } from './payload-locks.js';

/** How long a pending record stays before the sweep takes its request for dead: longer than any transaction that could still commit its row. */
export const STRAY_PAYLOAD_GRACE_MS = 24 * 60 * 60 * 1000;

/** The audit action of a sweep batch: pending records cleared, stray bytes removed. */
export const STRAY_PAYLOAD_SWEEP_ACTION = 'audit.payload.sweep';

/** The audit action of the one listing of the payload store that records strays of earlier releases. */
export const LEGACY_STRAY_LISTING_ACTION = 'audit.payload.legacy_listing';

/** The claim under which the one-off listing records the strays it finds. */
const LEGACY_CLAIM = 'legacy-listing';

/** Serialises replicas finishing the one-off listing, so one records it ("apldlst"). */
const LEGACY_LISTING_LOCK_KEY = 0x61706c646c7374;

/** Distinct hashes per transaction (each named in the entry's payload references). */
const BATCH = 100;

/** Hashes looked up per statement while listing. */
const LISTING_BATCH = 500;

/** Options of `sweepStrayPayloads`. */
export interface StraySweepOptions {
  db: Db;
  /** The audit payload store (never the shared blob store). */
  blobs: BlobStore;
  /** @default the system clock's now */
  now?: Date;
  /** Records older than this count as left by a dead request; 0 at the start of an embedded server, whose requests all died with the previous process. @default STRAY_PAYLOAD_GRACE_MS */
  graceMs?: number;
  /** @default the system */
  actor?: Actor;
}

/** What a sweep did. */
export interface StraySweepReport {
  /** Strays of earlier releases recorded by the one-off listing (0 once it is done). */
  recorded: number;
  /** Bytes removed: no stored payload admits to them and no live request claims them. */
  removed: string[];
  /** Hashes whose stale records were cleared but whose bytes stay: a stored payload admits to them or another request claims them. */
  kept: string[];
  /** Pending records cleared. */
  records: number;
  /** The `audit.payload.sweep` entries, one per transaction. */
  entryIds: string[];
}

/**
 * Clears pending payload records older than the grace period and removes the bytes each names
 * that no stored payload admits to and no other pending record claims, under the hash's lock,
 * each batch with an `audit.payload.sweep` entry naming the removed hashes. Reads only the
 * recorded hashes; the first sweep after an upgrade from a release without pending records
 * lists the store once, to record that release's strays.
 */
export async function sweepStrayPayloads(options: StraySweepOptions): Promise<StraySweepReport> {
  const now = options.now ?? systemClock.now();
  const recorded = await recordLegacyStrays(options, now);
  const cutoff = new Date(now.getTime() - (options.graceMs ?? STRAY_PAYLOAD_GRACE_MS)).toISOString();
  const report: StraySweepReport = { recorded, removed: [], kept: [], records: 0, entryIds: [] };
  for (;;) {
    const batch = await options.db.transaction((tx) => sweepBatch(tx, { options, cutoff }));
    if (batch.records === 0) break;
    report.removed.push(...batch.removed);
    report.kept.push(...batch.kept);
    report.records += batch.records;
    report.entryIds.push(batch.entryId);
  }
  return report;
}

interface BatchResult {
  removed: string[];
  kept: string[];
  records: number;
  entryId: string;
}

async function sweepBatch(tx: Tx, s: { options: StraySweepOptions; cutoff: string }): Promise<BatchResult> {
  const { options, cutoff } = s;
  // A committing store holds its own record (it deletes it first): skipped here, and it writes its bytes under the hash's lock anyway.
  const rows = await tx.query<{ sha256: string; claim_id: string }>(
    `SELECT sha256, claim_id FROM audit_payload_pending
      WHERE sha256 IN (SELECT DISTINCT sha256 FROM audit_payload_pending WHERE recorded_at <= $1 ORDER BY sha256 LIMIT $2)
        AND recorded_at <= $1
      ORDER BY sha256, claim_id FOR UPDATE SKIP LOCKED`,
    [cutoff, BATCH],
  );
  // Never waits for a hash's lock: a store holds it until its commit, and a transaction storing
  // several payloads may wait for a record this sweep holds, which would be a deadlock. A hash
  // a store holds is left, with its records, to the next sweep.
  const hashes: string[] = [];
  for (const hash of [...new Set(rows.rows.map((r) => r.sha256))].sort()) if (await tryLockPayloadHash(tx, hash)) hashes.push(hash);
  const taken = rows.rows.filter((r) => hashes.includes(r.sha256));
  if (taken.length === 0) return { removed: [], kept: [], records: 0, entryId: '' };
  const pairs = [taken.map((r) => r.sha256), taken.map((r) => r.claim_id)];
  // After the locks, in a statement of its own: sees the row of a store that committed holding one.
  const keep = await tx.query<{ sha256: string }>(
    `SELECT h AS sha256 FROM unnest($1::text[]) AS h
      WHERE EXISTS (SELECT 1 FROM audit_payloads p WHERE p.sha256 = h AND p.erased_at IS NULL AND p.purged_at IS NULL)
         OR EXISTS (SELECT 1 FROM audit_payload_pending q WHERE q.sha256 = h
                     AND NOT EXISTS (SELECT 1 FROM unnest($2::text[], $3::text[]) AS t(sha256, claim_id) WHERE t.sha256 = q.sha256 AND t.claim_id = q.claim_id))`,
    [hashes, ...pairs],
  );
  const kept = keep.rows.map((r) => r.sha256).sort();
  const removed: string[] = [];
  // A request that failed before writing its bytes left a record and nothing to remove.
  for (const hash of hashes) if (!kept.includes(hash) && (await options.blobs.has(hash))) removed.push(hash);
  await tx.query(
    'DELETE FROM audit_payload_pending p USING unnest($1::text[], $2::text[]) AS t(sha256, claim_id) WHERE p.sha256 = t.sha256 AND p.claim_id = t.claim_id',
    pairs,
  );
  const entry = await appendAuditEntry(tx, {
    actor: options.actor ?? SYSTEM_ACTOR,
    action: STRAY_PAYLOAD_SWEEP_ACTION,
    resource: { type: 'audit_payload_store', id: 'strays' },
    decision: { effect: 'allowed', policyIds: ['retention:stray-payloads'] },
    outcome: 'succeeded',
    reason: auditReason(
      `cleared ${taken.length} pending payload record(s) older than ${cutoff} of requests that never committed; ` +
        `removed ${removed.length} payload blob(s) that no stored payload admits to and no other request claims` +
        `${kept.length ? `; kept ${kept.length} stored or claimed` : ''}`,
    ),
    payloadRefs: removed.map((sha256) => ({ name: 'stray', sha256 })),
  });
  // Inside the transaction and under the locks: should the commit fail, the records come back and the next sweep deletes again (a no-op for bytes gone).
  for (const hash of removed) await options.blobs.delete(hash);
  return { removed, kept, records: taken.length, entryId: entry.id };
}

/**
 * The one listing of the payload store: records, as pending at `now`, bytes that no stored
 * payload admits to and no request has recorded, then records that the listing is done. Only
 * until that record exists; a listing cut short (a crash) is simply done again.
 */
async function recordLegacyStrays(options: StraySweepOptions, now: Date): Promise<number> {
  const { db } = options;
  if ((await db.query('SELECT 1 FROM audit_payload_legacy_listing')).rowCount > 0) return 0;
  let listed = 0;
  let recorded = 0;
  let batch: string[] = [];
  const record = async (): Promise<void> => {
    const r = await db.query(
      `INSERT INTO audit_payload_pending (sha256, claim_id, recorded_at)
       SELECT h, $2, $3 FROM unnest($1::text[]) AS h
        WHERE NOT EXISTS (SELECT 1 FROM audit_payloads p WHERE p.sha256 = h AND p.erased_at IS NULL AND p.purged_at IS NULL)
          AND NOT EXISTS (SELECT 1 FROM audit_payload_pending q WHERE q.sha256 = h)
       ON CONFLICT (claim_id, sha256) DO NOTHING`,
      [batch, LEGACY_CLAIM, now.toISOString()],
    );
    listed += batch.length;
    recorded += r.rowCount;
    batch = [];
  };
  for await (const hash of options.blobs.list()) {
    batch.push(hash);
    if (batch.length >= LISTING_BATCH) await record();
  }
  if (batch.length > 0) await record();
  await db.transaction(async (tx) => {
    // Replicas listing at once: the first to finish records it, the others change nothing.
    await tx.query('SELECT pg_advisory_xact_lock($1)', [LEGACY_LISTING_LOCK_KEY]);
    if ((await tx.query('SELECT 1 FROM audit_payload_legacy_listing')).rowCount > 0) return;
    const entry = await appendAuditEntry(tx, {
      actor: options.actor ?? SYSTEM_ACTOR,
      action: LEGACY_STRAY_LISTING_ACTION,
      resource: { type: 'audit_payload_store', id: 'strays' },
      decision: { effect: 'allowed', policyIds: ['retention:stray-payloads'] },
      outcome: 'succeeded',
      reason:
        `listed the payload store once, as the first sweep with pending payload records (a new install, or an upgrade from a release without them): ${listed} blob(s), ` +
        `${recorded} that no stored payload admits to recorded as pending (removed by the stray sweep once older than the grace); later sweeps read only pending records`,
    });
    await tx.query('INSERT INTO audit_payload_legacy_listing (completed_at, listed, recorded, entry_id) VALUES ($1, $2, $3, $4)', [
      now.toISOString(),
      listed,
      recorded,
      entry.id,
    ]);
  });
  return recorded;
}
