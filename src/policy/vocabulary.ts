/**
 * The closed vocabularies of the Cedar schema (`schema/assay.cedarschema`), as TypeScript
 * values. The schema is the source of truth; a test checks that these lists match its enums.
 */

/** The Cedar namespace of every Assay entity type and action. */
export const NAMESPACE = 'Assay';

/** Data classifications, least to most regulated. */
export const CLASSIFICATIONS = ['public', 'internal', 'confidential', 'PII', 'PHI', 'PCI'] as const;
/** A data classification. */
export type Classification = (typeof CLASSIFICATIONS)[number];

/** Risk tiers of models, deployments and autonomous actions. */
export const RISK_TIERS = ['low', 'medium', 'high'] as const;
/** A risk tier. */
export type RiskTier = (typeof RISK_TIERS)[number];

/** Kinds of compute zone, most to least protected. */
export const ZONE_TIERS = ['on-prem-secure', 'on-prem', 'cloud-burst'] as const;
/** A kind of compute zone. */
export type ZoneTier = (typeof ZONE_TIERS)[number];

/** Kinds of principal, as the `kind` attribute of `Assay::Principal`. */
export const PRINCIPAL_KINDS = ['human', 'service', 'agent'] as const;
/** A kind of principal. */
export type PrincipalKind = (typeof PRINCIPAL_KINDS)[number];
