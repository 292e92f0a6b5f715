/**
 * Approvals → the `context.approval` record that release policies read. Cedar can neither
 * count a set nor say "some element has role X", so this helper precomputes exactly those
 * facts and the policies decide with them.
 */

/** One recorded approval: who approved, in which of their roles. */
export interface ApprovalRecord {
  principalId: string;
  role: string;
}

/** What release policies see: distinct approvers, how many, and the roles they approved in. */
export interface ApprovalSummary {
  approvers: string[];
  count: number;
  roles: string[];
}

/**
 * Summarises approvals so each approver counts once and in one role — the role of their
 * first approval — so one person holding two roles can never stand in for two approvers.
 */
export function summarizeApprovals(approvals: readonly ApprovalRecord[]): ApprovalSummary {
  const roleOf = new Map<string, string>();
  for (const a of approvals) if (!roleOf.has(a.principalId)) roleOf.set(a.principalId, a.role);
  const approvers = [...roleOf.keys()];
  return { approvers, count: approvers.length, roles: [...new Set(roleOf.values())] };
}
