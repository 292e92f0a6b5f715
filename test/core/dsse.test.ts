import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/core/canonical-json.js';
import {
  IN_TOTO_PAYLOAD_TYPE,
  IN_TOTO_STATEMENT_TYPE,
  makeStatement,
  pae,
  signStatement,
  verifyEnvelope,
  type DsseEnvelope,
  type PublicKeyResolver,
} from '../../src/core/dsse.js';
import { SignatureInvalid, ValidationFailed } from '../../src/core/errors.js';
import { sha256Hex } from '../../src/core/hash.js';
import { openKeyring, type Keyring } from '../../src/core/keyring.js';

let base: string;
let ring: Keyring;
let resolve: PublicKeyResolver;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'assay-dsse-'));
  ring = await openKeyring(join(base, 'keys'), { create: true });
  await ring.generate();
  resolve = (keyid) => ring.publicKey(keyid);
});
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

const digest = sha256Hex('model weights');
function statement() {
  return makeStatement({
    subject: [{ name: 'model.safetensors', digest: { sha256: digest } }],
    predicateType: 'https://assay.dev/evaluation/v1',
    predicate: { metric: 'accuracy', value: 0.93, notes: ['€', 'ok'] },
  });
}

function rejectsWith<E extends Error>(type: new (...args: never[]) => E, fn: () => unknown): E {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(type);
    return err as E;
  }
  throw new Error(`expected ${type.name}, nothing was thrown`);
}

function fields(err: ValidationFailed): string[] {
  return err.errors.map((e) => e.field);
}

/** A copy of `env` whose decoded payload has one byte changed, re-encoded as valid base64. */
function withTamperedPayload(env: DsseEnvelope): DsseEnvelope {
  const bytes = Buffer.from(env.payload, 'base64');
  const i = bytes.indexOf('0.93');
  bytes[i + 3] = '4'.charCodeAt(0); // 0.93 → 0.94: still valid JSON, different claim
  return { ...env, payload: bytes.toString('base64') };
}

describe('DSSE PAE', () => {
  it('matches the DSSE spec example byte for byte', () => {
    const expected = 'DSSEv1 29 http://example.com/HelloWorld 11 hello world';
    expect(pae('http://example.com/HelloWorld', 'hello world').toString('latin1')).toBe(expected);
    expect(pae('http://example.com/HelloWorld', new TextEncoder().encode('hello world')).equals(Buffer.from(expected))).toBe(
      true,
    );
  });

  it('counts bytes, not characters, and handles an empty body', () => {
    // "€" is 3 UTF-8 bytes in both the type and the body.
    expect(pae('t€', '€').equals(Buffer.concat([Buffer.from('DSSEv1 4 t€ 3 €', 'utf8')]))).toBe(true);
    expect(pae('x', new Uint8Array(0)).toString()).toBe('DSSEv1 1 x 0 ');
  });
});

