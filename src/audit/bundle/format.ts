// The audit bundle format (`assay-audit-bundle/v1`): member names, the shapes of its JSON
// files, and the pure arithmetic that both the exporter and the verifier use. No I/O here, so
// an auditor can read the whole format in one place.

import { z } from 'zod';
import { ValidationFailed } from '../../core/index.js';
import { nodeHash, type LeafRange } from '../merkle.js';

/** The `format` of every v1 manifest. */
export const BUNDLE_FORMAT = 'assay-audit-bundle/v1';

/** Member file names, in the order the exporter writes them (small files first, so a reader meets the anchor before the leaves). */
export const MEMBER = {
  readme: 'README.md',
  manifest: 'manifest.json',
  script: 'verify.py',
  publicKey: 'public-key.txt',
  checkpoint: 'checkpoint.txt',
  rangeProof: 'range-proof.json',
  earliestCheckpoint: 'earliest-checkpoint.txt',
  consistencyProof: 'consistency-proof.json',
  leaves: 'leaves.jsonl',
  inclusionProofs: 'inclusion-proofs.jsonl',
} as const;

/** Every member a v1 bundle may hold. */
export const MEMBER_NAMES: readonly string[] = Object.values(MEMBER);

/** Members without which a bundle cannot be verified. */
export const REQUIRED_MEMBERS: readonly string[] = MEMBER_NAMES.filter(
  (n) => n !== MEMBER.earliestCheckpoint && n !== MEMBER.consistencyProof,
);

/** Leaves are read from the log in aligned chunks of at most this many (below the API's 1000 per call). */
export const CHUNK_LEAVES = 512;

const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const b64Hash = z.string().regex(/^[A-Za-z0-9+/]{43}=$/, 'must be standard base64 of a 32-byte hash');
const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'must be lowercase hex SHA-256');

/** One member's digest in the manifest. */
export const fileDigestSchema = z.strictObject({ sha256: sha256Hex, bytes: count });

/** `manifest.json`: what the bundle covers and the SHA-256 of every other member. */
export const manifestSchema = z.strictObject({
  format: z.literal(BUNDLE_FORMAT),
  generator: z.string(),
  origin: z.string().min(1),
  createdAt: z.string(),
  exportedVia: z.enum(['server', 'database']),
  window: z.strictObject({
    /** Inclusive lower bound on `recordedAt` (ISO-8601 UTC), null for the beginning of the log. */
    from: z.string().nullable(),
    /** Exclusive upper bound, null for no bound. */
    to: z.string().nullable(),
    /** Leaves of the span whose `recordedAt` is in the window. */
    entries: count,
    /** Index ranges [a, b) of the span whose entries were recorded outside the window. */
    outside: z.array(z.tuple([count, count])),
    /** Entries recorded in the window that the sequencer had not yet given an index (not in the bundle). */
    unsequenced: count,
  }),
  span: z.strictObject({ start: count, end: count }),
  checkpoint: z.strictObject({ size: count, rootHash: b64Hash }),
  key: z.string().min(1),
  earliestCheckpoint: z.strictObject({ size: count }).nullable(),
  files: z.record(z.string(), fileDigestSchema),
});

/** A parsed `manifest.json`. */
export type BundleManifest = z.infer<typeof manifestSchema>;

/** An aligned perfect subtree [start, end) with its RFC 9162 hash (base64). */
export const tileSchema = z.strictObject({ start: count, end: count, hash: b64Hash });

/** `range-proof.json`: the subtrees that, with the span's leaves, tile the anchor tree [0, size). */
export const rangeProofSchema = z.strictObject({
  size: count,
  rootHash: b64Hash,
  start: count,
  end: count,
  left: z.array(tileSchema),
  right: z.array(tileSchema),
});

/** A parsed `range-proof.json`. */
export type RangeProof = z.infer<typeof rangeProofSchema>;

/** One line of `inclusion-proofs.jsonl`. */
export const inclusionLineSchema = z.strictObject({ index: count, proof: z.array(b64Hash) });

/** `consistency-proof.json`: RFC 9162 consistency proof from the earliest checkpoint to the anchor. */
export const consistencyFileSchema = z.strictObject({ from: count, to: count, proof: z.array(b64Hash) });

/** log2 of a power of two. */
export function log2(n: number): number {
  let k = 0;
  for (let p = 1; p < n; p *= 2) k++;
  return k;
}

/**
 * The aligned perfect subtrees (each a node of the tree of `size` leaves) of at most `CHUNK_LEAVES`
 * leaves that cover [start, end); the first may begin before `start`.
 */
export function* leafChunks(span: LeafRange, size: number): Generator<LeafRange> {
  let p = span.start - (span.start % CHUNK_LEAVES);
  while (p < span.end) {
    let width = CHUNK_LEAVES;
    // p is a multiple of CHUNK_LEAVES, hence of every smaller power of two.
    while (p + width > size) width /= 2;
    yield { start: p, end: p + width };
    p += width;
  }
}

