import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { link, rename, rm, stat } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { basename, dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AssayError, sha256Hasher, Unavailable, ValidationFailed } from '../core/index.js';
import { refusalError, type ServerTarget } from './client.js';
import { interruptible, type Interruptible } from './interrupt.js';

/** What `downloadFile` fetches and where it puts it. */
export interface FileDownload {
  path: string;
  /** The file to create; its directory must exist. */
  out: string;
  /** Replace `out` when it exists. */
  force: boolean;
  /** The SHA-256 (lowercase hex) the bytes must hash to before they take `out`'s name. */
  expectedSha256: string;
  /** Called as bytes arrive, with the announced total; draws the progress bar. */
  onProgress?: (received: number, total: number) => void;
}

/** What arrived, verified. */
export interface DownloadedFile {
  size: number;
  sha256: string;
  /** The response headers, for what the caller reports (e.g. Assay-Erasure-Requests). */
  headers: IncomingMessage['headers'];
}

/** Refuses (before anything is fetched) to replace an existing `out` without `force`. */
export async function assertWritable(out: string, force: boolean): Promise<void> {
  const exists = await stat(out).then(
    () => true,
    (err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? false : Promise.reject(err)),
  );
  if (exists && !force) throw new ValidationFailed(`${out} exists: pass --force to replace it, or --out another file`, [{ field: '--out', message: 'exists' }]);
}

/**
 * Streams the answer to `path` into a temporary file beside `out` (never held in memory),
 * hashing while writing, and gives it `out`'s name only when it arrived whole (as long as
 * its Content-Length) and hashes to `expectedSha256`. A cut-off stream, a length or digest
 * that differs, SIGINT or SIGTERM meanwhile, or any failure removes the temporary file and
 * throws saying what differed.
 * Without `force` an `out` that appeared meanwhile is not replaced either.
 */
export async function downloadFile(target: ServerTarget, download: FileDownload): Promise<DownloadedFile> {
  await assertWritable(download.out, download.force);
  const res = await requestFile(target, download.path);
  // Ctrl-C (SIGINT) or a service manager's SIGTERM would end the process with the partial
  // temporary file left behind, certified rows in a hidden file nobody looks for: while it exists,
  // either signal cuts the transfer short instead, and the file is removed like any cut-off one.
  return interruptible((run) => receive(res, download, run));
}

/** Streams `res` into a temporary file beside `out` and publishes it when whole and as expected; removes it otherwise. */
async function receive(res: IncomingMessage, download: FileDownload, run: Interruptible): Promise<DownloadedFile> {
  const total = Number(res.headers['content-length'] ?? NaN);
  const temp = join(dirname(download.out), `.${basename(download.out)}.${randomBytes(6).toString('hex')}.part`);
  const hash = sha256Hasher();
  let received = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      received += chunk.length;
      hash.update(chunk);
      download.onProgress?.(received, total);
      done(null, chunk);
    },
  });
  run.signal.addEventListener('abort', () => res.destroy(), { once: true });
  /** How far the transfer got, for a message: "1234 of 5678 bytes". */
  const progress = (): string => `${received} of ${Number.isFinite(total) ? total : 'an unknown number of'} bytes`;
  const interrupted = (): AssayError =>
    new Unavailable(`the download of ${download.path} was interrupted (${run.by}) after ${progress()}: the partial file was removed and nothing was written to ${download.out}`);
  try {
    try {
      await pipeline(res, counter, createWriteStream(temp, { flags: 'wx' }));
    } catch (cause) {
      if (run.by) throw interrupted();
      throw new Unavailable(`the download of ${download.path} was cut off after ${progress()}: ${(cause as Error).message}`, cause);
    }
    if (run.by) throw interrupted();
    if (Number.isFinite(total) && received !== total) throw new Unavailable(`the download of ${download.path} was cut off: ${received} of ${total} bytes arrived`);
    const sha256 = hash.digest('hex');
    if (sha256 !== download.expectedSha256) {
      throw new AssayError('integrity_violation', `the downloaded bytes hash to sha256:${sha256}, not sha256:${download.expectedSha256} as the version record states: discarded`);
    }
    await publish(temp, download);
    return { size: received, sha256, headers: res.headers };
  } catch (err) {
    res.destroy();
    await rm(temp, { force: true });
    throw err;
  }
}

/** Gives the verified temporary file `out`'s name: replacing it with `force`, else only if it still does not exist. */
async function publish(temp: string, download: FileDownload): Promise<void> {
  if (download.force) return rename(temp, download.out);
  try {
    // link(2) fails with EEXIST rather than replace a file: no race with another writer of `out`.
    await link(temp, download.out);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new ValidationFailed(`${download.out} appeared during the download: pass --force to replace it`, [{ field: '--out', message: 'exists' }]);
    throw err;
  }
  await rm(temp, { force: true });
}

/** GETs `path`; a problem+json answer becomes an AssayError with the server's code, detail and fields. */
async function requestFile(target: ServerTarget, path: string): Promise<IncomingMessage> {
  const url = new URL(`${target.url}${path}`);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  let res: IncomingMessage;
  try {
    res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = send(url, { method: 'GET', headers: { authorization: `Bearer ${target.token}` } }, resolve);
      req.on('error', reject);
      req.end();
    });
  } catch (cause) {
    throw new Unavailable(`cannot reach the Assay server at ${target.url}: ${(cause as Error).message}`, cause);
  }
  if ((res.statusCode ?? 500) < 400) return res;
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  throw refusalError({ status: res.statusCode ?? 500, statusText: res.statusMessage ?? '', contentType: res.headers['content-type'], text: Buffer.concat(chunks).toString('utf8') });
}
