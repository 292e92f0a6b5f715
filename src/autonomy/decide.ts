import { appendAuditEntry, auditReason, type Actor } from '../audit/index.js';
import { AssayError, newId, plainTextIssues, ValidationFailed } from '../core/index.js';
import type { AlertLogger, ChangeContext } from '../identity/index.js';
import type { AutonomyDecision, AutonomyRequest, AutonomyTier, RiskTier } from '../policy/index.js';
import type { Db, Tx } from '../store/index.js';
import { APPROVAL_COLUMNS, toApprovalRequest, type ApprovalRequestRecord, type ApprovalRow } from './approval-requests.js';

/**
 * Ask before acting. An agent or application describes what it is about to do; the autonomy
 * document sorts it into `autonomous`, `notify_human` or `require_approval`. A
 * `require_approval` answer opens an approval request; once a human has approved it, the
 * requester asks again naming it and gets `approved`, exactly once. Every answer is audited;
 * presenting an approval that does not allow the action is a boundary violation, audited in
 * its own transaction (so the evidence survives the refusal) and counted.
 */

/** Stable event name of the line logged (and the audit reason prefix) when a human must be told. */
export const AUTONOMY_NOTIFY_EVENT = 'autonomy.notify';

/** Ways an action falls outside its bounds. */
export const BOUNDARY_VIOLATION_KINDS = [
  'unknown_approval',
  'not_requester',
  'mismatch',
  'not_approved',
  'rejected',
  'expired',
  'already_redeemed',
] as const;
/** Why an agent's or application's action fell outside its autonomy bounds. */
export type BoundaryViolationKind = (typeof BOUNDARY_VIOLATION_KINDS)[number];

/** What `decideAutonomy` needs from its surroundings. */
export interface AutonomyEnv {
  db: Db;
  /** The loaded autonomy document's classifier (PolicyEngine.classifyAutonomy). */
  classify(request: AutonomyRequest): AutonomyDecision;
  /** Counts boundary violations: `assay_autonomy_boundary_violations_total{kind}`. */
  violations: { inc(labels: { kind: BoundaryViolationKind }): void };
  /** Receives the `autonomy.notify` line (there is no notification module yet: the log is the channel). */
  alerts?: AlertLogger;
  /** Life of an approval request in minutes, and the most a request may ask for (config `autonomy.approvalExpiryMinutes`). */
  approvalExpiryMinutes: number;
}

/** What an agent or application is about to do. */
export interface AutonomyQuestion {
  /** Dotted action type, e.g. `payment.refund`. */
  action: string;
  risk: RiskTier;
  amount?: number;
  /** Why: the business purpose a reviewer reads. */
  purpose: string;
  /** What it would act on, when that is known. */
  resource?: { type: string; id: string };
  /** An approval request opened by an earlier answer: asks to act on it (once). */
  approvalId?: string;
  /** A shorter life for the approval request this may open. @default AutonomyEnv.approvalExpiryMinutes */
  expiresInMinutes?: number;
}

/** The answer: a tier (or `approved`), the rule that decided, why, and the approval request concerned. */
export interface AutonomyAnswer {
  decision: AutonomyTier | 'approved';
  rule: string;
  reason: string;
  approval?: ApprovalRequestRecord;
}

/** The rule id an answer names when it redeems an approval. */
export const APPROVAL_RULE = 'approval';

/** An action outside its bounds: 404 for an unknown approval, 403 for someone else's, 409 otherwise. */
export class AutonomyBoundaryViolation extends AssayError {
  constructor(
    readonly kind: BoundaryViolationKind,
    message: string,
  ) {
    super(kind === 'unknown_approval' ? 'not_found' : kind === 'not_requester' ? 'forbidden' : 'conflict', message, {
      errors: [{ field: 'body.approvalId', message: `${kind}: ${message}` }],
    });
  }
}

