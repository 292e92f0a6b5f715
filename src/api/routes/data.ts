import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import { isAssayError, NotFound, ValidationFailed } from '../../core/index.js';
import {
  CSV_DELIMITERS,
  DECIMAL_SEPARATORS,
  DATASET_FORMATS,
  getDataset,
  getDatasetManifest,
  getDatasetVersion,
  getDatasetVersionChecks,
  getDatasetVersionProfile,
  erasureRequestsReaching,
  ingestDataset,
  listDatasets,
  listDatasetVersions,
  locateCertifiedParquet,
  MAX_DATASET_VERSION,
  MAX_EXCEPTION_REASON,
  openCertifiedParquet,
  overrideDatasetCheck,
  promoteDatasetVersion,
  UPLOAD_MEDIA_TYPES,
  type CertifiedParquetFile,
  type DataEnv,
} from '../../data/index.js';
import { authorizeScope, changeContextOf, getPrincipal, listPrincipals, type AuthenticatedPrincipal } from '../../identity/index.js';
import { CLASSIFICATIONS } from '../../policy/index.js';
import type { Queryable } from '../../store/index.js';
import { authorizeAction, on } from '../authorize.js';
import { emitIngest, emitPromotion } from '../lineage-out.js';
import { decimalInteger } from '../fields.js';
import { defineRoute, type AppDeps } from '../route.js';
import { authorizeDerivationInputs, derivationOf, derivationQuery, derivationSchema } from './data-derivation.js';

// Who may do what is Cedar policy: src/policy/packs/default/data.cedar. Reads of a dataset
// are decided on its classification, so data.clearance-for-sensitive applies to them.

const datasetName = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,127}$/, 'lower-case letters, digits, ".", "_" and "-", at most 128, starting with a letter or digit');
const columnName = z.string().min(1).max(300);
const nameParams = z.strictObject({ name: datasetName });
// Bounded by the column (int4): a larger number would reach the database and fail there as a 500.
const versionNumber = decimalInteger({ min: 1, max: MAX_DATASET_VERSION, message: `a version number, 1 to ${MAX_DATASET_VERSION}` });
const versionParams = z.strictObject({ name: datasetName, version: versionNumber });

const checkName = z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'a check name, e.g. pii');
const exceptionReason = z
  .string()
  .trim()
  .min(3)
  .max(MAX_EXCEPTION_REASON)
  .describe(`Why the check may be waived, at most ${MAX_EXCEPTION_REASON} characters: kept whole with the exception, in the manifest and in the audit log.`);
const overrideSchema = z.strictObject({ check: checkName, reason: exceptionReason });
const promoteBody = z
  .strictObject({
    overrides: z.array(overrideSchema).max(32).optional().describe('Exceptions to failing blocking checks, each decided as overrideDatasetCheck and recorded with who and why.'),
  })
  .optional();
const checkParams = z.strictObject({ name: datasetName, version: versionNumber, check: checkName });

