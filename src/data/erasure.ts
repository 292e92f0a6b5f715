import { appendAuditEntry, auditReasonListing } from '../audit/index.js';
import { counted, hashCanonical, newId, NotFound, plainTextIssues, ValidationFailed, type FieldIssue } from '../core/index.js';
import type { ChangeContext } from '../identity/index.js';
import { derivedFromAny, reachableDownstream, type EdgeType, type NodeType, type ReachedNode } from '../lineage/index.js';
import { CLASSIFICATIONS, type Classification } from '../policy/index.js';
import type { Db, Queryable, Tx } from '../store/index.js';
import { dataChangeEntry } from './audit-entry.js';
import { SUBJECT_ID_PADDING, subjectHash, subjectLookupHashes, subjectSalt } from './subject-index.js';
import type { DatasetVersionState } from './types.js';

/**
 * Erasure requests (GDPR Art. 17). A request names a data subject by the id the datasets
 * declared as `subjectIdColumn`; it is hashed at once with the installation's salt, as the
 * subject index was at ingest, and only that hash is kept. The request records every dataset
 * version the index holds the subject in, every dataset version (feature table) and model
 * version downstream of those in the lineage graph, every OpenLineage dataset that jobs outside
 * Assay built from them, and (per the site's policy) flags those
 * models `retrain_required`: all in one transaction with its audit entry. A subject found nowhere
 * is recorded too: that the request was received and reached nothing is evidence as well.
 */

/** The audit action of an erasure request. */
export const ERASURE_REQUEST_ACTION = 'data.erasure_request';
/** Every status a request can have; requests start `open`. */
export const ERASURE_STATUSES = ['open', 'completed', 'refused'] as const;
/** Where a request stands. */
export type ErasureStatus = (typeof ERASURE_STATUSES)[number];
/** The flag an erasure request sets on a model version trained on the subject's data. */
export const RETRAIN_REQUIRED = 'retrain_required';
/** Lineage edges that carry data into what was made from it: a run's inputs and outputs, derivations. */
export const ERASURE_LINEAGE_EDGES: readonly EdgeType[] = ['input', 'output', 'derived'];
/** The lineage nodes a request records downstream of its hits: derived versions, models, OpenLineage datasets. */
const DOWNSTREAM_TYPES: readonly NodeType[] = ['dataset_version', 'model_version', 'external_dataset'];
/**
 * Longest subject id accepted, in characters. The subject index keys every id a file holds,
 * however long (a URL, a composite key): a request must reach any of them. Only the hash is kept.
 */
export const MAX_SUBJECT_ID_LENGTH = 65_536;
/**
 * The longest erasure reason: kept whole in the audit entry, after the counts of what was found
 * and the digest of every id reached (under 400 characters); the ids follow as far as they fit.
 */
export const MAX_ERASURE_REASON = 1500;

/**
 * Erasure requests take this advisory lock exclusively, ingests shared (`awaitErasureRequests`):
 * a request then sees every ingest whose transaction began before it (waiting for those still
 * committing), and an ingest beginning after it waits for it. So a version holding the subject
 * is in the request exactly when its `dataset.ingest` entry precedes the request's in the log.
 */
const ERASURE_LOCK_KEY = 0x657261737572; // "erasur"

/**
 * Called first in an ingest's transaction: waits for an erasure request being recorded, and
 * holds the next one off until this ingest commits (see ERASURE_LOCK_KEY). Ingests do not wait
 * for each other here.
 */
export async function awaitErasureRequests(tx: Tx): Promise<void> {
  await tx.query('SELECT pg_advisory_xact_lock_shared($1)', [ERASURE_LOCK_KEY]);
}

/** A subject id at least this long is refused inside the reason (shorter ones cannot be told from ordinary text, e.g. "Art. 17(1)"). */
const MIN_ID_CHECKED_IN_REASON = 3;

/** What the erasure module needs from its surroundings. */
export interface ErasureEnv {
  db: Db;
  /** Flag affected model versions `retrain_required` (config `data.erasureFlagsModels`). */
  flagsModels: boolean;
  /** The classifications the caller may see (lineage domains); the answer names only what it may see, as `getErasureRequest` says. @default all */
  visible?: readonly Classification[];
}

/** One request: whose data, and why. */
export interface ErasureInput {
  /** The subject's id as the datasets hold it; never stored. */
  subjectId: string;
  /** Why, and on which legal basis. */
  reason: string;
}

