import type { Readable } from 'node:stream';

/** Where a blob lives: its SHA-256 (lowercase hex) and its length in bytes. */
export interface BlobRef {
  hash: string;
  size: number;
}

/** Bytes a blob can be written from: a Node stream, any async iterable of chunks, or a buffer. */
export type BlobSource = Readable | AsyncIterable<Uint8Array> | Uint8Array;

/**
 * Content-addressed blob store. Every backend (filesystem, S3) passes the same contract suite.
 * A blob's address is the SHA-256 of its bytes; content is verified on every read.
 */
export interface BlobStore {
  readonly kind: 'fs' | 's3';
  /** Streams `source` in, hashing while writing, and publishes it atomically under its hash. Idempotent. */
  put(source: BlobSource): Promise<BlobRef>;
  /**
   * Stores the file at `path` under `expected`, the SHA-256 and size its writer computed while
   * writing it, without copying it where the backend can help it: the filesystem store links
   * the file into place (on one filesystem), S3 uploads it straight from the file. The caller
   * keeps its path, must not change the file, and may delete it once this resolves. Bytes that
   * do not match `expected` are never served: adopt refuses them (BlobCorrupt) or every read does.
   */
  adopt(path: string, expected: BlobRef): Promise<BlobRef>;
  /**
   * A stream of the blob's bytes that verifies the hash while reading: if the stored bytes
   * do not match, the stream fails with `BlobCorrupt` naming the hash before it ends.
   * Throws `NotFound` when absent.
   */
  get(hash: string): Promise<Readable>;
  /** The whole blob, verified before it is returned (for small blobs). */
  getBytes(hash: string): Promise<Buffer>;
  /** True when a blob with this hash is stored. */
  has(hash: string): Promise<boolean>;
  /**
   * The stored length in bytes of the blob, or undefined when it is absent: what a server
   * announces as Content-Length before streaming it. The bytes are not read, so a blob damaged
   * in place may hold another length; `get` still refuses its content.
   */
  size(hash: string): Promise<number | undefined>;
  /** Every stored hash (order unspecified). */
  list(): AsyncIterable<string>;
  /**
   * Removes the blob for good (erasure, retention purge) and resolves true when it was stored.
   * Idempotent: an absent blob resolves false, so an interrupted purge can simply run again.
   * Content addressing means every reference to these bytes loses them: callers delete only
   * from a store whose blobs they alone own.
   */
  delete(hash: string): Promise<boolean>;
  /**
   * Resolves when the store can take a new blob now, for readiness: the filesystem store writes
   * and removes a small uniquely named file in its staging directory, so a read-only mount, a
   * full disk, a lost permission or a file where the directory should be rejects, naming the
   * directory. The S3 store proves the same of its local spool directory and that the bucket
   * answers a lookup; it never writes an object to probe (each would cost a request, and a
   * versioned bucket would keep every one), so the bucket's writability is not proved.
   * Leaves nothing behind.
   */
  probeWritable(): Promise<void>;
  /** Releases clients and handles. */
  close(): Promise<void>;
}
