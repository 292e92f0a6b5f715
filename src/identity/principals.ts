import { appendAuditEntry, type Actor } from '../audit/index.js';
import { Conflict, newId, NotFound, Unauthenticated, ValidationFailed } from '../core/index.js';
import type { Db, Queryable, Tx } from '../store/index.js';
import { BUILT_IN_ROLES, isRole, PLATFORM_ADMIN_ROLE } from './roles.js';
import { generateTokenSecret, hashTokenSecret, looksLikeToken } from './tokens.js';

/** Kinds of principal. */
export type PrincipalKind = 'human' | 'service' | 'agent';

/** A principal as other modules see it. */
export interface Principal {
  id: string;
  name: string;
  kind: PrincipalKind;
  roles: string[];
  createdAt: string;
}

/** A principal proven by a credential on this request. */
export interface AuthenticatedPrincipal extends Principal {
  authenticatedBy: Actor['authenticatedBy'];
  tokenId: string;
}

/** Who is asking for a change, for the audit entry it writes. */
export interface ChangeContext {
  actor: Actor;
  requestId?: string;
  reason?: string;
}


interface PrincipalRow {
  id: string;
  name: string;
  kind: PrincipalKind;
  roles: string[];
  created_at: string;
}

function toPrincipal(r: PrincipalRow): Principal {
  return { id: r.id, name: r.name, kind: r.kind, roles: r.roles, createdAt: r.created_at };
}

async function insertPrincipal(
  tx: Tx,
  input: { name: string; kind: PrincipalKind; roles: string[] },
  ctx: ChangeContext,
): Promise<Principal> {
  const id = newId('prn');
  const createdBy = ctx.actor.kind === 'system' ? null : ctx.actor.principalId;
  const r = await tx.query<PrincipalRow>(
    `INSERT INTO principals (id, name, kind, roles, created_by) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (name) DO NOTHING RETURNING id, name, kind, roles, created_at`,
    [id, input.name, input.kind, input.roles, createdBy],
  );
  const row = r.rows[0];
  if (!row) throw new Conflict(`a principal named ${input.name} already exists`, [{ field: 'name', message: 'already exists' }]);
  await appendAuditEntry(tx, {
    actor: ctx.actor,
    action: 'principal.create',
    resource: { type: 'principal', id },
    decision: { effect: 'allowed', policyIds: [] },
    outcome: 'succeeded',
    ...(ctx.reason ? { reason: ctx.reason } : {}),
    ...(ctx.requestId ? { requestId: ctx.requestId } : {}),
  });
  return toPrincipal(row);
}

/** What `createPrincipal` needs. */
export interface CreatePrincipalInput {
  name: string;
  kind: PrincipalKind;
  roles: readonly string[];
}

/** Creates a principal with built-in roles, audited in the same transaction; a taken name is a Conflict. */
export async function createPrincipal(db: Db, input: CreatePrincipalInput, ctx: ChangeContext): Promise<Principal> {
  const unknown = input.roles.filter((r) => !isRole(r));
  if (unknown.length > 0) {
    throw new ValidationFailed(
      `unknown role ${unknown.join(', ')}; built-in roles are ${BUILT_IN_ROLES.join(', ')}`,
      unknown.map(() => ({ field: 'roles', message: `must be one of ${BUILT_IN_ROLES.join(', ')}` })),
    );
  }
  return db.transaction((tx) => insertPrincipal(tx, { ...input, roles: [...new Set(input.roles)] }, ctx));
}

/** Options of `issueToken`. */
export interface IssueTokenInput {
  principalId: string;
  name: string;
  /** Absent = never expires. */
  expiresAt?: string;
}

/** A freshly issued token: `token` is the secret, returned this once and never again. */
export interface IssuedToken {
  id: string;
  name: string;
  principalId: string;
  token: string;
  createdAt: string;
  expiresAt: string | null;
}

