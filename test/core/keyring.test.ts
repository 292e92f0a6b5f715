import { chmod, mkdtemp, readFile, readdir, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/core/canonical-json.js';
import type { Clock } from '../../src/core/clock.js';
import { AssayError, Conflict } from '../../src/core/errors.js';
import { sha256Hex } from '../../src/core/hash.js';
import { KEYRING_FILE, openKeyring, verifyEd25519, type KeyRecord } from '../../src/core/keyring.js';

const scratch: string[] = [];
async function keyDir(): Promise<string> {
  const base = await mkdtemp(join(tmpdir(), 'assay-keyring-'));
  scratch.push(base);
  // A not-yet-existing subdirectory, so `create` has to make it.
  return join(base, 'keys');
}
afterAll(async () => {
  await Promise.all(scratch.map((d) => rm(d, { recursive: true, force: true })));
});

function fixedClock(...isoTimes: string[]): Clock {
  let i = 0;
  return { now: () => new Date(isoTimes[Math.min(i++, isoTimes.length - 1)] ?? '2026-01-01T00:00:00.000Z') };
}

const message = new TextEncoder().encode('attest this');

/** Awaits `promise`, expecting a config_invalid AssayError; returns it. */
async function configInvalid(promise: Promise<unknown>): Promise<AssayError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AssayError);
  expect((err as AssayError).code).toBe('config_invalid');
  return err as AssayError;
}

async function readIndex(dir: string): Promise<{ format: string; keys: KeyRecord[] }> {
  return JSON.parse(await readFile(join(dir, KEYRING_FILE), 'utf8')) as { format: string; keys: KeyRecord[] };
}

