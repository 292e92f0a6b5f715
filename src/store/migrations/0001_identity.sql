-- Principals and their API tokens. Tokens are stored only as SHA-256 of the secret.
CREATE TABLE principals (
  id text PRIMARY KEY,
  name text NOT NULL UNIQUE,
  kind text NOT NULL CHECK (kind IN ('human', 'service', 'agent')),
  roles text[] NOT NULL DEFAULT '{}',
  attributes jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  created_by text REFERENCES principals (id),
  disabled_at timestamptz
);

CREATE TABLE api_tokens (
  id text PRIMARY KEY,
  principal_id text NOT NULL REFERENCES principals (id),
  name text NOT NULL,
  token_sha256 text NOT NULL UNIQUE CHECK (token_sha256 ~ '^[0-9a-f]{64}$'),
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz,
  revoked_at timestamptz,
  last_used_at timestamptz
);
CREATE INDEX api_tokens_principal ON api_tokens (principal_id);

-- Append-only record of every state change, written in the same transaction as the change.
CREATE TABLE audit_entries (
  id text PRIMARY KEY,
  recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  actor jsonb NOT NULL,
  action text NOT NULL,
  resource jsonb NOT NULL,
  decision jsonb NOT NULL,
  outcome text NOT NULL,
  reason text,
  request_id text,
  payload_refs jsonb NOT NULL DEFAULT '[]'::jsonb
);
CREATE INDEX audit_entries_action ON audit_entries (action, recorded_at);

-- Entries are never updated or deleted: enforced in the database, not only in code.
CREATE FUNCTION audit_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_entries_no_update BEFORE UPDATE OR DELETE ON audit_entries
  FOR EACH ROW EXECUTE FUNCTION audit_entries_append_only();
