import { z } from 'zod';
import { duplicateJsonKey, impreciseJsonNumber, ValidationFailed, type FieldIssue } from '../../core/index.js';
import { MAX_DATASET_VERSION, MAX_DERIVATION_INPUTS, MAX_DERIVATION_PARAMETERS_BYTES, type DerivationInput } from '../../data/index.js';
import type { AuthenticatedPrincipal } from '../../identity/index.js';
import { PolicyDenied } from '../../policy/index.js';
import { authorizeAction } from '../authorize.js';
import type { AppDeps } from '../route.js';
import { datasetResources } from './data-resources.js';

/**
 * How an ingest declares a derived version (a feature table) in its query string, and the
 * decision that the caller may read each input. The rules on the inputs themselves (they
 * exist, are certified, are no more restrictive than the derived dataset) are the data
 * module's (src/data/derivation.ts).
 */

const INPUT_REF = /^([a-z0-9][a-z0-9._-]{0,127})@([1-9][0-9]*)$/;

/** The query parameters of a derivation, spread into the ingest route's query schema. */
export const derivationQuery = {
  derivedFrom: z
    .union([z.string(), z.array(z.string())])
    .optional()
    .describe(`The certified versions the uploaded file was derived from, as name@version: repeat the parameter or separate with commas (at most ${MAX_DERIVATION_INPUTS}). Makes the new version a derived one (a feature table); needs codeSha256.`),
  codeSha256: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, 'the SHA-256 of the transformation code: 64 hex digits')
    .optional()
    .describe('SHA-256 of the transformation code that produced the file (required with derivedFrom).'),
  codeUri: z.string().trim().min(1).max(2000).optional().describe('Where the transformation code lives, e.g. a repository URL at a commit.'),
  transform: z.string().trim().min(1).max(200).optional().describe("The transformation's name, e.g. the script's file name."),
  parameters: z
    .string()
    .max(4 * MAX_DERIVATION_PARAMETERS_BYTES)
    .optional()
    .describe(`The transformation's parameters: a JSON object, URL-encoded, at most ${MAX_DERIVATION_PARAMETERS_BYTES} bytes as canonical JSON.`),
};

type DerivationQuery = z.output<z.ZodObject<typeof derivationQuery>>;

function invalid(issues: FieldIssue[]): ValidationFailed {
  return new ValidationFailed(`invalid derivation: ${issues.map((i) => `${i.field}: ${i.message}`).join('; ')}`, issues);
}

function parseParameters(text: string | undefined): Record<string, unknown> {
  if (text === undefined) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw invalid([{ field: 'query.parameters', message: `is not valid JSON (${(cause as Error).message})` }]);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid([{ field: 'query.parameters', message: 'must be a JSON object' }]);
  const twice = duplicateJsonKey(text);
  if (twice !== undefined) throw invalid([{ field: 'query.parameters', message: `names the key ${JSON.stringify(twice.slice(0, 100))} twice in one object` }]);
  const imprecise = impreciseJsonNumber(text);
  if (imprecise !== undefined) {
    throw invalid([{ field: 'query.parameters', message: `holds the number ${imprecise.slice(0, 100)}, which JSON.parse would record as ${Number(imprecise)}: write it as a string, or as a number a double holds (I-JSON)` }]);
  }
  return value as Record<string, unknown>;
}

/** The derivation the query declares, or undefined for a raw ingest; 400 naming the parameter when it is malformed. */
export function derivationOf(query: DerivationQuery): DerivationInput | undefined {
  const refs = (Array.isArray(query.derivedFrom) ? query.derivedFrom : query.derivedFrom !== undefined ? [query.derivedFrom] : []).flatMap((r) => r.split(',')).map((r) => r.trim());
  if (refs.length === 0) {
    const stray = (['codeSha256', 'codeUri', 'transform', 'parameters'] as const).filter((k) => query[k] !== undefined);
    if (stray.length > 0) throw invalid(stray.map((k) => ({ field: `query.${k}`, message: 'only with derivedFrom' })));
    return undefined;
  }
  const issues: FieldIssue[] = [];
  const inputs = refs.flatMap((ref) => {
    const m = INPUT_REF.exec(ref);
    if (!m) issues.push({ field: 'query.derivedFrom', message: `"${ref.slice(0, 200)}" is not name@version (e.g. german-credit@1)` });
    else if (Number(m[2]) > MAX_DATASET_VERSION) issues.push({ field: 'query.derivedFrom', message: `"${ref.slice(0, 200)}": a version number is at most ${MAX_DATASET_VERSION}` });
    else return [{ dataset: m[1]!, version: Number(m[2]) }];
    return [];
  });
  if (query.codeSha256 === undefined) issues.push({ field: 'query.codeSha256', message: 'required with derivedFrom' });
  if (issues.length > 0) throw invalid(issues);
  return {
    inputs,
    code: { sha256: query.codeSha256!.toLowerCase(), uri: query.codeUri, name: query.transform },
    parameters: parseParameters(query.parameters),
  };
}

/**
 * Whoever derives a feature table read its inputs: each input is decided as
 * getDatasetVersion on that version (so data.clearance-for-sensitive applies to it), recorded
 * and enforced like the route's own decision; a denial names `query.derivedFrom` and the input
 * as the caller wrote it, as a refusal of an ingest may list many. An input that does not exist is decided as
 * `internal`; the data module then answers 400 naming it.
 */
export async function authorizeDerivationInputs(
  request: { principal: AuthenticatedPrincipal; deps: AppDeps; requestId: string },
  derivation: DerivationInput,
): Promise<void> {
  for (const i of derivation.inputs) {
    const input = { params: { name: i.dataset, version: String(i.version) }, query: {}, principal: request.principal, deps: request.deps };
    const ref = `${i.dataset}@${i.version}`;
    await authorizeAction(input, { action: 'getDatasetVersion', resource: await datasetResources.datasetParam.resource(input), requestId: request.requestId }).catch((err: unknown) => {
      if (!(err instanceof PolicyDenied)) throw err;
      throw new PolicyDenied({
        action: err.action,
        principalId: err.principalId,
        policyIds: err.policyIds,
        reason: `the input ${ref} may not be read: ${err.message}`,
        errors: [{ field: 'query.derivedFrom', message: `${ref}: you may not read this input (${err.policyIds.join(', ') || err.action})` }],
      });
    });
  }
}

/** A version's `derivation` in responses. */
export const derivationSchema = z
  .object({
    inputs: z.array(
      z.object({ dataset: z.string(), version: z.number(), versionId: z.string(), classification: z.string(), parquetSha256: z.string(), manifestSha256: z.string() }),
    ),
    code: z.object({ sha256: z.string(), uri: z.string().nullable(), name: z.string().nullable() }),
    parameters: z.record(z.string(), z.unknown()),
    parametersSha256: z.string(),
  })
  .describe('What a derived version was built from: certified inputs (with the Parquet and manifest digests they had), the code SHA-256 and the parameters; null for a raw ingest.');
