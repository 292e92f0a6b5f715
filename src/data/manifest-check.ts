import { createReadStream } from 'node:fs';
import { verifyAuditBundle } from '../audit/index.js';
import { isAssayError, keyIdForPublicKey, sha256Hex, sha256OfStream } from '../core/index.js';
import { verifyDatasetManifest } from './manifest.js';
import { DATASET_PROMOTE_ACTION } from './promote.js';

// An examiner's check of a dataset manifest with nothing but the files the bank hands over: the
// envelope as served, the log's public key(s), and optionally the certified Parquet and the raw
// snapshot. No server, database or home: the README's by-hand procedure as one function.

/** A key the examiner trusts, with the span it signed in when the operator's key list says so. */
export interface TrustedKey {
  publicKey: Uint8Array;
  createdAt?: string;
  retiredAt?: string | null;
}

/** What went wrong, first problem only: `kind` is stable, `detail` says it in words. */
export interface ManifestProblem {
  kind: 'malformed' | 'unknown_key' | 'bad_signature' | 'inconsistent' | 'parquet_mismatch' | 'snapshot_mismatch' | 'bundle_unverified' | 'not_recorded';
  detail: string;
}

/** The outcome of `checkDatasetManifestFiles`. */
export type ManifestCheckReport =
  | {
      ok: true;
      dataset: string;
      version: number;
      versionId: string;
      keyid: string;
      /** SHA-256 of the envelope's bytes as given: the `dataset.promote` audit entry names it. */
      manifestSha256: string;
      parquetSha256: string;
      snapshotSha256: string;
      /** Whether the files were compared (they were given). */
      parquetChecked: boolean;
      snapshotChecked: boolean;
      rows: number;
      certifiedBy: string;
      certifiedAt: string;
      /** The `dataset.promote` entry of the audit bundle given, which names this manifest: proven in the log. */
      auditEntry?: { index: number; recordedAt: string; principalId: string; checkpointSize: number };
      /** Reasons to ask the operator, e.g. a certification time outside its key's span. */
      warnings: string[];
    }
  | { ok: false; problem: ManifestProblem };

/** An audit bundle to find the promotion in, and the note verifier keys (`name+keyid+base64key`) its checkpoint must be signed by. */
export interface ManifestBundle {
  path: string;
  publicKeys: readonly string[];
}

/** The promotion's fields an audit entry must match. */
interface Promoted {
  versionId: string;
  manifestSha256: string;
  certifiedBy: string;
}

/** Whether `leaf` is the `dataset.promote` entry of the version, naming the manifest by its hash. */
function recordsPromotion(leaf: Record<string, unknown>, p: Promoted): boolean {
  const resource = leaf.resource as { id?: unknown } | undefined;
  return leaf.action === DATASET_PROMOTE_ACTION && resource?.id === p.versionId && typeof leaf.reason === 'string' && leaf.reason.includes(`manifest sha256:${p.manifestSha256}`);
}

/**
 * Finds the promotion in a verified audit bundle: the bundle must verify under the keys given,
 * and hold the version's `dataset.promote` entry naming this manifest's hash, by the principal
 * the manifest says certified it. A manifest whose promotion the log does not show is no
 * certification an examiner can rely on, however well signed.
 */
async function promotionInBundle(bundle: ManifestBundle, p: Promoted & { certifiedAt: string }): Promise<{ problem: ManifestProblem } | { entry: NonNullable<Extract<ManifestCheckReport, { ok: true }>['auditEntry']> }> {
  const report = await verifyAuditBundle({ path: bundle.path, publicKey: bundle.publicKeys, select: (leaf) => recordsPromotion(leaf, p) });
  if (!report.ok) return { problem: { kind: 'bundle_unverified', detail: `the audit bundle does not verify (${report.problem.kind}): ${report.problem.detail}; run assay audit verify --bundle for the whole report` } };
  const found = report.selected ?? [];
  const actorOf = (leaf: Record<string, unknown>): unknown => (leaf.actor as { principalId?: unknown } | undefined)?.principalId;
  const entry = found.find((f) => actorOf(f.leaf) === p.certifiedBy);
  if (!entry) {
    const other = found[0];
    if (other) return { problem: { kind: 'not_recorded', detail: `audit entry ${other.index} records the promotion by ${String(actorOf(other.leaf))}, but the manifest says ${p.certifiedBy} certified it` } };
    const { from, to } = report.window;
    // The window is [from, to); the entry is recorded as the promotion commits, after certifiedAt.
    const outside = (from !== null && p.certifiedAt < from) || (to !== null && p.certifiedAt >= to);
    const span = `entries ${report.span.start} to ${report.span.end - 1}${from !== null || to !== null ? `, recorded ${from !== null ? `from ${from}` : 'from the start'} ${to !== null ? `until ${to}` : 'to the export'}` : ''}`;
    return {
      problem: {
        kind: 'not_recorded',
        detail: `the audit bundle (${span}) holds no dataset.promote entry naming manifest sha256:${p.manifestSha256}${outside ? `; the manifest was certified at ${p.certifiedAt}, outside the bundle's window: ask for a bundle that covers it` : ''}`,
      },
    };
  }
  return { entry: { index: entry.index, recordedAt: String(entry.leaf.recordedAt), principalId: p.certifiedBy, checkpointSize: report.checkpoint.size } };
}

