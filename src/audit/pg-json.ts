// RFC 8785 canonical bytes straight from PostgreSQL's JSON output, without building JavaScript
// values or strings in between. Full verification canonicalises every entry of the log; parsing
// each entry's jsonb columns and serialising the objects, or even rewriting their text as
// strings, allocates several kilobytes per entry, and collecting that garbage then costs more
// than the rewriting. This writes UTF-8 straight into one reused buffer.
//
// PostgreSQL prints jsonb as `{"key": value, ...}` (members ordered by key length, then bytes)
// and `[value, ...]`, and json arrays of text (to_json(text[])) as `["a","b"]`. The scanner
// here accepts that subset of JSON exactly: strings, the three literals, numbers, objects and
// arrays, an optional single space after `,` and `:`, nothing else. What it writes for an
// input is always the UTF-8 of canonicalJson(JSON.parse(input)): it never guesses.
//
// - A string literal is copied as it is when the scanned text holds no backslash at all. JSON
//   forbids raw control characters in a literal, a literal cannot hold a bare `"`, and
//   scanText rejects lone surrogates, so nothing in it needs escaping: that is
//   JSON.stringify's form, which RFC 8785 §3.2.2.2 adopts. Otherwise a literal with a
//   backslash is decoded and re-encoded (JSON.parse, JSON.stringify).
// - A number is written as JSON.stringify(Number(token)), which is what JSON.parse then
//   canonicalJson make of it; a non-finite one is refused.
// - Members are sorted by the UTF-16 code units of their keys (§3.2.3); a duplicate key,
//   which JSON.parse would resolve by keeping the last, is refused.
// Anything else, and nesting deeper than MAX_DEPTH, fails the call (false): the caller then
// takes the slow path. The writer keeps its input, output and positions in module state;
// calls are synchronous, so they never interleave.

/** Deeper than any entry; also bounds the recursion. */
const MAX_DEPTH = 32;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const SPACE = 0x20;
const TAB = 0x09;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/**
 * C0 control characters but the tab, and UTF-16 surrogates (paired ones are fine). Built from
 * a string: a literal would have to spell the control characters, which lint rightly flags.
 */
const SUSPECT = new RegExp(`[${String.fromCharCode(0)}-${String.fromCharCode(8)}${String.fromCharCode(10)}-${String.fromCharCode(31)}\ud800-\udfff]`);
/** A lone UTF-16 surrogate (a paired one is a single code point under the u flag). */
const LONE_SURROGATE = /\p{Cs}/u;
/** A JSON number token, anchored where it is set to start. */
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const WORDS = ['true', 'false', 'null'] as const;

let src = '';
/** Whether `src` holds no backslash: then no literal in it has an escape. */
let plain = true;
let out = Buffer.alloc(64 * 1024);
/** Writing position in `out`. */
let length = 0;
/** Per open object, its members' [key start, key end, value start, value end) in `src`, in groups of four. */
let members = new Int32Array(256);
let membersTop = 0;

/**
 * Makes `text` the input of the calls that follow and empties the output. False when the
 * text holds a lone surrogate or a control character other than the tabs a caller may
 * separate JSON texts with (a JSON text has none: a tab in a range a call reads fails it).
 */
export function scanText(text: string): boolean {
  if (SUSPECT.test(text)) {
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c < SPACE && c !== TAB) return false;
    }
    if (LONE_SURROGATE.test(text)) return false;
  }
  src = text;
  plain = !text.includes('\\');
  length = 0;
  membersTop = 0;
  return true;
}

/**
 * canonicalJson(JSON.parse(text)) for a whole JSON text as PostgreSQL prints one, or undefined
 * when it is outside the subset handled here (see writeJsonAt). Resets the writer.
 */
export function canonicalFromPgJson(text: string): string | undefined {
  return scanText(text) && !text.includes('\t') && writeJsonAt(0, text.length) ? written().toString('utf8') : undefined;
}

/** Appends the UTF-8 of `text` (which holds no lone surrogate) to the output. */
function writeText(text: string): void {
  writeChars(text, 0, text.length);
}

