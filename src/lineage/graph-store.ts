import { newId } from '../core/index.js';
import type { Classification } from '../policy/index.js';
import type { Queryable, Tx } from '../store/index.js';
import type { Facets } from './openlineage-event.js';
import type { AssayNodeType, EdgeType, ExternalNodeType, NodeType } from './vocabulary.js';
import { DEFAULT_EXTERNAL_CLASSIFICATION, keptClassificationSql, narrownessSql, replacesRunStateSql } from './vocabulary.js';

/**
 * Writes to the lineage tables, always inside the caller's transaction and always set-based:
 * one statement per kind of row however many rows a change holds (rows travel as one jsonb
 * array through `jsonb_to_recordset`). Rows are written in a fixed order so two concurrent
 * changes lock shared nodes in the same order.
 */

/** A stored node as the writers need it back. */
export interface StoredNode {
  key: number;
  id: string;
  type: NodeType;
  /** This write narrowed the node's classification (its runs may have to follow). */
  raised?: boolean;
}

/** An Assay object to record as a node. */
export interface AssayNodeRow {
  id: string;
  type: AssayNodeType;
  classification: Classification;
  name: string | null;
  attributes: Record<string, unknown>;
}

/** An external node to create or update (see `ExternalNodeChange`). */
export interface ExternalNodeRow {
  type: ExternalNodeType;
  namespace: string;
  name: string;
  classification: Classification | undefined;
  facets: Facets;
  deleted: string[];
  attributes: Record<string, unknown>;
}

/** An edge between stored nodes. */
export interface EdgeRow {
  src: number;
  dst: number;
  type: EdgeType;
  facets: Facets;
}

const KEPT_CLASS = keptClassificationSql('n.classification', 'r.classification');
const REPLACES_RUN_STATE = replacesRunStateSql('n.attributes', 'r.attributes');
/** In an UPDATE's RETURNING: `o` is the row as it was before the statement (a self-join reads the old version). */
const RAISED = 'n.classification <> o.classification AS raised';

/**
 * Creates the external nodes that do not exist yet, then merges every row into its node:
 * facets by name (deleted ones removed), the classification only ever rising, a run's state
 * only when the event is newer than the one stored, or as new and no earlier a stage
 * (`replacesRunStateSql`). Returns each node by `type/namespace/name`.
 */
export async function upsertExternalNodes(tx: Tx, rows: readonly ExternalNodeRow[]): Promise<Map<string, StoredNode>> {
  if (rows.length === 0) return new Map();
  const records = JSON.stringify(
    rows.map((r) => ({ ...r, id: newId('lnd'), classification: r.classification ?? null })),
  );
  const recordset = `jsonb_to_recordset($1::jsonb) AS r(id text, type text, namespace text, name text, classification text, facets jsonb, deleted text[], attributes jsonb)`;
  await tx.query(
    `INSERT INTO lineage_nodes (id, type, namespace, name, classification)
     SELECT r.id, r.type, r.namespace, r.name, COALESCE(r.classification, '${DEFAULT_EXTERNAL_CLASSIFICATION}')
       FROM ${recordset} ORDER BY r.type, r.namespace, r.name
     ON CONFLICT (type, namespace, name) WHERE namespace IS NOT NULL DO NOTHING`,
    [records],
  );
  const updated = await tx.query<StoredNode & { namespace: string; name: string }>(
    `UPDATE lineage_nodes n SET
        facets = (n.facets || r.facets) - r.deleted,
        classification = ${KEPT_CLASS},
        attributes = CASE WHEN NOT r.attributes ? 'stateAt' OR (n.attributes ->> 'stateAt') IS NULL
                            OR ${REPLACES_RUN_STATE}
                          THEN n.attributes || r.attributes ELSE n.attributes END,
        updated_at = now()
       FROM ${recordset}, lineage_nodes o
      WHERE n.type = r.type AND n.namespace = r.namespace AND n.name = r.name AND n.namespace IS NOT NULL AND o.key = n.key
      RETURNING n.key, n.id, n.type, n.namespace, n.name, ${RAISED}`,
    [records],
  );
  return new Map(updated.rows.map((n) => [`${n.type}\u0000${n.namespace}\u0000${n.name}`, { key: n.key, id: n.id, type: n.type, raised: n.raised }]));
}

