import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { chmod, lstat, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { canonicalBytes } from './canonical-json.js';
import { systemClock, isoNow, type Clock } from './clock.js';
import { AssayError, Conflict, ValidationFailed, type FieldIssue } from './errors.js';
import { sha256Hex } from './hash.js';
import { serialQueue } from './serial.js';

/**
 * The Ed25519 signing keyring: one active key that signs, plus retired keys kept so that
 * everything they ever signed still verifies.
 *
 * On-disk layout of `dir` (created mode 0700; refused if group- or world-writable):
 * - `keyring.json` — canonical JSON `{ format: 'assay-keyring/v1', keys: KeyRecord[] }`, mode 0600.
 * - `<keyid>.pem` — each key's private key, PKCS#8 PEM, mode 0600. Retired keys keep their
 *   file; destroying retired key material is a separate, deliberate operator act: a retired
 *   key whose file is gone still verifies (verifying needs only its public half, in
 *   `keyring.json`), and only the active key must have its file.
 *
 * Key id: lowercase hex SHA-256 of the raw 32-byte Ed25519 public key (64 characters). It is
 * derived, never chosen, so a key id can be recomputed by any verifier from the public key
 * alone, and the id is safe to use as a file name.
 *
 * Loading is paranoid: a private key file readable or writable by anyone but the owner, a
 * private key whose public half differs from `keyring.json`, a key id that is not the hash of
 * its public key, or anything but exactly one active key, all refuse to open with a
 * `config_invalid` AssayError naming the offending file.
 *
 * Mutations are serialised within a process; across processes, a write re-reads
 * `keyring.json` first and refuses (Conflict) if another process changed it meanwhile, so a
 * concurrent rotation can never silently drop a key.
 */

/** The only signature algorithm Assay uses. */
export const KEY_ALGORITHM = 'ed25519';

/** The `format` marker of `keyring.json`. */
export const KEYRING_FORMAT = 'assay-keyring/v1';

/** File name of the keyring index inside the key directory. */
export const KEYRING_FILE = 'keyring.json';

/** One key as listed in `keyring.json`. */
export interface KeyRecord {
  /** Lowercase hex SHA-256 of the raw 32-byte public key. */
  keyid: string;
  algorithm: typeof KEY_ALGORITHM;
  /** Standard base64 of the raw 32-byte Ed25519 public key. */
  publicKey: string;
  createdAt: string;
  retiredAt: string | null;
  active: boolean;
}

/** The active key: its id, raw public key, and a signing function. */
export interface ActiveKey {
  keyid: string;
  /** Raw 32-byte Ed25519 public key. */
  publicKey: Buffer;
  /** Ed25519 signature (64 bytes) over exactly `bytes`. */
  sign(bytes: Uint8Array): Buffer;
}

/** An opened keyring; see the module comment for the on-disk contract. */
export interface Keyring {
  /** The key directory. */
  readonly dir: string;
  /** Creates the first key and makes it active; Conflict if the keyring already has keys. */
  generate(): Promise<ActiveKey>;
  /** The key that signs now; `config_invalid` if the keyring is still empty. */
  active(): ActiveKey;
  /** Makes a new key active and retires the previous one, which keeps verifying. */
  rotate(): Promise<ActiveKey>;
  /** Raw 32-byte public key of `keyid` (active or retired), or undefined if unknown. */
  publicKey(keyid: string): Buffer | undefined;
  /** Every key, oldest first, as recorded in `keyring.json`. */
  list(): KeyRecord[];
  /** True only when `keyid` is known and `sig` is its valid signature over `bytes`. */
  verify(keyid: string, bytes: Uint8Array, sig: Uint8Array): boolean;
}

/** Options for `openKeyring`. */
export interface OpenKeyringOptions {
  /** Create the directory (mode 0700) if missing and start with an empty keyring. @default false */
  create?: boolean;
  /** Source of `createdAt`/`retiredAt`. @default systemClock */
  clock?: Clock;
}

/** What a key id looks like: 64 lowercase hexadecimal characters. */
export const KEYID_PATTERN = /^[0-9a-f]{64}$/;
const RAW_KEY_BASE64 = /^[A-Za-z0-9+/]{43}=$/;

const keyRecordSchema = z.strictObject({
  keyid: z.string().regex(KEYID_PATTERN, 'must be 64 lowercase hexadecimal characters'),
  algorithm: z.literal(KEY_ALGORITHM),
  publicKey: z.string().regex(RAW_KEY_BASE64, 'must be standard base64 of 32 bytes'),
  createdAt: z.iso.datetime(),
  retiredAt: z.iso.datetime().nullable(),
  active: z.boolean(),
});

const keyringFileSchema = z.strictObject({
  format: z.literal(KEYRING_FORMAT),
  keys: z.array(keyRecordSchema),
});

/** Key id of a raw Ed25519 public key: lowercase hex SHA-256 of its 32 bytes. */
export function keyIdForPublicKey(rawPublicKey: Uint8Array): string {
  return sha256Hex(rawPublicKey);
}

/** A node:crypto public KeyObject for a raw 32-byte Ed25519 public key; ValidationFailed on wrong length. */
export function ed25519PublicKeyFromRaw(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) {
    throw new ValidationFailed('invalid Ed25519 public key', [
      { field: 'publicKey', message: `must be 32 bytes, got ${raw.length}` },
    ]);
  }
  return createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') },
    format: 'jwk',
  });
}

