import { z } from 'zod';
import { clipText } from '../core/index.js';

/** The longest reason an audit entry holds, in UTF-16 units. */
export const MAX_AUDIT_REASON = 2000;

/** `reason` cut to what an entry holds, between characters (see `clipText`). */
export function auditReason(reason: string): string {
  return clipText(reason, MAX_AUDIT_REASON);
}

/**
 * `head` followed by as many of `items` as fit in an audit reason, `separator` between them, and
 * "… and N more" for the rest: a long list ends at an item, never inside a name or digest, and
 * says how much it left out. The head should say where the whole list is kept.
 */
export function auditReasonListing(head: string, items: readonly string[], separator = ', '): string {
  let text = head + items.join(separator);
  if (text.length <= MAX_AUDIT_REASON) return text;
  // The suffix for the most that can be left out, so whatever count ends up there fits.
  const room = MAX_AUDIT_REASON - ` … and ${items.length} more`.length;
  text = head;
  let shown = 0;
  for (const item of items) {
    const next = shown === 0 ? text + item : `${text}${separator}${item}`;
    if (next.length > room) break;
    text = next;
    shown++;
  }
  return auditReason(`${text}${shown === 0 ? '' : ' '}… and ${items.length - shown} more`);
}

/** Who acted, and how they proved it. */
export const actorSchema = z.strictObject({
  principalId: z.string().min(1),
  kind: z.enum(['human', 'service', 'agent', 'system']),
  authenticatedBy: z.enum(['api_token', 'oidc', 'local_bootstrap', 'system']),
  /** Present when the actor acted under a break-glass elevation: the entry is flagged for review. */
  elevation: z
    .strictObject({ id: z.string().min(1), reason: z.string().min(1).max(2000), expiresAt: z.string().min(1) })
    .optional(),
});

/** What was acted on. */
export const resourceSchema = z.strictObject({
  type: z.string().min(1),
  id: z.string().min(1),
});

/** Whether the action was allowed, and by which policies. */
export const decisionSchema = z.strictObject({
  effect: z.enum(['allowed', 'denied']),
  policyIds: z.array(z.string()).default([]),
});

/** A SHA-256 reference to a payload kept apart from the entry. */
export const payloadRefSchema = z.strictObject({
  name: z.string().min(1),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});

/** An audit entry as the caller describes a state change. */
export const auditEntryInputSchema = z.strictObject({
  actor: actorSchema,
  /** Dotted verb, e.g. `principal.create`, `dataset.promote`. */
  action: z.string().regex(/^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/, 'must be a dotted lower-case action name'),
  resource: resourceSchema,
  decision: decisionSchema,
  outcome: z.enum(['succeeded', 'failed']),
  /** Reason or business purpose stated by the actor. */
  reason: z.string().max(MAX_AUDIT_REASON).optional(),
  requestId: z.string().optional(),
  payloadRefs: z.array(payloadRefSchema).default([]),
});

export type Actor = z.infer<typeof actorSchema>;

/** The actor of scheduled work (the periodic purge and stray sweep). */
export const SYSTEM_ACTOR: Actor = { principalId: 'system', kind: 'system', authenticatedBy: 'system' };
export type AuditEntryInput = z.input<typeof auditEntryInputSchema>;

/** A recorded entry. */
export interface AuditEntry extends z.output<typeof auditEntryInputSchema> {
  id: string;
  recordedAt: string;
}
