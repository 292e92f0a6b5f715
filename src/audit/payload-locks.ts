// Storing payload bytes and sweeping stray ones decide about the same hash: both take a
// transaction-scoped advisory lock per hash, so a sweep that removes bytes and a store that
// writes them again never interleave. The two-int4 form keeps these keys apart from Assay's
// single bigint keys; the class spells "apld", apart from the dataset blobs' "blob" (the same
// bytes in both stores must not make their writers wait for each other).

import type { Tx } from '../store/index.js';

const PAYLOAD_LOCK_CLASS = 0x61706c64;

/** A hash's key: its first 32 bits (two hashes sharing them only wait for each other needlessly). */
function lockKey(hash: string): number {
  return Number.parseInt(hash.slice(0, 8), 16) | 0;
}

/** Locks the hash's key, waiting for a holder; held until the transaction ends. */
export async function lockPayloadHash(tx: Tx, hash: string): Promise<void> {
  await tx.query('SELECT pg_advisory_xact_lock($1::int4, $2::int4)', [PAYLOAD_LOCK_CLASS, lockKey(hash)]);
}

/** Locks the hash's key if no other transaction holds it, never waiting; true when locked (until the transaction ends). */
export async function tryLockPayloadHash(tx: Tx, hash: string): Promise<boolean> {
  const r = await tx.query<{ locked: boolean }>('SELECT pg_try_advisory_xact_lock($1::int4, $2::int4) AS locked', [PAYLOAD_LOCK_CLASS, lockKey(hash)]);
  return r.rows[0]?.locked === true;
}
