import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { MigrationEdited } from '../../core/index.js';
import type { Db, Tx } from './types.js';

/** One numbered migration file. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

/** What `migrate` did. */
export interface MigrationReport {
  applied: Migration[];
  alreadyApplied: number;
}

const FILE_PATTERN = /^(\d{4})_([a-z0-9_]+)\.sql$/;
/** Serialises migrators across processes sharing one PostgreSQL (any constant works; this spells "assay"). */
const MIGRATION_LOCK_KEY = 0x6173736179;

/** The migrations shipped with this build, in order. */
export const DEFAULT_MIGRATIONS_DIR = fileURLToPath(new URL('../migrations/', import.meta.url));

/** Reads `NNNN_name.sql` files from `dir`, in order; refuses gaps and duplicate numbers. */
export function loadMigrations(dir: string = DEFAULT_MIGRATIONS_DIR): Migration[] {
  const files = readdirSync(dir).filter((f) => f.endsWith('.sql')).sort();
  const out: Migration[] = [];
  for (const file of files) {
    const m = FILE_PATTERN.exec(file);
    if (!m) throw new Error(`migration file name ${file} does not match NNNN_name.sql`);
    const version = Number(m[1]);
    if (version !== out.length + 1) throw new Error(`migration ${file}: expected version ${out.length + 1}`);
    const sql = readFileSync(join(dir, file), 'utf8');
    out.push({ version, name: file, sql, checksum: createHash('sha256').update(sql).digest('hex') });
  }
  return out;
}

async function ensureLedger(tx: Tx): Promise<void> {
  await tx.exec(`CREATE TABLE IF NOT EXISTS assay_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
  )`);
}

async function lock(tx: Tx): Promise<void> {
  await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
}

/**
 * Applies pending migrations in order, each in its own transaction with its ledger row.
 * Refuses (MigrationEdited) when an applied migration's file changed or disappeared, so
 * a database never runs under a schema history different from the one it recorded.
 */
export async function migrate(db: Db, migrations: Migration[] = loadMigrations()): Promise<MigrationReport> {
  await db.transaction(async (tx) => {
    await lock(tx);
    await ensureLedger(tx);
  });
  const applied: Migration[] = [];
  let alreadyApplied = 0;
  await verifyApplied(db, migrations);
  for (const migration of migrations) {
    const didApply = await db.transaction(async (tx) => {
      await lock(tx);
      const existing = await tx.query<{ checksum: string }>('SELECT checksum FROM assay_migrations WHERE version = $1', [
        migration.version,
      ]);
      const row = existing.rows[0];
      if (row) {
        if (row.checksum !== migration.checksum) {
          throw new MigrationEdited(migration.version, migration.name, 'was edited after it was applied');
        }
        return false;
      }
      await tx.exec(migration.sql);
      await tx.query('INSERT INTO assay_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
        migration.version,
        migration.name,
        migration.checksum,
      ]);
      return true;
    });
    if (didApply) applied.push(migration);
    else alreadyApplied++;
  }
  return { applied, alreadyApplied };
}

/** Migration state for `/readyz`: pending count, and the first problem if history diverged. */
export interface MigrationStatus {
  ok: boolean;
  pending: number;
  problem?: string;
}

/**
 * Compares the ledger with the shipped files without changing anything. A diverged ledger is a
 * status (its problem names only shipped files); a database that cannot be read throws.
 */
export async function migrationStatus(db: Db, migrations: Migration[] = loadMigrations()): Promise<MigrationStatus> {
  try {
    const pending = await verifyApplied(db, migrations);
    return pending === 0 ? { ok: true, pending } : { ok: false, pending, problem: `${pending} migration(s) pending` };
  } catch (err) {
    if (err instanceof MigrationEdited) return { ok: false, pending: 0, problem: err.message };
    throw err;
  }
}

/** Throws MigrationEdited on divergence; returns how many files are not yet applied. */
async function verifyApplied(db: Db, migrations: Migration[]): Promise<number> {
  const exists = await db.query<{ t: string | null }>(`SELECT to_regclass('assay_migrations')::text AS t`);
  if (!exists.rows[0]?.t) return migrations.length;
  const rows = await db.query<{ version: number; name: string; checksum: string }>(
    'SELECT version, name, checksum FROM assay_migrations ORDER BY version',
  );
  const byVersion = new Map(migrations.map((m) => [m.version, m]));
  for (const row of rows.rows) {
    const file = byVersion.get(row.version);
    if (!file) throw new MigrationEdited(row.version, row.name, 'was applied but its file is missing from this build');
    if (file.checksum !== row.checksum) throw new MigrationEdited(row.version, row.name, 'was edited after it was applied');
  }
  return migrations.length - rows.rows.length;
}
