// Audit payloads: request and response bodies and other sensitive bytes live apart from the
// audit entries, in a blob store of their own, with one `audit_payloads` row each; entries
// reference them by SHA-256 (`payloadRefs`). Erasing a payload removes its bytes but keeps
// its row and hash, and appends an entry: the Merkle tree over the entries still verifies.

import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import {
  type AssayConfig,
  AssayError,
  type Clock,
  Conflict,
  NotFound,
  PAYLOAD_CLASS_PATTERN,
  plainTextIssues,
  sha256Hex,
  systemClock,
  ValidationFailed,
} from '../core/index.js';
import { createBlobStore, type BlobStore, type BlobStoreOptions, type Db, type Queryable, type Tx } from '../store/index.js';
import { auditReason } from './entry.js';
import { appendAuditEntry } from './log.js';
import { lockPayloadHash } from './payload-locks.js';
import { HOLD_LOCK_KEY, holdsCoveringPayload, retentionDeadlines, type AuditContext, type RetentionPolicy } from './retention.js';

/** Where a payload's bytes stand. */
export type AuditPayloadState = 'stored' | 'erased' | 'purged';

/** A payload's record; it outlives the bytes. */
export interface AuditPayload {
  sha256: string;
  class: string;
  mediaType: string;
  size: number;
  subjectIds: string[];
  storedAt: string;
  hotUntil: string;
  retainUntil: string;
  purgeAfter: string;
  state: AuditPayloadState;
  erasedAt: string | null;
  erasedBy: string | null;
  eraseEntryId: string | null;
  purgedAt: string | null;
  purgeEntryId: string | null;
}

interface PayloadRow {
  sha256: string;
  class: string;
  media_type: string;
  size: number;
  subject_ids: string[];
  stored_at: string;
  hot_until: string;
  retain_until: string;
  purge_after: string;
  erased_at: string | null;
  erased_by: string | null;
  erase_entry_id: string | null;
  purged_at: string | null;
  purge_entry_id: string | null;
}

function toPayload(r: PayloadRow): AuditPayload {
  return {
    sha256: r.sha256,
    class: r.class,
    mediaType: r.media_type,
    size: r.size,
    subjectIds: r.subject_ids,
    storedAt: r.stored_at,
    hotUntil: r.hot_until,
    retainUntil: r.retain_until,
    purgeAfter: r.purge_after,
    state: r.erased_at !== null ? 'erased' : r.purged_at !== null ? 'purged' : 'stored',
    erasedAt: r.erased_at,
    erasedBy: r.erased_by,
    eraseEntryId: r.erase_entry_id,
    purgedAt: r.purged_at,
    purgeEntryId: r.purge_entry_id,
  };
}

/**
 * Where payload bytes live: `paths.auditPayloads` on the filesystem, or `<prefix>audit-payloads/`
 * in the S3 bucket. Never the shared blob store: there, identical bytes of a dataset would be
 * the same blob, and erasing the payload would delete them too.
 */
export function auditPayloadStoreOptions(config: AssayConfig): BlobStoreOptions {
  if (config.blobStore.kind === 'fs') return { kind: 'fs', root: config.paths.auditPayloads };
  const prefix = config.blobStore.prefix;
  const base = prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
  return { ...config.blobStore, prefix: `${base}audit-payloads/` };
}

/** Opens the audit payload store of `config`. */
export function openAuditPayloadStore(config: AssayConfig): Promise<BlobStore> {
  return createBlobStore(auditPayloadStoreOptions(config));
}

const storeInputSchema = z.strictObject({
  class: z.string().regex(PAYLOAD_CLASS_PATTERN, 'must be a payload class name'),
  mediaType: z
    .string()
    .max(255)
    .regex(/^[\w.+-]+\/[\w.+-]+(\s*;.*)?$/, 'must be a media type such as application/json'),
  subjectId: z.string().min(1).max(200).optional(),
  bytes: z.union([z.instanceof(Uint8Array), z.string()]),
});

/** A payload to keep: its class decides its retention. */
export type StoreAuditPayloadInput = z.input<typeof storeInputSchema>;

