-- The verifiable audit log (RFC 9162 Merkle tree over audit_entries).

-- Entries committed but not yet sequenced into the tree. A queue, not evidence: the
-- sequencer deletes what it sequences in the same transaction that writes the leaves.
CREATE TABLE audit_pending (
  seq bigserial PRIMARY KEY,
  entry_id text NOT NULL UNIQUE REFERENCES audit_entries (id)
);

-- One leaf per sequenced entry, consecutive indexes from 0. `leaf` holds the exact leaf
-- bytes (RFC 8785 canonical JSON of the entry with its index); `leaf_hash` = SHA-256(0x00 ‖ leaf).
CREATE TABLE audit_leaves (
  idx bigint PRIMARY KEY CHECK (idx >= 0),
  entry_id text NOT NULL UNIQUE REFERENCES audit_entries (id),
  leaf bytea NOT NULL,
  leaf_hash bytea NOT NULL CHECK (length(leaf_hash) = 32)
);

-- Hashes of aligned perfect subtrees above the leaves: (level L ≥ 1, idx i) covers leaves
-- [i·2^L, (i+1)·2^L). Proofs read O(log n) of these; the log is never loaded whole.
CREATE TABLE audit_tree (
  level smallint NOT NULL CHECK (level >= 1),
  idx bigint NOT NULL CHECK (idx >= 0),
  hash bytea NOT NULL CHECK (length(hash) = 32),
  PRIMARY KEY (level, idx)
);

-- The sequencer's state: origin of this log, its size and compact range (frontier).
CREATE TABLE audit_log_state (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  origin text NOT NULL,
  size bigint NOT NULL DEFAULT 0,
  frontier jsonb NOT NULL DEFAULT '{"size": 0, "hashes": []}'::jsonb,
  updated_at timestamptz NOT NULL DEFAULT now()
);
-- The origin names this log instance in every checkpoint (C2SP tlog-checkpoint line 1).
INSERT INTO audit_log_state (origin)
  VALUES ('assay/' || substr(md5(random()::text || clock_timestamp()::text), 1, 16));

-- Every signed checkpoint, kept forever.
CREATE TABLE audit_checkpoints (
  size bigint PRIMARY KEY CHECK (size >= 0),
  root_hash bytea NOT NULL CHECK (length(root_hash) = 32),
  note text NOT NULL,
  key_id text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- The tree tables are append-only too.
CREATE TRIGGER audit_leaves_no_update BEFORE UPDATE OR DELETE ON audit_leaves
  FOR EACH ROW EXECUTE FUNCTION audit_entries_append_only();
CREATE TRIGGER audit_tree_no_update BEFORE UPDATE OR DELETE ON audit_tree
  FOR EACH ROW EXECUTE FUNCTION audit_entries_append_only();
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE OR DELETE ON audit_checkpoints
  FOR EACH ROW EXECUTE FUNCTION audit_entries_append_only();
