import { z } from 'zod';
import { migrationStatus, probeWritableDir } from '../../store/index.js';
import { defineRoute, type AppDeps } from '../route.js';

const checkSchema = z.object({ status: z.enum(['ok', 'failed']), detail: z.string().optional() });
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

async function check(fn: () => Promise<string | undefined>): Promise<Check> {
  try {
    const problem = await fn();
    return problem ? { status: 'failed', detail: problem } : { status: 'ok' };
  } catch (err) {
    return { status: 'failed', detail: (err as Error).message };
  }
}

/** Runs every readiness check; ready only when all pass. */
async function readiness(deps: AppDeps): Promise<z.infer<typeof readySchema>> {
  const database = await check(async () => {
    await deps.db.query('SELECT 1');
    return undefined;
  });
  const migrations = await check(async () => {
    const s = await migrationStatus(deps.db);
    return s.ok ? undefined : s.problem;
  });
  const blobStore = await check(async () => {
    await deps.blobs.probeWritable();
    return undefined;
  });
  const scratch = await check(async () => {
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
      503: { description: 'not ready; `checks` says which dependency failed', schema: readySchema },
    },
    handler: async ({ deps }) => {
      const r = await readiness(deps);
      return { status: r.status === 'ready' ? 200 : 503, json: r };
    },
  }),
];
