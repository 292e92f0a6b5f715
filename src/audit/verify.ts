// Full verification of the stored audit log: re-derives every leaf from its entry, re-hashes
// the whole tree in index order and checks every signed checkpoint against the recomputed
// root at its size. The log is streamed in batches, leaf by leaf; only a compact range
// (O(log n) hashes, see verify-tree.ts), the interior nodes and checkpoints the current batch
// reaches, and the leaves of it held back for the slow path are ever in memory.
//
// At a million leaves what costs is the per-leaf work, in this process and in the database:
// verify-rows.ts has the database print each leaf's entry as one line of text and rewrites it
// into the leaf text without parsing it; only the leaves that way cannot vouch for are read
// whole and re-derived the long way (#checkLeaf), which also names what is wrong with them.
//
// Run it over one snapshot: pass a `repeatable read` transaction when the sequencer may be
// writing concurrently, otherwise later batches can see leaves (and checkpoints) that earlier
// reads did not, and the report may name a problem that is only a race.

import { serialQueue } from '../core/index.js';
import type { Db, Queryable } from '../store/index.js';
import { noteKeyId, openCheckpoint, type NoteVerifier } from './checkpoint.js';
import { entryFromRow, leafBytes, type AuditRow } from './leaf.js';
import { HASH_SIZE, leafHash } from './merkle.js';
import { lineIndex, STREAMED_LEAF_SQL, verifiedLeafHash } from './verify-rows.js';
import { HexCompactRange, HEX_HASH_LENGTH, type CompletedNode } from './verify-tree.js';

/** What kind of tampering (or damage) a problem shows. */
export type AuditProblemKind = 'missing' | 'changed' | 'reordered' | 'forged' | 'bad_checkpoint' | 'forked_checkpoint';

/** The first problem found, located by leaf index and/or checkpoint size. */
export interface AuditProblem {
  kind: AuditProblemKind;
  /** The first leaf index concerned, when the problem is at a leaf (or an interior node: its first leaf). */
  index?: number;
  /** The size of the checkpoint concerned, when the problem is in a checkpoint. */
  checkpointSize?: number;
  detail: string;
}

/** Outcome of `verifyAuditLog`. */
export type AuditVerifyReport = { ok: true; size: number; checkpoints: number } | { ok: false; problem: AuditProblem };

/** Options of `verifyAuditLog`. */
export interface AuditVerifyOptions {
  /** Raw 32-byte Ed25519 public keys trusted to sign checkpoints (every key of the keyring, retired ones too). */
  publicKeys: readonly Uint8Array[];
  /** Leaves read per query. @default 5000 */
  batchSize?: number;
}

interface LeafRow extends Omit<AuditRow, 'id'> {
  idx: number | string;
  entry_id: string;
  leaf: Uint8Array;
  leaf_hash: Uint8Array;
  /** Null when the entry row is gone. */
  id: string | null;
}

/** One batch of leaves being read: their indexes and verified hashes (undefined: read it whole), in log order. */
interface LeafBatch {
  start: number;
  /** Leaves [start, end) were asked for; the ones stored come back, in index order. */
  end: number;
  idxs: number[];
  hashes: Array<string | undefined>;
  nodes: Promise<StoredNodes>;
  checkpoints: Promise<CheckpointRow[]>;
  /** Settles once every line has been read. */
  leaves: Promise<void>;
}

/** Interior hashes read for one batch, in hex: per level, the hashes of nodes lo..hi back to back (or a map, when some are absent). */
type StoredNodes = Map<number, { lo: number; hashes: string } | { lo: number; byIndex: Map<number, string> }>;

interface CheckpointRow {
  size: number | string;
  root_hash: Uint8Array;
  note: string;
}

interface StateRow {
  origin: string;
  size: number | string;
  frontier: { size: number; hashes: string[] };
}

/** A checkpoint whose signed root differs from the recomputed one; named only once a witness says who is wrong. */
interface Suspect {
  size: number;
  detail: string;
}

class Found extends Error {
  constructor(readonly problem: AuditProblem) {
    super(problem.detail);
  }
}

