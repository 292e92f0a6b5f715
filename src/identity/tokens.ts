import { randomBytes } from 'node:crypto';
import { sha256Hex, type FieldIssue } from '../core/index.js';
import { isRole, type Role } from './roles.js';

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

/** Scopes a token gets when none are asked for: everything its principal's roles allow. */
export const FULL_ACCESS_SCOPES: readonly string[] = ['read', 'write'];

const ROLE_SCOPE_PREFIX = 'role:';
const OPERATION_ID = /^[a-z][A-Za-z0-9]{0,99}$/;
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** What requested scopes are checked against, and how their issues are named. */
export interface ScopeRules {
  /** The operation ids a scope may name: the API's token routes. None given: no operation scope is accepted. */
  operationIds?: readonly string[];
  /** The field the scopes were sent in, for issues (`body.scopes`). @default 'scopes' */
  field?: string;
}

/** Edit distance (insertions, deletions, substitutions), for suggesting the operation id a typo meant. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row.push(Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = row;
  }
  return prev[b.length]!;
}

/** The one known operation id within two edits (case aside) of `scope`, when exactly one is. */
function closestOperation(scope: string, operationIds: readonly string[]): string | undefined {
  const near = operationIds.filter((id) => editDistance(scope.toLowerCase(), id.toLowerCase()) <= 2);
  return near.length === 1 ? near[0] : undefined;
}

/** The issue for a scope that is none of the accepted kinds. */
function unknownScope(scope: string, operationIds: readonly string[]): string {
  const meant = OPERATION_ID.test(scope) ? closestOperation(scope, operationIds) : undefined;
  const what = 'must be "read", "write", the operation id of an API operation, or "role:<built-in role>"';
  return meant ? `${what}; did you mean "${meant}"?` : what;
}

/**
 * Validates and normalises requested scopes: `read` (GET operations), `write` (every other
 * method), a known operation id (that operation only), `role:<role>` (act with that role only).
 * When no access scope (read, write, operation id) is named, `read` and `write` are added, so
 * `["role:auditor"]` means "everything, as an auditor". Sorted and deduplicated.
 */
export function normaliseScopes(requested: readonly string[] | undefined, rules: ScopeRules = {}): { scopes: string[]; issues: FieldIssue[] } {
  const operationIds = rules.operationIds ?? [];
  const issues: FieldIssue[] = [];
  const out = new Set<string>();
  for (const [i, s] of (requested ?? []).entries()) {
    const known = s.startsWith(ROLE_SCOPE_PREFIX)
      ? isRole(s.slice(ROLE_SCOPE_PREFIX.length))
      : FULL_ACCESS_SCOPES.includes(s) || operationIds.includes(s);
    if (known) out.add(s);
    else issues.push({ field: `${rules.field ?? 'scopes'}.${i}`, message: unknownScope(s, operationIds) });
  }
  if (![...out].some((s) => !s.startsWith(ROLE_SCOPE_PREFIX))) for (const s of FULL_ACCESS_SCOPES) out.add(s);
  return { scopes: [...out].sort(), issues };
}

/** The roles named by `role:` scopes; empty when the token is not narrowed to roles. */
export function roleScopes(scopes: readonly string[]): Role[] {
  return scopes.flatMap((s) => {
    const role = s.startsWith(ROLE_SCOPE_PREFIX) ? s.slice(ROLE_SCOPE_PREFIX.length) : '';
    return isRole(role) ? [role] : [];
  });
}

/** True when the scopes admit the operation: by its id, or by `read`/`write` for its method. */
export function scopesAdmit(scopes: readonly string[], operation: { operationId: string; method: string }): boolean {
  if (scopes.includes(operation.operationId)) return true;
  return scopes.includes(SAFE_METHODS.has(operation.method.toUpperCase()) ? 'read' : 'write');
}

/** True when every scope of `wanted` is already granted by `held` (a token cannot mint a broader one). */
export function scopesWithin(wanted: readonly string[], held: readonly string[]): boolean {
  const heldRoles = roleScopes(held);
  const wantedRoles = roleScopes(wanted);
  if (heldRoles.length > 0 && (wantedRoles.length === 0 || wantedRoles.some((r) => !heldRoles.includes(r)))) return false;
  const full = FULL_ACCESS_SCOPES.every((s) => held.includes(s));
  return wanted.every((s) => s.startsWith(ROLE_SCOPE_PREFIX) || full || held.includes(s));
}
