import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startServer } from '../../src/api/index.js';
import { listAuditEntries, STRAY_PAYLOAD_SWEEP_ACTION } from '../../src/audit/index.js';
import { loadConfig, openKeyring, type AssayConfig } from '../../src/core/index.js';
import { PENDING_BLOB_SWEEP_ACTION } from '../../src/data/index.js';
import { acquireHomeLock, createFsBlobStore, migrate, openDatabase, type Db } from '../../src/store/index.js';
import { eventually, fetchFresh } from '../support/cli.js';
import { createTestPostgres, postgresAvailable, type TestPostgres } from '../support/databases.js';

const homes: string[] = [];
const databases: TestPostgres[] = [];
afterEach(async () => {
  for (const h of homes.splice(0)) rmSync(h, { recursive: true, force: true });
  for (const d of databases.splice(0)) await d.drop();
});

/** An initialised home (keys only), on PostgreSQL when `databaseUrl` is given. */
async function home(databaseUrl?: string): Promise<AssayConfig> {
  const dir = mkdtempSync(join(tmpdir(), 'assay-server-leftovers-'));
  homes.push(dir);
  const env: Record<string, string> = { ASSAY_HOME: dir, ASSAY_LOG_LEVEL: 'silent', ASSAY_HOST: '127.0.0.1', ASSAY_PORT: '0', ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}) };
  const config = loadConfig({ env, cwd: dir });
  await (await openKeyring(config.paths.keys, { create: true })).generate();
  return config;
}

/** Runs `fn` on the home's database as the only process using it (the home lock held for PGlite). */
async function withDb<T>(config: AssayConfig, fn: (db: Db) => Promise<T>): Promise<T> {
  const lock = config.databaseUrl ? undefined : acquireHomeLock(config.paths.lock);
  const db = await openDatabase(config);
  try {
    await migrate(db);
    return await fn(db);
  } finally {
    await db.close();
    lock?.release();
  }
}

/** What a process killed mid-ingest leaves: a snapshot in the blob store and its pending record, stored at `at`. */
async function deadIngest(config: AssayConfig, input: { bytes: string; at: Date }): Promise<string> {
  const blobs = await createFsBlobStore({ root: config.paths.blobs });
  const { hash } = await blobs.put(Buffer.from(input.bytes));
  await blobs.close();
  await withDb(config, (db) => db.query('INSERT INTO dataset_pending_blobs (sha256, claim_id, stored_at) VALUES ($1, $2, $3)', [hash, `claim-${hash.slice(0, 8)}`, input.at.toISOString()]));
  return hash;
}

async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.on('exit', resolve));
  return child.pid!;
}

/** A scratch directory another server process left, with one spooled upload. */
function processDir(tmp: string, pid: number): string {
  const dir = join(tmp, `proc-${pid}-0123456789ab`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'owner.json'), JSON.stringify({ host: hostname(), pid, startedAt: new Date().toISOString() }));
  writeFileSync(join(dir, 'upload-1.part'), 'id,name\n1,Ada Lovelace\n');
  return dir;
}

const logger = pino({ level: 'silent' });
const HOUR = 60 * 60 * 1000;

