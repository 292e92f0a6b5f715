import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AssayError, Unavailable } from '../core/index.js';
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
  const total = (await stat(upload.file)).size;
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
    pipeline(createReadStream(upload.file, { highWaterMark: 1024 * 1024 }), counter, req).catch(() => undefined);
  });
  let res: IncomingMessage;
  try {
    res = await response;
  } catch (cause) {
    throw new Unavailable(`upload to ${target.url} failed: ${(cause as Error).message}`, cause);
  }
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as T & { code?: string; detail?: string; errors?: Array<{ field: string; detail: string }> };
  if ((res.statusCode ?? 500) >= 400) {
    throw new AssayError((body.code as never) ?? 'unavailable', `server answered ${res.statusCode}: ${body.detail ?? res.statusMessage ?? ''}`, {
      errors: (body.errors ?? []).map((e) => ({ field: e.field, message: e.detail })),
    });
  }
  return body;
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
