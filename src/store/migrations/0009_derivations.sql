-- Derived datasets (issue 5): a feature table is a dataset version like any other (uploaded,
-- quarantined, certified), and it also records what it was built from: the certified input
-- versions, the transformation code's SHA-256 and the parameters. The derivation is inserted in
-- the version's own transaction, so a derived version never exists without it; like the
-- version, it is evidence and never changes.

CREATE TABLE dataset_derivations (
  version_id text PRIMARY KEY REFERENCES dataset_versions (id),
  -- SHA-256 of the transformation code (a script, a notebook, a container's source archive).
  code_sha256 text NOT NULL CHECK (code_sha256 ~ '^[0-9a-f]{64}$'),
  -- Where the code lives (a repository at a commit, a path), when the deriver said.
  code_uri text CHECK (length(code_uri) BETWEEN 1 AND 2000),
  -- The transformation's name, e.g. the script's file name.
  transform text CHECK (length(transform) BETWEEN 1 AND 200),
  -- The parameters as given (a JSON object), and the SHA-256 of their RFC 8785 canonical JSON.
  parameters jsonb NOT NULL CHECK (jsonb_typeof(parameters) = 'object'),
  parameters_sha256 text NOT NULL CHECK (parameters_sha256 ~ '^[0-9a-f]{64}$')
);

-- The certified versions a derived version was built from, in the order the deriver named them.
CREATE TABLE dataset_derivation_inputs (
  version_id text NOT NULL REFERENCES dataset_derivations (version_id),
  input_version_id text NOT NULL REFERENCES dataset_versions (id),
  position integer NOT NULL CHECK (position >= 0),
  PRIMARY KEY (version_id, input_version_id),
  UNIQUE (version_id, position),
  CHECK (version_id <> input_version_id)
);
-- Downstream questions ("which feature tables were built from this version?") read this one.
CREATE INDEX dataset_derivation_inputs_by_input ON dataset_derivation_inputs (input_version_id);

-- Whatever path wrote it, only certified data feeds a derivation, and never the derived dataset's own.
CREATE FUNCTION dataset_derivation_inputs_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  input_state text;
  input_dataset text;
  derived_dataset text;
BEGIN
  SELECT state, dataset_id INTO input_state, input_dataset FROM dataset_versions WHERE id = NEW.input_version_id;
  SELECT dataset_id INTO derived_dataset FROM dataset_versions WHERE id = NEW.version_id;
  IF input_state IS DISTINCT FROM 'certified' THEN
    RAISE EXCEPTION 'a derivation input must be a certified dataset version (% is %)', NEW.input_version_id, coalesce(input_state, 'missing');
  END IF;
  IF input_dataset = derived_dataset THEN
    RAISE EXCEPTION 'a dataset is never derived from itself';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER dataset_derivation_inputs_certified BEFORE INSERT ON dataset_derivation_inputs
  FOR EACH ROW EXECUTE FUNCTION dataset_derivation_inputs_guard();

-- A derivation is evidence of what a feature table rests on: never edited, never deleted.
CREATE FUNCTION dataset_derivations_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'dataset derivations are evidence and never change';
END $$;
CREATE TRIGGER dataset_derivations_immutable BEFORE UPDATE OR DELETE ON dataset_derivations
  FOR EACH ROW EXECUTE FUNCTION dataset_derivations_immutable();
CREATE TRIGGER dataset_derivation_inputs_immutable BEFORE UPDATE OR DELETE ON dataset_derivation_inputs
  FOR EACH ROW EXECUTE FUNCTION dataset_derivations_immutable();
