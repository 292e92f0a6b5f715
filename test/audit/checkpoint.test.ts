import { createPrivateKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  MAX_NOTE_SIGNATURES,
  formatCheckpointBody,
  noteKeyId,
  openCheckpoint,
  openNote,
  parseCheckpointBody,
  parseVerifierKey,
  signCheckpoint,
  signNote,
  verifierKey,
  type NoteSigner,
  type NoteVerifier,
} from '../../src/audit/checkpoint.js';
import { AssayError, SignatureInvalid, ValidationFailed, ed25519RawPublicKey } from '../../src/core/index.js';

// ---------------------------------------------------------------------------------------------
// Reference vectors, copied verbatim from their sources.

// golang.org/x/mod, sumdb/note/note_test.go (TestNewVerifier, TestSign, TestOpen, TestVerifierList).
const PETER_VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const PETER_SKEY = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const ENOCH_VKEY = 'EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop';
const GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const PETER_SIG =
  '— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n';
const ENOCH_SIG =
  '— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n';
/** note.Sign(&Note{Text: GO_TEXT}, signer(PETER_SKEY)) — the `want` of TestSign. */
const GO_SIGNED_NOTE = `${GO_TEXT}\n${PETER_SIG}`;

// The public sum.golang.org verifier key (Go's built-in GOSUMDB key, as used in
// google/trillian-examples formats/log/note_test.go and transparency-dev/formats log/identifier_test.go).
const SUMDB_VKEY = 'sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8';
// A real sum.golang.org signed tree head and three witness cosignatures over it, with their keys:
// google/trillian-examples formats/log/note_test.go (TestSumDBNoteParsing, BenchmarkParse).
const SUMDB_CHECKPOINT = `go.sum database tree
6476701
mb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=

— sum.golang.org Az3grsLX85Gz+s1SiTbgkuqxgItqFq7gsMUEyVnrsa9LM7Us9S+1xbFIGu95949rj4nPRYfvimWEPWL+o3GeoWwOoAw=
`;
const WITNESSES = [
  {
    vkey: 'monkeys+db4d9f7e+AULaJMvTtDLHPUcUrjdDad9vDlh/PTfC2VV60JUtCfWT',
    line: '— monkeys 202ffh9ve46Mqbhuyb4wnC2Pwdan5EsXQym/tF1ggXJqhjGosU4T5intH4iKMRgDLxrnXuIjRaU2NbvAnaepM6Y+8ww=',
  },
  {
    vkey: 'bananas+cf639f13+AaPjhFnPCQnid/Ql32KWhmh+uk72FVRfK+2DLmO3BI3M',
    line: '— bananas z2OfE+2bbsBZ7NLgfuslc0v7NFW2QyexJ7fhePpoL2N/P7N/COd5S+JNHbQEAlYzz2C5sg0E+x/MggS1mDR6t3/9rQw=',
  },
  {
    vkey: 'witness+f13a86db+AdYV1Ztajd9BvyjP2HgpwrqYL6TjOwIjGMOq8Bu42xbN',
    line: '— witness 8TqG25yWGFLdT7WPf/WoyeG3LwqtkXP+8S3yykOVm6EMh4hPgCke6eSVPU4BdtXNMPJBXKF+UpDbGgCdcpR8SVSoqAU=',
  },
];

// More verifier keys produced by Go's note.GenerateKey / NewEd25519VerifierKey:
// google/trillian-examples formats/log/note_test.go and transparency-dev/formats log/identifier_test.go.
const MORE_VKEYS = [
  'Log+2271c621+AemuH5ooBpEPcr+W8onrjA1NfuzBVHdezakU81Ekarvs',
  'Known+451c786d+AXAQ0T7lbwuY4ABJ9/MYY9bWV3hmSyOGVt2x42NkmdUH',
  'KnownAgain+4893b26c+AQ+LR7BFF/F/dkpIBjBpSvT0crkteizuUkavAoGeaYMj',
  'Unknown+fdbb2e08+AWgRIYZ+8x1Vl+1Q+sR8zciNHiYI1SdlBjNw+RV0rots',
  'armory-drive-log+16541b8f+AYDPmG5pQp4Bgu0a1mr5uDZ196+t8lIVIfWQSPWmP+Jv',
];

