-- Sensitive payloads (request and response bodies, evidence documents) live apart from the
-- audit entries that reference them by SHA-256, in a blob store of their own. Erasure
-- (GDPR Art. 17) and the retention purge remove a payload's bytes; its row, and so its hash,
-- stays, and audit entries are never deleted, so the Merkle tree still verifies.
CREATE TABLE audit_payloads (
  sha256 text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  class text NOT NULL CHECK (class ~ '^[a-z][a-z0-9_]{0,62}$'),
  media_type text NOT NULL CHECK (length(media_type) BETWEEN 1 AND 255),
  size bigint NOT NULL CHECK (size >= 0),
  -- Data subjects the bytes concern, for GDPR lookups; identical bytes may concern several.
  subject_ids text[] NOT NULL DEFAULT '{}',
  stored_at timestamptz NOT NULL,
  -- Immediately available until (PCI DSS 10.5.1), kept at least until (erasure before it needs
  -- an override), purged after (GDPR Art. 5(1)(e)). A later store of the same bytes only
  -- pushes these out, never in.
  hot_until timestamptz NOT NULL,
  retain_until timestamptz NOT NULL,
  purge_after timestamptz NOT NULL,
  erased_at timestamptz,
  erased_by text,
  erase_entry_id text REFERENCES audit_entries (id),
  purged_at timestamptz,
  purge_entry_id text REFERENCES audit_entries (id),
  CHECK (stored_at <= hot_until AND hot_until <= retain_until AND retain_until <= purge_after),
  CHECK ((erased_at IS NULL) = (erased_by IS NULL) AND (erased_at IS NULL) = (erase_entry_id IS NULL)),
  CHECK ((purged_at IS NULL) = (purge_entry_id IS NULL)),
  CHECK (erased_at IS NULL OR purged_at IS NULL)
);
-- The purge's work list: live payloads by deadline.
CREATE INDEX audit_payloads_purge ON audit_payloads (purge_after) WHERE erased_at IS NULL AND purged_at IS NULL;
CREATE INDEX audit_payloads_subjects ON audit_payloads USING gin (subject_ids);

-- Legal holds: while one is active (not released), no payload in its scope is erased or purged.
-- `scope` holds any of: classes (array), subjectId, resource {type, id} (payloads referenced by
-- that resource's entries), storedFrom, storedTo (ISO-8601, on stored_at); none = everything.
CREATE TABLE audit_legal_holds (
  id text PRIMARY KEY CHECK (id ~ '^hold_[0-9A-Z]{26}$'),
  case_id text NOT NULL CHECK (length(case_id) BETWEEN 1 AND 200),
  scope jsonb NOT NULL CHECK (jsonb_typeof(scope) = 'object'),
  reason text NOT NULL CHECK (length(reason) > 0),
  placed_by text NOT NULL,
  placed_at timestamptz NOT NULL,
  place_entry_id text NOT NULL REFERENCES audit_entries (id),
  released_at timestamptz,
  released_by text,
  release_reason text,
  release_entry_id text REFERENCES audit_entries (id),
  CHECK (
    (released_at IS NULL) = (released_by IS NULL)
    AND (released_at IS NULL) = (release_reason IS NULL)
    AND (released_at IS NULL) = (release_entry_id IS NULL)
  )
);
CREATE INDEX audit_legal_holds_active ON audit_legal_holds (placed_at) WHERE released_at IS NULL;

-- Hold scopes by resource look up that resource's entries; so does the entry search.
CREATE INDEX audit_entries_resource_id ON audit_entries ((resource ->> 'id'));

-- A payload row changes only by erasure (once, final), by purge (once; a later store of the
-- same bytes starts it afresh), or by a later store pushing its deadlines out. Never deleted.
CREATE FUNCTION audit_payloads_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'audit_payloads rows are never deleted; erase or purge the bytes instead'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF OLD.erased_at IS NOT NULL
     OR NEW.sha256 <> OLD.sha256 OR NEW.class <> OLD.class OR NEW.media_type <> OLD.media_type OR NEW.size <> OLD.size
     OR NOT (NEW.subject_ids @> OLD.subject_ids)
     OR NEW.stored_at < OLD.stored_at OR NEW.hot_until < OLD.hot_until
     OR NEW.retain_until < OLD.retain_until OR NEW.purge_after < OLD.purge_after
     OR (OLD.purged_at IS NOT NULL AND NEW.purged_at IS NOT NULL
         AND (NEW.purged_at <> OLD.purged_at OR NEW.purge_entry_id <> OLD.purge_entry_id))
     OR (OLD.purged_at IS NOT NULL AND NEW.purged_at IS NULL AND NOT (NEW.stored_at > OLD.purged_at))
  THEN
    RAISE EXCEPTION 'audit_payloads % may change only by erasure, purge, or a later store extending its retention', OLD.sha256
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END;
$$;
CREATE TRIGGER audit_payloads_guard BEFORE UPDATE OR DELETE ON audit_payloads
  FOR EACH ROW EXECUTE FUNCTION audit_payloads_guard();

-- A hold is never edited or deleted; it is released once, and then stays as it is.
CREATE FUNCTION audit_legal_holds_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' OR OLD.released_at IS NOT NULL OR NEW.released_at IS NULL
     OR NEW.id <> OLD.id OR NEW.case_id <> OLD.case_id OR NEW.scope <> OLD.scope OR NEW.reason <> OLD.reason
     OR NEW.placed_by <> OLD.placed_by OR NEW.placed_at <> OLD.placed_at OR NEW.place_entry_id <> OLD.place_entry_id
  THEN
    RAISE EXCEPTION 'legal holds are never edited or deleted; an active hold may be released once'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END;
$$;
CREATE TRIGGER audit_legal_holds_guard BEFORE UPDATE OR DELETE ON audit_legal_holds
  FOR EACH ROW EXECUTE FUNCTION audit_legal_holds_guard();
