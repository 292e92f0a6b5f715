import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { AssayError, InsufficientStorage, isStorageFull, MalformedRequest, ValidationFailed } from '../core/index.js';
import { JSON_LINES_MAX_DEPTH, jsonDepthGauge } from './json-depth.js';
import { nulScanner } from './nul.js';
import { utf8Validator } from './utf8.js';

/** How much of the upload's beginning is kept in memory for dialect and format sniffing. */
const HEAD_BYTES = 64 * 1024;

/** An upload written to a private temporary file. */
export interface SpooledUpload {
  path: string;
  size: number;
  /** SHA-256 (lowercase hex) of the bytes, computed while they streamed in. */
  hash: string;
  /** The first bytes (up to 64 KiB), for sniffing the format and the CSV header. */
  head: Buffer;
}

/** What `spoolUpload` needs. */
export interface SpoolOptions {
  dir: string;
  /** Larger uploads are refused with 413 as soon as the limit is passed. */
  maxBytes: number;
  /** Validate UTF-8 while streaming (CSV and JSON Lines), naming the offset of the first bad byte, and refuse the NUL character. */
  text: boolean;
  /** With `text`: JSON Lines, so also refuse the escape `\u0000` and records nested deeper than JSON_LINES_MAX_DEPTH. @default false */
  jsonLines?: boolean;
  /**
   * How long the upload may send nothing before it is refused and its partial file removed: a
   * client that stalls (a half-open connection, a file on a hung mount) would otherwise hold the
   * file, and a server that is stopping, forever. @default no limit
   */
  idleTimeoutMs?: number;
}

/** 413 for an upload over the configured limit. */
export function uploadTooLarge(maxBytes: number): AssayError {
  return new AssayError('payload_too_large', `upload exceeds data.maxUploadBytes (${maxBytes} bytes)`, {
    errors: [{ field: 'body', message: `larger than ${maxBytes} bytes` }],
  });
}

/**
 * Streams `source` into a new 0600 file under `dir`, never holding more than one chunk (plus
 * the 64 KiB head) in memory. Refuses, and removes the partial file, when the source fails
 * (a client that aborts mid-body), grows past `maxBytes`, holds invalid UTF-8 or is empty.
 */
export async function spoolUpload(source: AsyncIterable<Uint8Array>, options: SpoolOptions): Promise<SpooledUpload> {
  await mkdir(options.dir, { recursive: true, mode: 0o700 });
  const path = join(options.dir, `upload-${randomUUID()}.part`);
  const handle = await open(path, 'wx', 0o600);
  const validator = options.text ? utf8Validator() : undefined;
  const nul = options.text ? nulScanner({ jsonEscapes: options.jsonLines ?? false }) : undefined;
  const depth = options.text && options.jsonLines ? jsonDepthGauge() : undefined;
  const digest = createHash('sha256');
  const headParts: Buffer[] = [];
  let headSize = 0;
  let size = 0;
  // Set when writing the spool file failed: then the fault is the server's, not the upload's.
  let writeFailure: { err: unknown } | undefined;
  try {
    try {
      for await (const chunk of options.idleTimeoutMs ? idleLimited(source, options.idleTimeoutMs) : source) {
        size += chunk.byteLength;
        if (size > options.maxBytes) throw uploadTooLarge(options.maxBytes);
        // The head first: a refusal below may tell from the file's first bytes what it looks like.
        if (headSize < HEAD_BYTES) {
          headParts.push(Buffer.from(chunk.subarray(0, HEAD_BYTES - headSize)));
          headSize += Math.min(chunk.byteLength, HEAD_BYTES - headSize);
        }
        const bad = validator?.push(chunk) ?? -1;
        if (bad >= 0) throw invalidUtf8(bad, { head: Buffer.concat(headParts), line: await lineAt(bad, { path, written: size - chunk.byteLength, chunk }) });
        const zero = nul?.push(chunk) ?? -1;
        if (zero >= 0) throw nulCharacter(zero, Buffer.concat(headParts));
        const deep = depth?.push(chunk) ?? -1;
        if (deep >= 0) throw tooDeep(deep);
        // Hash while the write is in flight on the threadpool.
        const written = writeFully(handle, chunk).catch((err: unknown) => {
          writeFailure = { err };
          throw err;
        });
        digest.update(chunk);
        await written;
      }
    } catch (err) {
      if (err instanceof AssayError) throw err;
      if (err instanceof UploadStalled) {
        throw new MalformedRequest(`upload stalled: no bytes arrived for ${err.seconds} s (data.transferIdleTimeoutSeconds) after ${size} bytes; nothing was kept`, [
          { field: 'body', message: `nothing sent for ${err.seconds} s` },
        ]);
      }
      if (writeFailure) {
        if (isStorageFull(writeFailure.err)) throw new InsufficientStorage(`the server's upload spool is full after ${size} bytes; nothing was kept`, writeFailure.err);
        throw writeFailure.err;
      }
      // The request stream failed: the client went away or the connection broke mid-body.
      throw new MalformedRequest(`upload cut off after ${size} bytes: the request body did not arrive completely`, [
        { field: 'body', message: 'incomplete upload' },
      ], err);
    }
    const tail = validator?.end() ?? -1;
    if (tail >= 0) throw invalidUtf8(tail, { head: Buffer.concat(headParts), line: await lineAt(tail, { path, written: size, chunk: new Uint8Array(0) }) });
    if (size === 0) throw new ValidationFailed('the file is empty', [{ field: 'body', message: 'empty' }]);
    await handle.close();
  } catch (err) {
    await handle.close().catch(() => undefined);
    await rm(path, { force: true });
    throw err;
  }
  return { path, size, hash: digest.digest('hex'), head: Buffer.concat(headParts) };
}

