// An independent RFC 9162 verifier, written from the RFC text (§2.1.1 – §2.1.4) and sharing no
// code with src/audit: it checks the product's proofs (in tests, and later against the live
// HTTP API), so a misreading of the RFC in the product cannot also hide in its checker.
// Deliberately different in form: BigInt arithmetic (tree sizes are uint64 in the RFC), RFC
// variable names, and a list-based MTH instead of aligned subtrees.

import { createHash } from 'node:crypto';

// §2.1: the log's hash algorithm is SHA-256; every hash has its output length.
const SHA256_BYTES = 32;

type Bytes = Uint8Array;

/** A tree size or leaf index as given by a client: a safe integer or a uint64 BigInt. */
export type Uint64 = number | bigint;

function sha256(...parts: Bytes[]): Buffer {
  const h = createHash('sha256');
  for (const part of parts) h.update(part);
  return h.digest();
}

/** §2.1.1: MTH({d(0)}) = HASH(0x00 || d(0)). */
export function rfcLeafHash(entry: Bytes): Buffer {
  return sha256(Uint8Array.of(0), entry);
}

/** §2.1.1: HASH(0x01 || left || right). */
export function rfcNodeHash(left: Bytes, right: Bytes): Buffer {
  return sha256(Uint8Array.of(1), left, right);
}

// §2.1.1: "k is the largest power of two smaller than n (i.e., k < n <= 2k)".
function largestPowerOfTwoSmallerThan(n: number): number {
  let k = 1;
  while (k < n) k *= 2;
  return k / 2;
}

/** §2.1.1 MTH over already-hashed leaves (MTH({}) = HASH() for the empty list). */
export function rfcMthOfLeafHashes(leafHashes: readonly Bytes[]): Buffer {
  const n = leafHashes.length;
  if (n === 0) return sha256();
  if (n === 1) return Buffer.from(leafHashes[0] as Bytes);
  const k = largestPowerOfTwoSmallerThan(n);
  return rfcNodeHash(rfcMthOfLeafHashes(leafHashes.slice(0, k)), rfcMthOfLeafHashes(leafHashes.slice(k)));
}

/** §2.1.1 MTH(D_n) of the full list of leaf entries. */
export function rfcMth(entries: readonly Bytes[]): Buffer {
  return rfcMthOfLeafHashes(entries.map(rfcLeafHash));
}

// ---------------------------------------------------------------------------

function toU64(x: unknown): bigint | null {
  if (typeof x === 'bigint') return x >= 0n && x < 1n << 64n ? x : null;
  if (typeof x === 'number' && Number.isSafeInteger(x) && x >= 0) return BigInt(x);
  return null;
}

function isSha256(x: unknown): x is Bytes {
  return x instanceof Uint8Array && x.byteLength === SHA256_BYTES;
}

