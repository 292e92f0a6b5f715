/** Identity: principals, API tokens, authentication. Roles and policy arrive with the policy module. */
export {
  authenticateBearer,
  bootstrapAdmin,
  issueToken,
  actorOf,
  PLATFORM_ADMIN_ROLE,
  type AuthenticatedPrincipal,
  type BootstrapResult,
  type ChangeContext,
  type IssuedToken,
  type IssueTokenInput,
  type Principal,
  type PrincipalKind,
} from './principals.js';
export { TOKEN_PREFIX } from './tokens.js';
