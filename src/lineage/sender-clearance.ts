import type { FieldIssue } from '../core/index.js';
import type { Classification } from '../policy/index.js';
import type { Queryable } from '../store/index.js';
import { declaredClassification } from './classification-tags.js';
import type { Facets, OpenLineageEvent } from './openlineage-event.js';
import type { ExternalNodeChange } from './openlineage-merge.js';
import { externalKey } from './openlineage-merge.js';
import { ASSAY_NODE_TYPES } from './vocabulary.js';

/**
 * What an OpenLineage sender may change, by its lineage domains. The default pack's
 * `data.clearance-for-sensitive` (PII, PHI and PCI need the matching clearance) applied to a
 * write, node by node, as `domains.ts` applies it to a read:
 *
 * - An event may classify a node only into a domain its sender is cleared for: tagging a node
 *   PHI writes into the PHI domain, and would also hide the node from every reader not cleared
 *   for PHI, erasure officers included. Refused, naming the tags facet.
 * - The OpenLineage dataset a certified version is (its `derived` link from an Assay node) is
 *   written by Assay's promotion alone: an outside job may read it, but an event naming it as an
 *   output, or a DatasetEvent about it, would put an outside writer upstream of certified data.
 *   Refused, naming the dataset.
 * - A node the sender may not see keeps what it says: facets, deletions, tags and run state from
 *   the event are not applied to it, and neither are they to a dataset Assay certifies (Assay
 *   states its schema and classification). The event's edges are still recorded (they are the
 *   sender's own account of what its run read and wrote, and an erasure request must follow
 *   them), and the event is stored as sent. Nothing in the answer differs, so a sender cannot
 *   learn from it that a node it may not see exists.
 */

/** An event as checked, with where it sits in the request body (`body` or `body.<index>`). */
export interface PlacedEvent {
  event: OpenLineageEvent;
  at: string;
}

/** Every facets object of an event that can classify a node, with its JSON path. */
function classifyingFacets(p: PlacedEvent): Array<{ at: string; facets: Facets | undefined }> {
  const e = p.event;
  return [
    { at: `${p.at}.job`, facets: e.job?.facets },
    { at: `${p.at}.run`, facets: e.run?.facets },
    { at: `${p.at}.dataset`, facets: e.dataset?.facets },
    ...(e.inputs ?? []).map((d, i) => ({ at: `${p.at}.inputs.${i}`, facets: d.facets })),
    ...(e.outputs ?? []).map((d, i) => ({ at: `${p.at}.outputs.${i}`, facets: d.facets })),
  ];
}

/** Each tags facet declaring a classification outside `visible`, as a field issue. */
export function declarationsBeyondClearance(events: readonly PlacedEvent[], visible: readonly Classification[]): FieldIssue[] {
  const issues: FieldIssue[] = [];
  for (const p of events) {
    for (const { at, facets } of classifyingFacets(p)) {
      const declared = declaredClassification(facets);
      if (declared && !visible.includes(declared)) {
        issues.push({ field: `${at}.facets.tags`, message: `declares ${declared}; the sender is not cleared for ${declared}, so it may not classify a node into that lineage domain` });
      }
    }
  }
  return issues;
}

/** A stored external node as the sender's rights need it. */
export interface NodeStanding {
  classification: Classification;
  /** A certified version is linked to it: Assay's own dataset. */
  certifiedByAssay: boolean;
}

/** The stored standing of each of `nodes` that exists, by `externalKey`: one indexed read. */
export async function standingOf(db: Queryable, nodes: readonly ExternalNodeChange[]): Promise<Map<string, NodeStanding>> {
  if (nodes.length === 0) return new Map();
  const r = await db.query<{ type: ExternalNodeChange['type']; namespace: string; name: string; classification: Classification; certified: boolean }>(
    `SELECT n.type, n.namespace, n.name, n.classification,
            EXISTS (SELECT 1 FROM lineage_edges e JOIN lineage_nodes s ON s.key = e.src
                     WHERE e.dst = n.key AND e.type = 'derived' AND s.type = ANY ($4::text[])) AS certified
       FROM unnest($1::text[], $2::text[], $3::text[]) AS k(type, namespace, name)
       JOIN lineage_nodes n ON (n.type, n.namespace, n.name) = (k.type, k.namespace, k.name)`,
    [nodes.map((n) => n.type), nodes.map((n) => n.namespace), nodes.map((n) => n.name), ASSAY_NODE_TYPES],
  );
  return new Map(r.rows.map((n) => [externalKey(n), { classification: n.classification, certifiedByAssay: n.certified }]));
}

/** Each output or DatasetEvent subject naming a dataset Assay certifies, as a field issue. */
export function writesToCertified(events: readonly PlacedEvent[], standing: ReadonlyMap<string, NodeStanding>): FieldIssue[] {
  const certified = (d: { namespace: string; name: string }): boolean => standing.get(externalKey({ type: 'external_dataset', ...d }))?.certifiedByAssay === true;
  const message = (d: { namespace: string; name: string }): string =>
    `${d.namespace}/${d.name} is a dataset Assay certifies: only its promotion writes it; an outside job may read it as an input`;
  const issues: FieldIssue[] = [];
  for (const p of events) {
    const e = p.event;
    (e.outputs ?? []).forEach((d, i) => {
      if (certified(d)) issues.push({ field: `${p.at}.outputs.${i}`, message: message(d) });
    });
    if (e.dataset && certified(e.dataset)) issues.push({ field: `${p.at}.dataset`, message: message(e.dataset) });
  }
  return issues;
}

/**
 * `nodes` as the sender may change them: a node that exists and that the sender may not see,
 * or that Assay certifies, is kept only as an edge end (nothing of it changed).
 */
export function withinClearance(nodes: readonly ExternalNodeChange[], standing: ReadonlyMap<string, NodeStanding>, visible: readonly Classification[]): ExternalNodeChange[] {
  return nodes.map((n) => {
    const s = standing.get(externalKey(n));
    if (!s || (visible.includes(s.classification) && !s.certifiedByAssay)) return n;
    return { ...n, facets: {}, deleted: [], classification: undefined, attributes: {} };
  });
}
