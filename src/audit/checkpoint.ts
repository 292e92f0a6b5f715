import { AssayError, SignatureInvalid, ValidationFailed, sha256, verifyEd25519, type FieldIssue } from '../core/index.js';

/**
 * Transparency-log checkpoints as C2SP signed notes, byte-compatible with the Go reference
 * implementation (golang.org/x/mod/sumdb/note) and the specs:
 * - https://c2sp.org/signed-note — a note is a text ending in `\n`, a blank line, then one
 *   or more lines `— <key name> <base64(4-byte key id ‖ signature)>\n` (U+2014, U+0020).
 * - https://c2sp.org/tlog-checkpoint — the note text is `<origin>\n<tree size>\n<base64 root
 *   hash>\n` followed by optional, non-empty extension lines.
 *
 * Only Ed25519 (signature type 0x01) is supported: key id = SHA-256(name ‖ 0x0A ‖ 0x01 ‖
 * 32-byte public key)[:4], and the signature is over the note text's UTF-8 bytes (including
 * its final newline, excluding the separating blank line).
 *
 * Pure: no I/O. Malformed input is a ValidationFailed naming the offending line; a bad
 * signature from a known key, or no signature from a known key, is SignatureInvalid.
 */

/** Signature type identifier byte of Ed25519 note signatures (c2sp.org/signed-note). */
export const NOTE_ED25519_SIGNATURE_TYPE = 0x01;

/** Most signature lines `openNote` accepts (the Go reference rejects more than 100). */
export const MAX_NOTE_SIGNATURES = 100;

/** Em dash (U+2014) and a space: the start of every signature line. */
const SIGNATURE_PREFIX = '\u2014 ';
const KEY_ID_BYTES = 4;
const ED25519_PUBLIC_KEY_BYTES = 32;
const ED25519_SIGNATURE_BYTES = 64;
const ROOT_HASH_BYTES = 32;

const STD_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const KEY_ID_HEX = /^[0-9a-fA-F]{8}$/;
const TREE_SIZE = /^(?:0|[1-9][0-9]*)$/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/** Go's unicode.IsSpace is exactly the Unicode White_Space property. */
const UNICODE_SPACE = /\p{White_Space}/u;

/** A tree head: log origin, number of leaves, RFC 6962 root hash (32 bytes). */
export interface Checkpoint {
  origin: string;
  size: number;
  rootHash: Uint8Array;
}

/** A checkpoint read from text: `rootHash` is a Buffer, plus any extension lines (usually none). */
export interface ParsedCheckpoint extends Checkpoint {
  rootHash: Buffer;
  extensions: string[];
}

/** A checkpoint whose note verified, with the names of the known keys that signed it. */
export interface OpenedCheckpoint extends ParsedCheckpoint {
  verifiedBy: string[];
}

/** What `signNote` needs: a key name, the raw 32-byte Ed25519 public key, and a signing function. */
export interface NoteSigner {
  name: string;
  rawPublicKey: Uint8Array;
  /** Ed25519 signature (64 bytes) over exactly `bytes`. */
  sign(bytes: Uint8Array): Buffer;
}

/** A trusted key: its name, 4-byte key id and raw 32-byte Ed25519 public key (see `parseVerifierKey`). */
export interface NoteVerifier {
  name: string;
  keyId: Uint8Array;
  publicKey: Uint8Array;
}

/** An opened note: the verified text, names of known keys that signed it, and signature lines from unknown keys. */
export interface OpenedNote {
  text: string;
  verifiedBy: string[];
  /** Signature lines (without their newline) whose name+key id match no known key, deduplicated. */
  unverified: string[];
}

/** Options for `openCheckpoint`. */
export interface OpenCheckpointOptions {
  /** When set, the checkpoint's origin line must equal this. */
  origin?: string;
}

