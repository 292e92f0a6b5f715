import { appendAuditEntry, auditReason, type Actor } from '../audit/index.js';
import type { Db, Tx } from '../store/index.js';
import type { ChangeContext } from './types.js';

/** The time of a change: the context's, else now. */
export function changeTime(ctx: ChangeContext): Date {
  return ctx.now ?? new Date();
}

/** Records an allowed, succeeded change in the caller's transaction (fail closed: a failure rolls the change back). */
export async function recordChange(
  tx: Tx,
  ctx: ChangeContext,
  change: { action: string; resource: { type: string; id: string }; reason?: string },
): Promise<void> {
  const reason = change.reason ?? ctx.reason;
  await appendAuditEntry(tx, {
    actor: ctx.actor,
    action: change.action,
    resource: change.resource,
    decision: { effect: 'allowed', policyIds: [] },
    outcome: 'succeeded',
    ...(reason ? { reason: auditReason(reason) } : {}),
    ...(ctx.requestId ? { requestId: ctx.requestId } : {}),
  });
}

/** What a refusal records. */
export interface Refusal {
  actor: Actor;
  action: 'access.deny' | 'authn.fail';
  resource: { type: string; id: string };
  /** Which rule refused, e.g. `scope:createPrincipal`. */
  policyId: string;
  /** Safe to show: never a secret. */
  reason: string;
  requestId?: string;
}

/**
 * Records a refusal in a transaction of its own, so the evidence survives the error the caller
 * throws next (PCI DSS 10.2.1.4: failed access attempts are recorded).
 */
export async function recordRefusal(db: Db, refusal: Refusal): Promise<void> {
  await db.transaction((tx) =>
    appendAuditEntry(tx, {
      actor: refusal.actor,
      action: refusal.action,
      resource: refusal.resource,
      decision: { effect: 'denied', policyIds: [refusal.policyId] },
      outcome: 'failed',
      reason: auditReason(refusal.reason),
      ...(refusal.requestId ? { requestId: refusal.requestId } : {}),
    }),
  );
}
