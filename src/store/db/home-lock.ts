import { linkSync, readFileSync, unlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseLocked, isProcessAlive } from '../../core/index.js';

/** A held exclusive lock on the embedded database; `release` is idempotent. */
export interface HomeLock {
  readonly path: string;
  release(): void;
}

/** The pid recorded in a lock file, or undefined when there is none. */
export function readLockHolder(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8'), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Takes the exclusive lock on the embedded database (PGlite is single-process).
 * The lock is a file holding our pid, created with link(2) so creation is atomic; a lock
 * left by a dead process is taken over. Throws DatabaseLocked naming a live holder.
 */
export function acquireHomeLock(path: string): HomeLock {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.${Date.now()}`;
  writeFileSync(tmp, String(process.pid), { mode: 0o600 });
  try {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        linkSync(tmp, path);
        let released = false;
        return {
          path,
          release() {
            if (released) return;
            released = true;
            if (readLockHolder(path) === process.pid) unlinkSync(path);
          },
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const holder = readLockHolder(path);
        if (holder !== undefined && holder !== process.pid && isProcessAlive(holder)) throw new DatabaseLocked(path, holder);
        if (holder === process.pid) throw new DatabaseLocked(path, holder);
        unlinkSync(path); // stale: its process is gone
      }
    }
    throw new DatabaseLocked(path, readLockHolder(path) ?? 0);
  } finally {
    unlinkSync(tmp);
  }
}
