import { AssayError, canonicalBytes, makeStatement, sha256Hex, signStatement, verifyEnvelope, type DsseEnvelope, type DsseSigner, type InTotoStatement, type PublicKeyResolver } from '../core/index.js';
import type { CheckResult, DatasetDerivation, DatasetSchema, DatasetVersionRecord, Exclusion, ValueFormat } from './types.js';

/** predicateType of a certified dataset version's manifest. */
export const DATASET_MANIFEST_PREDICATE_TYPE = 'https://assay.dev/dataset-manifest/v1';

/**
 * How long a dataset version is kept: versions are evidence of what models were trained on
 * and are never deleted (migration 0007); a data subject's erasure request acts through the
 * subject index instead (issue 5, item 8).
 */
export const DATASET_RETENTION_RULE = {
  rule: 'assay.dataset-version-evidence@1',
  summary: 'kept while any model trained on it is in service, at least as long as the audit log; never edited; erasure requests act through the subject index',
};

/** An exception to a failing blocking check. */
export interface ManifestOverride {
  check: string;
  by: string;
  at: string;
  reason: string;
}

/** The predicate of a dataset manifest: everything a certification rests on. */
export interface DatasetManifest {
  dataset: { id: string; name: string; version: number; versionId: string };
  /**
   * `delimiter`: a CSV snapshot's field delimiter, which `rows` and the exclusions were counted
   * with (a `;` file read with `,` is one column). Absent for JSON Lines and Parquet, and from
   * manifests signed before it was recorded.
   */
  snapshot: { sha256: string; size: number; format: string; rows: number; delimiter?: string };
  certified: { sha256: string; format: 'parquet'; rows: number };
  /**
   * Each column's logical `type` and, as `storedAs`, its type in the certified Parquet (a
   * DECIMAL(18,2) is `type` DOUBLE, `storedAs` DECIMAL(18,2): exact, no binary double).
   * Promotion holds the Parquet to it. Absent `storedAs`: a version ingested before it was recorded.
   */
  schema: DatasetSchema;
  /**
   * How the snapshot's (and the certified Parquet's) text values write numbers and dates, when
   * declared: the schema's types hold for them read this way. Absent: DuckDB's own syntax.
   */
  values?: ValueFormat;
  /**
   * `evidenceSha256`: the SHA-256 of the check's evidence as canonical JSON (RFC 8785), as the
   * version's checks answer it (`GET …/checks`): the counts, columns and row numbers the result
   * rests on, bound to the signature without copying them in. Absent from manifests signed
   * before it was recorded.
   */
  checks: Array<{ check: string; status: CheckResult['status']; blocking: boolean; result: string; evidenceSha256?: string }>;
  exclusions: Array<{ reason: string; rule: string; rows: number }>;
  /**
   * Distinct snapshot rows left out by the exclusions: snapshot.rows − excludedRows =
   * certified.rows. A row excluded for two reasons counts under each in `exclusions`, once
   * here. Absent from manifests signed before it was recorded.
   */
  excludedRows?: number;
  overrides: ManifestOverride[];
  classification: string;
  residency: { region: string | null; column: string | null };
  retention: typeof DATASET_RETENTION_RULE;
  consent: { purpose: string | null; column: string | null };
  /** The column erasure requests find a data subject by (its salted hashes are the subject index); null: none declared. Absent from manifests signed before it was recorded. */
  subjectIdColumn?: string | null;
  /** The principal accountable for the dataset when it was certified. Absent from manifests signed before it was recorded. */
  owner?: string;
  sourceSystem: string;
  /** The OpenLineage dataset the snapshot was exported from, as named at ingest. Absent when none was named, and from manifests signed before it was recorded. */
  sourceDataset?: { namespace: string; name: string };
  ingestedBy: string;
  ingestedAt: string;
  certifiedBy: string;
  certifiedAt: string;
  /**
   * A derived version's inputs (each with the certified Parquet and manifest digests it was
   * built from), code SHA-256 and parameters; absent for a raw ingest.
   */
  derivation?: DatasetDerivation;
}

