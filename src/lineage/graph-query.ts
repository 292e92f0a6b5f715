import { NotFound } from '../core/index.js';
import type { Classification } from '../policy/index.js';
import type { Queryable } from '../store/index.js';
import { facetsOf, MAX_FACET_BYTES_PER_ANSWER } from './graph-facets.js';
import type { Facets } from './openlineage-event.js';
import { EXTERNAL_KINDS, type EdgeType, type ExternalKind, type NodeType } from './vocabulary.js';

/**
 * Lineage traversal: from one node, upstream (where it came from), downstream (where it went)
 * or both, a bounded number of steps. Each direction is one call of the database function
 * `lineage_walk` (migration 0006): a recursive walk over the edge indexes, one row per
 * (node, depth) so a cycle, which OpenLineage graphs may have, ends at the depth bound. One
 * round trip per direction, and a plan made once per connection: bench/lineage.ts measures
 * this against a breadth-first walk with one query per step, which spends its time on round
 * trips and planning.
 *
 * The walk is read lazily and bounded: past `maxNodes · (depth + 1)` rows PostgreSQL stops
 * recursing, so a hub with millions of edges ends in `truncated`, not in memory.
 *
 * Lineage domains: a node the viewer may not see is left out with its edges, and the walk does
 * not pass through it, so what lies only behind it stays unseen too. The answer counts such
 * nodes (`withheld`) without naming them, and the facets of the nodes it shows do not name them
 * either (`facet-references.ts`). A start node the viewer may not see is reported as not found,
 * like one that does not exist.
 */

/** Longest walk a caller may ask for. */
export const MAX_DEPTH = 20;
/**
 * The walk's length when the caller gives none: an examiner starting at an inference reaches the
 * scheduler's DAG behind the Spark job that wrote the source table (inference ← deployment ←
 * model version ← training run ← dataset version ← table ← Spark run ← DAG run ← DAG: 8 steps).
 * Five stopped at the table's writer; 10 is the depth `bench/lineage` holds under 50 ms.
 */
export const DEFAULT_DEPTH = 10;
/** Largest node cap a caller may ask for, and the default one. */
export const MAX_NODES = 10_000;
export const DEFAULT_MAX_NODES = 1000;

/** Which way to walk: `both` is upstream and downstream of the start, not the undirected component. */
export type Direction = 'up' | 'down' | 'both';

/** Where a walk starts: an Assay object's id (or any node id), or an OpenLineage dataset or job. */
export type StartNode = { id: string } | { kind: ExternalKind; namespace: string; name: string };

/** A graph question. */
export interface GraphQuery {
  start: StartNode;
  /** Steps from the start, 0…MAX_DEPTH. */
  depth: number;
  direction: Direction;
  /** The classifications the viewer may see (`visibleClassifications`). */
  visible: readonly Classification[];
  /** Node cap; past it the answer is `truncated`. @default DEFAULT_MAX_NODES */
  maxNodes?: number;
  /** Include node and edge facets, references to nodes outside `visible` withheld. @default false */
  facets?: boolean;
  /** With `facets`, the most facet text the answer may carry, else 400 naming `query.limit`. @default MAX_FACET_BYTES_PER_ANSWER */
  maxFacetBytes?: number;
}

/** One node of an answer. */
export interface GraphNode {
  id: string;
  type: NodeType;
  namespace?: string;
  name?: string;
  classification: Classification;
  /** Steps from the start (0 for the start itself). */
  distance: number;
  facets?: Facets;
  attributes?: Record<string, unknown>;
}

/** One edge of an answer, from upstream to downstream. */
export interface GraphEdge {
  from: string;
  to: string;
  type: EdgeType;
  facets?: Facets;
}

/** The answer. */
export interface LineageGraph {
  nodes: GraphNode[];
  edges: GraphEdge[];
  /** The node cap, or the walk's row bound, was reached: there is more beyond. */
  truncated: boolean;
  /** Nodes met that the viewer may not see, left out with their edges. */
  withheld: number;
}

interface NodeRow {
  key: number;
  id: string;
  type: NodeType;
  namespace: string | null;
  name: string | null;
  classification: Classification;
}

interface ShownNode extends NodeRow {
  distance: number;
}

interface ShownEdge {
  src: number;
  dst: number;
  type: EdgeType;
}

const NODE_COLUMNS = 'n.key, n.id, n.type, n.namespace, n.name, n.classification';

/** Walk rows allowed per node of the cap: a node may be met at every depth. */
const rowsPerNode = (depth: number): number => depth + 1;

async function startRow(db: Queryable, start: StartNode): Promise<NodeRow | undefined> {
  if ('id' in start) {
    return (await db.query<NodeRow>(`SELECT ${NODE_COLUMNS} FROM lineage_nodes n WHERE n.id = $1`, [start.id])).rows[0];
  }
  const r = await db.query<NodeRow>(
    `SELECT ${NODE_COLUMNS} FROM lineage_nodes n WHERE n.type = $1 AND n.namespace = $2 AND n.name = $3`,
    [EXTERNAL_KINDS[start.kind], start.namespace, start.name],
  );
  return r.rows[0];
}

