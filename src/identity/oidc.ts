import { createRemoteJWKSet, decodeJwt, errors, jwtVerify, type JWTPayload } from 'jose';
import { ConfigInvalid, type FieldIssue, type OidcConfig, type OidcIssuerConfig } from '../core/index.js';
import { BUILT_IN_ROLES, isRole, type Role } from './roles.js';

/** A configured issuer, ready to verify: its key set is fetched lazily and cached. */
export interface OidcIssuer {
  config: OidcIssuerConfig;
  /** Prefix of its principals' names. */
  label: string;
  roleMapping: ReadonlyMap<string, Role>;
  keys: ReturnType<typeof createRemoteJWKSet>;
}

/**
 * Compiles the `oidc` configuration once, at start: one cached remote key set per issuer.
 * Throws ConfigInvalid naming every role mapping that names no built-in role.
 */
export function compileIssuers(config: OidcConfig): OidcIssuer[] {
  const issues: FieldIssue[] = [];
  const issuers = config.issuers.map((c, n) => {
    const roleMapping = new Map<string, Role>();
    for (const [group, role] of Object.entries(c.roleMapping)) {
      if (isRole(role)) roleMapping.set(group, role);
      else issues.push({ field: `oidc.issuers.${n}.roleMapping.${group}`, message: `"${role}" is not one of ${BUILT_IN_ROLES.join(', ')}` });
    }
    return {
      config: c,
      label: c.name ?? new URL(c.issuer).hostname,
      roleMapping,
      keys: createRemoteJWKSet(new URL(c.jwksUri), {
        cacheMaxAge: c.jwksCacheSeconds * 1000,
        cooldownDuration: c.jwksCooldownSeconds * 1000,
        timeoutDuration: 5000,
      }),
    };
  });
  if (issues.length > 0) throw new ConfigInvalid(issues, 'oidc');
  return issuers;
}

/** Three base64url segments: a compact JWS (the third is empty for `alg: none`, which is still refused later). */
export function looksLikeJwt(value: string): boolean {
  return value.length <= 16_384 && /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(value);
}

/** A verified token: who it names and which built-in roles its groups map to. */
export interface VerifiedJwt {
  issuer: OidcIssuer;
  subject: string;
  roles: Role[];
}

/** Why a JWT was refused; `unavailable` when the issuer's keys could not be fetched (not the caller's fault). */
export interface JwtRefusal {
  reason: string;
  unavailable: boolean;
  /** The `iss` the token claims (unverified), for the audit entry. */
  claimedIssuer?: string;
}

function claimAt(payload: JWTPayload, path: string): unknown {
  let value: unknown = payload;
  for (const part of path.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

function mappedRoles(issuer: OidcIssuer, payload: JWTPayload): Role[] {
  const raw = claimAt(payload, issuer.config.rolesClaim);
  const groups = typeof raw === 'string' ? [raw] : Array.isArray(raw) ? raw.filter((g): g is string => typeof g === 'string') : [];
  const roles = new Set<Role>();
  for (const g of groups) {
    const role = issuer.roleMapping.get(g);
    if (role) roles.add(role);
  }
  return [...roles].sort();
}

/** A reason safe to show and record for a jose failure; never echoes the token. */
function refusalOf(err: unknown): { reason: string; unavailable: boolean } {
  if (err instanceof errors.JWTExpired) return { reason: 'token expired', unavailable: false };
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'nbf') return { reason: 'token not yet valid (nbf)', unavailable: false };
    if (err.claim === 'aud') return { reason: 'token audience not accepted', unavailable: false };
    if (err.claim === 'iss') return { reason: 'token issuer mismatch', unavailable: false };
    return { reason: `token claim ${err.claim} invalid (${err.reason})`, unavailable: false };
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return { reason: 'token algorithm not allowed', unavailable: false };
  if (err instanceof errors.JWSSignatureVerificationFailed) return { reason: 'token signature invalid', unavailable: false };
  if (err instanceof errors.JWKSNoMatchingKey) return { reason: 'token key id (kid) not in the issuer key set', unavailable: false };
  if (err instanceof errors.JWKSMultipleMatchingKeys) return { reason: 'token key id (kid) is ambiguous in the issuer key set', unavailable: false };
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid || err instanceof errors.JOSENotSupported) {
    return { reason: `malformed token (${err.message})`, unavailable: false };
  }
  // Fetch failures, timeouts, a non-200 or unparsable key set: the issuer, not the caller, is at fault.
  return { reason: 'issuer key set unavailable', unavailable: true };
}

/**
 * Verifies a compact JWT against the configured issuer it claims: signature from the issuer's
 * key set (refetched on an unknown `kid` after the cooldown), `iss`, `aud`, `exp` (required),
 * `nbf`, the algorithm allow-list, all with the issuer's clock skew at `now`.
 */
export async function verifyJwt(issuers: readonly OidcIssuer[], token: string, now: Date): Promise<VerifiedJwt | JwtRefusal> {
  let claimed: JWTPayload;
  try {
    claimed = decodeJwt(token);
  } catch (err) {
    return refusalOf(err);
  }
  const claimedIssuer = typeof claimed.iss === 'string' ? claimed.iss.slice(0, 200) : undefined;
  const issuer = issuers.find((i) => i.config.issuer === claimed.iss);
  if (!issuer) {
    return { reason: issuers.length === 0 ? 'no OIDC issuer is configured' : 'token issuer not trusted', unavailable: false, ...(claimedIssuer ? { claimedIssuer } : {}) };
  }
  const c = issuer.config;
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, issuer.keys, {
      issuer: c.issuer,
      audience: c.audience,
      algorithms: [...c.algorithms],
      clockTolerance: c.clockSkewSeconds,
      currentDate: now,
      requiredClaims: ['exp'],
    }));
  } catch (err) {
    return { ...refusalOf(err), claimedIssuer: c.issuer };
  }
  const subject = claimAt(payload, c.subjectClaim);
  if (typeof subject !== 'string' || subject.length === 0 || subject.length > 255) {
    return { reason: `token has no usable ${c.subjectClaim} claim`, unavailable: false, claimedIssuer: c.issuer };
  }
  return { issuer, subject, roles: mappedRoles(issuer, payload) };
}
