import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { AUTHZ_DECIDE_ACTION, buildApp, routeTable, type AppDeps, type RouteSpec } from '../../src/api/index.js';
import { listAuditEntries, type IndexedAuditEntry } from '../../src/audit/index.js';
import { ASSAY_VERSION, loadConfig, openKeyring, type Clock, type Keyring } from '../../src/core/index.js';
import { bootstrapAdmin, createPrincipal, issueToken, type Role } from '../../src/identity/index.js';
import { lineageEmitterFromConfig } from '../../src/lineage/index.js';
import { createMetrics } from '../../src/monitor/index.js';
import { loadPolicyEngine, type PolicyEngine } from '../../src/policy/index.js';
import { createFsBlobStore, migrate, type BlobStore, type Db } from '../../src/store/index.js';
import type { TestBackend } from './databases.js';
import { checkResponsesAgainstOpenApi } from './response-conformance.js';

/** An in-process app over a fresh, migrated database of `backend`, with an admin token. */
export interface TestApp {
  app: FastifyInstance;
  db: Db;
  /** The app's audit payload store (apart from the shared blob store). */
  auditPayloads: BlobStore;
  keyring: Keyring;
  /** What the app was built with. */
  deps: AppDeps;
  /** The policy engine deciding the app's requests. */
  policy: PolicyEngine;
  adminToken: string;
  adminId: string;
  close(): Promise<void>;
}

/** Options of `createTestApp`; all optional. */
export interface TestAppOptions {
  routes?: RouteSpec[];
  /** Replaces the engine loaded from the home's site policies. */
  policy?: PolicyEngine;
  /** Written to the home's config.json, so it goes through loadConfig like a site's file. */
  config?: Record<string, unknown>;
  clock?: Clock;
  /** @default a silent logger */
  logger?: Logger;
}

/**
 * Builds the real app (real database, real blob store, real keyring, the real policy engine
 * over the home's site policies) for `app.inject` tests.
 */
export async function createTestApp(backend: TestBackend, options: TestAppOptions = {}): Promise<TestApp> {
  const home = mkdtempSync(join(tmpdir(), 'assay-app-'));
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
  const policy = options.policy ?? (await loadPolicyEngine({ siteDir: config.paths.policies }));
  // Process metrics off: a test process builds many apps, and Node's collectors are per registry.
  const lineageEmitter = lineageEmitterFromConfig(config.lineage);
  const metrics = createMetrics({ db, policy, processMetrics: false, ...(lineageEmitter ? { lineageEmitter } : {}) });
  const deps: AppDeps = { config, db, blobs, auditPayloads, keyring, policy, metrics, lineageEmitter, version: ASSAY_VERSION };
  const app = buildApp({
    deps,
    logger: options.logger ?? pino({ level: 'silent' }),
    ...(options.routes ? { routes: options.routes } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  });
  // Every answer any suite receives is held to the OpenAPI document the app publishes.
  const conformance = checkResponsesAgainstOpenApi(app, options.routes ?? routeTable());
  await app.ready();
  return {
    app,
    db,
    auditPayloads,
    keyring,
    deps,
    policy,
    adminToken: boot.token.token,
    adminId: boot.principal.id,
    async close() {
      await app.close();
      await blobs.close();
      await auditPayloads.close();
      await cleanup();
      rmSync(home, { recursive: true, force: true });
      conformance.assertConforming();
    },
  };
}

/** Creates a principal holding `roles` (created by the system, audited) and returns its id and a fresh token. */
export async function createPrincipalWithToken(
  db: Db,
  input: { name: string; roles: Role[]; kind?: 'human' | 'service' | 'agent'; attributes?: Record<string, unknown> },
): Promise<{ id: string; token: string }> {
  const ctx = { actor: { principalId: 'system', kind: 'system', authenticatedBy: 'system' } as const };
  const p = await createPrincipal(
    db,
    { name: input.name, kind: input.kind ?? 'human', roles: input.roles, ...(input.attributes ? { attributes: input.attributes } : {}) },
    ctx,
  );
  const issued = await issueToken(db, { principalId: p.id, name: 'test' }, ctx);
  return { id: p.id, token: issued.token };
}

/**
 * Audit entries that record changes and refusals, leaving out the authorisation decision every
 * authenticated request writes: "nothing written" means this count stays put.
 */
export async function changeEntryCount(db: Db): Promise<number> {
  return (await db.query('SELECT 1 FROM audit_entries WHERE action <> $1', [AUTHZ_DECIDE_ACTION])).rowCount;
}

/** The authorisation decisions recorded for `principalId`, oldest first, optionally only one effect. */
export async function decisionsOf(db: Db, principalId: string, effect?: 'allowed' | 'denied'): Promise<IndexedAuditEntry[]> {
  const all = await listAuditEntries(db, { action: AUTHZ_DECIDE_ACTION, principalId });
  return effect ? all.filter((e) => e.decision.effect === effect) : all;
}
