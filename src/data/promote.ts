import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { appendAuditEntry } from '../audit/index.js';
import { canonicalBytes, Conflict, plainTextIssue, sha256Hex, ValidationFailed, type DsseEnvelope, type DsseSigner, type FieldIssue } from '../core/index.js';
import type { ChangeContext } from '../identity/index.js';
import { recordLineage } from '../lineage/index.js';
import type { Queryable, Tx } from '../store/index.js';
import { dataChangeEntry } from './audit-entry.js';
import { isBlobReferenced, keepStoredBlobs, newBlobClaim, recordPendingBlob, releaseBlobs, type StoredBlob } from './blob-refs.js';
import { checkRef } from './checks/index.js';
import { materialiseCertified, type CertifiedParquet } from './certified-parquet.js';
import type { DataEnv } from './ingest.js';
import { signDatasetManifest, type ManifestOverride } from './manifest.js';
import { openLineageDatasetOf } from './openlineage-link.js';
import { getDataset, getDatasetVersion, getDatasetVersionChecks } from './records.js';
import type { CheckResult, DatasetVersionRecord } from './types.js';

/** Audit actions of promotion and of an exception to a failing blocking check. */
export const DATASET_PROMOTE_ACTION = 'dataset.promote';
export const DATASET_OVERRIDE_ACTION = 'dataset.override';

/** An exception to one failing blocking check, with why. */
export interface CheckOverrideInput {
  check: string;
  reason: string;
}

/** What promotion needs besides the data module's surroundings: the key that signs manifests. */
export interface PromoteEnv extends DataEnv {
  signer: DsseSigner;
  /** The OpenLineage namespace Assay names its datasets in (`config.lineage.namespace`), as its emitted events do. */
  lineageNamespace: string;
}

/** Which version to promote, and exceptions recorded with it (the caller's policy already allowed them). */
export interface PromoteInput {
  name: string;
  version: number;
  overrides?: CheckOverrideInput[] | undefined;
}

type VersionCheck = CheckResult & { override: { by: string; at: string; reason: string } | null };

/** Where exception `i` named its check and gave its reason: `body.overrides.N.…` with a promotion, `params.check` and `body.reason` on its own. */
interface OverrideFields {
  check(i: number): string;
  reason(i: number): string;
}
const inlineOverrideFields: OverrideFields = { check: (i) => `body.overrides.${i}.check`, reason: (i) => `body.overrides.${i}.reason` };
const paramOverrideFields: OverrideFields = { check: () => 'params.check', reason: () => 'body.reason' };

/**
 * Refuses exceptions that are not exceptions: to a check the version does not have, to one
 * that does not fail and block, to one already excepted, or twice to the same check; and a
 * reason that is no plain text (it is signed into the manifest: core/text.ts). Each issue
 * names the field the check was named in, or the reason's.
 */
function assertOverrides(overrides: CheckOverrideInput[], checks: VersionCheck[], fields: OverrideFields): void {
  const issues: FieldIssue[] = [];
  const seen = new Set<string>();
  for (const [i, o] of overrides.entries()) {
    const reason = plainTextIssue(o.reason);
    if (reason) issues.push({ field: fields.reason(i), message: reason });
    const field = fields.check(i);
    const c = checks.find((x) => x.name === o.check);
    if (!c) issues.push({ field, message: `the version has no check "${o.check}" (it has ${checks.map((x) => x.name).join(', ')})` });
    else if (c.status !== 'fail' || !c.blocking) issues.push({ field, message: `${checkRef(c)} is ${c.status}${c.blocking ? '' : ', not blocking'}: only a failing blocking check takes an exception` });
    else if (c.override) issues.push({ field, message: `${checkRef(c)} already has an exception, recorded by ${c.override.by}` });
    else if (seen.has(o.check)) issues.push({ field, message: `${o.check} is named twice` });
    seen.add(o.check);
  }
  if (issues.length > 0) throw new ValidationFailed(`invalid exceptions: ${issues.map((x) => x.message).join('; ')}`, issues);
}

/** What was refused on a version that is no longer in quarantine: a promotion, or an exception to one of its checks. */
type Attempt = 'promote' | 'override';

