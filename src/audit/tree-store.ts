import { NotFound, ValidationFailed, type ActiveKey, type KeyRecord } from '../core/index.js';
import type { Queryable } from '../store/index.js';
import { verifierKey } from './checkpoint.js';
import { consistencyProof, inclusionProof, type HashSource, type SubtreeId } from './merkle.js';
import { logOrigin } from './sequencer.js';

/** Most leaves one `readLeaves` call returns. */
export const MAX_LEAVES_PER_CALL = 1000;

/** A tree size the log must have reached, checked in the same statement as the hashes; `field` names it in the error. */
export interface RequiredSize {
  size: number;
  field: string;
}

/** Reads aligned perfect subtree hashes from the database (leaves at level 0, interior nodes above). */
export class DbHashSource implements HashSource {
  constructor(
    private readonly db: Queryable,
    private readonly required?: RequiredSize,
  ) {}

  /** MTH of the aligned perfect range [start, end). */
  async subtreeHash(start: number, end: number): Promise<Buffer> {
    const width = end - start;
    const [hash] = await this.subtreeHashes([{ level: Math.round(Math.log2(width)), index: start / width }]);
    if (!hash) throw new NotFound('audit subtree', `[${start}, ${end})`); // unreachable: subtreeHashes throws first
    return hash;
  }

  /**
   * The hashes of `subtrees`, in order, read in one statement together with the log size;
   * ValidationFailed when the log is smaller than the required size, else NotFound naming the
   * first subtree absent.
   */
  async subtreeHashes(subtrees: readonly SubtreeId[]): Promise<Buffer[]> {
    if (subtrees.length === 0 && !this.required) return [];
    const r = await this.db.query<{ log_size: number; n: number | null; h: Buffer | null }>(
      `SELECT s.size AS log_size, k.n, CASE WHEN k.lv = 0 THEN l.leaf_hash ELSE t.hash END AS h
         FROM audit_log_state s
         LEFT JOIN unnest($1::smallint[], $2::bigint[]) WITH ORDINALITY AS k(lv, i, n) ON true
         LEFT JOIN audit_leaves l ON k.lv = 0 AND l.idx = k.i
         LEFT JOIN audit_tree t ON k.lv > 0 AND t.level = k.lv AND t.idx = k.i`,
      [subtrees.map((s) => s.level), subtrees.map((s) => s.index)],
    );
    if (this.required) requireWithin(this.required, r.rows[0]?.log_size ?? 0);
    const hashes: Array<Buffer | undefined> = [];
    for (const row of r.rows) if (row.n !== null && row.h) hashes[Number(row.n) - 1] = Buffer.from(row.h);
    return subtrees.map((s, i) => {
      const hash = hashes[i];
      if (hash) return hash;
      const width = 2 ** s.level;
      throw new NotFound('audit subtree', `[${s.index * width}, ${(s.index + 1) * width})`);
    });
  }
}

/** Number of sequenced leaves. */
export async function logSize(db: Queryable): Promise<number> {
  const r = await db.query<{ size: number }>('SELECT size FROM audit_log_state');
  return r.rows[0]?.size ?? 0;
}

/** The newest signed checkpoint note, or undefined before the first entry is sequenced. */
export async function latestCheckpoint(db: Queryable): Promise<{ size: number; note: string } | undefined> {
  const r = await db.query<{ size: number; note: string }>('SELECT size, note FROM audit_checkpoints ORDER BY size DESC LIMIT 1');
  return r.rows[0];
}

function requireCount(value: number, field: string): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new ValidationFailed(`${field} must be a non-negative integer`, [{ field, message: 'must be a non-negative integer' }]);
}

async function requireWithinLog(db: Queryable, size: number, field: string): Promise<void> {
  requireWithin({ size, field }, await logSize(db));
}

function requireWithin(required: RequiredSize, current: number): void {
  const { size, field } = required;
  if (size > current) {
    throw new ValidationFailed(`${field} ${size} is beyond the log size ${current}`, [
      { field, message: `must be at most the log size ${current}` },
    ]);
  }
}

/** The exact leaf bytes of [start, end), at most MAX_LEAVES_PER_CALL. */
export async function readLeaves(db: Queryable, range: { start: number; end: number }): Promise<Buffer[]> {
  requireCount(range.start, 'start');
  requireCount(range.end, 'end');
  if (range.end <= range.start) throw new ValidationFailed('end must be greater than start', [{ field: 'end', message: 'must be greater than start' }]);
  if (range.end - range.start > MAX_LEAVES_PER_CALL) {
    throw new ValidationFailed(`at most ${MAX_LEAVES_PER_CALL} leaves per call`, [
      { field: 'end', message: `end - start must be at most ${MAX_LEAVES_PER_CALL}` },
    ]);
  }
  await requireWithinLog(db, range.end, 'end');
  const r = await db.query<{ leaf: Buffer }>('SELECT leaf FROM audit_leaves WHERE idx >= $1 AND idx < $2 ORDER BY idx', [
    range.start,
    range.end,
  ]);
  return r.rows.map((row) => Buffer.from(row.leaf));
}

