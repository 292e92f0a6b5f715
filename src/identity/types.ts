import type { Actor } from '../audit/index.js';
import type { PrincipalAttributes } from './attributes.js';
import type { Role } from './roles.js';

/** The kinds of principal. */
export const PRINCIPAL_KINDS = ['human', 'service', 'agent'] as const;

/** Kinds of principal. */
export type PrincipalKind = (typeof PRINCIPAL_KINDS)[number];

/** A principal as other modules see it. */
export interface Principal {
  id: string;
  name: string;
  kind: PrincipalKind;
  /** The built-in roles the principal holds (for OIDC principals: as mapped at its last sign-in). */
  roles: string[];
  attributes: PrincipalAttributes;
  createdAt: string;
  /** Who created it; null for the bootstrap administrator and OIDC principals created on first sign-in. */
  createdBy: string | null;
  disabledAt: string | null;
  /** Set when the principal comes from an OIDC issuer. */
  oidc: { issuer: string; subject: string } | null;
}

/** A break-glass elevation in force. */
export interface Elevation {
  id: string;
  reason: string;
  expiresAt: string;
}

/** A principal proven by a credential on this request. */
export interface AuthenticatedPrincipal extends Principal {
  /**
   * The roles this request acts with: the held roles, narrowed by the token's `role:` scopes,
   * plus platform-admin while a break-glass elevation is in force.
   */
  roles: Role[];
  authenticatedBy: 'api_token' | 'oidc';
  /** The API token used; absent for OIDC. */
  tokenId?: string;
  /** The credential's scopes (`read`, `write`, operation ids, `role:<role>`); OIDC tokens get `read` and `write`. */
  scopes: string[];
  /** Present while a break-glass elevation is in force; every audit entry of the request is flagged with it. */
  elevation?: Elevation;
  /** When the credential was checked (the request's time, from the authenticator's clock). */
  authenticatedAt: string;
}

/** Who is asking for a change, for the audit entry it writes. */
export interface ChangeContext {
  actor: Actor;
  requestId?: string;
  reason?: string;
  /** The time of the change. @default the system clock */
  now?: Date;
}

/** Anything that can raise an alert line; pino and Fastify loggers fit. */
export interface AlertLogger {
  warn(details: Record<string, unknown>, message: string): void;
}
