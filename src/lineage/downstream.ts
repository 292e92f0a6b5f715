import type { Classification } from '../policy/index.js';
import type { Queryable } from '../store/index.js';
import type { EdgeType, NodeType } from './vocabulary.js';

/** A node an exhaustive walk reached. */
export interface ReachedNode {
  id: string;
  type: NodeType;
  /** An external node's OpenLineage namespace; null for Assay's own objects. */
  namespace: string | null;
  name: string | null;
  classification: Classification;
}

/** Where an exhaustive walk starts, which edges it follows and which nodes it answers. */
export interface ReachQuery {
  /** Node ids to start from; ids that are not in the graph start nothing. */
  from: readonly string[];
  /** Edge types followed downstream. */
  through: readonly EdgeType[];
  /** The types of node to answer. */
  types: readonly NodeType[];
  /**
   * A reader's lineage domains (`visibleClassifications`): the walk then starts from, passes
   * through and answers only nodes of these classifications, as `lineageGraph` walks for that
   * reader, so what lies only behind a node outside them is not reached. @default every domain
   */
  visible?: readonly Classification[];
}

/**
 * Every node of `types` downstream of the `from` nodes along `through` edges, at any depth, in
 * id order, the start nodes left out. Unlike `lineageGraph` this has no depth or node cap, and
 * without `visible` it ignores lineage domains, because an obligation (a GDPR erasure request
 * reaching every model trained on a subject's data) must not stop at what one reader may see;
 * with `visible` it answers what that reader may be shown of it. One recursive statement; it
 * ends on cycles because a node is visited once.
 */
export async function reachableDownstream(db: Queryable, q: ReachQuery): Promise<ReachedNode[]> {
  if (q.from.length === 0 || q.through.length === 0 || q.types.length === 0 || q.visible?.length === 0) return [];
  // Only for a reader: the domain check costs a node lookup per edge followed.
  const inDomains = (alias: string): string => (q.visible ? ` AND ${alias}.classification = ANY($4::text[])` : '');
  const r = await db.query<ReachedNode>(
    `WITH RECURSIVE reach (key) AS (
         SELECT n.key FROM lineage_nodes n WHERE n.id = ANY($1::text[])${inDomains('n')}
       UNION
         SELECT e.dst FROM reach r JOIN lineage_edges e ON e.src = r.key${q.visible ? ' JOIN lineage_nodes d ON d.key = e.dst' : ''}
          WHERE e.type = ANY($2::text[])${inDomains('d')}
     )
     SELECT n.id, n.type, n.namespace, n.name, n.classification FROM reach r JOIN lineage_nodes n ON n.key = r.key
      WHERE n.type = ANY($3::text[]) AND NOT (n.id = ANY($1::text[]))
      ORDER BY n.id`,
    q.visible ? [q.from, q.through, q.types, q.visible] : [q.from, q.through, q.types],
  );
  return r.rows;
}

/**
 * Of the nodes `ids`, those a `derived` edge links from one of the `from` nodes: of external
 * datasets, the ones that are, to OpenLineage, the certified dataset versions `from` (promotion
 * links each version to its dataset under `lineage.namespace`, the namespace current then).
 */
export async function derivedFromAny(db: Queryable, q: { ids: readonly string[]; from: readonly string[] }): Promise<Set<string>> {
  if (q.ids.length === 0 || q.from.length === 0) return new Set();
  const r = await db.query<{ id: string }>(
    `SELECT DISTINCT x.id FROM lineage_nodes x
       JOIN lineage_edges e ON e.dst = x.key AND e.type = 'derived'
       JOIN lineage_nodes s ON s.key = e.src
      WHERE x.id = ANY($1::text[]) AND s.id = ANY($2::text[])`,
    [q.ids, q.from],
  );
  return new Set(r.rows.map((row) => row.id));
}

/** An edge from an Assay object to an OpenLineage dataset, by the dataset's namespace and name. */
export interface ExternalLink {
  from: string;
  namespace: string;
  name: string;
}

/** The key `existingLinks` answers a link by. */
export const externalLinkKey = (l: ExternalLink): string => `${l.from}\u0000${l.namespace}\u0000${l.name}`;

/** Which of `links` the graph already holds as an edge of `type` (by `externalLinkKey`). */
export async function existingLinks(db: Queryable, q: { type: EdgeType; links: readonly ExternalLink[] }): Promise<Set<string>> {
  if (q.links.length === 0) return new Set();
  const r = await db.query<ExternalLink>(
    `SELECT s.id AS "from", x.namespace, x.name
       FROM jsonb_to_recordset($1::jsonb) AS l("from" text, namespace text, name text)
       JOIN lineage_nodes s ON s.id = l."from"
       JOIN lineage_nodes x ON x.type = 'external_dataset' AND x.namespace = l.namespace AND x.name = l.name
       JOIN lineage_edges e ON e.src = s.key AND e.dst = x.key AND e.type = $2`,
    [JSON.stringify(q.links), q.type],
  );
  return new Set(r.rows.map(externalLinkKey));
}
