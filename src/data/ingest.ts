import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { appendAuditEntry } from '../audit/index.js';
import { clipText, Conflict, embeddedCredentialIssues, InsufficientStorage, isStorageFull, newId, NotFound, nulPath, plainTextIssues, ValidationFailed, type FieldIssue } from '../core/index.js';
import { getPrincipal, type ChangeContext } from '../identity/index.js';
import { openLineageNameIssues, recordLineage } from '../lineage/index.js';
import type { Classification } from '../policy/index.js';
import type { BlobStore, Db, Tx } from '../store/index.js';
import { dataChangeEntry } from './audit-entry.js';
import { keepStoredBlobs, newBlobClaim, recordPendingBlob, releaseBlobs, type StoredBlob } from './blob-refs.js';
import { residencyOf, RESIDENCY_REGIONS, type Contract, type DeclaredVersion } from './checks/index.js';
import { readCsvHeader } from './csv-dialect.js';
import { assertDerivation, recordDerivation, type DerivationInput } from './derivation.js';
import { openDuckSession } from './duck.js';
import { awaitErasureRequests } from './erasure.js';
import { assertMagic, resolveFormat } from './formats.js';
import { openSnapshot, type LoadedColumn } from './load.js';
import { runQuarantine, type QuarantineReport } from './quarantine.js';
import { findDataset, getDatasetVersion } from './records.js';
import { discardUpload, spoolUpload, uploadTooLarge, type SpooledUpload } from './spool.js';
import { indexSubjects, subjectSalt, writeSubjectHashes, type SubjectHashFile } from './subject-index.js';
import { startsWithBom } from './utf8.js';
import { declaredValues, valueFormatIssues } from './value-format.js';
import type { DatasetFormat, DatasetRecord, DatasetVersionRecord, SourceDataset, ValueFormat } from './types.js';

/** What the data module needs from its surroundings. */
export interface DataEnv {
  db: Db;
  blobs: BlobStore;
  /** Private scratch space: spooled uploads and DuckDB spill files. */
  tmpDir: string;
  /** Larger uploads are refused with 413. */
  maxUploadBytes: number;
  /** DuckDB's memory limit per ingest, e.g. `2GB`; beyond it DuckDB spills to `tmpDir`. */
  duckdbMemoryLimit: string;
  /** How long an upload may send nothing before it is refused (400) and its partial file removed. @default no limit */
  uploadIdleTimeoutMs?: number;
}

/** The data module's surroundings within one request: the claim its pending blob records go under. */
type ClaimEnv = DataEnv & { claim: string };

/** One upload and what the ingester declares about it. */
export interface IngestInput {
  name: string;
  /** The file's bytes, streamed (an HTTP request body, a file stream). */
  source: AsyncIterable<Uint8Array>;
  mediaType: string;
  format?: DatasetFormat | undefined;
  /** CSV field delimiter. @default ',' */
  delimiter?: string | undefined;
  /** Declared length (Content-Length), checked against the limit before reading. */
  declaredSize?: number | undefined;
  sourceSystem: string;
  /**
   * The OpenLineage dataset the file was exported from (a warehouse table Airflow, Spark or dbt
   * report): both or neither. Linked upstream of the version in the lineage graph.
   */
  sourceDatasetNamespace?: string | undefined;
  sourceDatasetName?: string | undefined;
  /** Required for a new dataset; must match an existing one's. */
  classification?: Classification | undefined;
  /** Principal id of the accountable owner; required for a new dataset, must match an existing one's. */
  ownerId?: string | undefined;
  purpose?: string | undefined;
  consentColumn?: string | undefined;
  subjectIdColumn?: string | undefined;
  residency?: string | undefined;
  residencyColumn?: string | undefined;
  /** How a CSV file writes numbers and dates, when not in DuckDB's own syntax (see value-format.ts). */
  values?: ValueFormat | undefined;
  /** A derived version (feature table): what it was built from, checked before the upload is read, recorded with it. */
  derivation?: DerivationInput | undefined;
}