const describeStart = (s: StartNode): [string, string] =>
  'id' in s ? ['lineage node', s.id] : [`lineage ${s.kind}`, `${s.namespace} ${s.name}`];

/** What the walks found, merged: `both` is two walks into one answer. */
interface Found {
  nodes: Map<number, ShownNode>;
  edges: Map<string, ShownEdge>;
  hidden: Set<number>;
  truncated: boolean;
}

type WalkAnswer = {
  steps: number;
  withheld: number[];
  reached: number;
  nodes: Array<[number, string, NodeType, string | null, string | null, Classification, number]> | null;
  edges: Array<[number, number, EdgeType]>;
};

/** One direction's walk (`lineage_walk`, migration 0006: one statement, its plan cached per connection). */
async function walk(db: Queryable, q: { start: number; way: 'up' | 'down'; depth: number; visible: readonly Classification[]; maxNodes: number }, found: Found): Promise<void> {
  const stepBound = q.maxNodes * rowsPerNode(q.depth);
  // One row past the bound is read so that reaching the bound exactly (depth 0 with a cap of 1
  // reads one row, the start) is told apart from there being more: only the latter truncates.
  const r = await db.query<{ walk: WalkAnswer }>('SELECT lineage_walk($1::bigint, $2::int, $3::text[], $4::int, $5::int, $6::boolean) AS walk', [
    q.start,
    q.depth,
    q.visible,
    stepBound + 1,
    q.maxNodes,
    q.way === 'up',
  ]);
  const w = r.rows[0]!.walk;
  for (const [key, id, type, namespace, name, classification, distance] of w.nodes ?? []) {
    const known = found.nodes.get(key);
    if (!known || known.distance > distance) found.nodes.set(key, { key, id, type, namespace, name, classification, distance });
  }
  for (const [src, dst, type] of w.edges) found.edges.set(`${src}:${dst}:${type}`, { src, dst, type });
  for (const key of w.withheld) found.hidden.add(key);
  found.truncated ||= w.steps > stepBound || w.reached > q.maxNodes;
}

/**
 * The first `maxNodes` nodes by distance (the two walks of `both` share the cap), and the edges
 * whose two ends are both shown.
 */
function capped(found: Found, maxNodes: number): Found {
  const over = found.nodes.size > maxNodes;
  const nodes = over
    ? new Map([...found.nodes.values()].sort((a, b) => a.distance - b.distance || a.key - b.key).slice(0, maxNodes).map((n) => [n.key, n]))
    : found.nodes;
  const edges = new Map([...found.edges].filter(([, e]) => nodes.has(e.src) && nodes.has(e.dst)));
  return { nodes, edges, hidden: found.hidden, truncated: found.truncated || over };
}

/**
 * The lineage around a node, as far as the viewer may see it. Throws NotFound when the start
 * node does not exist or lies in a domain the viewer may not see (the two are told apart to
 * nobody).
 */
export async function lineageGraph(db: Queryable, q: GraphQuery): Promise<LineageGraph> {
  const start = await startRow(db, q.start);
  if (!start || !q.visible.includes(start.classification)) throw new NotFound(...describeStart(q.start));
  const maxNodes = Math.max(1, Math.min(q.maxNodes ?? DEFAULT_MAX_NODES, MAX_NODES));
  const depth = Math.max(0, Math.min(q.depth, MAX_DEPTH));
  let found: Found = { nodes: new Map([[start.key, { ...start, distance: 0 }]]), edges: new Map(), hidden: new Set(), truncated: false };
  const plan = { start: start.key, depth, visible: q.visible, maxNodes };
  if (q.direction !== 'down') await walk(db, { ...plan, way: 'up' }, found);
  if (q.direction !== 'up') await walk(db, { ...plan, way: 'down' }, found);
  found = capped(found, maxNodes);

  const maxBytes = q.maxFacetBytes ?? MAX_FACET_BYTES_PER_ANSWER;
  const extra = q.facets ? await facetsOf(db, { nodes: [...found.nodes.keys()], edges: [...found.edges.values()], maxBytes }, q.visible) : undefined;
  const idOf = (key: number): string => found.nodes.get(key)!.id;
  return {
    nodes: [...found.nodes.values()].map((n) => ({
      id: n.id,
      type: n.type,
      ...(n.namespace !== null ? { namespace: n.namespace } : {}),
      ...(n.name !== null ? { name: n.name } : {}),
      classification: n.classification,
      distance: n.distance,
      ...(extra ? { facets: extra.nodes.get(n.key)?.facets ?? {}, attributes: extra.nodes.get(n.key)?.attributes ?? {} } : {}),
    })),
    edges: [...found.edges.entries()].map(([k, e]) => ({
      from: idOf(e.src),
      to: idOf(e.dst),
      type: e.type,
      ...(extra ? { facets: extra.edges.get(k) ?? {} } : {}),
    })),
    truncated: found.truncated,
    withheld: found.hidden.size,
  };
}
