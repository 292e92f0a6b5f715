-- Token scopes, OIDC identities and break-glass elevations (issue 4).

-- Scopes narrow what a token may do; existing tokens keep full access (read and write).
ALTER TABLE api_tokens ADD COLUMN scopes text[] NOT NULL DEFAULT ARRAY['read', 'write']::text[];

-- A principal provisioned from an OIDC issuer is identified by (issuer, subject), never by name.
ALTER TABLE principals ADD COLUMN oidc_issuer text;
ALTER TABLE principals ADD COLUMN oidc_subject text;
ALTER TABLE principals ADD CONSTRAINT principals_oidc_pair CHECK ((oidc_issuer IS NULL) = (oidc_subject IS NULL));
CREATE UNIQUE INDEX principals_oidc_identity ON principals (oidc_issuer, oidc_subject) WHERE oidc_issuer IS NOT NULL;

-- Break-glass: a time-boxed elevation with a stated reason. Rows are kept after they end, as evidence.
CREATE TABLE elevations (
  id text PRIMARY KEY,
  principal_id text NOT NULL REFERENCES principals (id),
  reason text NOT NULL CHECK (length(reason) >= 10),
  started_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL CHECK (expires_at > started_at),
  ended_at timestamptz,
  ended_by text REFERENCES principals (id)
);
CREATE INDEX elevations_open ON elevations (principal_id, expires_at) WHERE ended_at IS NULL;
