// Retention of audit payloads and legal holds. Each payload class has a minimum (kept at
// least this long: PCI DSS 10.5.1, EU AI Act Art. 18), a hot period (immediately available)
// and a maximum (purged after it: GDPR Art. 5(1)(e)). A legal hold stops erasure and purge of
// everything in its scope until it is released. Audit entries themselves are never deleted:
// only payload bytes go, and every purge, hold and release is itself an audit entry.

import { z } from 'zod';
import {
  Conflict,
  newId,
  NotFound,
  PAYLOAD_CLASS_PATTERN,
  plainText,
  plainTextIssues,
  systemClock,
  ValidationFailed,
  type CalendarDuration,
  type Clock,
  type RetentionClassConfig,
  type RetentionConfig,
} from '../core/index.js';
import type { BlobStore, Db, Queryable, Tx } from '../store/index.js';
import { SYSTEM_ACTOR, type Actor } from './entry.js';
import { appendAuditEntry } from './log.js';

/** Retention per payload class, as compiled from configuration (`audit.retention`). */
export type RetentionPolicy = RetentionConfig;

/** Who asks for a change, for the audit entry it writes. */
export interface AuditContext {
  actor: Actor;
  requestId?: string;
}


/**
 * Erasure and purge take this advisory lock shared, placing a hold takes it exclusively: a hold
 * placed while a purge is running waits for it, and every erasure or purge that starts after
 * the hold committed sees it. Any constant works; this one spells "hold".
 */
export const HOLD_LOCK_KEY = 0x686f6c64;

/** When a payload stored at some time becomes cold, may be erased without override, and is purged. */
export interface RetentionDeadlines {
  hotUntil: Date;
  retainUntil: Date;
  purgeAfter: Date;
}

/**
 * `from` plus `d` on the UTC calendar: months first (the day clamped to the month's last day,
 * so 31 January + P1M is the last day of February), then days.
 */
export function addCalendarDuration(from: Date, d: CalendarDuration): Date {
  const year = from.getUTCFullYear();
  const month = from.getUTCMonth() + d.months;
  const lastDay = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  const shifted = Date.UTC(
    year,
    month,
    Math.min(from.getUTCDate(), lastDay),
    from.getUTCHours(),
    from.getUTCMinutes(),
    from.getUTCSeconds(),
    from.getUTCMilliseconds(),
  );
  return new Date(shifted + d.days * 86_400_000);
}

/** The class's policy; an unknown class is a ValidationFailed naming `class`. */
export function retentionClassOf(policy: RetentionPolicy, payloadClass: string): RetentionClassConfig {
  const found = Object.hasOwn(policy, payloadClass) ? policy[payloadClass] : undefined;
  if (!found) {
    throw new ValidationFailed(`unknown payload class ${payloadClass}`, [
      { field: 'class', message: `must be one of ${Object.keys(policy).sort().join(', ')} (audit.retention)` },
    ]);
  }
  return found;
}

/** The deadlines of a payload of `payloadClass` stored at `storedAt`. */
export function retentionDeadlines(policy: RetentionPolicy, payloadClass: string, storedAt: Date): RetentionDeadlines {
  const c = retentionClassOf(policy, payloadClass);
  return {
    hotUntil: addCalendarDuration(storedAt, c.hot),
    retainUntil: addCalendarDuration(storedAt, c.minimum),
    purgeAfter: addCalendarDuration(storedAt, c.maximum),
  };
}

/** The policy as ISO 8601 durations per class, for people and the API. */
export function describeRetention(policy: RetentionPolicy): Record<string, { minimum: string; hot: string; maximum: string }> {
  return Object.fromEntries(
    Object.entries(policy)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, c]) => [name, { minimum: c.minimum.iso, hot: c.hot.iso, maximum: c.maximum.iso }]),
  );
}

// ---------------------------------------------------------------------------
// Legal holds

const isoTime = z.iso.datetime({ offset: true }).transform((t) => new Date(t).toISOString());

