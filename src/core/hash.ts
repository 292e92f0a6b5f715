import { createHash, type Hash } from 'node:crypto';
import { canonicalBytes } from './canonical-json.js';

/** SHA-256 helpers; every content address in Assay is lowercase hex SHA-256. */

/** SHA-256 digest (32 bytes) of `data`; strings are hashed as their UTF-8 bytes. */
export function sha256(data: Uint8Array | string): Buffer {
  return createHash('sha256').update(data).digest();
}

/** Lowercase hex SHA-256 (64 characters) of `data`; strings are hashed as their UTF-8 bytes. */
export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Lowercase hex SHA-256 of the RFC 8785 canonical bytes of `value`: the content address of a JSON document. */
export function hashCanonical(value: unknown): string {
  return sha256Hex(canonicalBytes(value));
}

/** A fresh incremental SHA-256 for streamed content: `update()` per chunk, then `digest('hex')` once. */
export function sha256Hasher(): Hash {
  return createHash('sha256');
}

/** Lowercase hex SHA-256 of everything `source` yields (a file's read stream: never held whole in memory). */
export async function sha256OfStream(source: AsyncIterable<Uint8Array | string>): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of source) hash.update(chunk);
  return hash.digest('hex');
}
