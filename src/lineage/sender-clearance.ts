import type { FieldIssue } from '../core/index.js';
import type { Classification } from '../policy/index.js';
import type { Queryable } from '../store/index.js';
import { declaredClassification } from './classification-tags.js';
import type { Facets, OpenLineageEvent } from './openlineage-event.js';
import type { ExternalEdgeChange, ExternalNodeChange } from './openlineage-merge.js';
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
 * - Assay's datasets are written by Assay alone: every dataset in its current lineage namespace
 *   (where promotion names a certified version, before the first certification too) and every
 *   dataset a certified version is linked to (`derived`, under a namespace Assay used before).
 *   An outside job may read one, but an event naming it as an output, or a DatasetEvent about
 *   it, would put an outside writer upstream of certified data. In the current namespace this is
 *   refused, naming the dataset, whoever sends it and whether or not the dataset exists. Under an
 *   earlier namespace only the certified datasets are Assay's (the namespace alone cannot tell
 *   which datasets a changed one left behind), so a refusal there would say the dataset exists
 *   and is certified: it is refused only to a sender that may see it, and for one it may not see
 *   the event is answered as for an unknown dataset, the output edge left out (the outside write
 *   it claims is the one Assay's datasets never have) and nothing applied to the node.
 *   Jobs in Assay's namespace are Assay's too: an event's job there, or its run's parent job
 *   there, is refused alike, naming the job.
 * - A node the sender may not see keeps what it says: facets, deletions, tags and run state from
 *   the event are not applied to it, nor to a run of a job the sender may not see (its own new
 *   run there too: a run is as narrow as its job, migration 0016), nor to one of Assay's
 *   datasets read as an input (Assay states its schema and classification). The event's edges
 *   are still recorded (they are the sender's own account of what its run read and wrote, and
 *   an erasure request must follow them), and the event is stored as sent. Nothing in the answer differs, so a sender cannot
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

/** What a sender's rights are judged against: the lineage domains it may see, and Assay's own lineage namespace. */
export interface SenderScope {
  visible: readonly Classification[];
  /** `config.lineage.namespace`: where Assay names its datasets. */
  assayNamespace: string;
}

/**
 * Each output or DatasetEvent subject naming one of Assay's datasets that the sender may see (see
 * above), and each job (or parent job) in Assay's namespace, as a field issue.
 */
export function writesToAssayLineage(events: readonly PlacedEvent[], standing: ReadonlyMap<string, NodeStanding>, scope: SenderScope): FieldIssue[] {
  const { assayNamespace } = scope;
  // Assay's namespace first: the answer about a dataset there then says nothing of whether it
  // exists, nor whether it is certified (it may be one the sender may not see).
  const refusal = (d: { namespace: string; name: string }): string | undefined => {
    if (d.namespace === assayNamespace) return `${d.namespace}/${d.name} is in Assay's lineage namespace: only Assay writes its datasets; an outside job may read them as inputs`;
    const s = standing.get(externalKey({ type: 'external_dataset', ...d }));
    // Under an earlier namespace, one the sender may not see is answered as an unknown one is
    // (certifiedOutputsLeftOut drops the write): refusing would say it exists and is certified.
    if (s?.certifiedByAssay === true && scope.visible.includes(s.classification)) {
      return `${d.namespace}/${d.name} is a dataset Assay certifies: only its promotion writes it; an outside job may read it as an input`;
    }
    return undefined;
  };
  const issues: FieldIssue[] = [];
  for (const p of events) {
    const e = p.event;
    const subjects = [...(e.outputs ?? []).map((d, i) => ({ field: `${p.at}.outputs.${i}`, d })), ...(e.dataset ? [{ field: `${p.at}.dataset`, d: e.dataset }] : [])];
    for (const { field, d } of subjects) {
      const message = refusal(d);
      if (message) issues.push({ field, message });
    }
    for (const { field, job } of jobsNamed(p)) {
      if (job.namespace === assayNamespace) issues.push({ field, message: `${job.namespace}/${job.name} is in Assay's lineage namespace: only Assay runs its jobs there` });
    }
  }
  return issues;
}

/**
 * The jobs an event says ran: its own, and its run's parent (ParentRunFacet). A job in Assay's
 * namespace is one of Assay's (`dataset.promote/<name>`…): an outside run of it, or an outside
 * run it claims to have started, would be drawn as Assay's own work.
 */
function jobsNamed(p: PlacedEvent): Array<{ field: string; job: { namespace: string; name: string } }> {
  const jobs: Array<{ field: string; job: { namespace: string; name: string } }> = [];
  if (p.event.job) jobs.push({ field: `${p.at}.job`, job: p.event.job });
  const parent = (p.event.run?.facets?.parent as { job?: { namespace?: unknown; name?: unknown } } | undefined)?.job;
  if (typeof parent?.namespace === 'string' && typeof parent.name === 'string') jobs.push({ field: `${p.at}.run.facets.parent.job`, job: { namespace: parent.namespace, name: parent.name } });
  return jobs;
}

/**
 * `change`'s nodes as the sender may change them: a node that exists and that the sender may
 * not see, a run of such a job (by the change's `run_of` edges), and one of Assay's datasets are
 * kept only as edge ends (nothing of them changed).
 */
export function withinClearance(
  change: { nodes: readonly ExternalNodeChange[]; edges: Iterable<ExternalEdgeChange> },
  standing: ReadonlyMap<string, NodeStanding>,
  scope: SenderScope,
): ExternalNodeChange[] {
  const hidden = (key: string): boolean => {
    const s = standing.get(key);
    return s !== undefined && !scope.visible.includes(s.classification);
  };
  // A run is part of its job (graph-store's inheritJobClassification): what the sender may not
  // say about a hidden job it may not say about the job's runs either, its own new one included.
  const runsOfHiddenJobs = new Set<string>();
  for (const e of change.edges) if (e.type === 'run_of' && hidden(e.from)) runsOfHiddenJobs.add(e.to);
  return change.nodes.map((n) => {
    const key = externalKey(n);
    const assays = n.type === 'external_dataset' && (n.namespace === scope.assayNamespace || standing.get(key)?.certifiedByAssay === true);
    if (!hidden(key) && !assays && !runsOfHiddenJobs.has(key)) return n;
    return { ...n, facets: {}, deleted: [], classification: undefined, attributes: {} };
  });
}

/**
 * `edges` without the outside writes into Assay's certified datasets: the `output` edges into a
 * dataset a certified version is linked to. After `writesToAssayLineage` only those the sender
 * may not see are left (under an earlier namespace); the event is accepted as for an unknown
 * dataset, but the write it claims is not drawn, since only promotion writes a certified dataset.
 */
export function certifiedOutputsLeftOut<E extends ExternalEdgeChange>(edges: Iterable<E>, standing: ReadonlyMap<string, NodeStanding>): E[] {
  return [...edges].filter((e) => e.type !== 'output' || standing.get(e.to)?.certifiedByAssay !== true);
}