const ingestQuery = z.strictObject({
  sourceSystem: z.string().trim().min(1).max(200).describe('The system the file was exported from (recorded with the version).'),
  sourceDatasetNamespace: z
    .string()
    .optional()
    .describe('OpenLineage namespace of the dataset the file was exported from, e.g. postgres://warehouse:5432 (with sourceDatasetName): 1 to 500 bytes, no control characters, no credentials. Lineage links that dataset upstream of the version.'),
  sourceDatasetName: z
    .string()
    .optional()
    .describe('OpenLineage name of the dataset the file was exported from, e.g. risk.public.loans (with sourceDatasetNamespace): 1 to 1500 bytes, no control characters.'),
  classification: z.enum(CLASSIFICATIONS).optional().describe("Required for a new dataset; must equal an existing dataset's."),
  owner: z.string().min(1).max(200).optional().describe('Accountable owner, a principal id or name; required for a new dataset.'),
  purpose: z.string().trim().min(1).max(2000).optional().describe('The purpose the data was originally collected for.'),
  consentColumn: columnName.optional().describe('Column whose value must grant consent; other rows are excluded (consent_withdrawn, consent_missing, consent_unrecognised).'),
  subjectIdColumn: columnName.optional().describe('Column identifying the data subject; indexed as salted hashes for erasure requests.'),
  residency: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9-]{1,31}$/, 'a region or country code, e.g. EU, DE')
    .optional()
    .describe('Where the data must stay: an ISO 3166-1 alpha-2 country code (e.g. DE) or a region (EU, EEA), any case; recorded in upper case. Anything else is refused.'),
  residencyColumn: columnName.optional().describe('Column holding each row\'s country or region; rows outside the residency are excluded (residency).'),
  format: z.enum(DATASET_FORMATS).optional().describe('Required with application/octet-stream; otherwise implied by the content type.'),
  delimiter: z.enum(CSV_DELIMITERS).optional().describe('CSV field delimiter (default ","); a file that is plainly separated by another one is refused.'),
  decimalSeparator: z.enum(DECIMAL_SEPARATORS).optional().describe('CSV numbers: "," reads 1.234,56 (digits grouped by ".", a space or a no-break space) as 1234.56; "." reads 1,234.56 (grouped by ",", a space or a no-break space) as 1234.56. Undeclared: DuckDB\'s own syntax, no grouping.'),
  dateFormat: z.string().min(1).optional().describe('CSV dates as a strptime format of date specifiers only, e.g. %d.%m.%Y. Default ISO 8601.'),
  timestampFormat: z.string().min(1).optional().describe('CSV timestamps as a strptime format with a time of day, e.g. %d.%m.%Y %H:%M; %z or %Z applies an offset or zone, else UTC. Default ISO 8601.'),
  ...derivationQuery,
});

const exclusionSchema = z.object({ reason: z.string(), rule: z.string(), rowCount: z.number(), rowNumbers: z.array(z.number()) });
const columnSchema = z.object({
  name: z.string(),
  type: z.string().describe('The logical type the checks, the contract and the profile reason about: BIGINT, DOUBLE, BOOLEAN, DATE, TIMESTAMP, VARCHAR or OTHER.'),
  storedAs: z
    .string()
    .optional()
    .describe("DuckDB's type of the column in the certified Parquet, e.g. DECIMAL(18,2) for a DOUBLE held exactly, FLOAT, TIMESTAMP WITH TIME ZONE, VARCHAR for every CSV column. Absent from versions ingested before it was recorded."),
  nullable: z.boolean(),
});
const datasetSchema = z.object({
  id: z.string(),
  name: z.string(),
  classification: z.enum(CLASSIFICATIONS),
  ownerId: z.string(),
  createdBy: z.string(),
  createdAt: z.string(),
  latestVersion: z.number().nullable(),
});
const versionSchema = z.object({
  id: z.string(),
  datasetId: z.string(),
  datasetName: z.string(),
  version: z.number(),
  state: z.enum(['quarantine', 'certified']),
  format: z.enum(DATASET_FORMATS),
  delimiter: z.string().nullable(),
  snapshot: z.object({ sha256: z.string(), size: z.number() }).describe('The raw snapshot in the blob store, by SHA-256.'),
  sourceSystem: z.string(),
  sourceDataset: z
    .object({ namespace: z.string(), name: z.string() })
    .nullable()
    .describe('The OpenLineage dataset the file was exported from, as named at ingest (sourceDatasetNamespace, sourceDatasetName); null: none named.'),
  purpose: z.string().nullable(),
  classification: z.enum(CLASSIFICATIONS),
  residency: z.string().nullable(),
  residencyColumn: z.string().nullable(),
  consentColumn: z.string().nullable(),
  subjectIdColumn: z.string().nullable(),
  values: z
    .object({ decimalSeparator: z.enum(DECIMAL_SEPARATORS).optional(), dateFormat: z.string().optional(), timestampFormat: z.string().optional() })
    .nullable()
    .describe("How the CSV file writes numbers and dates, as declared at ingest; null: DuckDB's own syntax (a point before decimals, ISO 8601)."),
  ingestedBy: z.string(),
  ingestedAt: z.string(),
  rowCount: z.number(),
  schema: z.object({ columns: z.array(columnSchema) }),
  blockingFailures: z.array(z.string()).describe('Failing blocking checks without a recorded exception: promotion waits on these.'),
  waived: z.array(z.string()).describe('Failing blocking checks that carry a recorded exception (see their checks for who and why): the version is, or may be, certified past them.'),
  exclusions: z.array(exclusionSchema),
  certified: z.object({ by: z.string(), at: z.string(), manifestSha256: z.string(), parquetSha256: z.string(), rows: z.number() }).nullable(),
  derivation: derivationSchema.nullable(),
});
const checkSchema = z.object({
  name: z.string(),
  version: z.number(),
  status: z.enum(['pass', 'warn', 'fail']),
  blocking: z.boolean(),
  result: z.string(),
  evidence: z.record(z.string(), z.unknown()).describe('Counts, columns and row numbers; never values.'),
  override: z.object({ by: z.string(), at: z.string(), reason: z.string() }).nullable(),
});

