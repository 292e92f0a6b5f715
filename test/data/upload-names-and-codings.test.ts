import { DuckDBInstance } from '@duckdb/node-api';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createPrincipalWithToken, createTestApp, type TestApp } from '../support/app.js';
import { eachBackend } from '../support/databases.js';
import { leftovers, upload } from './support.js';

const GOOD = 'id,name,amount\n1,a,10\n2,b,20\n';

/**
 * Uploads whose column names DuckDB would invent or no one could tell apart, and bodies sent
 * compressed: each a clear 4xx naming the problem that leaves nothing new behind (DESIGN
 * invariant 6), where they were accepted under an invented name or refused with a misleading one.
 */
describe.each(eachBackend().map((b) => [b.name, b] as const))('upload names and codings [%s]', (_name, backend) => {
  let t: TestApp;
  let steward: { id: string; token: string };
  let before: Awaited<ReturnType<typeof leftovers>>;

  beforeAll(async () => {
    t = await createTestApp(backend);
    steward = await createPrincipalWithToken(t.db, { name: 'steward', roles: ['data-steward'] });
  });
  afterAll(async () => t?.close());
  beforeEach(async () => {
    before = await leftovers(t);
  });

  const declared = { classification: 'internal', owner: 'steward' };
  const nothingNew = async () => expect(await leftovers(t)).toEqual(before);

  it('a JSON Lines empty key → 400 (DuckDB would name it C0, a column the file lacks), a blank key or Parquet column name → 400, nothing left; a key really called C0 is accepted', async () => {
    for (const body of ['{"":1,"b":2}\n{"":3,"b":4}\n', '{"C0":2,"":1}\n', '{"b":1}\n{"b":2,"":3}\n']) {
      const res = await upload(t, { name: 'blank-key', body, token: steward.token, contentType: 'application/x-ndjson', query: declared });
      expect(res.statusCode, res.body).toBe(400);
      expect(res.json()).toMatchObject({ errors: [{ field: 'body', detail: expect.stringMatching(/^the empty key "" in \d record\(s\)$/) }] });
      await nothingNew();
    }
    const blank = await upload(t, { name: 'blank-key', body: '{" ":1,"b":2}\n', token: steward.token, contentType: 'application/x-ndjson', query: declared });
    expect(blank.statusCode, blank.body).toBe(400);
    expect(blank.json()).toMatchObject({ detail: 'column 1 of the file has a blank name (only white space)', errors: [{ field: 'body', detail: 'column 1 has a blank name' }] });
    await nothingNew();
    const dir = mkdtempSync(join(tmpdir(), 'assay-blank-'));
    try {
      const duck = await DuckDBInstance.create(':memory:');
      const conn = await duck.connect();
      await conn.run(`COPY (SELECT 1 AS id, 2 AS "  ") TO '${join(dir, 'blank.parquet')}' (FORMAT parquet)`);
      conn.closeSync();
      const res = await upload(t, { name: 'blank-parquet', body: readFileSync(join(dir, 'blank.parquet')), token: steward.token, contentType: 'application/vnd.apache.parquet', query: declared });
      expect(res.statusCode, res.body).toBe(400);
      expect(res.json()).toMatchObject({ errors: [{ field: 'body', detail: 'column 2 has a blank name' }] });
      await nothingNew();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const named = await upload(t, { name: 'c0-key', body: '{"C0":1,"b":2}\n', token: steward.token, contentType: 'application/x-ndjson', query: declared });
    expect(named.statusCode, named.body).toBe(201);
    expect(named.json()).toMatchObject({ schema: { columns: [{ name: 'C0' }, { name: 'b' }] } });
  });

  it('a body sent compressed (Content-Encoding gzip) → 415 naming headers.content-encoding before a byte is read, not a misleading invalid UTF-8 or unreadable Parquet; identity is the file as sent', async () => {
    const gzipped = gzipSync(GOOD);
    for (const [contentType, encoding] of [['text/csv', 'gzip'], ['application/x-ndjson', 'br'], ['application/vnd.apache.parquet', 'identity, gzip']] as const) {
      const res = await upload(t, { name: 'gz', body: gzipped, token: steward.token, contentType, headers: { 'content-encoding': encoding }, query: declared });
      expect(res.statusCode, res.body).toBe(415);
      expect(res.headers['accept-encoding']).toBe('identity');
      expect(res.json()).toMatchObject({ errors: [{ field: 'headers.content-encoding', detail: expect.stringMatching(/^unsupported: (gzip|br); send the body uncompressed/) }] });
      await nothingNew();
    }
    const plain = await upload(t, { name: 'gz', body: GOOD, token: steward.token, headers: { 'content-encoding': 'identity' }, query: declared });
    expect(plain.statusCode, plain.body).toBe(201);
    // JSON bodies likewise: a compressed promotion request is not "malformed JSON".
    const promoter = await createPrincipalWithToken(t.db, { name: 'promoter-gz', roles: ['data-steward'] });
    const promote = await t.app.inject({ method: 'POST', url: '/api/v1/datasets/gz/versions/1/promote', headers: { authorization: `Bearer ${promoter.token}`, 'content-type': 'application/json', 'content-encoding': 'gzip' }, payload: gzipSync('{}') });
    expect(promote.statusCode, promote.body).toBe(415);
    expect(promote.json()).toMatchObject({ errors: [{ field: 'headers.content-encoding' }] });
    expect((await t.db.query(`SELECT v.state FROM dataset_versions v JOIN datasets d ON d.id = v.dataset_id WHERE d.name = 'gz'`)).rows).toEqual([{ state: 'quarantine' }]);
  });
  it('a body declared in a charset other than UTF-8 → 415 naming headers.content-type with advice to convert, before anything is stored; utf-8 in any spelling, us-ascii and none are read', async () => {
    const latin1 = Buffer.from('id,name,amount\n1,M\xfcller,10\n', 'latin1');
    const refused: [string, string | Buffer, string][] = [
      ['text/csv; charset=iso-8859-1', latin1, 'iso-8859-1'],
      ['text/csv;charset="Windows-1252"', latin1, 'windows-1252'],
      // Every byte ASCII, so it would have been stored under a label that says otherwise.
      ['text/csv; header=present; charset=latin1', GOOD, 'latin1'],
      ['application/x-ndjson; charset=utf-16', Buffer.from('{"a":1}\n', 'utf16le'), 'utf-16'],
      ['application/octet-stream; charset=utf-8; charset=koi8-r', GOOD, 'koi8-r'],
    ];
    for (const [contentType, body, charset] of refused) {
      const res = await upload(t, { name: 'charset', body, token: steward.token, contentType, query: { ...declared, format: 'csv' } });
      expect(res.statusCode, `${contentType}: ${res.body}`).toBe(415);
      expect(res.json()).toMatchObject({
        detail: expect.stringContaining(`declared as charset ${charset}; files are read as UTF-8 only: convert it to UTF-8 (e.g. iconv -f ${charset.toUpperCase()} -t UTF-8)`),
        errors: [{ field: 'headers.content-type', detail: `unsupported charset: ${charset}; convert the file to UTF-8` }],
      });
      await nothingNew();
    }
    // A header's arbitrary bytes are not echoed.
    const odd = await upload(t, { name: 'charset', body: GOOD, token: steward.token, contentType: 'text/csv; charset=<script>', query: declared });
    expect(odd.statusCode).toBe(415);
    expect(odd.body).not.toContain('<script>');
    await nothingNew();
    for (const contentType of ['text/csv; charset=utf-8', 'text/csv; charset=UTF-8', 'text/csv;charset="Utf-8"', 'text/csv; charset=utf8', 'text/csv; charset=us-ascii', 'text/csv']) {
      const res = await upload(t, { name: 'charset', body: GOOD, token: steward.token, contentType, query: declared });
      expect(res.statusCode, `${contentType}: ${res.body}`).toBe(201);
    }
    // JSON is UTF-8 by definition: a charset on a JSON body is not the uploads' business.
    const promoter = await createPrincipalWithToken(t.db, { name: 'promoter-charset', roles: ['data-steward'] });
    const promote = await t.app.inject({ method: 'POST', url: '/api/v1/datasets/charset/versions/1/promote', headers: { authorization: `Bearer ${promoter.token}`, 'content-type': 'application/json; charset=iso-8859-1' }, payload: '{}' });
    expect(promote.statusCode, promote.body).not.toBe(415);
  });
});
