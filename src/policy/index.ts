/**
 * Policy: Cedar authorization over the schema in `schema/assay.cedarschema`, the default
 * pack in `packs/default/` plus site policies from `$ASSAY_HOME/policies`, separation of
 * duties, placement of workloads in compute zones, bounded autonomy, and policy tests.
 * Evaluation is pure: no database, no network; files are read once, at load.
 */
export {
  DEFAULT_PACK_DIR,
  loadPolicyEngine,
  SCHEMA_FILE,
  type AuthorizationRequest,
  type DecisionCounts,
  type PolicyDecision,
  type PolicyEngine,
  type PolicyEngineOptions,
} from './engine.js';
export type { ContextInput, PrincipalInput, ResourceInput, ResourceType } from './entities.js';
export { summarizeApprovals, type ApprovalRecord, type ApprovalSummary } from './approvals.js';
export { DEFAULT_DENY_RULE, STANDARD_ZONES, type PlacementDecision, type PlacementRequest, type ZoneInput } from './placement.js';
export {
  AUTONOMY_DEFAULT_RULE,
  AUTONOMY_TIERS,
  autonomyPolicySchema,
  classifyAutonomy,
  parseAutonomyPolicy,
  type AutonomyDecision,
  type AutonomyPolicy,
  type AutonomyRequest,
  type AutonomyTier,
} from './autonomy.js';
export {
  parsePolicyTests,
  runPolicyTestFile,
  runPolicyTests,
  type PolicyTestCaseResult,
  type PolicyTestReport,
  type PolicyTestSuite,
} from './policy-tests.js';
export { compilePolicySet, type CompiledPolicySet, type LoadedPolicy, type PolicySource } from './policy-set.js';
export { PolicyDenied, PolicyRequestInvalid, PolicyTestFileInvalid } from './errors.js';
export {
  CLASSIFICATIONS,
  PRINCIPAL_KINDS,
  RISK_TIERS,
  ZONE_TIERS,
  type Classification,
  type PrincipalKind,
  type RiskTier,
  type ZoneTier,
} from './vocabulary.js';
