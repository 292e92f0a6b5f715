import { constants, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { pipeline } from 'node:stream/promises';
import { AssayError, lastChunkWithheld, sha256OfStream, Unavailable, ValidationFailed } from '../core/index.js';
import type { ServerTarget } from './client.js';

/** What `uploadFile` sends. */
export interface FileUpload {
  file: string;
  path: string;
  contentType: string;
  /** Called as bytes leave, with the total; draws the progress bar. */
  onProgress?: (sent: number, total: number) => void;
  /** Awaited once the file is found uploadable, before anything is sent (a look at the server's state to compare with after). */
  beforeSend?: () => Promise<void>;
  /** Called with the headers of a successful answer (e.g. Assay-Erasure-Requests). */
  onAnswered?: (headers: IncomingMessage['headers']) => void;
}

/**
 * Streams a file to the server as the request body (never read whole into memory), with
 * Content-Length so the server can refuse an oversized upload before it starts. Resolves to
 * the JSON answer; a problem+json answer becomes an AssayError with the server's code.
 *
 * The file is read through one open descriptor, never past the size it had when the upload
 * began, and its last bytes are held back until the file is found unchanged (same size and
 * modification time): a file still being written, truncated or rewritten meanwhile aborts the
 * request, so the server never records a snapshot that is not the file, and a file cut short
 * never leaves the request waiting forever for the bytes its Content-Length announced.
 */
export async function uploadFile<T>(target: ServerTarget, upload: FileUpload): Promise<T> {
  const { handle, size: total, mtimeMs } = await openUploadable(upload.file);
  try {
    await upload.beforeSend?.();
    return await sendFile<T>(target, upload, { handle, total, mtimeMs });
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/**
 * The connection closed after the whole file was sent and before any answer came: the server
 * may have made (or still be making) what was asked, which only a look at the server can tell.
 * `sha256` is the file's, as the server names the snapshot.
 */
export class AnswerLost extends Unavailable {
  constructor(
    message: string,
    readonly sha256: string,
    cause: unknown,
  ) {
    super(message, cause);
  }
}

/** The open file being uploaded, as it was when the upload began. */
interface UploadSource {
  handle: FileHandle;
  total: number;
  mtimeMs: number;
}

async function sendFile<T>(target: ServerTarget, upload: FileUpload, file: UploadSource): Promise<T> {
  const { handle, total } = file;
  const url = new URL(`${target.url}${upload.path}`);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  // Set once every byte was handed to the connection: a failure after that may follow a server that acted on the file.
  let delivered = false;
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    const req = send(url, { method: 'POST', headers: { authorization: `Bearer ${target.token}`, 'content-type': upload.contentType, 'content-length': String(total) } }, resolve);
    req.on('error', reject);
    req.on('finish', () => (delivered = true));
    // Never past the announced length: a file that grew is caught below rather than overrunning the request.
    const source = handle.createReadStream({ start: 0, ...(total > 0 ? { end: total - 1 } : {}), highWaterMark: 1024 * 1024, autoClose: false });
    // The file failing mid-read aborts the request; say why, not the "socket hang up" that follows.
    source.on('error', (err) => reject(unreadable(upload.file, err)));
    let sent = 0;
    source.on('data', (chunk: string | Buffer) => {
      sent += chunk.length;
      upload.onProgress?.(Math.min(sent, total), total);
    });
    const guard = lastChunkWithheld(() => unchanged(upload.file, { ...file, sent }).catch((err: AssayError) => {
      reject(err);
      throw err;
    }));
    pipeline(source, guard.stream, req).catch(() => undefined);
  });
  let res: IncomingMessage;
  try {
    res = await response;
  } catch (cause) {
    if (cause instanceof AssayError) throw cause;
    if (delivered) throw new AnswerLost(`the connection to ${target.url} closed after the whole file was sent, before the server answered (${(cause as Error).message})`, await sha256OfStream(handle.createReadStream({ start: 0, highWaterMark: 1024 * 1024, autoClose: false })), cause);
    throw new Unavailable(`upload to ${target.url} failed: ${(cause as Error).message}`, cause);
  }
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  const body = answerOf(text, res) as T & { code?: string; detail?: string; errors?: Array<{ field: string; detail: string }> };
  if ((res.statusCode ?? 500) >= 400) {
    throw new AssayError((body.code as never) ?? 'unavailable', `server answered ${res.statusCode}: ${body.detail ?? res.statusMessage ?? ''}`, {
      errors: (body.errors ?? []).map((e) => ({ field: e.field, message: e.detail })),
    });
  }
  upload.onAnswered?.(res.headers);
  return body;
}

/**
 * Resolves when the whole announced length was read and the file still has the size and
 * modification time it had at the start; otherwise rejects with `changedWhileSent`. Checked
 * before the last chunk leaves, so a failure aborts the request short of its length and the
 * server discards what arrived.
 */
async function unchanged(path: string, file: UploadSource & { sent: number }): Promise<void> {
  let now: Stats;
  try {
    now = await file.handle.stat();
  } catch (err) {
    throw unreadable(path, err);
  }
  if (file.sent !== file.total || now.size !== file.total || now.mtimeMs !== file.mtimeMs) {
    throw changedWhileSent(path, { sent: file.sent, total: file.total, now: now.size });
  }
}

function changedWhileSent(file: string, n: { sent: number; total: number; now: number }): ValidationFailed {
  const what = n.sent < n.total ? `it ended after ${n.sent} of its ${n.total} bytes` : n.now !== n.total ? `it was ${n.total} bytes and is now ${n.now}` : 'it was modified';
  return new ValidationFailed(`cannot upload ${file}: it changed while it was being sent (${what}); the upload was aborted and nothing was ingested: send it again once it is complete`, [
    { field: 'file', message: 'changed while being sent' },
  ]);
}

/** `file`, a readable regular file, opened, with its size and modification time; else a usage error naming it (before anything is sent). */
async function openUploadable(file: string): Promise<{ handle: FileHandle; size: number; mtimeMs: number }> {
  let handle: FileHandle;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer before it can be refused below.
    handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw unreadable(file, err);
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new ValidationFailed(`cannot upload ${file}: not a regular file${info.isDirectory() ? ' (a directory)' : ''}`, [{ field: 'file', message: 'must be a regular file' }]);
    return { handle, size: info.size, mtimeMs: info.mtimeMs };
  } catch (err) {
    await handle.close().catch(() => undefined);
    throw err;
  }
}