/** What a manifest is built from. */
export interface ManifestInput {
  version: DatasetVersionRecord;
  checks: CheckResult[];
  overrides: ManifestOverride[];
  certified: { sha256: string; rows: number; excludedRows: number };
  /** The dataset's accountable owner (a principal id). */
  owner: string;
  certifiedBy: string;
  certifiedAt: string;
}

const iso = (t: string | Date): string => new Date(t).toISOString();

/** The in-toto Statement v1 of a certification: subjects are the certified Parquet blob and the raw snapshot. */
export function datasetManifestStatement(m: ManifestInput): InTotoStatement<DatasetManifest> {
  const v = m.version;
  const exclusions: Exclusion[] = v.exclusions;
  return makeStatement({
    subject: [
      { name: `${v.datasetName}@${v.version}.parquet`, digest: { sha256: m.certified.sha256 } },
      { name: `${v.datasetName}@${v.version}.raw.${v.format}`, digest: { sha256: v.snapshot.sha256 } },
    ],
    predicateType: DATASET_MANIFEST_PREDICATE_TYPE,
    predicate: {
      dataset: { id: v.datasetId, name: v.datasetName, version: v.version, versionId: v.id },
      snapshot: { sha256: v.snapshot.sha256, size: Number(v.snapshot.size), format: v.format, rows: Number(v.rowCount), ...(v.format === 'csv' ? { delimiter: v.delimiter ?? ',' } : {}) },
      certified: { sha256: m.certified.sha256, format: 'parquet', rows: m.certified.rows },
      schema: v.schema,
      ...(v.values ? { values: v.values } : {}),
      checks: m.checks.map((c) => ({ check: `${c.name}@${c.version}`, status: c.status, blocking: c.blocking, result: c.result, evidenceSha256: checkEvidenceSha256(c.evidence) })),
      exclusions: exclusions.map((e) => ({ reason: e.reason, rule: e.rule, rows: e.rowCount })),
      excludedRows: m.certified.excludedRows,
      overrides: m.overrides.map((o) => ({ ...o, at: iso(o.at) })),
      classification: v.classification,
      residency: { region: v.residency, column: v.residencyColumn },
      retention: DATASET_RETENTION_RULE,
      consent: { purpose: v.purpose, column: v.consentColumn },
      subjectIdColumn: v.subjectIdColumn,
      owner: m.owner,
      sourceSystem: v.sourceSystem,
      ...(v.sourceDataset ? { sourceDataset: { namespace: v.sourceDataset.namespace, name: v.sourceDataset.name } } : {}),
      ingestedBy: v.ingestedBy,
      ingestedAt: iso(v.ingestedAt),
      certifiedBy: m.certifiedBy,
      certifiedAt: iso(m.certifiedAt),
      ...(v.derivation ? { derivation: v.derivation } : {}),
    },
  });
}

/** The SHA-256 (lowercase hex) of a check's evidence as canonical JSON: what a manifest's `evidenceSha256` binds. */
export function checkEvidenceSha256(evidence: Record<string, unknown>): string {
  return sha256Hex(canonicalBytes(evidence));
}

/** The manifest signed as a DSSE envelope by `signer` (the server keyring's active key). */
export function signDatasetManifest(m: ManifestInput, signer: DsseSigner): DsseEnvelope {
  return signStatement(datasetManifestStatement(m), signer);
}

/**
 * The manifest statement inside `envelope`, returned only when a signature verifies under a
 * key `resolveKey` knows and the statement is a dataset manifest. Throws SignatureInvalid
 * (tampered bytes, unknown key) or ValidationFailed (malformed envelope), as verifyEnvelope.
 */
export function verifyDatasetManifest(envelope: unknown, resolveKey: PublicKeyResolver): InTotoStatement<DatasetManifest> {
  const statement = verifyEnvelope(envelope, resolveKey);
  if (statement.predicateType !== DATASET_MANIFEST_PREDICATE_TYPE) {
    throw new AssayError('integrity_violation', `not a dataset manifest: predicateType ${statement.predicateType}`);
  }
  return statement as InTotoStatement<DatasetManifest>;
}
