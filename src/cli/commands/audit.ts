import { verifyAuditLogSnapshot, type AuditVerifyReport } from '../../audit/index.js';
import { AssayError, loadConfig, openKeyring } from '../../core/index.js';
import { acquireHomeLock, migrationStatus, openDatabase } from '../../store/index.js';
import { findServer, getJson } from '../client.js';
import { EXIT, printJson, type CliIo, type GlobalOptions } from '../io.js';

/**
 * `assay audit verify`: through the running server when there is one, otherwise on the
 * database directly (taking the embedded database's lock, so never beside a server).
 */
export async function runAuditVerify(io: CliIo, opts: GlobalOptions & { url?: string }): Promise<number> {
  const config = loadConfig({ env: io.env, cwd: io.cwd, overrides: { ...(opts.home ? { home: opts.home } : {}) } });
  const server = findServer(config, io.env, opts.url);
  let report: AuditVerifyReport;
  if (server) {
    report = await getJson<AuditVerifyReport>(server, '/api/v1/audit/verify');
  } else {
    const lock = config.databaseUrl ? undefined : acquireHomeLock(config.paths.lock);
    try {
      const keyring = await openKeyring(config.paths.keys);
      const db = await openDatabase(config);
      try {
        const status = await migrationStatus(db);
        if (!status.ok) throw new AssayError('migration_edited', `database schema is not current: ${status.problem ?? ''}`);
        const publicKeys = keyring.list().map((k) => Buffer.from(k.publicKey, 'base64'));
        report = await verifyAuditLogSnapshot({ db, publicKeys });
      } finally {
        await db.close();
      }
    } finally {
      lock?.release();
    }
  }
  if (opts.json) printJson(io, report);
  else if (report.ok) io.stdout(`audit log OK: ${report.size} entries, ${report.checkpoints} signed checkpoints verified\n`);
  else {
    const p = report.problem;
    const where = p.index !== undefined ? `first bad index ${p.index}` : p.checkpointSize !== undefined ? `checkpoint of size ${p.checkpointSize}` : 'log';
    io.stderr(`audit log DAMAGED: ${where}: ${p.kind} — ${p.detail}\n`);
  }
  return report.ok ? EXIT.ok : EXIT.failure;
}
