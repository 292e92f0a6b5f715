/**
 * The built-in roles. A closed list: a principal cannot be given a role nobody checks.
 * Until the policy module (Cedar) lands, routes name the roles they admit directly.
 */
export const BUILT_IN_ROLES = [
  'platform-admin',
  'data-steward',
  'data-scientist',
  'ml-engineer',
  'model-validator',
  'risk-officer',
  'compliance-officer',
  'security-officer',
  'auditor',
  'app-client',
  'break-glass',
] as const;

/** One of the built-in roles. */
export type Role = (typeof BUILT_IN_ROLES)[number];

/** The role of the bootstrap administrator. */
export const PLATFORM_ADMIN_ROLE: Role = 'platform-admin';

/** Whether a string names a built-in role. */
export function isRole(value: string): value is Role {
  return (BUILT_IN_ROLES as readonly string[]).includes(value);
}

/** Whether the principal holds at least one of the admitted roles. */
export function holdsAnyRole(principal: { roles: readonly string[] }, admitted: readonly Role[]): boolean {
  return principal.roles.some((r) => (admitted as readonly string[]).includes(r));
}
