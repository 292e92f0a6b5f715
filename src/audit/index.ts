/**
 * The audit log: every state change records itself here in its own transaction; a sequencer
 * turns committed entries into an RFC 9162 Merkle tree with signed C2SP checkpoints.
 */
export { appendAuditEntry, listAuditEntries, type AuditQuery, type IndexedAuditEntry } from './log.js';
export type { Actor, AuditEntry, AuditEntryInput } from './entry.js';
export { openCheckpoint, parseVerifierKey, signCheckpoint, verifierKey, type Checkpoint, type NoteVerifier } from './checkpoint.js';
export { verifyInclusion, verifyConsistency, leafHash } from './merkle.js';
export { sequenceBatch, startSequencer, logOrigin, type SequenceResult, type SequencerHandle, type SequencerOptions } from './sequencer.js';
export {
  auditStatus,
  type AuditStatus,
  latestCheckpoint,
  logSize,
  logVerifierKey,
  proveConsistency,
  proveInclusion,
  readLeaves,
  MAX_LEAVES_PER_CALL,
} from './tree-store.js';
export { verifyAuditLog, verifyAuditLogSnapshot, type AuditProblem, type AuditProblemKind, type AuditVerifyOptions, type AuditVerifyReport } from './verify.js';