describe('what dead processes left, at server start', () => {
  it('embedded (holding the home lock): removes every scratch file and every pending dataset blob, audited; its own scratch directory goes when it closes', async () => {
    const config = await home();
    const hash = await deadIngest(config, { bytes: 'id,name\n1,Grace Hopper\n', at: new Date() });
    mkdirSync(config.paths.tmp, { recursive: true });
    writeFileSync(join(config.paths.tmp, 'upload-0d5c.part'), 'id,name\n1,Alan Turing\n');
    mkdirSync(join(config.paths.tmp, 'promote-x'));
    writeFileSync(join(config.paths.tmp, 'promote-x', 'certified.parquet'), 'PAR1');
    processDir(config.paths.tmp, process.pid);

    const server = await startServer({ config, logger });
    let own: string[];
    try {
      own = readdirSync(config.paths.tmp);
      expect(own).toHaveLength(1);
      expect(JSON.parse(readFileSync(join(config.paths.tmp, own[0]!, 'owner.json'), 'utf8'))).toMatchObject({ pid: process.pid, host: hostname() });
    } finally {
      await server.close();
    }
    expect(readdirSync(config.paths.tmp)).toEqual([]);
    const blobs = await createFsBlobStore({ root: config.paths.blobs });
    expect(await blobs.has(hash)).toBe(false);
    await blobs.close();
    await withDb(config, async (db) => {
      expect((await db.query('SELECT 1 FROM dataset_pending_blobs')).rowCount).toBe(0);
      const entries = await listAuditEntries(db, { action: PENDING_BLOB_SWEEP_ACTION });
      expect(entries).toHaveLength(1);
      expect(entries[0]!.reason).toContain(`sha256:${hash}`);
    });
  });

  it('embedded: the first stray payload sweep takes every pending audit payload record, and removes its bytes, audited', async () => {
    const config = await home();
    // What a process killed between recording a payload and its commit leaves: the bytes and the record, recorded just now.
    const payloads = await createFsBlobStore({ root: config.paths.auditPayloads });
    const { hash } = await payloads.put(Buffer.from('{"prompt":"a request whose process died"}'));
    await withDb(config, (db) => db.query('INSERT INTO audit_payload_pending (sha256, claim_id, recorded_at) VALUES ($1, $2, $3)', [hash, 'claim-dead', new Date().toISOString()]));

    const server = await startServer({ config, logger });
    try {
      // The retention schedule sweeps in the background, after its first purge.
      await eventually(async () => ((await payloads.has(hash)) ? undefined : true));
    } finally {
      await server.close();
      await payloads.close();
    }
    await withDb(config, async (db) => {
      expect((await db.query('SELECT 1 FROM audit_payload_pending')).rowCount).toBe(0);
      const entries = await listAuditEntries(db, { action: STRAY_PAYLOAD_SWEEP_ACTION });
      expect(entries.flatMap((e) => e.payloadRefs)).toEqual([{ name: 'stray', sha256: hash }]);
    });
  });

  it.runIf(postgresAvailable())('PostgreSQL (servers may share it): removes pending blobs older than the grace and keeps younger ones; removes a dead process’s scratch and keeps a live one’s', async () => {
    const pg = await createTestPostgres();
    databases.push(pg);
    const config = await home(pg.url);
    const old = await deadIngest(config, { bytes: 'id,name\n1,Old Record\n', at: new Date(Date.now() - 25 * HOUR) });
    const young = await deadIngest(config, { bytes: 'id,name\n1,Young Record\n', at: new Date(Date.now() - HOUR) });
    const dead = processDir(config.paths.tmp, await deadPid());
    const live = processDir(config.paths.tmp, process.pid);
    const fresh = join(config.paths.tmp, 'upload-fresh.part');
    writeFileSync(fresh, 'x');
    const stale = join(config.paths.tmp, 'upload-stale.part');
    writeFileSync(stale, 'x');
    utimesSync(stale, new Date(Date.now() - 25 * HOUR), new Date(Date.now() - 25 * HOUR));

    const server = await startServer({ config, logger });
    try {
      expect(existsSync(dead)).toBe(false);
      expect(existsSync(stale)).toBe(false);
      expect(existsSync(live)).toBe(true);
      expect(existsSync(fresh)).toBe(true);
      const blobs = await createFsBlobStore({ root: config.paths.blobs });
      expect(await blobs.has(old)).toBe(false);
      expect(await blobs.has(young)).toBe(true);
      await blobs.close();
      await withDb(config, async (db) => {
        expect((await db.query<{ sha256: string }>('SELECT sha256 FROM dataset_pending_blobs')).rows.map((r) => r.sha256)).toEqual([young]);
      });
    } finally {
      await server.close();
    }
  });
});

/** The one entry under `dir`: a running process's own scratch or staging directory. */
function onlyDir(dir: string): string {
  const names = readdirSync(dir);
  if (names.length !== 1) throw new Error(`expected one directory under ${dir}, found ${names.join(', ')}`);
  return join(dir, names[0]!);
}

/**
 * Puts a regular file where `dir` should be (the directory kept aside), runs `fn`, then puts the
 * directory back. The tests run as root, which writes through any permission bits, and cannot
 * remount a disk read-only: a file in the directory's place (ENOTDIR) is the write failure left to
 * test, and it takes the same path in the probe as EROFS, ENOSPC or EACCES.
 */
async function withFileInPlaceOf(dir: string, fn: () => Promise<void>): Promise<void> {
  renameSync(dir, `${dir}.aside`);
  writeFileSync(dir, 'not a directory');
  try {
    await fn();
  } finally {
    rmSync(dir, { force: true });
    renameSync(`${dir}.aside`, dir);
  }
}

describe('readiness of a running server over HTTP', () => {
  it('is 503 naming the check and its error code while its own scratch directory or blob staging directory cannot take a file, 200 again once restored; probes leave nothing behind', async () => {
    const config = await home();
    const server = await startServer({ config, logger });
    try {
      const readyz = async (): Promise<{ status: number; body: { status: string; checks: Record<string, { status: string; detail?: string }> } }> => {
        const r = await fetchFresh(`${server.url}/readyz`);
        return { status: r.status, body: (await r.json()) as { status: string; checks: Record<string, { status: string; detail?: string }> } };
      };
      const scratch = onlyDir(config.paths.tmp);
      const staging = onlyDir(join(config.paths.blobs, 'tmp'));
      const ready = await readyz();
      expect(ready.status).toBe(200);
      expect(ready.body).toMatchObject({ status: 'ready', checks: { database: { status: 'ok' }, migrations: { status: 'ok' }, blobStore: { status: 'ok' }, scratch: { status: 'ok' } } });
      expect(readdirSync(scratch)).toEqual(['owner.json']);
      expect(readdirSync(staging)).toEqual(['owner.json']);

      for (const [failing, dir] of [['scratch', scratch], ['blobStore', staging]] as const) {
        await withFileInPlaceOf(dir, async () => {
          const r = await readyz();
          expect(r.status).toBe(503);
          expect(r.body).toMatchObject({ status: 'not_ready', checks: { blobStore: { status: failing === 'blobStore' ? 'failed' : 'ok' }, scratch: { status: failing === 'scratch' ? 'failed' : 'ok' } } });
          expect(r.body.checks[failing]!.detail).toBe('ENOTDIR; the server log has the cause');
        });
        expect((await readyz()).status).toBe(200);
      }
      expect(readdirSync(scratch)).toEqual(['owner.json']);
      expect(readdirSync(staging)).toEqual(['owner.json']);
    } finally {
      await server.close();
    }
  });
});
