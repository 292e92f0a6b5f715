import { createHash, randomUUID } from 'node:crypto';
import { mkdir, open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { BlobSource } from './types.js';

/** Blob files are private to the Assay process: owner read/write only. */
export const FILE_MODE = 0o600;
/** Blob directories are private to the Assay process: owner only. */
export const DIR_MODE = 0o700;

/** A source fully written to a temporary file, with the SHA-256 and length of what was written. */
export interface Spooled {
  path: string;
  hash: string;
  size: number;
}

/** Creates `dir` (and parents) with the store's private directory mode if missing. */
export async function ensureDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: DIR_MODE });
}

/** The chunks of any BlobSource as Uint8Arrays (a buffer is one chunk; strings are UTF-8 encoded). */
async function* chunksOf(source: BlobSource): AsyncGenerator<Uint8Array> {
  if (source instanceof Uint8Array) {
    yield source;
    return;
  }
  for await (const chunk of source as AsyncIterable<unknown>) {
    // A Readable with an encoding set yields strings; anything else is a caller bug.
    if (typeof chunk === 'string') yield Buffer.from(chunk, 'utf8');
    else if (chunk instanceof Uint8Array) yield chunk;
    else throw new TypeError(`blob source yielded a ${typeof chunk}, expected bytes`);
  }
}

/** Writes all of `chunk`, looping because write(2) may legally write fewer bytes than asked. */
async function writeFully(handle: FileHandle, chunk: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < chunk.byteLength) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.byteLength - offset);
    offset += bytesWritten;
  }
}

/**
 * Streams `source` into a new file in `dir` while hashing it, never holding the whole source
 * in memory. With `fsync` the bytes are on disk before this resolves. If the source or a
 * write fails, the partial file is removed and the error rethrown: nothing is left behind.
 */
export async function spoolToFile(source: BlobSource, dir: string, options: { fsync: boolean }): Promise<Spooled> {
  const path = join(dir, `${randomUUID()}.part`);
  const handle = await open(path, 'wx', FILE_MODE);
  const digest = createHash('sha256');
  let size = 0;
  try {
    for await (const chunk of chunksOf(source)) {
      // Hash while the write is in flight on the threadpool, so hashing and I/O overlap.
      const written = writeFully(handle, chunk);
      digest.update(chunk);
      size += chunk.byteLength;
      await written;
    }
    if (options.fsync) await handle.sync();
  } catch (err) {
    await handle.close().catch(() => undefined);
    await rm(path, { force: true });
    throw err;
  }
  try {
    await handle.close();
  } catch (err) {
    await rm(path, { force: true });
    throw err;
  }
  return { path, hash: digest.digest('hex'), size };
}

/** Removes a spooled file; a file already gone is not an error. */
export async function discard(spooled: Spooled): Promise<void> {
  await rm(spooled.path, { force: true });
}

