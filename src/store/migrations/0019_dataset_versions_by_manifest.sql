-- Whether a blob is still referenced (before a failing request or the pending-blob sweep deletes
-- it) asks for the snapshot, certified Parquet and manifest digests at once; the first two were
-- indexed, the manifest's was not, so every such check read the whole table.
CREATE INDEX dataset_versions_by_manifest ON dataset_versions (manifest_sha256);
