// The audit log's Merkle tree (RFC 6962 / RFC 9162 §2.1). Pure: hashing and arithmetic only,
// so an auditor can re-run every check offline and the evidence never depends on I/O.
//
// Proof generation reads the tree through a HashSource of aligned perfect subtrees, which is
// what the sequencer persists (see CompactRange.append). Every proof is assembled from the
// MTH of O(log n) sub-ranges of the tree, so the log never needs the whole tree in memory.
//
// Sizes and indices are JavaScript numbers (safe integers, < 2^53). Bitwise operators are
// avoided on purpose: they truncate to 32 bits, and a log may outgrow 2^31 entries.

import * as crypto from 'node:crypto';

/** Size in bytes of every hash in the tree (SHA-256). */
export const HASH_SIZE = 32;

const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = Buffer.from([0x01]);

// crypto.hash (Node ≥ 20.12) hashes in one call, about a third cheaper than a Hash object for
// inputs this small; the tree computes one or two per leaf, so it shows in full verification.
const oneShot = (crypto as { hash?: (algorithm: string, data: Uint8Array | string, encoding: 'buffer') => Buffer }).hash;
// One reusable input buffer for node hashes: hashing is synchronous, so no call can interleave.
const nodeInput = Buffer.alloc(1 + 2 * HASH_SIZE);
nodeInput[0] = 0x01;

/** RFC 9162 leaf hash: SHA-256(0x00 ‖ bytes). */
export function leafHash(bytes: Uint8Array): Buffer {
  if (oneShot) return oneShot('sha256', Buffer.concat([LEAF_PREFIX, bytes]), 'buffer');
  return crypto.createHash('sha256').update(LEAF_PREFIX).update(bytes).digest();
}

/** RFC 9162 leaf hash of the UTF-8 bytes of `text`: SHA-256(0x00 ‖ UTF-8(text)), without copying them first. */
export function leafHashOfText(text: string): Buffer {
  if (oneShot) return oneShot('sha256', `\u0000${text}`, 'buffer');
  return crypto.createHash('sha256').update(LEAF_PREFIX).update(text, 'utf8').digest();
}

/** RFC 9162 interior node hash: SHA-256(0x01 ‖ left ‖ right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  if (oneShot && left.length === HASH_SIZE && right.length === HASH_SIZE) {
    nodeInput.set(left, 1);
    nodeInput.set(right, 1 + HASH_SIZE);
    return oneShot('sha256', nodeInput, 'buffer');
  }
  return crypto.createHash('sha256').update(NODE_PREFIX).update(left).update(right).digest();
}

// Private copy: the exported Buffer is mutable, and a caller writing into it must not change
// what this module computes for the empty tree.
const EMPTY = crypto.createHash('sha256').digest();

/** MTH({}) = SHA-256 of the empty string, the root of the empty tree (a copy; this module never reads it). */
export const EMPTY_ROOT: Buffer = Buffer.from(EMPTY);

/** An aligned perfect subtree by position: leaves [index·2^level, (index+1)·2^level). */
export interface SubtreeId {
  level: number;
  index: number;
}

/**
 * Read access to a tree's aligned perfect subtrees: `subtreeHash(start, end)` is the RFC 9162
 * MTH of leaves [start, end), where end - start is a power of two and start a multiple of it.
 */
export interface HashSource {
  subtreeHash(start: number, end: number): Promise<Buffer>;
  /**
   * Optional batch form: the hashes of `subtrees`, in the same order. When present, proofs ask
   * for everything they need in this one call (a database answers it in one query).
   */
  subtreeHashes?(subtrees: readonly SubtreeId[]): Promise<Buffer[]>;
}

// ---------------------------------------------------------------------------
// Arithmetic helpers (safe integers, no 32-bit bitwise operators).