/**
 * Creates or updates Assay object nodes by id: the classification only rises, a given name
 * replaces the label, attributes merge. Returns the stored nodes by id; a node whose id is
 * already recorded with another type is left out (the caller reports it).
 */
export async function upsertAssayNodes(tx: Tx, rows: readonly AssayNodeRow[]): Promise<Map<string, StoredNode>> {
  if (rows.length === 0) return new Map();
  const records = JSON.stringify(rows);
  const recordset = `jsonb_to_recordset($1::jsonb) AS r(id text, type text, classification text, name text, attributes jsonb)`;
  await tx.query(
    `INSERT INTO lineage_nodes (id, type, name, classification, attributes)
     SELECT r.id, r.type, r.name, r.classification, r.attributes FROM ${recordset} ORDER BY r.id
     ON CONFLICT (id) DO NOTHING`,
    [records],
  );
  const updated = await tx.query<StoredNode>(
    `UPDATE lineage_nodes n SET
        classification = ${KEPT_CLASS},
        name = COALESCE(r.name, n.name),
        attributes = n.attributes || r.attributes,
        updated_at = now()
       FROM ${recordset}, lineage_nodes o
      WHERE n.id = r.id AND n.type = r.type AND o.key = n.key
      RETURNING n.key, n.id, n.type, ${RAISED}`,
    [records],
  );
  return new Map(updated.rows.map((n) => [n.id, n]));
}

/**
 * A run is part of its job: it shows the job's namespace, and whoever may not see the job
 * must not see its runs either. So a run at the end of a `run_of` edge is raised to the
 * narrowest of its own classification and its jobs' (`narrownessSql`), whichever event or
 * change classified either: the runs among `nodes` (this change wrote them and their edges),
 * and every run of the `raised` jobs (this change narrowed them). Only ever a rise.
 */
export async function inheritJobClassification(tx: Tx, touched: { nodes: readonly number[]; raised: readonly number[] }): Promise<void> {
  if (touched.nodes.length === 0 && touched.raised.length === 0) return;
  await tx.query(
    `UPDATE lineage_nodes run SET classification = job.classification, updated_at = now()
       FROM (SELECT e.dst AS key, (array_agg(j.classification ORDER BY ${narrownessSql('j.classification')} DESC))[1] AS classification
               FROM lineage_edges e JOIN lineage_nodes j ON j.key = e.src
              WHERE e.type = 'run_of' AND (e.dst = ANY ($1::bigint[]) OR e.src = ANY ($2::bigint[]))
              GROUP BY e.dst) job
      WHERE run.key = job.key AND ${narrownessSql('job.classification')} > ${narrownessSql('run.classification')}`,
    [touched.nodes, touched.raised],
  );
}

/** The stored nodes with these ids (absent ids are simply missing from the answer). */
export async function nodesById(db: Queryable, ids: readonly string[]): Promise<Map<string, StoredNode>> {
  if (ids.length === 0) return new Map();
  const r = await db.query<StoredNode>('SELECT key, id, type FROM lineage_nodes WHERE id = ANY($1::text[])', [ids]);
  return new Map(r.rows.map((n) => [n.id, n]));
}

/** Adds edges; an edge already there keeps its place and gains any new facets. */
export async function insertEdges(tx: Tx, rows: readonly EdgeRow[]): Promise<void> {
  if (rows.length === 0) return;
  await tx.query(
    `INSERT INTO lineage_edges AS e (src, dst, type, facets)
     SELECT r.src, r.dst, r.type, r.facets
       FROM jsonb_to_recordset($1::jsonb) AS r(src bigint, dst bigint, type text, facets jsonb)
      ORDER BY r.src, r.dst, r.type
     ON CONFLICT (src, dst, type) DO UPDATE SET facets = e.facets || EXCLUDED.facets
      WHERE EXCLUDED.facets <> '{}'::jsonb`,
    [JSON.stringify(rows)],
  );
}