/** The raw 32-byte public key of an Ed25519 KeyObject (public or private). */
export function ed25519RawPublicKey(key: KeyObject): Buffer {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  if (pub.asymmetricKeyType !== 'ed25519') {
    throw new ValidationFailed('not an Ed25519 key', [
      { field: 'publicKey', message: `is ${pub.asymmetricKeyType ?? 'not an asymmetric key'}` },
    ]);
  }
  const { x } = pub.export({ format: 'jwk' });
  if (typeof x !== 'string') throw new AssayError('internal', 'Ed25519 JWK export has no x coordinate');
  return Buffer.from(x, 'base64url');
}

/** True only when `sig` is a valid Ed25519 signature by raw public key `rawPublicKey` over `bytes`. */
export function verifyEd25519(rawPublicKey: Uint8Array, bytes: Uint8Array, sig: Uint8Array): boolean {
  if (rawPublicKey.length !== 32 || sig.length !== 64) return false;
  try {
    return verify(null, bytes, ed25519PublicKeyFromRaw(rawPublicKey), sig);
  } catch {
    // A malformed point or signature is simply "does not verify", never a crash.
    return false;
  }
}

/** A `config_invalid` error whose message and field both name `file`. */
function keyringInvalid(file: string, message: string, cause?: unknown): AssayError {
  return new AssayError('config_invalid', `${file}: ${message}`, { errors: [{ field: file, message }], cause });
}

function octal(mode: number): string {
  return (mode & 0o777).toString(8).padStart(4, '0');
}

/** Loaded state of one key: its record and, for verification, its public KeyObject. */
interface LoadedKey {
  record: KeyRecord;
  raw: Buffer;
  publicKey: KeyObject;
}

