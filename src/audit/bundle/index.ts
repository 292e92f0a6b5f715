/** Audit bundles: a span of the log with everything an examiner needs to verify it offline. */
export { BUNDLE_FORMAT, parseBundleTime, type BundleManifest, type BundleWindow } from './format.js';
export { exportAuditBundle, type BundleSource, type ExportBundleOptions, type ExportBundleResult, type ExportProgress, type WindowSpan } from './export.js';
export { dbBundleSource, type DbBundleSourceOptions } from './db-source.js';
export {
  verifyAuditBundle,
  type BundleProblem,
  type BundleProblemKind,
  type BundleSummary,
  type BundleVerifyReport,
  type KeyTrust,
  type SelectedLeaf,
  type VerifyBundleOptions,
} from './verify.js';