const envelopeSchema = z
  .object({ payloadType: z.string(), payload: z.string(), signatures: z.array(z.object({ keyid: z.string(), sig: z.string() })) })
  .describe('A DSSE v1 envelope; its payload is an in-toto Statement v1 with predicateType https://assay.dev/dataset-manifest/v1.');

const problem = (description: string) => ({ description, contentType: 'application/problem+json' });

/** The data module's surroundings, from the app's dependencies. */
function dataEnv(deps: AppDeps): DataEnv {
  return { db: deps.db, blobs: deps.blobs, tmpDir: deps.config.paths.tmp, maxUploadBytes: deps.config.data.maxUploadBytes, duckdbMemoryLimit: deps.config.data.duckdbMemoryLimit, uploadIdleTimeoutMs: deps.config.data.transferIdleTimeoutSeconds * 1000 };
}

/** The id of the principal named by id or name in `query.owner`, or a 400 naming the field. */
async function ownerId(db: Queryable, owner: string): Promise<string> {
  if (/^prn_[0-9A-Z]{26}$/.test(owner)) {
    const found = await getPrincipal(db, owner).catch(() => undefined);
    if (found) return found.id;
  }
  const { principals } = await listPrincipals(db, { name: owner, limit: 1 });
  if (principals[0]) return principals[0].id;
  throw new ValidationFailed(`no principal ${owner}`, [{ field: 'query.owner', message: 'names no principal' }]);
}

/**
 * Whether the caller may read the version itself (getDatasetVersion), decided on the same
 * resource as its route would. A visibility filter, as listDatasets' is: not recorded.
 */
async function maySeeVersion(ref: { name: string; version: number }, caller: { principal: AuthenticatedPrincipal; deps: AppDeps }): Promise<boolean> {
  const { principal, deps } = caller;
  const resource = await on.datasetParam.resource({ params: { name: ref.name, version: String(ref.version) }, query: {}, principal, deps });
  return deps.policy.authorize({ principal, action: 'getDatasetVersion', resource, context: { elevated: principal.elevation !== undefined } }).decision === 'allow';
}

const contentLength = (raw: string | undefined): number | undefined => (raw && /^\d+$/.test(raw) ? Number(raw) : undefined);

