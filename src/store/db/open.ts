import type { AssayConfig } from '../../core/index.js';
import { createPgliteDb } from './pglite/driver.js';
import { createPostgresDb } from './postgres/driver.js';
import type { Db } from './types.js';

/**
 * Opens the configured database: PostgreSQL when `databaseUrl` is set, otherwise the
 * embedded PGlite in `$ASSAY_HOME/db`. The caller must hold the home lock for PGlite.
 */
export async function openDatabase(config: Pick<AssayConfig, 'databaseUrl' | 'paths'>): Promise<Db> {
  if (config.databaseUrl) return createPostgresDb({ connectionString: config.databaseUrl });
  return createPgliteDb({ dataDir: config.paths.db });
}
