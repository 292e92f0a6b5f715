import { NotFound } from '../core/index.js';
import type { Classification } from '../policy/index.js';
import type { Queryable } from '../store/index.js';
import { DERIVATION_COLUMN } from './derivation.js';
import type { CheckResult, DatasetDerivation, DatasetFormat, DatasetRecord, DatasetSchema, DatasetVersionRecord, DatasetVersionState, Exclusion, ValueFormat } from './types.js';

/** A `datasets` row with its latest version number. */
export interface DatasetRow {
  id: string;
  name: string;
  classification: Classification;
  owner_id: string;
  created_by: string;
  created_at: string;
  latest_version: number | null;
}

interface VersionRow {
  id: string;
  dataset_id: string;
  dataset_name: string;
  version: number;
  state: DatasetVersionState;
  format: DatasetFormat;
  delimiter: string | null;
  snapshot_sha256: string;
  snapshot_size: number;
  source_system: string;
  source_dataset_namespace: string | null;
  source_dataset_name: string | null;
  purpose: string | null;
  classification: Classification;
  residency: string | null;
  residency_column: string | null;
  consent_column: string | null;
  subject_id_column: string | null;
  value_format: ValueFormat | null;
  ingested_by: string;
  ingested_at: string;
  row_count: number;
  schema: DatasetSchema;
  certified_by: string | null;
  certified_at: string | null;
  manifest_sha256: string | null;
  certified_sha256: string | null;
  certified_rows: number | null;
  blocking_failures: string[];
  waived: string[];
  exclusions: Array<{ reason: string; rule: string; row_count: number; row_numbers: number[] }>;
  derivation: DatasetDerivation | null;
}

const DATASET_SELECT = `SELECT d.id, d.name, d.classification, d.owner_id, d.created_by, d.created_at,
  (SELECT max(v.version) FROM dataset_versions v WHERE v.dataset_id = d.id) AS latest_version FROM datasets d`;

const VERSION_SELECT = `SELECT v.*, d.name AS dataset_name,
  coalesce((SELECT array_agg(c.name ORDER BY c.name) FROM dataset_checks c
     WHERE c.version_id = v.id AND c.status = 'fail' AND c.blocking
       AND NOT EXISTS (SELECT 1 FROM dataset_check_overrides o WHERE o.version_id = c.version_id AND o.check_name = c.name)), '{}') AS blocking_failures,
  coalesce((SELECT array_agg(o.check_name ORDER BY o.check_name) FROM dataset_check_overrides o WHERE o.version_id = v.id), '{}') AS waived,
  coalesce((SELECT json_agg(json_build_object('reason', e.reason, 'rule', e.rule, 'row_count', e.row_count, 'row_numbers', e.row_numbers) ORDER BY e.reason)
     FROM dataset_exclusions e WHERE e.version_id = v.id), '[]') AS exclusions,
  ${DERIVATION_COLUMN}
  FROM dataset_versions v JOIN datasets d ON d.id = v.dataset_id`;

/** The API form of a dataset row. */
export function toDataset(r: DatasetRow): DatasetRecord {
  return { id: r.id, name: r.name, classification: r.classification, ownerId: r.owner_id, createdBy: r.created_by, createdAt: r.created_at, latestVersion: r.latest_version };
}

function toVersion(r: VersionRow): DatasetVersionRecord {
  const exclusions: Exclusion[] = r.exclusions.map((e) => ({ reason: e.reason, rule: e.rule, rowCount: Number(e.row_count), rowNumbers: e.row_numbers }));
  return {
    id: r.id,
    datasetId: r.dataset_id,
    datasetName: r.dataset_name,
    version: r.version,
    state: r.state,
    format: r.format,
    delimiter: r.delimiter,
    snapshot: { sha256: r.snapshot_sha256, size: r.snapshot_size },
    sourceSystem: r.source_system,
    sourceDataset: r.source_dataset_namespace !== null && r.source_dataset_name !== null ? { namespace: r.source_dataset_namespace, name: r.source_dataset_name } : null,
    purpose: r.purpose,
    classification: r.classification,
    residency: r.residency,
    residencyColumn: r.residency_column,
    consentColumn: r.consent_column,
    subjectIdColumn: r.subject_id_column,
    values: r.value_format,
    ingestedBy: r.ingested_by,
    ingestedAt: r.ingested_at,
    rowCount: r.row_count,
    schema: r.schema,
    blockingFailures: r.blocking_failures,
    waived: r.waived,
    exclusions,
    certified:
      r.certified_by && r.certified_at && r.manifest_sha256 && r.certified_sha256 && r.certified_rows !== null
        ? { by: r.certified_by, at: r.certified_at, manifestSha256: r.manifest_sha256, parquetSha256: r.certified_sha256, rows: r.certified_rows }
        : null,
    derivation: r.derivation,
  };
}