/** The upload sent nothing for the idle timeout. */
class UploadStalled extends Error {
  constructor(readonly seconds: number) {
    super(`no bytes for ${seconds} s`);
  }
}

/**
 * `source`'s chunks, failing with UploadStalled when the next one takes longer than `ms` to
 * arrive. Only the wait for the client counts: not the time the spool takes to write a chunk.
 * The source is left as it is (not destroyed), so the refusal can still be answered: the limit
 * lives here rather than on the socket, as the download's does, because destroying a request
 * destroys its socket. A fresh timer and promise per chunk: racing one long-lived promise would
 * keep a reaction per chunk alive until it settled.
 */
async function* idleLimited(source: AsyncIterable<Uint8Array>, ms: number): AsyncGenerator<Uint8Array> {
  const chunks = source[Symbol.asyncIterator]();
  for (;;) {
    let timer: NodeJS.Timeout | undefined;
    const stalled = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new UploadStalled(Math.round(ms / 1000))), ms);
    });
    let next: IteratorResult<Uint8Array>;
    try {
      next = await Promise.race([chunks.next(), stalled]);
    } finally {
      // Cleared before the chunk is handed on, so no timer runs while the spool writes it.
      clearTimeout(timer);
    }
    if (next.done) return;
    yield next.value;
  }
}

function tooDeep(offset: number): ValidationFailed {
  return new ValidationFailed(`a record nests arrays and objects more than ${JSON_LINES_MAX_DEPTH} levels deep (at byte offset ${offset})`, [
    { field: 'body', message: `nested deeper than ${JSON_LINES_MAX_DEPTH} levels at byte ${offset}` },
  ]);
}

/**
 * Whether the upload's first bytes look like UTF-16: a byte order mark, or text whose every
 * other byte is zero (ASCII in UTF-16 without one). A spreadsheet's "Unicode text" export is
 * UTF-16, and would otherwise be refused for its first NUL or invalid byte without saying why.
 */
function looksUtf16(head: Buffer): boolean {
  if (head.length >= 2 && ((head[0] === 0xff && head[1] === 0xfe) || (head[0] === 0xfe && head[1] === 0xff))) return true;
  const pairs = Math.min(head.length >> 1, 32);
  if (pairs < 2) return false;
  let evenZero = 0;
  let oddZero = 0;
  for (let i = 0; i < pairs; i++) {
    if (head[2 * i] === 0) evenZero++;
    if (head[2 * i + 1] === 0) oddZero++;
  }
  return evenZero === pairs || oddZero === pairs;
}

const UTF16_HINT = 'it looks like UTF-16 (a spreadsheet\'s "Unicode text" export): save or convert it as UTF-8';

function nulCharacter(offset: number, head: Buffer): ValidationFailed {
  const hint = looksUtf16(head) ? `; ${UTF16_HINT}` : '';
  return new ValidationFailed(`the file holds the NUL character (U+0000) at byte offset ${offset}; a text dataset cannot hold it${hint}`, [
    { field: 'body', message: `NUL character at byte ${offset}` },
  ]);
}

function invalidUtf8(offset: number, at: { head: Buffer; line: number }): ValidationFailed {
  // Invalid UTF-8 in a text file is nearly always a single-byte encoding: Excel's CSV export on Windows writes Windows-1252.
  const hint = looksUtf16(at.head) ? UTF16_HINT : 'it may be in a single-byte encoding such as Windows-1252 or ISO-8859-1 (Excel\'s CSV export on Windows): convert it to UTF-8, e.g. iconv -f WINDOWS-1252 -t UTF-8 FILE > FILE-utf8.csv';
  return new ValidationFailed(`the file is not valid UTF-8: invalid byte sequence on line ${at.line} (byte offset ${offset}); ${hint}`, [
    { field: 'body', message: `invalid UTF-8 on line ${at.line}, at byte ${offset}` },
  ]);
}

/**
 * The line (1-based, as an editor counts them) of byte `offset` of the upload: the spooled
 * file holds its first `written` bytes, `chunk` the next ones. Read only to explain a refusal,
 * so the stream that validates every upload counts no lines.
 */
async function lineAt(offset: number, upload: { path: string; written: number; chunk: Uint8Array }): Promise<number> {
  const newlines = (bytes: Uint8Array): number => {
    let n = 0;
    for (let i = bytes.indexOf(0x0a); i >= 0; i = bytes.indexOf(0x0a, i + 1)) n++;
    return n;
  };
  let line = 1;
  const inFile = Math.min(offset, upload.written);
  if (inFile > 0) for await (const part of createReadStream(upload.path, { end: inFile - 1 }) as AsyncIterable<Buffer>) line += newlines(part);
  return line + newlines(upload.chunk.subarray(0, Math.max(0, offset - upload.written)));
}

async function writeFully(handle: Awaited<ReturnType<typeof open>>, chunk: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < chunk.byteLength) offset += (await handle.write(chunk, offset, chunk.byteLength - offset)).bytesWritten;
}

/** Removes a spooled upload; already gone is fine. */
export async function discardUpload(upload: { path: string }): Promise<void> {
  await rm(upload.path, { force: true });
}
