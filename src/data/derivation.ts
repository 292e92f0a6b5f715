import { appendAuditEntry, auditReasonListing } from '../audit/index.js';
import { canonicalBytes, Conflict, embeddedCredentialIssues, hashCanonical, plainTextIssue, ValidationFailed, type FieldIssue } from '../core/index.js';
import type { ChangeContext } from '../identity/index.js';
import { atLeastAsRestrictive, recordLineage } from '../lineage/index.js';
import type { Classification } from '../policy/index.js';
import type { Queryable, Tx } from '../store/index.js';
import { dataChangeEntry } from './audit-entry.js';
import type { DatasetDerivation } from './types.js';

/**
 * Derived datasets (feature tables). A derived version is uploaded and quarantined like any
 * other, and declares at ingest what it was built from: certified input versions, the
 * transformation code's SHA-256 and the parameters. The declaration is checked before a byte
 * of the upload is read (`assertDerivation`) and recorded with the version, its lineage (inputs
 * → run → version, job → run) and a `dataset.derive` audit entry in the version's own
 * transaction (`recordDerivation`), so a derived version never exists without it.
 */

/** The audit action recording what a derived version was built from. */
export const DATASET_DERIVE_ACTION = 'dataset.derive';
/** Most input versions one derivation names. */
export const MAX_DERIVATION_INPUTS = 32;
/** Largest parameters object, as RFC 8785 canonical JSON. */
export const MAX_DERIVATION_PARAMETERS_BYTES = 16 * 1024;
/** Deepest nesting of the parameters object. */
const MAX_PARAMETERS_DEPTH = 32;

/** What a derived version declares at ingest. */
export interface DerivationInput {
  /** Certified versions it was built from, by dataset name and version number. */
  inputs: Array<{ dataset: string; version: number }>;
  /** The transformation code: its SHA-256 (64 hex), and optionally where it lives and its name. */
  code: { sha256: string; uri?: string | undefined; name?: string | undefined };
  /** The transformation's parameters: a JSON object. */
  parameters: Record<string, unknown>;
}

const SHA256 = /^[0-9a-f]{64}$/;
// With the `u` flag a surrogate pair is one code point, so this matches lone surrogates only:
// JSON can spell them, the database's jsonb refuses them.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/** Why `value` is no JSON the database stores as it was given, or undefined. */
function jsonIssue(value: unknown, depth: number): string | undefined {
  if (depth > MAX_PARAMETERS_DEPTH) return `nests deeper than ${MAX_PARAMETERS_DEPTH} levels`;
  if (value === null || typeof value === 'boolean') return undefined;
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : 'holds a number JSON cannot spell';
  if (typeof value === 'string') return value.includes('\u0000') || LONE_SURROGATE.test(value) ? 'holds a NUL character or a lone surrogate' : undefined;
  if (Array.isArray(value)) {
    for (const x of value) {
      const issue = jsonIssue(x, depth + 1);
      if (issue) return issue;
    }
    return undefined;
  }
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const [k, x] of Object.entries(value)) {
      const issue = jsonIssue(k, depth + 1) ?? jsonIssue(x, depth + 1);
      if (issue) return issue;
    }
    return undefined;
  }
  return 'holds a value that is not JSON';
}

/** 400 naming each malformed part of the declaration (query.derivedFrom, query.codeSha256, …). */
function assertWellFormed(d: DerivationInput, target: string): void {
  const issues: FieldIssue[] = [];
  if (d.inputs.length === 0 || d.inputs.length > MAX_DERIVATION_INPUTS) {
    issues.push({ field: 'query.derivedFrom', message: `names 1 to ${MAX_DERIVATION_INPUTS} input versions` });
  }
  const seen = new Set<string>();
  for (const i of d.inputs) {
    const ref = `${i.dataset}@${i.version}`;
    if (i.dataset === target) issues.push({ field: 'query.derivedFrom', message: `${ref}: a dataset is never derived from itself (nor from an earlier version of itself)` });
    else if (seen.has(ref)) issues.push({ field: 'query.derivedFrom', message: `${ref} is named twice` });
    seen.add(ref);
  }
  if (!SHA256.test(d.code.sha256)) issues.push({ field: 'query.codeSha256', message: 'must be the SHA-256 of the transformation code: 64 lower-case hex digits' });
  // Text columns cannot hold NUL; control and bidirectional formatting characters have no place in a URI or a name (core/text.ts).
  const plain = (text: string, max: number) => text.length >= 1 && text.length <= max && plainTextIssue(text) === undefined;
  if (d.code.uri !== undefined && !plain(d.code.uri, 2000)) issues.push({ field: 'query.codeUri', message: 'must be 1 to 2000 characters, no control or bidirectional formatting characters' });
  if (d.code.name !== undefined && !plain(d.code.name, 200)) issues.push({ field: 'query.transform', message: 'must be 1 to 200 characters, no control or bidirectional formatting characters' });
  // A repository URL is easily copied with its access token; the derivation is signed and never edited.
  issues.push(...embeddedCredentialIssues([['query.codeUri', d.code.uri], ['query.transform', d.code.name]]));
  const p = d.parameters as unknown;
  const parameters =
    typeof p !== 'object' || p === null || Array.isArray(p)
      ? 'must be a JSON object'
      : (jsonIssue(p, 0) ?? (canonicalBytes(p).length > MAX_DERIVATION_PARAMETERS_BYTES ? `must be at most ${MAX_DERIVATION_PARAMETERS_BYTES} bytes as canonical JSON` : undefined));
  if (parameters) issues.push({ field: 'query.parameters', message: parameters });
  if (issues.length > 0) throw new ValidationFailed(`invalid derivation of ${target}: ${issues.map((i) => i.message).join('; ')}`, issues);
}