/** A payload recorded as pending (`recordPendingAuditPayload`): what `storeAuditPayload` keeps. */
export interface PendingAuditPayload {
  readonly sha256: string;
  /** Names this request's `audit_payload_pending` record. */
  readonly claimId: string;
  readonly class: string;
  readonly mediaType: string;
  readonly subjectId?: string;
  readonly bytes: Uint8Array;
}

/** What recording a pending payload needs. */
export interface PendingPayloadDeps {
  db: Db;
  retention: RetentionPolicy;
  /** @default the system clock */
  clock?: Clock;
}

/**
 * Validates a payload and records, committed at once and on its own, that this request is about
 * to store its bytes: call it before the transaction that calls `storeAuditPayload`, so that a
 * transaction that rolls back, or a process that dies before its commit, leaves a record the
 * stray sweep finds (`sweepStrayPayloads`). Never inside that transaction: the record must
 * outlive its rollback (and on the embedded database a statement outside an open transaction
 * waits for it to end). Bytes once erased are refused here (Conflict), before anything is written.
 */
export async function recordPendingAuditPayload(deps: PendingPayloadDeps, input: StoreAuditPayloadInput): Promise<PendingAuditPayload> {
  const parsed = storeInputSchema.safeParse(input);
  if (!parsed.success) {
    throw new ValidationFailed(
      'invalid audit payload',
      parsed.error.issues.map((i) => ({ field: i.path.map(String).join('.'), message: i.message })),
    );
  }
  const p = parsed.data;
  const now = (deps.clock ?? systemClock).now();
  // An unknown class is refused here, before anything is recorded or written.
  retentionDeadlines(deps.retention, p.class, now);
  const bytes = typeof p.bytes === 'string' ? Buffer.from(p.bytes, 'utf8') : p.bytes;
  const sha256 = sha256Hex(bytes);
  const { db } = deps;
  const erased = (await db.query<PayloadRow>('SELECT * FROM audit_payloads WHERE sha256 = $1 AND erased_at IS NOT NULL', [sha256])).rows[0];
  if (erased) throw erasedConflict(erased);
  const claimId = randomUUID();
  await db.query('INSERT INTO audit_payload_pending (sha256, claim_id, recorded_at) VALUES ($1, $2, $3)', [sha256, claimId, now.toISOString()]);
  return { sha256, claimId, class: p.class, mediaType: p.mediaType, ...(p.subjectId ? { subjectId: p.subjectId } : {}), bytes };
}

/** What storing needs besides the caller's transaction. */
export interface PayloadStoreDeps {
  /** The audit payload store (`openAuditPayloadStore`). */
  blobs: BlobStore;
  retention: RetentionPolicy;
  /** @default the system clock */
  clock?: Clock;
}

/**
 * Keeps a payload recorded as pending: the bytes are written, then the row is recorded in the
 * caller's transaction, so the entry the caller appends next can reference it
 * (`payloadRefs: [{name, sha256}]`) and never names bytes that are not there; the pending
 * record goes in the same transaction. If that transaction rolls back, the record stays and
 * `sweepStrayPayloads` removes the bytes later. Storing bytes already kept pushes their
 * deadlines out, never in; bytes once erased are refused (Conflict).
 */