/** The dataset named `name`, or undefined. */
export async function findDataset(db: Queryable, name: string): Promise<DatasetRecord | undefined> {
  const r = await db.query<DatasetRow>(`${DATASET_SELECT} WHERE d.name = $1`, [name]);
  return r.rows[0] ? toDataset(r.rows[0]) : undefined;
}

/** The dataset named `name`, or NotFound. */
export async function getDataset(db: Queryable, name: string): Promise<DatasetRecord> {
  const d = await findDataset(db, name);
  if (!d) throw new NotFound('dataset', name);
  return d;
}

/** Datasets in name order, after `after` (a name), at most `limit`. */
export async function listDatasets(db: Queryable, q: { after?: string; limit: number }): Promise<DatasetRecord[]> {
  const r = await db.query<DatasetRow>(`${DATASET_SELECT} WHERE ($1::text IS NULL OR d.name > $1) ORDER BY d.name LIMIT $2`, [q.after ?? null, q.limit]);
  return r.rows.map(toDataset);
}

/** Every version of the dataset, oldest first. */
export async function listDatasetVersions(db: Queryable, name: string): Promise<DatasetVersionRecord[]> {
  const dataset = await getDataset(db, name);
  const r = await db.query<VersionRow>(`${VERSION_SELECT} WHERE v.dataset_id = $1 ORDER BY v.version`, [dataset.id]);
  return r.rows.map(toVersion);
}

/** Version `version` of dataset `name`, or NotFound. */
export async function getDatasetVersion(db: Queryable, ref: { name: string; version: number }): Promise<DatasetVersionRecord> {
  const r = await db.query<VersionRow>(`${VERSION_SELECT} WHERE d.name = $1 AND v.version = $2`, [ref.name, ref.version]);
  if (!r.rows[0]) throw new NotFound('dataset version', `${ref.name}@${ref.version}`);
  return toVersion(r.rows[0]);
}

/** The quarantine check results of a version, in the order the checks ran, with any recorded exception. */
export async function getDatasetVersionChecks(db: Queryable, ref: { name: string; version: number }): Promise<Array<CheckResult & { override: { by: string; at: string; reason: string } | null }>> {
  const v = await getDatasetVersion(db, ref);
  const r = await db.query<{ name: string; check_version: number; status: CheckResult['status']; blocking: boolean; result: string; evidence: Record<string, unknown>; by: string | null; at: string | null; reason: string | null }>(
    `SELECT c.name, c.check_version, c.status, c.blocking, c.result, c.evidence, o.overridden_by AS by, o.overridden_at AS at, o.reason
       FROM dataset_checks c LEFT JOIN dataset_check_overrides o ON o.version_id = c.version_id AND o.check_name = c.name
      WHERE c.version_id = $1 ORDER BY c.position`,
    [v.id],
  );
  return r.rows.map((c) => ({
    name: c.name,
    version: c.check_version,
    status: c.status,
    blocking: c.blocking,
    result: c.result,
    evidence: c.evidence,
    override: c.by && c.at && c.reason ? { by: c.by, at: c.at, reason: c.reason } : null,
  }));
}

/** The stored profile of a version: the drift monitor's reference. */
export async function getDatasetVersionProfile(db: Queryable, ref: { name: string; version: number }): Promise<unknown> {
  const v = await getDatasetVersion(db, ref);
  const r = await db.query<{ profile: unknown }>('SELECT profile FROM dataset_versions WHERE id = $1', [v.id]);
  return r.rows[0]!.profile;
}

/** The id, classification and author facts a policy decision on a dataset (or one of its versions) needs. */
export async function datasetAccessFacts(db: Queryable, ref: { name: string; version?: number }): Promise<{ id: string; classification: string; createdBy: string; ownerId: string; ingestedBy?: string } | undefined> {
  const r = await db.query<{ id: string; classification: string; created_by: string; owner_id: string; ingested_by: string | null }>(
    `SELECT d.id, d.classification, d.created_by, d.owner_id,
       (SELECT v.ingested_by FROM dataset_versions v WHERE v.dataset_id = d.id AND v.version = $2) AS ingested_by
       FROM datasets d WHERE d.name = $1`,
    [ref.name, ref.version ?? null],
  );
  const row = r.rows[0];
  if (!row) return undefined;
  return { id: row.id, classification: row.classification, createdBy: row.created_by, ownerId: row.owner_id, ...(row.ingested_by ? { ingestedBy: row.ingested_by } : {}) };
}
