import { existsSync, readFileSync, statSync } from 'node:fs';
import { parseVerifierKey } from '../audit/index.js';

/** A key an examiner trusts, as `--public-key` gave it, with the span it signed in when a saved key list says so. */
export interface TrustedKeyEntry {
  /** The C2SP note verifier key, `name+keyid+base64key`. */
  key: string;
  /** The raw 32-byte Ed25519 public key. */
  publicKey: Uint8Array;
  createdAt?: string;
  retiredAt?: string | null;
}

const MUST_BE = 'a note verifier key (name+keyid+base64key), or a file holding one or the key list of GET /api/v1/audit/public-keys';

/** `text` as one note verifier key, or undefined when it is none. */
function verifierKey(text: string): TrustedKeyEntry | undefined {
  try {
    return { key: text.trim(), publicKey: parseVerifierKey(text.trim()).publicKey };
  } catch {
    return undefined;
  }
}

/** Each entry of a saved `GET /api/v1/audit/public-keys` answer, or undefined when `text` is none or an entry holds no key. */
function keyList(text: string): TrustedKeyEntry[] | undefined {
  let listed: unknown;
  try {
    listed = (JSON.parse(text) as { keys?: unknown } | null)?.keys;
  } catch {
    return undefined;
  }
  if (!Array.isArray(listed) || listed.length === 0) return undefined;
  const entries = listed.map((k: { publicKey?: unknown; createdAt?: unknown; retiredAt?: unknown } | null) => {
    const found = typeof k?.publicKey === 'string' ? verifierKey(k.publicKey) : undefined;
    if (!found) return undefined;
    return {
      ...found,
      ...(typeof k?.createdAt === 'string' ? { createdAt: k.createdAt } : {}),
      ...(typeof k?.retiredAt === 'string' || k?.retiredAt === null ? { retiredAt: k.retiredAt } : {}),
    };
  });
  return entries.every((e) => e !== undefined) ? (entries as TrustedKeyEntry[]) : undefined;
}

/**
 * The keys a `--public-key` value names: a note verifier key, a file holding one (as saved from
 * `GET /api/v1/audit/public-key`), or the saved answer of `GET /api/v1/audit/public-keys`, whose
 * every key is trusted (what was signed before a key rotation is signed by a retired one).
 * Throws an Error whose message is the usage error otherwise.
 */
export function readTrustedKeys(value: string): { keys: TrustedKeyEntry[]; fromList: boolean } {
  const direct = verifierKey(value);
  if (direct) return { keys: [direct], fromList: false };
  if (!existsSync(value) || !statSync(value).isFile()) throw new Error(`must be ${MUST_BE}`);
  const text = readFileSync(value, 'utf8');
  const single = verifierKey(text);
  if (single) return { keys: [single], fromList: false };
  const listed = keyList(text);
  if (listed) return { keys: listed, fromList: true };
  throw new Error(`${value} holds neither a note verifier key (name+keyid+base64key) nor the key list of GET /api/v1/audit/public-keys`);
}