/** A dataset version holding the subject, or derived from one that does, with the state it was in when the request was recorded. */
export interface ErasureDatasetHit {
  dataset: string;
  version: number;
  id: string;
  state: DatasetVersionState;
}

/** An OpenLineage dataset (a feature table or extract written by a job outside Assay) downstream of those versions. */
export interface ErasureExternalDataset {
  /** Its lineage node id (lnd_…). */
  nodeId: string;
  namespace: string;
  name: string;
}

/** A model version downstream of those versions. */
export interface ErasureModelHit {
  /** Its lineage node id (mv_…). */
  nodeId: string;
  name?: string;
  /** Whether this request flagged it `retrain_required`. */
  retrainRequired: boolean;
}

/** A request as lists show it: counts only. */
export interface ErasureRequestSummary {
  id: string;
  requestedBy: string;
  requestedAt: string;
  reason: string;
  status: ErasureStatus;
  /** The site's policy when it was recorded: whether affected models are flagged. */
  flagsModels: boolean;
  datasetVersionCount: number;
  /** Dataset versions downstream of those; null for a request filed before they were looked for. */
  derivedDatasetVersionCount: number | null;
  /** OpenLineage datasets downstream of those; null for a request filed before they were looked for. */
  externalDatasetCount: number | null;
  modelCount: number;
  flaggedRetrainRequired: number;
}

/** A request with what it reached, as far as the reader may see it. */
export interface ErasureRequestRecord extends ErasureRequestSummary {
  datasetVersions: ErasureDatasetHit[];
  /** Dataset versions downstream of `datasetVersions` (feature tables), other than those. */
  derivedDatasetVersions: ErasureDatasetHit[];
  /** OpenLineage datasets downstream of them, written by jobs outside Assay (Assay's own datasets under its namespace are the versions above). */
  externalDatasets: ErasureExternalDataset[];
  models: ErasureModelHit[];
  /**
   * Hits in lineage domains (classifications) the reader is not cleared for, and what lies
   * downstream only behind such nodes (as the lineage graph does not pass through them): counted, not named.
   */
  withheld: { datasetVersions: number; derivedDatasetVersions: number; externalDatasets: number; models: number };
}

interface RequestRow {
  id: string;
  requested_by: string;
  requested_at: string | Date;
  reason: string;
  status: ErasureStatus;
  flags_models: boolean;
  dataset_version_count: number;
  derived_version_count: number | null;
  external_dataset_count: number | null;
  model_count: number;
  flagged_count: number;
}

const REQUEST_COLUMNS = 'id, requested_by, requested_at, reason, status, flags_models, dataset_version_count, derived_version_count, external_dataset_count, model_count, flagged_count';

