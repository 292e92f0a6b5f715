-- Lineage (issue 5): one graph of where data and models came from and where they went.
-- Assay's own objects (raw snapshots, dataset versions, jobs, runs, model versions,
-- deployments, inferences) are nodes under their Assay id; OpenLineage datasets, jobs and
-- runs reported by Airflow, Spark, dbt… are nodes keyed by namespace and name. Every edge
-- points downstream, the way data flows, so "upstream" and "downstream" are the two
-- directions of one index each.

CREATE TABLE lineage_nodes (
  -- Internal surrogate: edges and traversals use it, so a walk compares 8-byte integers.
  key bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- What the API shows: the Assay id (dsv_…, run_…), or a minted lnd_… for external nodes.
  id text NOT NULL UNIQUE CHECK (length(id) BETWEEN 1 AND 200),
  type text NOT NULL CHECK (type IN (
    'raw_snapshot', 'dataset_version', 'job', 'run', 'model_version', 'deployment', 'inference',
    'external_dataset', 'external_job', 'external_run')),
  -- External nodes only: the OpenLineage namespace (a run's is its job's; its name is the runId).
  namespace text CHECK (octet_length(namespace) BETWEEN 1 AND 500),
  -- External nodes: the OpenLineage name; Assay nodes: an optional label (e.g. the dataset's name).
  name text CHECK (octet_length(name) BETWEEN 1 AND 1500),
  -- The lineage domain: who may see the node. It only ever rises (see src/lineage/vocabulary.ts).
  classification text NOT NULL CHECK (classification IN ('public', 'internal', 'confidential', 'PII', 'PHI', 'PCI')),
  -- OpenLineage facets by name, latest value of each (column-level lineage included).
  facets jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(facets) = 'object'),
  -- Assay-side facts: a run's latest state and its time, a label's source, …
  attributes jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(attributes) = 'object'),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK ((type LIKE 'external\_%') = (namespace IS NOT NULL)),
  CHECK (namespace IS NULL OR name IS NOT NULL)
);
-- External nodes are found (and merged) by what OpenLineage calls them.
CREATE UNIQUE INDEX lineage_nodes_external ON lineage_nodes (type, namespace, name) WHERE namespace IS NOT NULL;

CREATE TABLE lineage_edges (
  -- Upstream end → downstream end.
  src bigint NOT NULL REFERENCES lineage_nodes (key),
  dst bigint NOT NULL REFERENCES lineage_nodes (key),
  type text NOT NULL CHECK (type IN ('promoted', 'derived', 'input', 'output', 'run_of', 'parent', 'deployed', 'served')),
  -- OpenLineage input or output facets of this run's use of this dataset.
  facets jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(facets) = 'object'),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (src, dst, type),
  CHECK (src <> dst)
);
-- Downstream walks read the primary key (src, …); upstream walks read this one. Both hold
-- every column a walk needs, so each step is an index-only scan.
CREATE INDEX lineage_edges_upstream ON lineage_edges (dst, src, type);

-- One lineage walk, upstream or downstream from one node: the recursive part of every graph
-- question (src/lineage/graph-query.ts). It is a PL/pgSQL function so that each connection
-- plans these statements once and reuses the plan: planning the walk costs more than running it.
--   p_start    key of the start node          p_depth  steps to walk (≥ 0)
--   p_visible  classifications the viewer may see: a node of another one is counted in
--              `withheld`, never expanded, never shown
--   p_steps    bound on the walk's rows: PostgreSQL reads the recursion lazily and stops there
--   p_cap      most nodes to show, nearest first
-- Answers {"steps", "withheld": [keys], "reached", "nodes": [[key, id, type, namespace, name,
-- classification, distance]…], "edges": [[src, dst, type]…]}: the edges of the shown nodes in
-- the walk's direction (the caller keeps those whose other end is shown too). Each row of the
-- walk is a (node, depth) pair, deduplicated, so a cycle ends at the depth bound.
CREATE FUNCTION lineage_walk(p_start bigint, p_depth integer, p_visible text[], p_steps integer, p_cap integer, p_upstream boolean)
RETURNS json LANGUAGE plpgsql STABLE AS $$
DECLARE
  answer json;
