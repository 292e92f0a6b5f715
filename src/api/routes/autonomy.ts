import { z } from 'zod';
import { plainText } from '../../core/index.js';
import {
  APPROVAL_STATUSES,
  decideAutonomy,
  getApprovalRequest,
  listApprovalRequests,
  MIN_APPROVAL_COMMENT_LENGTH,
  resolveApprovalRequest,
  type AutonomyEnv,
} from '../../autonomy/index.js';
import { changeContextOf, type AuthenticatedPrincipal } from '../../identity/index.js';
import { AUTONOMY_TIERS, RISK_TIERS } from '../../policy/index.js';
import { on } from '../authorize.js';
import { decimalInteger } from '../fields.js';
import { defineRoute, type AppDeps, type RouteSpec } from '../route.js';

const approvalId = z.string().regex(/^apr_[0-9A-Z]{26}$/, 'must be an approval request id (apr_…)');

/** An approval request as the API shows it. */
const approvalSchema = z.object({
  id: z.string(),
  requesterId: z.string(),
  action: z.string(),
  risk: z.enum(RISK_TIERS),
  amount: z.number().nullable(),
  resource: z.object({ type: z.string(), id: z.string() }).nullable(),
  purpose: z.string(),
  rule: z.string().describe('The autonomy rule that held the action back.'),
  ruleReason: z.string(),
  status: z.enum(APPROVAL_STATUSES).describe('expired: a pending or approved request past expiresAt; nothing can change it any more.'),
  createdAt: z.string(),
  expiresAt: z.string(),
  decidedBy: z.string().nullable(),
  decidedAt: z.string().nullable(),
  comment: z.string().nullable(),
  redeemedAt: z.string().nullable(),
});

const decideBody = z.strictObject({
  action: z
    .string()
    .min(1)
    .max(200)
    .regex(/^[A-Za-z0-9_.-]+$/, 'a dotted action type: letters, digits, ".", "_" and "-"')
    .describe('What the caller is about to do, e.g. "payment.refund", "deployment.rollback".'),
  risk: z.enum(RISK_TIERS),
  amount: z.number().finite().nonnegative().optional().describe('Amount at stake (money, compute budget), when the action has one.'),
  purpose: plainText(z.string().trim().min(3).max(2000)).describe('Why: the business purpose a reviewer reads.'),
  resource: z.strictObject({ type: z.string().min(1).max(100), id: z.string().min(1).max(300) }).optional(),
  approvalId: approvalId.optional().describe('An approval request opened by an earlier answer: acts on it, once, when a human approved it.'),
  expiresInMinutes: z.number().int().min(1).optional().describe('A shorter life for the approval request this may open (at most autonomy.approvalExpiryMinutes).'),
});

const answerSchema = z.object({
  decision: z.enum([...AUTONOMY_TIERS, 'approved']),
  rule: z.string(),
  reason: z.string(),
  approval: approvalSchema.optional(),
});

const listQuery = z.strictObject({
  status: z.enum(APPROVAL_STATUSES).optional(),
  requester: z.string().min(1).max(40).optional().describe('Requests of this principal id only.'),
  after: z.string().min(1).max(40).optional().describe('nextCursor of the previous page'),
  limit: decimalInteger({ min: 1, max: 1000 }).default(100),
});

const resolveBody = z.strictObject({
  comment: plainText(z.string().trim().min(MIN_APPROVAL_COMMENT_LENGTH).max(2000)).describe('Why: kept with the decision and in the audit log.'),
});

function autonomyEnv(deps: AppDeps, alerts: AutonomyEnv['alerts']): AutonomyEnv {
  return {
    db: deps.db,
    classify: (r) => deps.policy.classifyAutonomy(r),
    violations: deps.metrics.autonomyBoundaryViolations,
    approvalExpiryMinutes: deps.config.autonomy.approvalExpiryMinutes,
    ...(alerts ? { alerts } : {}),
  };
}

const nowOf = (p: AuthenticatedPrincipal | undefined): Date => new Date(p!.authenticatedAt);

function resolveRoute(verdict: 'approve' | 'reject'): RouteSpec {
  return defineRoute({
    method: 'POST',
    path: `/api/v1/approvals/:id/${verdict}`,
    operationId: verdict === 'approve' ? 'approveApprovalRequest' : 'rejectApprovalRequest',
    summary:
      verdict === 'approve'
        ? 'Approves a pending request with a comment; its requester may then act, once, before it expires. Never by the requester, never by a service or agent.'
        : 'Rejects a pending request with a comment. Never by the requester, never by a service or agent.',
    tags: ['autonomy'],
    auth: 'token',
    authorize: on.approvalParam,
    request: { params: z.strictObject({ id: approvalId }), body: resolveBody },
    responses: { 200: { description: `the ${verdict === 'approve' ? 'approved' : 'rejected'} request`, schema: approvalSchema } },
    handler: async ({ params, body, principal, deps, requestId }) => ({
      json: await resolveApprovalRequest(deps.db, { id: params.id, verdict, comment: body.comment }, changeContextOf(principal!, requestId)),
    }),
  });
}

export const autonomyRoutes = [
  defineRoute({
    method: 'POST',
    path: '/api/v1/policy/decide',
    operationId: 'decideAutonomy',
    summary:
      'Ask before acting: sorts an action into autonomous, notify_human or require_approval by the autonomy policy; require_approval opens an approval request. Naming an approved request (approvalId) answers "approved", once; anything else is a boundary violation (audited, counted, 403/404/409).',
    tags: ['autonomy'],
    auth: 'token',
    authorize: on.platform,
    request: { body: decideBody },
    responses: {
      200: { description: 'autonomous, notify_human (people are told) or approved', schema: answerSchema },
      202: { description: 'require_approval: an approval request is open and waits for a human', schema: answerSchema },
    },
    handler: async ({ body, principal, deps, requestId, request }) => {
      const answer = await decideAutonomy(autonomyEnv(deps, request.log), body, changeContextOf(principal!, requestId));
      return { status: answer.decision === 'require_approval' ? 202 : 200, json: answer };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/approvals',
    operationId: 'listApprovalRequests',
    summary: 'Approval requests, oldest first, filtered by status and requester.',
    tags: ['autonomy'],
    auth: 'token',
    authorize: on.platform,
    request: { query: listQuery },
    responses: { 200: { description: 'a page of requests', schema: z.object({ approvals: z.array(approvalSchema), nextCursor: z.string().nullable() }) } },
    handler: async ({ query, principal, deps }) => ({
      json: await listApprovalRequests(deps.db, {
        ...(query.status ? { status: query.status } : {}),
        ...(query.requester ? { requesterId: query.requester } : {}),
        ...(query.after ? { after: query.after } : {}),
        limit: query.limit,
        now: nowOf(principal),
      }),
    }),
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/approvals/:id',
    operationId: 'getApprovalRequest',
    summary: 'One approval request; its requester may follow it.',
    tags: ['autonomy'],
    auth: 'token',
    authorize: on.approvalParam,
    request: { params: z.strictObject({ id: approvalId }) },
    responses: { 200: { description: 'the request', schema: approvalSchema } },
    handler: async ({ params, principal, deps }) => ({ json: await getApprovalRequest(deps.db, params.id, nowOf(principal)) }),
  }),
  resolveRoute('approve'),
  resolveRoute('reject'),
];
