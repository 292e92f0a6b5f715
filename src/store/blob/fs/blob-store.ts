import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { link, mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { BlobCorrupt, NotFound } from '../../../core/index.js';
import { openScratch, probeWritableDir } from '../../scratch.js';
import { DIR_MODE, discard, ensureDir, FILE_MODE, spoolToFile, type Spooled } from '../spool.js';
import type { BlobRef, BlobSource, BlobStore } from '../types.js';
import { assertBlobHash, isBlobHash, readAll, verifiedStream } from '../verify.js';

/** Where the filesystem blob store keeps its files. */
export interface FsBlobStoreOptions {
  /** Holds `sha256/ab/cd/<hash>` (published blobs) and `tmp/` (uploads in progress, one directory per process). */
  root: string;
}

/**
 * Staged files under `tmp/` of no known owner (from before per-process directories) are removed
 * once this old: no put takes a day, and a store cannot tell whether another process shares it.
 */
const STAGING_GRACE_MS = 24 * 60 * 60 * 1000;

function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** Size of the file at `path`, or undefined when there is none. */
async function fileSize(path: string): Promise<number | undefined> {
  try {
    const info = await stat(path);
    return info.isFile() ? info.size : undefined;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

/** Makes directory entries (a rename, a new subdirectory) durable, not just the file data. */
async function syncDirs(dirs: string[]): Promise<void> {
  for (const dir of dirs) {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } catch (err) {
      // Some platforms cannot fsync a directory; the rename is still atomic there, only less durable.
      if (!['EINVAL', 'EPERM', 'EISDIR'].includes(errnoCode(err) ?? '')) throw err;
    } finally {
      await handle.close();
    }
  }
}

/** Entry names in `dir`, or none if it vanished (a concurrent writer may be reshaping the tree). */
async function namesIn(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return [];
    throw err;
  }
}

/**
 * Whether the file at `path` holds exactly the bytes of `ref`: its size, then its SHA-256 (one
 * read). Storing bytes already stored is the moment to notice a blob that rotted in place, which
 * every read refuses: the same bytes arriving again replace it rather than leaving it broken.
 */
async function holds(path: string, ref: BlobRef): Promise<boolean> {
  if ((await fileSize(path)) !== ref.size) return false;
  const digest = createHash('sha256');
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) digest.update(chunk as Buffer);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    throw err;
  }
  return digest.digest('hex') === ref.hash;
}

/**
 * A blob store on the local filesystem. Uploads are written and fsynced in this process's own
 * directory under `root/tmp`, then renamed into `root/sha256/ab/cd/<hash>`, so a blob is either
 * absent or complete. Opening it removes what dead processes on this host staged there (a
 * crash between write and rename leaves a whole copy of the bytes); closing it removes its own.
 */
export async function createFsBlobStore({ root }: FsBlobStoreOptions): Promise<BlobStore> {
  const objects = join(root, 'sha256');
  await ensureDir(objects);
  const staging = await openScratch({ root: join(root, 'tmp'), exclusive: false, graceMs: STAGING_GRACE_MS });
  const tmp = staging.dir;

  // Callers validate first: the hash is the only user input that reaches a path.
  const pathOf = (hash: string): string => join(objects, hash.slice(0, 2), hash.slice(2, 4), hash);

  /** Renames a complete, fsynced file in `tmp` to its address (it is removed in any case). */
  async function publish(staged: Spooled): Promise<BlobRef> {
    const ref = { hash: staged.hash, size: staged.size };
    const target = pathOf(staged.hash);
    try {
      // Same content, same address: a stored blob holding these bytes is kept and the copy dropped.
      // A damaged one (truncated, or rotted in place at the same size) is replaced by the good bytes just received.
      if (await holds(target, ref)) return ref;
      const leaf = dirname(target);
      const created = await mkdir(leaf, { recursive: true, mode: DIR_MODE });
      // rename(2) within one filesystem is atomic: readers see the old state or the whole blob.
      await rename(staged.path, target);
      await syncDirs(created === undefined ? [leaf] : [leaf, dirname(leaf), objects]);
      return ref;
    } finally {
      // After a successful rename the temp path no longer exists and this does nothing.
      await discard(staged);
    }
  }

  async function put(source: BlobSource): Promise<BlobRef> {
    return publish(await spoolToFile(source, tmp, { fsync: true }));
  }

  /**
   * Makes the caller's file durable (fsync) and hard-links it into `tmp` before publishing it:
   * no byte is read or copied, and the caller's path stays valid. Across filesystems (or where
   * links are refused) the file is copied and hashed instead, and refused unless it matches.
   */
  async function adopt(path: string, expected: BlobRef): Promise<BlobRef> {
    assertBlobHash(expected.hash);
    if (await holds(pathOf(expected.hash), expected)) return { hash: expected.hash, size: expected.size };
    const handle = await open(path, 'r');
    try {
      const info = await handle.stat();
      if (!info.isFile() || info.size !== expected.size) throw new BlobCorrupt(expected.hash);
      await handle.chmod(FILE_MODE);
      await handle.sync();
    } finally {
      await handle.close();
    }
    const staged = join(tmp, `${randomUUID()}.part`);
    try {
      await link(path, staged);
    } catch (err) {
      if (!['EXDEV', 'EPERM', 'ENOTSUP', 'EMLINK'].includes(errnoCode(err) ?? '')) throw err;
      return adoptByCopy(path, expected);
    }
    return publish({ path: staged, ...expected });
  }

  async function adoptByCopy(path: string, expected: BlobRef): Promise<BlobRef> {
    const copy = await spoolToFile(createReadStream(path, { highWaterMark: 1024 * 1024 }), tmp, { fsync: true });
    if (copy.hash !== expected.hash || copy.size !== expected.size) {
      await rm(copy.path, { force: true });
      throw new BlobCorrupt(expected.hash, copy.hash);
    }
    return publish(copy);
  }

  async function get(hash: string): Promise<Readable> {
    assertBlobHash(hash);
    let handle;
    try {
      // Opened eagerly so absence is reported by get itself rather than as a stream error.
      handle = await open(pathOf(hash), 'r');
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') throw new NotFound('blob', hash);
      throw err;
    }
    return verifiedStream(handle.createReadStream({ highWaterMark: 1024 * 1024 }), hash);
  }

  async function has(hash: string): Promise<boolean> {
    assertBlobHash(hash);
    return (await fileSize(pathOf(hash))) !== undefined;
  }

  async function remove(hash: string): Promise<boolean> {
    assertBlobHash(hash);
    const path = pathOf(hash);
    try {
      await unlink(path);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return false;
      throw err;
    }
    // An erasure must survive a crash like a write does: make the unlink durable.
    await syncDirs([dirname(path)]);
    return true;
  }

  async function* list(): AsyncGenerator<string> {
    for (const a of await namesIn(objects)) {
      for (const b of await namesIn(join(objects, a))) {
        for (const name of await namesIn(join(objects, a, b))) {
          // Only names that sit where their own hash says they should count as blobs.
          if (isBlobHash(name) && name.startsWith(a + b)) yield name;
        }
      }
    }
  }

  return {
    kind: 'fs',
    put,
    adopt,
    get,
    getBytes: async (hash) => readAll(await get(hash)),
    has,
    size: async (hash) => (assertBlobHash(hash), fileSize(pathOf(hash))),
    list,
    delete: remove,
    // Where every put and adopt writes first: if no file can be made there, no blob can be stored.
    probeWritable: () => probeWritableDir(tmp),
    // Every file handle is scoped to a single call or stream: only the staging directory remains.
    close: () => staging.close(),
  };
}