export async function storeAuditPayload(tx: Tx, deps: PayloadStoreDeps, pending: PendingAuditPayload): Promise<AuditPayload> {
  const { sha256, bytes } = pending;
  const storedAt = (deps.clock ?? systemClock).now();
  const d = retentionDeadlines(deps.retention, pending.class, storedAt);
  // Locks the row when there is one: a purge or erasure of these bytes finishes (or waits) first.
  const existing = (await tx.query<PayloadRow>('SELECT * FROM audit_payloads WHERE sha256 = $1 FOR UPDATE', [sha256])).rows[0];
  if (existing?.erased_at) throw erasedConflict(existing);
  // Before the hash's lock: a sweep holds a record's lock while it waits for a hash lock, never
  // the other way round. Gone already when a sweep took this request for a dead one (slower
  // than the grace): the bytes are then written anew below, after that sweep removed them.
  await tx.query('DELETE FROM audit_payload_pending WHERE claim_id = $1 AND sha256 = $2', [pending.claimId, sha256]);
  // Under the hash's lock, held to the commit: a sweep deciding about these bytes has finished
  // (they are written anew after it removed them), or starts after this commit and sees the row.
  await lockPayloadHash(tx, sha256);
  const written = await deps.blobs.put(bytes);
  if (written.hash !== sha256) throw new AssayError('internal', `audit payload sha256:${sha256} was written as ${written.hash}`);
  const r = await tx.query<PayloadRow>(
    `INSERT INTO audit_payloads (sha256, class, media_type, size, subject_ids, stored_at, hot_until, retain_until, purge_after)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     ON CONFLICT (sha256) DO UPDATE SET
       subject_ids = CASE WHEN audit_payloads.subject_ids @> EXCLUDED.subject_ids THEN audit_payloads.subject_ids
                          ELSE audit_payloads.subject_ids || EXCLUDED.subject_ids END,
       -- After a purge the bytes are collected anew: new deadlines from now. Otherwise the later of each.
       stored_at = CASE WHEN audit_payloads.purged_at IS NULL THEN audit_payloads.stored_at ELSE EXCLUDED.stored_at END,
       hot_until = CASE WHEN audit_payloads.purged_at IS NULL THEN greatest(audit_payloads.hot_until, EXCLUDED.hot_until) ELSE EXCLUDED.hot_until END,
       retain_until = CASE WHEN audit_payloads.purged_at IS NULL THEN greatest(audit_payloads.retain_until, EXCLUDED.retain_until) ELSE EXCLUDED.retain_until END,
       purge_after = CASE WHEN audit_payloads.purged_at IS NULL THEN greatest(audit_payloads.purge_after, EXCLUDED.purge_after) ELSE EXCLUDED.purge_after END,
       purged_at = NULL,
       purge_entry_id = NULL
     WHERE audit_payloads.erased_at IS NULL
     RETURNING *`,
    [
      sha256,
      pending.class,
      pending.mediaType,
      bytes.byteLength,
      pending.subjectId ? [pending.subjectId] : [],
      storedAt.toISOString(),
      d.hotUntil.toISOString(),
      d.retainUntil.toISOString(),
      d.purgeAfter.toISOString(),
    ],
  );
  const row = r.rows[0];
  if (!row) {
    // Erased by a transaction that committed after our first look.
    throw erasedConflict((await tx.query<PayloadRow>('SELECT * FROM audit_payloads WHERE sha256 = $1', [sha256])).rows[0]!);
  }
  return toPayload(row);
}

function erasedConflict(row: PayloadRow): Conflict {
  return new Conflict(
    `audit payload sha256:${row.sha256} was erased at ${row.erased_at ?? ''} (entry ${row.erase_entry_id ?? ''}); erased bytes are not stored again`,
    [{ field: 'bytes', message: 'these bytes were erased' }],
  );
}

/** A payload's record, whatever became of its bytes; NotFound when none was stored under `sha256`. */
export async function getAuditPayload(db: Queryable, sha256: string): Promise<AuditPayload> {
  const row = (await db.query<PayloadRow>('SELECT * FROM audit_payloads WHERE sha256 = $1', [sha256])).rows[0];
  if (!row) throw new NotFound('audit payload', sha256);
  return toPayload(row);
}

/** Filters of `listAuditPayloads`, combined with AND. */
export interface AuditPayloadQuery {
  subjectId?: string;
  class?: string;
  state?: AuditPayloadState;
  /** Payloads whose hash sorts after this one (the previous page's last). */
  after?: string;
  /** @default 100 */
  limit?: number;
}