/**
 * RFC 9162 root of a tree given as its nodes in left-to-right order: aligned perfect subtrees,
 * and possibly a last, imperfect node on the tree's right edge (the right sibling in an
 * inclusion path can be one). Each perfect subtree is added like a binary carry (the compact
 * range of transparency-dev/merkle), and `root()` folds what is left right to left, which is
 * the RFC's split rule. O(log n) memory.
 */
export class TileFold {
  #size = 0;
  #closed = false;
  #stack: Array<{ width: number; hash: Buffer }> = [];

  /** Leaves covered so far. */
  get size(): number {
    return this.#size;
  }

  /**
   * Appends the node [size, size + width) with hash `hash`. RangeError unless it is an aligned
   * perfect subtree, or an imperfect node starting at a multiple of the next power of two above
   * its width (a right-edge node; nothing may follow it).
   */
  push(width: number, hash: Uint8Array): void {
    let span = 1;
    while (span < width) span *= 2;
    if (this.#closed || !Number.isSafeInteger(width) || width < 1 || this.#size % span !== 0) {
      throw new RangeError(`[${this.#size}, ${this.#size + width}) is not a node of the tree at this place`);
    }
    this.#closed = span !== width;
    let h: Buffer = Buffer.from(hash);
    let w = width;
    for (let top = this.#stack.at(-1); top !== undefined && top.width === w; top = this.#stack.at(-1)) {
      this.#stack.pop();
      h = nodeHash(top.hash, h);
      w *= 2;
    }
    this.#stack.push({ width: w, hash: h });
    this.#size += width;
  }

  /** MTH of everything pushed (undefined when nothing was). */
  root(): Buffer | undefined {
    let acc: Buffer | undefined;
    for (let i = this.#stack.length - 1; i >= 0; i--) {
      const h = this.#stack[i]?.hash;
      if (h) acc = acc ? nodeHash(h, acc) : h;
    }
    return acc;
  }
}

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?(Z|[+-]\d{2}:\d{2})?)?$/;

/**
 * Parses an ISO-8601 date (`2026-01-31`, midnight UTC) or date-time (`2026-01-31T08:00:00Z`;
 * no offset means UTC) to a canonical UTC timestamp. At most millisecond precision: leaves
 * carry `recordedAt` in milliseconds, so a finer bound could not be rechecked from the leaves.
 */
export function parseBundleTime(text: string): string {
  const m = DATE_TIME.exec(text);
  const bad = (why: string): ValidationFailed => new ValidationFailed(`${JSON.stringify(text)} ${why}`, [{ field: 'time', message: why }]);
  if (!m) throw bad('is not an ISO-8601 date (YYYY-MM-DD) or date-time (YYYY-MM-DDTHH:MM[:SS[.mmm]][Z|±HH:MM])');
  const [, y, mo, d, h = '00', mi = '00', s = '00', frac = '0', zone = 'Z'] = m;
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), Number(frac.padEnd(3, '0')));
  const check = new Date(ms);
  if (
    check.getUTCFullYear() !== Number(y) ||
    check.getUTCMonth() !== Number(mo) - 1 ||
    check.getUTCDate() !== Number(d) ||
    check.getUTCHours() !== Number(h) ||
    check.getUTCMinutes() !== Number(mi) ||
    check.getUTCSeconds() !== Number(s)
  ) {
    throw bad('is not a valid calendar date and time');
  }
  const offsetMinutes = zone === 'Z' ? 0 : (zone.startsWith('-') ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
  return new Date(ms - offsetMinutes * 60_000).toISOString();
}

/** A time window on `recordedAt`: `from` inclusive, `to` exclusive, either open. */
export interface BundleWindow {
  from?: string;
  to?: string;
}

/** Whether a leaf recorded at `recordedAt` (ISO-8601) falls in the window; false when it is not a time. */
export function inWindow(recordedAt: unknown, window: BundleWindow): boolean {
  if (typeof recordedAt !== 'string') return false;
  const t = Date.parse(recordedAt);
  if (Number.isNaN(t)) return false;
  return (window.from === undefined || t >= Date.parse(window.from)) && (window.to === undefined || t < Date.parse(window.to));
}

/** Collects index runs [a, b) from indexes given in increasing order. */
export class RunList {
  readonly runs: Array<[number, number]> = [];

  /** Adds `index` (greater than every index added before). */
  add(index: number): void {
    const last = this.runs.at(-1);
    if (last && last[1] === index) last[1] = index + 1;
    else this.runs.push([index, index + 1]);
  }
}

/** The object a leaf's bytes hold, or undefined when they are not a JSON object. */
export function parseLeaf(bytes: Uint8Array): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(bytes).toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
