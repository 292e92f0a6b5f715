-- Audit payload bytes a request is about to store, recorded before it stores them.
-- recordPendingAuditPayload writes the row, committed on its own, before the caller's
-- transaction opens; storeAuditPayload writes the bytes and the audit_payloads row in that
-- transaction and deletes the record there, so a commit clears it and a rollback or a process
-- that dies keeps it. A record older than the grace therefore names bytes that no transaction
-- will still commit a row for, and the stray sweep looks only at those hashes: it never lists
-- the payload store, which can hold millions of objects on S3. It removes the bytes, under the
-- hash's advisory lock, when no stored payload admits to them and no other request claims them.
CREATE TABLE audit_payload_pending (
  sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  -- One request's claim (a UUID); the one-off listing of earlier releases' strays records
  -- under 'legacy-listing', and the marks earlier sweeps left under 'legacy-mark'.
  claim_id text NOT NULL,
  recorded_at timestamptz NOT NULL,
  PRIMARY KEY (claim_id, sha256)
);
CREATE INDEX audit_payload_pending_by_hash ON audit_payload_pending (sha256);
CREATE INDEX audit_payload_pending_by_time ON audit_payload_pending (recorded_at);

-- Marks earlier sweeps left keep the time their bytes were first seen unreferenced: the grace
-- counts from then, as it did.
INSERT INTO audit_payload_pending (sha256, claim_id, recorded_at)
  SELECT sha256, 'legacy-mark', first_seen_at FROM audit_payload_strays;
DROP TABLE audit_payload_strays;

-- Bytes an earlier release left (a rolled-back store before pending records existed) have no
-- record: the sweep lists the store once to record them, then never again. This row says that
-- listing finished, and which audit entry says so.
CREATE TABLE audit_payload_legacy_listing (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  completed_at timestamptz NOT NULL,
  listed bigint NOT NULL,
  recorded bigint NOT NULL,
  entry_id text NOT NULL
);
