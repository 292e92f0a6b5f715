import type { Actor } from '../audit/index.js';
import { Conflict, Forbidden, newId, systemClock, Unauthenticated, Unavailable, type Clock, type OidcConfig } from '../core/index.js';
import type { Db } from '../store/index.js';
import { actorOf } from './actor.js';
import { BREAK_GLASS_ROLE } from './break-glass.js';
import { recordChange, recordRefusal } from './evidence.js';
import { compileIssuers, looksLikeJwt, verifyJwt, type VerifiedJwt } from './oidc.js';
import { insertPrincipal } from './principals.js';
import { isRole, PLATFORM_ADMIN_ROLE, type Role } from './roles.js';
import { principalColumns, toPrincipal, type PrincipalRow } from './rows.js';
import { FULL_ACCESS_SCOPES, hashTokenSecret, looksLikeToken, roleScopes, scopesAdmit } from './tokens.js';
import type { AuthenticatedPrincipal, Elevation, Principal } from './types.js';

/** Options of `createAuthenticator`. */
export interface AuthenticatorOptions {
  db: Db;
  /** Trusted OIDC issuers. @default none: bearer JWTs are refused */
  oidc?: OidcConfig;
  /** Decides expiry of tokens and elevations. @default systemClock */
  clock?: Clock;
}

/** The request a credential arrives with. */
export interface CredentialRequest {
  requestId?: string;
}

/** Checks credentials and token scopes; every refusal is audited. */
export interface Authenticator {
  /**
   * Resolves an `Authorization: Bearer …` header holding an `assay_` API token or an OIDC JWT
   * to its principal, with the roles this request acts with. Throws Unauthenticated with a
   * reason safe to show (and audits it as `authn.fail` unless the header is simply missing),
   * or Unavailable when an issuer's key set cannot be fetched.
   */
  authenticateBearer(header: string | undefined, request?: CredentialRequest): Promise<AuthenticatedPrincipal>;
  /** Admits the operation when the credential's scopes cover it; otherwise audits `access.deny` and throws Forbidden. */
  authorizeScope(principal: AuthenticatedPrincipal, operation: { operationId: string; method: string }, request?: CredentialRequest): Promise<void>;
}

const ANONYMOUS: Actor = { principalId: 'anonymous', kind: 'system', authenticatedBy: 'system' };

/** last_used_at is recorded at this resolution, so a busy token costs one write a minute, not one per request. */
const LAST_USED_RESOLUTION_MS = 60_000;

interface AuthRow extends PrincipalRow {
  token_id: string;
  token_expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
  scopes: string[];
  elevation_id: string | null;
  elevation_reason: string | null;
  elevation_expires_at: string | null;
}

type ElevatedRow = PrincipalRow & Pick<AuthRow, 'elevation_id' | 'elevation_reason' | 'elevation_expires_at'>;

/** Joins the elevation in force for principal `p` (columns elevation_*); `now` is the SQL parameter holding the request time. */
function elevationJoin(now: string): string {
  return `LEFT JOIN LATERAL (
      SELECT id AS elevation_id, reason AS elevation_reason, expires_at AS elevation_expires_at FROM elevations
       WHERE principal_id = p.id AND ended_at IS NULL AND expires_at > ${now}::timestamptz
       ORDER BY expires_at DESC LIMIT 1) e ON true`;
}

/**
 * The roles a request acts with: held roles, narrowed by the credential's `role:` scopes; a
 * break-glass elevation adds platform-admin, but only while the credential carries break-glass.
 */
function actingRoles(held: readonly string[], scopes: readonly string[], row: ElevatedRow): { roles: Role[]; elevation?: Elevation } {
  const narrowTo = roleScopes(scopes);
  let roles = held.filter(isRole).filter((r) => narrowTo.length === 0 || narrowTo.includes(r));
  if (!row.elevation_id || !row.elevation_expires_at || !roles.includes(BREAK_GLASS_ROLE)) return { roles };
  if (!roles.includes(PLATFORM_ADMIN_ROLE)) roles = [...roles, PLATFORM_ADMIN_ROLE].sort();
  return { roles, elevation: { id: row.elevation_id, reason: row.elevation_reason ?? '', expiresAt: row.elevation_expires_at } };
}

