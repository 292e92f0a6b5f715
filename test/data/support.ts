import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { openDuckSession, type DuckSession } from '../../src/data/duck.js';
import { openSnapshot } from '../../src/data/load.js';
import type { DeclaredVersion } from '../../src/data/checks/index.js';
import { runQuarantine, type QuarantineReport } from '../../src/data/quarantine.js';
import type { Actor } from '../../src/audit/index.js';
import type { DataEnv, PromoteEnv } from '../../src/data/index.js';
import type { BlobStore } from '../../src/store/index.js';
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
  let built: ({ t: TestApp } & Awaited<ReturnType<typeof twoStewards>>) | undefined;
  let app: TestApp | undefined;
  beforeAll(async () => {
    app = await createTestApp(backend);
    built = { t: app, ...(await twoStewards(app)) };
  });
  afterAll(async () => app?.close());
  const ready = () => {
    if (!built) throw new Error('withTwoStewards: the suite is used before its beforeAll ran');
    return built;
  };
  return {
    get t() {
      return ready().t;
    },
    get ingester() {
      return ready().ingester;
    },
    get promoter() {
      return ready().promoter;
    },
    get ownerId() {
      return ready().ownerId;
    },
  };
}

/** The data module's surroundings as the app's routes build them, over `blobs` (default: the app's store). */
export function promoteEnvOf(t: TestApp, blobs: BlobStore = t.deps.blobs): PromoteEnv {
  const d = t.deps;
  const data: DataEnv = { db: d.db, blobs, tmpDir: d.config.paths.tmp, maxUploadBytes: d.config.data.maxUploadBytes, duckdbMemoryLimit: d.config.data.duckdbMemoryLimit };
  return { ...data, signer: d.keyring.active(), lineageNamespace: d.config.lineage.namespace };
}
