import type { Classification } from '../policy/index.js';

/** File formats a raw snapshot may have. */
export const DATASET_FORMATS = ['csv', 'jsonl', 'parquet'] as const;
/** A raw snapshot's file format. */
export type DatasetFormat = (typeof DATASET_FORMATS)[number];

/** Lifecycle of a dataset version: quarantined at ingest, certified by promotion. */
export const DATASET_VERSION_STATES = ['quarantine', 'certified'] as const;
/** Where a dataset version stands. */
export type DatasetVersionState = (typeof DATASET_VERSION_STATES)[number];

/** The highest version number a dataset can have: `dataset_versions.version` is a PostgreSQL integer (int4). */
export const MAX_DATASET_VERSION = 2_147_483_647;

/** The logical column types the quarantine infers and contracts name. */
export const COLUMN_TYPES = ['BIGINT', 'DOUBLE', 'BOOLEAN', 'DATE', 'TIMESTAMP', 'VARCHAR', 'OTHER'] as const;
/** A column's logical type. */
export type ColumnType = (typeof COLUMN_TYPES)[number];

/** One column of a schema. */
export interface ColumnSchema {
  name: string;
  /** The logical type the checks, the contract and the profile reason about (a DECIMAL and a FLOAT are DOUBLE: numbers with fractions). */
  type: ColumnType;
  /**
   * DuckDB's type of the column as the certified Parquet holds it, e.g. `DECIMAL(18,2)` (exact),
   * `FLOAT`, `TIMESTAMP WITH TIME ZONE`, `STRUCT(x BIGINT)`, and `VARCHAR` for every CSV column
   * (a CSV file's values are certified as written). Recorded at ingest on every column; absent
   * from versions ingested before it was recorded, whose stored types the schema does not say.
   */
  storedAs?: string;
  nullable: boolean;
}

/** A dataset's schema: its columns in file order. */
export interface DatasetSchema {
  columns: ColumnSchema[];
}

/** Outcome of one quarantine check. */
export type CheckStatus = 'pass' | 'warn' | 'fail';

/** What a quarantine check found, with evidence that names columns, counts and row numbers, never values. */
export interface CheckResult {
  /** e.g. `schema`, `pii`. */
  name: string;
  /** Bumped whenever the check's rule changes, so old evidence stays interpretable. */
  version: number;
  status: CheckStatus;
  /** A failing blocking check stops promotion unless an exception is recorded. */
  blocking: boolean;
  /** One sentence for humans. */
  result: string;
  evidence: Record<string, unknown>;
}

/** Rows left out of the certified data for one reason. */
export interface Exclusion {
  /** `consent_withdrawn`, `consent_missing`, `consent_unrecognised`, `residency`. */
  reason: string;
  /** The rule that excluded them, e.g. `consent@1`. */
  rule: string;
  rowCount: number;
  /** The first row numbers (1-based record numbers after any header). */
  rowNumbers: number[];
}

/** A dataset as the API shows it. */
export interface DatasetRecord {
  id: string;
  name: string;
  classification: Classification;
  ownerId: string;
  createdBy: string;
  createdAt: string;
  latestVersion: number | null;
}

/**
 * What a derived version (a feature table) was built from: certified input versions (with the
 * certified Parquet and manifest digests they had), the transformation code's SHA-256 and the
 * parameters. Recorded in the version's own ingest transaction; signed into its manifest.
 */
export interface DatasetDerivation {
  inputs: Array<{ dataset: string; version: number; versionId: string; classification: Classification; parquetSha256: string; manifestSha256: string }>;
  /** `name` is the transformation's name (e.g. the script's file name); `uri` where the code lives. */
  code: { sha256: string; uri: string | null; name: string | null };
  /** The parameters as given: a JSON object. */
  parameters: Record<string, unknown>;
  /** SHA-256 of the parameters' RFC 8785 canonical JSON. */
  parametersSha256: string;
}

/** An OpenLineage dataset by its key: a warehouse table as Airflow, Spark or dbt report it. */
export interface SourceDataset {
  namespace: string;
  name: string;
}

/** A dataset version as the API shows it (checks and profile are read separately). */
export interface DatasetVersionRecord {
  id: string;
  datasetId: string;
  datasetName: string;
  version: number;
  state: DatasetVersionState;
  format: DatasetFormat;
  delimiter: string | null;
  snapshot: { sha256: string; size: number };
  sourceSystem: string;
  /** The OpenLineage dataset (namespace and name) the file was exported from, as named at ingest; null: none named. */
  sourceDataset: SourceDataset | null;
  purpose: string | null;
  classification: Classification;
  residency: string | null;
  residencyColumn: string | null;
  consentColumn: string | null;
  subjectIdColumn: string | null;
  /** How the file writes numbers and dates, as declared at ingest; null: DuckDB's own syntax. */
  values: ValueFormat | null;
  ingestedBy: string;
  ingestedAt: string;
  rowCount: number;
  schema: DatasetSchema;
  /** Failing blocking checks without a recorded exception: promotion waits on these. */
  blockingFailures: string[];
  /** Failing blocking checks that carry a recorded exception: the version is, or may be, certified past them. */
  waived: string[];
  exclusions: Exclusion[];
  certified: { by: string; at: string; manifestSha256: string; parquetSha256: string; rows: number } | null;
  /** What a derived version was built from; null for a raw ingest. */
  derivation: DatasetDerivation | null;
}

/** Decimal separators a CSV file may declare. */
export const DECIMAL_SEPARATORS = ['.', ','] as const;

/**
 * How a CSV file writes its numbers, dates and timestamps, as the ingester declares it. Without
 * a declaration values are read in DuckDB's own syntax (a point before the decimals, ISO 8601
 * dates); a file exported under a European locale writes `1.234,56` and `31.12.2024`, which
 * would then stay text, with no statistics in the profile. The declaration decides which values
 * fit a type (schema, types) and how the profile reads them; the snapshot and the certified
 * Parquet keep the values as written, and the manifest carries the declaration to read them by.
 */
export interface ValueFormat {
  /** `,`: a comma before the decimals, digits before it grouped in threes by `.`, a space or a no-break space, or not at all. */
  decimalSeparator?: (typeof DECIMAL_SEPARATORS)[number] | undefined;
  /** A strptime format of DATE values, of date specifiers only (`%d.%m.%Y`); ISO 8601 dates still fit DATE too. */
  dateFormat?: string | undefined;
  /** A strptime format of TIMESTAMP values with a time of day (`%d.%m.%Y %H:%M`); an offset (`%z`) or zone name (`%Z`) is applied, else UTC. ISO 8601 timestamps still fit too. */
  timestampFormat?: string | undefined;
}