/** Appends `bytes` (UTF-8 the caller encoded once, for text it writes again and again) to the output. */
export function writeBytes(bytes: Uint8Array): void {
  reserve(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[length++] = bytes[i] as number;
}

/** Appends one byte (an ASCII character) to the output. */
export function writeByte(byte: number): void {
  reserve(1);
  out[length++] = byte;
}

/**
 * Appends canonicalJson(JSON.parse(t)) for the JSON text t at [start, end) of the input, as
 * PostgreSQL prints one. False (with the output in an unspecified state) when t is outside
 * the subset handled here.
 */
export function writeJsonAt(start: number, end: number): boolean {
  return writeValue(start, 0) === end;
}

/** Appends the characters at [start, end) of the input as they are (the caller has checked them). */
export function writeRawAt(start: number, end: number): void {
  writeChars(src, start, end);
}

/** The UTF-16 code unit at `i` of the input. */
export function charAt(i: number): number {
  return src.charCodeAt(i);
}

/**
 * Appends the canonical literal of the JSON string literal at [start, end) of the input.
 * False when it is not exactly one string literal.
 */
export function writeStringAt(start: number, end: number): boolean {
  return src.charCodeAt(start) === QUOTE && writeString(start) === end;
}

/** The output so far: a view of the writer's buffer, valid until the next scanText. */
export function written(): Buffer {
  return out.subarray(0, length);
}

/**
 * The [start, end) of each member of the JSON array at [start, end) of the input, whose
 * members are string literals or nulls (as to_json(text[]) prints one), in `into`, which
 * must have room for 2·count: a null member is [-1, -1). False unless the array has exactly
 * `count` members of those kinds.
 */
export function stringMembersAt(range: { start: number; end: number; count: number }, into: Int32Array): boolean {
  let p = range.start;
  if (src.charCodeAt(p) !== OPEN_BRACKET) return false;
  p++;
  for (let n = 0; ; n++) {
    if (n === range.count) return false;
    if (src.charCodeAt(p) === QUOTE) {
      const close = closingQuote(p);
      if (close < 0) return false;
      into[2 * n] = p;
      into[2 * n + 1] = close + 1;
      p = close + 1;
    } else {
      if (!src.startsWith('null', p)) return false;
      into[2 * n] = -1;
      into[2 * n + 1] = -1;
      p += 4;
    }
    const c = src.charCodeAt(p);
    if (c === CLOSE_BRACKET) return n + 1 === range.count && p + 1 === range.end;
    if (c !== COMMA) return false;
    p = afterSeparator(p);
  }
}

function reserve(n: number): void {
  if (length + n <= out.length) return;
  const bigger = Buffer.alloc(Math.max(2 * out.length, length + n));
  out.copy(bigger, 0, 0, length);
  out = bigger;
}

/** Below this many characters a JavaScript loop copies faster than a call into Buffer.write. */
const NATIVE_COPY = 24;

/** Appends the UTF-8 of text[start, end), which holds no lone surrogate. */
function writeChars(text: string, start: number, end: number): void {
  reserve(3 * (end - start));
  if (end - start >= NATIVE_COPY) {
    length += out.write(start === 0 && end === text.length ? text : text.slice(start, end), length, 'utf8');
    return;
  }
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x80) {
      // Not ASCII: let Buffer encode the rest (scanText made sure surrogates come in pairs).
      length += out.write(text.slice(i, end), length, 'utf8');
      return;
    }
    out[length++] = c;
  }
}

/** Writes the canonical form of the value at `p`; returns where it ends in the input, or -1. */
function writeValue(p: number, depth: number): number {
  switch (src.charCodeAt(p)) {
    case QUOTE:
      return writeString(p);
    case OPEN_BRACE:
      return depth < MAX_DEPTH ? writeObject(p, depth) : -1;
    case OPEN_BRACKET:
      return depth < MAX_DEPTH ? writeArray(p, depth) : -1;
    default:
      return writeScalar(p);
  }
}

