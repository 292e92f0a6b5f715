// The RFC 9162 tree as full verification re-hashes it: merkle.ts's CompactRange, with every
// hash a lower-case hex string instead of a Buffer.
//
// Verification hashes a leaf and about one interior node per leaf. As Buffers, each of those
// hashes and their copies is a small ArrayBuffer the garbage collector has to track, which
// cost more than the hashing; as hex strings they are plain heap strings, and compare
// directly with the hex the database sends. Tests hold this to CompactRange.

import * as crypto from 'node:crypto';

/** Bytes of a SHA-256 hash; twice as many hex digits. */
const HASH_BYTES = 32;
export const HEX_HASH_LENGTH = 2 * HASH_BYTES;

// crypto.hash (Node ≥ 20.12) hashes in one call; earlier releases take a Hash object.
const oneShot = (crypto as { hash?: (algorithm: string, data: Uint8Array | string, encoding: 'hex') => string }).hash;

/** SHA-256 of `data` (a string as UTF-8), in lower-case hex. */
export function sha256Hex(data: Uint8Array | string): string {
  return oneShot ? oneShot('sha256', data, 'hex') : crypto.createHash('sha256').update(data).digest('hex');
}

/** RFC 9162 leaf hash of the UTF-8 of `text`, SHA-256(0x00 ‖ UTF-8(text)), in hex (merkle.ts's leafHashOfText). */
export function leafHashHexOfText(text: string): string {
  return sha256Hex(`\u0000${text}`);
}

/** Called for each interior node an append completes, bottom up: (level ≥ 1, index at that level, hash). */
export type CompletedNode = (level: number, index: number, hash: string) => void;

/** A compact range (merkle.ts's CompactRange) over hex hashes. */
export class HexCompactRange {
  #size = 0;
  /** Roots of the perfect subtrees that tile [0, size), largest first. */
  readonly #hashes: string[] = [];
  /** 0x01 ‖ left ‖ right, rewritten for each interior node: hashing is synchronous. */
  readonly #nodeInput = Buffer.alloc(1 + 2 * HASH_BYTES);

  constructor() {
    this.#nodeInput[0] = 0x01;
  }

  get size(): number {
    return this.#size;
  }

  /** Appends a leaf hash (64 lower-case hex digits; the caller has checked it). */
  append(leafHash: string, completed: CompletedNode): void {
    let hash = leafHash;
    let index = this.#size;
    let level = 0;
    // Each trailing 1-bit of the old size is a perfect subtree waiting for a right sibling of
    // the same size; the new leaf completes them one after another, like a binary carry.
    for (let s = this.#size; s % 2 === 1; s = (s - 1) / 2) {
      hash = this.#node(this.#hashes.pop() as string, hash);
      level += 1;
      index = Math.floor(index / 2);
      completed(level, index, hash);
    }
    this.#hashes.push(hash);
    this.#size += 1;
  }

  /** MTH(D[0:size]): the frontier folded right to left (SHA-256 of nothing when empty). */
  root(): Buffer {
    let acc: string | undefined;
    for (let i = this.#hashes.length - 1; i >= 0; i--) {
      const h = this.#hashes[i] as string;
      acc = acc === undefined ? h : this.#node(h, acc);
    }
    return Buffer.from(acc ?? sha256Hex(''), 'hex');
  }

  /** The frontier as CompactRange.toJSON() writes its hashes (base64). */
  frontierBase64(): string[] {
    return this.#hashes.map((h) => Buffer.from(h, 'hex').toString('base64'));
  }

  /** RFC 9162 interior node hash SHA-256(0x01 ‖ left ‖ right). */
  #node(left: string, right: string): string {
    // Buffer.write stops at the first character that is not hex: a short write is a bad hash.
    const written = this.#nodeInput.write(left, 1, HASH_BYTES, 'hex') + this.#nodeInput.write(right, 1 + HASH_BYTES, HASH_BYTES, 'hex');
    if (written !== 2 * HASH_BYTES || left.length !== HEX_HASH_LENGTH || right.length !== HEX_HASH_LENGTH) {
      throw new Error('audit verification: a tree hash is not 64 hex digits');
    }
    return sha256Hex(this.#nodeInput);
  }
}
