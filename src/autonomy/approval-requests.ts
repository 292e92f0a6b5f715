import { appendAuditEntry, auditReason } from '../audit/index.js';
import { Conflict, Forbidden, NotFound, plainTextIssues, ValidationFailed } from '../core/index.js';
import type { ChangeContext } from '../identity/index.js';
import type { RiskTier } from '../policy/index.js';
import type { Db, Queryable } from '../store/index.js';

/**
 * Approval requests: what bounded autonomy held back for a human to decide. A request is
 * opened by `decideAutonomy`, resolved once (approve or reject, with a comment) by someone
 * other than its requester, and redeemed once by its requester when it acts. Expiry is a
 * time, not a stored state: past `expiresAt`, a pending or approved request reads as
 * `expired` and nothing can change it any more.
 */

/** Every status a request can read as. */
export const APPROVAL_STATUSES = ['pending', 'approved', 'rejected', 'redeemed', 'expired'] as const;
/** Where a request stands. */
export type ApprovalStatus = (typeof APPROVAL_STATUSES)[number];

/** Shortest accepted approval comment: "ok" is not something a reviewer can check. */
export const MIN_APPROVAL_COMMENT_LENGTH = 3;

/** One approval request. */
export interface ApprovalRequestRecord {
  id: string;
  requesterId: string;
  /** What the requester wants to do, as it asked. */
  action: string;
  risk: RiskTier;
  amount: number | null;
  resource: { type: string; id: string } | null;
  purpose: string;
  /** The autonomy rule that held the action back, and why. */
  rule: string;
  ruleReason: string;
  status: ApprovalStatus;
  createdAt: string;
  expiresAt: string;
  decidedBy: string | null;
  decidedAt: string | null;
  comment: string | null;
  redeemedAt: string | null;
}

/** A stored row (status as stored: never `expired`). */
export interface ApprovalRow {
  id: string;
  requester_id: string;
  action: string;
  risk: RiskTier;
  amount: number | null;
  resource_type: string | null;
  resource_id: string | null;
  purpose: string;
  rule: string;
  rule_reason: string;
  status: Exclude<ApprovalStatus, 'expired'>;
  created_at: string | Date;
  expires_at: string | Date;
  decided_by: string | null;
  decided_at: string | Date | null;
  decision_comment: string | null;
  redeemed_at: string | Date | null;
}

/** The columns of `ApprovalRow`, in order. */
export const APPROVAL_COLUMNS =
  'id, requester_id, action, risk, amount, resource_type, resource_id, purpose, rule, rule_reason, status, created_at, expires_at, decided_by, decided_at, decision_comment, redeemed_at';

const iso = (v: string | Date): string => new Date(v).toISOString();
const isoOrNull = (v: string | Date | null): string | null => (v === null ? null : iso(v));

/** Whether a still-open request (pending or approved) has run out of time at `now`. */
export function isExpired(row: Pick<ApprovalRow, 'status' | 'expires_at'>, now: Date): boolean {
  return (row.status === 'pending' || row.status === 'approved') && new Date(row.expires_at).getTime() <= now.getTime();
}

/** The record of a row as it reads at `now`. */
export function toApprovalRequest(r: ApprovalRow, now: Date): ApprovalRequestRecord {
  return {
    id: r.id,
    requesterId: r.requester_id,
    action: r.action,
    risk: r.risk,
    amount: r.amount === null ? null : Number(r.amount),
    resource: r.resource_type !== null && r.resource_id !== null ? { type: r.resource_type, id: r.resource_id } : null,
    purpose: r.purpose,
    rule: r.rule,
    ruleReason: r.rule_reason,
    status: isExpired(r, now) ? 'expired' : r.status,
    createdAt: iso(r.created_at),
    expiresAt: iso(r.expires_at),
    decidedBy: r.decided_by,
    decidedAt: isoOrNull(r.decided_at),
    comment: r.decision_comment,
    redeemedAt: isoOrNull(r.redeemed_at),
  };
}

/** The request with this id as it reads at `now`, or NotFound. */
export async function getApprovalRequest(db: Queryable, id: string, now: Date): Promise<ApprovalRequestRecord> {
  const r = await db.query<ApprovalRow>(`SELECT ${APPROVAL_COLUMNS} FROM approval_requests WHERE id = $1`, [id]);
  const row = r.rows[0];
  if (!row) throw new NotFound('approval_request', id);
  return toApprovalRequest(row, now);
}

/** Who asked for the request with this id (undefined when there is none): what separation of duties is decided on. */
export async function approvalRequester(db: Queryable, id: string): Promise<string | undefined> {
  const r = await db.query<{ requester_id: string }>('SELECT requester_id FROM approval_requests WHERE id = $1', [id]);
  return r.rows[0]?.requester_id;
}

