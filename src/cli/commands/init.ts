import { existsSync } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DatabaseLocked, KEYRING_FILE, loadConfig, openKeyring, type AssayConfig } from '../../core/index.js';
import { bootstrapAdmin } from '../../identity/index.js';
import { acquireHomeLock, migrate, openDatabase, type HomeLock } from '../../store/index.js';
import { printJson, type CliIo, type GlobalOptions } from '../io.js';

/** What `assay init` did. */
export interface InitResult {
  home: string;
  /** Set when a running server owns the embedded database (so it is initialised already). */
  serverPid?: number;
  database: 'pglite' | 'postgres';
  created: boolean;
  adminPrincipalId?: string;
  /** Only on the run that created the administrator. */
  adminToken?: string;
  adminTokenFile: string;
  signingKeyId: string;
}

/**
 * Initialises `$ASSAY_HOME` idempotently: directory (0700), signing keyring, database and
 * migrations, and the first administrator, whose token is written once to `admin.token`.
 */
export async function initHome(config: AssayConfig): Promise<InitResult> {
  await mkdir(config.home, { recursive: true, mode: 0o700 });
  await chmod(config.home, 0o700);
  let lock: HomeLock | undefined;
  if (!config.databaseUrl) {
    try {
      lock = acquireHomeLock(config.paths.lock);
    } catch (err) {
      if (!(err instanceof DatabaseLocked) || !existsSync(join(config.paths.keys, KEYRING_FILE))) throw err;
      // A running server owns an initialised home: nothing to do, and we must not open its database.
      const keyring = await openKeyring(config.paths.keys);
      return {
        home: config.home,
        serverPid: err.holderPid,
        database: 'pglite',
        created: false,
        adminTokenFile: config.paths.adminToken,
        signingKeyId: keyring.active().keyid,
      };
    }
  }
  try {
    const keyring = await openKeyring(config.paths.keys, { create: true });
    if (keyring.list().length === 0) await keyring.generate();
    const db = await openDatabase(config);
    try {
      await migrate(db);
      const result = await bootstrapAdmin(db);
      if (result.created) {
        await writeFile(config.paths.adminToken, result.token.token + '\n', { mode: 0o600, flag: 'wx' });
      }
      return {
        home: config.home,
        database: db.kind,
        created: result.created,
        adminPrincipalId: result.principal.id,
        ...(result.created ? { adminToken: result.token.token } : {}),
        adminTokenFile: config.paths.adminToken,
        signingKeyId: keyring.active().keyid,
      };
    } finally {
      await db.close();
    }
  } finally {
    lock?.release();
  }
}

/** `assay init`. */
export async function runInit(io: CliIo, opts: GlobalOptions): Promise<number> {
  const config = loadConfig({ env: io.env, cwd: io.cwd, overrides: { ...(opts.home ? { home: opts.home } : {}) } });
  const r = await initHome(config);
  if (opts.json) printJson(io, r);
  else if (r.created) {
    io.stdout(`Initialised Assay in ${r.home} (${r.database} database, signing key ${r.signingKeyId.slice(0, 16)}…)\n`);
    io.stdout(`Administrator ${r.adminPrincipalId} token (shown once; also saved to ${r.adminTokenFile}, mode 0600):\n`);
    io.stdout(`${r.adminToken}\n`);
  } else {
    const who = r.serverPid ? `its server (pid ${r.serverPid}) is running` : `administrator ${r.adminPrincipalId} exists`;
    io.stdout(`Assay is already initialised in ${r.home}; ${who}; no new token issued.\n`);
  }
  return 0;
}
