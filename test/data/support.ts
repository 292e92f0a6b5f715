import { createWriteStream, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, expect } from 'vitest';
import { openDuckSession, type DuckSession } from '../../src/data/duck.js';
import { openSnapshot } from '../../src/data/load.js';
import type { DeclaredVersion } from '../../src/data/checks/index.js';
import { runQuarantine, type QuarantineReport } from '../../src/data/quarantine.js';
import type { Actor } from '../../src/audit/index.js';
import type { DataEnv, DatasetVersionRecord, PromoteEnv } from '../../src/data/index.js';
import type { BlobStore, Db } from '../../src/store/index.js';
import { createPrincipalWithToken, createTestApp, type TestApp } from '../support/app.js';
import type { TestBackend } from '../support/databases.js';

/** German credit: the copy the product ships (with its attribution), so a bare checkout tests the same bytes the demo uses. */
export const GERMAN_CREDIT = join(import.meta.dirname, '..', '..', 'examples', 'data', 'german_credit.csv');

/** What one upload sends. */
export interface Upload {
  name: string;
  body: string | Buffer;
  token: string;
  contentType?: string;
  /** More request headers, e.g. content-encoding. */
  headers?: Record<string, string>;
  query?: Record<string, string>;
}

/** POSTs `body` as a new version of dataset `name` through the app (in process). */
export function upload(t: TestApp, u: Upload) {
  const query = new URLSearchParams({ sourceSystem: 'core-banking', ...(u.query ?? {}) });
  return t.app.inject({
    method: 'POST',
    url: `/api/v1/datasets/${u.name}/versions?${query.toString()}`,
    headers: { authorization: `Bearer ${u.token}`, 'content-type': u.contentType ?? 'text/csv', ...(u.headers ?? {}) },
    payload: u.body,
  });
}

/** What an ingest may leave behind: version rows, dataset rows, blobs, spooled uploads. */
export async function leftovers(t: TestApp): Promise<{ versions: number; datasets: number; blobs: number; spooled: string[] }> {
  const versions = (await t.db.query('SELECT 1 FROM dataset_versions')).rowCount;
  const datasets = (await t.db.query('SELECT 1 FROM datasets')).rowCount;
  let blobs = 0;
  for await (const hash of t.deps.blobs.list()) if (hash) blobs++;
  const spooled = existsSync(t.deps.config.paths.tmp) ? readdirSync(t.deps.config.paths.tmp).filter((f) => f.startsWith('upload-')) : [];
  return { versions, datasets, blobs, spooled };
}