/** true, false, null or a number at `p`. */
function writeScalar(p: number): number {
  for (const word of WORDS) {
    if (src.startsWith(word, p)) {
      writeText(word);
      return p + word.length;
    }
  }
  NUMBER.lastIndex = p;
  const m = NUMBER.exec(src);
  if (!m) return -1;
  const n = Number(m[0]);
  if (!Number.isFinite(n)) return -1;
  writeText(JSON.stringify(n));
  return p + m[0].length;
}

/** Index of the `"` closing the literal opened at `p`, or -1. */
function closingQuote(p: number): number {
  let from = p + 1;
  for (;;) {
    const q = src.indexOf('"', from);
    if (q < 0 || plain) return q;
    let k = q - 1;
    while (src.charCodeAt(k) === BACKSLASH) k--;
    // An even run of backslashes before the quote escapes only itself.
    if ((q - 1 - k) % 2 === 0) return q;
    from = q + 1;
  }
}

/** Writes the canonical literal of the string literal at `p` (a `"`). */
function writeString(p: number): number {
  const close = closingQuote(p);
  if (close < 0) return -1;
  if (plain || src.lastIndexOf('\\', close) < p) {
    writeChars(src, p, close + 1);
    return close + 1;
  }
  const decoded = decodedLiteral(p, close + 1);
  if (decoded === undefined) return -1;
  writeText(JSON.stringify(decoded));
  return close + 1;
}

/** The string the literal at [start, end) denotes; undefined when it is malformed or holds a lone surrogate. */
function decodedLiteral(start: number, end: number): string | undefined {
  let decoded: unknown;
  try {
    decoded = JSON.parse(src.slice(start, end));
  } catch {
    return undefined;
  }
  return typeof decoded === 'string' && !LONE_SURROGATE.test(decoded) ? decoded : undefined;
}

/** Past a `,` or `:` at `p` and the single space that may follow it. */
function afterSeparator(p: number): number {
  return src.charCodeAt(p + 1) === SPACE ? p + 2 : p + 1;
}

function writeArray(p: number, depth: number): number {
  writeByte(OPEN_BRACKET);
  let q = p + 1;
  if (src.charCodeAt(q) !== CLOSE_BRACKET) {
    for (;;) {
      q = writeValue(q, depth + 1);
      if (q < 0) return -1;
      if (src.charCodeAt(q) === CLOSE_BRACKET) break;
      if (src.charCodeAt(q) !== COMMA) return -1;
      writeByte(COMMA);
      q = afterSeparator(q);
    }
  }
  writeByte(CLOSE_BRACKET);
  return q + 1;
}

/**
 * Where the value at `p` ends, without writing it: strings are skipped whole and brackets
 * matched, so this is linear; -1 when that fails. What is skipped is checked when written.
 */
function skipValue(p: number): number {
  const c = src.charCodeAt(p);
  if (c === QUOTE) {
    const close = closingQuote(p);
    return close < 0 ? -1 : close + 1;
  }
  if (c !== OPEN_BRACE && c !== OPEN_BRACKET) {
    let q = p;
    while (q < src.length && isScalarChar(src.charCodeAt(q))) q++;
    return q > p ? q : -1;
  }
  let open = 0;
  for (let q = p; q < src.length; q++) {
    const d = src.charCodeAt(q);
    if (d === QUOTE) {
      q = closingQuote(q);
      if (q < 0) return -1;
    } else if (d === OPEN_BRACE || d === OPEN_BRACKET) {
      open++;
    } else if ((d === CLOSE_BRACE || d === CLOSE_BRACKET) && --open === 0) {
      return q + 1;
    }
  }
  return -1;
}

/** A character of true, false, null or a number. */
function isScalarChar(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2b || c === 0x2e || c === 0x45;
}