/** Streams the request body: the upload is never buffered, so its size is bounded by data.maxUploadBytes alone. */
const ingestRoute = defineRoute({
  method: 'POST',
  path: '/api/v1/datasets/:name/versions',
  operationId: 'ingestDatasetVersion',
  summary:
    'Ingests the request body (CSV, JSON Lines or Parquet, streamed) as a new version of the dataset, created on first ingest: the raw snapshot is stored by SHA-256, every quarantine check runs, and the version starts in quarantine. Bad input (empty, wrong delimiter, ragged rows, invalid UTF-8, cut off, too large, unsupported) is refused with 4xx and leaves nothing behind.',
  tags: ['data'],
  auth: 'token',
  authorize: on.datasetIngest,
  request: { params: nameParams, query: ingestQuery },
  accepts: Object.keys(UPLOAD_MEDIA_TYPES),
  responses: {
    201: {
      description: 'the new version, in quarantine',
      schema: versionSchema,
      headers: {
        'Assay-Erasure-Requests': {
          description: "a derived version only: erasure requests (open or completed) that reached any of its inputs, as a hit or as a derived version; 0 when none. The new version holds those subjects' data too, and is not among those requests' derived versions",
          type: 'integer',
        },
      },
    },
    400: problem('the file or a parameter is invalid; `errors` names it (body, query.delimiter, query.consentColumn, query.derivedFrom, query.codeSha256, query.parameters, query.sourceDatasetName without query.sourceDatasetNamespace or the reverse, …)'),
    403: problem('policy denies the ingest, or reading an input the version is derived from (decided as getDatasetVersion; `errors` names query.derivedFrom and the input)'),
    409: problem('the declaration contradicts the existing dataset (classification, owner), a derivation input is not certified, or the classification is less restrictive than an input\'s'),
    413: problem('larger than data.maxUploadBytes'),
    415: problem('unsupported or missing content type (`errors` names headers.content-type and lists the accepted types), a charset other than UTF-8 (headers.content-type: convert the file to UTF-8), a body sent compressed (headers.content-encoding), or content that contradicts it'),
    507: problem('the server ran out of storage space (upload spool, blob store, DuckDB spill or database); nothing was kept'),
  },
  handler: async ({ params, query, principal, deps, requestId, request, reply }) => {
    try {
      const derivation = derivationOf(query);
      if (derivation) await authorizeDerivationInputs({ principal: principal as AuthenticatedPrincipal, deps, requestId }, derivation);
      const version = await ingestDataset(
        dataEnv(deps),
        {
          name: params.name,
          source: request.raw,
          mediaType: request.headers['content-type'] ?? '',
          format: query.format,
          delimiter: query.delimiter,
          declaredSize: contentLength(request.headers['content-length']),
          sourceSystem: query.sourceSystem,
          sourceDatasetNamespace: query.sourceDatasetNamespace,
          sourceDatasetName: query.sourceDatasetName,
          classification: query.classification,
          ownerId: query.owner ? await ownerId(deps.db, query.owner) : undefined,
          purpose: query.purpose,
          consentColumn: query.consentColumn,
          subjectIdColumn: query.subjectIdColumn,
          residency: query.residency,
          residencyColumn: query.residencyColumn,
          values: { decimalSeparator: query.decimalSeparator, dateFormat: query.dateFormat, timestampFormat: query.timestampFormat },
          derivation,
        },
        changeContextOf(principal as AuthenticatedPrincipal, requestId),
      );
      emitIngest(deps, version, reply);
      // As a download of an input would say (Assay-Erasure-Requests): the feature table now holds
      // the data of subjects who asked to be erased, and the requests, filed before it, do not list it.
      if (version.derivation) void reply.header('assay-erasure-requests', String(await erasureRequestsReaching(deps.db, version.derivation.inputs.map((i) => i.versionId))));
      return { status: 201, json: version };
    } catch (err) {
      // Refused before the whole body arrived: close rather than read (and discard) the rest.
      if (!request.raw.readableEnded) void reply.header('connection', 'close');
      throw err;
    }
  },
});

/** Promotion: Cedar decides approveDataset on the version (its ingester is the author), then each exception as overrideDatasetCheck. */
const promoteRoute = defineRoute({
  method: 'POST',
  path: '/api/v1/datasets/:name/versions/:version/promote',
  operationId: 'approveDataset',
  summary:
    "Certifies a quarantined version (never by its ingester): every failing blocking check needs an exception, recorded earlier or given here; the certified rows (snapshot minus exclusions) are stored as an immutable Parquet blob and a signed manifest (DSSE, in-toto) records what the certification rests on.",
  tags: ['data'],
  auth: 'token',
  authorize: on.datasetParam,
  request: { params: versionParams, body: promoteBody },
  responses: {
    200: { description: 'the certified version and its signed manifest', schema: z.object({ version: versionSchema, manifest: envelopeSchema }) },
    400: problem('an exception names no failing blocking check of the version; `errors` names the field (body.overrides.N.check)'),
    403: problem('policy denies it: the ingester (sod.no-self-approval), a service or agent (sod.humans-approve), or an exception by a role that may not record one, or with a token whose scopes do not cover overrideDatasetCheck'),
    404: problem('no such dataset or version'),
    409: problem('already certified, or failing blocking checks without an exception (named in `errors`)'),
    507: problem('the server ran out of storage space writing the certified Parquet or the manifest; nothing was kept'),
  },
  handler: async ({ params, body, principal, deps, requestId, reply }) => {
    const caller = principal as AuthenticatedPrincipal;
    const overrides = body?.overrides ?? [];
    if (overrides.length > 0) {
      const input = { params: { name: params.name, version: String(params.version) }, query: {}, principal: caller, deps };
      // The exceptions are an operation of their own: a token scoped to approveDataset alone does not record them.
      await authorizeScope(deps.db, { principal: caller, operation: { operationId: 'overrideDatasetCheck', method: 'POST' } }, { requestId });
      await authorizeAction(input, { action: 'overrideDatasetCheck', resource: await on.datasetParam.resource(input), requestId });
    }
    const promotion = await promoteDatasetVersion({ ...dataEnv(deps), signer: deps.keyring.active(), lineageNamespace: deps.config.lineage.namespace }, { name: params.name, version: params.version, overrides }, changeContextOf(caller, requestId));
    emitPromotion(deps, promotion.version, reply);
    return { json: promotion };
  },
});

