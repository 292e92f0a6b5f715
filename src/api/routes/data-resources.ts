import { datasetAccessFacts, MAX_DATASET_VERSION } from '../../data/index.js';
import { CLASSIFICATIONS, type Classification, type ResourceInput } from '../../policy/index.js';
import type { AuthorizeInput, RouteAuthorization } from '../route.js';

const classificationOf = (value: unknown): Classification | undefined => CLASSIFICATIONS.find((c) => c === value);

/**
 * The dataset named by `:name` (and its version `:version`, whose ingester is the author a
 * promotion is decided against), with its classification looked up, so
 * `data.clearance-for-sensitive` applies. A dataset that does not exist is decided as
 * `internal` and authored by nobody: callers with a read grant then get the 404.
 */
async function datasetResource({ params, deps }: AuthorizeInput, declared?: Classification): Promise<ResourceInput> {
  const name = params.name ?? '';
  // A version no column can hold is decided as one that does not exist; the route's schema then refuses it.
  const version = params.version !== undefined && /^\d{1,10}$/.test(params.version) && Number(params.version) <= MAX_DATASET_VERSION ? Number(params.version) : undefined;
  const facts = await datasetAccessFacts(deps.db, { name, ...(version !== undefined ? { version } : {}) });
  const classification = classificationOf(facts?.classification);
  if (!facts || !classification) return { type: 'Dataset', id: name, classification: declared ?? 'internal', author: '' };
  return { type: 'Dataset', id: facts.id, classification, author: facts.ingestedBy ?? facts.createdBy, owner: facts.ownerId };
}

/** Dataset resource builders for `on` (src/api/authorize.ts). */
export const datasetResources: Record<'datasetParam' | 'datasetIngest', RouteAuthorization> = {
  datasetParam: { resource: (input) => datasetResource(input) },
  /**
   * Ingest: an existing dataset as it is; a new one with the classification the request
   * declares (so ingesting PII needs PII clearance) and the caller as its author.
   */
  datasetIngest: {
    resource: async (input) => {
      const r = await datasetResource(input, classificationOf(input.query.classification));
      return r.type === 'Dataset' && r.author === '' ? { ...r, author: input.principal.id } : r;
    },
  },
};