function equalBytes(a: Bytes, b: Bytes): boolean {
  if (a.byteLength !== b.byteLength) return false;
  let diff = 0;
  for (let i = 0; i < a.byteLength; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}

const lsb = (x: bigint): boolean => (x & 1n) === 1n;

/** Inputs of §2.1.3.2, named as in the RFC. */
export interface RfcInclusionInput {
  leafIndex: Uint64;
  treeSize: Uint64;
  /** The leaf hash ("hash" in the RFC), i.e. HASH(0x00 || entry). */
  leafHash: Bytes;
  inclusionPath: readonly Bytes[];
  rootHash: Bytes;
}

/** §2.1.3.2 verification of an inclusion proof; false on any malformed input. */
export function rfcVerifyInclusion(input: RfcInclusionInput): boolean {
  const leafIndex = toU64(input.leafIndex);
  const treeSize = toU64(input.treeSize);
  const path = input.inclusionPath;
  if (leafIndex === null || treeSize === null) return false;
  // Not in the algorithm's steps, but every hash in the log has the hash output length; without
  // this, an empty "hash" would equal an empty "root_hash" for a one-leaf tree.
  if (!isSha256(input.leafHash) || !isSha256(input.rootHash)) return false;
  if (!Array.isArray(path) || !path.every(isSha256)) return false;

  // 1. leaf_index >= tree_size fails.
  if (leafIndex >= treeSize) return false;
  // 2. fn = leaf_index, sn = tree_size - 1.
  let fn = leafIndex;
  let sn = treeSize - 1n;
  // 3. r = hash.
  let r: Bytes = input.leafHash;
  // 4. For each p in inclusion_path:
  for (const p of path) {
    // a. sn = 0 → stop and fail.
    if (sn === 0n) return false;
    // b. LSB(fn) set, or fn == sn:
    if (lsb(fn) || fn === sn) {
      r = rfcNodeHash(p, r);
      if (!lsb(fn)) {
        do {
          fn >>= 1n;
          sn >>= 1n;
        } while (!lsb(fn) && fn !== 0n);
      }
    } else {
      r = rfcNodeHash(r, p);
    }
    // c. right-shift both once.
    fn >>= 1n;
    sn >>= 1n;
  }
  // 5. sn == 0 and r == root_hash.
  return sn === 0n && equalBytes(r, input.rootHash);
}

/** Inputs of §2.1.4.2, named as in the RFC. */
export interface RfcConsistencyInput {
  first: Uint64;
  second: Uint64;
  firstHash: Bytes;
  secondHash: Bytes;
  consistencyPath: readonly Bytes[];
}

/** §2.1.4.2 verification of a consistency proof; false on any malformed input. */
export function rfcVerifyConsistency(input: RfcConsistencyInput): boolean {
  const first = toU64(input.first);
  const second = toU64(input.second);
  const path = input.consistencyPath;
  if (first === null || second === null || !Array.isArray(path)) return false;
  if (!(input.firstHash instanceof Uint8Array) || !(input.secondHash instanceof Uint8Array)) return false;
  // The tree can only grow.
  if (first > second) return false;
  // §2.1.4.1 defines PROOF(m, D_n) for 0 < m only: there is no proof from the empty tree.
  if (first === 0n) return false;
  // Identical sizes: the trees are the same iff their heads are; a proof would have nothing to
  // add, so it must be empty. (transparency-dev compares raw bytes here; so do we.)
  if (first === second) return path.length === 0 && equalBytes(input.firstHash, input.secondHash);

  if (!isSha256(input.firstHash) || !isSha256(input.secondHash) || !path.every(isSha256)) return false;
  // 1. An empty consistency_path fails.
  if (path.length === 0) return false;
  // 2. If first is an exact power of 2, prepend first_hash.
  const isPow2 = (first & (first - 1n)) === 0n;
  const hashes: readonly Bytes[] = isPow2 ? [input.firstHash, ...path] : path;
  // 3. fn = first - 1, sn = second - 1.
  let fn = first - 1n;
  let sn = second - 1n;
  // 4. While LSB(fn) is set, right-shift both.
  while (lsb(fn)) {
    fn >>= 1n;
    sn >>= 1n;
  }
  // 5. fr = sr = the first value of the path.
  let fr = hashes[0] as Bytes;
  let sr = fr;
  // 6. For each subsequent c:
  for (const c of hashes.slice(1)) {
    if (sn === 0n) return false;
    if (lsb(fn) || fn === sn) {
      fr = rfcNodeHash(c, fr);
      sr = rfcNodeHash(c, sr);
      if (!lsb(fn)) {
        do {
          fn >>= 1n;
          sn >>= 1n;
        } while (!lsb(fn) && fn !== 0n);
      }
    } else {
      sr = rfcNodeHash(sr, c);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  // 7. fr == first_hash, sr == second_hash, sn == 0.
  return sn === 0n && equalBytes(fr, input.firstHash) && equalBytes(sr, input.secondHash);
}
