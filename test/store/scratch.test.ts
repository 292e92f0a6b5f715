import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openScratch } from '../../src/store/index.js';

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});
function newRoot(): string {
  const root = mkdtempSync(join(tmpdir(), 'assay-scratch-'));
  roots.push(root);
  return root;
}

/** The pid of a process that has exited (and been reaped). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  const pid = child.pid!;
  await new Promise((resolve) => child.on('exit', resolve));
  return pid;
}

/** A process scratch directory as another process would have left it: owner file and one spooled file of `bytes` bytes. */
function processDir(root: string, owner: { host: string; pid: number }, bytes: number): string {
  const dir = join(root, `proc-${owner.pid}-0123456789ab`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'owner.json'), JSON.stringify({ ...owner, startedAt: new Date().toISOString() }));
  writeFileSync(join(dir, 'upload-1.part'), Buffer.alloc(bytes, 1));
  return dir;
}

function aged(path: string, ms: number): string {
  const t = new Date(Date.now() - ms);
  utimesSync(path, t, t);
  return path;
}

const HOUR = 60 * 60 * 1000;

describe('per-process scratch directories', () => {
  it('holding the home lock, removes everything under the parent, counting files and bytes, and works in a directory of its own', async () => {
    const root = newRoot();
    writeFileSync(join(root, 'upload-0d5c.part'), Buffer.alloc(1000, 7));
    mkdirSync(join(root, 'promote-abc'));
    writeFileSync(join(root, 'promote-abc', 'certified.parquet'), Buffer.alloc(500));
    // Even one naming a live pid: with the home lock held no other process works here (the pid was reused).
    const leftover = processDir(root, { host: hostname(), pid: process.pid }, 24);
    const ownerFile = readFileSync(join(leftover, 'owner.json')).length;
    const scratch = await openScratch({ root, exclusive: true, graceMs: HOUR });
    expect(scratch.removed).toEqual({ entries: 3, files: 4, bytes: 1000 + 500 + 24 + ownerFile });
    expect(readdirSync(root)).toEqual([scratch.dir.slice(root.length + 1)]);
    expect(JSON.parse(readFileSync(join(scratch.dir, 'owner.json'), 'utf8'))).toMatchObject({ host: hostname(), pid: process.pid });
    await scratch.close();
    expect(existsSync(scratch.dir)).toBe(false);
  });

  it('sharing the parent, removes a dead process’s directory on this host and keeps a live one’s and another host’s', async () => {
    const root = newRoot();
    const dead = processDir(root, { host: hostname(), pid: await deadPid() }, 2048);
    const live = processDir(root, { host: hostname(), pid: process.pid }, 10);
    const elsewhere = processDir(root, { host: `not-${hostname()}`, pid: 999_999 }, 10);
    const scratch = await openScratch({ root, exclusive: false, graceMs: HOUR });
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(live)).toBe(true);
    expect(existsSync(elsewhere)).toBe(true);
    expect(scratch.removed.entries).toBe(1);
    expect(scratch.removed.bytes).toBeGreaterThanOrEqual(2048);
    await scratch.close();
  });

  it('sharing the parent, removes entries of no known owner only once older than the grace', async () => {
    const root = newRoot();
    const old = join(root, 'upload-old.part');
    writeFileSync(old, 'x');
    aged(old, 2 * HOUR);
    const young = join(root, 'upload-young.part');
    writeFileSync(young, 'x');
    // Half-created: a process that has not written its owner file yet.
    const ownerless = join(root, 'proc-1-aaaaaaaaaaaa');
    mkdirSync(ownerless);
    const scratch = await openScratch({ root, exclusive: false, graceMs: HOUR });
    expect(existsSync(old)).toBe(false);
    expect(existsSync(young)).toBe(true);
    expect(existsSync(ownerless)).toBe(true);
    expect(scratch.removed).toEqual({ entries: 1, files: 1, bytes: 1 });
    await scratch.close();
  });
});
