import type { CedarValueJson, Context, EntityJson, EntityUidJson } from '@cedar-policy/cedar-wasm/nodejs';
import type { ApprovalSummary } from './approvals.js';
import { PolicyRequestInvalid } from './errors.js';
import { CLASSIFICATIONS, NAMESPACE, type Classification, type PrincipalKind, type RiskTier, type ZoneTier } from './vocabulary.js';

/**
 * Typed requests → Cedar JSON. Call sites describe who, what and on which resource with
 * these types; only this file knows how Cedar spells entities, so no raw Cedar JSON is
 * written anywhere else.
 */

/** Who asks. Identity's `Principal` and `AuthenticatedPrincipal` fit as they are. */
export interface PrincipalInput {
  id: string;
  roles: readonly string[];
  /** @default 'human' */
  kind?: PrincipalKind;
  attributes?: {
    /** Classifications the principal is cleared for, in any letter case (`PHI`, `phi`). @default [] */
    clearance?: readonly string[];
    team?: string;
    region?: string;
  };
}

/** Attributes shared by the governed artifacts (datasets, models, versions, deployments, jobs). */
interface Governed {
  id: string;
  classification: Classification;
  /** Principal id of whoever created it: the one who may never approve it. */
  author: string;
  /** Principal id of the accountable owner. */
  owner?: string;
  team?: string;
}

/** What a request acts on: one variant per resource entity type of the schema. */
export type ResourceInput =
  | { type: 'Platform' }
  | { type: 'AuditLog' }
  | { type: 'AuditPayload'; id: string; classification?: Classification }
  | { type: 'LegalHold'; id: string }
  | ({ type: 'Principal' } & PrincipalInput)
  | { type: 'Token'; id: string; owner: string }
  | { type: 'Approval'; id: string; author: string }
  | { type: 'Zone'; id: string; tier: ZoneTier; region: string }
  | ({ type: 'Dataset'; zone?: string; residency?: string } & Governed)
  | ({ type: 'Model'; riskTier: RiskTier } & Governed)
  | ({ type: 'ModelVersion'; riskTier: RiskTier; zone?: string } & Governed)
  | ({ type: 'Deployment'; riskTier: RiskTier; zone: string } & Governed)
  | ({ type: 'Job'; zone?: string } & Governed);

/** The resource entity types requests may name. */
export type ResourceType = ResourceInput['type'];

/** Request context; the schema decides which actions accept which keys. */
export interface ContextInput {
  /** The caller is under an active break-glass elevation. */
  elevated?: boolean;
  /** For `releaseModelVersion`: the approvals gathered so far, from `summarizeApprovals`. */
  approval?: ApprovalSummary;
}

/** The singleton ids of resources there is only one of. */
const SINGLETON_ID = { Platform: 'assay', AuditLog: 'log' } as const;

/** The Cedar uid of an entity of `type` (unqualified) named `id`. */
export function uid(type: string, id: string): { type: string; id: string } {
  return { type: `${NAMESPACE}::${type}`, id };
}

function ref(type: string, id: string): CedarValueJson {
  return { __entity: uid(type, id) };
}

/** Copies the defined entries only: Cedar rejects `null` where the schema says optional. */
function defined(attrs: Record<string, CedarValueJson | undefined>): Record<string, CedarValueJson> {
  const out: Record<string, CedarValueJson> = {};
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) out[k] = v;
  return out;
}

const optionalRef = (type: string, id: string | undefined): CedarValueJson | undefined => (id === undefined ? undefined : ref(type, id));

const CLASSIFICATION_BY_LOWER = new Map<string, Classification>(CLASSIFICATIONS.map((c) => [c.toLowerCase(), c]));

/** Identity spells clearances in lower case (`phi`); the schema's enum is `PHI`. */
function clearanceRef(value: string): CedarValueJson {
  const c = CLASSIFICATION_BY_LOWER.get(value.toLowerCase());
  if (!c) {
    const issue = { field: 'principal.attributes.clearance', message: `must be one of ${CLASSIFICATIONS.join(', ')}` };
    throw new PolicyRequestInvalid(`unknown clearance "${value}"`, [issue]);
  }
  return ref('Classification', c);
}

/** The Cedar entity of a principal: attributes, and its roles as parents. */
export function principalEntity(p: PrincipalInput): EntityJson {
  const a = p.attributes ?? {};
  return {
    uid: uid('Principal', p.id),
    attrs: defined({
      kind: p.kind ?? 'human',
      clearance: (a.clearance ?? []).map(clearanceRef),
      team: a.team,
      region: a.region,
    }),
    parents: p.roles.map((r) => uid('Role', r)),
  };
}

/** The uid a resource is known by. */
export function resourceUid(r: ResourceInput): EntityUidJson {
  return r.type === 'Platform' || r.type === 'AuditLog' ? uid(r.type, SINGLETON_ID[r.type]) : uid(r.type, r.id);
}

function governed(r: Governed): Record<string, CedarValueJson | undefined> {
  return {
    classification: ref('Classification', r.classification),
    author: ref('Principal', r.author),
    owner: optionalRef('Principal', r.owner),
    team: r.team,
  };
}

/** The Cedar entity of a resource, with the attributes its schema type declares. */
export function resourceEntity(r: ResourceInput): EntityJson {
  if (r.type === 'Principal') return principalEntity(r);
  let attrs: Record<string, CedarValueJson | undefined>;
  switch (r.type) {
    case 'Platform':
    case 'AuditLog':
    case 'LegalHold':
      attrs = {};
      break;
    case 'AuditPayload':
      attrs = { classification: r.classification === undefined ? undefined : ref('Classification', r.classification) };
      break;
    case 'Token':
      attrs = { owner: ref('Principal', r.owner) };
      break;
    case 'Approval':
      attrs = { author: ref('Principal', r.author) };
      break;
    case 'Zone':
      attrs = { tier: ref('ZoneTier', r.tier), region: r.region };
      break;
    case 'Dataset':
      attrs = { ...governed(r), zone: optionalRef('Zone', r.zone), residency: r.residency };
      break;
    case 'Model':
      attrs = { ...governed(r), riskTier: ref('RiskTier', r.riskTier) };
      break;
    case 'ModelVersion':
      attrs = { ...governed(r), riskTier: ref('RiskTier', r.riskTier), zone: optionalRef('Zone', r.zone) };
      break;
    case 'Deployment':
      attrs = { ...governed(r), riskTier: ref('RiskTier', r.riskTier), zone: ref('Zone', r.zone) };
      break;
    case 'Job':
      attrs = { ...governed(r), zone: optionalRef('Zone', r.zone) };
      break;
  }
  return { uid: resourceUid(r), attrs: defined(attrs), parents: [] };
}

/** The Cedar context record. */
export function contextRecord(c: ContextInput | undefined): Context {
  if (!c) return {};
  const a = c.approval;
  return defined({
    elevated: c.elevated,
    approval: a && {
      approvers: a.approvers.map((id) => ref('Principal', id)),
      count: a.count,
      roles: a.roles.map((role) => ref('Role', role)),
    },
  });
}
