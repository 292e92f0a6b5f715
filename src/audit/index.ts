/**
 * The audit log: every state change records itself here in its own transaction; a sequencer
 * turns committed entries into an RFC 9162 Merkle tree with signed C2SP checkpoints.
 */
export { appendAuditEntry, listAuditEntries, type AuditQuery, type IndexedAuditEntry } from './log.js';
export { auditReason, auditReasonListing, MAX_AUDIT_REASON, SYSTEM_ACTOR, type Actor, type AuditEntry, type AuditEntryInput } from './entry.js';
export { openCheckpoint, parseVerifierKey, signCheckpoint, verifierKey, type Checkpoint, type NoteVerifier } from './checkpoint.js';
export { verifyInclusion, verifyConsistency, leafHash } from './merkle.js';
export { sequenceBatch, startSequencer, logOrigin, type SequenceResult, type SequencerHandle, type SequencerOptions } from './sequencer.js';
export {
  auditStatus,
  type AuditStatus,
  type PublishedKey,
  latestCheckpoint,
  logSize,
  logVerifierKey,
  publishedKeys,
  proveConsistency,
  proveInclusion,
  readLeaves,
  MAX_LEAVES_PER_CALL,
} from './tree-store.js';
export { verifyAuditLog, verifyAuditLogSnapshot, type AuditProblem, type AuditProblemKind, type AuditVerifyOptions, type AuditVerifyReport } from './verify.js';
export * from './bundle/index.js';
export {
  auditPayloadStoreOptions,
  eraseAuditPayload,
  getAuditPayload,
  listAuditPayloads,
  openAuditPayloadStore,
  readAuditPayload,
  recordPendingAuditPayload,
  storeAuditPayload,
  type AuditPayload,
  type AuditPayloadQuery,
  type AuditPayloadState,
  type EraseAuditPayloadInput,
  type PayloadDeps,
  type PayloadStoreDeps,
  type PendingAuditPayload,
  type PendingPayloadDeps,
  type StoreAuditPayloadInput,
} from './payloads.js';
export {
  addCalendarDuration,
  describeRetention,
  getLegalHold,
  holdsCoveringPayload,
  legalHoldScopeSchema,
  listLegalHolds,
  placeLegalHold,
  placeLegalHoldSchema,
  purgeExpiredPayloads,
  releaseLegalHold,
  retentionDeadlines,
  type AuditContext,
  type HeldPayload,
  type HoldDeps,
  type LegalHold,
  type LegalHoldScope,
  type PlaceLegalHoldInput,
  type PurgedPayload,
  type PurgeOptions,
  type PurgeReport,
  type ReleaseLegalHoldInput,
  type RetentionDeadlines,
  type RetentionPolicy,
} from './retention.js';
export { startBackgroundLoop, type BackgroundLoop, type BackgroundLoopOptions } from './background-loop.js';
export { startRetentionPurge, type RetentionPurgeHandle, type RetentionPurgeOptions } from './retention-schedule.js';
export {
  LEGACY_STRAY_LISTING_ACTION,
  STRAY_PAYLOAD_GRACE_MS,
  STRAY_PAYLOAD_SWEEP_ACTION,
  sweepStrayPayloads,
  type StraySweepOptions,
  type StraySweepReport,
} from './stray-payloads.js';
