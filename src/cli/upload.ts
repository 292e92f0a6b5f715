import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AssayError, Unavailable, ValidationFailed } from '../core/index.js';
import type { ServerTarget } from './client.js';

/** What `uploadFile` sends. */
export interface FileUpload {
  file: string;
  path: string;
  contentType: string;
  /** Called as bytes leave, with the total; draws the progress bar. */
  onProgress?: (sent: number, total: number) => void;
}

/**
 * Streams a file to the server as the request body (never read whole into memory), with
 * Content-Length so the server can refuse an oversized upload before it starts. Resolves to
 * the JSON answer; a problem+json answer becomes an AssayError with the server's code.
 */
export async function uploadFile<T>(target: ServerTarget, upload: FileUpload): Promise<T> {
  const total = await uploadableSize(upload.file);
  const url = new URL(`${target.url}${upload.path}`);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  let sent = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      sent += chunk.length;
      upload.onProgress?.(sent, total);
      done(null, chunk);
    },
  });
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    const req = send(url, { method: 'POST', headers: { authorization: `Bearer ${target.token}`, 'content-type': upload.contentType, 'content-length': String(total) } }, resolve);
    req.on('error', reject);
    const source = createReadStream(upload.file, { highWaterMark: 1024 * 1024 });
    // The file failing mid-read aborts the request; say why, not the "socket hang up" that follows.
    source.on('error', (err) => reject(unreadable(upload.file, err)));
    pipeline(source, counter, req).catch(() => undefined);
  });
  let res: IncomingMessage;
  try {
    res = await response;
  } catch (cause) {
    if (cause instanceof AssayError) throw cause;
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
  return body;
}

/** The size of `file`, a readable regular file; else a usage error naming it (before anything is sent). */
async function uploadableSize(file: string): Promise<number> {
  let info;
  try {
    info = await stat(file);
  } catch (err) {
    throw unreadable(file, err);
  }
  if (!info.isFile()) throw new ValidationFailed(`cannot upload ${file}: not a regular file${info.isDirectory() ? ' (a directory)' : ''}`, [{ field: 'file', message: 'must be a regular file' }]);
  return info.size;
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
