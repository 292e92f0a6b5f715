import { existsSync } from 'node:fs';
import { unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { openAuditPayloadStore, startBackgroundLoop, startRetentionPurge, startSequencer } from '../audit/index.js';
import { AssayError, ASSAY_VERSION, KEYRING_FILE, openKeyring, Unavailable, type AssayConfig } from '../core/index.js';
import { linkCertifiedVersions, sweepPendingBlobs, type PendingBlobSweepReport } from '../data/index.js';
import { lineageEmitterFromConfig } from '../lineage/index.js';
import { createMetrics } from '../monitor/index.js';
import { loadPolicyEngine } from '../policy/index.js';
import { acquireHomeLock, createBlobStore, migrate, openDatabase, openScratch, type HomeLock } from '../store/index.js';
import { buildApp } from './app.js';

/** What `server.json` records, so other `assay` commands can find the running server. */
export interface ServerInfo {
  pid: number;
  url: string;
  startedAt: string;
  version: string;
  database: 'pglite' | 'postgres';
}

/** A running server. */
export interface RunningServer {
  url: string;
  info: ServerInfo;
  /** Stops accepting requests, finishes in-flight ones, closes the database, releases the lock. */
  close(): Promise<void>;
}

/** Options of `startServer`. */
export interface StartServerOptions {
  config: AssayConfig;
  /** @default a JSON logger on stdout at `config.logLevel` */
  logger?: Logger;
}

/**
 * Starts the HTTP server over the configured home: loads and validates the Cedar policies
 * (default pack plus `$ASSAY_HOME/policies`; an invalid file refuses the start, naming file and
 * line, before anything is opened), takes the embedded database's lock
 * (PGlite is single-process), removes scratch files and dataset blobs that dead processes left
 * and takes a scratch directory of its own under `paths.tmp` (removed when it closes), applies
 * migrations (refusing edited ones), opens the blob stores and keyring, starts the audit
 * sequencer, the payload retention purge and the pending blob sweep, listens, and records its
 * address in `$ASSAY_HOME/server.json`.
 */
export async function startServer(options: StartServerOptions): Promise<RunningServer> {
  const logger = options.logger ?? pino({ level: options.config.logLevel, base: { service: 'assay' } });
  if (!existsSync(join(options.config.paths.keys, KEYRING_FILE))) {
    throw new AssayError('config_invalid', `${options.config.home} is not initialised: run "assay init" first`, {
      errors: [{ field: 'home', message: 'not initialised' }],
    });
  }
  // First, so a bad site policy stops the start before any lock is taken or database opened.
  const policy = await loadPolicyEngine({ siteDir: options.config.paths.policies });
  logger.info({ digest: policy.digest, policies: policy.policies.length, siteDir: options.config.paths.policies }, 'policies loaded');
  const cleanups: Array<() => Promise<void> | void> = [];
  const runCleanups = async (): Promise<void> => {
    for (const fn of cleanups.reverse()) await fn();
    cleanups.length = 0;
  };
  try {
    let lock: HomeLock | undefined;
    if (!options.config.databaseUrl) {
      lock = acquireHomeLock(options.config.paths.lock);
      cleanups.push(() => lock?.release());
    }
    const graceMs = options.config.data.pendingBlobGraceSeconds * 1000;
    // Holding the home lock, this process is the only one: everything under tmp is a dead process's.
    const scratch = await openScratch({ root: options.config.paths.tmp, exclusive: lock !== undefined, graceMs });
    cleanups.push(() => scratch.close());
    if (scratch.removed.entries > 0) logger.info({ dir: options.config.paths.tmp, ...scratch.removed }, 'scratch files of processes that are gone removed');
    const config = withScratch(options.config, scratch.dir);
    const db = await openDatabase(config);
    cleanups.push(() => db.close());
    const report = await migrate(db);
    if (report.applied.length > 0) logger.info({ applied: report.applied.map((m) => m.name) }, 'migrations applied');
    // Versions certified before promotion linked them to their OpenLineage datasets, or under another namespace.
    const linked = await linkCertifiedVersions(db, config.lineage.namespace);
    if (linked.length > 0) logger.info({ versions: linked.length, namespace: config.lineage.namespace }, 'certified dataset versions linked to their OpenLineage datasets');
    const blobs = await createBlobStore(config.blobStore);
    cleanups.push(() => blobs.close());
    const logSweep = (r: PendingBlobSweepReport): void => {
      if (r.records > 0) logger.info({ removed: r.removed.length, kept: r.kept.length, records: r.records }, 'dataset blobs of requests that never finished swept');
    };
    // Holding the home lock, every pending record is a dead process's. With PostgreSQL other
    // servers' requests may be live, so only records older than the grace go.
    logSweep(await sweepPendingBlobs({ db, blobs, graceMs: lock ? 0 : graceMs }));
    if (config.data.pendingBlobSweepIntervalSeconds > 0) {
      const sweeping = startBackgroundLoop({
        round: async () => {
          logSweep(await sweepPendingBlobs({ db, blobs, graceMs }));
          return false;
        },
        idleMs: config.data.pendingBlobSweepIntervalSeconds * 1000,
        onError: (err) => logger.error({ err }, 'dataset pending blob sweep failed'),
      });
      cleanups.push(() => sweeping.stop());
    }
    const auditPayloads = await openAuditPayloadStore(config);
    cleanups.push(() => auditPayloads.close());
    const keyring = await openKeyring(config.paths.keys);
    // Every server runs a sequencer; an advisory lock lets exactly one of them work at a time.
    const sequencer = startSequencer(db, {
      key: keyring.active(),
      onError: (err) => logger.error({ err }, 'audit sequencer round failed'),
    });
    cleanups.push(() => sequencer.stop());
    if (config.audit.purgeIntervalSeconds > 0) {
      // Every server runs the schedule; row locks (SKIP LOCKED) keep replicas off each other's payloads.
      const purge = startRetentionPurge({
        db,
        blobs: auditPayloads,
        intervalMs: config.audit.purgeIntervalSeconds * 1000,
        onReport: (r) => {
          if (r.purged.length > 0 || r.held.length > 0) {
            logger.info({ purged: r.purged.length, heldByLegalHold: r.held.length, more: r.more }, 'audit payload retention purge');
          }
        },
        // Holding the home lock, every pending payload record is a dead process's; with PostgreSQL only those older than the grace.
        ...(lock ? { firstSweepGraceMs: 0 } : {}),
        onSweep: (r) => {
          if (r.recorded > 0 || r.records > 0) {
            logger.info({ legacyRecorded: r.recorded, removed: r.removed.length, kept: r.kept.length, records: r.records }, 'audit payload stray sweep');
          }
        },
        onError: (err) => logger.error({ err }, 'audit payload retention purge failed'),
      });
      cleanups.push(() => purge.stop());
    }

    const lineageEmitter = lineageEmitterFromConfig(config.lineage, logger);
    // Closed before the app (cleanups run in reverse): what the last requests queued still goes out.
    if (lineageEmitter) cleanups.push(async () => void (await lineageEmitter.close(config.lineage.emitTimeoutMs)));
    const metrics = createMetrics({ db, policy, ...(lineageEmitter ? { lineageEmitter } : {}) });
    const app = buildApp({ deps: { config, db, blobs, auditPayloads, keyring, policy, metrics, lineageEmitter, version: ASSAY_VERSION }, logger });
    try {
      await app.listen({ host: config.host, port: config.port });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      throw new Unavailable(`port ${config.port} on ${config.host} is already in use (another server?): choose another with --port or ASSAY_PORT`, err);
    }
    cleanups.push(() => app.close());
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    const info: ServerInfo = {
      pid: process.pid,
      url: `http://${host}:${port}`,
      startedAt: new Date().toISOString(),
      version: ASSAY_VERSION,
      database: db.kind,
    };
    await writeFile(config.paths.serverInfo, JSON.stringify(info, null, 2) + '\n', { mode: 0o600 });
    cleanups.push(() => unlink(config.paths.serverInfo).catch(() => undefined));
    logger.info({ url: info.url, home: config.home, database: db.kind, blobStore: blobs.kind }, 'assay server listening');
    return { url: info.url, info, close: runCleanups };
  } catch (err) {
    await runCleanups();
    throw err;
  }
}

/** `config` with this process's scratch directory as `paths.tmp` and as the S3 store's spool: its requests write nowhere else. */
function withScratch(config: AssayConfig, dir: string): AssayConfig {
  const blobStore = config.blobStore.kind === 's3' ? { ...config.blobStore, spoolDir: dir } : config.blobStore;
  return { ...config, paths: { ...config.paths, tmp: dir }, blobStore };
}