function toSummary(r: RequestRow): ErasureRequestSummary {
  return {
    id: r.id,
    requestedBy: r.requested_by,
    requestedAt: new Date(r.requested_at).toISOString(),
    reason: r.reason,
    status: r.status,
    flagsModels: r.flags_models,
    datasetVersionCount: Number(r.dataset_version_count),
    derivedDatasetVersionCount: r.derived_version_count === null ? null : Number(r.derived_version_count),
    externalDatasetCount: r.external_dataset_count === null ? null : Number(r.external_dataset_count),
    modelCount: Number(r.model_count),
    flaggedRetrainRequired: Number(r.flagged_count),
  };
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Whether `reason` quotes the subject id as a word, in any ASCII case, in either Unicode
 * spelling (both are taken in NFC), and with white space anywhere or nowhere inside it, since
 * the subject key ignores it: `DE89370400440532013000` quotes `DE89 3704 0044 0532 0130 00`.
 */
function quotesSubjectId(reason: string, subjectId: string): boolean {
  const chars = [...subjectId.normalize('NFC').replace(new RegExp(`[${SUBJECT_ID_PADDING}]`, 'g'), '')];
  const text = reason.normalize('NFC');
  // An id longer than the reason cannot be in it (nor is its pattern built: ids run to 65,536 characters).
  if (chars.length < MIN_ID_CHECKED_IN_REASON || chars.length > text.length) return false;
  const id = chars.map(escapeRegExp).join(`[${SUBJECT_ID_PADDING}]*`);
  return new RegExp(`(^|[^\\p{L}\\p{N}])${id}($|[^\\p{L}\\p{N}])`, 'iu').test(text);
}

/** The trimmed subject id and reason, or ValidationFailed naming `body.subjectId` / `body.reason`. */
function validated(input: ErasureInput): ErasureInput {
  const subjectId = input.subjectId.trim();
  const reason = input.reason.trim();
  const issues: FieldIssue[] = [];
  if (subjectId.length === 0) issues.push({ field: 'body.subjectId', message: 'must name the data subject (the id the datasets declared as subjectIdColumn)' });
  else if (subjectId.length > MAX_SUBJECT_ID_LENGTH) issues.push({ field: 'body.subjectId', message: `must be at most ${MAX_SUBJECT_ID_LENGTH} characters` });
  if (reason.length < 3 || reason.length > MAX_ERASURE_REASON) issues.push({ field: 'body.reason', message: `must say why and on which legal basis, in 3 to ${MAX_ERASURE_REASON} characters` });
  else if (quotesSubjectId(reason, subjectId)) {
    issues.push({ field: 'body.reason', message: 'must not contain the subject id: the request keeps only its salted hash' });
  } else issues.push(...plainTextIssues([['body.reason', reason]]));
  if (issues.length > 0) throw new ValidationFailed(`invalid erasure request: ${issues.map((i) => i.field).join(', ')}`, issues);
  return { subjectId, reason };
}

/** The dataset versions whose subject index holds `hash`, in dataset and version order. */
async function findVersions(tx: Tx, hashes: Buffer[]): Promise<ErasureDatasetHit[]> {
  const r = await tx.query<{ dataset: string; version: number; id: string; state: DatasetVersionState }>(
    `SELECT DISTINCT d.name AS dataset, v.version, v.id, v.state
       FROM dataset_subjects s JOIN dataset_versions v ON v.id = s.version_id JOIN datasets d ON d.id = v.dataset_id
      WHERE s.subject_hash IN (SELECT decode(h, 'hex') FROM unnest($1::text[]) AS h) ORDER BY d.name, v.version`,
    [hashes.map((h) => h.toString('hex'))],
  );
  return r.rows.map((x) => ({ ...x, version: Number(x.version) }));
}

/**
 * The dataset versions with these ids, in dataset and version order. Only the data module records
 * `dataset_version` lineage nodes, each for a version it wrote, so every id reached has its row.
 */
async function versionsById(tx: Tx, ids: string[]): Promise<ErasureDatasetHit[]> {
  const r = await tx.query<{ dataset: string; version: number; id: string; state: DatasetVersionState }>(
    `SELECT d.name AS dataset, v.version, v.id, v.state FROM dataset_versions v JOIN datasets d ON d.id = v.dataset_id
      WHERE v.id = ANY($1::text[]) ORDER BY d.name, v.version`,
    [ids],
  );
  return r.rows.map((x) => ({ ...x, version: Number(x.version) }));
}

interface Findings {
  id: string;
  hash: Buffer;
  reason: string;
  at: string;
  flagsModels: boolean;
  versions: ErasureDatasetHit[];
  derived: ErasureDatasetHit[];
  /** External dataset node ids. */
  external: string[];
  models: Array<{ id: string; name: string | null }>;
}

/** Records the request, its hits and flags inside `tx`. */
async function insertRequest(tx: Tx, f: Findings, ctx: ChangeContext): Promise<void> {
  const flagged = f.flagsModels ? f.models.length : 0;
  await tx.query(
    `INSERT INTO erasure_requests (id, subject_hash, requested_by, requested_at, reason, status, flags_models, dataset_version_count, derived_version_count, external_dataset_count, model_count, flagged_count)
     VALUES ($1, $2, $3, $4, $5, 'open', $6, $7, $8, $9, $10, $11)`,
    [f.id, f.hash, ctx.actor.principalId, f.at, f.reason, f.flagsModels, f.versions.length, f.derived.length, f.external.length, f.models.length, flagged],
  );
  for (const [table, list] of [['erasure_request_hits', f.versions], ['erasure_request_derived', f.derived]] as const) {
    await tx.query(`INSERT INTO ${table} (request_id, version_id, state) SELECT $1, v, s FROM unnest($2::text[], $3::text[]) AS t(v, s)`, [
      f.id, list.map((v) => v.id), list.map((v) => v.state),
    ]);
  }
  await tx.query(`INSERT INTO erasure_request_external (request_id, node_id) SELECT $1, n FROM unnest($2::text[]) AS t(n)`, [f.id, f.external]);
  await tx.query(
    `INSERT INTO erasure_request_models (request_id, model_node_id, model_name) SELECT $1, m, n FROM unnest($2::text[], $3::text[]) AS t(m, n)`,
    [f.id, f.models.map((m) => m.id), f.models.map((m) => m.name)],
  );
  if (flagged > 0) {
    await tx.query(
      `INSERT INTO model_retrain_flags (model_node_id, erasure_request_id, flagged_at, state) SELECT m, $1, $2, '${RETRAIN_REQUIRED}' FROM unnest($3::text[]) AS t(m)`,
      [f.id, f.at, f.models.map((m) => m.id)],
    );
  }
}

/** What one request reached, by id, each list sorted: the document `reachedSha256` hashes. */
interface ReachedIds {
  datasetVersions: string[];
  derivedDatasetVersions: string[];
  externalDatasets: string[];
  models: string[];
}

function reachedIds(r: { versions: ReadonlyArray<{ id: string }>; derived: ReadonlyArray<{ id: string }>; external: ReadonlyArray<{ id: string }>; models: ReadonlyArray<{ id: string }> }): ReachedIds {
  const sorted = (xs: ReadonlyArray<{ id: string }>): string[] => xs.map((x) => x.id).sort();
  return { datasetVersions: sorted(r.versions), derivedDatasetVersions: sorted(r.derived), externalDatasets: sorted(r.external), models: sorted(r.models) };
}

/**
 * The SHA-256 of what a request reached: RFC 8785 canonical JSON of `{"datasetVersions",
 * "derivedDatasetVersions", "externalDatasets", "models"}`, each the ids (dataset version ids,
 * lineage node ids) sorted. An examiner recomputes it from the request as a reader cleared for
 * every domain sees it.
 */
export function reachedSha256(r: Pick<ErasureRequestRecord, 'datasetVersions' | 'derivedDatasetVersions' | 'externalDatasets' | 'models'>): string {
  return hashCanonical(
    reachedIds({ versions: r.datasetVersions, derived: r.derivedDatasetVersions, external: r.externalDatasets.map((x) => ({ id: x.nodeId })), models: r.models.map((m) => ({ id: m.nodeId })) }),
  );
}

/**
 * The audit entry's reason. An entry holds 2000 characters and a request may reach thousands of
 * versions and tables, so the counts, the digest of everything reached and the requester's
 * reason come first and are always whole; the ids follow, as many as fit, the digest vouching for
 * all of them.
 */
function auditReasonOf(f: { reason: string; flagsModels: boolean; versions: ErasureDatasetHit[]; derived: ErasureDatasetHit[]; external: ReachedNode[]; models: ReadonlyArray<{ id: string }> }): string {
  const flagged = f.flagsModels ? f.models.length : 0;
  const ids = reachedIds(f);
  const found = [
    ...ids.datasetVersions.map((id) => `dataset version ${id}`),
    ...ids.derivedDatasetVersions.map((id) => `derived version ${id}`),
    ...ids.externalDatasets.map((id) => `external dataset ${id}`),
    ...ids.models.map((id) => `model version ${id}`),
  ];
  return auditReasonListing(
    `subject found in ${counted(f.versions.length, 'dataset version')}; ${counted(f.derived.length, 'derived dataset version')} downstream; ${counted(f.external.length, 'external dataset')} downstream; ` +
      `${counted(f.models.length, 'model version')} downstream, ${flagged} flagged ${RETRAIN_REQUIRED}${f.flagsModels ? '' : ' (data.erasureFlagsModels is off)'}; ` +
      `reached sha256:${hashCanonical(ids)}; reason: ${f.reason}${found.length ? '; found: ' : ''}`,
    found,
  );
}

/**
 * Records an erasure request: hashes the subject id with the installation's salt, finds every
 * dataset version whose subject index holds it, and every dataset version (feature table) and
 * model version downstream of those (lineage `input`, `output` and `derived` edges, any depth,
 * every lineage domain), and every OpenLineage dataset there other than those versions' own (what
 * Spark, dbt or Airflow jobs built from them, in any namespace), and records the request, its hits, the derived
 * versions, the external datasets, the
 * `retrain_required` flags (unless the site's policy says not to flag) and a
 * `data.erasure_request` audit entry in one transaction. Who may ask is the
 * caller's policy decision, made before this runs. The subject id is never stored, logged or
 * returned; a reason that quotes it is refused (400 `body.reason`).
 */
export async function requestErasure(env: ErasureEnv, input: ErasureInput, ctx: ChangeContext): Promise<ErasureRequestRecord> {
  const { subjectId, reason } = validated(input);
  const id = newId('era');
  const at = (ctx.now ?? new Date()).toISOString();
  await env.db.transaction(async (tx) => {
    // First, at read committed: the statements below see every ingest that began before this.
    await tx.query('SELECT pg_advisory_xact_lock($1)', [ERASURE_LOCK_KEY]);
    const salt = await subjectSalt(tx);
    const hash = subjectHash(salt, subjectId);
    const versions = await findVersions(tx, subjectLookupHashes(salt, subjectId));
    // One walk for both: the start nodes (the hits) are left out, so a derived version the index
    // also found stays a hit and is not listed twice.
    const reached = await reachableDownstream(tx, { from: versions.map((v) => v.id), through: ERASURE_LINEAGE_EDGES, types: DOWNSTREAM_TYPES });
    const derived = await versionsById(tx, reached.filter((n) => n.type === 'dataset_version').map((n) => n.id));
    // Assay's own datasets as OpenLineage names them are the versions already listed: the nodes
    // promotion linked those versions to. Not every node in Assay's namespace is one: an outside
    // job may write a table there (an extract named like Assay's datasets), and the subject's
    // data is in it all the same; and a node linked under an earlier lineage.namespace is still
    // Assay's own.
    const candidates = reached.filter((n) => n.type === 'external_dataset');
    const own = await derivedFromAny(tx, { ids: candidates.map((n) => n.id), from: [...versions, ...derived].map((v) => v.id) });
    const external = candidates.filter((n) => !own.has(n.id));
    const models = reached.filter((n) => n.type === 'model_version').map((m) => ({ id: m.id, name: m.name }));
    await insertRequest(tx, { id, hash, reason, at, flagsModels: env.flagsModels, versions, derived, external: external.map((n) => n.id), models }, ctx);
    await appendAuditEntry(tx, dataChangeEntry(ctx, { action: ERASURE_REQUEST_ACTION, resource: { type: 'erasure_request', id }, reason: auditReasonOf({ reason, flagsModels: env.flagsModels, versions, derived, external, models }) }));
  });
  return getErasureRequest(env.db, id, env.visible);
}

type RecordedVersion = ErasureDatasetHit & { classification: string };

/** The dataset versions a request recorded in `table` (hits or derived), with their classification, in dataset and version order. */
async function recordedVersions(db: Queryable, table: 'erasure_request_hits' | 'erasure_request_derived', id: string): Promise<RecordedVersion[]> {
  const r = await db.query<RecordedVersion>(
    `SELECT d.name AS dataset, v.version, v.id, h.state, v.classification
       FROM ${table} h JOIN dataset_versions v ON v.id = h.version_id JOIN datasets d ON d.id = v.dataset_id
      WHERE h.request_id = $1 ORDER BY d.name, v.version`,
    [id],
  );
  return r.rows;
}

/**
 * The ids of the nodes downstream of `from` (the hits a restricted reader may see) that the reader
 * reaches through nodes it may see, as the lineage graph walks for it; undefined for a reader
 * cleared for every domain, who is shown all a request recorded.
 */
async function reachableByReader(db: Queryable, q: { from: readonly string[]; visible: readonly Classification[] | undefined; recorded: number }): Promise<Set<string> | undefined> {
  const { visible } = q;
  if (visible === undefined || CLASSIFICATIONS.every((c) => visible.includes(c))) return undefined;
  if (q.recorded === 0) return new Set();
  const reached = await reachableDownstream(db, { from: q.from, through: ERASURE_LINEAGE_EDGES, types: DOWNSTREAM_TYPES, visible });
  return new Set(reached.map((n) => n.id));
}

/**
 * The request with this id and what it reached, or NotFound. With `visible` (the reader's
 * lineage domains, `visibleClassifications`), what the lineage graph would not show that reader
 * is left out and counted in `withheld`: dataset versions, derived dataset versions, OpenLineage
 * datasets and model versions of any other classification, and the downstream ones (derived
 * versions, OpenLineage datasets, models) it reaches from the hits it may see only through nodes
 * it may not (a table an outside PII job wrote). That is decided against the graph as it is
 * when read, one walk. The request still holds them all, for a reader cleared to see them. A
 * request filed before derived versions (or external datasets) were looked for lists none, and
 * counts them as null.
 */
export async function getErasureRequest(db: Queryable, id: string, visible?: readonly Classification[]): Promise<ErasureRequestRecord> {
  const r = await db.query<RequestRow>(`SELECT ${REQUEST_COLUMNS} FROM erasure_requests WHERE id = $1`, [id]);
  const row = r.rows[0];
  if (!row) throw new NotFound('erasure_request', id);
  const hits = await recordedVersions(db, 'erasure_request_hits', id);
  const derived = await recordedVersions(db, 'erasure_request_derived', id);
  const models = await db.query<{ model_node_id: string; model_name: string | null; flagged: boolean; classification: string | null }>(
    `SELECT m.model_node_id, m.model_name, (f.model_node_id IS NOT NULL) AS flagged, n.classification
       FROM erasure_request_models m LEFT JOIN model_retrain_flags f ON f.erasure_request_id = m.request_id AND f.model_node_id = m.model_node_id
            LEFT JOIN lineage_nodes n ON n.id = m.model_node_id
      WHERE m.request_id = $1 ORDER BY m.model_node_id`,
    [id],
  );
  const external = await db.query<{ node_id: string; namespace: string; name: string; classification: string }>(
    `SELECT x.node_id, n.namespace, n.name, n.classification FROM erasure_request_external x JOIN lineage_nodes n ON n.id = x.node_id
      WHERE x.request_id = $1 ORDER BY n.namespace, n.name`,
    [id],
  );
  // A model whose lineage node is gone has no domain left to check: only an unrestricted reader sees it.
  const seen = (classification: string | null): boolean => visible === undefined || (classification !== null && visible.includes(classification as Classification));
  const shownHits = hits.filter((h) => seen(h.classification));
  // Downstream of the hits, the reader sees what the lineage graph would show it: the graph's
  // walk does not pass through a node the reader may not see, so a table reached only through
  // a PII run stays unseen by a reader without PII clearance, whatever its own classification.
  const reachable = await reachableByReader(db, { from: shownHits.map((h) => h.id), visible, recorded: derived.length + external.rows.length + models.rows.length });
  const shown = (nodeId: string, classification: string | null): boolean => seen(classification) && (reachable === undefined || reachable.has(nodeId));
  const shownDerived = derived.filter((h) => shown(h.id, h.classification));
  const shownExternal = external.rows.filter((x) => shown(x.node_id, x.classification));
  const shownModels = models.rows.filter((m) => shown(m.model_node_id, m.classification));
  const asHit = (h: RecordedVersion): ErasureDatasetHit => ({ dataset: h.dataset, version: Number(h.version), id: h.id, state: h.state });
  return {
    ...toSummary(row),
    datasetVersions: shownHits.map(asHit),
    derivedDatasetVersions: shownDerived.map(asHit),
    externalDatasets: shownExternal.map((x) => ({ nodeId: x.node_id, namespace: x.namespace, name: x.name })),
    models: shownModels.map((m) => ({ nodeId: m.model_node_id, ...(m.model_name !== null ? { name: m.model_name } : {}), retrainRequired: m.flagged })),
    withheld: { datasetVersions: hits.length - shownHits.length, derivedDatasetVersions: derived.length - shownDerived.length, externalDatasets: external.rows.length - shownExternal.length, models: models.rows.length - shownModels.length },
  };
}

/** Filters of `listErasureRequests`. */
export interface ErasureRequestQuery {
  status?: ErasureStatus;
  /** Requests after this id (the previous page's `nextCursor`). */
  after?: string;
  /** @default 100 */
  limit?: number;
}

/** Requests oldest first (ids sort by creation), counts only, with the next page's cursor (null on the last). */
export async function listErasureRequests(db: Queryable, q: ErasureRequestQuery = {}): Promise<{ erasureRequests: ErasureRequestSummary[]; nextCursor: string | null }> {
  const limit = q.limit ?? 100;
  const r = await db.query<RequestRow>(
    `SELECT ${REQUEST_COLUMNS} FROM erasure_requests
      WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR id > $2)
      ORDER BY id LIMIT $3`,
    [q.status ?? null, q.after ?? null, limit + 1],
  );
  const page = r.rows.slice(0, limit).map(toSummary);
  return { erasureRequests: page, nextCursor: r.rows.length > limit ? (page.at(-1)?.id ?? null) : null };
}
