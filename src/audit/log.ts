import { newId, ValidationFailed } from '../core/index.js';
import type { Queryable, Tx } from '../store/index.js';
import { auditEntryInputSchema, type AuditEntry, type AuditEntryInput } from './entry.js';
import { entryFromRow, type AuditRow } from './leaf.js';

/**
 * Records an audit entry inside the caller's transaction. If this throws, the caller's
 * transaction rolls back with it: no change without its evidence (fail closed).
 */
export async function appendAuditEntry(tx: Tx, input: AuditEntryInput): Promise<AuditEntry> {
  const parsed = auditEntryInputSchema.safeParse(input);
  if (!parsed.success) {
    throw new ValidationFailed(
      'invalid audit entry',
      parsed.error.issues.map((i) => ({ field: i.path.map(String).join('.'), message: i.message })),
    );
  }
  const e = parsed.data;
  const id = newId('aud');
  // One round trip: the entry and its place in the sequencing queue.
  const r = await tx.query<{ recorded_at: string }>(
    `WITH e AS (
       INSERT INTO audit_entries (id, actor, action, resource, decision, outcome, reason, request_id, payload_refs)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id, recorded_at
     ), q AS (INSERT INTO audit_pending (entry_id) SELECT id FROM e)
     SELECT recorded_at FROM e`,
    [
      id,
      JSON.stringify(e.actor),
      e.action,
      JSON.stringify(e.resource),
      JSON.stringify(e.decision),
      e.outcome,
      e.reason ?? null,
      e.requestId ?? null,
      JSON.stringify(e.payloadRefs),
    ],
  );
  return { ...e, id, recordedAt: r.rows[0]?.recorded_at ?? '' };
}

/** Filters for `listAuditEntries`; all optional, combined with AND. */
export interface AuditQuery {
  action?: string;
  resourceId?: string;
  principalId?: string;
  /** Inclusive lower bound on the server time the entry was recorded (ISO-8601). */
  from?: string;
  /** Exclusive upper bound (ISO-8601). */
  to?: string;
  /** Return entries after this entry id (the previous page's last id). */
  after?: string;
  /** @default 1000 */
  limit?: number;
}

/** A found entry with its place in the log (`index` null while not yet sequenced). */
export type IndexedAuditEntry = AuditEntry & { index: number | null };

/** Entries matching every given filter, in id (creation) order; page with `after`. */
export async function listAuditEntries(db: Queryable, q: AuditQuery = {}): Promise<IndexedAuditEntry[]> {
  const r = await db.query<AuditRow & { idx: number | null }>(
    `SELECT e.*, l.idx FROM audit_entries e LEFT JOIN audit_leaves l ON l.entry_id = e.id
      WHERE ($1::text IS NULL OR e.action = $1)
        AND ($2::text IS NULL OR e.resource->>'id' = $2)
        AND ($3::text IS NULL OR e.actor->>'principalId' = $3)
        AND ($4::timestamptz IS NULL OR e.recorded_at >= $4)
        AND ($5::timestamptz IS NULL OR e.recorded_at < $5)
        AND ($6::text IS NULL OR e.id > $6)
      ORDER BY e.id LIMIT $7`,
    [q.action ?? null, q.resourceId ?? null, q.principalId ?? null, q.from ?? null, q.to ?? null, q.after ?? null, q.limit ?? 1000],
  );
  return r.rows.map((row) => ({ ...entryFromRow(row), index: row.idx }));
}