/** The media type of Apache Parquet (IANA registration, 2024). */
const PARQUET_MEDIA_TYPE = 'application/vnd.apache.parquet';

/** The headers of a certified Parquet answer: what the file is, its digest, its name, and what an erasure request says about it. */
function parquetHeaders(file: CertifiedParquetFile): Record<string, string> {
  const v = file.version;
  return {
    'content-type': PARQUET_MEDIA_TYPE,
    'content-length': String(file.size),
    etag: `"${file.sha256}"`,
    // RFC 9530: the digest of the bytes sent, in the structured-field byte sequence form.
    'content-digest': `sha-256=:${Buffer.from(file.sha256, 'hex').toString('base64')}:`,
    // The dataset name's syntax (lower-case letters, digits, ".", "_", "-") needs no quoting beyond this.
    'content-disposition': `attachment; filename="${v.datasetName}-v${v.version}.parquet"`,
    // Certified rows, possibly personal data: no shared or local cache keeps a copy.
    'cache-control': 'private, no-store',
    'assay-erasure-requests': String(file.erasureRequests),
  };
}

/**
 * The certified Parquet download: Cedar decides downloadCertifiedDataset on the dataset (its
 * classification, so data.clearance-for-sensitive applies); the access is recorded before the
 * first byte; HEAD answers the same headers and neither streams nor records anything.
 */
const downloadRoute = defineRoute({
  method: 'GET',
  path: '/api/v1/datasets/:name/versions/:version/parquet',
  operationId: 'downloadCertifiedDataset',
  summary:
    "Streams a certified version's rows: the immutable Parquet file its signed manifest names (check it with `assay dataset verify-manifest --parquet`). Each download is recorded in the audit log (dataset.download) before the first byte is sent; HEAD answers the headers without sending or recording. Assay-Erasure-Requests counts the erasure requests (not refused) that reached the version: its rows may hold those subjects' data.",
  tags: ['data'],
  auth: 'token',
  authorize: on.datasetParam,
  request: { params: versionParams },
  responses: {
    200: {
      description: 'the certified Parquet file, streamed; a body cut short of Content-Length means the stored bytes failed their digest mid-stream and must be discarded (recorded as dataset.download.incomplete, with an alert)',
      contentType: PARQUET_MEDIA_TYPE,
      binary: true,
      headers: {
        'Content-Length': { description: 'the file size in bytes', type: 'integer' },
        ETag: { description: 'the SHA-256 (lowercase hex) of the file, quoted: the certified Parquet digest of the version and its manifest', type: 'string' },
        'Content-Digest': { description: 'RFC 9530: sha-256=:<base64 of the SHA-256>:', type: 'string' },
        'Content-Disposition': { description: 'attachment; filename="<name>-v<version>.parquet"', type: 'string' },
        'Cache-Control': { description: 'private, no-store', type: 'string' },
        'Assay-Erasure-Requests': { description: 'erasure requests (open or completed) that reached this version, as a hit or as a derived version; 0 when none', type: 'integer' },
      },
    },
    403: problem('policy denies it: the role (downloadCertifiedDataset), or a sensitive classification without the clearance (data.clearance-for-sensitive)'),
    404: problem('no such dataset or version; to a caller who may not read the version itself (getDatasetVersion), also one not certified'),
    409: problem('the version is not certified: `errors` names params.version with its state (quarantine)'),
    500: problem('the certified Parquet named by the version is missing from the blob store, or its bytes no longer hash to its digest (caught before the first byte): an operator must restore it'),
  },
  handler: async ({ params, principal, deps, requestId, request, reply }) => {
    const caller = principal as AuthenticatedPrincipal;
    let file: CertifiedParquetFile;
    try {
      file = await locateCertifiedParquet(deps, params);
    } catch (err) {
      // As the manifest's: the 409 tells the version exists, only to one who may read it.
      if (isAssayError(err) && err.code === 'conflict' && !(await maySeeVersion(params, { principal: caller, deps }))) {
        throw new NotFound('dataset version', `${params.name}@${params.version}`);
      }
      throw err;
    }
    const headers = parquetHeaders(file);
    // HEAD (Fastify answers it with this handler): no rows leave, so none are read and no access is recorded.
    if (request.method === 'HEAD') return { file: undefined, headers };
    const opened = await openCertifiedParquet({ ...deps, alerts: request.log }, file, changeContextOf(caller, requestId));
    stopWhenStalled(reply.raw, deps.config.data.transferIdleTimeoutSeconds * 1000);
    return { file: opened, headers };
  },
});

