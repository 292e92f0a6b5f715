-- The OpenLineage dataset a version's file was exported from (a warehouse table that Airflow,
-- Spark or dbt report), named at ingest by namespace and name: both or neither. Lineage links
-- it to the version (`derived`), so an upstream walk from the version reaches the jobs that
-- wrote the table. Limits as OpenLineage intake keys nodes (src/lineage/openlineage-validation.ts).
ALTER TABLE dataset_versions
  ADD COLUMN source_dataset_namespace text CHECK (octet_length(source_dataset_namespace) BETWEEN 1 AND 500),
  ADD COLUMN source_dataset_name text CHECK (octet_length(source_dataset_name) BETWEEN 1 AND 1500),
  ADD CONSTRAINT dataset_versions_source_dataset_whole CHECK ((source_dataset_namespace IS NULL) = (source_dataset_name IS NULL));

-- Recorded at ingest like the source system, so as immutable as it (0007's guard, with them).
CREATE OR REPLACE FUNCTION dataset_versions_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'dataset versions are evidence and are never deleted';
  END IF;
  IF OLD.state <> 'quarantine' OR NEW.state <> 'certified'
     OR (NEW.id, NEW.dataset_id, NEW.version, NEW.format, NEW.snapshot_sha256, NEW.snapshot_size, NEW.source_system,
         NEW.classification, NEW.ingested_by, NEW.ingested_at, NEW.row_count, NEW.schema, NEW.profile,
         NEW.source_dataset_namespace, NEW.source_dataset_name)
        IS DISTINCT FROM
        (OLD.id, OLD.dataset_id, OLD.version, OLD.format, OLD.snapshot_sha256, OLD.snapshot_size, OLD.source_system,
         OLD.classification, OLD.ingested_by, OLD.ingested_at, OLD.row_count, OLD.schema, OLD.profile,
         OLD.source_dataset_namespace, OLD.source_dataset_name) THEN
    RAISE EXCEPTION 'a dataset version changes only once, from quarantine to certified';
  END IF;
  RETURN NEW;
END $$;