/** Answers an agent's or application's question before it acts; see the module comment. */
export async function decideAutonomy(env: AutonomyEnv, q: AutonomyQuestion, ctx: ChangeContext): Promise<AutonomyAnswer> {
  const notPlain = plainTextIssues([['body.purpose', q.purpose]]);
  if (notPlain.length > 0) throw new ValidationFailed('invalid autonomy question: purpose', notPlain);
  const expiresIn = q.expiresInMinutes ?? env.approvalExpiryMinutes;
  if (expiresIn > env.approvalExpiryMinutes) {
    throw new ValidationFailed('invalid autonomy question: expiresInMinutes', [
      { field: 'body.expiresInMinutes', message: `must be at most ${env.approvalExpiryMinutes} (autonomy.approvalExpiryMinutes)` },
    ]);
  }
  if (q.approvalId !== undefined) return redeem(env, { ...q, approvalId: q.approvalId }, ctx);
  const classified = env.classify({ action: q.action, risk: q.risk, ...(q.amount !== undefined ? { amount: q.amount } : {}) });
  const now = ctx.now ?? new Date();
  const answer = await env.db.transaction(async (tx) => {
    await recordAnswer(tx, ctx, { q, tier: classified.tier, rule: classified.rule, reason: classified.reason });
    if (classified.tier === 'notify_human') {
      await record(tx, ctx, { action: 'alert.raise', resourceId: q.action, reason: notifyLine(ctx.actor, q, classified) });
    }
    if (classified.tier !== 'require_approval') return { decision: classified.tier, rule: classified.rule, reason: classified.reason };
    const approval = await openApprovalRequest(tx, ctx, { q, classified, expiresAt: new Date(now.getTime() + expiresIn * 60_000), now });
    return { decision: classified.tier, rule: classified.rule, reason: classified.reason, approval };
  });
  if (answer.decision === 'notify_human') {
    env.alerts?.warn({ event: AUTONOMY_NOTIFY_EVENT, principalId: ctx.actor.principalId, action: q.action, rule: classified.rule }, notifyLine(ctx.actor, q, classified));
  }
  return answer;
}

function notifyLine(actor: Actor, q: AutonomyQuestion, d: AutonomyDecision): string {
  const amount = q.amount === undefined ? '' : ` amount ${q.amount}`;
  return auditReason(`${AUTONOMY_NOTIFY_EVENT}: ${actor.principalId} ${q.action} (${q.risk}${amount}) under ${d.rule}: ${q.purpose}`);
}

async function openApprovalRequest(
  tx: Tx,
  ctx: ChangeContext,
  o: { q: AutonomyQuestion; classified: AutonomyDecision; expiresAt: Date; now: Date },
): Promise<ApprovalRequestRecord> {
  const { q } = o;
  const inserted = await tx.query<ApprovalRow>(
    `INSERT INTO approval_requests (id, requester_id, action, risk, amount, resource_type, resource_id, purpose, rule, rule_reason, status, created_at, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending', $11, $12) RETURNING ${APPROVAL_COLUMNS}`,
    [
      newId('apr'),
      ctx.actor.principalId,
      q.action,
      q.risk,
      q.amount ?? null,
      q.resource?.type ?? null,
      q.resource?.id ?? null,
      q.purpose,
      o.classified.rule,
      o.classified.reason,
      o.now.toISOString(),
      o.expiresAt.toISOString(),
    ],
  );
  const approval = toApprovalRequest(inserted.rows[0]!, o.now);
  await record(tx, ctx, { action: 'approval.request', resourceType: 'approval_request', resourceId: approval.id, reason: `${q.action}: ${q.purpose}` });
  return approval;
}

async function redeem(env: AutonomyEnv, q: AutonomyQuestion & { approvalId: string }, ctx: ChangeContext): Promise<AutonomyAnswer> {
  const now = ctx.now ?? new Date();
  const outcome = await env.db.transaction(async (tx): Promise<AutonomyAnswer | AutonomyBoundaryViolation> => {
    const held = await tx.query<ApprovalRow>(`SELECT ${APPROVAL_COLUMNS} FROM approval_requests WHERE id = $1 FOR UPDATE`, [q.approvalId]);
    const row = held.rows[0];
    const violation = row ? boundaryCheck(toApprovalRequest(row, now), q, ctx.actor.principalId) : new AutonomyBoundaryViolation('unknown_approval', `no approval request ${q.approvalId}`);
    if (violation) return violation;
    const updated = await tx.query<ApprovalRow>(
      `UPDATE approval_requests SET status = 'redeemed', redeemed_at = $2 WHERE id = $1 RETURNING ${APPROVAL_COLUMNS}`,
      [q.approvalId, now.toISOString()],
    );
    const approval = toApprovalRequest(updated.rows[0]!, now);
    const reason = `${q.action} approved by ${approval.decidedBy ?? '?'} at ${approval.decidedAt ?? '?'}: ${approval.comment ?? ''}`;
    await record(tx, ctx, { action: 'approval.redeem', resourceType: 'approval_request', resourceId: approval.id, reason });
    await recordAnswer(tx, ctx, { q, tier: 'approved', rule: APPROVAL_RULE, reason });
    return { decision: 'approved', rule: APPROVAL_RULE, reason, approval };
  });
  if (!(outcome instanceof AutonomyBoundaryViolation)) return outcome;
  await env.db.transaction((tx) =>
    appendAuditEntry(tx, {
      actor: ctx.actor,
      action: 'autonomy.violation',
      resource: { type: 'approval_request', id: q.approvalId },
      decision: { effect: 'denied', policyIds: [`autonomy:${outcome.kind}`] },
      outcome: 'failed',
      reason: auditReason(`${q.action} (${q.risk}${q.amount === undefined ? '' : `, amount ${q.amount}`}): ${outcome.message}`),
      ...(ctx.requestId ? { requestId: ctx.requestId } : {}),
    }),
  );
  env.violations.inc({ kind: outcome.kind });
  throw outcome;
}

