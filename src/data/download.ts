import { pipeline, type Readable } from 'node:stream';
import { appendAuditEntry } from '../audit/index.js';
import { AssayError, BlobCorrupt, Conflict, isAssayError, lastChunkWithheld } from '../core/index.js';
import type { AlertLogger, ChangeContext } from '../identity/index.js';
import type { BlobStore, Db } from '../store/index.js';
import { dataChangeEntry } from './audit-entry.js';
import { getDatasetVersion } from './records.js';
import type { DatasetVersionRecord } from './types.js';

/** The audit action of fetching a certified version's Parquet: rows leave the platform. */
export const DATASET_DOWNLOAD_ACTION = 'dataset.download';
/** The audit action recorded after a `dataset.download` whose bytes did not all leave: how far it got, and why it stopped. */
export const DATASET_DOWNLOAD_INCOMPLETE_ACTION = 'dataset.download.incomplete';
/** The alert (log line `event`, audit reason prefix) raised when a certified Parquet no longer hashes to its digest. */
export const CERTIFIED_BLOB_CORRUPT_EVENT = 'dataset.certified_blob_corrupt';

/** What the data module needs to serve a certified Parquet blob. */
export interface DownloadEnv {
  db: Db;
  blobs: BlobStore;
  /** Where a download cut off by corrupt bytes raises its alert, and where an incomplete download that could not be recorded is reported. */
  alerts?: AlertLogger;
}

/** A certified version's Parquet as it will be served: what the headers announce, before any byte is read. */
export interface CertifiedParquetFile {
  version: DatasetVersionRecord & { certified: NonNullable<DatasetVersionRecord['certified']> };
  /** The SHA-256 (lowercase hex) the version record and its signed manifest name. */
  sha256: string;
  /** The stored blob's length in bytes. */
  size: number;
  /** Erasure requests, not refused, that reached this version (as a hit or as a derived version): its rows may hold their subjects' data. */
  erasureRequests: number;
}

/**
 * The certified Parquet of version `ref`, located: NotFound for an unknown dataset or
 * version, Conflict (naming `version`) for one not certified, and integrity_violation (500)
 * when the blob the record names is gone from the store, an operator's fault to repair, never
 * the caller's.
 */
export async function locateCertifiedParquet(env: DownloadEnv, ref: { name: string; version: number }): Promise<CertifiedParquetFile> {
  const v = await getDatasetVersion(env.db, ref);
  const certified = v.certified;
  if (!certified) {
    throw new Conflict(`${v.datasetName} v${v.version} is not certified (state: ${v.state}): only a certified version has a Parquet file to download`, [
      { field: 'version', message: `not certified (state: ${v.state})` },
    ]);
  }
  const size = await env.blobs.size(certified.parquetSha256);
  if (size === undefined) throw missingBlob(v, certified.parquetSha256);
  return { version: { ...v, certified }, sha256: certified.parquetSha256, size, erasureRequests: await erasureRequestsReaching(env.db, [v.id]) };
}

/**
 * Erasure requests (other than refused ones) whose hits or derived versions name any of the
 * versions: a certified version's download, and a derived version's inputs (a feature table
 * built from them after a request was filed is not among that request's derived versions).
 */
export async function erasureRequestsReaching(db: Db, versionIds: readonly string[]): Promise<number> {
  if (versionIds.length === 0) return 0;
  const r = await db.query<{ n: number | string }>(
    `SELECT count(DISTINCT q.id) AS n FROM erasure_requests q
       WHERE q.status <> 'refused'
         AND (EXISTS (SELECT 1 FROM erasure_request_hits h WHERE h.request_id = q.id AND h.version_id = ANY($1::text[]))
           OR EXISTS (SELECT 1 FROM erasure_request_derived d WHERE d.request_id = q.id AND d.version_id = ANY($1::text[])))`,
    [versionIds],
  );
  return Number(r.rows[0]?.n ?? 0);
}

function missingBlob(v: DatasetVersionRecord, sha256: string): AssayError {
  return new AssayError(
    'integrity_violation',
    `the certified Parquet of ${v.datasetName} v${v.version} (sha256:${sha256}) is missing from the blob store: an administrator must restore it from backup (the signed manifest names its digest)`,
  );
}

