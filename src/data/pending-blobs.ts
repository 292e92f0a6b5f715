// Leftovers of dead requests: ingest and promotion store their blobs before the transaction
// that records a version referencing them, and record each in `dataset_pending_blobs` first
// (blob-refs.ts). A process that dies in between (OOM kill, power loss, kill -9) leaves a row
// and, often, a raw snapshot of personal data that nothing references and no retention rule or
// erasure request would ever reach. The sweep removes those blobs, audited.
//
// Only the blobs pending rows name are looked at, never a listing of the shared store (which
// holds other modules' blobs too). A blob is deleted under its advisory lock (only tried: a blob
// someone holds waits for the next sweep), and only when no version references it and no other
// pending row claims it. Should the guess that a request is dead be wrong (a request slower than
// the grace period), nothing committed is lost: the live request's commit takes the same lock
// and stores the bytes again from its own file before it commits (keepStoredBlobs), so no
// version ever references a blob that is gone.

import { appendAuditEntry, auditReason, SYSTEM_ACTOR, type Actor } from '../audit/index.js';
import { systemClock } from '../core/index.js';
import type { BlobStore, Db, Tx } from '../store/index.js';
import { isBlobReferenced, tryLockBlob } from './blob-refs.js';

/** The audit action of a sweep that removed pending records (and the blobs only dead requests held). */
export const PENDING_BLOB_SWEEP_ACTION = 'data.pending_blob.sweep';

/** Distinct hashes per transaction: each is named in the audit entry's reason, which holds 2000 characters. */
const BATCH = 20;

/** Options of `sweepPendingBlobs`. */
export interface PendingBlobSweepOptions {
  db: Db;
  /** The shared dataset blob store. */
  blobs: BlobStore;
  /** Records older than this count as left by a dead request; 0 at the start of an embedded server, whose requests all died with the previous process. */
  graceMs: number;
  /** @default the system clock's now */
  now?: Date;
  /** @default the system */
  actor?: Actor;
}

/** What a sweep did. */
export interface PendingBlobSweepReport {
  /** Blobs deleted: no version referenced them and no live request claimed them. */
  removed: string[];
  /** Blobs whose stale records were cleared but which stay: a version references them or another request claims them. */
  kept: string[];
  /** Pending records cleared. */
  records: number;
  /** The audit entries, one per transaction. */
  entryIds: string[];
}

/**
 * Clears pending blob records older than the grace period and deletes each blob they name that
 * no dataset version references and no other pending record claims, under the blob's advisory
 * lock (a blob another transaction holds is left to the next sweep); each batch commits with a `data.pending_blob.sweep` entry naming the removed hashes.
 */
export async function sweepPendingBlobs(options: PendingBlobSweepOptions): Promise<PendingBlobSweepReport> {
  const now = options.now ?? systemClock.now();
  const cutoff = new Date(now.getTime() - options.graceMs).toISOString();
  const report: PendingBlobSweepReport = { removed: [], kept: [], records: 0, entryIds: [] };
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

async function sweepBatch(tx: Tx, s: { options: PendingBlobSweepOptions; cutoff: string }): Promise<{ removed: string[]; kept: string[]; records: number; entryId: string }> {
  const { options, cutoff } = s;
  // A committing request holds its own rows (it deletes them first): skipped here, and its commit re-checks its blobs anyway.
  const rows = await tx.query<{ sha256: string; claim_id: string }>(
    `SELECT sha256, claim_id FROM dataset_pending_blobs
      WHERE sha256 IN (SELECT DISTINCT sha256 FROM dataset_pending_blobs WHERE stored_at <= $1 ORDER BY sha256 LIMIT $2)
        AND stored_at <= $1
      ORDER BY sha256, claim_id FOR UPDATE SKIP LOCKED`,
    [cutoff, BATCH],
  );
  // Never waits for a blob's lock: a request releasing its blobs holds one while it deletes its
  // own pending record, which this sweep may hold (a request slower than the grace), and the two
  // would wait for each other. A blob someone holds is left, with its records, to the next sweep.
  const hashes: string[] = [];
  for (const hash of [...new Set(rows.rows.map((r) => r.sha256))].sort()) if (await tryLockBlob(tx, hash)) hashes.push(hash);
  const taken = rows.rows.filter((r) => hashes.includes(r.sha256));
  if (taken.length === 0) return { removed: [], kept: [], records: 0, entryId: '' };
  const removed: string[] = [];
  const kept: string[] = [];
  for (const hash of hashes) {
    const claims = taken.filter((r) => r.sha256 === hash).map((r) => r.claim_id);
    // Any other record of the bytes: a younger (live) request, or a committing one holding its row.
    const other = await tx.query('SELECT 1 FROM dataset_pending_blobs WHERE sha256 = $1 AND NOT (claim_id = ANY($2::text[])) LIMIT 1', [hash, claims]);
    if (other.rowCount > 0 || (await isBlobReferenced(tx, hash))) kept.push(hash);
    else removed.push(hash);
  }
  await tx.query(
    `DELETE FROM dataset_pending_blobs p USING unnest($1::text[], $2::text[]) AS t(sha256, claim_id) WHERE p.sha256 = t.sha256 AND p.claim_id = t.claim_id`,
    [taken.map((r) => r.sha256), taken.map((r) => r.claim_id)],
  );
  const entry = await appendAuditEntry(tx, {
    actor: options.actor ?? SYSTEM_ACTOR,
    action: PENDING_BLOB_SWEEP_ACTION,
    resource: { type: 'dataset_blob_store', id: 'pending' },
    decision: { effect: 'allowed', policyIds: [] },
    outcome: 'succeeded',
    reason: auditReason(
      `cleared ${taken.length} pending blob record(s) of requests that never committed or released them (older than ${cutoff}); ` +
        `removed ${removed.length} blob(s) no dataset version references and no other request claims${removed.length ? `: ${removed.map((h) => `sha256:${h}`).join(', ')}` : ''}` +
        `${kept.length ? `; kept ${kept.length} referenced or claimed` : ''}`,
    ),
  });
  // Inside the transaction and under the locks: should the commit fail, the rows come back and the next sweep deletes again (a no-op for bytes gone).
  for (const hash of removed) await options.blobs.delete(hash);
  return { removed, kept, records: taken.length, entryId: entry.id };
}
