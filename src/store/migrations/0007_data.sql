-- Governed data (issue 5): datasets, their immutable versions, quarantine check results,
-- exclusions, the subject index for erasure requests, and promotion evidence. Rows here are
-- never deleted: a dataset version is evidence of what a model was trained on.

-- A dataset is a name with a classification and an accountable owner; versions hold the data.
CREATE TABLE datasets (
  id text PRIMARY KEY,
  name text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,127}$'),
  classification text NOT NULL CHECK (classification IN ('public', 'internal', 'confidential', 'PII', 'PHI', 'PCI')),
  owner_id text NOT NULL REFERENCES principals (id),
  created_by text NOT NULL REFERENCES principals (id),
  created_at timestamptz NOT NULL
);

-- One upload: the raw snapshot (content-addressed, immutable) and what the quarantine found.
CREATE TABLE dataset_versions (
  id text PRIMARY KEY,
  dataset_id text NOT NULL REFERENCES datasets (id),
  version integer NOT NULL CHECK (version >= 1),
  -- quarantine → certified (promotion). A version is never edited otherwise.
  state text NOT NULL CHECK (state IN ('quarantine', 'certified')),
  format text NOT NULL CHECK (format IN ('csv', 'jsonl', 'parquet')),
  delimiter text CHECK (delimiter IS NULL OR length(delimiter) = 1),
  snapshot_sha256 text NOT NULL CHECK (snapshot_sha256 ~ '^[0-9a-f]{64}$'),
  snapshot_size bigint NOT NULL CHECK (snapshot_size > 0),
  source_system text NOT NULL CHECK (length(source_system) BETWEEN 1 AND 200),
  purpose text CHECK (length(purpose) BETWEEN 1 AND 2000),
  classification text NOT NULL CHECK (classification IN ('public', 'internal', 'confidential', 'PII', 'PHI', 'PCI')),
  residency text,
  residency_column text,
  consent_column text,
  subject_id_column text,
  ingested_by text NOT NULL REFERENCES principals (id),
  ingested_at timestamptz NOT NULL,
  row_count bigint NOT NULL CHECK (row_count >= 0),
  -- {"columns": [{"name", "type", "nullable"}]}: the schema inferred at ingest.
  schema jsonb NOT NULL,
  -- Per column statistics: the reference the drift monitor compares live traffic with.
  profile jsonb NOT NULL,
  certified_by text REFERENCES principals (id),
  certified_at timestamptz,
  manifest_sha256 text CHECK (manifest_sha256 ~ '^[0-9a-f]{64}$'),
  certified_sha256 text CHECK (certified_sha256 ~ '^[0-9a-f]{64}$'),
  certified_rows bigint,
  UNIQUE (dataset_id, version),
  CHECK ((state = 'certified') = (certified_by IS NOT NULL)),
  CHECK ((certified_by IS NULL) = (certified_at IS NULL) AND (certified_by IS NULL) = (manifest_sha256 IS NULL)),
  CHECK ((certified_by IS NULL) = (certified_sha256 IS NULL) AND (certified_by IS NULL) = (certified_rows IS NULL)),
  -- Separation of duties in the schema too: whatever path wrote it, nobody certifies what they ingested.
  CHECK (certified_by IS NULL OR certified_by <> ingested_by)
);
CREATE INDEX dataset_versions_by_dataset ON dataset_versions (dataset_id, version);
CREATE INDEX dataset_versions_by_snapshot ON dataset_versions (snapshot_sha256);
CREATE INDEX dataset_versions_by_certified ON dataset_versions (certified_sha256);

-- A version's snapshot and findings are immutable; only promotion fills in the certified fields, once.
CREATE FUNCTION dataset_versions_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'dataset versions are evidence and are never deleted';
  END IF;
  IF OLD.state <> 'quarantine' OR NEW.state <> 'certified'
     OR (NEW.id, NEW.dataset_id, NEW.version, NEW.format, NEW.snapshot_sha256, NEW.snapshot_size, NEW.source_system,
         NEW.classification, NEW.ingested_by, NEW.ingested_at, NEW.row_count, NEW.schema, NEW.profile)
        IS DISTINCT FROM
        (OLD.id, OLD.dataset_id, OLD.version, OLD.format, OLD.snapshot_sha256, OLD.snapshot_size, OLD.source_system,
         OLD.classification, OLD.ingested_by, OLD.ingested_at, OLD.row_count, OLD.schema, OLD.profile) THEN
    RAISE EXCEPTION 'a dataset version changes only once, from quarantine to certified';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER dataset_versions_immutable BEFORE UPDATE OR DELETE ON dataset_versions
  FOR EACH ROW EXECUTE FUNCTION dataset_versions_guard();

-- Quarantine check results: named and versioned (`schema@1`), with evidence that never holds values.
CREATE TABLE dataset_checks (
  version_id text NOT NULL REFERENCES dataset_versions (id),
  name text NOT NULL,
  check_version integer NOT NULL CHECK (check_version >= 1),
  -- The order the checks ran in, which is the order they are listed in.
  position integer NOT NULL,
  status text NOT NULL CHECK (status IN ('pass', 'warn', 'fail')),
  blocking boolean NOT NULL,
  result text NOT NULL CHECK (length(result) BETWEEN 1 AND 2000),
  evidence jsonb NOT NULL,
  PRIMARY KEY (version_id, name)
);

-- Rows left out of the certified data, by reason (consent_withdrawn, consent_missing, residency):
-- counts and row numbers, never values.
CREATE TABLE dataset_exclusions (
  version_id text NOT NULL REFERENCES dataset_versions (id),
  reason text NOT NULL CHECK (reason ~ '^[a-z_]+$'),
  row_count bigint NOT NULL CHECK (row_count > 0),
  -- The first row numbers (1-based record numbers after any header); `row_count` is exact.
  row_numbers jsonb NOT NULL,
  rule text NOT NULL,
  PRIMARY KEY (version_id, reason)
);

-- Exceptions to failing blocking checks, each recorded by a principal the policy allows, with why.
CREATE TABLE dataset_check_overrides (
  version_id text NOT NULL REFERENCES dataset_versions (id),
  check_name text NOT NULL,
  overridden_by text NOT NULL REFERENCES principals (id),
  overridden_at timestamptz NOT NULL,
  reason text NOT NULL CHECK (length(reason) BETWEEN 3 AND 2000),
  PRIMARY KEY (version_id, check_name),
  FOREIGN KEY (version_id, check_name) REFERENCES dataset_checks (version_id, name)
);

-- The subject index (GDPR Art. 17 erasure requests): salted SHA-256 of each subject id, never the id.
CREATE TABLE dataset_subjects (
  subject_hash bytea NOT NULL CHECK (length(subject_hash) = 32),
  version_id text NOT NULL REFERENCES dataset_versions (id),
  PRIMARY KEY (subject_hash, version_id)
);

-- Per-installation secrets of the data module (the subject-index salt). Never exported as evidence.
CREATE TABLE data_secrets (
  name text PRIMARY KEY,
  secret bytea NOT NULL CHECK (length(secret) >= 32),
  created_at timestamptz NOT NULL DEFAULT now()
);
