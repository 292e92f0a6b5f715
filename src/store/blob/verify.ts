import { createHash } from 'node:crypto';
import { Transform, pipeline, type Readable } from 'node:stream';
import { BlobCorrupt, ValidationFailed } from '../../core/index.js';

/** A blob address: exactly 64 lowercase hex characters, so it can never name a path outside the store. */
const HASH_PATTERN = /^[0-9a-f]{64}$/;

/** True when `value` is a well-formed blob hash (64 lowercase hex characters). */
export function isBlobHash(value: string): boolean {
  return HASH_PATTERN.test(value);
}

/** Returns normally only for a well-formed blob hash; otherwise throws ValidationFailed. */
export function assertBlobHash(hash: string): void {
  // Checked before any path or key is built from `hash`: this is what rules out traversal.
  if (typeof hash !== 'string' || !HASH_PATTERN.test(hash)) {
    throw new ValidationFailed('invalid blob hash', [
      { field: 'hash', message: 'must be a SHA-256 digest: 64 lowercase hexadecimal characters' },
    ]);
  }
}

/**
 * A pass-through stream that hashes what flows through it and, at the end, fails with
 * BlobCorrupt instead of ending cleanly when the bytes do not hash to `hash`.
 */
export function verifyingStream(hash: string): Transform {
  const digest = createHash('sha256');
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      digest.update(chunk);
      callback(null, chunk);
    },
    flush(callback) {
      const actual = digest.digest('hex');
      // Passing the error to flush's callback destroys the stream: consumers see 'error', never 'end'.
      callback(actual === hash ? null : new BlobCorrupt(hash, actual));
    },
  });
}

/**
 * `stored` piped through a verifier for `hash`: an error on either side reaches the
 * consumer, and destroying the returned stream early releases `stored` too.
 */
export function verifiedStream(stored: Readable, hash: string): Readable {
  // The callback is required by pipeline; the error itself surfaces on the returned stream.
  return pipeline(stored, verifyingStream(hash), () => undefined);
}

/** Every byte of a verified stream, returned only once the stream ended without error. */
export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