/** The audit action of an ingest, and of the dataset's creation by its first ingest. */
export const DATASET_INGEST_ACTION = 'dataset.ingest';
export const DATASET_CREATE_ACTION = 'dataset.create';

/**
 * Ingests one file as a new version of dataset `name` (created on first ingest), in state
 * `quarantine`: streams the upload to a private temporary file, refuses bad input with a 4xx
 * naming the problem, stores the raw snapshot immutably by SHA-256 in the blob store while
 * DuckDB runs every quarantine check and the profile, then records the version, its checks,
 * exclusions and subject index with the audit entry in one transaction. On any failure,
 * nothing is left behind: no version row, and no blob that this ingest created and nothing
 * references; should the process die instead, its pending blob record lets the sweep remove
 * the snapshot (pending-blobs.ts).
 */
export async function ingestDataset(env: DataEnv, input: IngestInput, ctx: ChangeContext): Promise<DatasetVersionRecord> {
  const format = resolveFormat({ mediaType: input.mediaType, format: input.format });
  if (input.declaredSize !== undefined && input.declaredSize > env.maxUploadBytes) throw uploadTooLarge(env.maxUploadBytes);
  const existing = await findDataset(env.db, input.name);
  const declared = declare(input, existing, format);
  if (!existing) await assertAccountableOwner(env.db, declared.ownerId);
  if (input.derivation) await assertDerivation(env.db, input.derivation, { name: input.name, classification: declared.classification });
  const upload = await spoolUpload(input.source, { dir: env.tmpDir, maxBytes: env.maxUploadBytes, text: format !== 'parquet', jsonLines: format === 'jsonl', ...(env.uploadIdleTimeoutMs ? { idleTimeoutMs: env.uploadIdleTimeoutMs } : {}) });
  try {
    assertMagic(format, upload.head);
    const delimiter = format === 'csv' ? (input.delimiter ?? ',') : undefined;
    const claimed: ClaimEnv = { ...env, claim: newBlobClaim() };
    const quarantined = await quarantine(claimed, { upload, format, delimiter, declared, contract: existing ? await contractOf(env.db, existing) : undefined });
    return await storeVersion(claimed, { input, format, delimiter, declared, quarantined }, ctx);
  } finally {
    await discardUpload(upload);
    await rm(subjectsFileOf(upload), { force: true });
  }
}

/**
 * A new dataset's owner is answerable for it: an enabled human principal. A service or agent
 * answers to no one, and a disabled principal (someone who left) cannot be asked; either would
 * leave the dataset, and its manifest's `owner`, with nobody accountable. 400 naming query.owner.
 */
async function assertAccountableOwner(db: Db, ownerId: string): Promise<void> {
  // Only "no such principal" is the caller's to hear; a database failure stays what it is.
  const owner = await getPrincipal(db, ownerId).catch((err: unknown) => {
    if (err instanceof NotFound) return undefined;
    throw err;
  });
  const problem = !owner ? 'names no principal' : owner.disabledAt !== null ? `${owner.name} is disabled` : owner.kind !== 'human' ? `${owner.name} is ${owner.kind === 'agent' ? 'an agent' : 'a service'}, not a person` : undefined;
  if (problem) throw new ValidationFailed(`the owner of a new dataset must be an enabled human principal: ${problem}`, [{ field: 'query.owner', message: `${problem}; the accountable owner is an enabled human principal` }]);
}

