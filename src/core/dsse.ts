import { z } from 'zod';
import { canonicalBytes, canonicalJson } from './canonical-json.js';
import { SignatureInvalid, ValidationFailed, type FieldIssue } from './errors.js';
import { verifyEd25519 } from './keyring.js';

/**
 * DSSE v1 envelopes (https://github.com/secure-systems-lab/dsse, protocol.md) carrying
 * in-toto Statement v1 (https://github.com/in-toto/attestation, spec/v1/statement.md).
 *
 * Assay signs the PAE of the statement's RFC 8785 canonical JSON bytes with Ed25519. On
 * verification the signature is checked over the payload bytes exactly as received, before
 * the payload is parsed: untrusted JSON is never interpreted until a known key vouched for it.
 */

/** DSSE payloadType of an in-toto statement. */
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

/** `_type` of an in-toto Statement v1. */
export const IN_TOTO_STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';

/** One attested artifact: a name and its SHA-256 (64 lowercase hex). */
export interface InTotoSubject {
  name: string;
  digest: { sha256: string };
}

/** An in-toto Statement v1 whose predicate is `P`. */
export interface InTotoStatement<P = unknown> {
  _type: typeof IN_TOTO_STATEMENT_TYPE;
  subject: InTotoSubject[];
  predicateType: string;
  predicate: P;
}

/** One DSSE signature: the signing key's id and the standard-base64 signature. */
export interface DsseSignature {
  keyid: string;
  sig: string;
}

/** A DSSE v1 envelope; `payload` is standard base64 of the signed bytes. */
export interface DsseEnvelope {
  payloadType: string;
  payload: string;
  signatures: DsseSignature[];
}

/** What `signStatement` needs from a key: the keyring's `active()` satisfies it. */
export interface DsseSigner {
  keyid: string;
  sign(bytes: Uint8Array): Buffer;
}

/** Maps a key id to its raw 32-byte Ed25519 public key, or undefined when the key is not trusted. */
export type PublicKeyResolver = (keyid: string) => Uint8Array | undefined;

/**
 * DSSE pre-authentication encoding: `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`,
 * LEN being the ASCII decimal byte count; a string `payload` is taken as its UTF-8 bytes.
 */
