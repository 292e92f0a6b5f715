import type { FastifyBaseLogger } from 'fastify';
import { z } from 'zod';
import { migrationStatus, probeWritableDir } from '../../store/index.js';
import { defineRoute, type AppDeps } from '../route.js';

const checkSchema = z.object({
  status: z.enum(['ok', 'failed']),
  detail: z
    .string()
    .optional()
    .describe("why it failed: the system's error code (ENOSPC, EROFS, ECONNREFUSED, a SQLSTATE), or which migration diverged; the full reason, with paths and hosts, is in the server log"),
});
const readySchema = z.object({
  status: z.enum(['ready', 'not_ready']),
  checks: z.object({
    database: checkSchema.describe('the database answers a query'),
    migrations: checkSchema.describe('every migration is applied and none was edited after it was applied'),
    blobStore: checkSchema.describe(
      'the blob store can take a blob: a small file is written to and removed from its staging directory (filesystem) or its local spool directory (S3, where the bucket must also answer a lookup; writing to the bucket is not probed)',
    ),
    scratch: checkSchema.describe("a small file is written to and removed from this process's scratch directory, where uploads are spooled before ingest"),
  }),
  policyDigest: z.string().describe('SHA-256 of the Cedar schema and policies that decide requests: which policy set is in force'),
});

type Check = z.infer<typeof checkSchema>;

/** Where a failed check's full reason goes: the server's log, not the unauthenticated answer. */
type ReadinessLog = Pick<FastifyBaseLogger, 'warn'>;

/**
 * What an unauthenticated caller learns of a failure: the system's error code (`EROFS`,
 * `ENOSPC`, `ECONNREFUSED`, a PostgreSQL SQLSTATE), enough to tell a full disk from a read-only
 * one. Not the message: it names server paths, database hosts and users, which a probe that any
 * network neighbour may call should not map for them.
 */
function publicReason(err: unknown): string {
  let at: unknown = err;
  for (let depth = 0; depth < 4 && at instanceof Error; depth++, at = at.cause) {
    const code = (at as { code?: unknown }).code;
    if (typeof code === 'string' && /^[A-Z0-9_]{1,40}$/.test(code)) return `${code}; the server log has the cause`;
  }
  return 'the server log has the cause';
}

/** Runs one check. `fn` returns a problem that is safe to show anyone, or throws one that is logged in full and answered by its code. */
async function check(name: string, log: ReadinessLog, fn: () => Promise<string | undefined>): Promise<Check> {
  try {
    const problem = await fn();
    return problem ? { status: 'failed', detail: problem } : { status: 'ok' };
  } catch (err) {
    log.warn({ check: name, err }, `readiness check ${name} failed: ${(err as Error).message}`);
    return { status: 'failed', detail: publicReason(err) };
  }
}

/** Runs every readiness check; ready only when all pass. */
async function readiness(deps: AppDeps, log: ReadinessLog): Promise<z.infer<typeof readySchema>> {
  const database = await check('database', log, async () => {
    await deps.db.query('SELECT 1');
    return undefined;
  });
  const migrations = await check('migrations', log, async () => {
    // A diverged ledger names only shipped migration files; a database error throws and is logged.
    const s = await migrationStatus(deps.db);
    return s.ok ? undefined : s.problem;
  });
  const blobStore = await check('blobStore', log, async () => {
    await deps.blobs.probeWritable();
    return undefined;
  });
  const scratch = await check('scratch', log, async () => {
    // Created when missing, as the upload spool does before its first file.
    await probeWritableDir(deps.config.paths.tmp, { create: true });
    return undefined;
  });
  const checks = { database, migrations, blobStore, scratch };
  const ok = Object.values(checks).every((c) => c.status === 'ok');
  return { status: ok ? 'ready' : 'not_ready', checks, policyDigest: deps.policy.digest };
}

export const healthRoutes = [
  defineRoute({
    method: 'GET',
    path: '/healthz',
    operationId: 'getHealth',
    summary: 'Liveness: the process is up and serving HTTP.',
    tags: ['health'],
    auth: 'none',
    request: {},
    responses: { 200: { description: 'alive', schema: z.object({ status: z.literal('ok'), version: z.string() }) } },
    handler: async ({ deps }) => ({ json: { status: 'ok', version: deps.version } }),
  }),
  defineRoute({
    method: 'GET',
    path: '/readyz',
    operationId: 'getReadiness',
    summary:
      'Readiness: database reachable, migrations applied and unedited, blob store and scratch directory writable (a probe file written and removed; S3 bucket writes are not probed); names the policy set in force.',
    tags: ['health'],
    auth: 'none',
    request: {},
    responses: {
      200: { description: 'ready', schema: readySchema },
      503: { description: 'not ready; `checks` says which dependency failed, and its error code (the server log has the full reason)', schema: readySchema },
    },
    handler: async ({ deps, request }) => {
      const r = await readiness(deps, request.log);
      return { status: r.status === 'ready' ? 200 : 503, json: r };
    },
  }),
];