/**
 * Opens the certified Parquet for `ctx` and records the access (`dataset.download`: dataset,
 * version, version id, the Parquet's SHA-256 and size, the principal) in its own transaction
 * before a byte can be read: when the entry cannot be written the blob is closed and the error
 * thrown, so nothing is sent. The stream withholds each chunk until the next one arrives and
 * the last until the whole blob hashed to its digest: bytes that no longer match fail the
 * stream before it ends, so a client never receives all the bytes it was promised. A stream
 * that fails or is closed before its end is recorded after the fact (`recordIncompleteDownload`).
 */
export async function openCertifiedParquet(env: DownloadEnv, file: CertifiedParquetFile, ctx: ChangeContext): Promise<Readable> {
  const v = file.version;
  let stored: Readable;
  try {
    stored = await env.blobs.get(file.sha256);
  } catch (err) {
    // Removed between locating and opening it: the same operator's fault.
    if (isAssayError(err) && err.code === 'not_found') throw missingBlob(v, file.sha256);
    throw err;
  }
  try {
    await env.db.transaction((tx) =>
      appendAuditEntry(
        tx,
        dataChangeEntry(ctx, {
          action: DATASET_DOWNLOAD_ACTION,
          resource: { type: 'dataset_version', id: v.id },
          reason: `${v.datasetName} v${v.version} certified Parquet handed out: sha256:${file.sha256}, ${file.size} bytes, ${v.certified.rows} rows (dataset ${v.datasetId}, version ${v.id})${file.erasureRequests > 0 ? `; ${file.erasureRequests} erasure requests reached it` : ''}`,
        }),
      ),
    );
  } catch (err) {
    stored.destroy();
    throw err;
  }
  const released = lastChunkWithheld();
  return pipeline(stored, released.stream, (err) => {
    if (err) void recordIncompleteDownload(env, { file, ctx, released: released.bytes(), cause: err });
  });
}

/**
 * Records that a download whose `dataset.download` entry is written did not deliver every byte,
 * so the log does not say rows were handed out when fewer or none left: how many bytes had been
 * released to the connection, of how many, and why it stopped. Bytes that failed their digest
 * are an integrity incident as well: an `alert.raise` entry in the same transaction and an alert
 * line name the blob and what it hashes to now. Written after the answer began, so it can only
 * be reported, never refused: a failure to record it is logged as an alert itself.
 */
async function recordIncompleteDownload(env: DownloadEnv, o: { file: CertifiedParquetFile; ctx: ChangeContext; released: number; cause: Error }): Promise<void> {
  const v = o.file.version;
  const resource = { type: 'dataset_version', id: v.id };
  const corrupt = o.cause instanceof BlobCorrupt;
  const why = corrupt
    ? `the stored bytes no longer hash to sha256:${o.file.sha256}${(o.cause as BlobCorrupt).actualHash ? ` (they hash to sha256:${(o.cause as BlobCorrupt).actualHash})` : ''}`
    : (o.cause as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE'
      ? 'the connection closed first (the client went away or timed out)'
      : `reading the blob failed: ${o.cause.message}`;
  const cutOff = `${v.datasetName} v${v.version} certified Parquet download cut off after ${o.released} of ${o.file.size} bytes: ${why}`;
  const alert = `${CERTIFIED_BLOB_CORRUPT_EVENT}: ${v.datasetName} v${v.version} certified Parquet sha256:${o.file.sha256} is damaged in the blob store; restore it from backup (the signed manifest names its digest)`;
  try {
    await env.db.transaction(async (tx) => {
      await appendAuditEntry(tx, { ...dataChangeEntry(o.ctx, { action: DATASET_DOWNLOAD_INCOMPLETE_ACTION, resource, reason: cutOff }), outcome: 'failed' });
      if (corrupt) await appendAuditEntry(tx, dataChangeEntry(o.ctx, { action: 'alert.raise', resource, reason: alert }));
    });
  } catch (err) {
    env.alerts?.warn({ event: DATASET_DOWNLOAD_INCOMPLETE_ACTION, versionId: v.id, err }, `could not record in the audit log: ${cutOff}`);
  }
  if (corrupt) env.alerts?.warn({ event: CERTIFIED_BLOB_CORRUPT_EVENT, versionId: v.id, sha256: o.file.sha256 }, alert);
}