/** The declaration the checks hold the file to; refuses contradictions before a byte is read. */
function declare(input: IngestInput, existing: DatasetRecord | undefined, format: DatasetFormat): Declared {
  const issues: FieldIssue[] = [];
  if (existing && input.classification && input.classification !== existing.classification) {
    throw new Conflict(`dataset ${existing.name} is classified ${existing.classification}; a new version cannot reclassify it`, [
      { field: 'query.classification', message: `must be ${existing.classification} (the dataset's classification)` },
    ]);
  }
  if (existing && input.ownerId && input.ownerId !== existing.ownerId) {
    throw new Conflict(`dataset ${existing.name} is owned by ${existing.ownerId}; a new version cannot change its owner`, [
      { field: 'query.owner', message: `must be ${existing.ownerId} (the dataset's owner)` },
    ]);
  }
  const classification = existing?.classification ?? input.classification;
  const ownerId = existing?.ownerId ?? input.ownerId;
  if (!classification) issues.push({ field: 'query.classification', message: 'required for a new dataset' });
  if (!ownerId) issues.push({ field: 'query.owner', message: 'required for a new dataset' });
  if (input.residencyColumn && !input.residency) issues.push({ field: 'query.residency', message: 'required with residencyColumn' });
  // Both are signed into the manifest as the version's provenance and consent basis (core/text.ts).
  issues.push(...plainTextIssues([['query.sourceSystem', input.sourceSystem], ['query.purpose', input.purpose]]));
  // A source system is often written as its URL or DSN; signed and undeletable, it must hold no credential.
  issues.push(...embeddedCredentialIssues([['query.sourceSystem', input.sourceSystem], ['query.purpose', input.purpose]]));
  // Stored as the check reads it (upper case); versions declared before keep what they were given.
  const residency = input.residency === undefined ? undefined : residencyOf(input.residency);
  if (input.residency !== undefined && residency === undefined) {
    issues.push({ field: 'query.residency', message: `"${input.residency.slice(0, 64)}" is neither an ISO 3166-1 alpha-2 country code (e.g. DE) nor a region (${RESIDENCY_REGIONS.join(', ')})` });
  }
  const values = declaredValues(input.values);
  if (values) issues.push(...valueFormatIssues(values, format));
  const source = sourceDatasetOf(input, issues);
  if (issues.length > 0) throw new ValidationFailed(`invalid ingest of ${input.name}: ${issues.map((i) => i.field).join(', ')}`, issues);
  return {
    classification: classification!,
    ownerId: ownerId!,
    residency,
    residencyColumn: input.residencyColumn,
    consentColumn: input.consentColumn,
    subjectIdColumn: input.subjectIdColumn,
    values,
    sourceDataset: source,
  };
}

/** What an ingest declares: what the checks hold the file to, its owner, and the dataset it was exported from. */
type Declared = DeclaredVersion & { ownerId: string; sourceDataset: SourceDataset | undefined };

/**
 * The OpenLineage dataset the file was exported from, when named: namespace and name together
 * (one alone names nothing), held to the rules OpenLineage intake keys nodes by. Both are
 * signed into the manifest and the audit entry: a namespace written as a DSN must hold no
 * credential. Problems go into `issues`, naming query.sourceDatasetNamespace or query.sourceDatasetName.
 */
function sourceDatasetOf(input: IngestInput, issues: FieldIssue[]): SourceDataset | undefined {
  const { sourceDatasetNamespace: namespace, sourceDatasetName: name } = input;
  if (namespace === undefined && name === undefined) return undefined;
  const fields = { namespace: 'query.sourceDatasetNamespace', name: 'query.sourceDatasetName' };
  if (namespace === undefined || name === undefined) {
    const [missing, given] = namespace === undefined ? [fields.namespace, fields.name] : [fields.name, fields.namespace];
    issues.push({ field: missing, message: `required with ${given}: an OpenLineage dataset is named by namespace and name` });
    return undefined;
  }
  const found = [...openLineageNameIssues({ namespace, name }, fields), ...embeddedCredentialIssues([[fields.namespace, namespace], [fields.name, name]])];
  issues.push(...found);
  return found.length > 0 ? undefined : { namespace, name };
}