/** 409 unless the version is still in quarantine. */
function assertQuarantined(v: { state: string; datasetName: string; version: number }, attempt: Attempt): void {
  if (v.state === 'quarantine') return;
  const why = attempt === 'promote' ? 'a version is promoted once' : 'exceptions are recorded only while a version is in quarantine';
  throw new Conflict(`${v.datasetName} v${v.version} is already ${v.state}; ${why}`);
}

/** An exception and the version it is recorded on, with the field that named its check. */
interface OverrideRows {
  version: Pick<DatasetVersionRecord, 'id' | 'datasetName' | 'version'>;
  overrides: CheckOverrideInput[];
  at: string;
  fields: OverrideFields;
}

/**
 * The longest exception reason: kept whole in the manifest and in the audit entry, whose
 * 2000 characters it shares with the longest dataset name, version number and check name.
 */
export const MAX_EXCEPTION_REASON = 1800;

/**
 * The `dataset.override` audit entry's reason: which dataset version, which check, and why, so
 * an examiner reading the log finds the exception by the dataset's name as the ingest and
 * promotion entries read. Within MAX_AUDIT_REASON for every
 * reason up to MAX_EXCEPTION_REASON (exceptions.test.ts).
 */
export function exceptionAuditReason(v: Pick<DatasetVersionRecord, 'datasetName' | 'version'>, x: CheckOverrideInput): string {
  return `${v.datasetName} v${v.version}: exception to failing blocking check ${x.check}: ${x.reason}`;
}

/**
 * Records exceptions and their audit entries inside `tx`, which holds the version's row lock.
 * Another request may have recorded an exception to the same check after this one's checks
 * were read: the insert then does nothing, and the exception is refused as the early check
 * would have refused it (a 400, not the primary key's error).
 */
async function insertOverrides(tx: Tx, o: OverrideRows, ctx: ChangeContext): Promise<void> {
  for (const [i, x] of o.overrides.entries()) {
    const inserted = await tx.query(
      'INSERT INTO dataset_check_overrides (version_id, check_name, overridden_by, overridden_at, reason) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (version_id, check_name) DO NOTHING',
      [o.version.id, x.check, ctx.actor.principalId, o.at, x.reason],
    );
    if ((inserted.rowCount ?? 0) === 0) {
      const r = await tx.query<{ by: string }>('SELECT overridden_by AS by FROM dataset_check_overrides WHERE version_id = $1 AND check_name = $2', [o.version.id, x.check]);
      const message = `${x.check} already has an exception, recorded by ${r.rows[0]?.by ?? 'another principal'}`;
      throw new ValidationFailed(`invalid exceptions: ${message}`, [{ field: o.fields.check(i), message }]);
    }
    await appendAuditEntry(
      tx,
      dataChangeEntry(ctx, { action: DATASET_OVERRIDE_ACTION, resource: { type: 'dataset_version', id: o.version.id }, reason: exceptionAuditReason(o.version, x) }),
    );
  }
}

/** Locks the version row and proves it is still in quarantine. */
async function lockQuarantined(tx: Tx, v: DatasetVersionRecord, attempt: Attempt): Promise<void> {
  const r = await tx.query<{ state: string }>('SELECT state FROM dataset_versions WHERE id = $1 FOR UPDATE', [v.id]);
  assertQuarantined({ state: r.rows[0]?.state ?? 'missing', datasetName: v.datasetName, version: v.version }, attempt);
}

/**
 * Records an exception to a failing blocking check of a quarantined version, on its own (so
 * one principal may waive a check and another certify). The caller's policy decided the
 * principal may (`overrideDatasetCheck`); the exception and its audit entry commit together.
 */
export async function overrideDatasetCheck(env: DataEnv, input: { name: string; version: number; override: CheckOverrideInput }, ctx: ChangeContext): Promise<VersionCheck> {
  const v = await getDatasetVersion(env.db, input);
  assertQuarantined(v, 'override');
  assertOverrides([input.override], await getDatasetVersionChecks(env.db, input), paramOverrideFields);
  const at = (ctx.now ?? new Date()).toISOString();
  await env.db.transaction(async (tx) => {
    await lockQuarantined(tx, v, 'override');
    await insertOverrides(tx, { version: v, overrides: [input.override], at, fields: paramOverrideFields }, ctx);
  });
  const checks = await getDatasetVersionChecks(env.db, input);
  return checks.find((c) => c.name === input.override.check)!;
}

