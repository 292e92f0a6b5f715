/** The audit log: every state change records itself here, in its own transaction. */
export { appendAuditEntry, listAuditEntries, type AuditQuery } from './log.js';
export type { Actor, AuditEntry, AuditEntryInput } from './entry.js';
