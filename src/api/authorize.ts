import { appendAuditEntry } from '../audit/index.js';
import { Forbidden } from '../core/index.js';
import { actorOf, holdsAnyRole, type AuthenticatedPrincipal } from '../identity/index.js';
import type { Db } from '../store/index.js';
import type { RouteSpec } from './route.js';

/** What `authorizeRoute` checks. */
export interface RouteAccess {
  db: Db;
  route: Pick<RouteSpec, 'operationId' | 'roles'>;
  principal: AuthenticatedPrincipal;
  requestId: string;
}

/**
 * Admits the principal to the route when it holds one of the route's roles; otherwise records
 * the refusal in the audit log (PCI DSS 10.2.1.4: failed access attempts are evidence) and
 * throws Forbidden.
 */
export async function authorizeRoute(access: RouteAccess): Promise<void> {
  const { route, principal } = access;
  if (!route.roles || holdsAnyRole(principal, route.roles)) return;
  await access.db.transaction((tx) =>
    appendAuditEntry(tx, {
      actor: actorOf(principal),
      action: 'access.deny',
      resource: { type: 'operation', id: route.operationId },
      decision: { effect: 'denied', policyIds: [`roles:${route.operationId}`] },
      outcome: 'failed',
      reason: `requires one of the roles ${route.roles?.join(', ') ?? ''}; holds ${principal.roles.join(', ') || 'none'}`,
      requestId: access.requestId,
    }),
  );
  throw new Forbidden(`${route.operationId} requires one of the roles: ${route.roles.join(', ')}`);
}