/** Opens (or with `create`, initialises) the keyring in `dir`, verifying every key file against `keyring.json`. */
export async function openKeyring(dir: string, opts: OpenKeyringOptions = {}): Promise<Keyring> {
  const clock = opts.clock ?? systemClock;
  const indexPath = join(dir, KEYRING_FILE);

  if (opts.create) {
    const created = await mkdir(dir, { recursive: true, mode: 0o700 });
    // mkdir's mode is filtered by the umask; set it outright on a directory we just made.
    if (created !== undefined) await chmod(dir, 0o700);
  }
  let dirStat;
  try {
    dirStat = await stat(dir);
  } catch (err) {
    throw keyringInvalid(dir, 'key directory does not exist (open with create: true to initialise it)', err);
  }
  if (!dirStat.isDirectory()) throw keyringInvalid(dir, 'is not a directory');
  // Anyone who can write the directory can swap keyring.json or key files.
  if ((dirStat.mode & 0o022) !== 0) {
    throw keyringInvalid(dir, `key directory permissions ${octal(dirStat.mode)} allow group/other writes; run chmod 700`);
  }

  const indexText = await readIndexText(indexPath);
  if (indexText === undefined && !opts.create) {
    throw keyringInvalid(indexPath, 'does not exist (open with create: true to initialise the keyring)');
  }
  const records = indexText === undefined ? [] : parseIndex(indexPath, indexText);

  const keys = new Map<string, LoadedKey>();
  let activePrivate: { keyid: string; key: KeyObject } | undefined;
  for (const record of records) {
    const raw = Buffer.from(record.publicKey, 'base64');
    const privateKey = await loadPrivateKey(dir, record, indexPath);
    keys.set(record.keyid, { record, raw, publicKey: ed25519PublicKeyFromRaw(raw) });
    if (record.active && privateKey) activePrivate = { keyid: record.keyid, key: privateKey };
  }

  // What this process last read or wrote; a write refuses if the file no longer matches.
  let onDisk = indexText;
  const serialise = serialQueue();

  const signerFor = (keyid: string, key: KeyObject): ActiveKey => {
    const loaded = keys.get(keyid);
    if (!loaded) throw new AssayError('internal', `active key ${keyid} is not loaded`);
    return {
      keyid,
      publicKey: Buffer.from(loaded.raw),
      sign: (bytes) => sign(null, bytes, key),
    };
  };

  /** Writes a new private key and an index listing it as active (retiring the current one at `now`). */
  const addKey = async (): Promise<ActiveKey> => {
    const current = await readIndexText(indexPath);
    if (current !== onDisk) {
      throw new Conflict(`${indexPath} was changed by another process; reopen the keyring and retry`);
    }
    const now = isoNow(clock);
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const raw = ed25519RawPublicKey(publicKey);
    const keyid = keyIdForPublicKey(raw);
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' });
    // Private key first: if we crash before the index is written, an orphan key file is
    // harmless, whereas an index naming a missing key would refuse to load.
    await writePrivateFile(join(dir, `${keyid}.pem`), typeof pem === 'string' ? pem : pem.toString('utf8'));

    const record: KeyRecord = {
      keyid,
      algorithm: KEY_ALGORITHM,
      publicKey: raw.toString('base64'),
      createdAt: now,
      retiredAt: null,
      active: true,
    };
    const next: KeyRecord[] = [...keys.values()].map(({ record: r }) =>
      r.active ? { ...r, active: false, retiredAt: now } : { ...r },
    );
    next.push(record);
    const text = await writeIndex(dir, indexPath, next);

    // Commit in-memory state only after the index is durably replaced.
    for (const r of next) {
      const loaded = keys.get(r.keyid);
      if (loaded) loaded.record = r;
    }
    keys.set(keyid, { record, raw, publicKey: ed25519PublicKeyFromRaw(raw) });
    activePrivate = { keyid, key: privateKey };
    onDisk = text;
    return signerFor(keyid, privateKey);
  };

  return {
    dir,
    generate: () =>
      serialise(async () => {
        if (keys.size > 0) throw new Conflict(`keyring ${dir} already has keys; use rotate() to add a new one`);
        return addKey();
      }),
    rotate: () =>
      serialise(async () => {
        if (keys.size === 0) throw keyringInvalid(indexPath, 'keyring has no keys to rotate; call generate() first');
        return addKey();
      }),
    active: () => {
      if (!activePrivate) throw keyringInvalid(indexPath, 'keyring has no active key; call generate() first');
      return signerFor(activePrivate.keyid, activePrivate.key);
    },
    publicKey: (keyid) => {
      const loaded = keys.get(keyid);
      return loaded ? Buffer.from(loaded.raw) : undefined;
    },
    list: () => [...keys.values()].map(({ record }) => ({ ...record })),
    verify: (keyid, bytes, sig) => {
      const loaded = keys.get(keyid);
      if (!loaded || sig.length !== 64) return false;
      try {
        return verify(null, bytes, loaded.publicKey, sig);
      } catch {
        return false;
      }
    },
  };
}

