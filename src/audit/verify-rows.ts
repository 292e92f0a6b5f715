// The leaves as full verification streams them: one line of text per leaf, which the
// database writes and this module turns into the leaf text the leaf's entry row produces.
//
// Reading an entry through the driver (ten columns, four of them jsonb parsed into objects)
// and canonicalising the objects costs several times what the database takes to produce the
// row. So the database prints the row as one tab-separated text column, in forms pg-json.ts
// rewrites straight into RFC 8785 bytes, and hashes the stored leaf bytes itself. Nothing
// here allocates per leaf but the hash: at a million leaves, garbage is what costs most.

import { charAt, scanText, stringMembersAt, writeByte, writeBytes, writeJsonAt, writeRawAt, writeStringAt, written } from './pg-json.js';
import { HEX_HASH_LENGTH, sha256Hex } from './verify-tree.js';

/**
 * SQL for one streamed line per leaf, from `audit_leaves` aliased `l` LEFT JOINed with
 * `audit_entries` aliased `e`, in fields separated by tabs: the index, the leaf hash (hex),
 * 1 when SHA-256(0x00 ‖ stored leaf bytes) is that hash (else 0), then the entry's
 * recorded_at (text), actor, resource, decision and payload_refs (jsonb text), and a JSON
 * array of its id, action, outcome, reason and request_id. No field holds a tab: JSON text
 * escapes it. concat_ws skips NULLs, so the line of a leaf whose entry row is gone has fewer
 * fields and is never mistaken for a complete one.
 */
export const STREAMED_LEAF_SQL = `concat_ws(E'\\t', l.idx, encode(l.leaf_hash, 'hex'), (sha256('\\x00'::bytea || l.leaf) = l.leaf_hash)::int,
  e.recorded_at::text, e.actor::text, e.resource::text, e.decision::text, e.payload_refs::text,
  to_json(ARRAY[e.id, e.action, e.outcome, e.reason, e.request_id])::text)`;

const FIELDS = 9;
const INDEX = 0;
const HASH = 1;
const LEAF_OK = 2;
const RECORDED_AT = 3;
const ACTOR = 4;
const RESOURCE = 5;
const DECISION = 6;
const PAYLOAD_REFS = 7;
const TEXTS = 8;
/** The members of the TEXTS array, in order. */
const TEXT_COLUMNS = 5;
const ID = 0;
const ACTION = 1;
const OUTCOME = 2;
const REASON = 3;
const REQUEST_ID = 4;

const TAB = 0x09;
const DIGIT_0 = 0x30;
const DIGIT_1 = 0x31;

/** The member names of a leaf with the punctuation before them, as UTF-8: written for every leaf. */
const NAME = {
  action: Buffer.from('{"action":'),
  actor: Buffer.from(',"actor":'),
  decision: Buffer.from(',"decision":'),
  id: Buffer.from(',"id":'),
  index: Buffer.from(',"index":'),
  outcome: Buffer.from(',"outcome":'),
  payloadRefs: Buffer.from(',"payloadRefs":'),
  reason: Buffer.from(',"reason":'),
  recordedAt: Buffer.from(',"recordedAt":"'),
  requestId: Buffer.from(',"requestId":'),
  resource: Buffer.from(',"resource":'),
};

/** Where each field of the line being read starts; then the line's length + 1. */
const starts = new Int32Array(FIELDS + 1);
/** [start, end) of each member of the TEXTS array of the line being read; [-1, -1) for a null. */
const texts = new Int32Array(2 * TEXT_COLUMNS);

/** The index a streamed line starts with; the database always writes one. */
export function lineIndex(line: string): number {
  let idx = 0;
  let i = 0;
  for (; i < line.length && i < 16; i++) {
    const d = line.charCodeAt(i) - DIGIT_0;
    if (d < 0 || d > 9) break;
    idx = idx * 10 + d;
  }
  if (i === 0 || !Number.isSafeInteger(idx) || (i < line.length && line.charCodeAt(i) !== TAB)) {
    throw new Error(`audit verification: unexpected leaf line ${JSON.stringify(line.slice(0, 40))}`);
  }
  return idx;
}

/** Fills `starts` for `line`; false when it does not have exactly FIELDS fields. */
function splitFields(line: string): boolean {
  let n = 1;
  starts[0] = 0;
  for (let at = line.indexOf('\t'); at >= 0; at = line.indexOf('\t', at + 1)) {
    if (n === FIELDS) return false;
    starts[n++] = at + 1;
  }
  starts[n] = line.length + 1;
  return n === FIELDS;
}

/** Where field `i` starts. */
function start(i: number): number {
  return starts[i] as number;
}

/** Where field `i` ends (its tab, or the end of the line). */
function end(i: number): number {
  return (starts[i + 1] as number) - 1;
}