BEGIN
  IF p_upstream THEN
    WITH RECURSIVE walk (node, depth, visible) AS (
        SELECT p_start, 0, true
      UNION
        SELECT e.src, w.depth + 1, (SELECT n.classification FROM lineage_nodes n WHERE n.key = e.src) = ANY (p_visible)
          FROM walk w JOIN lineage_edges e ON e.dst = w.node
         WHERE w.visible AND w.depth < p_depth
    ),
    steps AS MATERIALIZED (SELECT * FROM walk LIMIT p_steps),
    shown AS MATERIALIZED (SELECT node, min(depth) AS distance FROM steps WHERE visible GROUP BY node ORDER BY 2, 1 LIMIT p_cap)
    SELECT json_build_object(
      'steps', (SELECT count(*) FROM steps),
      'withheld', (SELECT coalesce(json_agg(DISTINCT node), '[]') FROM steps WHERE NOT visible),
      'reached', (SELECT count(DISTINCT node) FROM steps WHERE visible),
      'nodes', (SELECT json_agg(json_build_array(n.key, n.id, n.type, n.namespace, n.name, n.classification, s.distance))
                  FROM shown s JOIN lineage_nodes n ON n.key = s.node),
      'edges', (SELECT coalesce(json_agg(json_build_array(e.src, e.dst, e.type)), '[]')
                  FROM shown s JOIN lineage_edges e ON e.dst = s.node))
      INTO answer;
  ELSE
    WITH RECURSIVE walk (node, depth, visible) AS (
        SELECT p_start, 0, true
      UNION
        SELECT e.dst, w.depth + 1, (SELECT n.classification FROM lineage_nodes n WHERE n.key = e.dst) = ANY (p_visible)
          FROM walk w JOIN lineage_edges e ON e.src = w.node
         WHERE w.visible AND w.depth < p_depth
    ),
    steps AS MATERIALIZED (SELECT * FROM walk LIMIT p_steps),
    shown AS MATERIALIZED (SELECT node, min(depth) AS distance FROM steps WHERE visible GROUP BY node ORDER BY 2, 1 LIMIT p_cap)
    SELECT json_build_object(
      'steps', (SELECT count(*) FROM steps),
      'withheld', (SELECT coalesce(json_agg(DISTINCT node), '[]') FROM steps WHERE NOT visible),
      'reached', (SELECT count(DISTINCT node) FROM steps WHERE visible),
      'nodes', (SELECT json_agg(json_build_array(n.key, n.id, n.type, n.namespace, n.name, n.classification, s.distance))
                  FROM shown s JOIN lineage_nodes n ON n.key = s.node),
      'edges', (SELECT coalesce(json_agg(json_build_array(e.src, e.dst, e.type)), '[]')
                  FROM shown s JOIN lineage_edges e ON e.src = s.node))
      INTO answer;
  END IF;
  RETURN answer;
END
$$;

-- Every accepted OpenLineage event as it was sent (nothing is lost by merging into the graph),
-- with the audit entry that recorded its acceptance.
CREATE TABLE lineage_events (
  id text PRIMARY KEY,
  received_at timestamptz NOT NULL,
  kind text NOT NULL CHECK (kind IN ('RunEvent', 'DatasetEvent', 'JobEvent')),
  event_type text,
  event_time timestamptz NOT NULL,
  producer text NOT NULL,
  run_id text,
  job_namespace text,
  job_name text,
  dataset_namespace text,
  dataset_name text,
  -- SHA-256 of the event's RFC 8785 canonical JSON.
  sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  event jsonb NOT NULL CHECK (jsonb_typeof(event) = 'object'),
  principal_id text NOT NULL REFERENCES principals (id),
  audit_entry_id text NOT NULL REFERENCES audit_entries (id),
  request_id text
);
CREATE INDEX lineage_events_by_run ON lineage_events (run_id) WHERE run_id IS NOT NULL;
CREATE INDEX lineage_events_by_job ON lineage_events (job_namespace, job_name) WHERE job_namespace IS NOT NULL;
CREATE INDEX lineage_events_by_dataset ON lineage_events (dataset_namespace, dataset_name) WHERE dataset_namespace IS NOT NULL;
