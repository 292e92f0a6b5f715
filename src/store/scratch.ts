// Scratch space a process can lose track of: spooled uploads (raw personal data, possibly many
// GB), promotion directories, DuckDB spill files, blob store staging. A process killed mid-work
// leaves them where no retention rule or erasure request will find them. Each process therefore
// works in a directory of its own under the shared parent, named by an owner file, removes it
// when it closes, and at start removes what processes that are gone left behind: never another
// live process's work, even when servers share the volume.

import { randomBytes, randomUUID } from 'node:crypto';
import { lstat, mkdir, open, readdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';

/** The owner file of a process's scratch directory. */
const OWNER_FILE = 'owner.json';
/** Per-process scratch directories are named `proc-<pid>-<random>`. */
const PREFIX = 'proc-';

/** What a process's scratch directory records about its owner. */
interface Owner {
  host: string;
  pid: number;
  startedAt: string;
}

/** Options of `openScratch`. */
export interface ScratchOptions {
  /** The shared parent (`paths.tmp`, a blob store's staging directory). */
  root: string;
  /**
   * True when this process holds the home lock, so no other process can be working under
   * `root`: everything there is a dead process's and goes.
   */
  exclusive: boolean;
  /** Otherwise, how old an entry of no known owner (the layout before per-process directories) must be to go. */
  graceMs: number;
  /** @default now */
  now?: Date;
}

/** What a start removed: entries under the parent, and the files and bytes in them (never their names or contents). */
export interface ScratchCleanup {
  entries: number;
  files: number;
  bytes: number;
}

/** A process's own scratch directory. */
export interface Scratch {
  dir: string;
  /** What opening it removed of processes that are gone. */
  removed: ScratchCleanup;
  /** Removes the directory and everything in it. */
  close(): Promise<void>;
}

/**
 * Removes what processes that are gone left under `root` (everything, when `exclusive`;
 * otherwise directories of dead processes on this host, and entries of no known owner older
 * than the grace), then creates this process's own directory there, owner file first.
 */
export async function openScratch(options: ScratchOptions): Promise<Scratch> {
  await mkdir(options.root, { recursive: true, mode: 0o700 });
  const removed = await removeLeftovers(options);
  const dir = join(options.root, `${PREFIX}${process.pid}-${randomBytes(6).toString('hex')}`);
  // Another process seeing it before the owner file is there finds it young, and leaves it.
  await mkdir(dir, { mode: 0o700 });
  const owner: Owner = { host: hostname(), pid: process.pid, startedAt: (options.now ?? new Date()).toISOString() };
  await writeFile(join(dir, OWNER_FILE), JSON.stringify(owner) + '\n', { mode: 0o600 });
  return { dir, removed, close: () => rm(dir, { recursive: true, force: true }) };
}

async function removeLeftovers(options: ScratchOptions): Promise<ScratchCleanup> {
  const cleanup: ScratchCleanup = { entries: 0, files: 0, bytes: 0 };
  const cutoff = (options.now ?? new Date()).getTime() - options.graceMs;
  for (const name of await readdir(options.root)) {
    const path = join(options.root, name);
    if (!(await isLeftover(path, { name, exclusive: options.exclusive, cutoff }))) continue;
    const { files, bytes } = await measure(path);
    await rm(path, { recursive: true, force: true });
    cleanup.entries++;
    cleanup.files += files;
    cleanup.bytes += bytes;
  }
  return cleanup;
}

async function isLeftover(path: string, s: { name: string; exclusive: boolean; cutoff: number }): Promise<boolean> {
  if (s.exclusive) return true;
  const owner = s.name.startsWith(PREFIX) ? await ownerOf(path) : undefined;
  if (owner) return owner.host === hostname() && !processAlive(owner.pid);
  // No owner to ask (written before per-process directories, or half-created): only its age tells.
  const info = await lstat(path).catch(() => undefined);
  return info !== undefined && info.mtimeMs < s.cutoff;
}

async function ownerOf(dir: string): Promise<Owner | undefined> {
  try {
    const owner = JSON.parse(await readFile(join(dir, OWNER_FILE), 'utf8')) as Partial<Owner>;
    return typeof owner.host === 'string' && typeof owner.pid === 'number' ? (owner as Owner) : undefined;
  } catch {
    return undefined;
  }
}

/** True unless no process with this pid exists on this host (one of another user's still counts). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** Files and bytes under `path` (a file or a directory), not following links. */
async function measure(path: string): Promise<{ files: number; bytes: number }> {
  const info = await lstat(path).catch(() => undefined);
  if (!info) return { files: 0, bytes: 0 };
  if (!info.isDirectory()) return { files: 1, bytes: info.size };
  let files = 0;
  let bytes = 0;
  for (const name of await readdir(path).catch(() => [])) {
    const inner = await measure(join(path, name));
    files += inner.files;
    bytes += inner.bytes;
  }
  return { files, bytes };
}

function ignoreExisting(err: unknown): void {
  if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
}

/** Options of `probeWritableDir`. */
export interface ProbeOptions {
  /** Create `dir` (owner-only) first when it is missing, as the writers that use it do. @default false */
  create?: boolean;
}

/**
 * Proves that new files can be written in `dir` (readiness): creates a uniquely named small file
 * there (concurrent probes never meet), writes a few bytes, closes and removes it. Not fsynced:
 * what it proves is that the directory takes files, not that a disk flush succeeds. A directory
 * that cannot take one (read-only mount, full disk, no permission, a file where the directory
 * should be) rejects with an error naming `dir` and the system's reason (EROFS, ENOSPC, EACCES,
 * ENOTDIR, ENOENT…). Nothing is left behind, whether it succeeds or fails.
 */
export async function probeWritableDir(dir: string, options: ProbeOptions = {}): Promise<void> {
  const path = join(dir, `.probe-${randomUUID()}`);
  let created = false;
  try {
    // A file where the directory should be is EEXIST to mkdir; the open below then names it ENOTDIR.
    if (options.create) await mkdir(dir, { recursive: true, mode: 0o700 }).catch(ignoreExisting);
    const handle = await open(path, 'wx', 0o600);
    created = true;
    try {
      await handle.write(Buffer.from('assay readiness probe\n'));
    } finally {
      await handle.close();
    }
    await unlink(path);
    created = false;
  } catch (err) {
    if (created) await rm(path, { force: true }).catch(() => undefined);
    throw new Error(`cannot write in ${dir}: ${(err as Error).message}`, { cause: err });
  }
}
