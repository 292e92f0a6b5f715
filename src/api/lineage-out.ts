import type { FastifyReply } from 'fastify';
import type { DatasetDerivation, DatasetVersionRecord } from '../data/index.js';
import { ASSAY_PRODUCER, assayDataJobEvents, type AssayDatasetRef } from '../lineage/index.js';
import type { AppDeps } from './route.js';

/**
 * OpenLineage out for the data jobs the API runs. The quarantine and the certified data are
 * two OpenLineage datasets, `<name>/quarantine` and `<name>`, both versioned by the Assay
 * version number: an ingest writes the first, a promotion reads it and writes the second, so
 * a consumer draws the same raw → certified path Assay's own graph holds. Each dataset has
 * jobs of its own (`dataset.ingest/<name>`…): a consumer such as Marquez versions a job by the
 * datasets its latest run read and wrote, so one `dataset.promote` job shared by every dataset
 * would show only the last promotion's datasets, and draw one dataset's certified data as
 * upstream of another's. Emitting only queues (see lineage/emitter.ts): the request never
 * waits for the consumer.
 */

/** The OpenLineage job that runs `verb` (ingest, derive, promote) for one dataset. */
const dataJobName = (verb: 'ingest' | 'derive' | 'promote', datasetName: string): string => `dataset.${verb}/${datasetName}`;

/** The quarantine zone's OpenLineage dataset name of a dataset. */
export const quarantineDatasetName = (name: string): string => `${name}/quarantine`;

function refOf(v: DatasetVersionRecord, zone: 'quarantine' | 'certified'): AssayDatasetRef {
  const certified = zone === 'certified' ? v.certified : null;
  return {
    name: zone === 'quarantine' ? quarantineDatasetName(v.datasetName) : v.datasetName,
    version: v.version,
    classification: v.classification,
    // The certified zone is the Parquet file: its consumers read each column as stored there.
    columns: v.schema.columns.map((c) => ({ name: c.name, type: c.type, ...(certified && c.storedAs !== undefined ? { storedAs: c.storedAs } : {}) })),
    rows: certified ? certified.rows : v.rowCount,
    ...(zone === 'quarantine' ? { size: v.snapshot.size } : {}),
  };
}

/** When the request being answered started. */
const startedAt = (reply: FastifyReply): Date => new Date(Date.now() - reply.elapsedTime);

/** A finished data job: its name, the Assay id its run is named after, what it read and wrote. */
interface DataJob {
  job: string;
  assayRunId: string;
  inputs: AssayDatasetRef[];
  externalInputs?: Array<{ namespace: string; name: string }>;
  outputs: AssayDatasetRef[];
  runFacets?: Record<string, Record<string, unknown>>;
}

/**
 * A derivation's run facet: the transformation code's SHA-256 (and where it lives, its name)
 * and the parameters with their canonical SHA-256, as the version records them, so a consumer
 * tells which code and settings built a feature table, as Assay's own graph and manifest do.
 */
const derivationFacet = (d: DatasetDerivation): Record<string, Record<string, unknown>> => ({
  assayDerivation: {
    _producer: ASSAY_PRODUCER,
    _schemaURL: 'urn:assay:openlineage:AssayDerivationRunFacet',
    code: { sha256: d.code.sha256, ...(d.code.uri !== null ? { uri: d.code.uri } : {}), ...(d.code.name !== null ? { name: d.code.name } : {}) },
    parameters: d.parameters,
    parametersSha256: d.parametersSha256,
  },
});

function emitDataJob(deps: AppDeps, reply: FastifyReply, job: DataJob): void {
  if (!deps.lineageEmitter) return;
  const events = assayDataJobEvents({ namespace: deps.config.lineage.namespace, startedAt: startedAt(reply), completedAt: new Date(), ...job });
  for (const e of events) deps.lineageEmitter.emit(e);
}

/**
 * Tells the configured consumer (if any) that an ingest wrote version `v` into quarantine; a
 * derived version's ingest is job `dataset.derive/<name>`, reading the certified versions it was built from.
 * The OpenLineage dataset the file was exported from, when named, is an input too, under its own
 * namespace, so the consumer links the warehouse table's jobs to the version as Assay's graph does.
 */
export function emitIngest(deps: AppDeps, v: DatasetVersionRecord, reply: FastifyReply): void {
  const inputs = (v.derivation?.inputs ?? []).map((i) => ({ name: i.dataset, version: i.version, classification: i.classification }));
  emitDataJob(deps, reply, {
    job: dataJobName(v.derivation ? 'derive' : 'ingest', v.datasetName),
    assayRunId: `${v.id}/ingest`,
    inputs,
    ...(v.sourceDataset ? { externalInputs: [v.sourceDataset] } : {}),
    outputs: [refOf(v, 'quarantine')],
    ...(v.derivation ? { runFacets: derivationFacet(v.derivation) } : {}),
  });
}

/** Tells the configured consumer (if any) that a promotion certified version `v`. */
export function emitPromotion(deps: AppDeps, v: DatasetVersionRecord, reply: FastifyReply): void {
  emitDataJob(deps, reply, { job: dataJobName('promote', v.datasetName), assayRunId: `${v.id}/promote`, inputs: [refOf(v, 'quarantine')], outputs: [refOf(v, 'certified')] });
}
