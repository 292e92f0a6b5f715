import type { Classification } from '../policy/index.js';
import type { Queryable } from '../store/index.js';
import { hiddenReferences, referencesIn, withoutHidden } from './facet-references.js';
import type { Facets } from './openlineage-event.js';

/** What a graph answer carries when facets are asked for: per node key, and per edge `src:dst:type`. */
export interface GraphFacets {
  nodes: Map<number, { facets: Facets; attributes: Record<string, unknown> }>;
  edges: Map<string, Facets>;
}

/**
 * The facets and attributes of the nodes of an answer, and the input/output facets of its
 * edges, as the viewer may see them: references to datasets, jobs and runs outside `visible`
 * are withheld (`facet-references.ts`). Three indexed reads, made only when the caller asks
 * (`facets=true`), so a plain graph question never loads facet documents.
 */
export async function facetsOf(
  db: Queryable,
  shown: { nodes: readonly number[]; edges: ReadonlyArray<{ src: number; dst: number; type: string }> },
  visible: readonly Classification[],
): Promise<GraphFacets> {
  const n = await db.query<{ key: number; facets: Facets; attributes: Record<string, unknown> }>(
    'SELECT key, facets, attributes FROM lineage_nodes WHERE key = ANY($1::bigint[])',
    [shown.nodes],
  );
  const e = await db.query<{ src: number; dst: number; type: string; facets: Facets }>(
    `SELECT e.src, e.dst, e.type, e.facets FROM lineage_edges e
       JOIN unnest($1::bigint[], $2::bigint[], $3::text[]) AS w(src, dst, type) ON (e.src, e.dst, e.type) = (w.src, w.dst, w.type)`,
    [shown.edges.map((x) => x.src), shown.edges.map((x) => x.dst), shown.edges.map((x) => x.type)],
  );
  const documents = [...n.rows.flatMap((r) => [r.facets, r.attributes]), ...e.rows.map((r) => r.facets)];
  const hidden = await hiddenReferences(db, referencesIn(documents), visible);
  return {
    nodes: new Map(n.rows.map((r) => [r.key, { facets: withoutHidden(r.facets, hidden), attributes: withoutHidden(r.attributes, hidden) }])),
    edges: new Map(e.rows.map((r) => [`${r.src}:${r.dst}:${r.type}`, withoutHidden(r.facets, hidden)])),
  };
}
