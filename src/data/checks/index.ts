import type { QuarantineCheck } from './check.js';
import { consentCheck } from './consent.js';
import { duplicatesCheck } from './duplicates.js';
import { nullRatesCheck } from './null-rates.js';
import { piiCheck } from './pii.js';
import { residencyCheck } from './residency.js';
import { rowCountCheck } from './row-count.js';
import { schemaCheck } from './schema.js';
import { typesCheck } from './types.js';

/** Every quarantine check, in the order they run and are listed. */
export const QUARANTINE_CHECKS: readonly QuarantineCheck[] = [
  schemaCheck,
  rowCountCheck,
  nullRatesCheck,
  duplicatesCheck,
  typesCheck,
  piiCheck,
  consentCheck,
  residencyCheck,
];

export {
  checkRef,
  ROW_NUMBER_LIMIT,
  type CheckContext,
  type CheckOutcome,
  type CheckPlan,
  type Contract,
  type CountProbe,
  type DeclaredVersion,
  type ExclusionFinding,
  type Locate,
  type Probe,
  type QuarantineCheck,
} from './check.js';
export { consentRules, isConsentRule, ruleColumn, CONSENT_GIVEN, CONSENT_WITHDRAWN, type RuleColumn } from './consent.js';
export { isResidencyRule, residencyOf, residencyRules, REGIONS, RESIDENCY_REGIONS } from './residency.js';
export { schemaOf } from './schema.js';
export { PII_DETECTORS, registerPiiMacros, type PiiDetector } from './pii-detectors.js';
export type { PiiFinding } from './pii.js';
