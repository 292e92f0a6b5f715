import { ValidationFailed } from '../core/index.js';
import type { Classification } from '../policy/index.js';
import type { Queryable } from '../store/index.js';
import { hiddenReferences, referencesIn, withoutHidden } from './facet-references.js';
import type { Facets } from './openlineage-event.js';

/** What a graph answer carries when facets are asked for: per node key, and per edge `src:dst:type`. */
export interface GraphFacets {
  nodes: Map<number, { facets: Facets; attributes: Record<string, unknown> }>;
  edges: Map<string, Facets>;
}

/** The answer's edges as a FROM clause (`e`), given as three array parameters from `$first` (`edgeParameters`). */
const shownEdges = (first: number): string =>
  `lineage_edges e JOIN unnest($${first}::bigint[], $${first + 1}::bigint[], $${first + 2}::text[]) AS w(src, dst, type) ON (e.src, e.dst, e.type) = (w.src, w.dst, w.type)`;
const edgeParameters = (edges: ReadonlyArray<{ src: number; dst: number; type: string }>): [number[], number[], string[]] => [
  edges.map((x) => x.src),
  edges.map((x) => x.dst),
  edges.map((x) => x.type),
];

/**
 * The facets and attributes of the nodes of an answer, and the input/output facets of its
 * edges, as the viewer may see them: references to datasets, jobs and runs outside `visible`
 * are withheld (`facet-references.ts`). Three indexed reads, made only when the caller asks
 * (`facets=true`), so a plain graph question never loads facet documents.
 */
export async function facetsOf(
  db: Queryable,
  shown: { nodes: readonly number[]; edges: ReadonlyArray<{ src: number; dst: number; type: string }>; maxBytes: number },
  visible: readonly Classification[],
): Promise<GraphFacets> {
  await assertWithinBudget(db, shown);
  const n = await db.query<{ key: number; facets: Facets; attributes: Record<string, unknown> }>(
    'SELECT key, facets, attributes FROM lineage_nodes WHERE key = ANY($1::bigint[])',
    [shown.nodes],
  );
  const e = await db.query<{ src: number; dst: number; type: string; facets: Facets }>(`SELECT e.src, e.dst, e.type, e.facets FROM ${shownEdges(1)}`, edgeParameters(shown.edges));
  const documents = [...n.rows.flatMap((r) => [r.facets, r.attributes]), ...e.rows.map((r) => r.facets)];
  const hidden = await hiddenReferences(db, referencesIn(documents), visible);
  return {
    nodes: new Map(n.rows.map((r) => [r.key, { facets: withoutHidden(r.facets, hidden), attributes: withoutHidden(r.attributes, hidden) }])),
    edges: new Map(e.rows.map((r) => [`${r.src}:${r.dst}:${r.type}`, withoutHidden(r.facets, hidden)])),
  };
}

/** The most facet and attribute text one answer carries. */
export const MAX_FACET_BYTES_PER_ANSWER = 32 * 1024 * 1024;

/**
 * 400 naming `query.limit` when the facets of the answer's nodes and edges come to more than
 * `maxBytes` of JSON text. Facets accumulate on a node event by event, so 10,000 nodes could
 * carry gigabytes: measured in the database (one read of sizes) before any document is loaded,
 * so the server never builds such an answer in memory.
 */
async function assertWithinBudget(db: Queryable, shown: { nodes: readonly number[]; edges: ReadonlyArray<{ src: number; dst: number; type: string }>; maxBytes: number }): Promise<void> {
  const r = await db.query<{ bytes: string | number }>(
    `SELECT (SELECT coalesce(sum(octet_length(facets::text) + octet_length(attributes::text)), 0) FROM lineage_nodes WHERE key = ANY($1::bigint[]))
          + (SELECT coalesce(sum(octet_length(e.facets::text)), 0) FROM ${shownEdges(2)}) AS bytes`,
    [shown.nodes, ...edgeParameters(shown.edges)],
  );
  const bytes = Number(r.rows[0]?.bytes ?? 0);
  if (bytes <= shown.maxBytes) return;
  const mib = (b: number): string => (b >= 1024 * 1024 ? `${(b / 1024 / 1024).toFixed(1)} MiB` : `${b} bytes`);
  throw new ValidationFailed(`the facets of this answer's ${shown.nodes.length} nodes and their edges come to ${mib(bytes)}, over the ${mib(shown.maxBytes)} one answer carries`, [
    { field: 'query.limit', message: `with facets=true the answer would carry ${mib(bytes)} of facets, over ${mib(shown.maxBytes)}: ask for fewer nodes (limit) or less depth, or leave facets out` },
  ]);
}
