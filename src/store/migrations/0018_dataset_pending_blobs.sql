-- Dataset blobs a request stored (or is about to store) before the transaction that records a
-- version referencing them. Ingest and promotion write the row, committed on its own, before
-- they store the bytes; the committing transaction deletes it, and so does a failing request as
-- it releases the blob. A row that outlives its request was left by a process that died in
-- between (OOM kill, power loss): the bytes, often raw personal data, are referenced by no
-- version, so no retention rule or erasure request would reach them. The data module's sweep
-- removes such blobs, under the blob's advisory lock, when no version references them and no
-- other request claims them, with an audit entry naming each hash.
CREATE TABLE dataset_pending_blobs (
  sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  -- One request's claim: ingest and promotion each mint one (a UUID) per request.
  claim_id text NOT NULL,
  stored_at timestamptz NOT NULL,
  PRIMARY KEY (claim_id, sha256)
);
CREATE INDEX dataset_pending_blobs_by_hash ON dataset_pending_blobs (sha256);
CREATE INDEX dataset_pending_blobs_by_time ON dataset_pending_blobs (stored_at);
