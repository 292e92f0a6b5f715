/**
 * Lineage: one graph of where data and models came from and where they went. Assay's own
 * objects (raw snapshots, dataset versions, jobs, runs, model versions, deployments,
 * inferences) are recorded by the modules that create them (`recordLineage`, inside their own
 * audited transaction); OpenLineage events from Airflow, Spark, dbt… merge into the same graph
 * (`ingestOpenLineage`, validated against the official schemas); traversals answer upstream and
 * downstream questions in a few indexed queries, showing each viewer only the lineage domains
 * (classifications) it is cleared for (`lineageGraph`). Assay's own jobs go out as OpenLineage
 * events to a configured consumer (`createLineageEmitter`, `assayRunEvent`).
 */
export { recordLineage, type LineageChange, type LineageNodeInput, type LineageNodeRef } from './record.js';
export { derivedFromAny, existingLinks, externalLinkKey, reachableDownstream, type ExternalLink, type ReachedNode, type ReachQuery } from './downstream.js';
export {
  DEFAULT_DEPTH,
  DEFAULT_MAX_NODES,
  lineageGraph,
  MAX_DEPTH,
  MAX_NODES,
  type Direction,
  type GraphEdge,
  type GraphNode,
  type GraphQuery,
  type LineageGraph,
  type StartNode,
} from './graph-query.js';
export { lineageViewerOf, visibleClassifications, type LineageViewer } from './domains.js';
export type { CertifiedVersionFacts, CertifiedVersionLookup } from './certified-reads.js';
export { eventsSha256, ingestOpenLineage, MAX_EVENTS_PER_REQUEST, type IngestReceipt, type OpenLineageSender, type OpenLineageTarget } from './ingest.js';
export { checkOpenLineageEvent, openLineageNameIssues, type EventCheck } from './openlineage-validation.js';
export {
  compileOpenLineageSchemas,
  EVENT_KINDS,
  FACET_POSITIONS,
  OPENLINEAGE_SCHEMA_DIR,
  OPENLINEAGE_SCHEMA_ID,
  openLineageSchemas,
  type EventKind,
  type FacetPosition,
  type FacetSchema,
  type OpenLineageSchemas,
} from './openlineage-schemas.js';
export type { Facets, OpenLineageDataset, OpenLineageEvent, OpenLineageJob, OpenLineageRun } from './openlineage-event.js';
export {
  createLineageEmitter,
  lineageEmitterFromConfig,
  type EmitOutcome,
  type EmitterLogger,
  type EmitterStats,
  type LineageEmitter,
  type LineageEmitterOptions,
} from './emitter.js';
export { ASSAY_PRODUCER, assayRunEvent, openLineageRunId, type AssayRunEventInput } from './assay-events.js';
export { assayDataJobEvents, type AssayDataJobInput, type AssayDatasetRef } from './dataset-events.js';
export {
  ASSAY_NODE_TYPES,
  atLeastAsRestrictive,
  EDGE_RULES,
  EDGE_TYPES,
  EXTERNAL_KINDS,
  EXTERNAL_NODE_TYPES,
  NODE_TYPES,
  type AssayNodeType,
  type EdgeType,
  type ExternalKind,
  type ExternalNodeType,
  type NodeType,
} from './vocabulary.js';
