import type { Classification, ZoneTier } from './vocabulary.js';

/**
 * Placement: may data of a classification and residency be processed in a compute zone?
 * The rules are the `placeWorkload` policies of the packs (default `placement.cedar`, plus
 * site files), so a site tightens or extends them in Cedar, and every answer names its rule.
 */

/** A compute zone as the job scheduler knows it. */
export interface ZoneInput {
  id: string;
  tier: ZoneTier;
  /** Region code the zone's hardware sits in, compared with a dataset's residency. */
  region: string;
}

/** What to place where. */
export interface PlacementRequest {
  classification: Classification;
  /** Region the data must stay in; absent = no residency restriction. */
  residency?: string;
  zone: ZoneInput;
}

/** Whether the placement is allowed, and the policy that decided it. */
export interface PlacementDecision {
  allowed: boolean;
  /** The deciding policy id, or `default-deny` when no policy permits the placement. */
  rule: string;
  /** Every determining policy id (more than one when several forbid). */
  policyIds: string[];
  reason: string;
}

/** The rule a denial names when no policy permitted the placement. */
export const DEFAULT_DENY_RULE = 'default-deny';

/** The zone tiers of a standard installation, for tests and examples; sites declare their own zones. */
export const STANDARD_ZONES: readonly ZoneInput[] = [
  { id: 'on-prem-secure', tier: 'on-prem-secure', region: 'local' },
  { id: 'on-prem', tier: 'on-prem', region: 'local' },
  { id: 'cloud-burst', tier: 'cloud-burst', region: 'cloud' },
];
