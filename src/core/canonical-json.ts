import canonicalize from 'canonicalize';
import { ValidationFailed, type FieldIssue } from './errors.js';

/**
 * RFC 8785 (JCS) canonical JSON: the only serialisation Assay hashes or signs.
 *
 * The `canonicalize` package implements the RFC's ordering and number/string rules, but it
 * is lenient in ways that would let two different inputs hash alike or let garbage be
 * signed: a top-level `undefined`/function/symbol yields `undefined` instead of text, a
 * function-valued property is emitted as the bare word `undefined` (invalid JSON), symbols
 * and `undefined` inside arrays silently become `null`, BigInt throws a bare `TypeError`,
 * and a `Map`/`Set`/class instance serialises as `{}`. So every value is first walked here
 * and rejected with `ValidationFailed` naming the offending path (dotted, root `(root)`,
 * the convention `config.ts` uses) unless it is plain JSON data.
 *
 * Accepted: `null`, booleans, finite numbers, strings without lone surrogates, arrays,
 * plain objects (prototype `Object.prototype` or `null`), and objects with a `toJSON`
 * method (e.g. `Date`), whose result is validated in turn. An object property whose value
 * is `undefined` is omitted, exactly as `JSON.stringify` and `canonicalize` do, so
 * `{ a: undefined }` and `{}` are the same document (optional fields stay ergonomic).
 */

/** Canonical RFC 8785 text of `value`; throws `ValidationFailed` when `value` is not plain JSON data. */
export function canonicalJson(value: unknown): string {
  const issues: FieldIssue[] = [];
  const plain = normalise(value, '(root)', { ancestors: new Set<object>(), issues });
  if (issues.length > 0) {
    throw new ValidationFailed('value cannot be canonicalised as JSON (RFC 8785)', issues);
  }
  // `plain` (not `value`) is serialised so `toJSON` runs once and what was checked is what is signed.
  const text = canonicalize(plain);
  // Unreachable after `normalise`, but the package's type admits it and a silent `undefined`
  // hashed as the empty string would be a correctness bug, so fail loudly instead.
  if (text === undefined) {
    throw new ValidationFailed('value cannot be canonicalised as JSON (RFC 8785)', [
      { field: '(root)', message: 'has no JSON representation' },
    ]);
  }
  return text;
}

/** UTF-8 bytes of the canonical RFC 8785 text of `value` — the exact bytes Assay hashes and signs. */
export function canonicalBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(canonicalJson(value));
}

function childPath(parent: string, key: string | number): string {
  return parent === '(root)' ? String(key) : `${parent}.${key}`;
}

/** True for a lone (unpaired) UTF-16 surrogate, which has no UTF-8 encoding (RFC 8785 §3.2.2.2). */
function hasLoneSurrogate(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0xd800 && code <= 0xdbff) {
      const next = i + 1 < text.length ? text.charCodeAt(i + 1) : -1;
      if (next < 0xdc00 || next > 0xdfff) return true;
      i++;
    } else if (code >= 0xdc00 && code <= 0xdfff) {
      return true;
    }
  }
  return false;
}

function hasToJson(value: object): value is { toJSON: (key?: string) => unknown } {
  return typeof (value as { toJSON?: unknown }).toJSON === 'function';
}

/** State of one walk: objects on the current path (cycle detection) and the problems found. */
interface Walk {
  ancestors: Set<object>;
  issues: FieldIssue[];
}

/**
 * A copy of `value` holding only JSON data (`toJSON` applied, `undefined` properties dropped),
 * recording in `issues` every reason `value` is not plain JSON data.
 */
