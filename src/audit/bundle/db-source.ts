import { AssayError } from '../../core/index.js';
import type { Queryable } from '../../store/index.js';
import { openCheckpoint, parseVerifierKey, verifierKey } from '../checkpoint.js';
import { logOrigin } from '../sequencer.js';
import { latestCheckpoint, proveConsistency, proveInclusion, readLeaves } from '../tree-store.js';
import type { BundleWindow } from './format.js';
import type { BundleSource, WindowSpan } from './export.js';

/** Options of `dbBundleSource`. */
export interface DbBundleSourceOptions {
  db: Queryable;
  /** Raw 32-byte Ed25519 public keys of the keyring (retired ones too: the newest checkpoint may predate a rotation). */
  publicKeys: readonly Uint8Array[];
}

/** A bundle source reading the log's tables directly; unlike the HTTP API it also serves old checkpoints. */
export function dbBundleSource(options: DbBundleSourceOptions): BundleSource {
  const { db, publicKeys } = options;
  return {
    async findSpan(window: BundleWindow): Promise<WindowSpan> {
      const r = await db.query<{ first: number | null; last: number | null; unsequenced: number }>(
        `SELECT min(l.idx) AS first, max(l.idx) AS last, (count(*) - count(l.idx))::int AS unsequenced
           FROM audit_entries e LEFT JOIN audit_leaves l ON l.entry_id = e.id
          WHERE ($1::timestamptz IS NULL OR e.recorded_at >= $1) AND ($2::timestamptz IS NULL OR e.recorded_at < $2)`,
        [window.from ?? null, window.to ?? null],
      );
      const row = r.rows[0];
      return {
        first: row?.first === null || row?.first === undefined ? null : Number(row.first),
        last: row?.last === null || row?.last === undefined ? null : Number(row.last),
        unsequenced: Number(row?.unsequenced ?? 0),
      };
    },
    async latestCheckpoint() {
      return (await latestCheckpoint(db))?.note;
    },
    async verifierKey(note: string) {
      const origin = await logOrigin(db);
      for (const publicKey of publicKeys) {
        const vkey = verifierKey(origin, publicKey);
        try {
          openCheckpoint(note, parseVerifierKey(vkey), { origin });
          return vkey;
        } catch {
          // not this key; try the next one
        }
      }
      throw new AssayError('integrity_violation', 'no key of the keyring verifies the newest checkpoint; run "assay audit verify"');
    },
    readLeaves: (range) => readLeaves(db, range),
    proveInclusion: (q) => proveInclusion(db, q),
    proveConsistency: (q) => proveConsistency(db, q),
    async earliestCheckpoint(minSize: number) {
      const r = await db.query<{ note: string }>('SELECT note FROM audit_checkpoints WHERE size >= $1 ORDER BY size LIMIT 1', [minSize]);
      return r.rows[0]?.note;
    },
  };
}