function fail(problem: AuditProblem): never {
  throw new Found(problem);
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

/** The `index` embedded in leaf bytes, or undefined when they are not a JSON object with a numeric index. */
function embeddedIndex(leaf: Uint8Array): number | undefined {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(leaf).toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null || !('index' in parsed)) return undefined;
    const index = (parsed as { index: unknown }).index;
    return typeof index === 'number' ? index : undefined;
  } catch {
    return undefined;
  }
}

/** Per level L ≥ 1, the nodes that appending leaves [start, end) completes: indexes lo..hi. */
function nodeRangesCompletedBy(start: number, end: number): Array<{ level: number; lo: number; hi: number }> {
  const out: Array<{ level: number; lo: number; hi: number }> = [];
  for (let level = 1, width = 2; width <= end; level++, width *= 2) {
    // Node (L, i) is complete once leaf (i + 1)·2^L − 1 is appended.
    const lo = Math.floor(start / width);
    const hi = Math.floor(end / width) - 1;
    if (lo <= hi) out.push({ level, lo, hi });
  }
  return out;
}

/**
 * A view of `q` that runs one statement at a time, in call order, however many are asked for
 * ahead: a transaction is one connection, and node-postgres deprecates queueing a statement on
 * a busy one.
 */
function oneAtATime(q: Queryable): Queryable {
  const chain = serialQueue();
  return {
    query: <T,>(sql: string, params?: readonly unknown[]) => chain(() => q.query<T>(sql, params)),
    queryEach: <T,>(sql: string, params: readonly unknown[], onRow: (row: T) => void) => chain(() => q.queryEach<T>(sql, params, onRow)),
  };
}

/** Leaves read per query, unless the options say otherwise. */
const BATCH_SIZE = 5000;

class LogVerifier {
  readonly #range = new HexCompactRange();
  #verifiers: NoteVerifier[] = [];
  #origin = '';
  #lastCheckpointSize = -1;
  #checkpointsFetchedTo = -1;
  #due: CheckpointRow[] = [];
  #checked = 0;
  #suspect: Suspect | undefined;

  /** Where everything but the leaf lines is read. */
  readonly #db: Queryable;
  /** Where the leaf lines are read, a batch on each in turn: `#db` alone, or connections on its snapshot. */
  readonly #readers: Queryable[];

  constructor(
    db: Queryable,
    private readonly options: AuditVerifyOptions,
    readers?: readonly Queryable[],
  ) {
    this.#db = oneAtATime(db);
    this.#readers = readers && readers.length > 0 ? readers.map(oneAtATime) : [this.#db];
  }

