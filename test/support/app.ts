import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { buildApp, type RouteSpec } from '../../src/api/index.js';
import { ASSAY_VERSION, loadConfig, openKeyring, type Keyring } from '../../src/core/index.js';
import { bootstrapAdmin, createPrincipal, issueToken, type Role } from '../../src/identity/index.js';
import { createFsBlobStore, migrate, type BlobStore, type Db } from '../../src/store/index.js';
import type { TestBackend } from './databases.js';

/** An in-process app over a fresh, migrated database of `backend`, with an admin token. */
export interface TestApp {
  app: FastifyInstance;
  db: Db;
  /** The app's audit payload store (apart from the shared blob store). */
  auditPayloads: BlobStore;
  keyring: Keyring;
  adminToken: string;
  adminId: string;
  close(): Promise<void>;
}

/** Builds the real app (real database, real blob store, real keyring) for `app.inject` tests. */
export async function createTestApp(backend: TestBackend, options: { routes?: RouteSpec[] } = {}): Promise<TestApp> {
  const home = mkdtempSync(join(tmpdir(), 'assay-app-'));
  const config = loadConfig({ env: { ASSAY_HOME: home, ASSAY_LOG_LEVEL: 'silent' }, cwd: home });
  const { db, cleanup } = await backend.open();
  await migrate(db);
  const blobs = await createFsBlobStore({ root: config.paths.blobs });
  const auditPayloads = await createFsBlobStore({ root: config.paths.auditPayloads });
  const keyring = await openKeyring(config.paths.keys, { create: true });
  await keyring.generate();
  const boot = await bootstrapAdmin(db);
  if (!boot.created) throw new Error('fresh database already had an administrator');
  const app = buildApp({
    deps: { config, db, blobs, auditPayloads, keyring, version: ASSAY_VERSION },
    logger: pino({ level: 'silent' }),
    ...(options.routes ? { routes: options.routes } : {}),
  });
  await app.ready();
  return {
    app,
    db,
    auditPayloads,
    keyring,
    adminToken: boot.token.token,
    adminId: boot.principal.id,
    async close() {
      await app.close();
      await blobs.close();
      await auditPayloads.close();
      await cleanup();
      rmSync(home, { recursive: true, force: true });
    },
  };
}

/** Creates a principal holding `roles` (created by the system, audited) and returns its id and a fresh token. */
export async function createPrincipalWithToken(
  db: Db,
  input: { name: string; roles: Role[]; kind?: 'human' | 'service' | 'agent' },
): Promise<{ id: string; token: string }> {
  const ctx = { actor: { principalId: 'system', kind: 'system', authenticatedBy: 'system' } as const };
  const p = await createPrincipal(db, { name: input.name, kind: input.kind ?? 'human', roles: input.roles }, ctx);
  const issued = await issueToken(db, { principalId: p.id, name: 'test' }, ctx);
  return { id: p.id, token: issued.token };
}