function writeObject(p: number, depth: number): number {
  // First pass: find the members (key and value ranges) without writing anything.
  const base = membersTop;
  let q = p + 1;
  if (src.charCodeAt(q) !== CLOSE_BRACE) {
    for (;;) {
      if (src.charCodeAt(q) !== QUOTE) return fail(base);
      const keyEnd = closingQuote(q) + 1;
      if (keyEnd <= 0 || src.charCodeAt(keyEnd) !== COLON) return fail(base);
      const valueStart = afterSeparator(keyEnd);
      const valueEnd = skipValue(valueStart);
      if (valueEnd < 0) return fail(base);
      if (membersTop + 4 > members.length) {
        const bigger = new Int32Array(2 * members.length);
        bigger.set(members);
        members = bigger;
      }
      members[membersTop++] = q;
      members[membersTop++] = keyEnd;
      members[membersTop++] = valueStart;
      members[membersTop++] = valueEnd;
      q = valueEnd;
      if (src.charCodeAt(q) === CLOSE_BRACE) break;
      if (src.charCodeAt(q) !== COMMA) return fail(base);
      q = afterSeparator(q);
    }
  }
  const count = (membersTop - base) / 4;
  const ok = sortMembers(base, count) && writeMembers(base, count, depth);
  membersTop = base;
  return ok ? q + 1 : -1;
}

/** Drops the members an object pushed; -1. */
function fail(base: number): number {
  membersTop = base;
  return -1;
}

/**
 * Sorts the `count` members from `base` by key, RFC 8785 order (insertion sort: objects here
 * have a handful of members). False on a duplicate key.
 */
function sortMembers(base: number, count: number): boolean {
  for (let i = 1; i < count; i++) {
    const m = base + 4 * i;
    const keyStart = members[m] as number;
    const keyEnd = members[m + 1] as number;
    const valueStart = members[m + 2] as number;
    const valueEnd = members[m + 3] as number;
    let j = i;
    for (; j > 0; j--) {
      const order = compareKeys(base + 4 * (j - 1), keyStart, keyEnd);
      if (order === 0) return false; // JSON.parse would keep only the last
      if (order < 0) break;
      const from = base + 4 * (j - 1);
      members[from + 4] = members[from] as number;
      members[from + 5] = members[from + 1] as number;
      members[from + 6] = members[from + 2] as number;
      members[from + 7] = members[from + 3] as number;
    }
    const to = base + 4 * j;
    members[to] = keyStart;
    members[to + 1] = keyEnd;
    members[to + 2] = valueStart;
    members[to + 3] = valueEnd;
  }
  return true;
}

/** Compares the key of the member at `m` with the key literal at [b0, b1) by UTF-16 code units: <0, 0 or >0. */
function compareKeys(m: number, b0: number, b1: number): number {
  const a0 = members[m] as number;
  const a1 = members[m + 1] as number;
  if (!plain && (src.lastIndexOf('\\', a1) >= a0 || src.lastIndexOf('\\', b1) >= b0)) {
    // A key with escapes: compare what the literals denote (a malformed one fails later, when written).
    const a = decodedLiteral(a0, a1) ?? '';
    const b = decodedLiteral(b0, b1) ?? '';
    return a < b ? -1 : a > b ? 1 : 0;
  }
  // Between the quotes; a key that is a prefix of the other comes first.
  const n = Math.min(a1 - a0, b1 - b0) - 1;
  for (let i = 1; i < n; i++) {
    const d = src.charCodeAt(a0 + i) - src.charCodeAt(b0 + i);
    if (d !== 0) return d;
  }
  return a1 - a0 - (b1 - b0);
}

function writeMembers(base: number, count: number, depth: number): boolean {
  writeByte(OPEN_BRACE);
  for (let i = 0; i < count; i++) {
    const m = base + 4 * i;
    if (i > 0) writeByte(COMMA);
    if (!writeLiteral(members[m] as number, members[m + 1] as number)) return false;
    writeByte(COLON);
    const valueStart = members[m + 2] as number;
    const valueEnd = members[m + 3] as number;
    if (src.charCodeAt(valueStart) === QUOTE ? !writeLiteral(valueStart, valueEnd) : writeValue(valueStart, depth + 1) !== valueEnd) return false;
  }
  writeByte(CLOSE_BRACE);
  return true;
}

/** Writes the canonical form of the string literal the first pass found at [start, end). */
function writeLiteral(start: number, end: number): boolean {
  if (plain) {
    writeChars(src, start, end);
    return true;
  }
  return writeString(start) === end;
}