function credentialActor(p: Principal, by: 'api_token' | 'oidc'): Actor {
  return { principalId: p.id, kind: p.kind, authenticatedBy: by };
}

/** Builds the authenticator of one server: its OIDC key sets are fetched lazily and cached for its lifetime. */
export function createAuthenticator(options: AuthenticatorOptions): Authenticator {
  const { db } = options;
  const clock = options.clock ?? systemClock;
  const issuers = compileIssuers(options.oidc ?? { issuers: [] });

  const refuse = async (
    reason: string,
    details: { request: CredentialRequest | undefined; actor?: Actor; resource: { type: string; id: string }; unavailable?: boolean },
  ): Promise<never> => {
    await recordRefusal(db, {
      actor: details.actor ?? ANONYMOUS,
      action: 'authn.fail',
      resource: details.resource,
      policyId: 'authn',
      reason,
      ...(details.request?.requestId ? { requestId: details.request.requestId } : {}),
    });
    throw details.unavailable ? new Unavailable(`cannot verify the token now: ${reason}`) : new Unauthenticated(reason);
  };

  async function byApiToken(secret: string, now: Date, request: CredentialRequest | undefined): Promise<AuthenticatedPrincipal> {
    const nowIso = now.toISOString();
    const hash = hashTokenSecret(secret);
    const r = await db.query<AuthRow>(
      `SELECT ${principalColumns('p')}, t.id AS token_id, t.expires_at AS token_expires_at, t.revoked_at, t.last_used_at, t.scopes,
              e.elevation_id, e.elevation_reason, e.elevation_expires_at
         FROM api_tokens t JOIN principals p ON p.id = t.principal_id
         ${elevationJoin('$2')}
        WHERE t.token_sha256 = $1`,
      [hash, nowIso],
    );
    const row = r.rows[0];
    // A prefix of the hash lets a reviewer correlate repeated attempts without recording anything usable.
    if (!row) return refuse('unknown bearer token', { request, resource: { type: 'api_token', id: `sha256:${hash.slice(0, 16)}` } });
    const principal = toPrincipal(row);
    const seen = { request, actor: credentialActor(principal, 'api_token'), resource: { type: 'api_token', id: row.token_id } };
    if (row.revoked_at) return refuse('bearer token revoked', seen);
    if (row.token_expires_at && Date.parse(row.token_expires_at) <= now.getTime()) return refuse('bearer token expired', seen);
    if (row.disabled_at) return refuse('principal disabled', seen);
    if (!row.last_used_at || now.getTime() - Date.parse(row.last_used_at) >= LAST_USED_RESOLUTION_MS) {
      // The guard keeps replicas from all writing in the same minute.
      await db.query('UPDATE api_tokens SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at <= $3)', [
        row.token_id,
        nowIso,
        new Date(now.getTime() - LAST_USED_RESOLUTION_MS).toISOString(),
      ]);
    }
    return {
      ...principal,
      ...actingRoles(principal.roles, row.scopes, row),
      authenticatedBy: 'api_token',
      tokenId: row.token_id,
      scopes: row.scopes,
      authenticatedAt: nowIso,
    };
  }

  async function oidcPrincipal(v: VerifiedJwt, nowIso: string): Promise<ElevatedRow | undefined> {
    const r = await db.query<ElevatedRow>(
      `SELECT ${principalColumns('p')}, e.elevation_id, e.elevation_reason, e.elevation_expires_at
         FROM principals p ${elevationJoin('$3')}
        WHERE p.oidc_issuer = $1 AND p.oidc_subject = $2`,
      [v.issuer.config.issuer, v.subject, nowIso],
    );
    return r.rows[0];
  }

  /** Creates the principal on first sight of (issuer, subject), or brings its roles in line with the token's groups; audited. */
  async function provision(v: VerifiedJwt, existing: ElevatedRow | undefined, now: Date): Promise<void> {
    const issuer = v.issuer.config.issuer;
    const claim = v.issuer.config.rolesClaim;
    await db.transaction(async (tx) => {
      if (!existing) {
        const id = newId('prn');
        const ctx = {
          actor: { principalId: id, kind: 'human', authenticatedBy: 'oidc' } as const,
          now,
          reason: `first sign-in via OIDC issuer ${issuer} (subject ${v.subject}); roles from claim ${claim}: ${v.roles.join(', ') || 'none'}`,
        };
        const taken = await tx.query('SELECT 1 FROM principals WHERE oidc_issuer = $1 AND oidc_subject = $2', [issuer, v.subject]);
        // A concurrent first request created it already.
        if (taken.rowCount === 0) {
          await insertPrincipal(
            tx,
            { id, name: `${v.issuer.label}:${v.subject}`, kind: 'human', roles: v.roles, attributes: {}, oidc: { issuer, subject: v.subject } },
            ctx,
          );
        }
        return;
      }
      const updated = await tx.query<{ id: string }>(
        'UPDATE principals SET roles = $2 WHERE id = $1 AND roles IS DISTINCT FROM $2::text[] RETURNING id',
        [existing.id, v.roles],
      );
      if (updated.rowCount === 0) return;
      await recordChange(
        tx,
        { actor: credentialActor(toPrincipal(existing), 'oidc'), now },
        {
          action: 'principal.roles.sync',
          resource: { type: 'principal', id: existing.id },
          reason: `roles from OIDC claim ${claim}: ${existing.roles.join(', ') || 'none'} → ${v.roles.join(', ') || 'none'}`,
        },
      );
    });
  }

  async function byJwt(jwt: string, now: Date, request: CredentialRequest | undefined): Promise<AuthenticatedPrincipal> {
    const verified = await verifyJwt(issuers, jwt, now);
    if (!('subject' in verified)) {
      return refuse(verified.reason, {
        request,
        resource: { type: 'oidc_issuer', id: verified.claimedIssuer ?? 'unknown' },
        unavailable: verified.unavailable,
      });
    }
    const nowIso = now.toISOString();
    let row = await oidcPrincipal(verified, nowIso);
    if (!row || (!row.disabled_at && [...row.roles].sort().join() !== verified.roles.join())) {
      let failure: unknown;
      try {
        await provision(verified, row, now);
      } catch (err) {
        // Two first requests at once: the loser's insert conflicts, and the winner's row is read below.
        if (!(err instanceof Conflict)) throw err;
        failure = err;
      }
      row = await oidcPrincipal(verified, nowIso);
      if (!row) throw failure ?? new Unavailable('the OIDC principal could not be provisioned');
    }
    const principal = toPrincipal(row);
    if (row.disabled_at) {
      return refuse('principal disabled', {
        request,
        actor: credentialActor(principal, 'oidc'),
        resource: { type: 'principal', id: row.id },
      });
    }
    const scopes = [...FULL_ACCESS_SCOPES];
    return { ...principal, ...actingRoles(principal.roles, scopes, row), authenticatedBy: 'oidc', scopes, authenticatedAt: nowIso };
  }

  return {
    async authenticateBearer(header, request) {
      if (!header) throw new Unauthenticated('missing Authorization header');
      const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
      const credential = { type: 'credential', id: 'authorization' };
      if (!m?.[1]) return refuse('Authorization header must be "Bearer <token>"', { request, resource: credential });
      const secret = m[1];
      const now = clock.now();
      if (looksLikeToken(secret)) return byApiToken(secret, now, request);
      if (looksLikeJwt(secret)) return byJwt(secret, now, request);
      return refuse('malformed bearer token', { request, resource: credential });
    },

    authorizeScope: (principal, operation, request) => authorizeScope(db, { principal, operation }, request),
  };
}

/**
 * Admits the operation when the credential's scopes cover it; otherwise audits `access.deny`
 * (policy `scope:<operationId>`) and throws Forbidden. Also for an operation a route performs
 * on top of its own (a promotion's exceptions are `overrideDatasetCheck`): a token narrowed
 * to one operation does not carry another.
 */
export async function authorizeScope(
  db: Db,
  access: { principal: AuthenticatedPrincipal; operation: { operationId: string; method: string } },
  request?: CredentialRequest,
): Promise<void> {
  const { principal, operation } = access;
  if (scopesAdmit(principal.scopes, operation)) return;
  const reason = `this credential's scopes (${principal.scopes.join(' ')}) do not cover ${operation.operationId}`;
  await recordRefusal(db, {
    actor: actorOf(principal),
    action: 'access.deny',
    resource: { type: 'operation', id: operation.operationId },
    policyId: `scope:${operation.operationId}`,
    reason,
    ...(request?.requestId ? { requestId: request.requestId } : {}),
  });
  throw new Forbidden(reason);
}