/** Payload records matching every filter, in hash order (a GDPR lookup by subject, a class report). */
export async function listAuditPayloads(db: Queryable, q: AuditPayloadQuery = {}): Promise<AuditPayload[]> {
  const r = await db.query<PayloadRow>(
    `SELECT * FROM audit_payloads
      WHERE ($1::text IS NULL OR assay_subject_keys(subject_ids) @> ARRAY[assay_subject_key($1::text)])
        AND ($2::text IS NULL OR class = $2)
        AND ($3::text IS NULL OR CASE WHEN erased_at IS NOT NULL THEN 'erased' WHEN purged_at IS NOT NULL THEN 'purged' ELSE 'stored' END = $3)
        AND ($4::text IS NULL OR sha256 > $4)
      ORDER BY sha256 LIMIT $5`,
    [q.subjectId ?? null, q.class ?? null, q.state ?? null, q.after ?? null, q.limit ?? 100],
  );
  return r.rows.map(toPayload);
}

/** What reading and erasing need. */
export interface PayloadDeps {
  db: Db;
  /** The audit payload store (`openAuditPayloadStore`). */
  blobs: BlobStore;
  /** @default the system clock */
  clock?: Clock;
}

const SHA256 = /^[0-9a-f]{64}$/;

function assertSha256(sha256: string): void {
  if (!SHA256.test(sha256)) {
    throw new ValidationFailed('invalid payload hash', [{ field: 'sha256', message: 'must be 64 lowercase hexadecimal characters' }]);
  }
}

function gone(p: AuditPayload): AssayError {
  const how = p.state === 'erased' ? `erased at ${p.erasedAt ?? ''} by ${p.erasedBy ?? ''}` : `purged at ${p.purgedAt ?? ''} (retention maximum)`;
  return new AssayError('not_found', `the bytes of audit payload sha256:${p.sha256} were ${how}; its record remains`);
}

/**
 * The payload's bytes (verified against the hash) with its record. Reading sensitive data is
 * itself evidence: an `audit.payload.read` entry is committed before the bytes are returned,
 * and if it cannot be, nothing is returned.
 */
export async function readAuditPayload(
  deps: Omit<PayloadDeps, 'clock'>,
  sha256: string,
  ctx: AuditContext & { reason?: string },
): Promise<{ payload: AuditPayload; bytes: Buffer }> {
  assertSha256(sha256);
  const notPlain = plainTextIssues([['reason', ctx.reason]]);
  if (notPlain.length > 0) throw new ValidationFailed('a read reason is evidence: plain text only', notPlain);
  const payload = await getAuditPayload(deps.db, sha256);
  if (payload.state !== 'stored') throw gone(payload);
  let bytes: Buffer;
  try {
    bytes = await deps.blobs.getBytes(sha256);
  } catch (err) {
    // A row without bytes is what an interrupted erasure or purge leaves until it is re-run.
    if (err instanceof NotFound) throw new AssayError('not_found', `the bytes of audit payload sha256:${sha256} are missing (an interrupted erasure or purge?)`);
    throw err;
  }
  await deps.db.transaction((tx) =>
    appendAuditEntry(tx, {
      actor: ctx.actor,
      action: 'audit.payload.read',
      resource: { type: 'audit_payload', id: sha256 },
      decision: { effect: 'allowed', policyIds: [] },
      outcome: 'succeeded',
      ...(ctx.reason ? { reason: ctx.reason } : {}),
      ...(ctx.requestId ? { requestId: ctx.requestId } : {}),
      payloadRefs: [{ name: 'read', sha256 }],
    }),
  );
  return { payload, bytes };
}

/** What an erasure request says. */
export interface EraseAuditPayloadInput {
  sha256: string;
  /** Why (the erasure request, its reference): recorded in the entry. */
  reason: string;
  /**
   * Erase before the class minimum. The minimum exists for a legal obligation, which is
   * a ground to refuse erasure (GDPR Art. 17(3)(b)); overriding it is a recorded decision.
   * @default false
   */
  overrideMinimum?: boolean;
}

type EraseOutcome =
  | { kind: 'erased'; payload: AuditPayload }
  | { kind: 'held'; holds: Array<{ id: string; caseId: string }> }
  | { kind: 'minimum'; row: PayloadRow };

/**
 * Erases a payload's bytes (GDPR Art. 17): the bytes are deleted, the row and hash kept, and an
 * `audit.payload.erase` entry referencing the hash is appended in the same transaction. Refused
 * with Conflict while a legal hold covers it (naming the hold and case), and before the class
 * minimum unless `overrideMinimum`; a refusal is recorded as a failed `audit.payload.erase`.
 */