// ---------------------------------------------------------------------------------------------
// Helpers.

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** A node:crypto private key from a Go note signer key `PRIVATE+KEY+<name>+<id>+base64(0x01 ‖ seed)`. */
function goSignerKey(skey: string): { name: string; privateKey: KeyObject } {
  expect(skey.startsWith('PRIVATE+KEY+')).toBe(true);
  const rest = skey.slice('PRIVATE+KEY+'.length);
  const name = rest.slice(0, rest.indexOf('+'));
  const encoded = rest.slice(rest.indexOf('+', name.length + 1) + 1); // base64 may itself contain '+'
  const bytes = Buffer.from(encoded, 'base64');
  expect(bytes[0]).toBe(0x01); // Ed25519
  const der = Buffer.concat([PKCS8_ED25519_PREFIX, bytes.subarray(1)]);
  return { name, privateKey: createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }) };
}

function signerFor(name: string, privateKey: KeyObject): NoteSigner {
  return { name, rawPublicKey: ed25519RawPublicKey(privateKey), sign: (bytes) => sign(null, bytes, privateKey) };
}

function newSigner(name: string): NoteSigner {
  return signerFor(name, generateKeyPairSync('ed25519').privateKey);
}

function verifierOf(signer: NoteSigner) {
  return parseVerifierKey(verifierKey(signer.name, signer.rawPublicKey));
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

const ROOT = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
const ROOT_B64 = ROOT.toString('base64'); // AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=

// ---------------------------------------------------------------------------------------------

describe('checkpoint body (c2sp.org/tlog-checkpoint)', () => {
  it('formats origin, decimal size and base64 root hash, one per line, and parses back', () => {
    const body = formatCheckpointBody({ origin: 'assay/01J9ZQ', size: 42, rootHash: ROOT });
    expect(body).toBe(`assay/01J9ZQ\n42\n${ROOT_B64}\n`);
    expect(ROOT_B64).toBe('AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=');
    expect(parseCheckpointBody(body)).toEqual({ origin: 'assay/01J9ZQ', size: 42, rootHash: ROOT, extensions: [] });
  });

  it('writes an empty tree as size 0', () => {
    const body = formatCheckpointBody({ origin: 'assay/x', size: 0, rootHash: Buffer.alloc(32) });
    expect(body.split('\n')[1]).toBe('0');
    expect(parseCheckpointBody(body).size).toBe(0);
  });

  it('reads extension lines, and origins the spec allows but we never emit (sum.golang.org uses spaces)', () => {
    const cp = parseCheckpointBody(`go.sum database tree\n7\n${ROOT_B64}\next one\next+two\n`);
    expect(cp).toEqual({ origin: 'go.sum database tree', size: 7, rootHash: ROOT, extensions: ['ext one', 'ext+two'] });
  });

  it.each([
    ['leading zero in size', `o\n042\n${ROOT_B64}\n`, 'line 2'],
    ['"00" size', `o\n00\n${ROOT_B64}\n`, 'line 2'],
    ['negative size', `o\n-34\n${ROOT_B64}\n`, 'line 2'],
    ['plus sign', `o\n+1\n${ROOT_B64}\n`, 'line 2'],
    ['non-number size', `o\nbananas\n${ROOT_B64}\n`, 'line 2'],
    ['decimal point', `o\n1.0\n${ROOT_B64}\n`, 'line 2'],
    ['space in size', `o\n 1\n${ROOT_B64}\n`, 'line 2'],
    ['empty size', `o\n\n${ROOT_B64}\n`, 'line 2'],
    ['size beyond 2^53-1', `o\n9007199254740992\n${ROOT_B64}\n`, 'line 2'],
    ['size beyond uint64', `o\n3438945738945739845734895735\n${ROOT_B64}\n`, 'line 2'],
    ['empty origin', `\n1\n${ROOT_B64}\n`, 'line 1'],
    ['CR in origin (CRLF text)', `o\r\n1\n${ROOT_B64}\n`, 'line 1'],
    ['7-byte root hash (transparency-dev/formats vector)', 'Log\n123\nYmFuYW5hcw==\n', 'line 3'],
    ['31-byte root hash', `o\n1\n${ROOT.subarray(1).toString('base64')}\n`, 'line 3'],
    ['33-byte root hash', `o\n1\n${Buffer.concat([ROOT, ROOT.subarray(0, 1)]).toString('base64')}\n`, 'line 3'],
    ['root hash without padding', `o\n1\n${ROOT_B64.slice(0, -1)}\n`, 'line 3'],
    ['URL-safe root hash', `o\n1\n${Buffer.alloc(32, 0xfb).toString('base64url')}=\n`, 'line 3'],
    ['non-canonical padding bits', `o\n1\n${ROOT_B64.slice(0, -2)}f=\n`, 'line 3'],
    ['not base64', "o\n1\nThisIsn'tBase64\n", 'line 3'],
    ['missing root hash line', 'Head\n9944\n', 'line 3'],
    ['no final newline', `o\n1\n${ROOT_B64}`, 'line 3'],
    ['empty extension line', `o\n1\n${ROOT_B64}\n\next\n`, 'line 4'],
    ['trailing empty line', `o\n1\n${ROOT_B64}\n\n`, 'line 4'],
  ])('rejects %s, naming the line', (_desc, text, field) => {
    const err = rejectsWith(ValidationFailed, () => parseCheckpointBody(text));
    expect(fields(err)).toContain(field);
    expect(err.message).toContain(field);
  });

  it('names every bad line at once', () => {
    const err = rejectsWith(ValidationFailed, () => parseCheckpointBody('\n01\nnope\n'));
    expect(fields(err)).toEqual(['line 1', 'line 2', 'line 3']);
  });

  it.each([
    ['empty origin', { origin: '', size: 1, rootHash: ROOT }, 'origin'],
    ['origin with a space', { origin: 'assay x', size: 1, rootHash: ROOT }, 'origin'],
    ['origin with a plus', { origin: 'assay+x', size: 1, rootHash: ROOT }, 'origin'],
    ['origin with a newline', { origin: 'assay\nx', size: 1, rootHash: ROOT }, 'origin'],
    ['negative size', { origin: 'o', size: -1, rootHash: ROOT }, 'size'],
    ['fractional size', { origin: 'o', size: 1.5, rootHash: ROOT }, 'size'],
    ['unsafe size', { origin: 'o', size: 2 ** 53, rootHash: ROOT }, 'size'],
    ['short root hash', { origin: 'o', size: 1, rootHash: ROOT.subarray(1) }, 'rootHash'],
  ])('refuses to format a checkpoint with %s', (_desc, cp, field) => {
    expect(fields(rejectsWith(ValidationFailed, () => formatCheckpointBody(cp)))).toEqual([field]);
  });
});

describe('verifier keys (golang.org/x/mod/sumdb/note)', () => {
  it('parses the reference key and recomputes its key id from name and public key', () => {
    const v = parseVerifierKey(PETER_VKEY);
    expect(v.name).toBe('PeterNeumann');
    expect(Buffer.from(v.keyId).toString('hex')).toBe('c74f20a3');
    expect(v.publicKey).toHaveLength(32);
    expect(noteKeyId(v.name, v.publicKey).toString('hex')).toBe('c74f20a3');
    expect(verifierKey(v.name, v.publicKey)).toBe(PETER_VKEY);
  });

  it('parses the sum.golang.org key (a key whose base64 contains "+")', () => {
    const v = parseVerifierKey(SUMDB_VKEY);
    expect(v.name).toBe('sum.golang.org');
    expect(noteKeyId(v.name, v.publicKey).toString('hex')).toBe('033de0ae');
    expect(verifierKey(v.name, v.publicKey)).toBe(SUMDB_VKEY);
  });

  it.each([ENOCH_VKEY, ...MORE_VKEYS, ...WITNESSES.map((w) => w.vkey)])('reproduces Go verifier key %s', (vkey) => {
    const v = parseVerifierKey(vkey);
    expect(verifierKey(v.name, v.publicKey)).toBe(vkey);
  });

  it('derives the reference verifier key from the reference signer key', () => {
    const { name, privateKey } = goSignerKey(PETER_SKEY);
    expect(verifierKey(name, ed25519RawPublicKey(privateKey))).toBe(PETER_VKEY);
  });

  it('rejects corrupted copies of the sum.golang.org key', () => {
    // A mistyped copy (45 base64 characters): not even base64.
    const mistyped = 'sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ly18pXJYKtL2O6Iyu';
    expect(fields(rejectsWith(ValidationFailed, () => parseVerifierKey(mistyped)))).toEqual(['vkey.key']);
    // One key character changed: valid base64 and a valid key, caught by the key id.
    const oneCharOff = SUMDB_VKEY.replace('HJyk9', 'HJyk8');
    expect(fields(rejectsWith(ValidationFailed, () => parseVerifierKey(oneCharOff)))).toEqual(['vkey.keyId']);
    // Another name for the same key: caught by the key id too.
    const renamed = SUMDB_VKEY.replace('sum.golang.org', 'sum.golang.org.evil');
    expect(fields(rejectsWith(ValidationFailed, () => parseVerifierKey(renamed)))).toEqual(['vkey.keyId']);
  });

  it("rejects Go's wrong-length and unknown-algorithm keys (key ids adjusted to match)", () => {
    const wrongLength = 'PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==';
    const unknownAlg = 'PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
    expect(fields(rejectsWith(ValidationFailed, () => parseVerifierKey(wrongLength)))).toEqual(['vkey.key']);
    expect(fields(rejectsWith(ValidationFailed, () => parseVerifierKey(unknownAlg)))).toEqual(['vkey.key']);
  });

  it('rejects every proper substring and every single-character mangling (as Go TestNewVerifier)', () => {
    const accepted: string[] = [];
    const tryKey = (k: string) => {
      try {
        parseVerifierKey(k);
        accepted.push(k);
      } catch (err) {
        expect(err).toBeInstanceOf(ValidationFailed);
      }
    };
    for (let i = 0; i <= PETER_VKEY.length; i++) {
      for (let j = i + 1; j <= PETER_VKEY.length; j++) {
        if (i !== 0 || j !== PETER_VKEY.length) tryKey(PETER_VKEY.slice(i, j));
      }
    }
    for (let i = 0; i < PETER_VKEY.length; i++) {
      tryKey(PETER_VKEY.slice(0, i) + String.fromCharCode(PETER_VKEY.charCodeAt(i) + 1) + PETER_VKEY.slice(i + 1));
    }
    expect(accepted).toEqual([]);
  });

  it('refuses to make a verifier key for an invalid name or key', () => {
    const raw = Buffer.alloc(32, 7);
    expect(fields(rejectsWith(ValidationFailed, () => verifierKey('a b', raw)))).toEqual(['name']);
    expect(fields(rejectsWith(ValidationFailed, () => verifierKey('a+b', raw)))).toEqual(['name']);
    expect(fields(rejectsWith(ValidationFailed, () => verifierKey('', raw)))).toEqual(['name']);
    expect(fields(rejectsWith(ValidationFailed, () => verifierKey('a', raw.subarray(1))))).toEqual(['publicKey']);
  });
});

describe('signed notes (c2sp.org/signed-note)', () => {
  // Parsed in beforeAll, so a regression fails each test rather than the whole file's collection.
  let peter: NoteVerifier;
  let enoch: NoteVerifier;
  beforeAll(() => {
    peter = parseVerifierKey(PETER_VKEY);
    enoch = parseVerifierKey(ENOCH_VKEY);
  });
  const enochLine = ENOCH_SIG.slice(0, -1);

  it("signs byte-for-byte like Go's note.Sign (TestSign)", () => {
    const { name, privateKey } = goSignerKey(PETER_SKEY);
    const note = signNote(GO_TEXT, signerFor(name, privateKey));
    expect(note).toBe(GO_SIGNED_NOTE);
    expect(note.codePointAt(GO_TEXT.length + 1)).toBe(0x2014);
  });

  it("opens Go's signed note: one known key verified, the unknown one reported (TestOpen)", () => {
    expect(openNote(GO_TEXT + '\n' + PETER_SIG + ENOCH_SIG, [peter])).toEqual({
      text: GO_TEXT,
      verifiedBy: ['PeterNeumann'],
      unverified: [enochLine],
    });
    expect(openNote(GO_TEXT + '\n' + PETER_SIG + ENOCH_SIG, [peter, enoch])).toEqual({
      text: GO_TEXT,
      verifiedBy: ['PeterNeumann', 'EnochRoot'],
      unverified: [],
    });
  });

  it('accepts the note as UTF-8 bytes too', () => {
    expect(openNote(Buffer.from(GO_SIGNED_NOTE, 'utf8'), [peter]).verifiedBy).toEqual(['PeterNeumann']);
  });

  it('rejects a note with no signature from a known key (SignatureInvalid)', () => {
    const err = rejectsWith(SignatureInvalid, () => openNote(GO_TEXT + '\n' + PETER_SIG + ENOCH_SIG, []));
    expect(err.message).toMatch(/no verifiable signatures/);
  });

  it('rejects a known key whose signature does not verify, even next to a good one', () => {
    const bytes = Buffer.from(PETER_SIG, 'utf8');
    // Go TestOpen: "ABCD" inserted at byte 60 of the signature line.
    const bad = Buffer.concat([bytes.subarray(0, 60), Buffer.from('ABCD'), bytes.subarray(60)]).toString('utf8');
    const err = rejectsWith(SignatureInvalid, () => openNote(GO_TEXT + '\n' + bad, [peter]));
    expect(err.keyid).toBe('PeterNeumann+c74f20a3');
    rejectsWith(SignatureInvalid, () => openNote(GO_TEXT + '\n' + ENOCH_SIG + bad, [peter, enoch]));
  });

  it('drops duplicate signatures (Go TestOpen, duplicated verified and unverified)', () => {
    const enochBytes = Buffer.from(ENOCH_SIG, 'utf8');
    const enochABCD = Buffer.concat([enochBytes.subarray(0, 60), Buffer.from('ABCD'), enochBytes.subarray(60)]);
    const msg = GO_TEXT + '\n' + PETER_SIG + PETER_SIG + ENOCH_SIG + ENOCH_SIG + enochABCD.toString('utf8');
    expect(openNote(msg, [peter])).toEqual({
      text: GO_TEXT,
      verifiedBy: ['PeterNeumann'],
      unverified: [enochLine, enochABCD.toString('utf8').slice(0, -1)],
    });
  });

  it(`accepts ${MAX_NOTE_SIGNATURES} signatures and rejects more`, () => {
    expect(openNote(GO_TEXT + '\n' + PETER_SIG.repeat(MAX_NOTE_SIGNATURES), [peter]).verifiedBy).toEqual([
      'PeterNeumann',
    ]);
    rejectsWith(ValidationFailed, () => openNote(GO_TEXT + '\n' + PETER_SIG.repeat(MAX_NOTE_SIGNATURES + 1), [peter]));
    rejectsWith(ValidationFailed, () => openNote(GO_TEXT + '\n' + PETER_SIG.repeat(MAX_NOTE_SIGNATURES + 1), []));
  });

  it.each([
    ['text only', GO_TEXT],
    ['text and blank line, no signatures', GO_TEXT + '\n'],
    ['last signature line without newline', GO_TEXT + '\n' + PETER_SIG.slice(0, -1)],
    ['control character', '\x01' + GO_TEXT + '\n' + PETER_SIG],
    ['tab', GO_TEXT.replace(' ', '\t') + '\n' + PETER_SIG],
    ['CRLF line endings', GO_TEXT.replaceAll('\n', '\r\n') + '\r\n' + PETER_SIG],
    ['key name with a space', GO_TEXT + '\n' + PETER_SIG.replace('PeterNeumann', 'Bad Name')],
    ['key name with a plus', GO_TEXT + '\n' + PETER_SIG.replace('PeterNeumann', 'Peter+Neumann')],
    ['unexpected line after signatures', GO_TEXT + '\n' + PETER_SIG + 'Unexpected line.\n'],
    ['hyphen instead of em dash', GO_TEXT + '\n' + PETER_SIG.replace('\u2014', '-')],
    ['no space after em dash', GO_TEXT + '\n' + PETER_SIG.replace('\u2014 ', '\u2014')],
    ['signature not base64', GO_TEXT + '\n' + '— PeterNeumann not*base64\n'],
    ['signature without padding', GO_TEXT + '\n' + PETER_SIG.replace('=\n', '\n')],
    ['signature missing', GO_TEXT + '\n' + '— PeterNeumann\n'],
    ['signature of only a key id', GO_TEXT + '\n' + '— PeterNeumann x08gow==\n'],
    ['lone surrogate', '\uD800' + GO_TEXT + '\n' + PETER_SIG],
  ])('rejects a malformed note: %s (ValidationFailed)', (_desc, msg) => {
    rejectsWith(ValidationFailed, () => openNote(msg, [peter]));
  });

  it('rejects invalid UTF-8 bytes', () => {
    const bytes = Buffer.concat([Buffer.of(0xff), Buffer.from(GO_SIGNED_NOTE, 'utf8')]);
    expect(fields(rejectsWith(ValidationFailed, () => openNote(bytes, [peter])))).toEqual(['note']);
  });

  it('names the bad signature line', () => {
    const err = rejectsWith(ValidationFailed, () => openNote(GO_TEXT + '\n' + PETER_SIG + '— x\n', [peter]));
    expect(fields(err)).toEqual(['signature line 2']);
  });

  it('ignores signatures that share only the name or only the key id with a known key', () => {
    const otherPeter = newSigner('PeterNeumann');
    const sameName = signNote(GO_TEXT, otherPeter); // same name, different key id
    rejectsWith(SignatureInvalid, () => openNote(sameName, [peter]));
    // Go TestOpen (errMismatchedVerifier): the same signature bytes under another name.
    const renamed = GO_TEXT + '\n' + PETER_SIG.replace('PeterNeumann', 'CarmenSandiego');
    expect(() => openNote(renamed, [peter])).toThrow(/no verifiable signatures/);
    expect(openNote(renamed + PETER_SIG, [peter])).toEqual({
      text: GO_TEXT,
      verifiedBy: ['PeterNeumann'],
      unverified: [renamed.split('\n').at(-2)],
    });
  });

  it('separates text from signatures at the last blank line (text may contain blank lines)', () => {
    const signer = newSigner('example.com/k');
    const text = 'para one\n\npara two\n\n';
    const note = signNote(text, signer);
    expect(openNote(note, [verifierOf(signer)]).text).toBe(text);
  });

  it('round-trips a note signed with a fresh key: signature line is base64(key id ‖ 64-byte signature)', () => {
    const signer = newSigner('assay/test');
    const note = signNote('hello\n', signer);
    expect(note.startsWith('hello\n\n\u2014 assay/test ')).toBe(true);
    const sig = Buffer.from(note.split(' ').at(-1)?.trimEnd() ?? '', 'base64');
    expect(sig).toHaveLength(68);
    expect(sig.subarray(0, 4)).toEqual(noteKeyId('assay/test', signer.rawPublicKey));
    expect(openNote(note, [verifierOf(signer)])).toEqual({ text: 'hello\n', verifiedBy: ['assay/test'], unverified: [] });
  });

  it('refuses to sign bad text or with a bad signer', () => {
    const signer = newSigner('assay/test');
    expect(fields(rejectsWith(ValidationFailed, () => signNote('abc', signer)))).toEqual(['text']);
    expect(fields(rejectsWith(ValidationFailed, () => signNote('a\tb\n', signer)))).toEqual(['text']);
    expect(fields(rejectsWith(ValidationFailed, () => signNote('a\n', { ...signer, name: 'bad name' })))).toEqual([
      'signer.name',
    ]);
    // A signer whose key is not the public key it advertises must never produce a note.
    const liar = { ...signer, sign: newSigner('assay/test').sign };
    const err = rejectsWith(AssayError, () => signNote('a\n', liar));
    expect(err.code).toBe('internal');
  });

  it('refuses inconsistent or ambiguous verifiers', () => {
    const wrongId = { ...peter, keyId: Buffer.from('00000000', 'hex') };
    expect(fields(rejectsWith(ValidationFailed, () => openNote(GO_SIGNED_NOTE, [wrongId])))).toEqual([
      'verifiers.0.keyId',
    ]);
    const short = { ...peter, publicKey: peter.publicKey.subarray(1) };
    rejectsWith(ValidationFailed, () => openNote(GO_SIGNED_NOTE, [short]));
    // The same key listed twice is harmless.
    expect(openNote(GO_SIGNED_NOTE, [peter, peter]).verifiedBy).toEqual(['PeterNeumann']);
  });
});

describe('signed checkpoints', () => {
  const signer = newSigner('assay/01J9ZQ');
  const cp = { origin: 'assay/01J9ZQ', size: 1234, rootHash: ROOT };
  let verifier: NoteVerifier;
  let note: string;
  beforeAll(() => {
    verifier = verifierOf(signer);
    note = signCheckpoint(cp, signer);
  });

  it('signs and opens a checkpoint', () => {
    const [body = '', sigBlock = ''] = note.split('\n\n');
    expect(body + '\n').toBe(`assay/01J9ZQ\n1234\n${ROOT_B64}\n`);
    expect(sigBlock).toMatch(/^\u2014 assay\/01J9ZQ [A-Za-z0-9+/]{91}=\n$/);
    expect(openCheckpoint(note, verifier)).toEqual({ ...cp, extensions: [], verifiedBy: ['assay/01J9ZQ'] });
    expect(openCheckpoint(note, [verifier], { origin: 'assay/01J9ZQ' }).size).toBe(1234);
  });

  it('verifies a real sum.golang.org checkpoint and its witness cosignatures', () => {
    const sumdb = parseVerifierKey(SUMDB_VKEY);
    expect(openCheckpoint(SUMDB_CHECKPOINT, sumdb, { origin: 'go.sum database tree' })).toEqual({
      origin: 'go.sum database tree',
      size: 6476701,
      rootHash: Buffer.from('mb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=', 'base64'),
      extensions: [],
      verifiedBy: ['sum.golang.org'],
    });
    const cosigned = SUMDB_CHECKPOINT + WITNESSES.map((w) => w.line + '\n').join('');
    const witnesses = WITNESSES.map((w) => parseVerifierKey(w.vkey));
    expect(openCheckpoint(cosigned, [sumdb, ...witnesses]).verifiedBy).toEqual([
      'sum.golang.org',
      'monkeys',
      'bananas',
      'witness',
    ]);
    // Witnesses alone vouch too; the caller decides whose signatures it requires.
    expect(openNote(cosigned, witnesses).unverified).toEqual([SUMDB_CHECKPOINT.split('\n').at(-2)]);
  });

  it('rejects a checkpoint from another origin when one is expected', () => {
    const sumdb = parseVerifierKey(SUMDB_VKEY);
    const err = rejectsWith(ValidationFailed, () => openCheckpoint(SUMDB_CHECKPOINT, sumdb, { origin: 'assay/x' }));
    expect(fields(err)).toEqual(['line 1']);
  });

  it.each([
    ['changed size', () => note.replace('\n1234\n', '\n1235\n')],
    ['changed root hash', () => note.replace(ROOT_B64, Buffer.alloc(32, 1).toString('base64'))],
    ['changed origin', () => note.replace('assay/01J9ZQ\n', 'assay/01J9ZR\n')],
    ['changed signature byte', () => withSignatureByte(note, 40)],
    ['changed key id byte (no known key left)', () => withSignatureByte(note, 0)],
  ])('rejects a tampered checkpoint: %s (SignatureInvalid)', (_desc, tamper) => {
    rejectsWith(SignatureInvalid, () => openCheckpoint(tamper(), verifier));
  });

  it('rejects a checkpoint signed by the wrong key under the expected name', () => {
    const impostor = newSigner('assay/01J9ZQ');
    const err = rejectsWith(SignatureInvalid, () => openCheckpoint(signCheckpoint(cp, impostor), verifier));
    expect(err.message).toMatch(/no verifiable signatures/);
  });

  it('rejects a checkpoint whose only signature is from an unknown key', () => {
    const stranger = newSigner('evil.example/log');
    rejectsWith(SignatureInvalid, () => openCheckpoint(signCheckpoint(cp, stranger), verifier));
  });

  it('rejects a note whose text lost its final newline (no blank line left: ValidationFailed)', () => {
    const err = rejectsWith(ValidationFailed, () => openCheckpoint(note.replace(`${ROOT_B64}\n`, ROOT_B64), verifier));
    expect(fields(err)).toEqual(['note']);
  });

  it('rejects a validly signed but malformed body, naming the line', () => {
    const signed = signNote(`assay/01J9ZQ\n01234\n${ROOT_B64}\n`, signer);
    expect(fields(rejectsWith(ValidationFailed, () => openCheckpoint(signed, verifier)))).toEqual(['line 2']);
  });
});

/** `note` with byte `index` of its (single) decoded signature flipped, re-encoded as valid base64. */
function withSignatureByte(note: string, index: number): string {
  const cut = note.lastIndexOf(' ') + 1;
  const sig = Buffer.from(note.slice(cut, -1), 'base64');
  sig[index] = (sig[index] ?? 0) ^ 0x01;
  return note.slice(0, cut) + sig.toString('base64') + '\n';
}