describe('in-toto statements in DSSE envelopes', () => {
  it('round-trips: the payload is the canonical statement and verifies to the same statement', () => {
    const s = statement();
    const env = signStatement(s, ring.active());
    expect(env.payloadType).toBe(IN_TOTO_PAYLOAD_TYPE);
    expect(Buffer.from(env.payload, 'base64').toString('utf8')).toBe(canonicalJson(s));
    expect(env.signatures).toEqual([{ keyid: ring.active().keyid, sig: expect.stringMatching(/^[A-Za-z0-9+/]{86}==$/) }]);
    // The signature is over the PAE, not the bare payload.
    const sig = Buffer.from(env.signatures[0]?.sig ?? '', 'base64');
    expect(ring.verify(ring.active().keyid, pae(IN_TOTO_PAYLOAD_TYPE, Buffer.from(env.payload, 'base64')), sig)).toBe(true);

    const verified = verifyEnvelope(JSON.parse(JSON.stringify(env)), resolve);
    expect(verified).toEqual(s);
    expect(verified._type).toBe(IN_TOTO_STATEMENT_TYPE);
  });

  it('rejects a payload with one byte changed', () => {
    const env = signStatement(statement(), ring.active());
    const err = rejectsWith(SignatureInvalid, () => verifyEnvelope(withTamperedPayload(env), resolve));
    expect(err.code).toBe('integrity_violation');
    expect(err.keyid).toBe(ring.active().keyid);
  });

  it('rejects a tampered signature', () => {
    const env = signStatement(statement(), ring.active());
    const sig = Buffer.from(env.signatures[0]?.sig ?? '', 'base64');
    sig[10] = (sig[10] ?? 0) ^ 0x01;
    const tampered = { ...env, signatures: [{ keyid: ring.active().keyid, sig: sig.toString('base64') }] };
    rejectsWith(SignatureInvalid, () => verifyEnvelope(tampered, resolve));
  });

  it('rejects a signature by an unknown key id, even when the signature itself is valid', () => {
    const env = signStatement(statement(), ring.active());
    const err = rejectsWith(SignatureInvalid, () => verifyEnvelope(env, () => undefined));
    expect(err.message).toMatch(/no signature from a known key/);
    const renamed = { ...env, signatures: [{ keyid: 'f'.repeat(64), sig: env.signatures[0]?.sig ?? '' }] };
    rejectsWith(SignatureInvalid, () => verifyEnvelope(renamed, resolve));
  });

  it('rejects a signature that verifies under a different trusted key than its keyid claims', async () => {
    const otherRing = await openKeyring(join(base, 'other'), { create: true });
    const other = await otherRing.generate();
    const env = signStatement(statement(), other);
    // Relabelled with our keyid: the resolver hands back our key, which did not sign it.
    const relabelled = { ...env, signatures: [{ keyid: ring.active().keyid, sig: env.signatures[0]?.sig ?? '' }] };
    rejectsWith(SignatureInvalid, () => verifyEnvelope(relabelled, resolve));
  });

  it('rejects a wrong payloadType, even though the PAE would also fail', () => {
    const env = signStatement(statement(), ring.active());
    const err = rejectsWith(ValidationFailed, () => verifyEnvelope({ ...env, payloadType: 'application/json' }, resolve));
    expect(fields(err)).toEqual(['payloadType']);
  });

  it('still verifies envelopes signed by a key that has since been rotated out', async () => {
    const rotating = await openKeyring(join(base, 'rotating'), { create: true });
    const old = await rotating.generate();
    const env = signStatement(statement(), rotating.active());
    await rotating.rotate();
    expect(rotating.active().keyid).not.toBe(old.keyid);
    expect(rotating.list().find((k) => k.keyid === old.keyid)?.active).toBe(false);
    expect(verifyEnvelope(env, (id) => rotating.publicKey(id))).toEqual(statement());
    // And from a fresh process's view of the same directory.
    const reopened = await openKeyring(join(base, 'rotating'));
    expect(verifyEnvelope(env, (id) => reopened.publicKey(id))).toEqual(statement());
  });

  it('accepts when any one of several signatures verifies', () => {
    const env = signStatement(statement(), ring.active());
    const good = env.signatures[0];
    if (!good) throw new Error('no signature');
    const multi = { ...env, signatures: [{ keyid: 'a'.repeat(64), sig: good.sig }, good] };
    expect(verifyEnvelope(multi, resolve)).toEqual(statement());
  });

  it.each([
    ['payloadType', (e: DsseEnvelope) => ({ payload: e.payload, signatures: e.signatures })],
    ['payload', (e: DsseEnvelope) => ({ ...e, payload: 'not base64!' })],
    ['payload', (e: DsseEnvelope) => ({ ...e, payload: 42 })],
    ['signatures', (e: DsseEnvelope) => ({ ...e, signatures: [] })],
    ['signatures', (e: DsseEnvelope) => ({ ...e, signatures: 'sig' })],
    ['signatures.0.sig', (e: DsseEnvelope) => ({ ...e, signatures: [{ keyid: 'k', sig: '@@@@' }] })],
    ['signatures.0.sig', (e: DsseEnvelope) => ({ ...e, signatures: [{ keyid: 'k' }] })],
    ['signatures.0.keyid', (e: DsseEnvelope) => ({ ...e, signatures: [{ keyid: 7, sig: e.signatures[0]?.sig }] })],
  ])('a malformed envelope gives ValidationFailed naming %s', (field, mutate) => {
    const env = signStatement(statement(), ring.active());
    const err = rejectsWith(ValidationFailed, () => verifyEnvelope(mutate(env), resolve));
    expect(fields(err)).toContain(field);
  });

  it('rejects non-objects as envelopes', () => {
    rejectsWith(ValidationFailed, () => verifyEnvelope(null, resolve));
    rejectsWith(ValidationFailed, () => verifyEnvelope('{}', resolve));
  });

  it('rejects a validly signed payload that is not JSON or not a statement, naming the payload field', () => {
    const signer = ring.active();
    const sealed = (payload: Buffer): DsseEnvelope => ({
      payloadType: IN_TOTO_PAYLOAD_TYPE,
      payload: payload.toString('base64'),
      signatures: [{ keyid: signer.keyid, sig: signer.sign(pae(IN_TOTO_PAYLOAD_TYPE, payload)).toString('base64') }],
    });
    expect(fields(rejectsWith(ValidationFailed, () => verifyEnvelope(sealed(Buffer.from('{not json')), resolve)))).toEqual([
      'payload',
    ]);
    const badDigest = { ...statement(), subject: [{ name: 'x', digest: { sha256: 'ABC' } }] };
    expect(
      fields(rejectsWith(ValidationFailed, () => verifyEnvelope(sealed(Buffer.from(JSON.stringify(badDigest))), resolve))),
    ).toEqual(['payload.subject.0.digest.sha256']);
  });
});

describe('makeStatement', () => {
  it('requires 64-hex sha256 subject digests, naming the field', () => {
    const err = rejectsWith(ValidationFailed, () =>
      makeStatement({
        subject: [
          { name: 'ok', digest: { sha256: digest } },
          { name: 'bad', digest: { sha256: digest.toUpperCase() } },
        ],
        predicateType: 'https://assay.dev/x/v1',
        predicate: {},
      }),
    );
    expect(fields(err)).toEqual(['subject.1.digest.sha256']);
    rejectsWith(ValidationFailed, () =>
      makeStatement({ subject: [{ name: 'short', digest: { sha256: 'ab' } }], predicateType: 'p', predicate: {} }),
    );
  });

  it('requires at least one subject, a predicateType, and a canonicalisable predicate', () => {
    expect(
      fields(rejectsWith(ValidationFailed, () => makeStatement({ subject: [], predicateType: 'p', predicate: {} }))),
    ).toEqual(['subject']);
    const subject = [{ name: 'a', digest: { sha256: digest } }];
    expect(fields(rejectsWith(ValidationFailed, () => makeStatement({ subject, predicateType: '', predicate: {} })))).toEqual([
      'predicateType',
    ]);
    expect(
      fields(rejectsWith(ValidationFailed, () => makeStatement({ subject, predicateType: 'p', predicate: { n: Number.NaN } }))),
    ).toEqual(['predicate.n']);
  });
});
