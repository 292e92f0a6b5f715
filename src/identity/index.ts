/** Identity: principals, API tokens, authentication. built-in roles. Policy (Cedar) arrives with the policy module. */
export {
  authenticateBearer,
  bootstrapAdmin,
  issueToken,
  actorOf,
  createPrincipal,
  type CreatePrincipalInput,
  type AuthenticatedPrincipal,
  type BootstrapResult,
  type ChangeContext,
  type IssuedToken,
  type IssueTokenInput,
  type Principal,
  type PrincipalKind,
} from './principals.js';
export { TOKEN_PREFIX } from './tokens.js';
export { BUILT_IN_ROLES, holdsAnyRole, isRole, PLATFORM_ADMIN_ROLE, type Role } from './roles.js';
