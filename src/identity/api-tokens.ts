import { Conflict, Forbidden, newId, NotFound, plainTextIssues, ValidationFailed } from '../core/index.js';
import type { Db, Queryable, Tx } from '../store/index.js';
import { changeTime, recordChange } from './evidence.js';
import { generateTokenSecret, hashTokenSecret, normaliseScopes, roleScopes, scopesWithin, type ScopeRules } from './tokens.js';
import type { AuthenticatedPrincipal, ChangeContext } from './types.js';

/** Options of `issueToken`. */
export interface IssueTokenInput {
  principalId: string;
  name: string;
  /** Absent = never expires. */
  expiresAt?: string;
  /** See `normaliseScopes`. @default ['read', 'write'] */
  scopes?: readonly string[];
  /** Which operation ids and field name the scopes are checked with; see `ScopeRules`. */
  scopeRules?: ScopeRules;
  /**
   * The credential asking. When it belongs to the same principal, the new token may not be
   * broader than it (a scoped token cannot mint an unscoped one).
   */
  issuedBy?: AuthenticatedPrincipal;
}

/** A freshly issued token: `token` is the secret, returned this once and never again. */
export interface IssuedToken {
  id: string;
  name: string;
  principalId: string;
  token: string;
  scopes: string[];
  createdAt: string;
  expiresAt: string | null;
}

/** A token as listed: everything but the secret, which is never stored. */
export interface TokenInfo {
  id: string;
  name: string;
  principalId: string;
  scopes: string[];
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  /** Recorded at most once a minute per token, so authentication does not write on every request. */
  lastUsedAt: string | null;
}

interface TokenRow {
  id: string;
  name: string;
  principal_id: string;
  scopes: string[];
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
}

const TOKEN_COLUMNS = 'id, name, principal_id, scopes, created_at, expires_at, revoked_at, last_used_at';

function toTokenInfo(r: TokenRow): TokenInfo {
  return {
    id: r.id,
    name: r.name,
    principalId: r.principal_id,
    scopes: r.scopes,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    revokedAt: r.revoked_at,
    lastUsedAt: r.last_used_at,
  };
}

/** Inserts a token inside the caller's transaction, with its audit entry. */
export async function insertToken(tx: Tx, input: IssueTokenInput, ctx: ChangeContext): Promise<IssuedToken> {
  const normalised = normaliseScopes(input.scopes, input.scopeRules);
  const issues = [...plainTextIssues([['name', input.name]]), ...normalised.issues];
  if (issues.length > 0) throw new ValidationFailed(`invalid token: ${issues.map((i) => i.field).join(', ')}`, issues);
  const scopes = normalised.scopes;
  const owner = await tx.query<{ roles: string[]; disabled_at: string | null }>(
    'SELECT roles, disabled_at FROM principals WHERE id = $1 FOR UPDATE',
    [input.principalId],
  );
  const principal = owner.rows[0];
  if (!principal) throw new NotFound('principal', input.principalId);
  if (principal.disabled_at) throw new Conflict(`principal ${input.principalId} is disabled`, [{ field: 'principalId', message: 'disabled' }]);
  // A token never exceeds its principal: it may narrow to roles the principal holds, never add one.
  const notHeld = roleScopes(scopes).filter((r) => !principal.roles.includes(r));
  if (notHeld.length > 0) {
    throw new ValidationFailed(`the principal does not hold ${notHeld.join(', ')}`, [
      { field: input.scopeRules?.field ?? 'scopes', message: `role scopes must name roles the principal holds (${principal.roles.join(', ') || 'none'})` },
    ]);
  }
  const by = input.issuedBy;
  if (by && by.id === input.principalId && !scopesWithin(scopes, by.scopes)) {
    throw new Forbidden(`a token may not issue a broader token: this credential's scopes are ${by.scopes.join(', ')}`);
  }
  const id = newId('tok');
  const token = generateTokenSecret();
  const r = await tx.query<{ created_at: string; expires_at: string | null }>(
    `INSERT INTO api_tokens (id, principal_id, name, token_sha256, expires_at, scopes, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING created_at, expires_at`,
    [id, input.principalId, input.name, hashTokenSecret(token), input.expiresAt ?? null, scopes, changeTime(ctx).toISOString()],
  );
  await recordChange(tx, ctx, {
    action: 'token.issue',
    resource: { type: 'api_token', id },
    reason: ctx.reason ?? `token "${input.name}" for ${input.principalId}, scopes ${scopes.join(' ')}`,
  });
  const row = r.rows[0];
  return {
    id,
    name: input.name,
    principalId: input.principalId,
    token,
    scopes,
    createdAt: row?.created_at ?? '',
    expiresAt: row?.expires_at ?? null,
  };
}

/**
 * Issues a new API token for a principal, audited in the same transaction; scopes may narrow
 * the principal's roles, never widen them.
 */
export async function issueToken(db: Db, input: IssueTokenInput, ctx: ChangeContext): Promise<IssuedToken> {
  return db.transaction((tx) => insertToken(tx, input, ctx));
}

/** The tokens of a principal, newest first, without secrets; NotFound when the principal does not exist. */
export async function listTokens(db: Queryable, principalId: string): Promise<TokenInfo[]> {
  const exists = await db.query('SELECT 1 FROM principals WHERE id = $1', [principalId]);
  if (exists.rowCount === 0) throw new NotFound('principal', principalId);
  const r = await db.query<TokenRow>(`SELECT ${TOKEN_COLUMNS} FROM api_tokens WHERE principal_id = $1 ORDER BY id DESC`, [
    principalId,
  ]);
  return r.rows.map(toTokenInfo);
}

/** The principal a token belongs to; undefined when no such token exists. */
export async function tokenOwner(db: Queryable, tokenId: string): Promise<string | undefined> {
  const r = await db.query<{ principal_id: string }>('SELECT principal_id FROM api_tokens WHERE id = $1', [tokenId]);
  return r.rows[0]?.principal_id;
}

/** Options of `revokeToken`. */
export interface RevokeTokenInput {
  tokenId: string;
}

/**
 * Revokes a token; audited. Revoking a revoked token changes nothing and records nothing.
 * Who may revoke is the policy engine's decision (the caller's own tokens, or any token for a
 * platform-admin in the default pack), taken by the API before this runs.
 */
export async function revokeToken(db: Db, input: RevokeTokenInput, ctx: ChangeContext): Promise<TokenInfo> {
  const found = await db.query<TokenRow>(`SELECT ${TOKEN_COLUMNS} FROM api_tokens WHERE id = $1`, [input.tokenId]);
  const token = found.rows[0];
  if (!token) throw new NotFound('api_token', input.tokenId);
  return db.transaction(async (tx) => {
    const r = await tx.query<TokenRow>(
      `UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL RETURNING ${TOKEN_COLUMNS}`,
      [input.tokenId, changeTime(ctx).toISOString()],
    );
    const revoked = r.rows[0];
    if (!revoked) {
      const current = await tx.query<TokenRow>(`SELECT ${TOKEN_COLUMNS} FROM api_tokens WHERE id = $1`, [input.tokenId]);
      return toTokenInfo(current.rows[0] ?? token);
    }
    await recordChange(tx, ctx, { action: 'token.revoke', resource: { type: 'api_token', id: input.tokenId } });
    return toTokenInfo(revoked);
  });
}