/**
 * Checks a manifest envelope (its exact bytes) against the trusted keys and, when given, the
 * certified Parquet and raw snapshot files and an audit bundle; promises `ok: true` only when the
 * signature verifies under a trusted key, every given file is the one the manifest names, and a
 * given bundle verifies and records the promotion.
 */
export async function checkDatasetManifestFiles(opts: { envelope: Buffer; keys: TrustedKey[]; parquet?: string; snapshot?: string; bundle?: ManifestBundle }): Promise<ManifestCheckReport> {
  const problem = (kind: ManifestProblem['kind'], detail: string): ManifestCheckReport => ({ ok: false, problem: { kind, detail } });
  let envelope: unknown;
  try {
    envelope = JSON.parse(opts.envelope.toString('utf8'));
  } catch {
    // The parser's message quotes the bytes, which may be anything (a Parquet file given by mistake).
    return problem('malformed', 'the manifest is not JSON: give the DSSE envelope exactly as GET …/versions/{v}/manifest served it');
  }
  const byId = new Map(opts.keys.map((k) => [keyIdForPublicKey(k.publicKey), k]));
  // Read before the schema check only to name the signers; whatever the envelope holds, never a crash.
  const listed = (envelope as { signatures?: unknown } | null)?.signatures;
  const signers = (Array.isArray(listed) ? listed : []).map((s) => {
    const keyid = (s as { keyid?: unknown } | null)?.keyid;
    return typeof keyid === 'string' ? keyid : '(no keyid)';
  });
  let statement;
  try {
    statement = verifyDatasetManifest(envelope, (keyid) => byId.get(keyid)?.publicKey);
  } catch (err) {
    if (!isAssayError(err)) throw err;
    if (err.code !== 'integrity_violation') return problem('malformed', `${err.message}${err.errors.map((e) => `; ${e.field}: ${e.message}`).join('')}`);
    if (!signers.some((id) => byId.has(id))) {
      return problem('unknown_key', `signed by key ${signers.join(', ')}, which is none of the keys you trust; GET /api/v1/audit/public-keys lists every key the log has signed with, retired keys included`);
    }
    return problem('bad_signature', `${err.message}: the envelope was changed after it was signed`);
  }
  const p = statement.predicate;
  const [parquet, snapshot] = statement.subject;
  if (parquet?.digest.sha256 !== p.certified?.sha256 || snapshot?.digest.sha256 !== p.snapshot?.sha256) {
    return problem('inconsistent', 'the subjects are not the predicate\'s certified Parquet and raw snapshot');
  }
  if (p.excludedRows !== undefined && p.snapshot.rows - p.excludedRows !== p.certified.rows) {
    return problem('inconsistent', `snapshot rows ${p.snapshot.rows} − excludedRows ${p.excludedRows} ≠ certified rows ${p.certified.rows}`);
  }
  if (opts.parquet !== undefined) {
    const got = await sha256OfStream(createReadStream(opts.parquet));
    if (got !== p.certified.sha256) return problem('parquet_mismatch', `${opts.parquet} has SHA-256 ${got}, the manifest certifies ${p.certified.sha256}`);
  }
  if (opts.snapshot !== undefined) {
    const got = await sha256OfStream(createReadStream(opts.snapshot));
    if (got !== p.snapshot.sha256) return problem('snapshot_mismatch', `${opts.snapshot} has SHA-256 ${got}, the manifest's raw snapshot is ${p.snapshot.sha256}`);
  }
  const manifestSha256 = sha256Hex(opts.envelope);
  let auditEntry: Extract<ManifestCheckReport, { ok: true }>['auditEntry'];
  if (opts.bundle !== undefined) {
    const found = await promotionInBundle(opts.bundle, { versionId: p.dataset.versionId, manifestSha256, certifiedBy: p.certifiedBy, certifiedAt: p.certifiedAt });
    if ('problem' in found) return { ok: false, problem: found.problem };
    auditEntry = found.entry;
  }
  const keyid = signers.find((id) => byId.has(id))!;
  const key = byId.get(keyid)!;
  const warnings: string[] = [];
  // The key list says when each key signed; a certification outside that span deserves a question.
  if ((key.createdAt !== undefined && p.certifiedAt < key.createdAt) || (key.retiredAt && p.certifiedAt > key.retiredAt)) {
    warnings.push(`certified at ${p.certifiedAt}, outside the span key ${keyid} signed in (${key.createdAt ?? '?'} to ${key.retiredAt ?? 'now'}): ask the operator`);
  }
  return {
    ok: true,
    dataset: p.dataset.name,
    version: p.dataset.version,
    versionId: p.dataset.versionId,
    keyid,
    manifestSha256,
    parquetSha256: p.certified.sha256,
    snapshotSha256: p.snapshot.sha256,
    parquetChecked: opts.parquet !== undefined,
    snapshotChecked: opts.snapshot !== undefined,
    rows: p.certified.rows,
    certifiedBy: p.certifiedBy,
    certifiedAt: p.certifiedAt,
    ...(auditEntry ? { auditEntry } : {}),
    warnings,
  };
}
