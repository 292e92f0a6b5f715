/** The store: the SQL database (PGlite or PostgreSQL), its migrations, and the blob store. */
export type { Db, Tx, Row, QueryResult, Queryable, Isolation, TransactionOptions } from './db/types.js';
export { createPgliteDb, type PgliteDbOptions } from './db/pglite/driver.js';
export { createPostgresDb, type PostgresDbOptions } from './db/postgres/driver.js';
export { openDatabase } from './db/open.js';
export { isRetryable } from './db/retry.js';
export {
  migrate,
  migrationStatus,
  loadMigrations,
  DEFAULT_MIGRATIONS_DIR,
  type Migration,
  type MigrationReport,
  type MigrationStatus,
} from './db/migrator.js';
export { acquireHomeLock, readLockHolder, type HomeLock } from './db/home-lock.js';
export { openScratch, probeWritableDir, type ProbeOptions, type Scratch, type ScratchCleanup, type ScratchOptions } from './scratch.js';
export * from './blob/index.js';
