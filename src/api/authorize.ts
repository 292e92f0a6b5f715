import { appendAuditEntry } from '../audit/index.js';
import { approvalRequester } from '../autonomy/index.js';
import { actorOf, tokenOwner, type AuthenticatedPrincipal } from '../identity/index.js';
import { PolicyDenied, type PolicyDecision, type PolicyEngine, type ResourceInput } from '../policy/index.js';
import type { AppDeps, AuthorizeInput, RouteAuthorization } from './route.js';
import { datasetResources } from './routes/data-resources.js';

/** The audit action of every authorisation decision, allow and deny alike. */
export const AUTHZ_DECIDE_ACTION = 'authz.decide';

/** The audit log's longest reason. */
const MAX_REASON = 2000;

/** What `authorizeRoute` decides. */
export interface RouteAccess {
  route: { operationId: string; authorize: RouteAuthorization };
  /** The request before its body is read. */
  input: AuthorizeInput;
  requestId: string;
}

/**
 * Asks the policy engine whether the principal may perform the route's operation on the
 * resource the route names, and records the decision (allow or deny, with the determining
 * policy ids) in its own transaction before anything else happens. Throws PolicyDenied
 * (403) on deny; when the decision cannot be recorded the request fails (fail closed).
 */
export async function authorizeRoute(access: RouteAccess): Promise<PolicyDecision> {
  const { route, input } = access;
  const { principal, deps } = input;
  const resource = await route.authorize.resource(input);
  const decision = deps.policy.authorize({
    principal,
    action: route.operationId,
    resource,
    context: { elevated: principal.elevation !== undefined },
  });
  const allowed = decision.decision === 'allow';
  await recordDecision(deps, { principal, operationId: route.operationId, decision, requestId: access.requestId });
  if (!allowed) {
    throw new PolicyDenied({
      action: route.operationId,
      principalId: principal.id,
      policyIds: decision.policyIds,
      reason: denialDetail(deps.policy, route.operationId, decision),
    });
  }
  return decision;
}

/**
 * A further decision inside a route that is already authorised (e.g. each exception a
 * promotion records is `overrideDatasetCheck`): decided, recorded and enforced exactly as a
 * route's own decision.
 */
export async function authorizeAction(input: AuthorizeInput, access: { action: string; resource: ResourceInput; requestId: string }): Promise<PolicyDecision> {
  const { principal, deps } = input;
  const decision = deps.policy.authorize({ principal, action: access.action, resource: access.resource, context: { elevated: principal.elevation !== undefined } });
  await recordDecision(deps, { principal, operationId: access.action, decision, requestId: access.requestId });
  if (decision.decision !== 'allow') {
    throw new PolicyDenied({ action: access.action, principalId: principal.id, policyIds: decision.policyIds, reason: denialDetail(deps.policy, access.action, decision) });
  }
  return decision;
}

async function recordDecision(
  deps: AppDeps,
  d: { principal: AuthenticatedPrincipal; operationId: string; decision: PolicyDecision; requestId: string },
): Promise<void> {
  const allowed = d.decision.decision === 'allow';
  await deps.db.transaction((tx) =>
    appendAuditEntry(tx, {
      actor: actorOf(d.principal),
      action: AUTHZ_DECIDE_ACTION,
      resource: { type: 'operation', id: d.operationId },
      decision: { effect: allowed ? 'allowed' : 'denied', policyIds: d.decision.policyIds },
      outcome: allowed ? 'succeeded' : 'failed',
      reason: d.decision.reason.slice(0, MAX_REASON),
      requestId: d.requestId,
    }),
  );
}

/**
 * The 403 detail: the engine's reason, plus what would have been needed — the forbids that
 * decided (with their descriptions), or, when nothing permitted it, the permits that could.
 */
function denialDetail(engine: PolicyEngine, action: string, d: PolicyDecision): string {
  const policies = engine.policiesFor(action);
  const describe = (id: string): string => {
    const p = policies.find((x) => x.id === id);
    return p?.description ? `${id} (${p.description})` : id;
  };
  if (d.errors.length > 0) return d.reason;
  if (d.policyIds.length > 0) return `${action} is forbidden: ${d.policyIds.map(describe).join('; ')}`;
  const permits = policies.filter((p) => p.effect === 'permit').map((p) => describe(p.id));
  if (permits.length === 0) return `${d.reason}; no policy permits ${action}`;
  return `${d.reason}; ${action} needs one of: ${permits.join('; ')}`;
}

/** Resource builders shared by the routes: each names what its operation acts on. */
export const on: Record<
  'auditLog' | 'platform' | 'caller' | 'principalParam' | 'tokenParam' | 'payloadParam' | 'holdParam' | 'approvalParam' | 'datasetParam' | 'datasetIngest',
  RouteAuthorization
> = {
  /** The audit log, its checkpoints, proofs, payload listings, holds and retention. */
  auditLog: { resource: () => ({ type: 'AuditLog' }) },
  /** The platform as a whole: API metadata, creating and listing principals. */
  platform: { resource: () => ({ type: 'Platform' }) },
  /** The caller's own principal: self-service and break-glass. */
  caller: { resource: ({ principal }) => ({ type: 'Principal', ...principal }) },
  /**
   * Another principal, named by the `:id` path parameter. Its roles are not loaded: policies
   * about principal resources compare identity (`resource == principal`), not roles.
   */
  principalParam: { resource: ({ params }) => ({ type: 'Principal', id: params.id ?? '', roles: [] }) },
  /**
   * The token named by `:id`, with its owner looked up. An unknown token has no owner, so
   * only those who may revoke any token get past the decision (and then a 404); others learn
   * nothing about which token ids exist.
   */
  tokenParam: {
    resource: async ({ params, deps }) => {
      const id = params.id ?? '';
      return { type: 'Token', id, owner: (await tokenOwner(deps.db, id)) ?? '' };
    },
  },
  /** An audit payload, named by the `:sha256` path parameter. */
  payloadParam: { resource: ({ params }) => ({ type: 'AuditPayload', id: params.sha256 ?? '' }) },
  /** A legal hold, named by the `:id` path parameter. */
  holdParam: { resource: ({ params }) => ({ type: 'LegalHold', id: params.id ?? '' }) },
  /**
   * The approval request named by `:id`, with its requester looked up: separation of duties
   * is decided on it. An unknown request has no requester, so the decision is made on roles
   * alone (then a 404).
   */
  approvalParam: {
    resource: async ({ params, deps }) => {
      const id = params.id ?? '';
      return { type: 'Approval', id, author: (await approvalRequester(deps.db, id)) ?? '' };
    },
  },
  /** A dataset (or one of its versions) by `:name`, `:version`; ingest declares a new one's classification (src/api/routes/data-resources.ts). */
  ...datasetResources,
};
