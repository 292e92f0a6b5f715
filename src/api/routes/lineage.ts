import { z } from 'zod';
import { certifiedVersionFacts } from '../../data/index.js';
import { changeContextOf, type AuthenticatedPrincipal } from '../../identity/index.js';
import {
  DEFAULT_DEPTH,
  DEFAULT_MAX_NODES,
  EDGE_TYPES,
  ingestOpenLineage,
  lineageGraph,
  lineageViewerOf,
  MAX_DEPTH,
  MAX_EVENTS_PER_REQUEST,
  MAX_NODES,
  NODE_TYPES,
  OPENLINEAGE_SCHEMA_ID,
  visibleClassifications,
  type OpenLineageSender,
  type OpenLineageTarget,
} from '../../lineage/index.js';
import { CLASSIFICATIONS } from '../../policy/index.js';
import { on } from '../authorize.js';
import { decimalInteger } from '../fields.js';
import { defineRoute, type AppDeps, type RouteSpec } from '../route.js';

// Who may send events and who may read the graph is Cedar policy (lineage.cedar); which nodes
// a reader sees is the lineage domain of each node (src/lineage/domains.ts), and so is what a
// sender may change (src/lineage/sender-clearance.ts).

const beyondClearance = {
  description: "refused: a tags facet declares a lineage domain the sender is not cleared for, an output or DatasetEvent names one of Assay's datasets (any dataset in Assay's lineage namespace, or one a certified version is linked to that the sender may see: one it may not see is answered as an unknown one is, the write left out), or the event's job or its run's parent job is in Assay's namespace; errors[].field names each; nothing written, access.deny audited",
  contentType: 'application/problem+json',
};

const targetOf = (deps: AppDeps): OpenLineageTarget => ({ db: deps.db, assayNamespace: deps.config.lineage.namespace, certifiedVersions: certifiedVersionFacts });

const senderOf = (principal: AuthenticatedPrincipal, requestId: string): OpenLineageSender => ({
  ctx: changeContextOf(principal, requestId),
  visible: visibleClassifications(lineageViewerOf(principal)),
});

const event = z
  .record(z.string(), z.unknown())
  .describe(`An OpenLineage RunEvent, DatasetEvent or JobEvent, checked against the official JSON Schema ${OPENLINEAGE_SCHEMA_ID} and its standard facet schemas.`);

const receipt = z.object({
  received: z.number().int(),
  eventIds: z.array(z.string()).describe('The stored events, in the order sent.'),
  auditEntryId: z.string().describe('The lineage.events.ingest audit entry recording them.'),
});

const batchReceipt = receipt.extend({
  status: z.literal('success').describe('OpenLineage batch answer: a batch is all or nothing, so never partial_success.'),
  summary: z.object({ received: z.number().int(), successful: z.number().int(), failed: z.literal(0) }),
});

const graphQuery = z
  .strictObject({
    node: z.string().min(1).max(200).optional().describe('An Assay object id (dsv_…, run_…, mv_…) or a lineage node id (lnd_…).'),
    namespace: z.string().min(1).max(500).optional().describe('OpenLineage namespace (with name and kind, instead of node).'),
    name: z.string().min(1).max(1500).optional().describe('OpenLineage name.'),
    kind: z.enum(['dataset', 'job']).optional().describe('Whether namespace and name name a dataset or a job.'),
    depth: decimalInteger({ min: 0, max: MAX_DEPTH }).default(DEFAULT_DEPTH).describe(`Steps from the start, at most ${MAX_DEPTH}.`),
    direction: z.enum(['up', 'down', 'both']).default('both').describe('up: where it came from; down: where it went; both: the two.'),
    limit: decimalInteger({ min: 1, max: MAX_NODES }).default(DEFAULT_MAX_NODES).describe('Node cap; past it the answer says truncated.'),
    facets: z
      .enum(['true', 'false'])
      .default('false')
      .transform((v) => v === 'true')
      .describe('true: nodes carry their facets and attributes, edges their input/output facets; a reference in them to a dataset, job or run the caller may not see is replaced by {"withheld": true}. At most 32 MiB of them per answer, else 400 naming query.limit.'),
  })
  .superRefine((q, ctx) => {
    const external = (['namespace', 'name', 'kind'] as const).filter((k) => q[k] !== undefined);
    if (q.node !== undefined && external.length > 0) {
      ctx.addIssue({ code: 'custom', path: ['node'], message: 'give either node, or namespace, name and kind; not both' });
    } else if (q.node === undefined) {
      for (const k of ['namespace', 'name', 'kind'] as const) {
        if (q[k] === undefined) ctx.addIssue({ code: 'custom', path: [k], message: 'required when node is not given' });
      }
    }
  });

