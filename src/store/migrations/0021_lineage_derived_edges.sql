-- Whether an OpenLineage dataset is one a certified version is (its `derived` edge from an Assay
-- node) is asked for every dataset of every ingested event (src/lineage/sender-clearance.ts) and
-- by erasure requests (src/lineage/downstream.ts). lineage_edges_upstream (dst, src, type) finds
-- a node's incoming edges but not their type: it reads all of them, and a table that an hourly
-- job has written for years has tens of thousands of `output` edges (measured on PostgreSQL 15:
-- 100,000 of them, 30 ms and 499 buffers per event naming the table; 1 ms and 9 with this).
-- The `derived` edges are a handful per certified version, so this index stays small.
CREATE INDEX lineage_edges_derived ON lineage_edges (dst) WHERE type = 'derived';