/** The latest certified version's schema, size and exclusion declarations: what a new version is held to. */
async function contractOf(db: Db, dataset: DatasetRecord): Promise<Contract | undefined> {
  const r = await db.query<{ version: number }>(`SELECT max(version) AS version FROM dataset_versions WHERE dataset_id = $1 AND state = 'certified'`, [dataset.id]);
  const version = r.rows[0]?.version;
  if (!version) return undefined;
  const v = await getDatasetVersion(db, { name: dataset.name, version });
  return { versionId: v.id, version: v.version, schema: v.schema, rowCount: v.rowCount, values: v.values, consentColumn: v.consentColumn, residency: v.residency, residencyColumn: v.residencyColumn };
}

interface Quarantined {
  report: QuarantineReport;
  /** With a subject id column: the distinct subject hashes, in a file beside the spooled upload. */
  subjects: SubjectHashFile | undefined;
  snapshot: StoredBlob;
}

/** Where the subject hashes of an upload are written: beside it, and removed with it. */
const subjectsFileOf = (upload: { path: string }): string => `${upload.path}.subjects.csv`;

/**
 * Runs the quarantine over the spooled file while the blob store adopts it as the snapshot:
 * storing starts as soon as the CSV header is known good, so its fsync overlaps DuckDB's
 * passes; when the file turns out unreadable, the snapshot this ingest stored is released again.
 */
async function quarantine(
  env: ClaimEnv,
  s: { upload: SpooledUpload; format: DatasetFormat; delimiter: string | undefined; declared: DeclaredVersion; contract: Contract | undefined },
): Promise<Quarantined> {
  const header = s.format === 'csv' ? readCsvHeader(s.upload.head, { delimiter: s.delimiter!, complete: s.upload.head.length === s.upload.size }) : undefined;
  const storing = storeSnapshot(env, s.upload);
  // Marked handled now: a storage failure while DuckDB works must not crash the process; it is rethrown below.
  storing.catch(() => undefined);
  try {
    const { report, subjects } = await checkSnapshot(env, { ...s, header });
    return { report, subjects, snapshot: await storing };
  } catch (err) {
    await abandon(env, storing);
    throw err;
  }
}

/** The quarantine report and subject hashes of the spooled file, from a DuckDB session of its own. */
async function checkSnapshot(
  env: DataEnv,
  s: { upload: SpooledUpload; format: DatasetFormat; header: string[] | undefined; delimiter: string | undefined; declared: DeclaredVersion; contract: Contract | undefined },
): Promise<Omit<Quarantined, 'snapshot'>> {
  const path = s.format === 'jsonl' && startsWithBom(s.upload.head) ? await copyWithoutBom(s.upload.path) : s.upload.path;
  const duck = await openDuckSession({ tempDir: env.tmpDir, memoryLimit: env.duckdbMemoryLimit }).catch(async (err: unknown) => {
    if (path !== s.upload.path) await rm(path, { force: true });
    throw err;
  });
  try {
    const snapshot = await openSnapshot(duck, { path, format: s.format, ...(s.header ? { csv: { delimiter: s.delimiter!, header: s.header } } : {}) });
    assertDeclaredColumns(snapshot.columns, s.declared);
    const report = await runQuarantine(duck, { snapshot, declared: s.declared, contract: s.contract });
    refuseNulValues(report);
    const column = s.declared.subjectIdColumn;
    const duckType = snapshot.columns.find((c) => c.name === column)?.duckType ?? 'VARCHAR';
    const subjects = column ? await writeSubjectHashes(duck, { source: snapshot.scan, column: { name: column, duckType }, salt: await subjectSalt(env.db), path: subjectsFileOf(s.upload) }) : undefined;
    return { report, subjects };
  } finally {
    duck.close();
    if (path !== s.upload.path) await rm(path, { force: true });
  }
}

/**
 * A copy of JSON Lines `path` without its leading UTF-8 byte order mark, beside it, for DuckDB,
 * whose JSON reader refuses a BOM: the snapshot stays the bytes as sent. Lines are unchanged, so
 * refusals name the same lines. Only a file with a BOM costs this copy (CSV never does: DuckDB's
 * CSV reader skips the BOM itself).
 */