/** Filters of `listApprovalRequests`. */
export interface ApprovalRequestQuery {
  status?: ApprovalStatus;
  requesterId?: string;
  /** Requests after this id (the previous page's `nextCursor`). */
  after?: string;
  /** @default 100 */
  limit?: number;
  /** The time statuses are read at. */
  now: Date;
}

/** Requests matching the filters, oldest first (ids sort by creation), with the next page's cursor (null on the last). */
export async function listApprovalRequests(
  db: Queryable,
  q: ApprovalRequestQuery,
): Promise<{ approvals: ApprovalRequestRecord[]; nextCursor: string | null }> {
  const limit = q.limit ?? 100;
  const now = q.now.toISOString();
  // `expired` is a reading of time, so each status filter is written against expires_at.
  const r = await db.query<ApprovalRow>(
    `SELECT ${APPROVAL_COLUMNS} FROM approval_requests
      WHERE ($1::text IS NULL
             OR ($1 = 'expired' AND status IN ('pending', 'approved') AND expires_at <= $2::timestamptz)
             OR ($1 IN ('pending', 'approved') AND status = $1 AND expires_at > $2::timestamptz)
             OR ($1 IN ('rejected', 'redeemed') AND status = $1))
        AND ($3::text IS NULL OR requester_id = $3)
        AND ($4::text IS NULL OR id > $4)
      ORDER BY id LIMIT $5`,
    [q.status ?? null, now, q.requesterId ?? null, q.after ?? null, limit + 1],
  );
  const page = r.rows.slice(0, limit).map((row) => toApprovalRequest(row, q.now));
  return { approvals: page, nextCursor: r.rows.length > limit ? (page.at(-1)?.id ?? null) : null };
}

/** A human decision on a request. */
export interface ApprovalResolution {
  id: string;
  verdict: 'approve' | 'reject';
  comment: string;
}

/**
 * Approves or rejects a pending, unexpired request, once, recording the decision and its
 * comment with an `approval.approve` / `approval.reject` entry in the same transaction. Who may
 * decide is the policy engine's call, made before this runs; the table itself refuses a
 * requester deciding their own request, so no path can skip that rule.
 */
export async function resolveApprovalRequest(db: Db, input: ApprovalResolution, ctx: ChangeContext): Promise<ApprovalRequestRecord> {
  const comment = input.comment.trim();
  if (comment.length < MIN_APPROVAL_COMMENT_LENGTH) {
    throw new ValidationFailed('an approval decision needs a comment', [
      { field: 'body.comment', message: `must say why, in at least ${MIN_APPROVAL_COMMENT_LENGTH} characters` },
    ]);
  }
  const notPlain = plainTextIssues([['body.comment', comment]]);
  if (notPlain.length > 0) throw new ValidationFailed('an approval comment is evidence: plain text only', notPlain);
  const now = ctx.now ?? new Date();
  return db.transaction(async (tx) => {
    const held = await tx.query<ApprovalRow>(`SELECT ${APPROVAL_COLUMNS} FROM approval_requests WHERE id = $1 FOR UPDATE`, [input.id]);
    const row = held.rows[0];
    if (!row) throw new NotFound('approval_request', input.id);
    const current = toApprovalRequest(row, now);
    if (current.status !== 'pending') {
      const when = current.status === 'expired' ? ` at ${current.expiresAt}` : current.decidedAt ? ` at ${current.decidedAt}` : '';
      throw new Conflict(`approval request ${input.id} is ${current.status}${when}; only a pending request can be decided`);
    }
    // The policy engine refuses this first (sod.no-self-approval); this and the table's CHECK
    // are the backstop for any caller that reaches this function without the engine.
    if (row.requester_id === ctx.actor.principalId) throw new Forbidden(`approval request ${input.id} was opened by the caller; another person decides it`);
    const status = input.verdict === 'approve' ? 'approved' : 'rejected';
    const updated = await tx.query<ApprovalRow>(
      `UPDATE approval_requests SET status = $2, decided_by = $3, decided_at = $4, decision_comment = $5
        WHERE id = $1 RETURNING ${APPROVAL_COLUMNS}`,
      [input.id, status, ctx.actor.principalId, now.toISOString(), comment],
    );
    await appendAuditEntry(tx, {
      actor: ctx.actor,
      action: input.verdict === 'approve' ? 'approval.approve' : 'approval.reject',
      resource: { type: 'approval_request', id: input.id },
      decision: { effect: 'allowed', policyIds: [] },
      outcome: 'succeeded',
      reason: auditReason(`${row.action} (${row.risk}${row.amount === null ? '' : `, amount ${row.amount}`}) for ${row.requester_id}: ${comment}`),
      ...(ctx.requestId ? { requestId: ctx.requestId } : {}),
    });
    return toApprovalRequest(updated.rows[0]!, now);
  });
}