/** What a hold covers; every given criterion must match (AND). No criterion: every payload. */
export const legalHoldScopeSchema = z
  .strictObject({
    classes: z.array(z.string().regex(PAYLOAD_CLASS_PATTERN, 'must be a payload class name')).min(1).optional().describe('payload classes'),
    subjectId: z.string().min(1).max(200).optional().describe('payloads concerning this data subject'),
    resource: z
      .strictObject({ type: z.string().min(1).max(100), id: z.string().min(1).max(200) })
      .optional()
      .describe('payloads referenced by audit entries about this resource'),
    storedFrom: isoTime.optional().describe('payloads stored at or after (ISO-8601)'),
    storedTo: isoTime.optional().describe('payloads stored before (ISO-8601)'),
  })
  .refine((s) => !s.storedFrom || !s.storedTo || s.storedFrom < s.storedTo, {
    path: ['storedTo'],
    message: 'must be later than the stored-from time, where the window starts',
  });

/** What a hold covers. */
export type LegalHoldScope = z.output<typeof legalHoldScopeSchema>;

/** The request to place a hold. */
export const placeLegalHoldSchema = z.strictObject({
  caseId: plainText(z.string().trim().min(1).max(200)).describe('the matter, investigation or litigation this hold serves'),
  reason: plainText(z.string().trim().min(1).max(2000)),
  scope: legalHoldScopeSchema.default({}),
});

/** What `placeLegalHold` needs. */
export type PlaceLegalHoldInput = z.input<typeof placeLegalHoldSchema>;

/** A legal hold; `active` until released. */
export interface LegalHold {
  id: string;
  caseId: string;
  scope: LegalHoldScope;
  reason: string;
  placedBy: string;
  placedAt: string;
  placeEntryId: string;
  active: boolean;
  releasedAt: string | null;
  releasedBy: string | null;
  releaseReason: string | null;
  releaseEntryId: string | null;
}

interface HoldRow {
  id: string;
  case_id: string;
  scope: LegalHoldScope;
  reason: string;
  placed_by: string;
  placed_at: string;
  place_entry_id: string;
  released_at: string | null;
  released_by: string | null;
  release_reason: string | null;
  release_entry_id: string | null;
}

function toHold(r: HoldRow): LegalHold {
  return {
    id: r.id,
    caseId: r.case_id,
    scope: r.scope,
    reason: r.reason,
    placedBy: r.placed_by,
    placedAt: r.placed_at,
    placeEntryId: r.place_entry_id,
    active: r.released_at === null,
    releasedAt: r.released_at,
    releasedBy: r.released_by,
    releaseReason: r.release_reason,
    releaseEntryId: r.release_entry_id,
  };
}

/**
 * SQL: hold `h` covers payload `p`. One definition for erasure, purge and the reports, so what
 * blocks an erasure is exactly what blocks a purge.
 */
export const HOLD_COVERS_PAYLOAD = `(
  (h.scope->'classes' IS NULL OR h.scope->'classes' @> to_jsonb(p.class))
  AND (h.scope->>'subjectId' IS NULL OR assay_subject_keys(p.subject_ids) @> ARRAY[assay_subject_key(h.scope->>'subjectId')])
  AND (h.scope->>'storedFrom' IS NULL OR p.stored_at >= (h.scope->>'storedFrom')::timestamptz)
  AND (h.scope->>'storedTo' IS NULL OR p.stored_at < (h.scope->>'storedTo')::timestamptz)
  AND (h.scope->'resource' IS NULL OR EXISTS (
    SELECT 1 FROM audit_entries e
     WHERE e.resource->>'id' = h.scope->'resource'->>'id'
       AND e.resource->>'type' = h.scope->'resource'->>'type'
       AND e.payload_refs @> jsonb_build_array(jsonb_build_object('sha256', p.sha256))))
)`;

/** The active holds covering the payload `sha256`, oldest first. */
export async function holdsCoveringPayload(db: Queryable, sha256: string): Promise<Array<{ id: string; caseId: string }>> {
  const r = await db.query<{ id: string; case_id: string }>(
    `SELECT h.id, h.case_id FROM audit_legal_holds h, audit_payloads p
      WHERE p.sha256 = $1 AND h.released_at IS NULL AND ${HOLD_COVERS_PAYLOAD}
      ORDER BY h.placed_at, h.id`,
    [sha256],
  );
  return r.rows.map((row) => ({ id: row.id, caseId: row.case_id }));
}

