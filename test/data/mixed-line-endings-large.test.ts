import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SMALL_FILE_BYTES } from '../../src/data/duck.js';
import { createPrincipalWithToken, createTestApp, type TestApp } from '../support/app.js';
import { eachBackend } from '../support/databases.js';
import { leftovers } from './support.js';

const EOL = { CRLF: '\r\n', LF: '\n' } as const;

/**
 * Writes a CSV file just past `minBytes` to `path`, streamed (never held in memory): lines
 * ending in `eol`, but from the fraction `at` of the file on (1: only the last line) the next
 * line ends in `odd`. Returns the number of that line.
 */
async function writeMixedCsv(path: string, o: { minBytes: number; eol: string; odd: string; at: number }): Promise<number> {
  const { minBytes } = o;
  const out = createWriteStream(path);
  const filler = 'x'.repeat(1000);
  let written = 0;
  let line = 1;
  let oddLine = 0;
  const put = async (text: string): Promise<void> => {
    written += Buffer.byteLength(text);
    line++;
    if (!out.write(text)) await once(out, 'drain');
  };
  await put('id,text' + o.eol);
  for (let i = 1; written < minBytes; i++) {
    const odd = oddLine === 0 && written >= o.at * minBytes;
    if (odd) oddLine = line;
    await put(`${i},${filler}` + (odd ? o.odd : o.eol));
  }
  if (oddLine === 0) oddLine = line;
  out.end(`0,last` + (o.at >= 1 ? o.odd : o.eol));
  await once(out, 'finish');
  return oddLine;
}

/** POSTs the file at `path` to the server on loopback, streamed with its length; resolves with the status and the body. */
function postFile(input: { port: number; path: string; token: string; size: number }): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: input.port,
        method: 'POST',
        path: '/api/v1/datasets/mixed-large/versions?sourceSystem=s&classification=internal&owner=steward',
        headers: { authorization: `Bearer ${input.token}`, 'content-type': 'text/csv', 'content-length': String(input.size) },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
      },
    );
    req.on('error', reject);
    createReadStream(input.path).pipe(req);
  });
}

/**
 * A CSV file of SMALL_FILE_BYTES or more is not loaded into a table: the quarantine reads the
 * file itself (src/data/load.ts, openSnapshot). Mixed line endings must still be refused with
 * the 400 naming the first line that differs, and leave nothing behind.
 */
describe.each(eachBackend().map((b) => [b.name, b] as const))('a large CSV file mixing CRLF and LF [%s]', (_name, backend) => {
  let t: TestApp;
  let steward: { id: string; token: string };
  let port: number;
  let dir: string;

  beforeAll(async () => {
    t = await createTestApp(backend);
    steward = await createPrincipalWithToken(t.db, { name: 'steward', roles: ['data-steward'] });
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    port = (t.app.server.address() as { port: number }).port;
    dir = await mkdtemp(join(tmpdir(), 'assay-mixed-large-'));
  });
  afterAll(async () => {
    await t?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  // The last line of a CRLF file, so the whole file is read before the mix shows; and an LF
  // file turning CRLF halfway, inside the parallel reader's range of some later thread.
  it.each([
    ['CRLF', 'LF', 1],
    ['LF', 'CRLF', 0.5],
  ] as const)('%s lines, then %s (at %s of the file) → 400 naming that line; nothing left', async (first, ending, at) => {
    const path = join(dir, 'mixed.csv');
    const line = await writeMixedCsv(path, { minBytes: SMALL_FILE_BYTES, eol: EOL[first], odd: EOL[ending], at });
    const { size } = await stat(path);
    expect(size).toBeGreaterThanOrEqual(SMALL_FILE_BYTES);
    expect(size).toBeLessThan(SMALL_FILE_BYTES + 2048);
    const res = await postFile({ port, path, token: steward.token, size });
    expect(res.status, res.body).toBe(400);
    expect(res.type).toContain('application/problem+json');
    expect(JSON.parse(res.body)).toMatchObject({
      code: 'validation_failed',
      detail: `malformed CSV: line ${line} ends in ${ending}, earlier lines in ${first}; the file mixes CRLF and LF line endings: convert it to one (e.g. with dos2unix)`,
      errors: [{ field: 'body', detail: `mixed line endings: line ${line} ends in ${ending}, earlier lines in ${first}` }],
    });
    expect(await leftovers(t)).toEqual({ versions: 0, datasets: 0, blobs: 0, spooled: [] });
  });
});
