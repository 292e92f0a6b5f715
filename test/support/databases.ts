/**
 * Databases for integration tests. PGlite runs in memory; PostgreSQL is used only when
 * ASSAY_TEST_DATABASE_URL names a server, and then every `open()` creates its own uniquely
 * named database and drops it afterwards, so concurrent runs never see each other's data.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createPgliteDb } from '../../src/store/db/pglite/driver.js';
import { createPostgresDb } from '../../src/store/db/postgres/driver.js';
import type { Db } from '../../src/store/db/types.js';

const ENV = 'ASSAY_TEST_DATABASE_URL';

/** True when ASSAY_TEST_DATABASE_URL is set, i.e. the PostgreSQL variants of the suites should run. */
export function postgresAvailable(): boolean {
  return Boolean(process.env[ENV]);
}

/** A throwaway PostgreSQL database; `drop` is idempotent. */
export interface TestPostgres {
  /** Connection string of the new database (same server and credentials as the admin URL). */
  url: string;
  /** Name of the new database. */
  name: string;
  /** Terminates every connection to the database and drops it. */
  drop(): Promise<void>;
}

async function withAdmin<T>(adminUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl });
  // An admin connection dropping mid-test must surface as a failed query, not crash the worker.
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Creates database `assay_test_<pid>_<random>` on the server of `adminUrl` (default: ASSAY_TEST_DATABASE_URL). */
export async function createTestPostgres(adminUrl: string | undefined = process.env[ENV]): Promise<TestPostgres> {
  if (!adminUrl) throw new Error(`${ENV} is not set: no PostgreSQL server to create a test database on`);
  const name = `assay_test_${process.pid}_${randomBytes(6).toString('hex')}`;
  await withAdmin(adminUrl, (c) => c.query(`CREATE DATABASE "${name}"`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  let dropped: Promise<void> | undefined;
  return {
    url: url.toString(),
    name,
    drop() {
      // WITH (FORCE) terminates the database's remaining sessions before dropping it.
      dropped ??= withAdmin(adminUrl, async (c) => {
        await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      });
      return dropped;
    },
  };
}

/** An open database plus whatever tears it down. */
export interface OpenedDb {
  db: Db;
  /** Closes the Db and, for PostgreSQL, drops its database. */
  cleanup(): Promise<void>;
}

/** One driver a suite runs against; every `open()` yields a fresh, empty database. */
export interface TestBackend {
  name: 'pglite' | 'postgres';
  /** False for PostgreSQL when ASSAY_TEST_DATABASE_URL is unset; `open()` then rejects. */
  available: boolean;
  open(): Promise<OpenedDb>;
}

const pgliteBackend: TestBackend = {
  name: 'pglite',
  available: true,
  async open() {
    const db = await createPgliteDb();
    return { db, cleanup: () => db.close() };
  },
};

/** A fresh PostgreSQL database on the server of `adminUrl`, opened through our driver; cleanup drops it. */
export async function openTestPostgresDb(adminUrl?: string): Promise<OpenedDb> {
  const database = await createTestPostgres(adminUrl);
  try {
    const db = await createPostgresDb({ connectionString: database.url });
    return {
      db,
      async cleanup() {
        try {
          await db.close();
        } finally {
          await database.drop();
        }
      },
    };
  } catch (err) {
    await database.drop();
    throw err;
  }
}

const postgresBackend: TestBackend = {
  name: 'postgres',
  get available() {
    return postgresAvailable();
  },
  open: () => openTestPostgresDb(),
};

/**
 * The backends store suites run against: in-memory PGlite, and PostgreSQL only when available
 * (so `describe.each(eachBackend())` never fails without a server). With `includeUnavailable`
 * PostgreSQL is always listed, for suites that `describe.skipIf(!backend.available)` it.
 */
export function eachBackend(options: { includeUnavailable?: boolean } = {}): TestBackend[] {
  return [pgliteBackend, postgresBackend].filter((b) => options.includeUnavailable || b.available);
}