function parseOrThrow<T extends z.ZodType>(schema: T, input: unknown): z.output<T> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const issues = r.error.issues.flatMap((i) => {
    const field = i.path.map(String).join('.');
    if (i.code === 'unrecognized_keys') return i.keys.map((k) => ({ field: field ? `${field}.${k}` : k, message: 'unknown field' }));
    return [{ field: field || '(root)', message: i.message }];
  });
  throw new ValidationFailed(`invalid input: ${issues.map((i) => i.field).join(', ')}`, issues);
}

/** What placing and releasing holds need. */
export interface HoldDeps {
  db: Db;
  /** To refuse holds on classes that do not exist (a typo would hold nothing). */
  retention: RetentionPolicy;
  /** @default the system clock */
  clock?: Clock;
}

/** Places a legal hold, audited in the same transaction; from its commit on, nothing it covers is erased or purged. */
export async function placeLegalHold(deps: HoldDeps, input: PlaceLegalHoldInput, ctx: AuditContext): Promise<LegalHold> {
  const hold = parseOrThrow(placeLegalHoldSchema, input);
  const unknown = (hold.scope.classes ?? []).flatMap((c, i) => (Object.hasOwn(deps.retention, c) ? [] : [{ c, i }]));
  if (unknown.length > 0) {
    throw new ValidationFailed(
      `unknown payload class ${unknown.map((u) => u.c).join(', ')}`,
      unknown.map((u) => ({ field: `scope.classes.${u.i}`, message: `must be one of ${Object.keys(deps.retention).sort().join(', ')}` })),
    );
  }
  const id = newId('hold');
  const placedAt = (deps.clock ?? systemClock).now().toISOString();
  return deps.db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [HOLD_LOCK_KEY]);
    const entry = await appendAuditEntry(tx, {
      actor: ctx.actor,
      action: 'audit.hold.place',
      resource: { type: 'legal_hold', id },
      decision: { effect: 'allowed', policyIds: [] },
      outcome: 'succeeded',
      reason: `case ${hold.caseId}: ${hold.reason}`,
      ...(ctx.requestId ? { requestId: ctx.requestId } : {}),
    });
    const r = await tx.query<HoldRow>(
      `INSERT INTO audit_legal_holds (id, case_id, scope, reason, placed_by, placed_at, place_entry_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *`,
      [id, hold.caseId, JSON.stringify(hold.scope), hold.reason, ctx.actor.principalId, placedAt, entry.id],
    );
    return toHold(r.rows[0]!);
  });
}

/** What `releaseLegalHold` needs. */
export interface ReleaseLegalHoldInput {
  id: string;
  reason: string;
}

/** Releases an active hold, audited; releasing one twice is a Conflict, an unknown id NotFound. */
export async function releaseLegalHold(deps: Omit<HoldDeps, 'retention'>, input: ReleaseLegalHoldInput, ctx: AuditContext): Promise<LegalHold> {
  const reason = input.reason.trim();
  if (reason.length === 0 || reason.length > 2000) {
    throw new ValidationFailed('a release needs a reason', [{ field: 'reason', message: 'must be 1 to 2000 characters' }]);
  }
  const notPlain = plainTextIssues([['reason', reason]]);
  if (notPlain.length > 0) throw new ValidationFailed('a release reason is evidence: plain text only', notPlain);
  const releasedAt = (deps.clock ?? systemClock).now().toISOString();
  return deps.db.transaction(async (tx) => {
    const found = await tx.query<HoldRow>('SELECT * FROM audit_legal_holds WHERE id = $1 FOR UPDATE', [input.id]);
    const row = found.rows[0];
    if (!row) throw new NotFound('legal hold', input.id);
    if (row.released_at !== null) {
      throw new Conflict(`legal hold ${input.id} (case ${row.case_id}) was already released at ${row.released_at} by ${row.released_by ?? ''}`, [
        { field: 'id', message: 'already released' },
      ]);
    }
    const entry = await appendAuditEntry(tx, {
      actor: ctx.actor,
      action: 'audit.hold.release',
      resource: { type: 'legal_hold', id: input.id },
      decision: { effect: 'allowed', policyIds: [] },
      outcome: 'succeeded',
      reason: `case ${row.case_id}: ${reason}`,
      ...(ctx.requestId ? { requestId: ctx.requestId } : {}),
    });
    const r = await tx.query<HoldRow>(
      `UPDATE audit_legal_holds SET released_at = $2, released_by = $3, release_reason = $4, release_entry_id = $5
        WHERE id = $1 RETURNING *`,
      [input.id, releasedAt, ctx.actor.principalId, reason, entry.id],
    );
    return toHold(r.rows[0]!);
  });
}

