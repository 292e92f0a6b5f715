import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { buildApp } from '../../src/api/index.js';
import { listAuditEntries, type IndexedAuditEntry } from '../../src/audit/index.js';
import { ASSAY_VERSION, loadConfig, openKeyring, type Clock } from '../../src/core/index.js';
import { bootstrapAdmin } from '../../src/identity/index.js';
import { loadPolicyEngine } from '../../src/policy/index.js';
import { createFsBlobStore, migrate, type Db } from '../../src/store/index.js';
import type { TestBackend } from '../support/databases.js';

/** A clock the test moves by hand, so expiry is tested without waiting and without wall-clock asserts. */
export class ManualClock implements Clock {
  private t: number;

  constructor(start = Date.parse('2031-03-04T05:06:07.000Z')) {
    this.t = start;
  }

  now(): Date {
    return new Date(this.t);
  }

  /** Moves the clock forward by `ms`. */
  advance(ms: number): void {
    this.t += ms;
  }

  /** Seconds since the epoch, for JWT claims. */
  seconds(): number {
    return Math.floor(this.t / 1000);
  }
}

/** The real app over a fresh database, with a hand-moved clock, a config file and captured logs. */
export interface IdentityApp {
  app: FastifyInstance;
  db: Db;
  clock: ManualClock;
  adminToken: string;
  adminId: string;
  /** Every log line the app wrote, parsed. */
  logs: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

/**
 * Like test/support/app.ts createTestApp, plus what identity tests need: `config` written to the
 * home's config.json (so it goes through loadConfig), the injectable clock, and the log lines.
 */
export async function createIdentityApp(
  backend: TestBackend,
  options: { config?: Record<string, unknown>; clock?: ManualClock } = {},
): Promise<IdentityApp> {
  const home = mkdtempSync(join(tmpdir(), 'assay-identity-'));
  mkdirSync(home, { recursive: true });
  if (options.config) writeFileSync(join(home, 'config.json'), JSON.stringify(options.config));
  const config = loadConfig({ env: { ASSAY_HOME: home, ASSAY_LOG_LEVEL: 'silent' }, cwd: home });
  const { db, cleanup } = await backend.open();
  await migrate(db);
  const blobs = await createFsBlobStore({ root: config.paths.blobs });
  const auditPayloads = await createFsBlobStore({ root: config.paths.auditPayloads });
  const keyring = await openKeyring(config.paths.keys, { create: true });
  await keyring.generate();
  const boot = await bootstrapAdmin(db);
  if (!boot.created) throw new Error('fresh database already had an administrator');
  const logs: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => logs.push(JSON.parse(line) as Record<string, unknown>) });
  const clock = options.clock ?? new ManualClock();
  const policy = await loadPolicyEngine({ siteDir: config.paths.policies });
  const app = buildApp({ deps: { config, db, blobs, auditPayloads, keyring, policy, version: ASSAY_VERSION }, logger, clock });
  await app.ready();
  return {
    app,
    db,
    clock,
    adminToken: boot.token.token,
    adminId: boot.principal.id,
    logs,
    async close() {
      await app.close();
      await blobs.close();
      await auditPayloads.close();
      await cleanup();
      rmSync(home, { recursive: true, force: true });
    },
  };
}

/** Authorization header for a bearer credential. */
export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

/** Audit entries with `action`, optionally only those about `resourceId`. */
export async function entries(db: Db, action: string, resourceId?: string): Promise<IndexedAuditEntry[]> {
  return listAuditEntries(db, { action, ...(resourceId ? { resourceId } : {}) });
}
