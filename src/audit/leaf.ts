import { canonicalJson } from '../core/index.js';
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
  return entryOf(row, row.recorded_at);
}

function entryOf(row: Omit<AuditRow, 'recorded_at'>, recordedAt: string): AuditEntry {
  return {
    id: row.id,
    recordedAt,
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

/** An `audit_entries` row whose recorded_at was read as PostgreSQL's text (`recorded_at::text`). */
export interface AuditTextRow extends Omit<AuditRow, 'recorded_at'> {
  recorded_at: string;
}

/** The columns of an `AuditTextRow` from the `audit_entries` row aliased `alias`. */
export function auditTextColumns(alias: string): string {
  const columns = ['id', 'recorded_at::text AS recorded_at', 'actor', 'action', 'resource', 'decision', 'outcome', 'reason', 'request_id', 'payload_refs'];
  return columns.map((c) => `${alias}.${c}`).join(', ');
}

const PG_UTC_TIMESTAMP = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?\+00$/;

/**
 * entryFromRow for a row read with `auditTextColumns`, or undefined when its recorded_at is
 * not in the form converted here, and must be read through the driver instead.
 *
 * The drivers turn a timestamptz into ISO-8601 through a Date (milliseconds, truncated), which
 * costs more than the rest of the row; for PostgreSQL's text form in a UTC session
 * (`2026-11-23 18:18:40.325123+00`, years 0001-9999) string surgery gives the same text. Any
 * other form (another session time zone, BC, year 10000 or later) yields undefined.
 */
export function entryFromTextRow(row: AuditTextRow): AuditEntry | undefined {
  const m = PG_UTC_TIMESTAMP.exec(row.recorded_at);
  if (!m) return undefined;
  return entryOf(row, `${m[1]}T${m[2]}.${`${m[3] ?? ''}000`.slice(0, 3)}Z`);
}

/** A sequenced entry: the entry with its position in the log. */
export type LogLeaf = AuditEntry & { index: number };

/** The exact leaf text of the entry at `index`: RFC 8785 canonical JSON of the entry including its index. */
export function leafText(entry: AuditEntry, index: number): string {
  const text = fastLeafText(entry as unknown as Record<string, unknown>, index);
  return text !== undefined && !ESCAPED_SURROGATE.test(text) ? text : canonicalJson({ ...entry, index });
}

/** The exact leaf bytes of the entry at `index`: the UTF-8 of `leafText`. */
export function leafBytes(entry: AuditEntry, index: number): Uint8Array {
  return Buffer.from(leafText(entry, index), 'utf8');
}

// The sequencer and the verifier canonicalise every entry, and core's canonicalJson, which
// first validates arbitrary JavaScript values, costs several times as much as serialising
// them. Entries are plain JSON data (parsed from the database), for which RFC 8785 is
// exactly: JSON.stringify for strings and numbers (§3.2.2), members sorted by UTF-16 code
// units (§3.2.3, Array.prototype.sort's default order), no whitespace. Anything else
// (undefined in an array, functions, class instances, toJSON, non-finite numbers, very deep
// nesting) yields undefined here and goes to canonicalJson, which serialises or rejects it.

/** Deeper than any entry; also stops a cyclic value before the stack does. */
const MAX_DEPTH = 32;

/**
 * Well-formed JSON.stringify escapes a lone surrogate as \udXXX, where RFC 8785 (and
 * canonicalJson) reject it. Nothing else produces that text (a literal backslash is escaped
 * to \\), so a match sends the value to canonicalJson; a false match only costs time.
 */
const ESCAPED_SURROGATE = /\\u[dD][89a-fA-F]/;

// Entries share a handful of key sets and member names: their sorted order and quoted form
// are computed once. Bounded, so odd data cannot grow them without limit.
const CACHE_LIMIT = 1024;
const quotedKeyCache = new Map<string, string>();

/** Sorted key orders by key set; the key set is matched by comparing arrays of (interned) names, not by building a string. */
interface KeyOrder {
  own: string[];
  extra: string | undefined;
  sorted: string[];
}
const keyOrders: KeyOrder[] = [];

function quoteString(text: string): string {
  return needsEscaping(text) ? JSON.stringify(text) : `"${text}"`;
}

/** Whether JSON.stringify would do more than quote `text`: a control character, quote, backslash or surrogate. */
function needsEscaping(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return true;
  }
  return false;
}

function quoteKey(key: string): string {
  let quoted = quotedKeyCache.get(key);
  if (quoted === undefined) {
    quoted = quoteString(key);
    if (quotedKeyCache.size < CACHE_LIMIT) quotedKeyCache.set(key, quoted);
  }
  return quoted;
}

/** The keys in RFC 8785 order; `extra` (the leaf's index) joins the object's own keys, replacing one of that name. */
function sortedKeys(record: object, extra?: string): string[] {
  const own = Object.keys(record);
  for (const order of keyOrders) {
    if (order.extra === extra && sameKeys(order.own, own)) return order.sorted;
  }
  const sorted = extra === undefined ? [...own] : [...own.filter((k) => k !== extra), extra];
  sorted.sort();
  // Few key sets recur; the most recent ones are searched first.
  keyOrders.unshift({ own, extra, sorted });
  if (keyOrders.length > KEY_ORDER_LIMIT) keyOrders.pop();
  return sorted;
}

/** Distinct key sets remembered; entries have a handful. */
const KEY_ORDER_LIMIT = 16;

function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function isPlainRecord(value: object): value is Record<string, unknown> {
  return Object.getPrototypeOf(value) === Object.prototype && !('toJSON' in value);
}

function fastLeafText(entry: Record<string, unknown>, index: number): string | undefined {
  if (!isPlainRecord(entry)) return undefined;
  let out = '{';
  for (const key of sortedKeys(entry, 'index')) {
    const member = key === 'index' ? index : entry[key];
    if (member === undefined) continue; // omitted, as canonicalJson and JSON.stringify do
    const text = jsonDataCanonical(member, 1);
    if (text === undefined) return undefined;
    out += `${out.length === 1 ? '' : ','}${quoteKey(key)}:${text}`;
  }
  return `${out}}`;
}

function jsonDataCanonical(value: unknown, depth: number): string | undefined {
  switch (typeof value) {
    case 'string':
      return quoteString(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : undefined;
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      break;
    default:
      return undefined;
  }
  if (value === null) return 'null';
  if (depth >= MAX_DEPTH) return undefined;
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      const item = jsonDataCanonical(value[i], depth + 1);
      if (item === undefined) return undefined;
      out += i === 0 ? item : `,${item}`;
    }
    return `${out}]`;
  }
  if (!isPlainRecord(value)) return undefined;
  let out = '{';
  for (const key of sortedKeys(value)) {
    const member = value[key];
    if (member === undefined) continue;
    const text = jsonDataCanonical(member, depth + 1);
    if (text === undefined) return undefined;
    out += `${out.length === 1 ? '' : ','}${quoteKey(key)}:${text}`;
  }
  return `${out}}`;
}
