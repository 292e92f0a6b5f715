/**
 * Data: governed datasets. Ingest streams a file (CSV, JSON Lines, Parquet) into an
 * immutable, content-addressed raw snapshot and a dataset version in quarantine; named,
 * versioned quarantine checks (schema, row count, nulls, duplicates, types, PII, consent,
 * residency) run in DuckDB and record evidence (counts and row numbers, never values); every
 * version keeps a per-column profile, the drift monitor's reference, and a salted subject
 * index for erasure requests. Promotion by another principal certifies a version: the certified
 * rows as an immutable Parquet blob and a signed manifest (in-toto in DSSE) of what it rests on.
 * A derived version (a feature table) declares at ingest the certified versions, code hash and
 * parameters it was built from; that derivation, its lineage and its manifest entry go with it.
 */
export { ingestDataset, DATASET_CREATE_ACTION, DATASET_INGEST_ACTION, type DataEnv, type IngestInput } from './ingest.js';
export {
  datasetAccessFacts,
  getDataset,
  getDatasetVersion,
  getDatasetVersionChecks,
  getDatasetVersionProfile,
  listDatasets,
  listDatasetVersions,
} from './records.js';
export { delimiterForFile, mediaTypeForFile, UPLOAD_MEDIA_TYPES } from './formats.js';
export { DATASET_DERIVE_ACTION, derivationJobId, derivationRunId, MAX_DERIVATION_INPUTS, MAX_DERIVATION_PARAMETERS_BYTES, type DerivationInput } from './derivation.js';
export { CSV_DELIMITERS } from './csv-dialect.js';
export { DECIMAL_SEPARATORS, type ValueFormat } from './types.js';
export { describeValueFormat } from './value-format.js';
export { subjectHash, subjectKey, subjectSalt } from './subject-index.js';
export {
  ERASURE_LINEAGE_EDGES,
  ERASURE_REQUEST_ACTION,
  ERASURE_STATUSES,
  getErasureRequest,
  listErasureRequests,
  MAX_ERASURE_REASON,
  MAX_SUBJECT_ID_LENGTH,
  reachedSha256,
  requestErasure,
  RETRAIN_REQUIRED,
  type ErasureDatasetHit,
  type ErasureExternalDataset,
  type ErasureEnv,
  type ErasureInput,
  type ErasureModelHit,
  type ErasureRequestQuery,
  type ErasureRequestRecord,
  type ErasureRequestSummary,
  type ErasureStatus,
} from './erasure.js';
export { certifiedVersionFacts, LINK_CERTIFIED_ACTION, linkCertifiedVersions } from './openlineage-link.js';
export { PENDING_BLOB_SWEEP_ACTION, sweepPendingBlobs, type PendingBlobSweepOptions, type PendingBlobSweepReport } from './pending-blobs.js';
export { QUARANTINE_CHECKS, PII_DETECTORS, residencyOf, RESIDENCY_REGIONS, ROW_NUMBER_LIMIT, type PiiDetector } from './checks/index.js';
export type { ColumnProfile, DatasetProfile } from './profile.js';
export {
  COLUMN_TYPES,
  DATASET_FORMATS,
  DATASET_VERSION_STATES,
  MAX_DATASET_VERSION,
  type CheckResult,
  type CheckStatus,
  type ColumnSchema,
  type ColumnType,
  type DatasetFormat,
  type DatasetDerivation,
  type DatasetRecord,
  type DatasetSchema,
  type DatasetVersionRecord,
  type DatasetVersionState,
  type Exclusion,
  type SourceDataset,
} from './types.js';
export {
  DATASET_OVERRIDE_ACTION,
  DATASET_PROMOTE_ACTION,
  exceptionAuditReason,
  getDatasetManifest,
  MAX_EXCEPTION_REASON,
  rawSnapshotNodeId,
  overrideDatasetCheck,
  promoteDatasetVersion,
  type CheckOverrideInput,
  type PromoteEnv,
  type PromoteInput,
  type Promotion,
} from './promote.js';
export { CERTIFIED_BLOB_CORRUPT_EVENT, DATASET_DOWNLOAD_ACTION, DATASET_DOWNLOAD_INCOMPLETE_ACTION, erasureRequestsReaching, locateCertifiedParquet, openCertifiedParquet, type CertifiedParquetFile, type DownloadEnv } from './download.js';
export { checkDatasetManifestFiles, type ManifestCheckReport, type ManifestProblem, type TrustedKey } from './manifest-check.js';
export { checkEvidenceSha256, DATASET_MANIFEST_PREDICATE_TYPE, DATASET_RETENTION_RULE, verifyDatasetManifest, type DatasetManifest, type ManifestOverride } from './manifest.js';