/** RFC 9162 inclusion proof of leaf `index` in the tree of `size` leaves. */
export async function proveInclusion(db: Queryable, q: { index: number; size: number }): Promise<Buffer[]> {
  requireCount(q.index, 'index');
  requireCount(q.size, 'size');
  if (q.index >= q.size) throw new ValidationFailed('index must be less than size', [{ field: 'index', message: 'must be less than size' }]);
  // One statement: the size check and every subtree the proof needs.
  return inclusionProof(new DbHashSource(db, { size: q.size, field: 'size' }), q.index, q.size);
}

/** RFC 9162 consistency proof between tree sizes `from` and `to`. */
export async function proveConsistency(db: Queryable, q: { from: number; to: number }): Promise<Buffer[]> {
  requireCount(q.from, 'from');
  requireCount(q.to, 'to');
  if (q.from < 1 || q.from > q.to) throw new ValidationFailed('need 1 <= from <= to', [{ field: 'from', message: 'must be between 1 and to' }]);
  return consistencyProof(new DbHashSource(db, { size: q.to, field: 'to' }), q.from, q.to);
}

/** The C2SP note verifier key of this log: `name+hexkeyid+base64(0x01‖pubkey)`, named after the origin. */
export async function logVerifierKey(db: Queryable, key: Pick<ActiveKey, 'publicKey'>): Promise<string> {
  return verifierKey(await logOrigin(db), key.publicKey);
}

/** One key the installation has signed with, as published to verifiers: public material only. */
export interface PublishedKey {
  /** Lowercase hex SHA-256 of the raw public key: the `keyid` a DSSE signature names. */
  keyid: string;
  algorithm: KeyRecord['algorithm'];
  /** The C2SP note verifier key, exactly as `logVerifierKey` gives it for this key. */
  publicKey: string;
  status: 'active' | 'retired';
  /** When the key was made; it signed from then on. */
  createdAt: string;
  /** When a rotation replaced it; null while it is active. */
  retiredAt: string | null;
}

/** Every key of `records` (the keyring's list, oldest first) as verifiers see it. */
export async function publishedKeys(db: Queryable, records: readonly KeyRecord[]): Promise<PublishedKey[]> {
  const origin = await logOrigin(db);
  // Built field by field from the record, so nothing but public material can ever be added by accident.
  return records.map((r) => ({
    keyid: r.keyid,
    algorithm: r.algorithm,
    publicKey: verifierKey(origin, Buffer.from(r.publicKey, 'base64')),
    status: r.active ? 'active' : 'retired',
    createdAt: r.createdAt,
    retiredAt: r.retiredAt,
  }));
}

/** Health of the log for monitoring: how far the sequencer lags and how old the newest checkpoint is. */
export interface AuditStatus {
  size: number;
  pending: number;
  /** Age of the oldest committed entry not yet sequenced (0 when none). */
  sequencerLagSeconds: number;
  latestCheckpointSize: number | null;
  /** Null before the first checkpoint. */
  checkpointAgeSeconds: number | null;
}

/** Sequencer lag and checkpoint age, read in one statement. */
export async function auditStatus(db: Queryable): Promise<AuditStatus> {
  const r = await db.query<{
    size: number;
    pending: number;
    lag: string | null;
    cp_size: number | null;
    cp_age: string | null;
  }>(
    `SELECT s.size,
            (SELECT count(*) FROM audit_pending)::int AS pending,
            (SELECT extract(epoch FROM clock_timestamp() - min(e.recorded_at))::text
               FROM audit_pending p JOIN audit_entries e ON e.id = p.entry_id) AS lag,
            c.size AS cp_size,
            extract(epoch FROM clock_timestamp() - c.created_at)::text AS cp_age
       FROM audit_log_state s
       LEFT JOIN LATERAL (SELECT size, created_at FROM audit_checkpoints ORDER BY size DESC LIMIT 1) c ON true`,
  );
  const row = r.rows[0];
  if (!row) throw new Error('audit_log_state is missing: migrations not applied');
  return {
    size: row.size,
    pending: row.pending,
    sequencerLagSeconds: row.lag === null ? 0 : Math.max(0, Number(row.lag)),
    latestCheckpointSize: row.cp_size,
    checkpointAgeSeconds: row.cp_age === null ? null : Math.max(0, Number(row.cp_age)),
  };
}
