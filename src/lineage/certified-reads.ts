import type { Queryable } from '../store/index.js';
import type { ExternalEdgeChange, ExternalNodeChange } from './openlineage-merge.js';
import { externalKey } from './openlineage-merge.js';
import type { NodeStanding } from './sender-clearance.js';

/**
 * Which certified version a run read when its event names one of Assay's datasets as an input.
 * To OpenLineage a certified dataset is one dataset (`<lineage.namespace>/<name>`), linked from
 * each of its certified versions (`derived`); an input edge from that node would put the run
 * downstream of every version, those certified after the run included, for graph queries and
 * erasure requests alike. A dataset named without a version is, as Marquez reads it, the
 * dataset's current version: so the run is linked to the version current at the event's time
 * (the latest certified at or before it), or to the one the input's `version` facet
 * (DatasetVersionDatasetFacet, `datasetVersion` = the version number, as Assay's own events
 * name it) names. When neither can be told (the event's time precedes every certified version,
 * or the facet names no certified version of it), the input stays on the dataset's node, so an
 * erasure request still reaches the run from every version: a read the event cannot place
 * must not drop a subject the run may have read.
 */

/** A certified version as the placing of reads needs it. */
export interface CertifiedVersionFacts {
  version: number;
  /** ISO-8601 UTC. */
  certifiedAt: string;
}

/** The certification facts of those of `ids` that are certified dataset versions (the data module's `certifiedVersionFacts`). */
export type CertifiedVersionLookup = (db: Queryable, ids: readonly string[]) => Promise<Map<string, CertifiedVersionFacts>>;

/** The certified versions linked (`derived`) to each of the external datasets `keys`, by `externalKey`. */
async function linkedVersions(db: Queryable, keys: readonly string[], nodes: ReadonlyMap<string, ExternalNodeChange>): Promise<Map<string, string[]>> {
  const named = keys.map((k) => nodes.get(k)!);
  const r = await db.query<{ namespace: string; name: string; id: string }>(
    `SELECT n.namespace, n.name, s.id
       FROM unnest($1::text[], $2::text[]) AS k(namespace, name)
       JOIN lineage_nodes n ON n.type = 'external_dataset' AND n.namespace = k.namespace AND n.name = k.name
       JOIN lineage_edges e ON e.dst = n.key AND e.type = 'derived'
       JOIN lineage_nodes s ON s.key = e.src AND s.type = 'dataset_version'`,
    [named.map((n) => n.namespace), named.map((n) => n.name)],
  );
  const out = new Map<string, string[]>();
  for (const row of r.rows) {
    const key = externalKey({ type: 'external_dataset', namespace: row.namespace, name: row.name });
    out.set(key, [...(out.get(key) ?? []), row.id]);
  }
  return out;
}

/** The version read: the one the facet names, else the latest certified at or before `at`; undefined when neither is known. */
function placed(read: NonNullable<ExternalEdgeChange['read']>, candidates: ReadonlyArray<[string, CertifiedVersionFacts]>): string | undefined {
  if (read.version !== undefined) return candidates.find(([, f]) => String(f.version) === read.version)?.[0];
  const at = Date.parse(read.at);
  let best: [string, CertifiedVersionFacts] | undefined;
  for (const c of candidates) {
    const t = Date.parse(c[1].certifiedAt);
    if (t > at) continue;
    const bestAt = best ? Date.parse(best[1].certifiedAt) : -Infinity;
    if (!best || t > bestAt || (t === bestAt && c[1].version > best[1].version)) best = c;
  }
  return best?.[0];
}

/**
 * For each RunEvent input edge from one of Assay's certified datasets (by `standing`), the id of
 * the certified version the run read (see above), by the edge's index in `edges`; an edge whose
 * read cannot be placed is left out (it stays on the dataset's node).
 */
export async function certifiedVersionsRead(
  db: Queryable,
  change: { nodes: ReadonlyMap<string, ExternalNodeChange>; edges: readonly ExternalEdgeChange[]; standing: ReadonlyMap<string, NodeStanding> },
  lookup: CertifiedVersionLookup,
): Promise<Map<number, string>> {
  const reads = change.edges.flatMap((e, i) => (e.type === 'input' && e.read && change.standing.get(e.from)?.certifiedByAssay === true ? [i] : []));
  if (reads.length === 0) return new Map();
  const linked = await linkedVersions(db, [...new Set(reads.map((i) => change.edges[i]!.from))], change.nodes);
  const facts = await lookup(db, [...new Set([...linked.values()].flat())]);
  const out = new Map<number, string>();
  for (const i of reads) {
    const e = change.edges[i]!;
    const candidates = (linked.get(e.from) ?? []).flatMap((id): Array<[string, CertifiedVersionFacts]> => {
      const f = facts.get(id);
      return f ? [[id, f]] : [];
    });
    const version = placed(e.read!, candidates);
    if (version !== undefined) out.set(i, version);
  }
  return out;
}