async function copyWithoutBom(path: string): Promise<string> {
  const copy = `${path}.nobom`;
  try {
    await pipeline(createReadStream(path, { start: 3 }), createWriteStream(copy, { flags: 'wx', mode: 0o600 }));
  } catch (err) {
    await rm(copy, { force: true });
    throw isStorageFull(err) ? new InsufficientStorage("the server's upload spool is full; nothing was kept", err) : err;
  }
  return copy;
}

/**
 * Refuses a file whose values carry NUL into what the version records (Parquet strings can;
 * text formats were refused while spooling): the profile's values and the checks' evidence
 * are jsonb, which cannot hold it. 400 naming the column.
 */
function refuseNulValues(report: QuarantineReport): void {
  for (const column of report.profile.columns) {
    if (nulPath(column, 'profile')) {
      throw new ValidationFailed(`column ${column.name} holds the NUL character (U+0000), which the version's profile cannot record`, [
        { field: 'body', message: `NUL in column ${column.name}` },
      ]);
    }
  }
  const where = nulPath(report.checks, 'checks');
  if (where) throw new ValidationFailed(`the file holds the NUL character (U+0000), which the quarantine evidence cannot record (${where})`, [{ field: 'body', message: 'NUL character in a value' }]);
}

/** Waits for the snapshot an ingest that failed was storing, and releases it if this ingest created it (and its pending record in any case). */
async function abandon(env: ClaimEnv, storing: Promise<StoredBlob>): Promise<void> {
  const stored = await storing.catch(() => undefined);
  await releaseBlobs(env, stored ? [stored] : []);
}

/** `; it has "Customer_ID"` when the file has the column under another case or with spaces around it, which names are matched exactly. */
function spelledOtherwise(column: string, columns: LoadedColumn[]): string {
  const key = (name: string): string => name.trim().toLowerCase();
  const near = columns.filter((c) => key(c.name) === key(column)).map((c) => JSON.stringify(c.name));
  return near.length > 0 ? `; it has ${near.join(' and ')} (column names are matched exactly)` : '';
}

/** Refuses columns the declaration names but the file lacks. */
function assertDeclaredColumns(columns: LoadedColumn[], declared: DeclaredVersion): void {
  const names = new Set(columns.map((c) => c.name));
  const issues: FieldIssue[] = [];
  for (const [field, column] of [['consentColumn', declared.consentColumn], ['subjectIdColumn', declared.subjectIdColumn], ['residencyColumn', declared.residencyColumn]] as const) {
    if (column && !names.has(column)) issues.push({ field: `query.${field}`, message: `the file has no column "${column}"${spelledOtherwise(column, columns)}` });
  }
  if (issues.length > 0) throw new ValidationFailed(`declared columns missing from the file: ${issues.map((i) => i.message).join('; ')}`, issues);
}

/**
 * Puts the snapshot in the blob store unless those exact bytes are already there: the store
 * adopts the spooled file under the hash the spool computed as it wrote it (no copy where the
 * store can help it). Only a snapshot this call created may be deleted again when the ingest
 * fails: bytes that were already stored may belong to anything else that is content-addressed alike.
 * The spooled file stays until the ingest ends, so the commit can store it again should a
 * concurrent failing ingest of the same bytes have removed it meanwhile (blob-refs.ts).
 * The pending record goes first, so a crash after the adopt leaves a row the sweep finds.
 */
async function storeSnapshot(env: ClaimEnv, upload: SpooledUpload): Promise<StoredBlob> {
  const source = { path: upload.path };
  // Recorded even when the bytes are there already: the commit may have to store them again.
  await recordPendingBlob(env, upload.hash);
  const existed = await env.blobs.has(upload.hash);
  // Adopted even when stored: the filesystem store then checks the stored bytes, and replaces a
  // snapshot that rotted in place, so re-ingesting the original file repairs it.
  const ref = await env.blobs.adopt(upload.path, { hash: upload.hash, size: upload.size });
  return { ...ref, created: !existed, source };
}