function isCount(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

/** True for 1, 2, 4, … (no bitwise operators: sizes may exceed 2^31). */
function isPowerOfTwo(n: number): boolean {
  if (!Number.isSafeInteger(n) || n < 1) return false;
  let p = 1;
  while (p < n) p *= 2;
  return p === n;
}

/** k of the RFC split rule: the largest power of two strictly below n (n ≥ 2). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function isOdd(n: number): boolean {
  return n % 2 === 1;
}

function half(n: number): number {
  return Math.floor(n / 2);
}

function popCount(n: number): number {
  let count = 0;
  for (let m = n; m > 0; m = half(m)) count += m % 2;
  return count;
}

function isHash(h: unknown): h is Uint8Array {
  return h instanceof Uint8Array && h.length === HASH_SIZE;
}

function isHashList(list: unknown): list is readonly Uint8Array[] {
  return Array.isArray(list) && list.every(isHash);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

function describeRange(start: number, end: number): string {
  return `[${String(start)}, ${String(end)})`;
}

// ---------------------------------------------------------------------------
// Proof generation.

/**
 * MTH(D[start:end]) for any range, by the RFC split rule (k = largest power of two < n), asking
 * `source` only for aligned perfect subtrees; O(log n) lookups when start is a multiple of the
 * smallest power of two ≥ n, which holds for every range a proof of the tree [0, size) uses.
 */
export async function rangeHash(source: HashSource, start: number, end: number): Promise<Buffer> {
  if (!isCount(start) || !isCount(end) || start > end) {
    throw new RangeError(`invalid leaf range ${describeRange(start, end)}`);
  }
  const [hash] = await resolveRanges(source, [{ start, end }]);
  return hash ?? Buffer.from(EMPTY); // unreachable: one range in, one hash out
}

/** Root hash MTH(D[0:size]) of the tree of the first `size` leaves (EMPTY_ROOT for size 0). */
export async function rootHash(source: HashSource, size: number): Promise<Buffer> {
  if (!isCount(size)) throw new RangeError(`invalid tree size ${String(size)}`);
  return rangeHash(source, 0, size);
}

/** A leaf range [start, end). */
export interface LeafRange {
  start: number;
  end: number;
}

function isAlignedPerfect(start: number, end: number): boolean {
  const n = end - start;
  return isPowerOfTwo(n) && start % n === 0;
}

/** The aligned perfect subtrees MTH(D[start:end]) folds, by the split rule, in the order `foldRange` reads them. */
function rangeSubtrees(range: LeafRange, out: LeafRange[]): void {
  const { start, end } = range;
  if (end - start === 0) return;
  if (isAlignedPerfect(start, end)) {
    out.push(range);
    return;
  }
  const k = splitPoint(end - start);
  rangeSubtrees({ start, end: start + k }, out);
  rangeSubtrees({ start: start + k, end }, out);
}

/** MTH(D[start:end]) from the hashes of its aligned perfect subtrees (pure; `rangeSubtrees` lists them). */
function foldRange(range: LeafRange, known: ReadonlyMap<string, Buffer>): Buffer {
  const { start, end } = range;
  if (end - start === 0) return Buffer.from(EMPTY);
  if (isAlignedPerfect(start, end)) {
    const hash = known.get(rangeKey(range));
    if (!hash) throw new Error(`subtree ${describeRange(start, end)} was not fetched`); // unreachable: planned first
    return Buffer.from(hash);
  }
  const k = splitPoint(end - start);
  return nodeHash(foldRange({ start, end: start + k }, known), foldRange({ start: start + k, end }, known));
}

function rangeKey(range: LeafRange): string {
  return `${String(range.start)}:${String(range.end)}`;
}

function subtreeIdOf(range: LeafRange): SubtreeId {
  const width = range.end - range.start;
  return { level: Math.round(Math.log2(width)), index: range.start / width };
}

// A proof is planned as a list of ranges first (pure arithmetic); the aligned subtrees they
// need are then fetched together (one batch call when the source has one) and folded.
async function resolveRanges(source: HashSource, ranges: readonly LeafRange[]): Promise<Buffer[]> {
  const planned: LeafRange[] = [];
  for (const r of ranges) rangeSubtrees(r, planned);
  const unique = [...new Map(planned.map((r) => [rangeKey(r), r])).values()];
  const hashes = source.subtreeHashes
    ? await source.subtreeHashes(unique.map(subtreeIdOf))
    : await Promise.all(unique.map((r) => source.subtreeHash(r.start, r.end)));
  const known = new Map<string, Buffer>();
  unique.forEach((r, i) => {
    const hash = hashes[i];
    // A short or missing hash from storage would otherwise surface as a proof that never verifies.
    if (!isHash(hash)) throw new Error(`HashSource returned a malformed hash for ${describeRange(r.start, r.end)}`);
    known.set(rangeKey(r), Buffer.from(hash));
  });
  return ranges.map((r) => foldRange(r, known));
}

/** RFC 9162 §2.1.3.1 PATH(index, D[0:size]) as ranges: what each proof element covers, leaf level first. */
export function inclusionPathRanges(index: number, size: number): LeafRange[] {
  // Walk down from the root. The RFC's recursion appends each sibling after the deeper part of
  // the path, so siblings are collected top-down and reversed.
  const siblings: LeafRange[] = [];
  let start = 0;
  let end = size;
  while (end - start > 1) {
    const mid = start + splitPoint(end - start);
    if (index < mid) {
      siblings.push({ start: mid, end }); // PATH(m, D[0:k]) : MTH(D[k:n])
      end = mid;
    } else {
      siblings.push({ start, end: mid }); // PATH(m - k, D[k:n]) : MTH(D[0:k])
      start = mid;
    }
  }
  return siblings.reverse();
}

/** RFC 9162 §2.1.4.1 SUBPROOF(from, D[0:to], true) as ranges, in proof order. */
function subproofRanges(from: number, to: number): LeafRange[] {
  const nodes: LeafRange[] = [];
  let start = 0;
  let end = to;
  let wholeTreeKnown = true; // the RFC's b: the verifier already holds MTH of this subtree
  for (;;) {
    if (from === end) {
      // m = n: SUBPROOF(m, D[m], true) = {}, SUBPROOF(m, D[m], false) = {MTH(D[m])}
      if (!wholeTreeKnown) nodes.push({ start, end });
      break;
    }
    // The recursion ends at m = n at the latest when one leaf is left; failing loudly here
    // beats looping forever if a caller ever gets past the domain check with from ∉ (0, to].
    if (end - start < 2) throw new Error(`SUBPROOF invariant broken: from ${String(from)} not in ${describeRange(start, end)}`);
    const mid = start + splitPoint(end - start);
    if (from <= mid) {
      nodes.push({ start: mid, end }); // SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
      end = mid;
    } else {
      nodes.push({ start, end: mid }); // SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
      start = mid;
      wholeTreeKnown = false;
    }
  }
  return nodes.reverse();
}

/** RFC 9162 §2.1.3.1 inclusion proof (audit path) for leaf `index` in the tree of `size` leaves. */
export async function inclusionProof(source: HashSource, index: number, size: number): Promise<Buffer[]> {
  if (!isCount(index) || !isCount(size) || index >= size) {
    throw new RangeError(`no inclusion proof for leaf ${String(index)} in a tree of size ${String(size)}`);
  }
  return resolveRanges(source, inclusionPathRanges(index, size));
}

/** RFC 9162 §2.1.4.1 consistency proof PROOF(from, D[0:to]); empty when from = to. Requires 0 < from ≤ to. */
export async function consistencyProof(source: HashSource, from: number, to: number): Promise<Buffer[]> {
  // from = 0 is refused: RFC 9162 defines PROOF(m, D_n) only for 0 < m, and verifiers
  // (ours and the reference vectors) reject any proof from the empty tree.
  if (!isCount(from) || !isCount(to) || from < 1 || from > to) {
    throw new RangeError(`no consistency proof from size ${String(from)} to size ${String(to)}`);
  }
  return resolveRanges(source, subproofRanges(from, to));
}

/** A HashSource over leaf hashes held in memory, memoising subtree hashes; for tests and small exports. */
export class InMemoryHashSource implements HashSource {
  readonly #leaves: Buffer[];
  readonly #memo = new Map<string, Buffer>();

  constructor(leafHashes: readonly Uint8Array[]) {
    // Copied so a caller reusing its buffers cannot change hashes this source has memoised.
    this.#leaves = leafHashes.map((h, i) => {
      if (!isHash(h)) throw new RangeError(`leaf hash ${String(i)} is not ${String(HASH_SIZE)} bytes`);
      return Buffer.from(h);
    });
  }

  /** Number of leaves. */
  get size(): number {
    return this.#leaves.length;
  }

  /** MTH of the aligned perfect subtree [start, end); rejects anything else, as stored tables would. */
  async subtreeHash(start: number, end: number): Promise<Buffer> {
    const width = end - start;
    if (!isCount(start) || !isCount(end) || end > this.#leaves.length || !isPowerOfTwo(width) || start % width !== 0) {
      const where = `a tree of size ${String(this.size)}`;
      throw new RangeError(`${describeRange(start, end)} is not an aligned perfect subtree of ${where}`);
    }
    return Buffer.from(this.#perfect(start, end));
  }

  #perfect(start: number, end: number): Buffer {
    if (end - start === 1) {
      const leaf = this.#leaves[start];
      if (!leaf) throw new RangeError(`no leaf ${String(start)}`); // unreachable after the bounds check
      return leaf;
    }
    const key = `${String(start)}:${String(end)}`;
    const known = this.#memo.get(key);
    if (known) return known;
    const mid = start + (end - start) / 2;
    const hash = nodeHash(this.#perfect(start, mid), this.#perfect(mid, end));
    this.#memo.set(key, hash);
    return hash;
  }
}