/** A private DuckDB session spilling to a scratch directory (for test files too); `close` removes both. */
export async function scratchDuck(label: string): Promise<{ duck: DuckSession; dir: string; close(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `assay-${label}-`));
  const duck = await openDuckSession({ tempDir: dir, memoryLimit: '256MB' });
  return {
    duck,
    dir,
    async close() {
      duck.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A scratch DuckDB session for the suite it is called in: opened before its tests, closed and removed after. */
export function scratchDuckSuite(label: string): { duck(): DuckSession; dir(): string; quarantineCsv(name: string, lines: string[], declared?: Partial<DeclaredVersion>): Promise<QuarantineReport> } {
  let scratch: Awaited<ReturnType<typeof scratchDuck>> | undefined;
  beforeAll(async () => {
    scratch = await scratchDuck(label);
  });
  afterAll(async () => scratch?.close());
  return {
    duck: () => scratch!.duck,
    /** The suite's scratch directory (removed after it). */
    dir: () => scratch!.dir,
    /** Writes `lines` (a header, then records) as a CSV file and runs the quarantine over it, as `internal` data without a contract unless `declared` says more. */
    async quarantineCsv(name, lines, declared = {}) {
      const path = join(scratch!.dir, `${name}.csv`);
      await writeFile(path, lines.join('\n') + '\n');
      const snapshot = await openSnapshot(scratch!.duck, { path, format: 'csv', csv: { delimiter: ',', header: lines[0]!.split(',') } });
      return runQuarantine(scratch!.duck, { snapshot, declared: { classification: 'internal', ...declared }, contract: undefined });
    },
  };
}

/** Two data stewards as the data module's callers: one ingests (and owns the datasets), the other certifies. */
export async function twoStewards(t: TestApp): Promise<{ ingester: Actor; promoter: Actor; ownerId: string }> {
  const a = await createPrincipalWithToken(t.db, { name: 'ingester', roles: ['data-steward'] });
  const b = await createPrincipalWithToken(t.db, { name: 'promoter', roles: ['data-steward'] });
  return {
    ingester: { principalId: a.id, kind: 'human', authenticatedBy: 'api_token' },
    promoter: { principalId: b.id, kind: 'human', authenticatedBy: 'api_token' },
    ownerId: a.id,
  };
}

/** A suite's app with its two stewards, usable in its tests (after its beforeAll). */
export interface TwoStewardsSuite {
  readonly t: TestApp;
  readonly ingester: Actor;
  readonly promoter: Actor;
  readonly ownerId: string;
}

/**
 * Registers, in the calling describe, an app over a fresh database of `backend` with two data
 * stewards (`twoStewards`), built before its tests and closed after them.
 */
export function withTwoStewards(backend: TestBackend): TwoStewardsSuite {
  const ready = appForSuite('withTwoStewards', backend, async (t) => ({ t, ...(await twoStewards(t)) }));
  return viewOf(ready, ['t', 'ingester', 'promoter', 'ownerId']);
}

/** An object whose properties `keys` read those of the value `ready` gives, when they are read (after the suite's beforeAll). */
function viewOf<T extends object, K extends keyof T>(ready: () => T, keys: readonly K[]): Pick<T, K> {
  const view = {} as Pick<T, K>;
  for (const key of keys) Object.defineProperty(view, key, { get: () => ready()[key], enumerable: true });
  return view;
}

/**
 * Registers, in the calling describe, an app over a fresh database of `backend` with what
 * `build` adds to it, built before its tests and closed after them; answers a function that
 * gives the built value (and throws when called before the suite's beforeAll ran).
 */
function appForSuite<T>(label: string, backend: TestBackend, build: (t: TestApp) => Promise<T>): () => T {
  let app: TestApp | undefined;
  let built: T | undefined;
  beforeAll(async () => {
    app = await createTestApp(backend);
    built = await build(app);
  });
  afterAll(async () => app?.close());
  return () => {
    if (built === undefined) throw new Error(`${label}: the suite is used before its beforeAll ran`);
    return built;
  };
}

/** The data module's surroundings as the app's routes build them, over `blobs` (default: the app's store). */
export function promoteEnvOf(t: TestApp, blobs: BlobStore = t.deps.blobs): PromoteEnv {
  const d = t.deps;
  const data: DataEnv = { db: d.db, blobs, tmpDir: d.config.paths.tmp, maxUploadBytes: d.config.data.maxUploadBytes, duckdbMemoryLimit: d.config.data.duckdbMemoryLimit };
  return { ...data, signer: d.keyring.active(), lineageNamespace: d.config.lineage.namespace };
}

/** Runs `sql` in a throwaway in-memory DuckDB (not Assay's sessions) and returns its rows as plain objects. */
export async function duckRows(sql: string): Promise<Array<Record<string, unknown>>> {
  const duck = await DuckDBInstance.create(':memory:');
  const conn = await duck.connect();
  try {
    return (await conn.runAndReadAll(sql)).getRowObjectsJS() as Array<Record<string, unknown>>;
  } finally {
    conn.closeSync();
    duck.closeSync();
  }
}

/**
 * Parquet files written by DuckDB for a suite, in a scratch folder removed after it: `parquetOf`
 * writes the rows of `select` as `<name>.parquet` and returns its bytes.
 */
export function parquetFixtures(label: string): { parquetOf(name: string, select: string): Promise<Buffer> } {
  const dir = mkdtempSync(join(tmpdir(), `assay-${label}-`));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return {
    async parquetOf(name, select) {
      const path = join(dir, `${name}.parquet`);
      await duckRows(`COPY (${select}) TO '${path}' (FORMAT parquet)`);
      return readFileSync(path);
    },
  };
}

/** A Parquet blob read back with DuckDB: the rows of `sql`, in which `$file` stands for the blob. */
export async function parquetRows(t: TestApp, hash: string, sql: string): Promise<Array<Record<string, unknown>>> {
  const dir = await mkdtemp(join(tmpdir(), 'assay-parquet-'));
  try {
    const path = join(dir, 'certified.parquet');
    await pipeline(await t.deps.blobs.get(hash), createWriteStream(path));
    return await duckRows(sql.replace('$file', `read_parquet('${path}')`));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A suite's app with two data stewards over HTTP: one ingests (and owns), the other promotes. */
export interface IngestAndPromoteSuite {
  readonly t: TestApp;
  readonly ingester: { id: string; token: string };
  readonly promoter: { id: string; token: string };
  /** Promotes version 1 of `name` (200 expected) and reads its certified Parquet back: the rows of `sql`, `$file` standing for it. */
  certify(name: string, sql?: string): Promise<Array<Record<string, unknown>>>;
}

/**
 * Registers, in the calling describe, an app over a fresh database of `backend` with an
 * ingesting and a promoting data steward (tokens for the HTTP API), built before its tests and
 * closed after them.
 */
export function withIngesterAndPromoter(backend: TestBackend): IngestAndPromoteSuite {
  const ready = appForSuite('withIngesterAndPromoter', backend, async (t) => ({
    t,
    ingester: await createPrincipalWithToken(t.db, { name: 'ingester', roles: ['data-steward'] }),
    promoter: await createPrincipalWithToken(t.db, { name: 'promoter', roles: ['data-steward'] }),
  }));
  return Object.assign(viewOf(ready, ['t', 'ingester', 'promoter']), {
    async certify(name: string, sql = 'SELECT * FROM $file'): Promise<Array<Record<string, unknown>>> {
      const { t, promoter } = ready();
      const res = await t.app.inject({ method: 'POST', url: `/api/v1/datasets/${name}/versions/1/promote`, headers: { authorization: `Bearer ${promoter.token}` } });
      expect(res.statusCode, res.body).toBe(200);
      return parquetRows(t, res.json<{ version: DatasetVersionRecord }>().version.certified!.parquetSha256, sql);
    },
  });
}

/** A blob store holding a request at one step until the test releases it. */
export interface BlobGate {
  blobs: BlobStore;
  /** Resolves, with the blob's hash, when a request reaches the gate. */
  reached: Promise<string>;
  /** Lets every request held at the gate, and every later one, go on. */
  release(): void;
}

/**
 * `store` with `method` held for each blob `at` accepts (default: any) until `release()`: just
 * after the bytes are stored (`put`, `adopt`), or just before they are removed (`delete`).
 */
export function gatedBlobStore(store: BlobStore, method: 'put' | 'adopt' | 'delete', at: (hash: string) => boolean = () => true): BlobGate {
  let reach!: (hash: string) => void;
  let release!: () => void;
  const reached = new Promise<string>((r) => (reach = r));
  const released = new Promise<void>((r) => (release = r));
  const hold = async (hash: string): Promise<void> => {
    if (!at(hash)) return;
    reach(hash);
    await released;
  };
  const gated: Partial<BlobStore> =
    method === 'put'
      ? { put: async (bytes) => store.put(bytes).then(async (ref) => (await hold(ref.hash), ref)) }
      : method === 'adopt'
        ? { adopt: async (path, expected) => store.adopt(path, expected).then(async (ref) => (await hold(expected.hash), ref)) }
        : { delete: async (hash) => (await hold(hash), store.delete(hash)) };
  return { blobs: { ...store, ...gated }, reached, release };
}

/**
 * Resolves once `settled` has, or once a session of `db`'s own database waits for a lock (a
 * second request on the first's row or advisory lock): the point a test pins an interleaving at.
 * Other databases' waits are not counted: CI runs other suites on the same PostgreSQL server.
 */
export async function waitingForLock(db: Db, settled: Promise<unknown>): Promise<void> {
  let done = false;
  void settled.then(
    () => (done = true),
    () => (done = true),
  );
  while (!done) {
    const waiting = await db.query(
      `SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE NOT l.granted AND l.locktype IN ('transactionid', 'tuple', 'advisory') AND a.datname = current_database()`,
    );
    if (waiting.rowCount > 0) return;
    await sleep(10);
  }
}
