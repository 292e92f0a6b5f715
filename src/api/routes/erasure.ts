import { z } from 'zod';
import { plainText } from '../../core/index.js';
import { ERASURE_STATUSES, getErasureRequest, listErasureRequests, MAX_ERASURE_REASON, MAX_SUBJECT_ID_LENGTH, requestErasure } from '../../data/index.js';
import { changeContextOf, type AuthenticatedPrincipal } from '../../identity/index.js';
import { lineageViewerOf, visibleClassifications } from '../../lineage/index.js';
import { on } from '../authorize.js';
import { decimalInteger } from '../fields.js';
import { defineRoute } from '../route.js';

// Who may is Cedar policy: src/policy/packs/default/erasure.cedar. The subject id goes in the
// body (never the URL, which logs keep) and comes back in no answer, nor does its hash. The
// answers name only the hits in lineage domains the caller is cleared for, and downstream only
// what the caller reaches from those through nodes it may see, like the lineage graph; they
// count the others.

const erasureId = z.string().regex(/^era_[0-9A-Z]{26}$/, 'must be an erasure request id (era_…)');

const requestBody = z.strictObject({
  subjectId: z
    .string()
    .trim()
    .min(1, 'must name the data subject')
    .max(MAX_SUBJECT_ID_LENGTH)
    .describe('The data subject, as the datasets declared it (subjectIdColumn). Hashed with the installation salt at once; never stored or returned.'),
  reason: plainText(z.string().trim().min(3).max(MAX_ERASURE_REASON)).describe(`Why, and on which legal basis (e.g. "Art. 17(1)(b), ticket DSR-7"), at most ${MAX_ERASURE_REASON} characters: kept whole in the audit entry; must not quote the subject id.`),
});

const summaryShape = {
  id: z.string(),
  requestedBy: z.string(),
  requestedAt: z.string(),
  reason: z.string(),
  status: z.enum(ERASURE_STATUSES).describe('open: recorded, versions found and models flagged; completed and refused are set by later workflows.'),
  flagsModels: z.boolean().describe('The site policy when recorded (data.erasureFlagsModels): whether affected models were flagged.'),
  datasetVersionCount: z.number(),
  derivedDatasetVersionCount: z.number().nullable().describe('Dataset versions downstream of those; null for a request filed before derived versions were looked for.'),
  externalDatasetCount: z.number().nullable().describe('OpenLineage datasets downstream of those (written by jobs outside Assay); null for a request filed before they were looked for.'),
  modelCount: z.number(),
  flaggedRetrainRequired: z.number(),
};
const summarySchema = z.object(summaryShape);
const versionSchema = z.object({ dataset: z.string(), version: z.number(), id: z.string(), state: z.enum(['quarantine', 'certified']) });
const recordSchema = z.object({
  ...summaryShape,
  datasetVersions: z.array(versionSchema).describe('Every dataset version whose subject index held the subject, with its state when the request was recorded.'),
  derivedDatasetVersions: z
    .array(versionSchema)
    .describe('Every other dataset version downstream of those in the lineage graph (feature tables; input, output and derived edges, any depth), with its state when the request was recorded.'),
  externalDatasets: z
    .array(z.object({ nodeId: z.string(), namespace: z.string(), name: z.string() }))
    .describe(
      "Every OpenLineage dataset downstream of those versions, in any namespace, other than the versions' own (the datasets promotion linked them to): feature tables and extracts that Spark, dbt or Airflow jobs built from a certified version, as their OpenLineage events reported them.",
    ),
  models: z
    .array(z.object({ nodeId: z.string(), name: z.string().optional(), retrainRequired: z.boolean() }))
    .describe('Every model version downstream of those versions in the lineage graph (input, output and derived edges, any depth).'),
  withheld: z
    .object({ datasetVersions: z.number(), derivedDatasetVersions: z.number(), externalDatasets: z.number(), models: z.number() })
    .describe(
      'Hits in lineage domains (PII, PHI, PCI) the caller is not cleared for, and derived versions, OpenLineage datasets and models it reaches only through nodes in such domains (as the lineage graph does not pass through them): recorded and counted in the totals, not named here.',
    ),
});

const visibleTo = (principal: AuthenticatedPrincipal | undefined) => (principal ? visibleClassifications(lineageViewerOf(principal)) : []);

const problem = (description: string) => ({ description, contentType: 'application/problem+json' });

export const erasureRoutes = [
  defineRoute({
    method: 'POST',
    path: '/api/v1/erasure-requests',
    operationId: 'requestErasure',
    summary:
      'Records a GDPR Art. 17 erasure request: finds every dataset version holding the subject (through the salted subject index), every dataset version derived from them, every OpenLineage dataset outside jobs built from them, and every model version trained on them (lineage, any depth), and flags those models retrain_required unless data.erasureFlagsModels is off; with its audit entry, in one transaction. A subject found nowhere is recorded too.',
    tags: ['data'],
    auth: 'token',
    authorize: on.platform,
    request: { body: requestBody },
    responses: {
      201: { description: 'the recorded request and what it reached', schema: recordSchema },
      400: problem('`errors` names the field: body.subjectId (empty, too long), body.reason (too short, or quoting the subject id)'),
      403: problem('policy denies it (erasure.request-erasure)'),
    },
    handler: async ({ body, principal, deps, requestId }) => ({
      status: 201,
      json: await requestErasure(
        { db: deps.db, flagsModels: deps.config.data.erasureFlagsModels, visible: visibleTo(principal) },
        body,
        changeContextOf(principal as AuthenticatedPrincipal, requestId),
      ),
    }),
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/erasure-requests',
    operationId: 'listErasureRequests',
    summary: 'Erasure requests, oldest first, with their counts.',
    tags: ['data'],
    auth: 'token',
    authorize: on.platform,
    request: {
      query: z.strictObject({
        status: z.enum(ERASURE_STATUSES).optional(),
        after: erasureId.optional().describe('nextCursor of the previous page'),
        limit: decimalInteger({ min: 1, max: 1000 }).default(100),
      }),
    },
    responses: { 200: { description: 'a page of requests', schema: z.object({ erasureRequests: z.array(summarySchema), nextCursor: z.string().nullable() }) } },
    handler: async ({ query, deps }) => ({
      json: await listErasureRequests(deps.db, { ...(query.status ? { status: query.status } : {}), ...(query.after ? { after: query.after } : {}), limit: query.limit }),
    }),
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/erasure-requests/:id',
    operationId: 'getErasureRequest',
    summary: 'One erasure request with the dataset versions, derived dataset versions and model versions it reached, naming those the caller may see (in lineage domains it is cleared for, and downstream reached through such nodes) and counting the others.',
    tags: ['data'],
    auth: 'token',
    authorize: on.platform,
    request: { params: z.strictObject({ id: erasureId }) },
    responses: { 200: { description: 'the request', schema: recordSchema }, 404: problem('no such request') },
    handler: async ({ params, principal, deps }) => ({ json: await getErasureRequest(deps.db, params.id, visibleTo(principal)) }),
  }),
];