/**
 * The stored leaf hash (hex) of a streamed line, when the database found that the stored
 * leaf bytes hash to it and the leaf text the line's entry row produces hashes to it too: then
 * the leaf bytes are exactly that text (the fast path). Undefined when any of this fails or
 * cannot be told here: the caller then reads the whole row and checks it the long way, which
 * names the problem. Only a leaf below `coveredSize` (the largest checkpoint's size) may take
 * the fast path: any other is forged, which the long way reports.
 */
export function verifiedLeafHash(line: string, coveredSize: number): string | undefined {
  if (lineIndex(line) >= coveredSize) return undefined;
  const common = COMMON_LINE.exec(line);
  if (common) {
    const hash = sha256Hex(commonLeafText(common, '\u0000'));
    return hash === common[HASH_GROUP] ? hash : undefined;
  }
  if (!splitFields(line)) return undefined;
  if (end(LEAF_OK) !== start(LEAF_OK) + 1 || line.charCodeAt(start(LEAF_OK)) !== DIGIT_1) return undefined;
  if (!writeLeaf(line)) return undefined;
  const hash = sha256Hex(written());
  // encode(…, 'hex') writes lower-case hex, as crypto does: equal strings are equal hashes.
  return end(HASH) - start(HASH) === HEX_HASH_LENGTH && line.startsWith(hash, start(HASH)) ? hash : undefined;
}

/**
 * The leaf text the entry of a streamed line produces at the line's index: exactly
 * leafText(entryFromRow(row), idx). Undefined when this module cannot tell: the entry row is
 * gone, its recorded_at is not in the text form of a UTC session, or a value is outside
 * pg-json's subset. `path` picks the way it is read (both must agree; tests hold them to it).
 */
export function streamedLeafText(line: string, path: 'any' | 'common' | 'general' = 'any'): string | undefined {
  lineIndex(line);
  const common = path === 'general' ? null : COMMON_LINE.exec(line);
  if (common || path === 'common') return common ? commonLeafText(common, '') : undefined;
  return splitFields(line) && writeLeaf(line) ? written().toString('utf8', 1) : undefined;
}

// Most entries have one shape: an actor without elevation, a resource, a decision with its
// policy ids, no payload references, and strings that need no escaping. For those one native
// regular expression reads the whole line and a template writes the leaf text: three times
// faster than the general way below, which the others take (and which handles any JSON).
//
// A string literal here holds no `"`, backslash, control character or lone surrogate, so it
// is its own canonical form (see pg-json.ts), and `", "` can only be a separator between
// literals. The members of each object are matched in PostgreSQL's order and written in RFC
// 8785's. The timestamp is read as entryFromTextRow (leaf.ts) reads it: a UTC session's text, milliseconds truncated.
const C0 = `${String.fromCharCode(0)}-${String.fromCharCode(0x1f)}`;
const STR = `"(?:[^"\\\\${C0}\ud800-\udfff]|[\ud800-\udbff][\udc00-\udfff])*"`;
const COMMON_LINE = new RegExp(
  [
    '^(0|[1-9][0-9]{0,15})', // 1 index
    '([0-9a-f]{64})', // 2 leaf hash
    '1', // the stored bytes hash to it
    // 3 date, 4 time, 5-7 the milliseconds' digits
    '([0-9]{4}-[0-9]{2}-[0-9]{2}) ([0-9]{2}:[0-9]{2}:[0-9]{2})(?:\\.([0-9])([0-9])?([0-9])?[0-9]{0,3})?\\+00',
    `\\{"kind": (${STR}), "principalId": (${STR}), "authenticatedBy": (${STR})\\}`, // 8-10 actor
    `\\{"id": (${STR}), "type": (${STR})\\}`, // 11-12 resource
    `\\{"effect": (${STR}), "policyIds": \\[((?:${STR}(?:, ${STR})*)?)\\]\\}`, // 13-14 decision
    '\\[\\]', // payload_refs
    `\\[(${STR}),(${STR}),(${STR}),(${STR}|null),(${STR}|null)\\]$`, // 15-19 id, action, outcome, reason, request_id
  ].join('\t'),
);
const HASH_GROUP = 2;

/** The leaf text of a line COMMON_LINE matched, after `prefix` (0x00 for the leaf hash: one string, one copy). */
function commonLeafText(m: RegExpExecArray, prefix: string): string {
  const [, index, , date, time, ms1, ms2, ms3, kind, principalId, authenticatedBy, resourceId, resourceType, effect, policyIds, id, action, outcome, reason, requestId] = m;
  return (
    `${prefix}{"action":${action},"actor":{"authenticatedBy":${authenticatedBy},"kind":${kind},"principalId":${principalId}}` +
    `,"decision":{"effect":${effect},"policyIds":[${(policyIds as string).replaceAll('", "', '","')}]},"id":${id},"index":${index}` +
    `,"outcome":${outcome},"payloadRefs":[]${reason === 'null' ? '' : `,"reason":${reason}`}` +
    `,"recordedAt":"${date}T${time}.${ms1 ?? '0'}${ms2 ?? '0'}${ms3 ?? '0'}Z"${requestId === 'null' ? '' : `,"requestId":${requestId}`}` +
    `,"resource":{"id":${resourceId},"type":${resourceType}}}`
  );
}