describe('keyring', () => {
  it('generates a key that signs and verifies, with id = sha256 of the raw public key', async () => {
    const dir = await keyDir();
    const ring = await openKeyring(dir, { create: true, clock: fixedClock('2026-03-01T10:00:00.000Z') });
    expect(ring.list()).toEqual([]);
    const key = await ring.generate();

    expect(key.publicKey).toHaveLength(32);
    expect(key.keyid).toBe(sha256Hex(key.publicKey));
    expect(ring.active().keyid).toBe(key.keyid);

    const sig = key.sign(message);
    expect(sig).toHaveLength(64);
    expect(ring.verify(key.keyid, message, sig)).toBe(true);
    expect(verifyEd25519(key.publicKey, message, sig)).toBe(true);
    expect(ring.verify(key.keyid, new TextEncoder().encode('attest that'), sig)).toBe(false);
    expect(ring.verify('0'.repeat(64), message, sig)).toBe(false);
    const flipped = Buffer.from(sig);
    flipped[0] = (flipped[0] ?? 0) ^ 1;
    expect(ring.verify(key.keyid, message, flipped)).toBe(false);

    expect(ring.list()).toEqual([
      {
        keyid: key.keyid,
        algorithm: 'ed25519',
        publicKey: key.publicKey.toString('base64'),
        createdAt: '2026-03-01T10:00:00.000Z',
        retiredAt: null,
        active: true,
      },
    ]);
    await expect(ring.generate()).rejects.toBeInstanceOf(Conflict);
  });

  it('writes private keys and keyring.json with mode 0600 in a 0700 directory, keyring.json canonical', async () => {
    const dir = await keyDir();
    const ring = await openKeyring(dir, { create: true });
    const { keyid } = await ring.generate();

    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(join(dir, `${keyid}.pem`))).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, KEYRING_FILE))).mode & 0o777).toBe(0o600);
    const pem = await readFile(join(dir, `${keyid}.pem`), 'utf8');
    expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    const text = await readFile(join(dir, KEYRING_FILE), 'utf8');
    expect(text).toBe(canonicalJson(JSON.parse(text)));
    // No temporary files are left behind.
    expect((await readdir(dir)).sort()).toEqual([`${keyid}.pem`, KEYRING_FILE].sort());
  });

  it('sets modes outright rather than trusting the umask (0600 files, 0700 directory under umask 0277)', async () => {
    const dir = await keyDir();
    const previous = process.umask(0o277);
    try {
      const ring = await openKeyring(dir, { create: true });
      const { keyid } = await ring.generate();
      expect((await stat(dir)).mode & 0o777).toBe(0o700);
      expect((await stat(join(dir, `${keyid}.pem`))).mode & 0o777).toBe(0o600);
      expect((await stat(join(dir, KEYRING_FILE))).mode & 0o777).toBe(0o600);
    } finally {
      process.umask(previous);
    }
  });

  it('rotates: the new key is active, the old one is retired but still verifies its signatures', async () => {
    const dir = await keyDir();
    const ring = await openKeyring(dir, {
      create: true,
      clock: fixedClock('2026-03-01T10:00:00.000Z', '2026-04-01T10:00:00.000Z'),
    });
    const first = await ring.generate();
    const oldSig = first.sign(message);
    const second = await ring.rotate();

    expect(second.keyid).not.toBe(first.keyid);
    expect(ring.active().keyid).toBe(second.keyid);
    expect(ring.verify(first.keyid, message, oldSig)).toBe(true);
    expect(ring.verify(second.keyid, message, ring.active().sign(message))).toBe(true);
    // A signature is bound to its key: the old signature does not pass as the new key's.
    expect(ring.verify(second.keyid, message, oldSig)).toBe(false);
    expect(ring.publicKey(first.keyid)?.equals(first.publicKey)).toBe(true);

    const [old, current] = ring.list();
    expect(old).toMatchObject({ keyid: first.keyid, active: false, retiredAt: '2026-04-01T10:00:00.000Z' });
    expect(current).toMatchObject({ keyid: second.keyid, active: true, retiredAt: null });
    expect((await readIndex(dir)).keys).toEqual(ring.list());
  });

  it('opens with a retired key whose private key file was destroyed, which still verifies; the active key\'s file stays required', async () => {
    const dir = await keyDir();
    const ring = await openKeyring(dir, { create: true });
    const first = await ring.generate();
    const oldSig = first.sign(message);
    await ring.rotate();
    await unlink(join(dir, `${first.keyid}.pem`));

    const reopened = await openKeyring(dir);
    expect(reopened.list()).toEqual(ring.list());
    expect(reopened.verify(first.keyid, message, oldSig)).toBe(true);
    expect(reopened.active().keyid).toBe(ring.active().keyid);
    await reopened.rotate(); // and rotates on

    await unlink(join(dir, `${reopened.active().keyid}.pem`));
    const err = await configInvalid(openKeyring(dir));
    expect(err.message).toMatch(/is missing/);
  });

  it('reopens from disk with the same keys and the same active signer', async () => {
    const dir = await keyDir();
    const ring = await openKeyring(dir, { create: true });
    const first = await ring.generate();
    const oldSig = first.sign(message);
    await ring.rotate();

    const reopened = await openKeyring(dir);
    expect(reopened.list()).toEqual(ring.list());
    expect(reopened.active().keyid).toBe(ring.active().keyid);
    expect(reopened.active().publicKey.equals(ring.active().publicKey)).toBe(true);
    expect(reopened.verify(first.keyid, message, oldSig)).toBe(true);
    // The reloaded private key is the same key: what it signs verifies under the original ring.
    expect(ring.verify(reopened.active().keyid, message, reopened.active().sign(message))).toBe(true);
  });

  it('refuses a private key file with permissions wider than 0600, naming the file', async () => {
    const dir = await keyDir();
    const ring = await openKeyring(dir, { create: true });
    const { keyid } = await ring.generate();
    const file = join(dir, `${keyid}.pem`);
    await chmod(file, 0o644);

    const err = await configInvalid(openKeyring(dir));
    expect(err.message).toContain(file);
    expect(err.message).toContain('0644');
    expect(err.errors[0]?.field).toBe(file);

    await chmod(file, 0o600);
    await expect(openKeyring(dir)).resolves.toBeDefined();
  });

  it('refuses a keyring.json whose public key does not match the private key file', async () => {
    const dir = await keyDir();
    const ring = await openKeyring(dir, { create: true });
    const { keyid } = await ring.generate();
    const index = await readIndex(dir);
    const record = index.keys[0];
    if (!record) throw new Error('keyring.json lists no key');

    // Another valid Ed25519 public key, keyid left as it was.
    const other = await (await openKeyring(await keyDir(), { create: true })).generate();
    record.publicKey = other.publicKey.toString('base64');
    await writeFile(join(dir, KEYRING_FILE), canonicalJson(index));
    const err = await configInvalid(openKeyring(dir));
    expect(err.message).toContain(join(dir, KEYRING_FILE));

    // Keyid rewritten consistently too: now the private key file for that id is missing.
    record.keyid = other.keyid;
    await writeFile(join(dir, KEYRING_FILE), canonicalJson(index));
    await configInvalid(openKeyring(dir));

    // Matching id but the private key file holds a different key.
    await writeFile(join(dir, `${other.keyid}.pem`), await readFile(join(dir, `${keyid}.pem`)), { mode: 0o600 });
    const mismatch = await configInvalid(openKeyring(dir));
    expect(mismatch.message).toContain(join(dir, `${other.keyid}.pem`));
    expect(mismatch.message).toMatch(/does not match/);
  });

  it('refuses to open a missing keyring without create, and signing before generate()', async () => {
    const dir = await keyDir();
    await configInvalid(openKeyring(dir));
    const ring = await openKeyring(dir, { create: true });
    expect(() => ring.active()).toThrow(AssayError);
    await configInvalid(ring.rotate());
    // Still empty on disk, so a plain open (no create) has nothing to load.
    await configInvalid(openKeyring(dir));
  });

  it('refuses to overwrite a keyring changed by another process', async () => {
    const dir = await keyDir();
    const a = await openKeyring(dir, { create: true });
    await a.generate();
    const b = await openKeyring(dir);
    await b.rotate();
    await expect(a.rotate()).rejects.toBeInstanceOf(Conflict);
    // b's rotation survived: two keys, b's active.
    const reopened = await openKeyring(dir);
    expect(reopened.list()).toHaveLength(2);
    expect(reopened.active().keyid).toBe(b.active().keyid);
  });
});
