// Dataset blobs (raw snapshots, certified Parquet, manifests) are content-addressed and shared:
// two requests storing the same bytes store one blob. A request that fails removes the blobs it
// created once no dataset version references them, while another request holding the same
// bytes may be about to commit a reference. Both sides therefore take a transaction-scoped
// advisory lock per hash: the remover decides and deletes under it, and the committer checks
// the blob is there (storing it again if not) under it and keeps it until it commits. Whichever
// comes second sees what the first did.
//
// A process that dies between storing and committing would leave its blobs behind, referenced
// by nothing: each request therefore records what it is about to store in `dataset_pending_blobs`
// first (committed on its own), and the sweep in pending-blobs.ts removes what a dead request left.

import { randomUUID } from 'node:crypto';
import { AssayError, systemClock } from '../core/index.js';
import type { BlobRef, BlobStore, Db, Queryable, Tx } from '../store/index.js';

/** A blob a request stored, or found stored, for a version it is about to record or certify. */
export interface StoredBlob {
  hash: string;
  size: number;
  /** Whether this request stored the bytes (or stored them again): only then does it remove them when it fails. */
  created: boolean;
  /** Where the request can store the bytes again until it ends: a file it keeps, or the bytes themselves. */
  source: { path: string } | { bytes: Uint8Array };
}

/**
 * Advisory lock keys of blobs: the two-int4 form, a key space apart from the single bigint
 * keys Assay's other advisory locks use. The class spells "blob"; the key is the hash's first
 * 32 bits (two hashes sharing them only wait for each other needlessly).
 */
const BLOB_LOCK_CLASS = 0x626c6f62;

function lockKey(hash: string): number {
  return Number.parseInt(hash.slice(0, 8), 16) | 0;
}

/** Locks each hash's key in ascending order, so two transactions locking overlapping sets cannot deadlock. */
export async function lockBlobs(tx: Tx, hashes: string[]): Promise<void> {
  for (const key of [...new Set(hashes.map(lockKey))].sort((a, b) => a - b)) {
    await tx.query('SELECT pg_advisory_xact_lock($1::int4, $2::int4)', [BLOB_LOCK_CLASS, key]);
  }
}

/** Locks the hash's key if no other transaction holds it, never waiting; true when locked (until the transaction ends). */
export async function tryLockBlob(tx: Tx, hash: string): Promise<boolean> {
  const r = await tx.query<{ locked: boolean }>('SELECT pg_try_advisory_xact_lock($1::int4, $2::int4) AS locked', [BLOB_LOCK_CLASS, lockKey(hash)]);
  return r.rows[0]?.locked === true;
}

/** True when a dataset version references the blob: as its raw snapshot, certified Parquet or manifest. */
export async function isBlobReferenced(db: Queryable, hash: string): Promise<boolean> {
  const r = await db.query('SELECT 1 FROM dataset_versions WHERE snapshot_sha256 = $1 OR certified_sha256 = $1 OR manifest_sha256 = $1 LIMIT 1', [hash]);
  return r.rowCount > 0;
}

/** A new claim id: one per request that stores dataset blobs, naming its `dataset_pending_blobs` rows. */
export function newBlobClaim(): string {
  return randomUUID();
}

/** Where a request records the blobs it is about to store. */
export interface PendingBlobs {
  db: Db;
  claim: string;
}

/**
 * Records, committed at once and on its own, that the request may be about to store blob
 * `hash`: call it before storing the bytes, or before relying on bytes found stored (the commit
 * may store them again), so that a process dying before its request commits or releases leaves
 * a row `sweepPendingBlobs` finds.
 */
export async function recordPendingBlob(pending: PendingBlobs, hash: string): Promise<void> {
  await pending.db.query('INSERT INTO dataset_pending_blobs (sha256, claim_id, stored_at) VALUES ($1, $2, $3) ON CONFLICT (claim_id, sha256) DO NOTHING', [
    hash,
    pending.claim,
    systemClock.now().toISOString(),
  ]);
}

/**
 * Makes sure the blobs `tx` references are stored when it commits, and clears the request's
 * pending records in it: under each blob's lock, a blob a failed request (or the sweep of a
 * dead one's leftovers) removed since this one stored or found it is stored again from the
 * request's own source (and counts as created by it). Call it as the transaction's last
 * statement: holding a blob lock, the transaction then waits for nothing but blob locks taken
 * in order, and a remover (one blob lock, nothing else) never waits for it long.
 */
export async function keepStoredBlobs(tx: Tx, env: { blobs: BlobStore; claim: string }, stored: StoredBlob[]): Promise<void> {
  const { blobs } = env;
  // Before the blob locks, so this never holds one while waiting for a row a sweep holds (the sweep only tries blob locks anyway).
  await tx.query('DELETE FROM dataset_pending_blobs WHERE claim_id = $1', [env.claim]);
  await lockBlobs(tx, stored.map((b) => b.hash));
  for (const b of stored) {
    if (await blobs.has(b.hash)) continue;
    // The request recorded every blob it holds as pending before this transaction, found ones
    // too, and the DELETE above rolls back with a crash: a process dying between this copy and
    // the commit leaves the record, and the sweep finds the copy.
    const ref: BlobRef = 'path' in b.source ? await blobs.adopt(b.source.path, { hash: b.hash, size: b.size }) : await blobs.put(b.source.bytes);
    if (ref.hash !== b.hash) throw new AssayError('internal', `blob sha256:${b.hash} was stored again from bytes hashing to ${ref.hash}`);
    b.created = true;
  }
}

/**
 * Removes the blobs this request created that no dataset version references, each in a
 * transaction of its own holding its lock, at read committed isolation: the reference check
 * runs after the lock is granted, so it sees a version a committer committed while holding it.
 * Each blob's pending record goes in the transaction that decides about it; the claim's other
 * records (blobs it found stored, or never stored) go last.
 */
export async function releaseBlobs(env: { db: Db; blobs: BlobStore; claim: string }, stored: StoredBlob[]): Promise<void> {
  for (const b of stored) {
    if (!b.created) continue;
    await env.db.transaction(async (tx) => {
      await lockBlobs(tx, [b.hash]);
      if (!(await isBlobReferenced(tx, b.hash))) await env.blobs.delete(b.hash);
      await tx.query('DELETE FROM dataset_pending_blobs WHERE claim_id = $1 AND sha256 = $2', [env.claim, b.hash]);
    });
  }
  await env.db.query('DELETE FROM dataset_pending_blobs WHERE claim_id = $1', [env.claim]);
}