function normalise(value: unknown, path: string, walk: Walk): unknown {
  const { ancestors, issues } = walk;
  switch (typeof value) {
    case 'string':
      if (hasLoneSurrogate(value)) issues.push({ field: path, message: 'contains a lone UTF-16 surrogate' });
      return value;
    case 'boolean':
      return value;
    case 'number':
      // RFC 8785 §3.2.2.3: NaN and ±Infinity have no JSON representation.
      if (!Number.isFinite(value)) issues.push({ field: path, message: `${String(value)} is not a finite number` });
      return value;
    case 'undefined':
      issues.push({ field: path, message: 'is undefined, which has no JSON representation' });
      return undefined;
    case 'bigint':
      issues.push({ field: path, message: 'is a BigInt; encode it as a string' });
      return undefined;
    case 'function':
      issues.push({ field: path, message: 'is a function, which has no JSON representation' });
      return undefined;
    case 'symbol':
      issues.push({ field: path, message: 'is a symbol, which has no JSON representation' });
      return undefined;
    case 'object':
      break;
  }
  if (value === null) return null;
  const obj = value as object;
  if (ancestors.has(obj)) {
    issues.push({ field: path, message: 'is a circular reference' });
    return undefined;
  }
  // Bytes must be encoded explicitly (base64/hex): Buffer.toJSON and typed-array
  // enumeration produce shapes nobody would sign on purpose.
  if (ArrayBuffer.isView(obj) || obj instanceof ArrayBuffer) {
    issues.push({ field: path, message: 'is binary data; encode it as a string (base64 or hex)' });
    return undefined;
  }
  ancestors.add(obj);
  try {
    if (hasToJson(obj)) return normalise(obj.toJSON(), path, walk);
    if (Array.isArray(obj)) {
      // Array holes and `undefined` elements would otherwise silently become `null`.
      const items: unknown[] = [];
      for (let i = 0; i < obj.length; i++) items.push(normalise(obj[i] as unknown, childPath(path, i), walk));
      return items;
    }
    const proto: unknown = Object.getPrototypeOf(obj);
    if (proto !== Object.prototype && proto !== null) {
      const name = (obj.constructor as { name?: unknown } | undefined)?.name;
      issues.push({
        field: path,
        message: `is a ${typeof name === 'string' && name ? name : 'non-plain object'}, not a plain object`,
      });
      return undefined;
    }
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(obj)) {
      if (hasLoneSurrogate(key)) issues.push({ field: childPath(path, key), message: 'name contains a lone UTF-16 surrogate' });
      // Omitted by the serialiser, like JSON.stringify; see the module comment.
      if (child === undefined) continue;
      // defineProperty, not assignment, so a key named `__proto__` stays an ordinary member.
      Object.defineProperty(out, key, {
        value: normalise(child, childPath(path, key), walk),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  } finally {
    ancestors.delete(obj);
  }
}

/**
 * The first key an object of `text` (JSON that JSON.parse accepted) names twice, or undefined.
 * JSON.parse keeps the last value and drops the others silently, so what is then hashed is not
 * what was sent (other parsers keep the first); RFC 8785 hashes I-JSON (RFC 7493), which has no
 * duplicate keys.
 */
export function duplicateJsonKey(text: string): string | undefined {
  // Per open object or array: the keys seen (an array has none); and whether a string now is a key.
  const open: Array<Set<string> | null> = [];
  let keyNext = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      const keys = open.at(-1);
      if (keys && keyNext) {
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        if (keys.has(key)) return key;
        keys.add(key);
      }
      keyNext = false;
      i = end;
    } else if (c === '{' || c === '[') {
      open.push(c === '{' ? new Set() : null);
      keyNext = c === '{';
    } else if (c === '}' || c === ']') {
      open.pop();
      keyNext = false;
    } else if (c === ',') keyNext = open.at(-1) instanceof Set;
  }
  return undefined;
}

/** Sign, significant digits and exponent of a JSON number token: `1.50e2` and `150` are both `15e1`. */
function decimalOf(token: string): string {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(token);
  if (!m) return token;
  const digits = (m[2]! + (m[3] ?? '')).replace(/^0+/, '');
  if (digits === '') return '0';
  const significant = digits.replace(/0+$/, '');
  return `${m[1]}${significant}e${Number(m[4] ?? 0) - (m[3]?.length ?? 0) + digits.length - significant.length}`;
}

const JSON_NUMBER = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/**
 * The first number of `text` (JSON that JSON.parse accepted) that no double holds as written, or
 * undefined: JSON.parse reads `12345678901234567891` as 12345678901234567000, so what is then
 * hashed and recorded is not what was sent. I-JSON (RFC 7493), which RFC 8785 hashes, has no
 * number of greater magnitude or precision than a double. The same number written otherwise
 * (`1.0`, `1.50e2`) is fine.
 */
export function impreciseJsonNumber(text: string): string | undefined {
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      i = end;
    } else if (c === '-' || (c >= '0' && c <= '9')) {
      JSON_NUMBER.lastIndex = i;
      const token = JSON_NUMBER.exec(text)?.[0] ?? c;
      const value = Number(token);
      // An integer is compared exactly (2^60 is a double, though printed 1152921504606847000); other
      // numbers with the double's shortest form, which JSON.stringify and RFC 8785 write.
      const exact = /^-?\d+$/.test(token) ? Number.isFinite(value) && BigInt(token) === BigInt(value) : Number.isFinite(value) && decimalOf(String(value)) === decimalOf(token);
      if (!exact) return token;
      i += token.length - 1;
    }
  }
  return undefined;
}
