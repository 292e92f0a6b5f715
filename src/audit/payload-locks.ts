// Storing payload bytes and sweeping stray ones decide about the same hash: both take a
// transaction-scoped advisory lock per hash, so a sweep that removes bytes and a store that
// writes them again never interleave. The two-int4 form keeps these keys apart from Assay's
// single bigint keys; the class spells "apld", apart from the dataset blobs' "blob" (the same
// bytes in both stores must not make their writers wait for each other).

import type { Tx } from '../store/index.js';

const PAYLOAD_LOCK_CLASS = 0x61706c64;

/** Locks each hash's key (its first 32 bits) in ascending order, so overlapping sets cannot deadlock; held until the transaction ends. */
export async function lockPayloadHashes(tx: Tx, hashes: string[]): Promise<void> {
  const keys = [...new Set(hashes.map((h) => Number.parseInt(h.slice(0, 8), 16) | 0))].sort((a, b) => a - b);
  for (const key of keys) await tx.query('SELECT pg_advisory_xact_lock($1::int4, $2::int4)', [PAYLOAD_LOCK_CLASS, key]);
}
