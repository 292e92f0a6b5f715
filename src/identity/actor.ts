import type { Actor } from '../audit/index.js';
import type { AuthenticatedPrincipal, ChangeContext } from './types.js';

/** The audit actor for an authenticated principal, flagged with its break-glass elevation when one is in force. */
export function actorOf(p: AuthenticatedPrincipal): Actor {
  return {
    principalId: p.id,
    kind: p.kind,
    authenticatedBy: p.authenticatedBy,
    ...(p.elevation ? { elevation: { id: p.elevation.id, reason: p.elevation.reason, expiresAt: p.elevation.expiresAt } } : {}),
  };
}

/** The change context of a request: its actor, its id, and its time (when the credential was checked). */
export function changeContextOf(p: AuthenticatedPrincipal, requestId: string): ChangeContext {
  return { actor: actorOf(p), requestId, now: new Date(p.authenticatedAt) };
}
