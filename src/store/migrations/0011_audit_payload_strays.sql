-- Bytes in the audit payload store that no audit_payloads row admits to. storeAuditPayload
-- writes the bytes before its row, in the caller's transaction; when that transaction rolls
-- back the bytes stay behind, unknown to retention and to erasure. The sweep marks such a blob
-- here when it first sees it and removes it once the mark is older than any transaction could
-- be. storeAuditPayload deletes the mark of the bytes it stores, in its own transaction,
-- before writing them: the row lock orders it against a sweep deleting the same bytes.
CREATE TABLE audit_payload_strays (
  sha256 text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  first_seen_at timestamptz NOT NULL
);
