import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { listAuditEntries, type IndexedAuditEntry } from '../../src/audit/index.js';
import type { Clock } from '../../src/core/index.js';
import type { PolicyEngine } from '../../src/policy/index.js';
import type { Db } from '../../src/store/index.js';
import { createTestApp } from '../support/app.js';
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
  /** The policy engine deciding the app's requests. */
  policy: PolicyEngine;
  /** Every log line the app wrote, parsed. */
  logs: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

/** createTestApp with what identity tests need: a site config file, the hand-moved clock, and the log lines. */
export async function createIdentityApp(
  backend: TestBackend,
  options: { config?: Record<string, unknown>; clock?: ManualClock } = {},
): Promise<IdentityApp> {
  const logs: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => logs.push(JSON.parse(line) as Record<string, unknown>) });
  const clock = options.clock ?? new ManualClock();
  const t = await createTestApp(backend, { ...(options.config ? { config: options.config } : {}), clock, logger });
  return { app: t.app, db: t.db, clock, adminToken: t.adminToken, adminId: t.adminId, policy: t.policy, logs, close: () => t.close() };
}

/** Authorization header for a bearer credential. */
export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

/** Audit entries with `action`, optionally only those about `resourceId`. */
export async function entries(db: Db, action: string, resourceId?: string): Promise<IndexedAuditEntry[]> {
  return listAuditEntries(db, { action, ...(resourceId ? { resourceId } : {}) });
}