/** Writes 0x00 ‖ the leaf text of the line's entry into pg-json's output; false when it cannot tell. */
function writeLeaf(line: string): boolean {
  if (!scanText(line)) return false;
  if (!stringMembersAt({ start: start(TEXTS), end: end(TEXTS), count: TEXT_COLUMNS }, texts)) return false;
  // NOT NULL columns: a null means the row is not what it should be.
  if ((texts[2 * ID] as number) < 0 || (texts[2 * ACTION] as number) < 0 || (texts[2 * OUTCOME] as number) < 0) return false;
  // entryFromRow's entry plus the index, members in RFC 8785 order (UTF-16 code units of the
  // names); reason and requestId are absent when their columns are NULL, as there.
  writeByte(0x00);
  writeBytes(NAME.action);
  if (!writeColumn(ACTION)) return false;
  writeBytes(NAME.actor);
  if (!writeJsonAt(start(ACTOR), end(ACTOR))) return false;
  writeBytes(NAME.decision);
  if (!writeJsonAt(start(DECISION), end(DECISION))) return false;
  writeBytes(NAME.id);
  if (!writeColumn(ID)) return false;
  // The index as PostgreSQL prints a bigint, which lineIndex read: decimal digits, as JSON has it.
  writeBytes(NAME.index);
  writeRawAt(start(INDEX), end(INDEX));
  writeBytes(NAME.outcome);
  if (!writeColumn(OUTCOME)) return false;
  writeBytes(NAME.payloadRefs);
  if (!writeJsonAt(start(PAYLOAD_REFS), end(PAYLOAD_REFS))) return false;
  if ((texts[2 * REASON] as number) >= 0) {
    writeBytes(NAME.reason);
    if (!writeColumn(REASON)) return false;
  }
  writeBytes(NAME.recordedAt);
  if (!writeRecordedAt(start(RECORDED_AT), end(RECORDED_AT))) return false;
  writeByte(0x22);
  if ((texts[2 * REQUEST_ID] as number) >= 0) {
    writeBytes(NAME.requestId);
    if (!writeColumn(REQUEST_ID)) return false;
  }
  writeBytes(NAME.resource);
  if (!writeJsonAt(start(RESOURCE), end(RESOURCE))) return false;
  writeByte(0x7d);
  return true;
}

/** Writes text column `i` (a string literal). */
function writeColumn(i: number): boolean {
  return writeStringAt(texts[2 * i] as number, texts[2 * i + 1] as number);
}

/** `2026-11-23 18:18:40.325123+00` with its separators as they must be: d for a digit. */
const PG_TIMESTAMP = 'dddd-dd-dd dd:dd:dd';

/**
 * Writes the recordedAt entryFromTextRow (leaf.ts) makes of the recorded_at text at [s, e): PostgreSQL's text of
 * a timestamptz in a UTC session, `YYYY-MM-DD HH:MM:SS[.f…]+00` with 1 to 6 fractional digits,
 * as ISO-8601 in milliseconds (truncated), `YYYY-MM-DDTHH:MM:SS.mmmZ`. False for any other form.
 */
function writeRecordedAt(s: number, e: number): boolean {
  const fraction = e - s - PG_TIMESTAMP.length - 3; // '.' and digits, before '+00'
  if (fraction < 0 || fraction === 1 || fraction > 7) return false;
  for (let i = 0; i < PG_TIMESTAMP.length; i++) {
    const c = charAt(s + i);
    if (PG_TIMESTAMP.charCodeAt(i) === 0x64 ? c < DIGIT_0 || c > DIGIT_0 + 9 : c !== PG_TIMESTAMP.charCodeAt(i)) return false;
  }
  const f = s + PG_TIMESTAMP.length;
  if (fraction > 0 && charAt(f) !== 0x2e) return false;
  for (let i = 1; i < fraction; i++) {
    const c = charAt(f + i);
    if (c < DIGIT_0 || c > DIGIT_0 + 9) return false;
  }
  if (charAt(e - 3) !== 0x2b || charAt(e - 2) !== DIGIT_0 || charAt(e - 1) !== DIGIT_0) return false;
  writeRawAt(s, s + 10);
  writeByte(0x54); // T
  writeRawAt(s + 11, s + 19);
  writeByte(0x2e);
  for (let i = 1; i <= 3; i++) writeByte(i < fraction ? charAt(f + i) : DIGIT_0);
  writeByte(0x5a); // Z
  return true;
}