async function insertToken(tx: Tx, input: IssueTokenInput, ctx: ChangeContext): Promise<IssuedToken> {
  const exists = await tx.query('SELECT 1 FROM principals WHERE id = $1 AND disabled_at IS NULL', [input.principalId]);
  if (exists.rowCount === 0) throw new NotFound('principal', input.principalId);
  const id = newId('tok');
  const token = generateTokenSecret();
  const r = await tx.query<{ created_at: string; expires_at: string | null }>(
    `INSERT INTO api_tokens (id, principal_id, name, token_sha256, expires_at) VALUES ($1, $2, $3, $4, $5)
     RETURNING created_at, expires_at`,
    [id, input.principalId, input.name, hashTokenSecret(token), input.expiresAt ?? null],
  );
  await appendAuditEntry(tx, {
    actor: ctx.actor,
    action: 'token.issue',
    resource: { type: 'api_token', id },
    decision: { effect: 'allowed', policyIds: [] },
    outcome: 'succeeded',
    ...(ctx.requestId ? { requestId: ctx.requestId } : {}),
  });
  const row = r.rows[0];
  return {
    id,
    name: input.name,
    principalId: input.principalId,
    token,
    createdAt: row?.created_at ?? '',
    expiresAt: row?.expires_at ?? null,
  };
}

/** Issues a new API token for a principal, audited in the same transaction. */
export async function issueToken(db: Db, input: IssueTokenInput, ctx: ChangeContext): Promise<IssuedToken> {
  return db.transaction((tx) => insertToken(tx, input, ctx));
}

/** What `bootstrapAdmin` did. */
export type BootstrapResult = { created: true; principal: Principal; token: IssuedToken } | { created: false; principal: Principal };

/**
 * Creates the first platform administrator and its token, once. Idempotent: when an
 * administrator exists, returns it and issues nothing.
 */
export async function bootstrapAdmin(db: Db, input: { name?: string } = {}): Promise<BootstrapResult> {
  return db.transaction(async (tx) => {
    // Serialise concurrent bootstraps so exactly one administrator is created.
    await tx.query('SELECT pg_advisory_xact_lock($1)', [0x61646d696e]);
    const existing = await tx.query<PrincipalRow>(
      `SELECT id, name, kind, roles, created_at FROM principals WHERE $1 = ANY(roles) ORDER BY created_at LIMIT 1`,
      [PLATFORM_ADMIN_ROLE],
    );
    const row = existing.rows[0];
    if (row) return { created: false, principal: toPrincipal(row) };
    const ctx: ChangeContext = {
      actor: { principalId: 'system', kind: 'system', authenticatedBy: 'local_bootstrap' },
      reason: 'assay init: first platform administrator',
    };
    const principal = await insertPrincipal(tx, { name: input.name ?? 'admin', kind: 'human', roles: [PLATFORM_ADMIN_ROLE] }, ctx);
    const token = await insertToken(tx, { principalId: principal.id, name: 'bootstrap' }, ctx);
    return { created: true, principal, token };
  });
}

interface AuthRow extends PrincipalRow {
  token_id: string;
  expires_at: string | null;
  revoked_at: string | null;
  disabled_at: string | null;
}

/**
 * Resolves an `Authorization` header to the principal holding the bearer token, or throws
 * Unauthenticated with a reason safe to show (missing, malformed, unknown, expired, revoked).
 */
export async function authenticateBearer(db: Queryable, header: string | undefined): Promise<AuthenticatedPrincipal> {
  if (!header) throw new Unauthenticated('missing Authorization header');
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m?.[1]) throw new Unauthenticated('Authorization header must be "Bearer <token>"');
  const secret = m[1];
  if (!looksLikeToken(secret)) throw new Unauthenticated('malformed bearer token');
  const r = await db.query<AuthRow>(
    `SELECT p.id, p.name, p.kind, p.roles, p.created_at, p.disabled_at, t.id AS token_id, t.expires_at, t.revoked_at
       FROM api_tokens t JOIN principals p ON p.id = t.principal_id
      WHERE t.token_sha256 = $1`,
    [hashTokenSecret(secret)],
  );
  const row = r.rows[0];
  if (!row) throw new Unauthenticated('unknown bearer token');
  if (row.revoked_at) throw new Unauthenticated('bearer token revoked');
  if (row.expires_at && Date.parse(row.expires_at) <= Date.now()) throw new Unauthenticated('bearer token expired');
  if (row.disabled_at) throw new Unauthenticated('principal disabled');
  return { ...toPrincipal(row), authenticatedBy: 'api_token', tokenId: row.token_id };
}

/** The audit actor for an authenticated principal. */
export function actorOf(p: AuthenticatedPrincipal): Actor {
  return { principalId: p.id, kind: p.kind, authenticatedBy: p.authenticatedBy };
}
