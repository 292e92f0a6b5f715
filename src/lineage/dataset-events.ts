import type { Classification } from '../policy/index.js';
import { ASSAY_PRODUCER, assayRunEvent } from './assay-events.js';
import type { Facets, OpenLineageDataset, OpenLineageEvent } from './openlineage-event.js';

/**
 * OpenLineage out for Assay's data jobs (ingest, promotion, derivation): each finished job is
 * told as a START and a COMPLETE RunEvent whose datasets carry the standard version, schema
 * and tags facets, so a consumer sees which version of which dataset a job read and wrote, its
 * columns, and the lineage domain (`classification` tag, the key Assay itself reads back).
 */

const FACET = 'https://openlineage.io/spec/facets';
const VERSION_FACET = `${FACET}/1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet`;
const SCHEMA_FACET = `${FACET}/1-2-0/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet`;
const TAGS_FACET = `${FACET}/1-0-0/TagsDatasetFacet.json#/$defs/TagsDatasetFacet`;
const OUTPUT_STATS_FACET = `${FACET}/1-0-2/OutputStatisticsOutputDatasetFacet.json#/$defs/OutputStatisticsOutputDatasetFacet`;

/** One version of an Assay dataset as an OpenLineage dataset. */
export interface AssayDatasetRef {
  name: string;
  version: number;
  classification: Classification;
  /**
   * Known for what the job wrote; an input may be named by version alone. `storedAs` is the
   * column's type in the certified Parquet, told in the field's description: `type` stays the
   * logical type Assay's checks and profile use, so a consumer comparing the quarantine and
   * certified schemas sees the same types.
   */
  columns?: Array<{ name: string; type: string; storedAs?: string }>;
  /** Rows written, for an output. */
  rows?: number;
  /** Bytes written, for an output. */
  size?: number;
}

/** A finished Assay data job. */
export interface AssayDataJobInput {
  namespace: string;
  /** e.g. `dataset.ingest`, `dataset.promote`. */
  job: string;
  /** The Assay id the run is named after (the version the job created or certified). */
  assayRunId: string;
  startedAt: Date;
  completedAt: Date;
  inputs: AssayDatasetRef[];
  /**
   * Datasets outside Assay the job read, by OpenLineage namespace and name: the warehouse table
   * an ingested file was exported from. Listed as inputs without facets: Assay knows no version,
   * schema or tags of them, and a consumer keeps what their own producers reported.
   */
  externalInputs?: Array<{ namespace: string; name: string }>;
  outputs: AssayDatasetRef[];
  /** Run facets of both events, e.g. a derivation's code and parameters. */
  runFacets?: Facets;
}

function schemaField(c: { name: string; type: string; storedAs?: string }, i: number): Record<string, unknown> {
  return { name: c.name, type: c.type, ...(c.storedAs !== undefined ? { description: `stored as ${c.storedAs} in the certified Parquet` } : {}), ordinal_position: i + 1 };
}

function datasetOf(namespace: string, d: AssayDatasetRef, output: boolean): OpenLineageDataset {
  const facets: Facets = {
    version: { _producer: ASSAY_PRODUCER, _schemaURL: VERSION_FACET, datasetVersion: String(d.version) },
    ...(d.columns ? { schema: { _producer: ASSAY_PRODUCER, _schemaURL: SCHEMA_FACET, fields: d.columns.map(schemaField) } } : {}),
    tags: { _producer: ASSAY_PRODUCER, _schemaURL: TAGS_FACET, tags: [{ key: 'classification', value: d.classification, source: 'ASSAY' }] },
  };
  const stats = output && d.rows !== undefined ? { outputStatistics: { _producer: ASSAY_PRODUCER, _schemaURL: OUTPUT_STATS_FACET, rowCount: d.rows, ...(d.size !== undefined ? { size: d.size } : {}) } } : undefined;
  return { namespace, name: d.name, facets, ...(stats ? { outputFacets: stats } : {}) };
}

/** The START and COMPLETE RunEvents of a finished data job, valid against the bundled schemas. */
export function assayDataJobEvents(input: AssayDataJobInput): OpenLineageEvent[] {
  const common = {
    namespace: input.namespace,
    job: input.job,
    assayRunId: input.assayRunId,
    inputs: [...(input.externalInputs ?? []).map((d) => ({ namespace: d.namespace, name: d.name })), ...input.inputs.map((d) => datasetOf(input.namespace, d, false))],
    ...(input.runFacets ? { runFacets: input.runFacets } : {}),
  };
  return [
    assayRunEvent({ ...common, eventType: 'START', eventTime: input.startedAt }),
    assayRunEvent({ ...common, eventType: 'COMPLETE', eventTime: input.completedAt, outputs: input.outputs.map((d) => datasetOf(input.namespace, d, true)) }),
  ];
}