function unreadable(file: string, err: unknown): ValidationFailed {
  const e = err as NodeJS.ErrnoException;
  const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied' : e.code === 'EISDIR' ? 'a directory' : e.message;
  return new ValidationFailed(`cannot read ${file}: ${why}`, [{ field: 'file', message: why }]);
}

/** The server's JSON answer; an answer that is not JSON (a proxy's error page) becomes an error saying what came back. */
function answerOf(text: string, res: IncomingMessage): Record<string, unknown> {
  try {
    return JSON.parse(text || '{}') as Record<string, unknown>;
  } catch {
    throw new Unavailable(`server answered ${res.statusCode} ${res.statusMessage ?? ''} with ${res.headers['content-type'] ?? 'no content type'}, not JSON: ${text.slice(0, 200)}`);
  }
}

/** A one-line progress bar (bytes sent of the total), redrawn in place; only on a terminal. */
export function progressBar(write: (text: string) => void): { update(sent: number, total: number): void; done(): void } {
  let last = -1;
  const mib = (n: number): string => (n / 1024 / 1024).toFixed(1);
  return {
    update(sent, total) {
      const pct = total === 0 ? 100 : Math.floor((sent / total) * 100);
      if (pct === last) return;
      last = pct;
      const filled = Math.round(pct / 4);
      write(`\r[${'#'.repeat(filled)}${' '.repeat(25 - filled)}] ${pct}% ${mib(sent)}/${mib(total)} MiB`);
    },
    done() {
      if (last >= 0) write('\n');
    },
  };
}