/**
 * A client that stops reading a download (a half-open connection, a process stopped mid-read)
 * would hold the response, its blob stream, and a stopping server, forever: once the socket has
 * moved no byte for `ms`, Node destroys it (nothing listens for its 'timeout'), which ends the
 * response short of its Content-Length. The limit is lifted when the response ends, for the next
 * request on the connection. (An upload's limit is in the spool: it must still answer 400.)
 */
function stopWhenStalled(response: ServerResponse, ms: number): void {
  const socket = response.socket;
  if (!socket) return;
  socket.setTimeout(ms);
  response.once('close', () => socket.setTimeout(0));
}

export const dataRoutes = [
  ingestRoute,
  promoteRoute,
  downloadRoute,
  defineRoute({
    method: 'POST',
    path: '/api/v1/datasets/:name/versions/:version/checks/:check/override',
    operationId: 'overrideDatasetCheck',
    summary: 'Records an exception to a failing blocking check of a quarantined version, with why (never by its ingester), so one principal may waive a check and another certify the version.',
    tags: ['data'],
    auth: 'token',
    authorize: on.datasetParam,
    request: { params: checkParams, body: z.strictObject({ reason: exceptionReason }) },
    responses: {
      201: { description: 'the check with its exception', schema: checkSchema },
      400: problem('the check does not exist, does not fail and block, or already has an exception (also when another request recorded one first); `errors` names params.check'),
      403: problem('policy denies it (data.override-blocking-checks, sod.no-self-approval, sod.humans-approve)'),
      404: problem('no such dataset or version'),
      409: problem('the version is already certified: exceptions are recorded only in quarantine'),
    },
    handler: async ({ params, body, principal, deps, requestId }) => ({
      status: 201,
      json: await overrideDatasetCheck(dataEnv(deps), { name: params.name, version: params.version, override: { check: params.check, reason: body.reason } }, changeContextOf(principal as AuthenticatedPrincipal, requestId)),
    }),
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/datasets/:name/versions/:version/manifest',
    operationId: 'getDatasetVersionManifest',
    summary: "A certified version's signed manifest: a DSSE envelope over an in-toto Statement v1 whose subjects are the certified Parquet blob and the raw snapshot; verify it with the audit public key.",
    tags: ['data'],
    auth: 'token',
    authorize: on.datasetParam,
    request: { params: versionParams },
    responses: {
      200: { description: 'the DSSE envelope', schema: envelopeSchema },
      404: problem('no such dataset or version; to a caller who may not read the version itself (getDatasetVersion), also one not certified yet'),
      409: problem('the version is not certified yet: `errors` names params.version with its state (quarantine)'),
    },
    handler: async ({ params, principal, deps }) => {
      try {
        return { json: await getDatasetManifest(deps, params) };
      } catch (err) {
        // The 409 tells that the version exists: only to a caller who may read the version
        // itself. One a site's policies let fetch manifests alone learns no more than of a missing one.
        if (isAssayError(err) && err.code === 'conflict' && !(await maySeeVersion(params, { principal: principal as AuthenticatedPrincipal, deps }))) {
          throw new NotFound('dataset version', `${params.name}@${params.version}`);
        }
        throw err;
      }
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/datasets',
    operationId: 'listDatasets',
    summary: 'Datasets in name order, only those whose classification the caller is cleared for; pages with `after`.',
    tags: ['data'],
    auth: 'token',
    authorize: on.platform,
    request: {
      query: z.strictObject({
        after: datasetName.optional().describe('nextCursor of the previous page'),
        limit: decimalInteger({ min: 1, max: 1000 }).default(100),
      }),
    },
    responses: { 200: { description: 'a page of datasets', schema: z.object({ datasets: z.array(datasetSchema), nextCursor: z.string().nullable() }) } },
    handler: async ({ query, principal, deps }) => {
      const page = await listDatasets(deps.db, { ...(query.after ? { after: query.after } : {}), limit: query.limit });
      // Listing reveals no more than reading one would: each dataset is decided as getDataset.
      const visible = page.filter(
        (d) =>
          deps.policy.authorize({
            principal: principal!,
            action: 'getDataset',
            resource: { type: 'Dataset', id: d.id, classification: d.classification, author: d.createdBy, owner: d.ownerId },
            context: { elevated: principal!.elevation !== undefined },
          }).decision === 'allow',
      );
      return { json: { datasets: visible, nextCursor: page.length === query.limit ? (page.at(-1)?.name ?? null) : null } };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/datasets/:name',
    operationId: 'getDataset',
    summary: 'One dataset: classification, owner, creator and its latest version number.',
    tags: ['data'],
    auth: 'token',
    authorize: on.datasetParam,
    request: { params: nameParams },
    responses: { 200: { description: 'the dataset', schema: datasetSchema }, 404: problem('no such dataset') },
    handler: async ({ params, deps }) => ({ json: await getDataset(deps.db, params.name) }),
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/datasets/:name/versions',
    operationId: 'listDatasetVersions',
    summary: 'Every version of the dataset, oldest first, with its state, snapshot, schema, blocking failures and exclusions.',
    tags: ['data'],
    auth: 'token',
    authorize: on.datasetParam,
    request: { params: nameParams },
    responses: { 200: { description: 'the versions', schema: z.object({ versions: z.array(versionSchema) }) }, 404: problem('no such dataset') },
    handler: async ({ params, deps }) => ({ json: { versions: await listDatasetVersions(deps.db, params.name) } }),
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/datasets/:name/versions/:version',
    operationId: 'getDatasetVersion',
    summary: 'One version of the dataset.',
    tags: ['data'],
    auth: 'token',
    authorize: on.datasetParam,
    request: { params: versionParams },
    responses: { 200: { description: 'the version', schema: versionSchema }, 404: problem('no such dataset or version') },
    handler: async ({ params, deps }) => ({ json: await getDatasetVersion(deps.db, params) }),
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/datasets/:name/versions/:version/checks',
    operationId: 'getDatasetVersionChecks',
    summary: 'The quarantine checks of a version, in the order they ran: name, version, status, whether it blocks, result, evidence (never values), and any recorded exception.',
    tags: ['data'],
    auth: 'token',
    authorize: on.datasetParam,
    request: { params: versionParams },
    responses: { 200: { description: 'the check results', schema: z.object({ checks: z.array(checkSchema) }) }, 404: problem('no such dataset or version') },
    handler: async ({ params, deps }) => ({ json: { checks: await getDatasetVersionChecks(deps.db, params) } }),
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/datasets/:name/versions/:version/profile',
    operationId: 'getDatasetVersionProfile',
    summary: "A version's per-column profile (types, nulls, distinct counts, quantiles and histograms, top-k): the drift monitor's reference.",
    tags: ['data'],
    auth: 'token',
    authorize: on.datasetParam,
    request: { params: versionParams },
    responses: { 200: { description: 'the profile', schema: z.record(z.string(), z.unknown()) }, 404: problem('no such dataset or version') },
    handler: async ({ params, deps }) => ({ json: await getDatasetVersionProfile(deps.db, params) }),
  }),
];
