import type { PrincipalAttributes } from './attributes.js';
import type { Principal, PrincipalKind } from './types.js';

/** A `principals` row as both drivers return it. */
export interface PrincipalRow {
  id: string;
  name: string;
  kind: PrincipalKind;
  roles: string[];
  attributes: PrincipalAttributes;
  created_at: string;
  created_by: string | null;
  disabled_at: string | null;
  oidc_issuer: string | null;
  oidc_subject: string | null;
}

/** The columns of a PrincipalRow, for `SELECT ${principalColumns('p')} FROM principals p`. */
export function principalColumns(alias: string): string {
  return ['id', 'name', 'kind', 'roles', 'attributes', 'created_at', 'created_by', 'disabled_at', 'oidc_issuer', 'oidc_subject']
    .map((c) => `${alias}.${c}`)
    .join(', ');
}

/** The principal a row holds. */
export function toPrincipal(r: PrincipalRow): Principal {
  return {
    id: r.id,
    name: r.name,
    kind: r.kind,
    roles: r.roles,
    attributes: r.attributes,
    createdAt: r.created_at,
    createdBy: r.created_by,
    disabledAt: r.disabled_at,
    oidc: r.oidc_issuer && r.oidc_subject ? { issuer: r.oidc_issuer, subject: r.oidc_subject } : null,
  };
}