/** What a promotion produced. */
export interface Promotion {
  version: DatasetVersionRecord;
  manifest: DsseEnvelope;
}

/**
 * Promotes a quarantined version to certified: every failing blocking check must carry an
 * exception (recorded earlier or given here; otherwise 409 naming the checks); the certified
 * rows (the snapshot minus every recorded exclusion) are materialised as an immutable Parquet
 * blob; the manifest (snapshot, schema, checks, exclusions, exceptions, classification,
 * residency, retention, consent basis, ingester, promoter, times) is signed as a DSSE envelope
 * and stored as a blob; then the exceptions, the certified fields and the audit entries commit
 * in one transaction, which makes sure both blobs are still stored (blob-refs.ts). The
 * database refuses certification by the ingester as well. On any failure, the blobs this
 * promotion created and nothing references are removed again; should the process die instead,
 * its pending blob records let the sweep remove them (pending-blobs.ts).
 */
export async function promoteDatasetVersion(env: PromoteEnv, input: PromoteInput, ctx: ChangeContext): Promise<Promotion> {
  const overrides = input.overrides ?? [];
  const v = await getDatasetVersion(env.db, input);
  assertQuarantined(v, 'promote');
  const checks = await getDatasetVersionChecks(env.db, input);
  assertOverrides(overrides, checks, inlineOverrideFields);
  assertNothingBlocks(v, overrides);
  await assertCheckedAgainstContract(env.db, v);
  const at = (ctx.now ?? new Date()).toISOString();
  const created: StoredBlob[] = [];
  const claimed = { ...env, claim: newBlobClaim() };
  // Holds the Parquet file until the promotion ends: the commit may have to store it again.
  const dir = await mkdtemp(join(env.tmpDir, 'promote-'));
  try {
    const parquet = await materialiseCertified(claimed, v, dir);
    created.push(parquet);
    const { ownerId } = await getDataset(env.db, input.name);
    const manifest = signDatasetManifest(
      {
        version: v,
        checks,
        overrides: manifestOverrides(checks, { overrides, by: ctx.actor.principalId, at }),
        certified: { sha256: parquet.hash, rows: parquet.rows, excludedRows: parquet.excludedRows },
        owner: ownerId,
        certifiedBy: ctx.actor.principalId,
        certifiedAt: at,
      },
      env.signer,
    );
    const manifestBlob = await storeManifest(claimed, manifest);
    created.push(manifestBlob);
    await env.db.transaction(async (tx) => {
      await certify(tx, { v, overrides, parquet, manifestSha256: manifestBlob.hash, at, lineageNamespace: env.lineageNamespace }, ctx);
      await keepStoredBlobs(tx, claimed, [parquet, manifestBlob]);
    });
    return { version: await getDatasetVersion(env.db, input), manifest };
  } catch (err) {
    await releaseBlobs(claimed, created);
    throw err;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * 409 naming `checks.schema` when the version's checks compared it with another contract than
 * the dataset's now (its latest certified version): a version ingested before an earlier one
 * was certified was checked against no contract, and certified it would break that contract
 * unseen (a dropped column, a consent column left out) and become the contract itself. Checks
 * recorded before the schema check named its contract are taken as they are. Ingesting the file
 * again checks it against the contract in force.
 */
async function assertCheckedAgainstContract(db: Queryable, v: DatasetVersionRecord): Promise<void> {
  const r = await db.query<{ checked: string | null; checked_version: string | null; current: string | null; current_version: number | null }>(
    `SELECT c.evidence -> 'contract' ->> 'versionId' AS checked, c.evidence -> 'contract' ->> 'version' AS checked_version, cur.id AS current, cur.version AS current_version
       FROM dataset_checks c
       LEFT JOIN LATERAL (SELECT id, version FROM dataset_versions WHERE dataset_id = $2 AND state = 'certified' ORDER BY version DESC LIMIT 1) cur ON true
      WHERE c.version_id = $1 AND c.name = 'schema' AND c.evidence -> 'contract' IS NOT NULL`,
    [v.id, v.datasetId],
  );
  const row = r.rows[0];
  if (!row || row.checked === row.current) return;
  const checkedAgainst = row.checked === null ? 'no contract (no version was certified then)' : `the contract of version ${row.checked_version} (${row.checked})`;
  const now = row.current === null ? 'no certified version' : `version ${row.current_version} (${row.current})`;
  throw new Conflict(`${v.datasetName} v${v.version} was checked against ${checkedAgainst}, but the dataset's contract is now ${now}: ingest the file again to check it against that contract`, [
    { field: 'checks.schema', message: `checked against ${checkedAgainst}; the contract is now ${now}: ingest the file again` },
  ]);
}

/** 409 naming every failing blocking check that has no exception, recorded or given now. */
function assertNothingBlocks(v: DatasetVersionRecord, overrides: CheckOverrideInput[]): void {
  const remaining = v.blockingFailures.filter((name) => !overrides.some((o) => o.check === name));
  if (remaining.length > 0) {
    throw new Conflict(
      `${v.datasetName} v${v.version} has failing blocking checks without an exception: ${remaining.join(', ')}`,
      remaining.map((name) => ({ field: `checks.${name}`, message: 'fails and blocks promotion; record an exception (override) with a reason, or ingest a corrected version' })),
    );
  }
}

function manifestOverrides(checks: VersionCheck[], given: { overrides: CheckOverrideInput[]; by: string; at: string }): ManifestOverride[] {
  const recorded = checks.flatMap((c) => (c.override ? [{ check: checkRef(c), by: c.override.by, at: c.override.at, reason: c.override.reason }] : []));
  const now = given.overrides.map((o) => {
    const c = checks.find((x) => x.name === o.check)!;
    return { check: checkRef(c), by: given.by, at: given.at, reason: o.reason };
  });
  return [...recorded, ...now];
}

async function storeManifest(env: PromoteEnv & { claim: string }, manifest: DsseEnvelope): Promise<StoredBlob> {
  const bytes = canonicalBytes(manifest);
  await recordPendingBlob(env, sha256Hex(bytes));
  const ref = await env.blobs.put(bytes);
  // A signature over a fresh timestamp is new bytes; were they stored already, another version references them.
  return { hash: ref.hash, size: ref.size, created: !(await isBlobReferenced(env.db, ref.hash)), source: { bytes } };
}

interface Certification {
  v: DatasetVersionRecord;
  overrides: CheckOverrideInput[];
  parquet: CertifiedParquet;
  manifestSha256: string;
  at: string;
  lineageNamespace: string;
}

/**
 * Certifies inside `tx`, at read committed: what the checks below read is decided under locks,
 * so each statement after them sees every change that could alter the answer. Promotions of one
 * dataset take turns on its row (in the order an ingest locks it, then the version), so the one
 * certifying second sees the first's version as the contract; exceptions are recorded under the
 * version's row. Serializable isolation gave the same answers but failed promotions of unrelated
 * datasets committing together (predicate locks share index pages), and a burst of them on
 * PostgreSQL ran out of re-runs and answered 500.
 */
async function certify(tx: Tx, c: Certification, ctx: ChangeContext): Promise<void> {
  const { v } = c;
  await tx.query('SELECT 1 FROM datasets WHERE id = $1 FOR UPDATE', [v.datasetId]);
  await lockQuarantined(tx, v, 'promote');
  await insertOverrides(tx, { version: v, overrides: c.overrides, at: c.at, fields: inlineOverrideFields }, ctx);
  // Another principal may have recorded or waived nothing since: re-check inside the lock.
  const blocking = await tx.query<{ name: string }>(
    `SELECT c.name FROM dataset_checks c WHERE c.version_id = $1 AND c.status = 'fail' AND c.blocking
       AND NOT EXISTS (SELECT 1 FROM dataset_check_overrides o WHERE o.version_id = c.version_id AND o.check_name = c.name) ORDER BY c.name`,
    [v.id],
  );
  if (blocking.rows.length > 0) assertNothingBlocks({ ...v, blockingFailures: blocking.rows.map((r) => r.name) }, []);
  // Another version may have been certified since: it is the contract now.
  await assertCheckedAgainstContract(tx, v);
  await tx.query(
    `UPDATE dataset_versions SET state = 'certified', certified_by = $2, certified_at = $3, manifest_sha256 = $4, certified_sha256 = $5, certified_rows = $6 WHERE id = $1`,
    [v.id, ctx.actor.principalId, c.at, c.manifestSha256, c.parquet.hash, c.parquet.rows],
  );
  await recordPromotionLineage(tx, c);
  const excluded = v.exclusions.map((e) => `${e.reason}: ${e.rowCount}`).join(', ');
  await appendAuditEntry(
    tx,
    dataChangeEntry(ctx, {
      action: DATASET_PROMOTE_ACTION,
      resource: { type: 'dataset_version', id: v.id },
      reason: `${v.datasetName} v${v.version} certified: ${c.parquet.rows} of ${v.rowCount} rows (${c.parquet.excludedRows} excluded), parquet sha256:${c.parquet.hash}, manifest sha256:${c.manifestSha256}${excluded ? `; excluded ${excluded}` : ''}${c.overrides.length ? `; exceptions to ${c.overrides.map((o) => o.check).join(', ')}` : ''}`,
    }),
  );
}

/**
 * The raw snapshot node id in the lineage graph, `raw_<dataset ULID><sha256>`: one node per
 * dataset and distinct bytes, so versions of one dataset from the same bytes share it but two
 * datasets never do (a shared node took the last dataset's name and the most restrictive
 * classification of all of them). Nodes recorded before as `raw_<sha256>` keep that id.
 */
export function rawSnapshotNodeId(v: { datasetId: string; snapshot: { sha256: string } }): string {
  // After the prefix only letters and digits: an Assay id has one underscore (lineage refuses others).
  return `raw_${v.datasetId.slice(v.datasetId.indexOf('_') + 1)}${v.snapshot.sha256}`;
}

/**
 * Lineage raw snapshot → certified version → the dataset as OpenLineage names it (Assay's
 * namespace and the dataset's name, as Assay's emitted events and the jobs that read the
 * certified Parquet call it), in the promotion's transaction (the `dataset.promote` entry is
 * its evidence). An OpenLineage event naming that dataset (a Spark job reading it) merges into
 * that node, so what outside jobs build from a certified version is downstream of it, for the
 * lineage graph and erasure requests alike. The node is as restricted as the most restricted
 * version certified into it.
 */
async function recordPromotionLineage(tx: Tx, c: Certification): Promise<void> {
  const { v } = c;
  const raw = rawSnapshotNodeId(v);
  await recordLineage(tx, {
    nodes: [
      {
        id: raw,
        type: 'raw_snapshot',
        classification: v.classification,
        name: `${v.datasetName} raw snapshot`,
        attributes: { sha256: v.snapshot.sha256, size: v.snapshot.size, datasetId: v.datasetId },
      },
      {
        id: v.id,
        type: 'dataset_version',
        classification: v.classification,
        name: `${v.datasetName} v${v.version}`,
        attributes: { state: 'certified', parquetSha256: c.parquet.hash, rows: c.parquet.rows, manifestSha256: c.manifestSha256 },
      },
    ],
    edges: [
      { from: raw, to: v.id, type: 'promoted' },
      { from: v.id, to: openLineageDatasetOf(c.lineageNamespace, { name: v.datasetName, classification: v.classification }), type: 'derived' },
    ],
  });
}

/**
 * The signed manifest of a certified version, as stored. NotFound for a version that does not
 * exist; Conflict naming `version` and its state for one not certified yet, whose manifest is
 * signed only when it is promoted.
 */
export async function getDatasetManifest(env: Pick<DataEnv, 'db' | 'blobs'>, ref: { name: string; version: number }): Promise<DsseEnvelope> {
  const v = await getDatasetVersion(env.db, ref);
  if (!v.certified) {
    throw new Conflict(`${v.datasetName} v${v.version} is not certified yet (state: ${v.state}): its manifest is signed when it is promoted`, [
      { field: 'version', message: `not certified yet (state: ${v.state})` },
    ]);
  }
  return JSON.parse((await env.blobs.getBytes(v.certified.manifestSha256)).toString('utf8')) as DsseEnvelope;
}