interface StoreInput {
  input: IngestInput;
  format: DatasetFormat;
  delimiter: string | undefined;
  declared: Declared;
  quarantined: Quarantined;
}

/**
 * Records the version, its snapshot made sure of as it commits; when that fails, releases the
 * snapshot this ingest stored. Read committed, not serializable: ingests into one dataset queue
 * on its row lock (`ensureDataset`), and each statement after the lock sees what the ingest
 * before committed, so the next version number is right in the first run. Under a snapshot
 * taken before that wait every queued ingest failed to serialise and ran again, and a burst of
 * them into one dataset (several servers, one PostgreSQL) ran out of re-runs: 500.
 */
async function storeVersion(env: ClaimEnv, s: StoreInput, ctx: ChangeContext): Promise<DatasetVersionRecord> {
  let versionNumber: number;
  try {
    versionNumber = await env.db.transaction(async (tx) => {
      await awaitErasureRequests(tx);
      const n = await insertVersion(tx, s, ctx);
      await keepStoredBlobs(tx, env, [s.quarantined.snapshot]);
      return n;
    });
  } catch (err) {
    await releaseBlobs(env, [s.quarantined.snapshot]);
    throw err;
  }
  return getDatasetVersion(env.db, { name: s.input.name, version: versionNumber });
}

/** Inserts the dataset (on first ingest), the version, its checks, exclusions and subjects, and the audit entries. */
async function insertVersion(tx: Tx, s: StoreInput, ctx: ChangeContext): Promise<number> {
  const { input, declared } = s;
  const { report, snapshot, subjects } = s.quarantined;
  const now = (ctx.now ?? new Date()).toISOString();
  const datasetId = await ensureDataset(tx, { name: input.name, classification: declared.classification, ownerId: declared.ownerId, now }, ctx);
  const next = await tx.query<{ n: number }>('SELECT coalesce(max(version), 0) + 1 AS n FROM dataset_versions WHERE dataset_id = $1', [datasetId]);
  const version = next.rows[0]!.n;
  const versionId = newId('dsv');
  await tx.query(
    `INSERT INTO dataset_versions (id, dataset_id, version, state, format, delimiter, snapshot_sha256, snapshot_size, source_system, purpose,
       classification, residency, residency_column, consent_column, subject_id_column, ingested_by, ingested_at, row_count, schema, profile, value_format,
       source_dataset_namespace, source_dataset_name)
     VALUES ($1, $2, $3, 'quarantine', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)`,
    [
      versionId, datasetId, version, s.format, s.delimiter ?? null, snapshot.hash, snapshot.size, input.sourceSystem, input.purpose ?? null,
      declared.classification, declared.residency ?? null, declared.residencyColumn ?? null, declared.consentColumn ?? null, declared.subjectIdColumn ?? null,
      ctx.actor.principalId, now, report.rows, JSON.stringify({ columns: report.schema }), JSON.stringify(report.profile),
      declared.values ? JSON.stringify(declared.values) : null, declared.sourceDataset?.namespace ?? null, declared.sourceDataset?.name ?? null,
    ],
  );
  await tx.query(
    `INSERT INTO dataset_checks (version_id, name, check_version, position, status, blocking, result, evidence)
     SELECT $1, c->>'name', (c->>'version')::int, ord::int, c->>'status', (c->>'blocking')::boolean, c->>'result', c->'evidence'
       FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS t(c, ord)`,
    [versionId, JSON.stringify(report.checks.map(({ exclusions: _e, ...c }) => ({ ...c, result: clipText(c.result, 2000) })))],
  );
  for (const e of report.exclusions) {
    await tx.query('INSERT INTO dataset_exclusions (version_id, reason, row_count, row_numbers, rule) VALUES ($1, $2, $3, $4, $5)', [
      versionId, e.reason, e.rowCount, JSON.stringify(e.rowNumbers), e.rule,
    ]);
  }
  if (subjects) await indexSubjects(tx, { versionId, file: subjects });
  const failing = report.checks.filter((c) => c.status === 'fail').map((c) => `${c.name}@${c.version}`);
  const source = declared.sourceDataset;
  if (source) await recordSourceLineage(tx, { versionId, name: input.name, version, classification: declared.classification, source });
  await appendAuditEntry(
    tx,
    dataChangeEntry(ctx, {
      action: DATASET_INGEST_ACTION,
      resource: { type: 'dataset_version', id: versionId },
      reason: `${input.name} v${version} from ${input.sourceSystem}${source ? ` (OpenLineage dataset ${source.namespace} ${source.name})` : ''}: ${report.rows} rows, snapshot sha256:${snapshot.hash}, quarantined${failing.length ? `, failing ${failing.join(', ')}` : ''}${input.purpose ? `; purpose: ${input.purpose}` : ''}`,
    }),
  );
  if (input.derivation) await recordDerivation(tx, { datasetId, versionId, name: input.name, version, classification: declared.classification, derivation: input.derivation }, ctx);
  return version;
}

