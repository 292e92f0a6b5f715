-- The sequencing queue carries no constraints of its own. Its only writer is appendAuditEntry,
-- which inserts the entry and its queue row in one statement, and the sequencer checks what
-- matters where it lasts: audit_leaves.entry_id is UNIQUE and REFERENCES audit_entries, so an
-- entry is sequenced once and only an existing entry becomes a leaf. The queue's own foreign
-- key and unique index repeated those checks on every audited change (a trigger and an index
-- insert per append: about 15% of an append on the embedded database).
ALTER TABLE audit_pending DROP CONSTRAINT audit_pending_entry_id_fkey;
ALTER TABLE audit_pending DROP CONSTRAINT audit_pending_entry_id_key;