export async function eraseAuditPayload(deps: PayloadDeps, input: EraseAuditPayloadInput, ctx: AuditContext): Promise<AuditPayload> {
  assertSha256(input.sha256);
  const reason = input.reason.trim();
  if (reason.length === 0 || reason.length > 2000) {
    throw new ValidationFailed('an erasure needs a reason', [{ field: 'reason', message: 'must be 1 to 2000 characters' }]);
  }
  const notPlain = plainTextIssues([['reason', reason]]);
  if (notPlain.length > 0) throw new ValidationFailed('an erasure reason is evidence: plain text only', notPlain);
  const now = (deps.clock ?? systemClock).now();
  const override = input.overrideMinimum === true;
  const base = {
    actor: ctx.actor,
    action: 'audit.payload.erase',
    resource: { type: 'audit_payload', id: input.sha256 },
    ...(ctx.requestId ? { requestId: ctx.requestId } : {}),
    payloadRefs: [{ name: 'erased', sha256: input.sha256 }],
  };
  const outcome = await deps.db.transaction(async (tx): Promise<EraseOutcome> => {
    // Shared with purges, exclusive for placing holds: a hold committed before this point is seen.
    await tx.query('SELECT pg_advisory_xact_lock_shared($1)', [HOLD_LOCK_KEY]);
    const row = (await tx.query<PayloadRow>('SELECT * FROM audit_payloads WHERE sha256 = $1 FOR UPDATE', [input.sha256])).rows[0];
    if (!row) throw new NotFound('audit payload', input.sha256);
    if (row.erased_at !== null || row.purged_at !== null) {
      throw new Conflict(`nothing to erase: ${gone(toPayload(row)).message}`, [{ field: 'sha256', message: 'no bytes left' }]);
    }
    const holds = await holdsCoveringPayload(tx, input.sha256);
    if (holds.length > 0) return { kind: 'held', holds };
    if (now.toISOString() < row.retain_until && !override) return { kind: 'minimum', row };
    const entry = await appendAuditEntry(tx, {
      ...base,
      decision: { effect: 'allowed', policyIds: override && now.toISOString() < row.retain_until ? ['retention-minimum-override'] : [] },
      outcome: 'succeeded',
      reason,
    });
    // Bytes before the row: if the commit then fails, the erasure is simply requested again.
    await deps.blobs.delete(input.sha256);
    const r = await tx.query<PayloadRow>(
      'UPDATE audit_payloads SET erased_at = $2, erased_by = $3, erase_entry_id = $4 WHERE sha256 = $1 RETURNING *',
      [input.sha256, now.toISOString(), ctx.actor.principalId, entry.id],
    );
    return { kind: 'erased', payload: toPayload(r.rows[0]!) };
  });
  if (outcome.kind === 'erased') return outcome.payload;

  // A refused erasure changes nothing but is evidence too: who tried to erase what, and why not.
  const refusal =
    outcome.kind === 'held'
      ? new Conflict(
          `audit payload sha256:${input.sha256} is under legal hold ${outcome.holds.map((h) => `${h.id} (case ${h.caseId})`).join(', ')}; it cannot be erased until released`,
          outcome.holds.map((h) => ({ field: 'sha256', message: `under legal hold ${h.id} (case ${h.caseId})` })),
        )
      : new Conflict(
          `audit payload sha256:${input.sha256} must be kept until ${outcome.row.retain_until} (retention minimum of class ${outcome.row.class}); erasing earlier needs overrideMinimum with a reason (GDPR Art. 17(3)(b))`,
          [{ field: 'overrideMinimum', message: `required before ${outcome.row.retain_until}` }],
        );
  await deps.db.transaction((tx) =>
    appendAuditEntry(tx, {
      ...base,
      decision: {
        effect: 'denied',
        policyIds: outcome.kind === 'held' ? outcome.holds.map((h) => `legal-hold:${h.id}`) : [`retention:${outcome.row.class}`],
      },
      outcome: 'failed',
      reason: auditReason(`${reason} — refused: ${refusal.message}`),
    }),
  );
  throw refusal;
}