const graphSchema = z.object({
  nodes: z.array(
    z.object({
      id: z.string(),
      type: z.enum(NODE_TYPES),
      namespace: z.string().optional(),
      name: z.string().optional(),
      classification: z.enum(CLASSIFICATIONS),
      distance: z.number().int().describe('Steps from the start node.'),
      facets: z.record(z.string(), z.unknown()).optional(),
      attributes: z.record(z.string(), z.unknown()).optional(),
    }),
  ),
  edges: z.array(z.object({ from: z.string(), to: z.string(), type: z.enum(EDGE_TYPES), facets: z.record(z.string(), z.unknown()).optional() })),
  truncated: z.boolean().describe('The node cap was reached: there is more beyond.'),
  withheld: z.number().int().describe('Nodes met in lineage domains the caller is not cleared for, left out with their edges.'),
});

export const lineageRoutes: RouteSpec[] = [
  defineRoute({
    method: 'POST',
    path: '/api/v1/lineage',
    operationId: 'ingestLineageEvents',
    summary: `Marquez-compatible OpenLineage endpoint: one event, or an array of at most ${MAX_EVENTS_PER_REQUEST}. Every event must pass the official schemas (400 names the path of each bad field) and stay within the sender's clearance (403 names a tags facet declaring a domain the sender is not cleared for, an output or DatasetEvent naming a dataset in Assay's lineage namespace or one Assay certifies that the sender may see, or a job or parent job in Assay's namespace); then all merge into the lineage graph, are stored as sent and audited, in one transaction.`,
    tags: ['lineage'],
    auth: 'token',
    authorize: on.platform,
    request: { body: z.union([event, z.array(event)]) },
    responses: { 201: { description: 'accepted', schema: receipt }, 403: beyondClearance },
    // The body as parsed, not zod's copy of it: what is hashed and stored is the event as sent.
    handler: async ({ request, principal, deps, requestId }) => ({
      status: 201,
      json: await ingestOpenLineage(targetOf(deps), request.body, senderOf(principal!, requestId)),
    }),
  }),
  defineRoute({
    method: 'POST',
    path: '/api/v1/lineage/batch',
    operationId: 'ingestLineageEventBatch',
    summary: `OpenLineage batch endpoint (postEventBatch): an array of at most ${MAX_EVENTS_PER_REQUEST} events, all or nothing.`,
    tags: ['lineage'],
    auth: 'token',
    authorize: on.platform,
    request: { body: z.array(event) },
    responses: { 200: { description: 'every event accepted', schema: batchReceipt }, 403: beyondClearance },
    handler: async ({ request, principal, deps, requestId }) => {
      const r = await ingestOpenLineage(targetOf(deps), request.body, senderOf(principal!, requestId));
      return { json: { status: 'success', summary: { received: r.received, successful: r.received, failed: 0 }, ...r } };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/lineage/graph',
    operationId: 'getLineageGraph',
    summary:
      'Lineage around an Assay object (node=ID) or an OpenLineage dataset or job (namespace, name, kind): upstream, downstream or both, bounded by depth and a node cap. Nodes in lineage domains (PII, PHI, PCI) the caller is not cleared for are left out with their edges, and counted in withheld.',
    tags: ['lineage'],
    auth: 'token',
    authorize: on.platform,
    request: { query: graphQuery },
    responses: { 200: { description: 'the graph', schema: graphSchema } },
    handler: async ({ query, principal, deps }) => ({
      json: await lineageGraph(deps.db, {
        start: query.node !== undefined ? { id: query.node } : { kind: query.kind!, namespace: query.namespace!, name: query.name! },
        depth: query.depth,
        direction: query.direction,
        visible: visibleClassifications(lineageViewerOf(principal!)),
        maxNodes: query.limit,
        facets: query.facets,
      }),
    }),
  }),
];