/** Offset of the first ASCII control character other than newline (forbidden in a signed note), or -1. */
function controlCharAt(text: string): number {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 && code !== 0x0a) return i;
  }
  return -1;
}

function invalid(message: string, field: string): ValidationFailed {
  return new ValidationFailed(`${field}: ${message}`, [{ field, message }]);
}

/** True when `name` is a valid note key name: non-empty, no Unicode spaces, no '+', no control characters. */
export function isValidKeyName(name: string): boolean {
  return (
    name !== '' &&
    !UNICODE_SPACE.test(name) &&
    !name.includes('+') &&
    controlCharAt(name) < 0 &&
    !LONE_SURROGATE.test(name)
  );
}

/** Strict standard base64 (RFC 4648 §4, padded); with `canonical`, unused trailing bits must be zero. */
function decodeBase64(text: string, canonical: boolean): Buffer | undefined {
  if (!STD_BASE64.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  if (canonical && bytes.toString('base64') !== text) return undefined;
  return bytes;
}

function requirePublicKey(rawPublicKey: Uint8Array, field: string): void {
  if (rawPublicKey.length !== ED25519_PUBLIC_KEY_BYTES) {
    throw invalid(`must be a raw ${ED25519_PUBLIC_KEY_BYTES}-byte Ed25519 public key, got ${rawPublicKey.length} bytes`, field);
  }
}

function requireKeyName(name: string, field: string): void {
  if (!isValidKeyName(name)) {
    throw invalid('must be non-empty, without Unicode spaces, "+" or control characters', field);
  }
}

/** Key id of an encoded key (type byte ‖ key bytes) under `name`: SHA-256(name ‖ "\n" ‖ encoded)[:4]. */
function keyIdOfEncoded(name: string, encoded: Uint8Array): Buffer {
  return sha256(Buffer.concat([Buffer.from(`${name}\n`, 'utf8'), encoded])).subarray(0, KEY_ID_BYTES);
}

/** 0x01 ‖ raw public key: the encoding hashed into the key id and carried in a verifier key. */
function encodeEd25519(rawPublicKey: Uint8Array): Buffer {
  return Buffer.concat([Buffer.of(NOTE_ED25519_SIGNATURE_TYPE), rawPublicKey]);
}

/** The 4-byte signed-note key id of an Ed25519 key: SHA-256(name ‖ 0x0A ‖ 0x01 ‖ rawPubKey)[:4]. */
export function noteKeyId(name: string, rawPubKey: Uint8Array): Buffer {
  requirePublicKey(rawPubKey, 'publicKey');
  return keyIdOfEncoded(name, encodeEd25519(rawPubKey));
}

/** The verifier key string `<name>+<8 lowercase hex key id>+<base64(0x01 ‖ pubkey)>`, as Go's note.NewEd25519VerifierKey. */
export function verifierKey(name: string, rawPubKey: Uint8Array): string {
  requireKeyName(name, 'name');
  requirePublicKey(rawPubKey, 'publicKey');
  const encoded = encodeEd25519(rawPubKey);
  return `${name}+${keyIdOfEncoded(name, encoded).toString('hex')}+${encoded.toString('base64')}`;
}

/** Parses a verifier key (as Go's note.NewVerifier), checking the key id matches name and key; ValidationFailed otherwise. */
export function parseVerifierKey(vkey: string): NoteVerifier {
  const first = vkey.indexOf('+');
  const second = first < 0 ? -1 : vkey.indexOf('+', first + 1);
  if (second < 0) throw invalid('must have the form <name>+<hex key id>+<base64 key>', 'vkey');
  const name = vkey.slice(0, first);
  const idHex = vkey.slice(first + 1, second);
  const keyText = vkey.slice(second + 1);
  requireKeyName(name, 'vkey.name');
  if (!KEY_ID_HEX.test(idHex)) throw invalid('must be 8 hexadecimal digits', 'vkey.keyId');
  const encoded = decodeBase64(keyText, true);
  if (encoded === undefined || encoded.length === 0) throw invalid('must be standard base64', 'vkey.key');
  if (encoded[0] !== NOTE_ED25519_SIGNATURE_TYPE) {
    throw invalid(`unsupported signature type 0x${(encoded[0] ?? 0).toString(16).padStart(2, '0')} (only 0x01, Ed25519)`, 'vkey.key');
  }
  if (encoded.length !== 1 + ED25519_PUBLIC_KEY_BYTES) {
    throw invalid(`Ed25519 key must be ${ED25519_PUBLIC_KEY_BYTES} bytes, got ${encoded.length - 1}`, 'vkey.key');
  }
  const keyId = keyIdOfEncoded(name, encoded);
  if (keyId.toString('hex') !== idHex.toLowerCase()) {
    throw invalid(`key id ${idHex} does not match the name and key (expected ${keyId.toString('hex')})`, 'vkey.keyId');
  }
  return { name, keyId, publicKey: Buffer.from(encoded.subarray(1)) };
}

/** The 1-based line number of character offset `at` in `text`. */
function lineOf(text: string, at: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < at; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

/** ValidationFailed unless `text` is well-formed Unicode without control characters other than newline. */
function requireNoteCharacters(text: string, field: string): void {
  const control = controlCharAt(text);
  if (control >= 0) {
    const code = text.charCodeAt(control).toString(16).padStart(4, '0').toUpperCase();
    throw invalid(`line ${lineOf(text, control)} contains control character U+${code}`, field);
  }
  const surrogate = LONE_SURROGATE.exec(text);
  if (surrogate) throw invalid(`line ${lineOf(text, surrogate.index)} is not valid UTF-8 (lone surrogate)`, field);
}

/** Signs `text` (which must end in "\n") with one Ed25519 key and returns the complete signed note. */
export function signNote(text: string, signer: NoteSigner): string {
  if (!text.endsWith('\n')) throw invalid('note text must end with a newline', 'text');
  requireNoteCharacters(text, 'text');
  requireKeyName(signer.name, 'signer.name');
  const keyId = noteKeyId(signer.name, signer.rawPublicKey);
  const bytes = Buffer.from(text, 'utf8');
  const sig = signer.sign(bytes);
  // Never publish a signature line whose key id names a key that did not make the signature.
  if (sig.length !== ED25519_SIGNATURE_BYTES || !verifyEd25519(signer.rawPublicKey, bytes, sig)) {
    throw new AssayError('internal', `signer ${signer.name} produced a signature its public key does not verify`);
  }
  return `${text}\n${SIGNATURE_PREFIX}${signer.name} ${Buffer.concat([keyId, sig]).toString('base64')}\n`;
}

/** Indexes trusted keys by `name+hexkeyid`; ValidationFailed for an inconsistent or ambiguous verifier. */
function indexVerifiers(verifiers: readonly NoteVerifier[]): Map<string, NoteVerifier> {
  const byId = new Map<string, NoteVerifier>();
  verifiers.forEach((v, i) => {
    const field = `verifiers.${i}`;
    requireKeyName(v.name, `${field}.name`);
    const keyId = noteKeyId(v.name, v.publicKey);
    if (!keyId.equals(v.keyId)) throw invalid(`key id does not match name ${v.name} and its public key`, `${field}.keyId`);
    const id = `${v.name}+${keyId.toString('hex')}`;
    const other = byId.get(id);
    if (other && !Buffer.from(other.publicKey).equals(v.publicKey)) throw invalid(`ambiguous key ${id}`, field);
    byId.set(id, v);
  });
  return byId;
}

/** Decodes note bytes as strict UTF-8 (a BOM is kept, so the text re-encodes to the same bytes). */
function decodeNote(note: string | Uint8Array): string {
  if (typeof note === 'string') return note;
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(note);
  } catch {
    throw invalid('is not valid UTF-8', 'note');
  }
}

interface SignatureLine {
  name: string;
  id: string;
  sig: Buffer;
}

function parseSignatureLine(line: string, field: string): SignatureLine {
  if (!line.startsWith(SIGNATURE_PREFIX)) throw invalid('must start with an em dash (U+2014) and a space', field);
  const rest = line.slice(SIGNATURE_PREFIX.length);
  const space = rest.indexOf(' ');
  const name = space < 0 ? rest : rest.slice(0, space);
  const encoded = space < 0 ? '' : rest.slice(space + 1);
  if (!isValidKeyName(name)) throw invalid('key name must be non-empty, without Unicode spaces or "+"', field);
  // Not canonical-only: the Go reference accepts non-zero padding bits from other signers.
  const raw = decodeBase64(encoded, false);
  if (raw === undefined || raw.length <= KEY_ID_BYTES) {
    throw invalid('signature must be standard base64 of a 4-byte key id and a signature', field);
  }
  return { name, id: `${name}+${raw.subarray(0, KEY_ID_BYTES).toString('hex')}`, sig: raw.subarray(KEY_ID_BYTES) };
}

/**
 * Parses a signed note and verifies every signature from a known key; unknown keys' lines are returned unverified.
 * ValidationFailed for a malformed note; SignatureInvalid if a known key's signature fails or none verifies.
 */
export function openNote(noteText: string | Uint8Array, verifiers: readonly NoteVerifier[]): OpenedNote {
  const msg = decodeNote(noteText);
  requireNoteCharacters(msg, 'note');
  const split = msg.lastIndexOf('\n\n');
  if (split < 0) throw invalid('no blank line separates the text from the signatures', 'note');
  const text = msg.slice(0, split + 1);
  const block = msg.slice(split + 2);
  if (block === '' || !block.endsWith('\n')) throw invalid('signature block must be non-empty lines each ending in a newline', 'note');
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_NOTE_SIGNATURES) {
    throw invalid(`has ${lines.length} signatures; at most ${MAX_NOTE_SIGNATURES} are accepted`, 'note');
  }
  const known = indexVerifiers(verifiers);
  const textBytes = Buffer.from(text, 'utf8');
  const verifiedBy: string[] = [];
  const unverified: string[] = [];
  lines.forEach((line, i) => {
    const { name, id, sig } = parseSignatureLine(line, `signature line ${i + 1}`);
    const verifier = known.get(id);
    if (verifier === undefined) {
      // The spec requires ignoring unknown keys, even ones sharing a name or an id with a known key.
      if (!unverified.includes(line)) unverified.push(line);
      return;
    }
    if (!verifyEd25519(verifier.publicKey, textBytes, sig)) {
      throw new SignatureInvalid(`invalid signature for key ${id} (signature line ${i + 1})`, id);
    }
    if (!verifiedBy.includes(name)) verifiedBy.push(name);
  });
  if (verifiedBy.length === 0) {
    throw new SignatureInvalid(
      `note has no verifiable signatures: none of its ${lines.length} signature(s) is from a known key`,
    );
  }
  return { text, verifiedBy, unverified };
}