/** Holds in the order they were placed; only the active ones with `active: true`. */
export async function listLegalHolds(db: Queryable, options: { active?: boolean } = {}): Promise<LegalHold[]> {
  const r = await db.query<HoldRow>(
    `SELECT * FROM audit_legal_holds WHERE ($1::boolean IS NULL OR (released_at IS NULL) = $1) ORDER BY placed_at, id`,
    [options.active ?? null],
  );
  return r.rows.map(toHold);
}

/** One hold; NotFound when there is none with this id. */
export async function getLegalHold(db: Queryable, id: string): Promise<LegalHold> {
  const r = await db.query<HoldRow>('SELECT * FROM audit_legal_holds WHERE id = $1', [id]);
  const row = r.rows[0];
  if (!row) throw new NotFound('legal hold', id);
  return toHold(row);
}

// ---------------------------------------------------------------------------
// Purge

/** Options of `purgeExpiredPayloads`. */
export interface PurgeOptions {
  db: Db;
  /** The audit payload store (never the shared blob store). */
  blobs: BlobStore;
  /** What counts as now. @default the system clock */
  now?: Date;
  /** Report what would be purged and change nothing. @default false */
  dryRun?: boolean;
  /** Most payloads purged (or reported) by this call. @default 1000 */
  limit?: number;
  /** Payloads per transaction. @default 100 */
  batchSize?: number;
  /** Who asked. @default the system (the schedule) */
  actor?: Actor;
  requestId?: string;
}

/** A payload the purge removed (or, in a dry run, would remove). */
export interface PurgedPayload {
  sha256: string;
  class: string;
  purgeAfter: string;
  /** The `audit.payload.purge` entry; null in a dry run. */
  entryId: string | null;
}

/** A payload past its maximum that active holds keep. */
export interface HeldPayload {
  sha256: string;
  class: string;
  purgeAfter: string;
  holdIds: string[];
}

/** What a purge did. */
export interface PurgeReport {
  dryRun: boolean;
  now: string;
  purged: PurgedPayload[];
  /** Payloads past their maximum kept by legal holds (at most `limit`). */
  held: HeldPayload[];
  /** More payloads are due than `limit` allowed; run again. */
  more: boolean;
}

const LIVE_DUE = `p.erased_at IS NULL AND p.purged_at IS NULL AND p.purge_after <= $1`;
const UNHELD = `NOT EXISTS (SELECT 1 FROM audit_legal_holds h WHERE h.released_at IS NULL AND ${HOLD_COVERS_PAYLOAD})`;

interface DueRow {
  sha256: string;
  class: string;
  purge_after: string;
}

async function heldPast(db: Queryable, now: string, limit: number): Promise<HeldPayload[]> {
  const r = await db.query<DueRow & { hold_ids: string[] }>(
    `SELECT p.sha256, p.class, p.purge_after, array_agg(h.id ORDER BY h.id) AS hold_ids
       FROM audit_payloads p JOIN audit_legal_holds h ON h.released_at IS NULL AND ${HOLD_COVERS_PAYLOAD}
      WHERE ${LIVE_DUE}
      GROUP BY p.sha256, p.class, p.purge_after
      ORDER BY p.purge_after, p.sha256 LIMIT $2`,
    [now, limit],
  );
  return r.rows.map((row) => ({ sha256: row.sha256, class: row.class, purgeAfter: row.purge_after, holdIds: row.hold_ids }));
}

