import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DatabaseLocked } from '../../src/core/errors.js';
import { acquireHomeLock, readLockHolder, type HomeLock } from '../../src/store/db/home-lock.js';

let dir = '';
let lockPath = '';
const held: HomeLock[] = [];
const children: ChildProcess[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'assay-home-lock-'));
  lockPath = join(dir, 'home', 'db.lock');
});
afterEach(async () => {
  for (const lock of held.splice(0)) lock.release();
  await rm(dir, { recursive: true, force: true });
});
afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill();
});

function acquire(): HomeLock {
  const lock = acquireHomeLock(lockPath);
  held.push(lock);
  return lock;
}

/** Calls `fn`, which must throw, and returns what it threw. */
function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

/** A pid that certainly belonged to a process which has since exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  children.push(child);
  const [code] = (await once(child, 'exit')) as [number | null];
  expect(code).toBe(0);
  if (child.pid === undefined) throw new Error('child was not spawned');
  return child.pid;
}

/** A child that stays alive (until killed) and the pid it runs as. */
async function liveChild(): Promise<ChildProcess & { pid: number }> {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 120_000)'], { stdio: 'ignore' });
  children.push(child);
  await once(child, 'spawn');
  if (child.pid === undefined) throw new Error('child was not spawned');
  return child as ChildProcess & { pid: number };
}

describe('acquireHomeLock', () => {
  it('writes our pid, refuses a second acquire in the same process naming us, and release removes the file', async () => {
    const lock = acquire();
    expect(lock.path).toBe(lockPath);
    expect(await readFile(lockPath, 'utf8')).toBe(String(process.pid));

    const err = thrownBy(() => acquireHomeLock(lockPath));
    expect(err).toBeInstanceOf(DatabaseLocked);
    expect(err).toMatchObject({ code: 'database_locked', holderPid: process.pid, path: lockPath });
    expect((err as Error).message).toContain(String(process.pid));
    expect(readLockHolder(lockPath)).toBe(process.pid); // the refused attempt did not disturb it

    lock.release();
    expect(existsSync(lockPath)).toBe(false);
    lock.release(); // idempotent
    // Nothing but the lock itself was ever left in the directory.
    expect(await readdir(join(dir, 'home'))).toEqual([]);

    acquire();
    expect(readLockHolder(lockPath)).toBe(process.pid);
  });

  it('takes over a lock file left by a process that has exited', async () => {
    const pid = await deadPid();
    acquire().release(); // creates the directory
    await writeFile(lockPath, String(pid));

    const lock = acquire();
    expect(readLockHolder(lockPath)).toBe(process.pid);
    expect(await readdir(join(dir, 'home'))).toEqual(['db.lock']);
    lock.release();
    expect(existsSync(lockPath)).toBe(false);
  });

  it('refuses a lock held by a live process, naming its pid, and leaves it in place', async () => {
    const child = await liveChild();
    acquire().release();
    await writeFile(lockPath, String(child.pid));

    const err = thrownBy(() => acquireHomeLock(lockPath));
    expect(err).toBeInstanceOf(DatabaseLocked);
    expect(err).toMatchObject({ holderPid: child.pid });
    expect((err as Error).message).toContain(String(child.pid));
    expect(readLockHolder(lockPath)).toBe(child.pid);

    // Once that process is gone, the lock is ours to take.
    child.kill();
    await once(child, 'exit');
    acquire();
    expect(readLockHolder(lockPath)).toBe(process.pid);
  });

  it('does not let a release remove a lock that another process now holds', async () => {
    const child = await liveChild();
    const lock = acquire();
    await writeFile(lockPath, String(child.pid)); // as if our lock had been taken over
    lock.release();
    expect(readLockHolder(lockPath)).toBe(child.pid);
    child.kill();
    await once(child, 'exit');
  });
});
