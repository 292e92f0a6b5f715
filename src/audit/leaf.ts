import { canonicalBytes } from '../core/index.js';
import type { AuditEntry } from './entry.js';

/** An `audit_entries` row as both drivers return it. */
export interface AuditRow {
  id: string;
  recorded_at: string;
  actor: AuditEntry['actor'];
  action: string;
  resource: AuditEntry['resource'];
  decision: AuditEntry['decision'];
  outcome: AuditEntry['outcome'];
  reason: string | null;
  request_id: string | null;
  payload_refs: AuditEntry['payloadRefs'];
}

/** The entry a row holds (absent optional fields stay absent, so canonical bytes are stable). */
export function entryFromRow(row: AuditRow): AuditEntry {
  return {
    id: row.id,
    recordedAt: row.recorded_at,
    actor: row.actor,
    action: row.action,
    resource: row.resource,
    decision: row.decision,
    outcome: row.outcome,
    ...(row.reason === null ? {} : { reason: row.reason }),
    ...(row.request_id === null ? {} : { requestId: row.request_id }),
    payloadRefs: row.payload_refs,
  };
}

/** A sequenced entry: the entry with its position in the log. */
export type LogLeaf = AuditEntry & { index: number };

/** The exact leaf bytes of the entry at `index`: RFC 8785 canonical JSON of the entry including its index. */
export function leafBytes(entry: AuditEntry, index: number): Uint8Array {
  const leaf: LogLeaf = { ...entry, index };
  return canonicalBytes(leaf);
}