async function purgeBatch(tx: Tx, options: PurgeOptions & { now: Date; size: number }): Promise<PurgedPayload[]> {
  const now = options.now.toISOString();
  // Shared: holds being placed wait for this batch; rows a store is extending right now are skipped.
  await tx.query('SELECT pg_advisory_xact_lock_shared($1)', [HOLD_LOCK_KEY]);
  const due = await tx.query<DueRow>(
    `SELECT p.sha256, p.class, p.purge_after FROM audit_payloads p
      WHERE ${LIVE_DUE} AND ${UNHELD}
      ORDER BY p.purge_after, p.sha256 LIMIT $2 FOR UPDATE OF p SKIP LOCKED`,
    [now, options.size],
  );
  const out: PurgedPayload[] = [];
  for (const row of due.rows) {
    const entry = await appendAuditEntry(tx, {
      actor: options.actor ?? SYSTEM_ACTOR,
      action: 'audit.payload.purge',
      resource: { type: 'audit_payload', id: row.sha256 },
      decision: { effect: 'allowed', policyIds: [`retention:${row.class}`] },
      outcome: 'succeeded',
      reason: `retention maximum of class ${row.class} passed at ${row.purge_after}`,
      payloadRefs: [{ name: 'purged', sha256: row.sha256 }],
      ...(options.requestId ? { requestId: options.requestId } : {}),
    });
    // Bytes before the row: a crash in between leaves a due row with its bytes already gone,
    // which the next run finishes (deleting an absent blob is a no-op). The other order could
    // leave bytes that no row admits to.
    await options.blobs.delete(row.sha256);
    await tx.query('UPDATE audit_payloads SET purged_at = $2, purge_entry_id = $3 WHERE sha256 = $1', [row.sha256, now, entry.id]);
    out.push({ sha256: row.sha256, class: row.class, purgeAfter: row.purge_after, entryId: entry.id });
  }
  return out;
}

/**
 * Purges the bytes of payloads past their maximum that no active hold covers: one
 * `audit.payload.purge` entry per payload, in the transaction of its batch. Rows and entries
 * stay. Safe to run concurrently (rows are locked, locked ones skipped) and to re-run after a
 * crash. A dry run only reports.
 */
export async function purgeExpiredPayloads(options: PurgeOptions): Promise<PurgeReport> {
  const now = options.now ?? systemClock.now();
  const nowIso = now.toISOString();
  const limit = options.limit ?? 1000;
  const batchSize = Math.max(1, Math.min(options.batchSize ?? 100, limit));
  const dryRun = options.dryRun ?? false;
  let purged: PurgedPayload[] = [];
  if (dryRun) {
    const r = await options.db.query<DueRow>(
      `SELECT p.sha256, p.class, p.purge_after FROM audit_payloads p WHERE ${LIVE_DUE} AND ${UNHELD}
        ORDER BY p.purge_after, p.sha256 LIMIT $2`,
      [nowIso, limit + 1],
    );
    purged = r.rows.map((row) => ({ sha256: row.sha256, class: row.class, purgeAfter: row.purge_after, entryId: null }));
    const more = purged.length > limit;
    return { dryRun, now: nowIso, purged: purged.slice(0, limit), held: await heldPast(options.db, nowIso, limit), more };
  }
  while (purged.length < limit) {
    const size = Math.min(batchSize, limit - purged.length);
    const batch = await options.db.transaction((tx) => purgeBatch(tx, { ...options, now, size }));
    purged = purged.concat(batch);
    if (batch.length < size) break;
  }
  const remaining = await options.db.query(`SELECT 1 FROM audit_payloads p WHERE ${LIVE_DUE} AND ${UNHELD} LIMIT 1`, [nowIso]);
  return { dryRun, now: nowIso, purged, held: await heldPast(options.db, nowIso, limit), more: remaining.rowCount > 0 };
}