interface InputRow {
  name: string;
  version: number;
  id: string;
  state: string;
  classification: Classification;
  certified_sha256: string | null;
  manifest_sha256: string | null;
}

/**
 * Checks a declared derivation of a version of dataset `target` (classified `classification`)
 * and resolves its inputs: 400 for a malformed declaration or an input that does not exist,
 * 409 for an input that is not certified (only certified data feeds features), or one whose
 * classification is more restrictive than the derived dataset's (a feature table of PII data
 * is PII). Reads only; the caller's policy already decided the caller may read each input.
 */
export async function assertDerivation(db: Queryable, d: DerivationInput, target: { name: string; classification: Classification }): Promise<DatasetDerivation['inputs']> {
  assertWellFormed(d, target.name);
  const r = await db.query<InputRow>(
    `SELECT d.name, v.version, v.id, v.state, v.classification, v.certified_sha256, v.manifest_sha256
       FROM unnest($1::text[], $2::int[]) AS want(name, version)
       JOIN datasets d ON d.name = want.name JOIN dataset_versions v ON v.dataset_id = d.id AND v.version = want.version`,
    [d.inputs.map((i) => i.dataset), d.inputs.map((i) => i.version)],
  );
  const found = new Map(r.rows.map((row) => [`${row.name}@${row.version}`, row]));
  const missing = d.inputs.map((i) => `${i.dataset}@${i.version}`).filter((ref) => !found.has(ref));
  if (missing.length > 0) {
    throw new ValidationFailed(`no dataset version ${missing.join(', ')}`, missing.map((ref) => ({ field: 'query.derivedFrom', message: `${ref} names no dataset version` })));
  }
  const rows = d.inputs.map((i) => found.get(`${i.dataset}@${i.version}`)!);
  const quarantined = rows.filter((row) => row.state !== 'certified' || !row.certified_sha256 || !row.manifest_sha256);
  if (quarantined.length > 0) {
    throw new Conflict(
      `only certified data feeds a derived dataset: ${quarantined.map((row) => `${row.name}@${row.version} is ${row.state}`).join(', ')}`,
      quarantined.map((row) => ({ field: 'query.derivedFrom', message: `${row.name}@${row.version} is ${row.state}, not certified` })),
    );
  }
  const weaker = rows.filter((row) => !atLeastAsRestrictive(target.classification, row.classification));
  if (weaker.length > 0) {
    throw new Conflict(
      `${target.name} is classified ${target.classification}, less restrictive than what it is derived from (${weaker.map((row) => `${row.name}@${row.version}: ${row.classification}`).join(', ')})`,
      weaker.map((row) => ({ field: 'query.classification', message: `must be at least as restrictive as ${row.name}@${row.version} (${row.classification})` })),
    );
  }
  return rows.map((row) => ({
    dataset: row.name,
    version: row.version,
    versionId: row.id,
    classification: row.classification,
    parquetSha256: row.certified_sha256!,
    manifestSha256: row.manifest_sha256!,
  }));
}

/** The lineage job of a derived dataset: one per dataset (named after its id), each version one run of it. */
export const derivationJobId = (datasetId: string): string => `job_${datasetId.slice(datasetId.indexOf('_') + 1)}`;
/** The lineage run that produced a derived version (named after the version's id). */
export const derivationRunId = (versionId: string): string => `run_${versionId.slice(versionId.indexOf('_') + 1)}`;

