// Stray payload bytes: storeAuditPayload writes the bytes before their row, in the caller's
// transaction, so a transaction that rolls back leaves bytes no row admits to. Retention would
// never purge them and an erasure request would never find them; for payloads that hold
// personal data that is a leak. The sweep finds them, waits until no transaction that wrote
// them can still be open, and removes them, audited.

import { systemClock } from '../core/index.js';
import type { BlobStore, Db, Tx } from '../store/index.js';
import { appendAuditEntry } from './log.js';
import { SYSTEM_ACTOR, type Actor } from './entry.js';

/** How long unreferenced bytes stay before the sweep removes them: longer than any transaction that could still commit their row. */
export const STRAY_PAYLOAD_GRACE_MS = 24 * 60 * 60 * 1000;

/** Hashes looked up, and strays removed, per statement and transaction. */
const BATCH = 500;

/** Options of `sweepStrayPayloads`. */
export interface StraySweepOptions {
  db: Db;
  /** The audit payload store (never the shared blob store). */
  blobs: BlobStore;
  /** @default the system clock's now */
  now?: Date;
  /** @default STRAY_PAYLOAD_GRACE_MS */
  graceMs?: number;
  /** @default the system */
  actor?: Actor;
}

/** What a sweep did. */
export interface StraySweepReport {
  /** Bytes first seen unreferenced by this sweep (removed by a later one, after the grace period). */
  marked: number;
  /** Bytes removed: unreferenced since before the grace period. */
  removed: string[];
  /** The `audit.payload.sweep` entries, one per transaction that removed bytes. */
  entryIds: string[];
}

/**
 * Marks payload bytes no `audit_payloads` row admits to, and removes those marked longer ago
 * than the grace period, each batch with an `audit.payload.sweep` entry naming the hashes in its
 * transaction. Lists the whole payload store, so it runs with the retention purge, not per request.
 */
export async function sweepStrayPayloads(options: StraySweepOptions): Promise<StraySweepReport> {
  const now = options.now ?? systemClock.now();
  const graceMs = options.graceMs ?? STRAY_PAYLOAD_GRACE_MS;
  // A mark whose bytes a transaction stored after all is no stray.
  await options.db.query('DELETE FROM audit_payload_strays s WHERE EXISTS (SELECT 1 FROM audit_payloads p WHERE p.sha256 = s.sha256)');
  let marked = 0;
  let batch: string[] = [];
  const mark = async (): Promise<void> => {
    const r = await options.db.query(
      `INSERT INTO audit_payload_strays (sha256, first_seen_at)
       SELECT h, $2 FROM unnest($1::text[]) AS h WHERE NOT EXISTS (SELECT 1 FROM audit_payloads p WHERE p.sha256 = h)
       ON CONFLICT (sha256) DO NOTHING`,
      [batch, now.toISOString()],
    );
    marked += r.rowCount;
    batch = [];
  };
  for await (const hash of options.blobs.list()) {
    batch.push(hash);
    if (batch.length >= BATCH) await mark();
  }
  if (batch.length > 0) await mark();

  const cutoff = new Date(now.getTime() - graceMs).toISOString();
  const removed: string[] = [];
  const entryIds: string[] = [];
  for (;;) {
    const swept = await options.db.transaction((tx) => removeBatch(tx, options, cutoff));
    if (swept.hashes.length === 0) break;
    removed.push(...swept.hashes);
    entryIds.push(swept.entryId);
    if (swept.hashes.length < BATCH) break;
  }
  return { marked, removed, entryIds };
}

async function removeBatch(tx: Tx, options: StraySweepOptions, cutoff: string): Promise<{ hashes: string[]; entryId: string }> {
  // A storeAuditPayload of the same bytes deletes the mark first: it waits for this transaction
  // (and then writes the bytes anew), or this one skips its locked mark.
  const r = await tx.query<{ sha256: string }>(
    `DELETE FROM audit_payload_strays WHERE sha256 IN (
       SELECT s.sha256 FROM audit_payload_strays s
        WHERE s.first_seen_at <= $1 AND NOT EXISTS (SELECT 1 FROM audit_payloads p WHERE p.sha256 = s.sha256)
        ORDER BY s.sha256 LIMIT $2 FOR UPDATE SKIP LOCKED)
     RETURNING sha256`,
    [cutoff, BATCH],
  );
  const hashes = r.rows.map((row) => row.sha256).sort();
  if (hashes.length === 0) return { hashes, entryId: '' };
  const entry = await appendAuditEntry(tx, {
    actor: options.actor ?? SYSTEM_ACTOR,
    action: 'audit.payload.sweep',
    resource: { type: 'audit_payload_store', id: 'strays' },
    decision: { effect: 'allowed', policyIds: ['retention:stray-payloads'] },
    outcome: 'succeeded',
    reason: `removed ${hashes.length} payload blob(s) that no stored payload admits to (written by transactions that rolled back), unreferenced since before ${cutoff}`,
    payloadRefs: hashes.map((sha256) => ({ name: 'stray', sha256 })),
  });
  // Bytes within the transaction: should it fail, the marks come back and the next sweep deletes again (a no-op for bytes already gone).
  for (const hash of hashes) await options.blobs.delete(hash);
  return { hashes, entryId: entry.id };
}
