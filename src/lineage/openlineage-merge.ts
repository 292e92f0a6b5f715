import type { Classification } from '../policy/index.js';
import { declaredClassification } from './classification-tags.js';
import type { Facets, OpenLineageDataset, OpenLineageEvent } from './openlineage-event.js';
import type { EventKind } from './openlineage-schemas.js';
import type { EdgeType, ExternalNodeType } from './vocabulary.js';
import { keptClassification, replacesRunState, RUN_STATES } from './vocabulary.js';

/**
 * OpenLineage events as a change to the lineage graph, before any SQL: which external nodes
 * to create or update (with the facets to merge or delete) and which edges to add. Several
 * events in one request touching the same node merge here first, in the order sent.
 *
 * The shape follows Marquez: a RunEvent links its job to its run (`run_of`), each input
 * dataset to the run (`input`) and the run to each output (`output`), with the input and output
 * facets on those edges; a ParentRunFacet links the parent run to this one (`parent`). A
 * JobEvent links datasets to the job itself (its declared lineage). A DatasetEvent only
 * describes its dataset.
 */

/** One external node to create or update. */
export interface ExternalNodeChange {
  type: ExternalNodeType;
  namespace: string;
  name: string;
  /** Facets to set, by name (a newer value replaces an older one). */
  facets: Facets;
  /** Facet names to remove (`_deleted: true`). */
  deleted: string[];
  /** What the producer's tags declare; undefined keeps the node's classification. */
  classification: Classification | undefined;
  /** Run state: `{state, stateAt}` (START, RUNNING, COMPLETE, ABORT or FAIL; OTHER leaves it), kept only when newer than what is stored (`replacesRunState`). */
  attributes: Record<string, unknown>;
}

/** One edge between external nodes, by their node keys (see `externalKey`). */
export interface ExternalEdgeChange {
  from: string;
  to: string;
  type: EdgeType;
  facets: Facets;
  /**
   * A run's read of its input (RunEvent inputs only): when (the earliest `eventTime` of the
   * events naming it) and, if the event says so, which version (the `version` dataset facet's
   * `datasetVersion`). Reading one of Assay's datasets is a read of one certified version.
   */
  read?: DatasetRead;
}

/** When a run read an input dataset, and the version it names, if any. */
export interface DatasetRead {
  /** ISO-8601 UTC. */
  at: string;
  version?: string;
}

/** A merged change. */
export interface ExternalGraphChange {
  nodes: Map<string, ExternalNodeChange>;
  edges: Map<string, ExternalEdgeChange>;
}

/** The identity of an external node within a change (no part holds U+0000: validation refuses it). */
export function externalKey(n: { type: ExternalNodeType; namespace: string; name: string }): string {
  return `${n.type}\u0000${n.namespace}\u0000${n.name}`;
}

/** A runId as one spelling: the schema accepts `urn:uuid:` and either letter case. */
export function normalRunId(runId: string): string {
  return runId.replace(/^urn:uuid:/i, '').toLowerCase();
}

const isDeletion = (f: Record<string, unknown>): boolean => f._deleted === true;

class ChangeBuilder {
  readonly nodes = new Map<string, ExternalNodeChange>();
  readonly edges = new Map<string, ExternalEdgeChange>();

  /** Adds or merges a node; returns its key. `deletable`: job and dataset facets may carry `_deleted`. */
  node(n: { type: ExternalNodeType; namespace: string; name: string; facets?: Facets | undefined; deletable: boolean; attributes?: Record<string, unknown> }): string {
    const key = externalKey(n);
    const current = this.nodes.get(key) ?? { type: n.type, namespace: n.namespace, name: n.name, facets: {}, deleted: [], classification: undefined, attributes: {} };
    for (const [name, facet] of Object.entries(n.facets ?? {})) {
      if (n.deletable && isDeletion(facet)) {
        delete current.facets[name];
        if (!current.deleted.includes(name)) current.deleted.push(name);
      } else {
        current.facets[name] = facet;
        current.deleted = current.deleted.filter((d) => d !== name);
      }
    }
    const declared = declaredClassification(n.facets);
    if (declared) current.classification = current.classification ? keptClassification(current.classification, declared) : declared;
    if (n.attributes && replacesRunState(current.attributes, n.attributes)) current.attributes = { ...current.attributes, ...n.attributes };
    this.nodes.set(key, current);
    return key;
  }

