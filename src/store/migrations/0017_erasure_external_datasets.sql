-- OpenLineage datasets an erasure request reaches: feature tables and extracts that jobs outside
-- Assay (Spark, dbt, Airflow) built from a certified version holding the subject, known to Assay
-- only through the OpenLineage events those jobs reported. Promotion links each certified
-- version to the dataset as OpenLineage names it (lineage.namespace and the dataset's name), so
-- such a job's outputs are downstream of the version; they hold the subject's data as surely as
-- Assay's own derived versions, and the controller must erase there too.

-- How many the request recorded; null for a request filed before they were looked for (it has
-- no rows below, and that is not evidence that there were none).
ALTER TABLE erasure_requests ADD COLUMN external_dataset_count integer CHECK (external_dataset_count >= 0);

-- The external dataset nodes reached, other than Assay's own datasets under lineage.namespace
-- (those are reported as dataset versions). The node keeps its namespace and name for good.
CREATE TABLE erasure_request_external (
  request_id text NOT NULL REFERENCES erasure_requests (id),
  node_id text NOT NULL REFERENCES lineage_nodes (id),
  PRIMARY KEY (request_id, node_id)
);
CREATE INDEX erasure_request_external_by_node ON erasure_request_external (node_id);

-- Evidence, like the hits: never changed or deleted (the guard of 0008_erasure).
CREATE TRIGGER erasure_request_external_immutable BEFORE UPDATE OR DELETE ON erasure_request_external
  FOR EACH ROW EXECUTE FUNCTION erasure_evidence_guard();
