import { z } from 'zod';
import { migrationStatus } from '../../store/index.js';
import { defineRoute, type AppDeps } from '../route.js';

const checkSchema = z.object({ status: z.enum(['ok', 'failed']), detail: z.string().optional() });
const readySchema = z.object({
  status: z.enum(['ready', 'not_ready']),
  checks: z.object({ database: checkSchema, migrations: checkSchema, blobStore: checkSchema }),
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
    // A lookup of an address that cannot exist proves the backend answers.
    await deps.blobs.has('0'.repeat(64));
    return undefined;
  });
  const ok = [database, migrations, blobStore].every((c) => c.status === 'ok');
  return { status: ok ? 'ready' : 'not_ready', checks: { database, migrations, blobStore }, policyDigest: deps.policy.digest };
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
    summary: 'Readiness: database reachable, migrations applied and unedited, blob store reachable; names the policy set in force.',
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