/** The derived version being recorded, inside its ingest transaction, and its declared derivation. */
export interface DerivedVersion {
  datasetId: string;
  versionId: string;
  name: string;
  version: number;
  classification: Classification;
  derivation: DerivationInput;
}

/**
 * Records the derivation of a version inside its ingest transaction: the derivation and its
 * inputs (the database refuses an input that is not certified, or of the same dataset), the
 * lineage (each input → run `input`, run → version `output`, job → run `run_of`) and the
 * `dataset.derive` audit entry. The inputs are resolved again in the transaction.
 */
export async function recordDerivation(tx: Tx, v: DerivedVersion, ctx: ChangeContext): Promise<void> {
  const d = v.derivation;
  const inputs = await assertDerivation(tx, d, v);
  const parametersSha256 = hashCanonical(d.parameters);
  await tx.query('INSERT INTO dataset_derivations (version_id, code_sha256, code_uri, transform, parameters, parameters_sha256) VALUES ($1, $2, $3, $4, $5, $6)', [
    v.versionId, d.code.sha256, d.code.uri ?? null, d.code.name ?? null, JSON.stringify(d.parameters), parametersSha256,
  ]);
  await tx.query(
    `INSERT INTO dataset_derivation_inputs (version_id, input_version_id, position)
     SELECT $1, i.id, i.ord - 1 FROM unnest($2::text[]) WITH ORDINALITY AS i(id, ord)`,
    [v.versionId, inputs.map((i) => i.versionId)],
  );
  const job = derivationJobId(v.datasetId);
  const run = derivationRunId(v.versionId);
  await recordLineage(tx, {
    nodes: [
      ...inputs.map((i) => ({ id: i.versionId, type: 'dataset_version' as const, classification: i.classification, name: `${i.dataset} v${i.version}` })),
      { id: job, type: 'job', classification: v.classification, name: `derive:${v.name}`, attributes: { kind: 'derivation', dataset: v.name } },
      {
        id: run,
        type: 'run',
        classification: v.classification,
        name: `derive:${v.name} v${v.version}`,
        attributes: { codeSha256: d.code.sha256, parametersSha256, ...(d.code.name ? { transform: d.code.name } : {}) },
      },
      { id: v.versionId, type: 'dataset_version', classification: v.classification, name: `${v.name} v${v.version}`, attributes: { state: 'quarantine' } },
    ],
    edges: [...inputs.map((i) => ({ from: i.versionId, to: run, type: 'input' as const })), { from: job, to: run, type: 'run_of' }, { from: run, to: v.versionId, type: 'output' }],
  });
  // Up to 32 inputs do not all fit in a reason: the digest binds the whole list to the entry,
  // and an examiner recomputes it from the version's derivation (README).
  const inputsSha256 = hashCanonical(inputs.map((i) => ({ dataset: i.dataset, version: i.version, parquetSha256: i.parquetSha256 })));
  const head = `${v.name} v${v.version} derived by code sha256:${d.code.sha256}${d.code.name ? ` (${d.code.name})` : ''}, parameters sha256:${parametersSha256}, inputs sha256:${inputsSha256}, from `;
  await appendAuditEntry(
    tx,
    dataChangeEntry(ctx, {
      action: DATASET_DERIVE_ACTION,
      resource: { type: 'dataset_version', id: v.versionId },
      reason: auditReasonListing(head, inputs.map((i) => `${i.dataset}@${i.version} (parquet sha256:${i.parquetSha256})`)),
    }),
  );
}

/** The `derivation` column of a version query: null, or the derivation with its inputs in order. */
export const DERIVATION_COLUMN = `(SELECT json_build_object(
    'code', json_build_object('sha256', x.code_sha256, 'uri', x.code_uri, 'name', x.transform),
    'parameters', x.parameters, 'parametersSha256', x.parameters_sha256,
    'inputs', (SELECT json_agg(json_build_object('dataset', ind.name, 'version', iv.version, 'versionId', iv.id, 'classification', iv.classification,
                 'parquetSha256', iv.certified_sha256, 'manifestSha256', iv.manifest_sha256) ORDER BY i.position)
                 FROM dataset_derivation_inputs i JOIN dataset_versions iv ON iv.id = i.input_version_id JOIN datasets ind ON ind.id = iv.dataset_id
                WHERE i.version_id = x.version_id))
   FROM dataset_derivations x WHERE x.version_id = v.id) AS derivation`;