  /** Adds an edge, or merges its facets (and its read: the earliest, the version first named) into the same edge already added; a self-loop is no lineage. */
  edge(e: { from: string; to: string; type: EdgeType; facets?: Facets | undefined; read?: DatasetRead }): void {
    if (e.from === e.to) return;
    const key = `${e.from}\u0001${e.to}\u0001${e.type}`;
    const current = this.edges.get(key);
    if (!current) {
      this.edges.set(key, { from: e.from, to: e.to, type: e.type, facets: { ...e.facets }, ...(e.read ? { read: { ...e.read } } : {}) });
      return;
    }
    Object.assign(current.facets, e.facets);
    if (e.read) {
      const at = current.read && current.read.at < e.read.at ? current.read.at : e.read.at;
      const version = current.read?.version ?? e.read.version;
      current.read = { at, ...(version !== undefined ? { version } : {}) };
    }
  }

  dataset(d: OpenLineageDataset): string {
    return this.node({ type: 'external_dataset', namespace: d.namespace, name: d.name, facets: d.facets, deletable: true });
  }
}

/** A run's read of `d` at `at`, with the version its `version` facet (DatasetVersionDatasetFacet) names. */
function readOf(d: OpenLineageDataset, at: string): DatasetRead {
  const version = (d.facets?.version as { datasetVersion?: unknown } | undefined)?.datasetVersion;
  return typeof version === 'string' ? { at, version } : { at };
}

function addRunEvent(b: ChangeBuilder, e: OpenLineageEvent, run: NonNullable<OpenLineageEvent['run']>): void {
  const job = e.job!;
  const jobKey = b.node({ type: 'external_job', namespace: job.namespace, name: job.name, facets: job.facets, deletable: true });
  const stateAt = new Date(e.eventTime).toISOString();
  const runKey = b.node({
    type: 'external_run',
    namespace: job.namespace,
    name: normalRunId(run.runId),
    facets: run.facets,
    deletable: false,
    // OTHER is no state: the specification adds OTHER events to a run "to send additional metadata
    // after the run is complete", so neither it nor an untyped event moves the state or its time.
    ...(e.eventType !== undefined && RUN_STATES.has(e.eventType) ? { attributes: { state: e.eventType, stateAt } } : {}),
  });
  b.edge({ from: jobKey, to: runKey, type: 'run_of' });
  for (const d of e.inputs ?? []) b.edge({ from: b.dataset(d), to: runKey, type: 'input', facets: d.inputFacets, read: readOf(d, stateAt) });
  for (const d of e.outputs ?? []) b.edge({ from: runKey, to: b.dataset(d), type: 'output', facets: d.outputFacets });
  const parent = run.facets?.parent as { run?: { runId?: unknown }; job?: { namespace?: unknown; name?: unknown } } | undefined;
  const parentJob = parent?.job;
  const parentRunId = parent?.run?.runId;
  if (typeof parentRunId === 'string' && typeof parentJob?.namespace === 'string' && typeof parentJob.name === 'string') {
    const pJob = b.node({ type: 'external_job', namespace: parentJob.namespace, name: parentJob.name, deletable: true });
    const pRun = b.node({ type: 'external_run', namespace: parentJob.namespace, name: normalRunId(parentRunId), deletable: false });
    b.edge({ from: pJob, to: pRun, type: 'run_of' });
    b.edge({ from: pRun, to: runKey, type: 'parent' });
  }
}

function addJobEvent(b: ChangeBuilder, e: OpenLineageEvent): void {
  const job = e.job!;
  const jobKey = b.node({ type: 'external_job', namespace: job.namespace, name: job.name, facets: job.facets, deletable: true });
  for (const d of e.inputs ?? []) b.edge({ from: b.dataset(d), to: jobKey, type: 'input', facets: d.inputFacets });
  for (const d of e.outputs ?? []) b.edge({ from: jobKey, to: b.dataset(d), type: 'output', facets: d.outputFacets });
}

/** The graph change of validated events, merged in the order given. */
export function graphChangeOf(events: ReadonlyArray<{ kind: EventKind; event: OpenLineageEvent }>): ExternalGraphChange {
  const b = new ChangeBuilder();
  for (const { kind, event } of events) {
    if (kind === 'RunEvent' && event.run) addRunEvent(b, event, event.run);
    else if (kind === 'JobEvent') addJobEvent(b, event);
    else if (kind === 'DatasetEvent' && event.dataset) b.dataset(event.dataset);
  }
  return { nodes: b.nodes, edges: b.edges };
}
