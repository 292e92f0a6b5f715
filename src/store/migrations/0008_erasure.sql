-- Erasure requests (GDPR Art. 17, issue 5): who asked for a data subject's erasure, when and
-- why; every dataset version the subject index found the subject in; every model version
-- downstream of those in the lineage graph; and the models flagged `retrain_required`. The
-- subject is known here only by the salted hash the subject index uses (dataset_subjects),
-- never by its id. Rows are never deleted: a request is evidence that it was received and
-- what it reached, whatever happens to the data afterwards.

CREATE TABLE erasure_requests (
  id text PRIMARY KEY CHECK (id ~ '^era_[0-9A-Z]{26}$'),
  -- SHA-256(salt hex ‖ ':' ‖ subject id), as in dataset_subjects. Never the id itself.
  subject_hash bytea NOT NULL CHECK (length(subject_hash) = 32),
  requested_by text NOT NULL REFERENCES principals (id),
  requested_at timestamptz NOT NULL,
  -- Why, and on which legal basis (e.g. "Art. 17(1)(b): consent withdrawn, ticket DSR-2031-7").
  reason text NOT NULL CHECK (length(reason) BETWEEN 3 AND 2000),
  -- open: recorded, versions found and models flagged; completed (the data was erased and the
  -- models retrained) and refused (an Art. 17(3) exemption) are set once, by later workflows.
  status text NOT NULL CHECK (status IN ('open', 'completed', 'refused')),
  -- The site's policy when the request was recorded (config data.erasureFlagsModels).
  flags_models boolean NOT NULL,
  dataset_version_count integer NOT NULL CHECK (dataset_version_count >= 0),
  model_count integer NOT NULL CHECK (model_count >= 0),
  flagged_count integer NOT NULL CHECK (flagged_count >= 0 AND flagged_count <= model_count),
  CHECK (flags_models OR flagged_count = 0)
);
CREATE INDEX erasure_requests_by_subject ON erasure_requests (subject_hash);
CREATE INDEX erasure_requests_by_time ON erasure_requests (requested_at, id);

-- The dataset versions holding the subject when the request was recorded, with the state each was in then.
CREATE TABLE erasure_request_hits (
  request_id text NOT NULL REFERENCES erasure_requests (id),
  version_id text NOT NULL REFERENCES dataset_versions (id),
  state text NOT NULL CHECK (state IN ('quarantine', 'certified')),
  PRIMARY KEY (request_id, version_id)
);
CREATE INDEX erasure_request_hits_by_version ON erasure_request_hits (version_id);

-- The model versions downstream of those dataset versions (lineage input/output/derived edges,
-- any depth), with the lineage node's label when the request was recorded.
CREATE TABLE erasure_request_models (
  request_id text NOT NULL REFERENCES erasure_requests (id),
  model_node_id text NOT NULL REFERENCES lineage_nodes (id),
  model_name text,
  PRIMARY KEY (request_id, model_node_id)
);

-- Models that must be retrained without the subject's data, one row per model and request
-- that flagged it. The model registry reads these; a later state ends a flag by a new migration.
CREATE TABLE model_retrain_flags (
  model_node_id text NOT NULL REFERENCES lineage_nodes (id),
  erasure_request_id text NOT NULL,
  flagged_at timestamptz NOT NULL,
  state text NOT NULL CHECK (state IN ('retrain_required')),
  PRIMARY KEY (model_node_id, erasure_request_id),
  -- A flag names a model the request found.
  FOREIGN KEY (erasure_request_id, model_node_id) REFERENCES erasure_request_models (request_id, model_node_id)
);
CREATE INDEX model_retrain_flags_by_request ON model_retrain_flags (erasure_request_id);

-- Evidence is never deleted, and only a request's status ever changes (once, from open).
CREATE FUNCTION erasure_evidence_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION '% rows are evidence of an erasure request and are never deleted', TG_TABLE_NAME;
  END IF;
  -- Nested: PL/pgSQL does not promise to stop at the first false operand of AND.
  IF TG_TABLE_NAME = 'erasure_requests' THEN
    IF (to_jsonb(OLD) ->> 'status') = 'open' AND (to_jsonb(NEW) ->> 'status') <> 'open'
       AND (to_jsonb(NEW) - 'status') = (to_jsonb(OLD) - 'status') THEN
      RETURN NEW;
    END IF;
  END IF;
  RAISE EXCEPTION '% rows are evidence of an erasure request and are not changed', TG_TABLE_NAME;
END $$;
DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['erasure_requests', 'erasure_request_hits', 'erasure_request_models', 'model_retrain_flags'] LOOP
    EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OR DELETE ON %I FOR EACH ROW EXECUTE FUNCTION erasure_evidence_guard()', t || '_immutable', t);
  END LOOP;
END $$;