/**
 * Lineage OpenLineage dataset → the new version (`derived`: the file was exported from it, by
 * no run Assay recorded), in the ingest's transaction (the `dataset.ingest` entry, which names
 * the dataset, is its evidence). The dataset's node is created if no event reported it yet,
 * keyed by namespace and name as OpenLineage intake keys it, so a later event merges into it.
 * It is classified at least as the version: the table held the data the version holds, and its
 * name and the jobs behind it stay hidden from readers not cleared for that (a classification
 * only rises, as a tags facet raises it). The version's node is recorded as a derived
 * version's is at ingest; promotion adds the raw snapshot and its certification.
 */
async function recordSourceLineage(tx: Tx, v: { versionId: string; name: string; version: number; classification: Classification; source: SourceDataset }): Promise<void> {
  await recordLineage(tx, {
    nodes: [{ id: v.versionId, type: 'dataset_version', classification: v.classification, name: `${v.name} v${v.version}`, attributes: { state: 'quarantine' } }],
    edges: [{ from: { kind: 'dataset', namespace: v.source.namespace, name: v.source.name, classification: v.classification }, to: v.versionId, type: 'derived' }],
  });
}

/**
 * The dataset's id, locked until the ingest commits (ingests into one dataset queue here),
 * creating it (audited) on its first ingest. A concurrent first ingest's insert makes this one
 * wait for it and then insert nothing, instead of failing on the unique name; the row is then
 * read and locked as it was committed.
 */
async function ensureDataset(tx: Tx, d: { name: string; classification: Classification; ownerId: string; now: string }, ctx: ChangeContext): Promise<string> {
  const id = newId('ds');
  const created = await tx.query(
    'INSERT INTO datasets (id, name, classification, owner_id, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO NOTHING',
    [id, d.name, d.classification, d.ownerId, ctx.actor.principalId, d.now],
  );
  if (created.rowCount === 0) {
    const found = await tx.query<{ id: string; classification: string; owner_id: string }>('SELECT id, classification, owner_id FROM datasets WHERE name = $1 FOR UPDATE', [d.name]);
    const row = found.rows[0]!;
    // Another ingest may have created it since this one looked: its declaration must still agree.
    if (row.classification !== d.classification || row.owner_id !== d.ownerId) throw new Conflict(`dataset ${d.name} was created concurrently with another classification or owner`);
    return row.id;
  }
  await appendAuditEntry(
    tx,
    dataChangeEntry(ctx, { action: DATASET_CREATE_ACTION, resource: { type: 'dataset', id }, reason: `${d.name}: classification ${d.classification}, owner ${d.ownerId}` }),
  );
  return id;
}
