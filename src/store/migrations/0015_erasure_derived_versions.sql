-- Derived dataset versions (feature tables) an erasure request reaches: every dataset version
-- downstream of its hits in the lineage graph (input, output and derived edges, any depth), other
-- than the hits. A feature table built from data holding the subject usually holds the subject's
-- data too, often without a subject index of its own, so the index alone never finds it.

-- How many the request recorded; null for a request filed before derived versions were looked
-- for (it has no rows below, and that is not evidence that there were none).
ALTER TABLE erasure_requests ADD COLUMN derived_version_count integer CHECK (derived_version_count >= 0);

-- The derived versions, with the state each was in when the request was recorded. A version the
-- subject index found is a hit (erasure_request_hits), never also listed here.
CREATE TABLE erasure_request_derived (
  request_id text NOT NULL REFERENCES erasure_requests (id),
  version_id text NOT NULL REFERENCES dataset_versions (id),
  state text NOT NULL CHECK (state IN ('quarantine', 'certified')),
  PRIMARY KEY (request_id, version_id)
);
CREATE INDEX erasure_request_derived_by_version ON erasure_request_derived (version_id);

-- Evidence, like the hits: never changed or deleted (the guard of 0008_erasure).
CREATE TRIGGER erasure_request_derived_immutable BEFORE UPDATE OR DELETE ON erasure_request_derived
  FOR EACH ROW EXECUTE FUNCTION erasure_evidence_guard();
