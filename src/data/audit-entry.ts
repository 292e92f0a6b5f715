import type { AuditEntryInput } from '../audit/index.js';
import type { ChangeContext } from '../identity/index.js';

/** The audit log's longest reason. */
const MAX_REASON = 2000;

/**
 * `reason` within MAX_REASON UTF-16 units, never ending in half a surrogate pair: a lone
 * surrogate reaches the database as U+FFFD, so the entry would record a character nobody wrote.
 */
function clip(reason: string): string {
  if (reason.length <= MAX_REASON) return reason;
  const cut = reason.slice(0, MAX_REASON);
  return /[\uD800-\uDBFF]$/.test(cut) ? cut.slice(0, -1) : cut;
}

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
    reason: clip(change.reason),
    ...(ctx.requestId ? { requestId: ctx.requestId } : {}),
  };
}