  async run(): Promise<{ size: number; checkpoints: number }> {
    const state = (await this.#db.query<StateRow>('SELECT origin, size, frontier FROM audit_log_state')).rows[0];
    if (!state) throw new Error('audit_log_state is missing: migrations not applied');
    this.#origin = state.origin;
    this.#verifiers = this.options.publicKeys.map((publicKey) => ({
      name: state.origin,
      keyId: noteKeyId(state.origin, publicKey),
      publicKey,
    }));
    const last = await this.#db.query<{ size: number | string | null }>('SELECT max(size) AS size FROM audit_checkpoints');
    const lastSize = last.rows[0]?.size;
    this.#lastCheckpointSize = lastSize === null || lastSize === undefined ? -1 : Number(lastSize);

    this.#due.push(...(await this.#fetchCheckpoints(0)));
    this.#checkDue();
    await this.#streamLeaves();
    await this.#checkEnd(state);
    return { size: this.#range.size, checkpoints: this.#checked };
  }

  // The leaves are read in batches, each as one statement streamed leaf by leaf: every line
  // is turned into its verified leaf hash as the driver hands it over, so no batch is ever held
  // as lines (at a million leaves, holding them was mostly work for the garbage collector). A
  // leaf is vouched for on this fast path when the database confirms its stored bytes hash to
  // the stored leaf hash and the leaf text its entry row produces (see verify-rows.ts) hashes to
  // it too: then the bytes are that entry with its index and every check of #checkLeaf holds.
  // Any other leaf is read whole and checked by #checkLeaf.
  //
  // With several readers (connections on one snapshot) as many batches stream at once, so the
  // database computes later batches on other cores while this process appends earlier ones to
  // the tree, always in log order.
  //
  // Batches are ranges of indexes, not "the next n rows": the planner then expects exactly a
  // batch's rows and reads them with one index range scan, where an open range with a LIMIT
  // can make it plan a parallel scan of the whole table for every batch.
  async #streamLeaves(): Promise<void> {
    const batchSize = Math.max(1, this.options.batchSize ?? BATCH_SIZE);
    const last = await this.#db.query<{ idx: number | string | null }>('SELECT max(idx) AS idx FROM audit_leaves');
    const end = last.rows[0]?.idx === null || last.rows[0]?.idx === undefined ? 0 : Number(last.rows[0].idx) + 1;
    const requested: LeafBatch[] = [];
    let next = 0;
    let reader = 0;
    const request = (): void => {
      if (next >= end) return;
      const batchEnd = Math.min(end, next + batchSize);
      requested.push(this.#requestBatch({ start: next, end: batchEnd }, this.#readers[reader++ % this.#readers.length] as Queryable));
      next = batchEnd;
    };
    for (let i = 0; i < this.#readers.length; i++) request();
    for (let batch = requested.shift(); batch; batch = requested.shift()) {
      await batch.leaves;
      request();
      await this.#appendBatch(batch);
      // A leaf is stored past this batch, so a shortfall in it is a gap.
      const expected = this.#range.size;
      if (expected < batch.end && batch.end < end) {
        fail({ kind: 'missing', index: expected, detail: `leaf ${expected} is absent (a later leaf is stored)` });
      }
    }
  }

  /** Starts reading leaves [start, end) on `reader`, and the interior nodes and checkpoints they reach. */
  #requestBatch(range: { start: number; end: number }, reader: Queryable): LeafBatch {
    const batch: LeafBatch = {
      ...range,
      idxs: [],
      hashes: [],
      nodes: this.#fetchNodes(range.start, range.end),
      checkpoints: this.#fetchCheckpoints(range.end),
      leaves: Promise.resolve(),
    };
    const covered = this.#lastCheckpointSize;
    // The LATERAL subquery's LIMIT keeps it from being flattened into a join, which the
    // planner would run as a hash join over the whole audit_entries table for every batch:
    // this way each entry is one primary-key lookup (id is unique, so LIMIT 1 changes nothing).
    // The outer LIMIT (the range holds no more rows) keeps the leaves an ordered index scan even
    // before the tables have statistics, as right after a bulk load, rather than a bitmap scan
    // and a sort.
    batch.leaves = reader
      .queryEach<{ line: string }>(
        `SELECT ${STREAMED_LEAF_SQL} AS line
           FROM audit_leaves l LEFT JOIN LATERAL (SELECT * FROM audit_entries x WHERE x.id = l.entry_id LIMIT 1) e ON true
          WHERE l.idx >= $1 AND l.idx < $2 ORDER BY l.idx LIMIT $3`,
        [range.start, range.end, range.end - range.start],
        ({ line }) => {
          batch.idxs.push(lineIndex(line));
          batch.hashes.push(verifiedLeafHash(line, covered));
        },
      )
      .then(() => undefined);
    // Settle what is read ahead when an earlier batch fails, so no rejection goes unhandled.
    for (const p of [batch.nodes, batch.checkpoints, batch.leaves]) p.catch(() => undefined);
    return batch;
  }

  // The leaves the fast path vouched for are appended as they are; the others are read whole
  // first. Either way the checks run in log order, so the first problem is the one reported.
  async #appendBatch(batch: LeafBatch): Promise<void> {
    const nodes = await batch.nodes;
    this.#due.push(...(await batch.checkpoints));
    const checkNode: CompletedNode = (level, index, hash) => this.#checkNode(nodes, { level, index, hash });
    const slow = batch.idxs.filter((_, i) => batch.hashes[i] === undefined);
    const slowRows = await this.#fetchLeafRows(slow);
    for (let i = 0; i < batch.idxs.length; i++) {
      const idx = batch.idxs[i] as number;
      this.#expectNext(idx);
      const slowRow = slowRows.get(idx);
      this.#append(batch.hashes[i] ?? (slowRow ? this.#checkLeaf(slowRow).toString('hex') : this.#vanished(idx)), checkNode);
    }
  }

  /** Fails unless leaf `idx` is the next one of the log. */
  #expectNext(idx: number): void {
    const expected = this.#range.size;
    if (idx !== expected) fail({ kind: 'missing', index: expected, detail: `leaf ${expected} is absent (next stored leaf is ${idx})` });
  }

  /** Appends the next leaf's hash to the recomputed tree, checks the nodes it completes and the checkpoints it reaches. */
  #append(hash: string, checkNode: CompletedNode): void {
    this.#range.append(hash, checkNode);
    this.#checkDue();
  }

  /** Whole rows (leaf bytes and entry) of the given leaves, for #checkLeaf. */
  async #fetchLeafRows(indexes: number[]): Promise<Map<number, LeafRow>> {
    const out = new Map<number, LeafRow>();
    if (indexes.length === 0) return out;
    const r = await this.#db.query<LeafRow>(
      `SELECT l.idx, l.entry_id, l.leaf, l.leaf_hash, e.*
         FROM audit_leaves l LEFT JOIN audit_entries e ON e.id = l.entry_id
        WHERE l.idx = ANY($1::bigint[])`,
      [indexes],
    );
    for (const row of r.rows) out.set(Number(row.idx), row);
    return out;
  }

  /** A leaf read a moment ago is gone on the second read: only a concurrent writer does that (see the module comment). */
  #vanished(idx: number): never {
    fail({ kind: 'missing', index: idx, detail: `leaf ${idx} disappeared while it was being verified` });
  }

  /** Checks one leaf at the next expected index; returns its (verified) leaf hash. */
  #checkLeaf(row: LeafRow): Buffer {
    const expected = this.#range.size;
    const idx = Number(row.idx);
    if (idx !== expected) fail({ kind: 'missing', index: expected, detail: `leaf ${expected} is absent (next stored leaf is ${idx})` });
    if (idx >= this.#lastCheckpointSize) {
      this.#resolveSuspectFirst();
      const covered = this.#lastCheckpointSize < 0 ? 'there is no checkpoint' : `the last checkpoint has size ${this.#lastCheckpointSize}`;
      fail({ kind: 'forged', index: idx, detail: `leaf ${idx} (entry ${row.entry_id}) is covered by no signed checkpoint: ${covered}` });
    }
    const leaf = Buffer.from(row.leaf);
    const embedded = embeddedIndex(leaf);
    if (embedded !== undefined && embedded !== idx) {
      fail({ kind: 'reordered', index: idx, detail: `leaf ${idx} holds the bytes of leaf ${embedded}` });
    }
    const hash = leafHash(leaf);
    if (!same(hash, row.leaf_hash)) {
      fail({ kind: 'changed', index: idx, detail: `leaf ${idx}: stored leaf bytes do not hash to the stored leaf hash` });
    }
    if (row.id === null) fail({ kind: 'missing', index: idx, detail: `leaf ${idx}: entry ${row.entry_id} is gone from audit_entries` });
    if (embedded === undefined) fail({ kind: 'changed', index: idx, detail: `leaf ${idx}: leaf bytes are not an entry with its index` });
    const recomputed = leafBytes(entryFromRow({ ...row, id: row.id }), idx);
    if (!same(recomputed, leaf)) {
      fail({ kind: 'changed', index: idx, detail: `leaf ${idx}: entry ${row.id} no longer produces the sequenced leaf bytes` });
    }
    return hash;
  }

  /** The stored interior nodes that appending leaves [start, end) completes, one row per level. */
  async #fetchNodes(start: number, end: number): Promise<StoredNodes> {
    const ranges = nodeRangesCompletedBy(start, end);
    const found: StoredNodes = new Map();
    if (ranges.length === 0) return found;
    const r = await this.#db.query<{ level: number; n: number; bytes: number | string | null; hashes: Uint8Array | null }>(
      // LATERAL keeps each level an index range scan; a plain join lets the planner hash the whole table.
      `SELECT k.lv AS level, s.n, s.bytes, s.hashes
         FROM unnest($1::smallint[], $2::bigint[], $3::bigint[]) AS k(lv, lo, hi)
         CROSS JOIN LATERAL (
           SELECT count(*)::int AS n, sum(length(t.hash)) AS bytes, string_agg(t.hash, ''::bytea ORDER BY t.idx) AS hashes
             FROM audit_tree t WHERE t.level = k.lv AND t.idx BETWEEN k.lo AND k.hi
         ) s`,
      [ranges.map((k) => k.level), ranges.map((k) => k.lo), ranges.map((k) => k.hi)],
    );
    const byLevel = new Map(r.rows.map((row) => [row.level, row]));
    for (const { level, lo, hi } of ranges) {
      const row = byLevel.get(level);
      const count = hi - lo + 1;
      if (row?.hashes && row.n === count && Number(row.bytes) === count * HASH_SIZE) {
        found.set(level, { lo, hashes: Buffer.from(row.hashes).toString('hex') });
      } else {
        // Some node of this level is absent or malformed: read them one by one to name it.
        const each = await this.#db.query<{ idx: number | string; hash: Uint8Array }>(
          'SELECT idx, hash FROM audit_tree WHERE level = $1 AND idx BETWEEN $2 AND $3',
          [level, lo, hi],
        );
        found.set(level, { lo, byIndex: new Map(each.rows.map((n) => [Number(n.idx), Buffer.from(n.hash).toString('hex')])) });
      }
    }
    return found;
  }

  /** Checks a node the recomputed tree completed against the stored one. */
  #checkNode(stored: StoredNodes, node: { level: number; index: number; hash: string }): void {
    const level = stored.get(node.level);
    let found: boolean;
    let matches: boolean;
    if (level && 'hashes' in level) {
      const at = (node.index - level.lo) * HEX_HASH_LENGTH;
      found = at >= 0 && at + HEX_HASH_LENGTH <= level.hashes.length;
      matches = found && level.hashes.startsWith(node.hash, at);
    } else {
      const hash = level?.byIndex.get(node.index);
      found = hash !== undefined;
      matches = hash === node.hash;
    }
    if (matches) return;
    const first = node.index * 2 ** node.level;
    const where = `interior node (level ${node.level}, index ${node.index}) over leaves [${first}, ${first + 2 ** node.level})`;
    if (!found) fail({ kind: 'missing', index: first, detail: `${where} is absent from audit_tree` });
    fail({ kind: 'changed', index: first, detail: `${where}: stored hash differs from the recomputed one` });
  }

  /** The checkpoints with size in (fetched so far, upTo], in size order. */
  async #fetchCheckpoints(upTo: number): Promise<CheckpointRow[]> {
    if (upTo <= this.#checkpointsFetchedTo) return [];
    const from = this.#checkpointsFetchedTo;
    this.#checkpointsFetchedTo = upTo;
    const r = await this.#db.query<CheckpointRow>(
      'SELECT size, root_hash, note FROM audit_checkpoints WHERE size > $1 AND size <= $2 ORDER BY size',
      [from, upTo],
    );
    return r.rows;
  }

  /** Checks every loaded checkpoint whose size the stream has reached. */
  #checkDue(): void {
    while (this.#due.length > 0 && Number(this.#due[0]?.size) === this.#range.size) {
      const cp = this.#due.shift();
      if (cp) this.#checkCheckpoint(cp);
    }
  }

  #checkCheckpoint(cp: CheckpointRow): void {
    const size = Number(cp.size);
    let parsed;
    try {
      parsed = openCheckpoint(cp.note, this.#verifiers, { origin: this.#origin });
    } catch (err) {
      this.#resolveSuspectFirst();
      const why = err instanceof Error ? err.message : String(err);
      fail({ kind: 'bad_checkpoint', checkpointSize: size, detail: `checkpoint ${size} does not verify: ${why}` });
    }
    if (parsed.size !== size || !same(parsed.rootHash, cp.root_hash)) {
      this.#resolveSuspectFirst();
      fail({ kind: 'bad_checkpoint', checkpointSize: size, detail: `checkpoint ${size}: its row disagrees with its signed note (size ${parsed.size})` });
    }
    this.#checked++;
    const root = this.#range.root();
    const matches = same(parsed.rootHash, root);
    const suspect = this.#suspect;
    if (suspect) {
      // The next signed checkpoint is the witness: if it agrees with the recomputed tree, the
      // suspect alone disagrees with its neighbours (a fork); if not, the leaves were rewritten.
      if (matches) fail({ kind: 'forked_checkpoint', checkpointSize: suspect.size, detail: suspect.detail });
      fail({
        kind: 'changed',
        checkpointSize: suspect.size,
        detail: `the leaves before size ${suspect.size} were rewritten consistently: the signed roots at ${suspect.size} and ${size} both differ from the recomputed tree`,
      });
    }
    if (!matches) {
      this.#suspect = {
        size,
        detail: `checkpoint ${size} is validly signed but its root ${hex(parsed.rootHash)} is not the root ${hex(root)} of the log at that size, which the other checkpoints agree with`,
      };
    }
  }

  /** A pending suspect checkpoint comes before any later problem: report it as a fork. */
  #resolveSuspectFirst(): void {
    if (this.#suspect) fail({ kind: 'forked_checkpoint', checkpointSize: this.#suspect.size, detail: this.#suspect.detail });
  }

  async #checkEnd(state: StateRow): Promise<void> {
    const size = this.#range.size;
    const stateSize = Number(state.size);
    const frontierMatches = state.frontier.size === size && JSON.stringify(state.frontier.hashes) === JSON.stringify(this.#range.frontierBase64());
    if (this.#suspect) {
      // No later checkpoint: the sequencer's own frontier is the witness.
      if (frontierMatches && stateSize === size) fail({ kind: 'forked_checkpoint', checkpointSize: this.#suspect.size, detail: this.#suspect.detail });
      fail({ kind: 'changed', checkpointSize: this.#suspect.size, detail: `${this.#suspect.detail}; the stored frontier disagrees too, so the leaves were rewritten` });
    }
    const next = this.#due[0] ?? (await this.#db.query<CheckpointRow>('SELECT size, root_hash, note FROM audit_checkpoints WHERE size > $1 ORDER BY size LIMIT 1', [size])).rows[0];
    if (next) fail({ kind: 'missing', index: size, checkpointSize: Number(next.size), detail: `checkpoint ${Number(next.size)} covers leaves from ${size} that are gone` });
    if (stateSize > size) fail({ kind: 'missing', index: size, detail: `the log state has ${stateSize} leaves but only ${size} are stored` });
    if (stateSize < size) fail({ kind: 'forged', index: stateSize, detail: `${size} leaves are stored but the log state records ${stateSize}` });
    await this.#checkUnsequenced();
    if (!frontierMatches) fail({ kind: 'changed', index: size, detail: 'audit_log_state.frontier differs from the recomputed compact range' });
  }

  /** Every entry must be either sequenced (a leaf) or waiting to be (pending); anything else bypassed `appendAuditEntry`. */
  async #checkUnsequenced(): Promise<void> {
    // By now each of the `size` leaves has been shown to hold its own entry row (a leaf whose
    // entry is gone or that holds another entry's bytes was reported), so `size` entries are
    // sequenced, each once. Counting the entries and the pending ones that are not sequenced
    // is cheap; the anti-join over the whole table that names a stray entry is not (it costs
    // about a second per million entries), so it runs only when the counts leave one over.
    const counts = await this.#db.query<{ entries: number | string; pending: number | string }>(
      `SELECT (SELECT count(*) FROM audit_entries) AS entries,
              (SELECT count(DISTINCT p.entry_id) FROM audit_pending p JOIN audit_entries e ON e.id = p.entry_id
                WHERE NOT EXISTS (SELECT 1 FROM audit_leaves l WHERE l.entry_id = p.entry_id)) AS pending`,
    );
    const row = counts.rows[0];
    if (row && Number(row.entries) === this.#range.size + Number(row.pending)) return;
    const r = await this.#db.query<{ id: string }>(
      `SELECT e.id FROM audit_entries e
        WHERE NOT EXISTS (SELECT 1 FROM audit_leaves l WHERE l.entry_id = e.id)
          AND NOT EXISTS (SELECT 1 FROM audit_pending p WHERE p.entry_id = e.id)
        ORDER BY e.recorded_at, e.id LIMIT 1`,
    );
    const id = r.rows[0]?.id;
    if (id !== undefined) fail({ kind: 'forged', detail: `entry ${id} was neither sequenced nor queued for sequencing: it bypassed appendAuditEntry` });
  }
}

/**
 * Verifies the whole stored audit log and reports the first problem, in log order:
 *
 * - `missing`: a leaf index is absent, fewer leaves are stored than the log state or a checkpoint
 *   records, the entry a leaf references is gone, or an interior node of the tree is absent;
 * - `reordered`: a leaf's bytes embed another index than its position (checked first);
 * - `changed`: leaf bytes do not hash to the stored leaf hash, the entry row no longer produces
 *   the leaf bytes, a stored interior hash or the stored frontier differs from the recomputed
 *   tree, or two signed checkpoints in a row disagree with the recomputed tree (leaves rewritten
 *   together with their hashes; `checkpointSize` names the first);
 * - `forged`: a leaf at or beyond the largest checkpoint size (every sequencing transaction
 *   signs a checkpoint covering what it writes, so an uncovered leaf was not written by the
 *   sequencer), more leaves than the log state records, or an entry that is neither sequenced
 *   nor pending (inserted bypassing `appendAuditEntry`; no `index`);
 * - `bad_checkpoint`: a checkpoint not signed by a trusted key for this log's origin, malformed,
 *   or whose row (size, root_hash) disagrees with its note;
 * - `forked_checkpoint`: a validly signed checkpoint whose root is not the recomputed root at
 *   its size while the next checkpoint (or, for the last one, the stored frontier) agrees with
 *   the recomputed tree: the key signed a tree inconsistent with its neighbours.
 */
export async function verifyAuditLog(db: Queryable, options: AuditVerifyOptions): Promise<AuditVerifyReport> {
  return runVerifier(new LogVerifier(db, options));
}

async function runVerifier(verifier: LogVerifier): Promise<AuditVerifyReport> {
  try {
    const { size, checkpoints } = await verifier.run();
    return { ok: true, size, checkpoints };
  } catch (err) {
    if (err instanceof Found) return { ok: false, problem: err.problem };
    throw err;
  }
}

/** Options of `verifyAuditLogSnapshot`. */
export interface AuditSnapshotOptions extends AuditVerifyOptions {
  db: Db;
}

/**
 * Connections reading leaves at once on PostgreSQL. Two keep the database busy computing one
 * batch while the other streams in; more only compete with this process for the same cores.
 */
const SNAPSHOT_READERS = 2;

/**
 * Runs `fn` with `count` more transactions of `db` on `snapshot`, exported by an
 * open repeatable-read transaction (PostgreSQL's pg_export_snapshot): they see exactly what it sees.
 */
async function withSnapshotReaders<T>(db: Db, shared: { snapshot: string; count: number }, fn: (readers: Queryable[]) => Promise<T>): Promise<T> {
  const { snapshot, count } = shared;
  const open = (readers: Queryable[]): Promise<T> =>
    readers.length === count
      ? fn(readers)
      : db.transaction(
          async (tx) => {
            await tx.query(`SET TRANSACTION SNAPSHOT '${snapshot.replaceAll("'", "''")}'`);
            await tx.query('SET LOCAL jit = off');
            return open([...readers, tx]);
          },
          { isolation: 'repeatable read' },
        );
  return open([]);
}

/**
 * The full verification this process is running, if any. Each one holds a connection and then
 * asks the pool for SNAPSHOT_READERS more: several at once could each hold some and all wait for
 * the rest. Run one after another they cannot (and they compete for the same cores anyway).
 */
const fullVerifications = serialQueue();

/** Verifies the whole log in one repeatable-read snapshot, so a running sequencer cannot race the check. */
export async function verifyAuditLogSnapshot(options: AuditSnapshotOptions): Promise<AuditVerifyReport> {
  return fullVerifications(() => verifyInSnapshot(options));
}

async function verifyInSnapshot(options: AuditSnapshotOptions): Promise<AuditVerifyReport> {
  const { db, ...rest } = options;
  return db.transaction(
    async (tx) => {
      // Each batch is a few milliseconds of work; compiling it first (the planner's estimate
      // can pass jit_above_cost, as on tables with no statistics yet) costs more than running it.
      await tx.query('SET LOCAL jit = off');
      if (db.kind !== 'postgres') return verifyAuditLog(tx, rest);
      const exported = await tx.query<{ snapshot: string }>('SELECT pg_export_snapshot() AS snapshot');
      const snapshot = exported.rows[0]?.snapshot;
      if (snapshot === undefined) throw new Error('pg_export_snapshot returned nothing');
      return withSnapshotReaders(db, { snapshot, count: SNAPSHOT_READERS }, (readers) => runVerifier(new LogVerifier(tx, rest, readers)));
    },
    { isolation: 'repeatable read' },
  );
}
