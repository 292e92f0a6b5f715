import type { ActiveKey } from '../core/index.js';
import type { Db, Tx } from '../store/index.js';
import { signCheckpoint } from './checkpoint.js';
import { entryFromRow, leafBytes, type AuditRow } from './leaf.js';
import { CompactRange, leafHash, type CompactRangeState, type Subtree } from './merkle.js';

/** Only one sequencer writes the tree at a time, across every process sharing the database. */
const SEQUENCER_LOCK_KEY = 0x617564697473; // "audits"

/** What one sequencing round did. */
export interface SequenceResult {
  /** False when another process holds the sequencer lock (nothing was done here). */
  leader: boolean;
  sequenced: number;
  size: number;
  /** Set when a checkpoint was signed for the new size. */
  checkpointSize?: number;
}

/** Options of `sequenceBatch`. */
export interface SequenceOptions {
  /** The log's signing key (the keyring's active key). */
  key: ActiveKey;
  /** @default 5000 */
  maxBatch?: number;
}

interface StateRow {
  origin: string;
  size: number;
  frontier: CompactRangeState;
}

/** The log's origin (C2SP checkpoint line 1), e.g. `assay/3f2a…`. */
export async function logOrigin(db: Pick<Db, 'query'>): Promise<string> {
  const r = await db.query<{ origin: string }>('SELECT origin FROM audit_log_state');
  const origin = r.rows[0]?.origin;
  if (!origin) throw new Error('audit_log_state is missing: migrations not applied');
  return origin;
}

/**
 * Sequences up to `maxBatch` committed entries in one transaction: gives them the next
 * consecutive indexes, stores their leaves and the interior hashes they complete, advances
 * the compact range, and signs a checkpoint for the new size. Safe to call from many
 * processes: a transaction-scoped advisory lock elects one; if it dies mid-batch, its
 * transaction rolls back, the lock is released and the next caller carries on.
 */
export async function sequenceBatch(db: Db, options: SequenceOptions): Promise<SequenceResult> {
  const maxBatch = options.maxBatch ?? 5000;
  return db.transaction(async (tx) => {
    const lock = await tx.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [SEQUENCER_LOCK_KEY]);
    if (!lock.rows[0]?.ok) return { leader: false, sequenced: 0, size: -1 };
    const state = (await tx.query<StateRow>('SELECT origin, size, frontier FROM audit_log_state FOR UPDATE')).rows[0];
    if (!state) throw new Error('audit_log_state is missing: migrations not applied');

    const batch = await tx.query<AuditRow & { seq: number }>(
      `WITH b AS (
         DELETE FROM audit_pending WHERE seq IN (SELECT seq FROM audit_pending ORDER BY seq LIMIT $1)
         RETURNING seq, entry_id
       )
       SELECT e.*, b.seq FROM b JOIN audit_entries e ON e.id = b.entry_id ORDER BY b.seq`,
      [maxBatch],
    );
    if (batch.rows.length === 0) return { leader: true, sequenced: 0, size: state.size };

    const range = CompactRange.fromJSON(state.frontier);
    if (range.size !== state.size) throw new Error(`audit log state is inconsistent: size ${state.size}, frontier ${range.size}`);
    const leaves = { idx: [] as number[], entryId: [] as string[], leaf: [] as string[], hash: [] as string[] };
    const nodes: Subtree[] = [];
    for (const row of batch.rows) {
      const index = range.size;
      const bytes = leafBytes(entryFromRow(row), index);
      const hash = leafHash(bytes);
      for (const s of range.append(hash)) if (s.level > 0) nodes.push(s);
      leaves.idx.push(index);
      leaves.entryId.push(row.id);
      leaves.leaf.push(Buffer.from(bytes).toString('hex'));
      leaves.hash.push(hash.toString('hex'));
    }
    await insertLeaves(tx, leaves);
    await insertNodes(tx, nodes);
    const root = range.root();
    await tx.query(`UPDATE audit_log_state SET size = $1, frontier = $2, updated_at = now()`, [
      range.size,
      JSON.stringify(range.toJSON()),
    ]);
    const note = signCheckpoint(
      { origin: state.origin, size: range.size, rootHash: root },
      { name: state.origin, rawPublicKey: options.key.publicKey, sign: (b) => options.key.sign(b) },
    );
    await tx.query('INSERT INTO audit_checkpoints (size, root_hash, note, key_id) VALUES ($1, $2, $3, $4)', [
      range.size,
      root,
      note,
      options.key.keyid,
    ]);
    return { leader: true, sequenced: batch.rows.length, size: range.size, checkpointSize: range.size };
  });
}

// Bulk inserts through unnest: one statement per batch. Bytes travel as hex text so both
// drivers bind them the same way.
async function insertLeaves(tx: Tx, l: { idx: number[]; entryId: string[]; leaf: string[]; hash: string[] }): Promise<void> {
  await tx.query(
    `INSERT INTO audit_leaves (idx, entry_id, leaf, leaf_hash)
     SELECT i, e, decode(l, 'hex'), decode(h, 'hex') FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) AS t(i, e, l, h)`,
    [l.idx, l.entryId, l.leaf, l.hash],
  );
}

async function insertNodes(tx: Tx, nodes: Subtree[]): Promise<void> {
  if (nodes.length === 0) return;
  await tx.query(
    `INSERT INTO audit_tree (level, idx, hash)
     SELECT lv, i, decode(h, 'hex') FROM unnest($1::smallint[], $2::bigint[], $3::text[]) AS t(lv, i, h)`,
    [nodes.map((n) => n.level), nodes.map((n) => n.index), nodes.map((n) => n.hash.toString('hex'))],
  );
}

/** A running background sequencer. */
export interface SequencerHandle {
  /** Stops the loop after the current round. */
  stop(): Promise<void>;
  /** Resolves after one full round has run since this call (tests and graceful shutdown). */
  flush(): Promise<void>;
}

/** Options of `startSequencer`. */
export interface SequencerOptions extends SequenceOptions {
  /** Pause between rounds when there was nothing to do. @default 100 ms */
  idleMs?: number;
  onError?: (err: unknown) => void;
}

/**
 * Runs `sequenceBatch` in a loop: back to back while entries are waiting, every `idleMs`
 * otherwise, so committed entries are sequenced and checkpointed well within a second.
 */
export function startSequencer(db: Db, options: SequencerOptions): SequencerHandle {
  const idleMs = options.idleMs ?? 100;
  let running = true;
  let waiters: Array<() => void> = [];
  let wake: (() => void) | undefined;
  const loop = (async () => {
    while (running) {
      let busy = false;
      try {
        const r = await sequenceBatch(db, options);
        busy = r.leader && r.sequenced > 0;
      } catch (err) {
        options.onError?.(err);
      }
      const done = waiters;
      waiters = [];
      for (const w of done) w();
      if (!busy && running) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, idleMs);
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        wake = undefined;
      }
    }
  })();
  return {
    async stop() {
      running = false;
      wake?.();
      await loop;
    },
    flush() {
      if (!running) return Promise.resolve();
      return new Promise<void>((resolve) => {
        // Two rounds: the one in progress may have started before the caller's commit.
        let rounds = 0;
        const onRound = (): void => {
          rounds++;
          if (rounds >= 2 || !running) resolve();
          else waiters.push(onRound);
        };
        waiters.push(onRound);
        wake?.();
      });
    },
  };
}
