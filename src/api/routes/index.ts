import { z } from 'zod';
import { buildOpenApi } from '../openapi.js';
import { on } from '../authorize.js';
import { defineRoute, type RouteSpec } from '../route.js';
import { auditPayloadRoutes } from './audit-payloads.js';
import { auditRoutes } from './audit.js';
import { autonomyRoutes } from './autonomy.js';
import { dataRoutes } from './data.js';
import { erasureRoutes } from './erasure.js';
import { healthRoutes } from './health.js';
import { identityRoutes } from './identity.js';
import { lineageRoutes } from './lineage.js';
import { metricsRoutes } from './metrics.js';

/**
 * Every route the server exposes, the OpenAPI document's own route included; `extra`
 * routes (tests, extensions) are served and documented alike.
 */
export function routeTable(extra: RouteSpec[] = []): RouteSpec[] {
  const routes: RouteSpec[] = [...healthRoutes, ...identityRoutes, ...auditRoutes, ...auditPayloadRoutes, ...autonomyRoutes, ...dataRoutes, ...erasureRoutes, ...lineageRoutes, ...metricsRoutes, ...extra];
  const openapi: RouteSpec = defineRoute({
    method: 'GET',
    path: '/api/v1/openapi.json',
    operationId: 'getOpenApi',
    summary: 'This API described as OpenAPI 3.1, generated from the schemas that validate requests.',
    tags: ['meta'],
    auth: 'token',
    authorize: on.platform,
    request: {},
    responses: { 200: { description: 'OpenAPI document', schema: z.record(z.string(), z.unknown()) } },
    handler: async ({ deps }) => ({ json: buildOpenApi(all, { version: deps.version }) }),
  });
  const all: RouteSpec[] = [...routes, openapi];
  return all;
}