/** The checkpoint note text: origin, decimal tree size and base64 root hash, one per line, each ending in "\n". */
export function formatCheckpointBody(checkpoint: Checkpoint): string {
  const { origin, size, rootHash } = checkpoint;
  const errors: FieldIssue[] = [];
  // The spec only requires a non-empty origin, but recommends what a key name allows; we emit only that.
  if (!isValidKeyName(origin)) {
    errors.push({ field: 'origin', message: 'must be non-empty, without Unicode spaces, "+" or control characters' });
  }
  if (!Number.isSafeInteger(size) || size < 0) {
    errors.push({ field: 'size', message: 'must be a non-negative safe integer' });
  }
  if (rootHash.length !== ROOT_HASH_BYTES) {
    errors.push({ field: 'rootHash', message: `must be ${ROOT_HASH_BYTES} bytes, got ${rootHash.length}` });
  }
  if (errors.length > 0) {
    throw new ValidationFailed('invalid checkpoint: ' + errors.map((e) => `${e.field} ${e.message}`).join('; '), errors);
  }
  return `${origin}\n${size}\n${Buffer.from(rootHash).toString('base64')}\n`;
}

function checkOrigin(origin: string): string | undefined {
  if (origin === '') return 'origin must be non-empty';
  if (controlCharAt(origin) >= 0) return 'origin must not contain control characters';
  if (LONE_SURROGATE.test(origin)) return 'origin is not valid UTF-8';
  return undefined;
}