// ---------------------------------------------------------------------------
// Proof verification. Returns false, never throws: inputs arrive from clients and files.

/** Arguments of `verifyInclusion`. */
export interface InclusionCheck {
  index: number;
  size: number;
  leafHash: Uint8Array;
  proof: readonly Uint8Array[];
  root: Uint8Array;
}

/** RFC 9162 §2.1.3.2: does `proof` show leaf `index` with hash `leafHash` in the tree of `size` with `root`? */
export function verifyInclusion(check: InclusionCheck): boolean {
  if (typeof check !== 'object' || check === null) return false;
  const { index, size, proof, root } = check;
  if (!isCount(index) || !isCount(size) || index >= size) return false;
  // Hash lengths are checked, not just compared: for size 1 the proof is empty and an
  // empty "leaf hash" would otherwise match an empty "root".
  if (!isHash(check.leafHash) || !isHash(root) || !isHashList(proof)) return false;

  let fn = index;
  let sn = size - 1;
  let r: Buffer = Buffer.from(check.leafHash);
  for (const p of proof) {
    if (sn === 0) return false; // proof longer than the path
    if (isOdd(fn) || fn === sn) {
      r = nodeHash(p, r);
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && sameBytes(r, root);
}

/** Arguments of `verifyConsistency`. */
export interface ConsistencyCheck {
  from: number;
  to: number;
  fromRoot: Uint8Array;
  toRoot: Uint8Array;
  proof: readonly Uint8Array[];
}

/** RFC 9162 §2.1.4.2: does `proof` show the tree (`from`, `fromRoot`) is a prefix of the tree (`to`, `toRoot`)? */
export function verifyConsistency(check: ConsistencyCheck): boolean {
  if (typeof check !== 'object' || check === null) return false;
  const { from, to, fromRoot, toRoot, proof } = check;
  if (!isCount(from) || !isCount(to) || from > to || !Array.isArray(proof)) return false;
  if (!(fromRoot instanceof Uint8Array) || !(toRoot instanceof Uint8Array)) return false;
  // A proof from the empty tree proves nothing (RFC 9162 defines PROOF(m, D_n) for 0 < m only);
  // the reference vectors reject it even for 0 → 0.
  if (from === 0) return false;
  // Same size, same tree: nothing to prove but that the roots are identical. The reference
  // vectors compare bytes here without checking lengths, and so do we.
  if (from === to) return proof.length === 0 && sameBytes(fromRoot, toRoot);
  // RFC step 1: an empty path fails.
  if (!isHash(fromRoot) || !isHash(toRoot) || !isHashList(proof) || proof.length === 0) return false;

  // RFC step 2: if `from` is a power of two, its root is a node of the new tree, omitted from the path.
  const path = isPowerOfTwo(from) ? [fromRoot, ...proof] : [...proof];
  let fn = from - 1;
  let sn = to - 1;
  while (isOdd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  const [seed, ...rest] = path;
  if (!seed) return false; // unreachable: path is non-empty
  let fr: Buffer = Buffer.from(seed);
  let sr: Buffer = Buffer.from(seed);
  for (const c of rest) {
    if (sn === 0) return false; // proof longer than the path
    if (isOdd(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && sameBytes(fr, fromRoot) && sameBytes(sr, toRoot);
}

// ---------------------------------------------------------------------------
// Compact range: the O(log n) frontier of an append-only tree.

/** An aligned perfect subtree: leaves [index·2^level, (index+1)·2^level), with its MTH. */
export interface Subtree {
  level: number;
  index: number;
  hash: Buffer;
}

/** Serialised CompactRange: the tree size and the frontier hashes (base64), largest subtree first. */
export interface CompactRangeState {
  size: number;
  hashes: string[];
}

/**
 * The compact range [0, size) (transparency-dev/merkle `compact`): one perfect subtree root per
 * set bit of size, enough to append leaves and compute the root without the rest of the tree.
 */
export class CompactRange {
  #size = 0;
  // Roots of the perfect subtrees that tile [0, size), leftmost (largest) first.
  #hashes: Buffer[] = [];

  /** Number of leaves appended so far. */
  get size(): number {
    return this.#size;
  }

  /** Appends a leaf hash; returns the subtrees it completes (the leaf itself, level 0, first) for the caller to persist. */
  append(leafHashValue: Uint8Array): Subtree[] {
    if (!isHash(leafHashValue)) throw new RangeError(`leaf hash must be ${String(HASH_SIZE)} bytes`);
    if (this.#size >= Number.MAX_SAFE_INTEGER) throw new RangeError('compact range is full');
    let hash: Buffer = Buffer.from(leafHashValue);
    let level = 0;
    let index = this.#size;
    const completed: Subtree[] = [{ level, index, hash: Buffer.from(hash) }];
    // Each trailing 1-bit of the old size is a perfect subtree waiting for a right sibling of
    // the same size; the new leaf completes them one after another, like a binary carry.
    for (let s = this.#size; isOdd(s); s = half(s)) {
      const left = this.#hashes.pop();
      if (!left) throw new Error('compact range is corrupt'); // unreachable: one hash per set bit
      hash = nodeHash(left, hash);
      level += 1;
      index = half(index);
      completed.push({ level, index, hash: Buffer.from(hash) });
    }
    this.#hashes.push(hash);
    this.#size += 1;
    return completed;
  }

  /** MTH(D[0:size]): the frontier folded right to left, which is the RFC split rule (EMPTY_ROOT when empty). */
  root(): Buffer {
    let acc: Buffer | undefined;
    for (let i = this.#hashes.length - 1; i >= 0; i--) {
      const h = this.#hashes[i];
      if (!h) continue; // unreachable: i is in bounds
      acc = acc ? nodeHash(h, acc) : Buffer.from(h);
    }
    return acc ?? Buffer.from(EMPTY);
  }

  /** The serialisable state `{ size, hashes }` (also what JSON.stringify writes). */
  toJSON(): CompactRangeState {
    return { size: this.#size, hashes: this.#hashes.map((h) => h.toString('base64')) };
  }

  /** Restores a range from `toJSON()` output; throws on any malformed state rather than continue a wrong tree. */
  static fromJSON(state: CompactRangeState): CompactRange {
    if (typeof state !== 'object' || state === null || !isCount(state.size) || !Array.isArray(state.hashes)) {
      throw new RangeError('compact range state must be { size, hashes[] }');
    }
    const want = popCount(state.size);
    if (state.hashes.length !== want) {
      const got = String(state.hashes.length);
      throw new RangeError(`compact range of size ${String(state.size)} needs ${String(want)} hashes, got ${got}`);
    }
    const hashes = state.hashes.map((b64, i) => {
      // Node's base64 decoder skips invalid characters; round-tripping makes it strict.
      const bytes = typeof b64 === 'string' ? Buffer.from(b64, 'base64') : Buffer.alloc(0);
      if (bytes.length !== HASH_SIZE || bytes.toString('base64') !== b64) {
        throw new RangeError(`compact range hash ${String(i)} is not a base64 ${String(HASH_SIZE)}-byte hash`);
      }
      return bytes;
    });
    const range = new CompactRange();
    range.#size = state.size;
    range.#hashes = hashes;
    return range;
  }
}