async function readIndexText(indexPath: string): Promise<string | undefined> {
  try {
    return await readFile(indexPath, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw keyringInvalid(indexPath, `cannot be read: ${(err as Error).message}`, err);
  }
}

/** Parses and cross-checks `keyring.json`; every problem is a `config_invalid` naming the file. */
function parseIndex(indexPath: string, text: string): KeyRecord[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw keyringInvalid(indexPath, `is not valid JSON: ${(err as Error).message}`, err);
  }
  const parsed = keyringFileSchema.safeParse(json);
  if (!parsed.success) {
    const errors: FieldIssue[] = parsed.error.issues.map((issue) => ({
      field: `${indexPath}#${issue.path.map(String).join('.') || '(root)'}`,
      message: issue.message,
    }));
    throw new AssayError('config_invalid', `${indexPath}: ` + errors.map((e) => `${e.field}: ${e.message}`).join('; '), {
      errors,
    });
  }
  const records = parsed.data.keys;
  const seen = new Set<string>();
  let activeCount = 0;
  records.forEach((r, i) => {
    const where = `keys.${i} (${r.keyid})`;
    if (seen.has(r.keyid)) throw keyringInvalid(indexPath, `${where}: duplicate keyid`);
    seen.add(r.keyid);
    // The id must be derivable from the public key, or a verifier could be pointed at the wrong key.
    if (keyIdForPublicKey(Buffer.from(r.publicKey, 'base64')) !== r.keyid) {
      throw keyringInvalid(indexPath, `${where}: keyid is not the SHA-256 of its publicKey`);
    }
    if (r.active) {
      activeCount++;
      if (r.retiredAt !== null) throw keyringInvalid(indexPath, `${where}: an active key cannot have retiredAt`);
    } else if (r.retiredAt === null) {
      throw keyringInvalid(indexPath, `${where}: an inactive key must have retiredAt`);
    }
  });
  if (records.length > 0 && activeCount !== 1) {
    throw keyringInvalid(indexPath, `must have exactly one active key, found ${activeCount}`);
  }
  return records;
}

/** Loads `<keyid>.pem`, refusing loose permissions or a key that does not match its record. */
/** The key's private key, checked against its record; undefined for a retired key whose file was destroyed. */
async function loadPrivateKey(dir: string, record: KeyRecord, indexPath: string): Promise<KeyObject | undefined> {
  const raw = Buffer.from(record.publicKey, 'base64');
  const file = join(dir, `${record.keyid}.pem`);
  let fileStat;
  try {
    // lstat: a symlink could point the keyring at a file whose permissions we never checked.
    fileStat = await lstat(file);
  } catch (err) {
    // A retired key signs nothing more: destroying its private half is key management, not damage.
    if (!record.active && (err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw keyringInvalid(file, `private key file for ${record.keyid} listed in ${indexPath} is missing`, err);
  }
  if (!fileStat.isFile()) throw keyringInvalid(file, 'private key must be a regular file (not a symlink)');
  if ((fileStat.mode & 0o077) !== 0) {
    throw keyringInvalid(
      file,
      `private key file permissions ${octal(fileStat.mode)} are wider than 0600; run chmod 600 on it`,
    );
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: await readFile(file, 'utf8'), format: 'pem' });
  } catch (err) {
    throw keyringInvalid(file, `is not a readable PKCS#8 PEM private key: ${(err as Error).message}`, err);
  }
  if (privateKey.asymmetricKeyType !== KEY_ALGORITHM) {
    throw keyringInvalid(file, `is a ${privateKey.asymmetricKeyType ?? 'unknown'} key, expected ed25519`);
  }
  if (!ed25519RawPublicKey(privateKey).equals(raw)) {
    throw keyringInvalid(file, `private key does not match the public key recorded for ${record.keyid} in ${indexPath}`);
  }
  return privateKey;
}

/** Creates `file` exclusively with mode 0600, durably, and proves the mode stuck. */
async function writePrivateFile(file: string, data: string | Uint8Array): Promise<void> {
  const handle = await open(file, 'wx', 0o600);
  let ok = false;
  try {
    await handle.writeFile(data);
    // The create mode is filtered by the umask; set it outright, then check it really is
    // 0600 (some filesystems ignore chmod) rather than trust it.
    await handle.chmod(0o600);
    await handle.sync();
    const mode = (await handle.stat()).mode & 0o777;
    if (mode !== 0o600) throw keyringInvalid(file, `file mode is ${octal(mode)} after writing, expected 0600`);
    ok = true;
  } finally {
    await handle.close();
    if (!ok) await unlink(file).catch(() => undefined);
  }
}

/** Atomically replaces `keyring.json` with canonical JSON of `keys`; returns the text written. */
async function writeIndex(dir: string, indexPath: string, keys: KeyRecord[]): Promise<string> {
  const bytes = canonicalBytes({ format: KEYRING_FORMAT, keys });
  const tmp = join(dir, `.${KEYRING_FILE}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  await writePrivateFile(tmp, bytes);
  try {
    await rename(tmp, indexPath);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  // fsync the directory so the rename itself survives a crash.
  const dirHandle = await open(dir, 'r');
  try {
    await dirHandle.sync();
  } finally {
    await dirHandle.close();
  }
  return Buffer.from(bytes).toString('utf8');
}