export function pae(payloadType: string, payload: Uint8Array | string): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : Buffer.from(payload);
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${type.length} `, 'ascii'),
    type,
    Buffer.from(` ${body.length} `, 'ascii'),
    body,
  ]);
}

const SHA256_HEX = /^[0-9a-f]{64}$/;
const STD_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const URL_BASE64 = /^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2}(?:==)?|[A-Za-z0-9_-]{3}=?)?$/;

/**
 * Strict base64 decode. DSSE allows standard or URL-safe encodings, so both are accepted,
 * but only in their canonical form (no stray padding bits), so one byte string has one text.
 */
function decodeBase64(text: string): Buffer | undefined {
  if (STD_BASE64.test(text)) {
    const bytes = Buffer.from(text, 'base64');
    return bytes.toString('base64') === text ? bytes : undefined;
  }
  if (URL_BASE64.test(text)) {
    const bytes = Buffer.from(text, 'base64url');
    return bytes.toString('base64url') === text.replace(/=+$/, '') ? bytes : undefined;
  }
  return undefined;
}

const base64String = z.string().refine((s) => decodeBase64(s) !== undefined, 'must be base64');

const envelopeSchema = z.object({
  payloadType: z.string().min(1),
  payload: base64String,
  signatures: z
    .array(
      z.object({
        // DSSE makes keyid optional; a signature without one simply cannot be attributed.
        keyid: z.string().optional(),
        sig: base64String.refine((s) => s.length > 0, 'must not be empty'),
      }),
    )
    .min(1, 'must contain at least one signature'),
});

const subjectSchema = (digest: z.ZodType) =>
  z.array(z.strictObject({ name: z.string().min(1), digest })).min(1, 'must list at least one subject');

const sha256Digest = z.string().regex(SHA256_HEX, 'must be a SHA-256 digest: 64 lowercase hexadecimal characters');

/** What Assay signs: exactly the fields of a Statement v1, sha256 digests only. */
const ownStatementSchema = z.strictObject({
  _type: z.literal(IN_TOTO_STATEMENT_TYPE),
  subject: subjectSchema(z.strictObject({ sha256: sha256Digest })),
  predicateType: z.string().min(1),
  predicate: z.record(z.string(), z.unknown()),
});

/**
 * What Assay accepts from a verified envelope: sha256 is required, but other digest
 * algorithms and fields are tolerated (in-toto allows them and they were signed too).
 */
const receivedStatementSchema = z.looseObject({
  _type: z.literal(IN_TOTO_STATEMENT_TYPE),
  subject: subjectSchema(z.looseObject({ sha256: sha256Digest })),
  predicateType: z.string().min(1),
  predicate: z.record(z.string(), z.unknown()),
});

function issuesOf(error: z.ZodError, prefix: string): FieldIssue[] {
  return error.issues.map((issue) => {
    const path = issue.path.map(String).join('.');
    return { field: prefix && path ? `${prefix}.${path}` : prefix || path || '(root)', message: issue.message };
  });
}

function validateOwnStatement(statement: unknown, message: string): void {
  const parsed = ownStatementSchema.safeParse(statement);
  if (!parsed.success) throw new ValidationFailed(message, issuesOf(parsed.error, ''));
  // Fails now, naming the field, if the predicate holds anything canonical JSON cannot carry.
  canonicalJson(statement);
}

/** A validated in-toto Statement v1; ValidationFailed names any bad field (e.g. a digest that is not 64 hex). */
export function makeStatement<P extends object>(input: {
  subject: InTotoSubject[];
  predicateType: string;
  predicate: P;
}): InTotoStatement<P> {
  const statement: InTotoStatement<P> = {
    _type: IN_TOTO_STATEMENT_TYPE,
    subject: input.subject.map((s) => ({ name: s.name, digest: { ...s.digest } })),
    predicateType: input.predicateType,
    predicate: input.predicate,
  };
  validateOwnStatement(statement, 'invalid in-toto statement');
  return statement;
}

/** A DSSE envelope whose payload is the canonical JSON bytes of `statement`, signed by `signer`. */
export function signStatement<P>(statement: InTotoStatement<P>, signer: DsseSigner): DsseEnvelope {
  validateOwnStatement(statement, 'refusing to sign an invalid in-toto statement');
  const payload = canonicalBytes(statement);
  const sig = signer.sign(pae(IN_TOTO_PAYLOAD_TYPE, payload));
  return {
    payloadType: IN_TOTO_PAYLOAD_TYPE,
    payload: Buffer.from(payload).toString('base64'),
    signatures: [{ keyid: signer.keyid, sig: sig.toString('base64') }],
  };
}

/**
 * The statement inside `envelope`, returned only if at least one signature verifies under a
 * key `resolveKey` knows. Throws ValidationFailed (naming the field) for a malformed
 * envelope, wrong payloadType or unparseable statement, and SignatureInvalid
 * (`integrity_violation`) when no signature from a known key verifies.
 */
export function verifyEnvelope(envelope: unknown, resolveKey: PublicKeyResolver): InTotoStatement<unknown> {
  const parsed = envelopeSchema.safeParse(envelope);
  if (!parsed.success) throw new ValidationFailed('malformed DSSE envelope', issuesOf(parsed.error, ''));
  const env = parsed.data;
  if (env.payloadType !== IN_TOTO_PAYLOAD_TYPE) {
    throw new ValidationFailed('unsupported DSSE payloadType', [
      { field: 'payloadType', message: `must be ${IN_TOTO_PAYLOAD_TYPE}, got ${JSON.stringify(env.payloadType)}` },
    ]);
  }
  // Both decodes succeed: the schema already proved these strings are canonical base64.
  const payload = decodeBase64(env.payload) ?? Buffer.alloc(0);
  const signed = pae(env.payloadType, payload);

  let verified = false;
  const rejected: string[] = [];
  const unknown: string[] = [];
  for (const { keyid, sig } of env.signatures) {
    const key = keyid === undefined ? undefined : resolveKey(keyid);
    if (keyid === undefined || key === undefined) {
      unknown.push(keyid ?? '(none)');
      continue;
    }
    if (verifyEd25519(key, signed, decodeBase64(sig) ?? Buffer.alloc(0))) {
      verified = true;
      break;
    }
    rejected.push(keyid);
  }
  if (!verified) {
    if (rejected.length > 0) {
      throw new SignatureInvalid(`DSSE signature by key ${rejected.join(', ')} does not verify`, rejected[0]);
    }
    throw new SignatureInvalid(`DSSE envelope has no signature from a known key (keyids: ${unknown.join(', ')})`, unknown[0]);
  }

  // Only now, with the bytes authenticated, is the payload interpreted.
  let statement: unknown;
  try {
    statement = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
  } catch (err) {
    throw new ValidationFailed('DSSE payload is not a JSON document', [
      { field: 'payload', message: `is not UTF-8 JSON: ${(err as Error).message}` },
    ]);
  }
  const checked = receivedStatementSchema.safeParse(statement);
  if (!checked.success) {
    throw new ValidationFailed('DSSE payload is not an in-toto Statement v1', issuesOf(checked.error, 'payload'));
  }
  // The parsed JSON itself, not zod's copy, so nothing signed is dropped or reshaped.
  return statement as InTotoStatement<unknown>;
}
