import type { ActiveKey } from '../core/index.js';
import type { Db, Tx } from '../store/index.js';
import { startBackgroundLoop } from './background-loop.js';
import { signCheckpoint } from './checkpoint.js';
import type { AuditEntry } from './entry.js';
import { auditTextColumns, entryFromRow, entryFromTextRow, leafText, type AuditRow, type AuditTextRow } from './leaf.js';
import { CompactRange, leafHashOfText, type CompactRangeState, type Subtree } from './merkle.js';

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

    // The queue's head by index (ANY of an array), not by a semi-join that scans the whole queue.
    const batch = await tx.query<AuditTextRow>(
      `WITH b AS (
         DELETE FROM audit_pending WHERE seq = ANY (ARRAY(SELECT seq FROM audit_pending ORDER BY seq LIMIT $1))
         RETURNING seq, entry_id
       )
       SELECT ${auditTextColumns('e')} FROM b JOIN audit_entries e ON e.id = b.entry_id ORDER BY b.seq`,
      [maxBatch],
    );
    if (batch.rows.length === 0) return { leader: true, sequenced: 0, size: state.size };
    const entries = await entriesOf(tx, batch.rows);

    const range = CompactRange.fromJSON(state.frontier);
    if (range.size !== state.size) throw new Error(`audit log state is inconsistent: size ${state.size}, frontier ${range.size}`);
    const first = range.size;
    const texts: string[] = [];
    const hashes: Buffer[] = [];
    const nodes: Subtree[] = [];
    for (const entry of entries) {
      const text = leafText(entry, range.size);
      const hash = leafHashOfText(text);
      for (const s of range.append(hash)) if (s.level > 0) nodes.push(s);
      texts.push(text);
      hashes.push(hash);
    }
    await insertLeaves(tx, { first, entryIds: entries.map((e) => e.id), texts, hashes });
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

/** The entries of `rows`, in order; the few whose timestamp form entryFromTextRow does not know are read again through the driver. */
async function entriesOf(tx: Tx, rows: AuditTextRow[]): Promise<AuditEntry[]> {
  const entries = rows.map(entryFromTextRow);
  const unusual = rows.filter((_, i) => entries[i] === undefined).map((r) => r.id);
  const byId = new Map<string, AuditEntry>();
  if (unusual.length > 0) {
    const r = await tx.query<AuditRow>('SELECT * FROM audit_entries WHERE id = ANY($1::text[])', [unusual]);
    for (const row of r.rows) byId.set(row.id, entryFromRow(row));
  }
  return rows.map((row, i) => {
    const entry = entries[i] ?? byId.get(row.id);
    if (!entry) throw new Error(`audit entry ${row.id} vanished while it was being sequenced`); // unreachable: read in this transaction
    return entry;
  });
}

interface NewLeaves {
  /** Index of the first leaf; the others follow consecutively. */
  first: number;
  entryIds: string[];
  /** Leaf texts (canonical JSON): stored as their UTF-8 bytes. */
  texts: string[];
  hashes: Buffer[];
}

// One statement per batch, with every value in one parameter of its kind: the leaves as a
// JSON array, whose elements PostgreSQL hands back verbatim (json keeps its input text), the
// ids as a JSON array, the hashes as one hex string cut into 32-byte pieces. Nothing is
// escaped element by element on either side, and both drivers bind them the same way.
async function insertLeaves(tx: Tx, l: NewLeaves): Promise<void> {
  await tx.query(
    `WITH h AS (SELECT decode($4, 'hex') AS hashes)
     INSERT INTO audit_leaves (idx, entry_id, leaf, leaf_hash)
     SELECT $1::bigint + t.n - 1, e.id, convert_to(t.leaf::text, 'UTF8'), substring(h.hashes FROM (t.n::int - 1) * 32 + 1 FOR 32)
       FROM json_array_elements($2::json) WITH ORDINALITY AS t(leaf, n)
       JOIN json_array_elements_text($3::json) WITH ORDINALITY AS e(id, n) USING (n)
       CROSS JOIN h`,
    [l.first, `[${l.texts.join(',')}]`, JSON.stringify(l.entryIds), Buffer.concat(l.hashes).toString('hex')],
  );
}

async function insertNodes(tx: Tx, nodes: Subtree[]): Promise<void> {
  if (nodes.length === 0) return;
  await tx.query(
    `WITH h AS (SELECT decode($3, 'hex') AS hashes)
     INSERT INTO audit_tree (level, idx, hash)
     SELECT t.lv, t.i, substring(h.hashes FROM (t.n::int - 1) * 32 + 1 FOR 32)
       FROM unnest($1::smallint[], $2::bigint[]) WITH ORDINALITY AS t(lv, i, n) CROSS JOIN h`,
    [nodes.map((n) => n.level), nodes.map((n) => n.index), Buffer.concat(nodes.map((n) => n.hash)).toString('hex')],
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
  const loop = startBackgroundLoop({
    round: async () => {
      const r = await sequenceBatch(db, options);
      return r.leader && r.sequenced > 0;
    },
    idleMs: options.idleMs ?? 100,
    ...(options.onError ? { onError: options.onError } : {}),
  });
  return {
    stop: () => loop.stop(),
    // Two rounds: the one in progress may have started before the caller's commit.
    flush: () => loop.afterRounds(2),
  };
}
