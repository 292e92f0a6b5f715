import { randomBytes } from 'node:crypto';
import { sha256Hex } from '../core/index.js';

/** Every API token starts with this, so leaked tokens are recognisable by secret scanners. */
export const TOKEN_PREFIX = 'assay_';

/** A new 256-bit random token secret; shown once, stored only as its SHA-256. */
export function generateTokenSecret(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

/** The stored form of a token secret. */
export function hashTokenSecret(secret: string): string {
  return sha256Hex(secret);
}

/** True when `value` has the shape of a token secret (checked before any database lookup). */
export function looksLikeToken(value: string): boolean {
  return /^assay_[A-Za-z0-9_-]{43}$/.test(value);
}
