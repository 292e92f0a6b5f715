/**
 * Autonomy: bounded autonomy at run time. Agents and applications ask before acting
 * (`decideAutonomy`); what the autonomy document holds back becomes an approval request that
 * humans approve or reject with a comment before it expires, and that its requester may use
 * once. The classification itself is policy's (pure, offline); this module keeps the requests,
 * their evidence and the boundary violations.
 */
export {
  APPROVAL_RULE,
  AUTONOMY_NOTIFY_EVENT,
  AutonomyBoundaryViolation,
  BOUNDARY_VIOLATION_KINDS,
  decideAutonomy,
  type AutonomyAnswer,
  type AutonomyEnv,
  type AutonomyQuestion,
  type BoundaryViolationKind,
} from './decide.js';
export {
  APPROVAL_STATUSES,
  approvalRequester,
  getApprovalRequest,
  listApprovalRequests,
  MIN_APPROVAL_COMMENT_LENGTH,
  resolveApprovalRequest,
  type ApprovalRequestQuery,
  type ApprovalRequestRecord,
  type ApprovalResolution,
  type ApprovalStatus,
} from './approval-requests.js';
