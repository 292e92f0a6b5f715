import { createHash } from 'node:crypto';
import { ASSAY_VERSION } from '../core/index.js';
import type { Facets, OpenLineageDataset, OpenLineageEvent } from './openlineage-event.js';
import { OPENLINEAGE_SCHEMA_ID } from './openlineage-schemas.js';

/**
 * OpenLineage out: Assay's own jobs (ingestion, promotion, training…) described as RunEvents
 * that any OpenLineage consumer (Marquez, DataHub…) understands. Assay ids are ULIDs and
 * OpenLineage wants UUID run ids, so each Assay run id maps to a name-based UUID (v5): the
 * same Assay run always gets the same runId, and its START and COMPLETE events meet.
 */

/** Who produced Assay's events (`producer`, `_producer`): this build. */
export const ASSAY_PRODUCER = `urn:assay:${ASSAY_VERSION}`;

/** The UUID namespace of Assay run ids (a fixed random UUID; changing it renames every run). */
const ASSAY_RUN_NAMESPACE = Buffer.from('5b0f1d7e6a2c4c1f9d3e8a7b6c5d4e3f', 'hex');

/** The RFC 9562 name-based (SHA-1, version 5) UUID of an Assay id. */
export function openLineageRunId(assayId: string): string {
  const h = createHash('sha1').update(ASSAY_RUN_NAMESPACE).update(assayId, 'utf8').digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const hex = h.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A facet Assay adds to its runs: the Assay run id the OpenLineage runId was derived from. */
function assayRunFacet(assayRunId: string): Record<string, unknown> {
  return { _producer: ASSAY_PRODUCER, _schemaURL: 'urn:assay:openlineage:AssayRunFacet', runId: assayRunId };
}

/** What a RunEvent about an Assay job says. */
export interface AssayRunEventInput {
  /** OpenLineage namespace of Assay's jobs (`config.lineage.namespace`). */
  namespace: string;
  /** The job's name within it, e.g. `dataset.ingest` or `train.credit-default`. */
  job: string;
  /** The Assay id of this execution (`run_…`, or the id of the dataset version an ingest created). */
  assayRunId: string;
  eventType: 'START' | 'RUNNING' | 'COMPLETE' | 'ABORT' | 'FAIL' | 'OTHER';
  eventTime: Date;
  inputs?: OpenLineageDataset[];
  outputs?: OpenLineageDataset[];
  runFacets?: Facets;
  jobFacets?: Facets;
}

/** The OpenLineage RunEvent of an Assay job's transition (valid against the bundled schema). */
export function assayRunEvent(input: AssayRunEventInput): OpenLineageEvent {
  return {
    eventTime: input.eventTime.toISOString(),
    producer: ASSAY_PRODUCER,
    schemaURL: `${OPENLINEAGE_SCHEMA_ID}#/$defs/RunEvent`,
    eventType: input.eventType,
    run: { runId: openLineageRunId(input.assayRunId), facets: { ...input.runFacets, assay: assayRunFacet(input.assayRunId) } },
    job: { namespace: input.namespace, name: input.job, facets: { ...input.jobFacets } },
    inputs: input.inputs ?? [],
    outputs: input.outputs ?? [],
  };
}