/** The first reason the approval does not allow this caller this action now; undefined when it does. */
function boundaryCheck(a: ApprovalRequestRecord, q: AutonomyQuestion, callerId: string): AutonomyBoundaryViolation | undefined {
  if (a.requesterId !== callerId) return new AutonomyBoundaryViolation('not_requester', `approval request ${a.id} was opened by another principal`);
  const amountExceeds = q.amount !== undefined && (a.amount === null || q.amount > a.amount);
  const amountMissing = q.amount === undefined && a.amount !== null;
  if (a.action !== q.action || a.risk !== q.risk || amountExceeds || amountMissing) {
    const approved = `${a.action} (${a.risk}${a.amount === null ? '' : `, amount up to ${a.amount}`})`;
    const asked = `${q.action} (${q.risk}${q.amount === undefined ? '' : `, amount ${q.amount}`})`;
    return new AutonomyBoundaryViolation('mismatch', `approval request ${a.id} is for ${approved}, not ${asked}`);
  }
  switch (a.status) {
    case 'approved':
      return undefined;
    case 'pending':
      return new AutonomyBoundaryViolation('not_approved', `approval request ${a.id} is still pending a human decision`);
    case 'rejected':
      return new AutonomyBoundaryViolation('rejected', `approval request ${a.id} was rejected by ${a.decidedBy ?? '?'}: ${a.comment ?? ''}`);
    case 'expired':
      return new AutonomyBoundaryViolation('expired', `approval request ${a.id} expired at ${a.expiresAt}`);
    case 'redeemed':
      return new AutonomyBoundaryViolation('already_redeemed', `approval request ${a.id} was already used at ${a.redeemedAt ?? '?'}`);
  }
}

async function recordAnswer(tx: Tx, ctx: ChangeContext, a: { q: AutonomyQuestion; tier: AutonomyTier | 'approved'; rule: string; reason: string }): Promise<void> {
  const amount = a.q.amount === undefined ? '' : `, amount ${a.q.amount}`;
  await appendAuditEntry(tx, {
    actor: ctx.actor,
    action: 'autonomy.decide',
    resource: a.q.resource ?? { type: 'autonomy_action', id: a.q.action },
    // Acting alone is allowed for autonomous and notify_human (and an approved request); a
    // require_approval answer is a denial until a human decides.
    decision: { effect: a.tier === 'require_approval' ? 'denied' : 'allowed', policyIds: [`autonomy:${a.rule}`] },
    outcome: 'succeeded',
    reason: auditReason(`${a.tier}: ${a.q.action} (${a.q.risk}${amount}): ${a.reason}; purpose: ${a.q.purpose}`),
    ...(ctx.requestId ? { requestId: ctx.requestId } : {}),
  });
}

async function record(tx: Tx, ctx: ChangeContext, e: { action: string; resourceType?: string; resourceId: string; reason: string }): Promise<void> {
  await appendAuditEntry(tx, {
    actor: ctx.actor,
    action: e.action,
    resource: { type: e.resourceType ?? 'autonomy_action', id: e.resourceId },
    decision: { effect: 'allowed', policyIds: [] },
    outcome: 'succeeded',
    reason: auditReason(e.reason),
    ...(ctx.requestId ? { requestId: ctx.requestId } : {}),
  });
}