function checkSize(text: string): string | undefined {
  if (!TREE_SIZE.test(text)) return 'tree size must be ASCII decimal digits without leading zeros';
  if (!Number.isSafeInteger(Number(text))) return `tree size must be at most ${Number.MAX_SAFE_INTEGER}`;
  return undefined;
}

/** Parses checkpoint note text strictly; ValidationFailed naming each bad line (`line 1` origin, `line 2` size, `line 3` root hash). */
export function parseCheckpointBody(text: string): ParsedCheckpoint {
  const errors: FieldIssue[] = [];
  const terminated = text.endsWith('\n');
  const lines = (terminated ? text.slice(0, -1) : text).split('\n');
  if (!terminated) errors.push({ field: `line ${lines.length}`, message: 'checkpoint must end with a newline' });
  const [origin = '', sizeText = '', rootText = '', ...extensions] = lines;
  if (lines.length < 3) {
    const missing = ['origin', 'tree size', 'root hash'].slice(lines.length);
    errors.push({ field: `line ${lines.length + 1}`, message: `missing line(s): ${missing.join(', ')}` });
  }
  const originIssue = lines.length >= 1 ? checkOrigin(origin) : undefined;
  if (originIssue) errors.push({ field: 'line 1', message: originIssue });
  const sizeIssue = lines.length >= 2 ? checkSize(sizeText) : undefined;
  if (sizeIssue) errors.push({ field: 'line 2', message: sizeIssue });
  const rootHash = decodeBase64(rootText, true);
  if (lines.length >= 3 && rootHash?.length !== ROOT_HASH_BYTES) {
    errors.push({ field: 'line 3', message: `root hash must be canonical standard base64 of ${ROOT_HASH_BYTES} bytes` });
  }
  extensions.forEach((ext, i) => {
    if (ext === '') errors.push({ field: `line ${i + 4}`, message: 'extension lines must be non-empty' });
  });
  if (errors.length > 0 || rootHash === undefined) {
    throw new ValidationFailed('invalid checkpoint: ' + errors.map((e) => `${e.field}: ${e.message}`).join('; '), errors);
  }
  return { origin, size: Number(sizeText), rootHash, extensions };
}

/** Formats and signs a checkpoint: the complete signed note. */
export function signCheckpoint(checkpoint: Checkpoint, signer: NoteSigner): string {
  return signNote(formatCheckpointBody(checkpoint), signer);
}

/** Verifies a checkpoint note against trusted key(s), then parses its body strictly (see `openNote`, `parseCheckpointBody`). */
export function openCheckpoint(
  note: string | Uint8Array,
  verifier: NoteVerifier | readonly NoteVerifier[],
  opts: OpenCheckpointOptions = {},
): OpenedCheckpoint {
  const opened = openNote(note, Array.isArray(verifier) ? verifier : [verifier as NoteVerifier]);
  const checkpoint = parseCheckpointBody(opened.text);
  if (opts.origin !== undefined && checkpoint.origin !== opts.origin) {
    throw invalid(`origin ${JSON.stringify(checkpoint.origin)} is not the expected ${JSON.stringify(opts.origin)}`, 'line 1');
  }
  return { ...checkpoint, verifiedBy: opened.verifiedBy };
}
