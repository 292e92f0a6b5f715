/**
 * Identity: principals (humans, service accounts, agents) with built-in roles and attributes,
 * scoped API tokens, OIDC JWTs, and break-glass elevation. Who may do what is decided by the
 * policy module (Cedar), which the API consults on every request.
 */
export type { AlertLogger, AuthenticatedPrincipal, ChangeContext, Elevation, Principal, PrincipalKind } from './types.js';
export { PRINCIPAL_KINDS } from './types.js';
export { actorOf, changeContextOf } from './actor.js';
export { recordRefusal, type Refusal } from './evidence.js';
export {
  bootstrapAdmin,
  createPrincipal,
  enrolPrincipal,
  getPrincipal,
  listPrincipals,
  updatePrincipal,
  PRINCIPAL_NAME_PATTERN,
  type BootstrapResult,
  type CreatePrincipalInput,
  type EnrolPrincipalInput,
  type PrincipalQuery,
  type UpdatePrincipalInput,
} from './principals.js';
export {
  issueToken,
  listTokens,
  revokeToken,
  tokenOwner,
  type IssuedToken,
  type IssueTokenInput,
  type RevokeTokenInput,
  type TokenInfo,
} from './api-tokens.js';
export { FULL_ACCESS_SCOPES, TOKEN_PREFIX, type ScopeRules } from './tokens.js';
export { CLEARANCES, principalAttributesSchema, type Clearance, type PrincipalAttributes } from './attributes.js';
export { authorizeScope, createAuthenticator, type Authenticator, type AuthenticatorOptions, type CredentialRequest } from './authenticate.js';
export {
  BREAK_GLASS_ALERT_EVENT,
  BREAK_GLASS_ROLE,
  DEFAULT_BREAK_GLASS_MAX_MINUTES,
  MIN_BREAK_GLASS_REASON_LENGTH,
  endElevation,
  startElevation,
  type ElevationRecord,
  type StartElevationInput,
} from './break-glass.js';
export { BUILT_IN_ROLES, holdsAnyRole, isRole, PLATFORM_ADMIN_ROLE, type Role } from './roles.js';
