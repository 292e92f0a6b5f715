/**
 * The parts of an OpenLineage event (specification 2-0-2) that Assay reads. Only ever built
 * from a value that passed the official schema (`openlineage-validation.ts`), so the required
 * fields are there; everything else stays in the stored raw event.
 */

/** Facets by name: each an object with `_producer` and `_schemaURL`. */
export type Facets = Record<string, Record<string, unknown>>;

/** An input, output or static dataset. */
export interface OpenLineageDataset {
  namespace: string;
  name: string;
  facets?: Facets;
  inputFacets?: Facets;
  outputFacets?: Facets;
}

/** A job. */
export interface OpenLineageJob {
  namespace: string;
  name: string;
  facets?: Facets;
}

/** A run of a job. */
export interface OpenLineageRun {
  runId: string;
  facets?: Facets;
}

/** A RunEvent, DatasetEvent or JobEvent. */
export interface OpenLineageEvent {
  eventTime: string;
  producer: string;
  schemaURL: string;
  eventType?: string;
  run?: OpenLineageRun;
  job?: OpenLineageJob;
  dataset?: OpenLineageDataset;
  inputs?: OpenLineageDataset[];
  outputs?: OpenLineageDataset[];
}
