import { auditReason, type AuditEntryInput } from '../audit/index.js';
import type { ChangeContext } from '../identity/index.js';

/**
 * The audit entry of a change the data module made for `ctx`: allowed (the caller's policy
 * decided before the module was called, and recorded that decision itself) and succeeded.
 */
export function dataChangeEntry(ctx: ChangeContext, change: { action: string; resource: AuditEntryInput['resource']; reason: string }): AuditEntryInput {
  return {
    actor: ctx.actor,
    action: change.action,
    resource: change.resource,
    decision: { effect: 'allowed', policyIds: [] },
    outcome: 'succeeded',
    reason: auditReason(change.reason),
    ...(ctx.requestId ? { requestId: ctx.requestId } : {}),
  };
}
