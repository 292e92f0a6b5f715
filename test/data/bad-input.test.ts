import { DuckDBInstance } from '@duckdb/node-api';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JSON_LINES_MAX_DEPTH } from '../../src/data/json-depth.js';
import { createPrincipalWithToken, createTestApp, type TestApp } from '../support/app.js';
import { eventually } from '../support/cli.js';
import { eachBackend } from '../support/databases.js';
import { leftovers, upload } from './support.js';

const GOOD = 'id,name,amount\n1,a,10\n2,b,20\n';

/**
 * Bad input gets a clear 4xx problem naming the problem, and leaves nothing behind: no dataset
 * or version row, no blob, no spooled upload (DESIGN invariant 6).
 */
describe.each(eachBackend().map((b) => [b.name, b] as const))('bad dataset uploads [%s]', (_name, backend) => {
  let t: TestApp;
  let steward: { id: string; token: string };

  beforeAll(async () => {
    t = await createTestApp(backend, { config: { data: { maxUploadBytes: 4096 } } });
    steward = await createPrincipalWithToken(t.db, { name: 'steward', roles: ['data-steward'] });
  });
  afterAll(async () => t?.close());

  const declared = { classification: 'internal', owner: 'steward' };
  const nothingLeft = async () => expect(await leftovers(t)).toEqual({ versions: 0, datasets: 0, blobs: 0, spooled: [] });

  it.each([
    ['an empty file', '', 400, 'body', /empty/],
    ['a header without records', 'id,name\n', 400, 'body', /no records/],
    ['a ;-separated file declared comma-separated', 'id;name;amount\n1;a;10\n2;b;20\n', 400, 'query.delimiter', /wrong delimiter: declared ",", but every line splits into 3 columns on ";"/],
    ['ragged rows', 'id,name,amount\n1,a,10\n2,b\n3,c,30\n', 400, 'body', /ragged rows: line 3 has 2 fields, the header has 3/],
    ['a record with too many fields', 'id,name,amount\n1,a,10,extra\n', 400, 'body', /ragged rows: line 2 has 4 fields/],
    ['duplicate column names', 'id,id\n1,2\n', 400, 'body.header[2]', /twice/],
    ['column names that differ only in case', 'name,ID,id\n1,2,3\n', 400, 'body.header[3]', /"ID" and "id" \(columns 2 and 3\), which differ only in case/],
    ['a blank column name', 'id,,amount\n1,,10\n', 400, 'body.header[2]', /^CSV header column 2 has no name$/],
    [
      'a delimiter ending every line, as SAP and Excel exports write them',
      'id,amount,\r\n1,10,\r\n2,20,\r\n',
      400,
      'body.header[3]',
      /^CSV header column 3 has no name: every line ends with ",", a trailing delimiter \(as SAP and Excel exports write them\), so the last column is unnamed and empty; remove it from every line, e\.g\. sed -i -E 's\/,\(\\r\?\)\$\/\\1\/' FILE$/,
    ],
    ["Excel's delimiter hint sep=; as the first line", 'sep=;\r\nid;amount\r\n1;10\r\n', 400, 'body.header', /^the first line "sep=;" is Excel's delimiter hint, not a header: remove that line \(e\.g\. sed -i 1d FILE\) and pass delimiter=;$/],
    ['an unterminated quote', 'id,name\n1,"abc\n2,x\n', 400, 'body', /malformed CSV|ragged/],
    ['CRLF lines, the last one ending in LF only', 'id,n\r\n1,a\r\n2,b\n', 400, 'body', /^malformed CSV: line 3 ends in LF, earlier lines in CRLF; the file mixes CRLF and LF line endings/],
    ['LF lines, then CRLF', 'id,n\n1,a\r\n2,b\r\n', 400, 'body', /^malformed CSV: line 2 ends in CRLF, earlier lines in LF;/],
    ['CRLF lines with a line break inside a quoted field, then LF', 'id,n\r\n1,"a\nb"\r\n2,c\n', 400, 'body', /^malformed CSV: line 4 ends in LF, earlier lines in CRLF;/],
  ])('%s → %s naming %s', async (_what, body, status, field, detail) => {
    const res = await upload(t, { name: 'bad', body, token: steward.token, query: declared });
    expect(res.statusCode, res.body).toBe(status);
    expect(res.headers['content-type']).toContain('application/problem+json');
    const problem = res.json<{ detail: string; errors: Array<{ field: string }> }>();
    expect(problem.detail).toMatch(detail);
    expect(problem.errors.map((e) => e.field)).toContain(field);
    await nothingLeft();
  });

  it('JSON Lines keys that differ only in case → 400 naming both (DuckDB would rename one to id_1)', async () => {
    const res = await upload(t, { name: 'keys', body: '{"ID":1,"id":2}\n{"ID":3,"id":4}\n', token: steward.token, contentType: 'application/x-ndjson', query: declared });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json()).toMatchObject({ detail: 'records hold the keys "ID" and "id", which differ only in case; column names ignore case, so they would be one column: rename one', errors: [{ field: 'body' }] });
    await nothingLeft();
  });

  it.each([
    ['on the first line', '{"id":1,"id":2}\n{"id":3}\n', 1],
    ['on the third line, after a blank one', '{"id":1}\n\n{"id":2,"n":"secret-1","n":"secret-2"}\n{"id":4}\n', 3],
  ])('a JSON Lines record holding a key twice, %s → 400 naming the key and its line, never a value, nothing left', async (_where, body, line) => {
    const res = await upload(t, { name: 'dupkeys', body, token: steward.token, contentType: 'application/x-ndjson', query: declared });
    expect(res.statusCode, res.body).toBe(400);
    const key = line === 1 ? '"id"' : '"n"';
    expect(res.json()).toMatchObject({
      detail: `malformed JSON Lines on line ${line}: the record holds the key ${key} twice; each key of a record names one column`,
      errors: [{ field: 'body', detail: `duplicate key ${key} on line ${line}` }],
    });
    expect(res.body).not.toContain('secret');
    await nothingLeft();
  });

  it('JSON Lines whose records hold no key at all ({}) → 400 saying there is no column, nothing left', async () => {
    const res = await upload(t, { name: 'empty-records', body: '{}\n{ }\n', token: steward.token, contentType: 'application/x-ndjson', query: declared });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json()).toMatchObject({ detail: 'malformed JSON Lines: no record holds a key, so there is no column to certify', errors: [{ field: 'body', detail: 'no record holds a key' }] });
    await nothingLeft();
  });

  it.each([
    ['an array', '{"a":1}\n[1,2]\n', 2],
    ['a number, after a blank line', '{"a":1}\n\n  {"a":2}\n3\n', 4],
    ['a string on the first line', '"a"\n{"a":1}\n', 1],
  ])('a JSON Lines line holding %s, not an object → 400 naming the line, nothing left', async (_what, body, line) => {
    const res = await upload(t, { name: 'records', body, token: steward.token, contentType: 'application/x-ndjson', query: declared });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json()).toMatchObject({
      detail: `malformed JSON Lines on line ${line}: each line must be a JSON object ({…}), not an array or a single value`,
      errors: [{ field: 'body', detail: `line ${line} is not a JSON object` }],
    });
    await nothingLeft();
  });

  it('invalid UTF-8 → 400 naming the byte offset, and the bad bytes are not echoed', async () => {
    const body = Buffer.concat([Buffer.from('id,name\n1,caf'), Buffer.from([0xc3, 0x28]), Buffer.from('\n')]);
    const res = await upload(t, { name: 'bad', body, token: steward.token, query: declared });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json()).toMatchObject({ code: 'validation_failed', errors: [{ field: 'body', detail: 'invalid UTF-8 on line 2, at byte 13' }] });
    await nothingLeft();
  });

  it.each([
    ['Windows-1252 (Excel on Windows)', Buffer.from('id,name\n1,Müller\n', 'latin1'), /not valid UTF-8: invalid byte sequence on line 2 \(byte offset 11\); it may be in a single-byte encoding such as Windows-1252 or ISO-8859-1 \(Excel's CSV export on Windows\): convert it to UTF-8, e\.g\. iconv -f WINDOWS-1252 -t UTF-8 FILE > FILE-utf8\.csv$/],
    ['UTF-16 with a byte order mark', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('id,name\n1,a\n', 'utf16le')]), /not valid UTF-8: invalid byte sequence on line 1 \(byte offset 0\); it looks like UTF-16/],
    ['UTF-16 without a byte order mark', Buffer.from('id,name\n1,a\n', 'utf16le'), /NUL character \(U\+0000\) at byte offset 1; a text dataset cannot hold it; it looks like UTF-16/],
  ])('a file in another encoding, %s → 400 saying what it looks like and how to convert it', async (_what, body, detail) => {
    const res = await upload(t, { name: 'encoded', body, token: steward.token, query: declared });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json<{ detail: string }>().detail).toMatch(detail);
    await nothingLeft();
  });

  it.each([
    ['CSV, a NUL byte in a value', 'text/csv', 'id,cat\n1,a\u0000b\n2,c\n', 'NUL character at byte 10'],
    ['CSV, a NUL byte in the header', 'text/csv', 'id,c\u0000at\n1,a\n', 'NUL character at byte 4'],
    ['JSON Lines, a \\u0000 escape in a value', 'application/x-ndjson', '{"id":1,"cat":"a\\u0000b"}\n{"id":2,"cat":"c"}\n', 'NUL character at byte 16'],
    ['JSON Lines, a \\u0000 escape in a key', 'application/x-ndjson', '{"id":1,"c\\u0000":"a"}\n', 'NUL character at byte 10'],
    ['JSON Lines, an escape after three backslashes', 'application/x-ndjson', '{"id":1,"cat":"a\\\\\\u0000"}\n', 'NUL character at byte 18'],
  ])('%s → 400 naming the byte offset (PostgreSQL could not record it)', async (_what, contentType, body, detail) => {
    const res = await upload(t, { name: 'nul', body, token: steward.token, contentType, query: declared });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json()).toMatchObject({ code: 'validation_failed', errors: [{ field: 'body', detail }] });
    await nothingLeft();
  });

  it('JSON Lines nested deeper than DuckDB can read without crashing the process → 400 naming the offset; the server lives on', async () => {
    const deep = 2000; // within this suite's 4 KiB upload limit; DuckDB itself crashed past ten thousand
    const body = `{"id":1,"a":${'['.repeat(deep)}${']'.repeat(deep)}}\n`;
    const res = await upload(t, { name: 'deep', body, token: steward.token, contentType: 'application/x-ndjson', query: declared });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json()).toMatchObject({ code: 'validation_failed', errors: [{ field: 'body', detail: `nested deeper than ${JSON_LINES_MAX_DEPTH} levels at byte ${11 + JSON_LINES_MAX_DEPTH}` }] });
    await nothingLeft();
  });

  it('Parquet with NUL in a string value, or in a column name → 400 naming the column, nothing left', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'assay-nul-'));
    try {
      const duck = await DuckDBInstance.create(':memory:');
      const conn = await duck.connect();
      await conn.run(`COPY (SELECT * FROM (VALUES (1, 'a' || chr(0) || 'b', 'x'), (2, 'c', 'y')) v(id, cat, cXat)) TO '${join(dir, 'v.parquet')}' (FORMAT parquet)`);
      conn.closeSync();
      const withValue = readFileSync(join(dir, 'v.parquet'));
      const value = await upload(t, { name: 'nul-parquet', body: withValue, token: steward.token, contentType: 'application/vnd.apache.parquet', query: declared });
      expect(value.statusCode, value.body).toBe(400);
      expect(value.json()).toMatchObject({ errors: [{ field: 'body', detail: 'NUL in column cat' }] });
      // The footer names the column in plain bytes: the same length with a NUL is still valid Parquet.
      const named = Buffer.from(withValue);
      let at = named.indexOf('cXat');
      while (at >= 0) {
        named[at + 1] = 0;
        at = named.indexOf('cXat', at + 1);
      }
      const name = await upload(t, { name: 'nul-parquet', body: named, token: steward.token, contentType: 'application/vnd.apache.parquet', query: declared });
      expect(name.statusCode, name.body).toBe(400);
      expect(name.json()).toMatchObject({ errors: [{ field: 'body', detail: 'NUL in the name of column 3' }] });
      await nothingLeft();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('Parquet columns whose names differ only in case → 400 naming both (DuckDB would rename one id_1), nothing left; a column really called id_1 is accepted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'assay-case-'));
    try {
      const duck = await DuckDBInstance.create(':memory:');
      const conn = await duck.connect();
      // DuckDB itself writes no such file (its COPY renames "id" to id_1 first): write "iX" and
      // make it "id" in the footer, where the name is plain bytes of the same length. The struct
      // before it checks that nested fields are not taken for columns.
      await conn.run(`COPY (SELECT {'a': 1, 'Id': 2} AS s, 1 AS "ID", 2 AS "iX") TO '${join(dir, 'twins.parquet')}' (FORMAT parquet)`);
      await conn.run(`COPY (SELECT 1 AS "ID", 2 AS "id") TO '${join(dir, 'renamed.parquet')}' (FORMAT parquet)`);
      conn.closeSync();
      const twins = readFileSync(join(dir, 'twins.parquet'));
      let at = twins.indexOf('iX');
      while (at >= 0) {
        twins[at + 1] = 'd'.charCodeAt(0);
        at = twins.indexOf('iX', at + 1);
      }
      const res = await upload(t, { name: 'case-parquet', body: twins, token: steward.token, contentType: 'application/vnd.apache.parquet', query: declared });
      expect(res.statusCode, res.body).toBe(400);
      expect(res.json()).toMatchObject({
        detail: 'the file has the columns "ID" and "id", which differ only in case; column names ignore case, so they would be one column: rename one',
        errors: [{ field: 'body', detail: 'columns "ID" and "id" differ only in case' }],
      });
      await nothingLeft();
      const renamed = await upload(t, { name: 'case-parquet', body: readFileSync(join(dir, 'renamed.parquet')), token: steward.token, contentType: 'application/vnd.apache.parquet', query: declared });
      expect(renamed.statusCode, renamed.body).toBe(201);
      expect(renamed.json()).toMatchObject({ schema: { columns: [{ name: 'ID' }, { name: 'id_1' }] } });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('JSON Lines holding the text \\u0000 (an escaped backslash, then u0000) is data, not NUL', async () => {
    const res = await upload(t, { name: 'not-nul', body: '{"id":1,"path":"C:\\\\u0000"}\n{"id":2,"path":"x"}\n', token: steward.token, contentType: 'application/x-ndjson', query: declared });
    expect(res.statusCode, res.body).toBe(201);
  });

  it(`JSON Lines nested ${JSON_LINES_MAX_DEPTH} levels deep is read`, async () => {
    const body = `{"id":1,"a":${'['.repeat(JSON_LINES_MAX_DEPTH - 1)}1${']'.repeat(JSON_LINES_MAX_DEPTH - 1)}}\n{"id":2,"a":[[2]]}\n`;
    const res = await upload(t, { name: 'nested', body, token: steward.token, contentType: 'application/x-ndjson', query: declared });
    expect(res.statusCode, res.body).toBe(201);
  });

  it('the same file with the delimiter declared is accepted', async () => {
    const res = await upload(t, { name: 'semi', body: 'id;name;amount\n1;a;10\n', token: steward.token, query: { ...declared, delimiter: ';' } });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toMatchObject({ delimiter: ';', schema: { columns: [{ name: 'id' }, { name: 'name' }, { name: 'amount' }] } });
  });

  it.each([
    ['an unsupported media type', 'application/xml', {}, 415, 'headers.content-type'],
    ['plain text', 'text/plain', {}, 415, 'headers.content-type'],
    ['JSON (a parser would read it whole, and fail on CSV)', 'application/json', {}, 415, 'headers.content-type'],
    ['Parquet declared, CSV sent', 'application/vnd.apache.parquet', {}, 415, 'body'],
    ['octet-stream without a format', 'application/octet-stream', {}, 415, 'query.format'],
    ['a content type contradicting format', 'text/csv', { format: 'jsonl' }, 415, 'query.format'],
    ['an unknown format', 'application/octet-stream', { format: 'xlsx' }, 400, 'query.format'],
    ['an unknown delimiter', 'text/csv', { delimiter: ':' }, 400, 'query.delimiter'],
    ['a residency column without a residency', 'text/csv', { residencyColumn: 'name' }, 400, 'query.residency'],
    ['a residency that is a country name, not a code', 'text/csv', { residency: 'Germany', residencyColumn: 'name' }, 400, 'query.residency'],
    ['a residency no check knows', 'text/csv', { residency: 'Mars' }, 400, 'query.residency'],
    ['a consent column the file lacks', 'text/csv', { consentColumn: 'consent' }, 400, 'query.consentColumn'],
    ['an owner who does not exist', 'text/csv', { owner: 'nobody' }, 400, 'query.owner'],
  ])('%s (%s, %o) → %s naming %s', async (_what, contentType, extra, status, field) => {
    const before = await leftovers(t);
    const res = await upload(t, { name: 'other', body: GOOD, token: steward.token, contentType, query: { ...declared, ...extra } });
    expect(res.statusCode, res.body).toBe(status);
    const errors = res.json<{ errors: Array<{ field: string; detail: string }> }>().errors;
    expect(errors.map((e) => e.field)).toContain(field);
    if (field === 'headers.content-type') expect(errors[0]!.detail).toMatch(/; accepted: text\/csv, .*application\/x-ndjson, .*application\/vnd\.apache\.parquet/);
    expect((await t.db.query(`SELECT 1 FROM datasets WHERE name = 'other'`)).rowCount).toBe(0);
    expect(await leftovers(t)).toEqual(before);
  });

  it('a declared column spelled in another case than the file: 400 naming the field and the column the file has', async () => {
    const before = await leftovers(t);
    const res = await upload(t, { name: 'other', body: 'Customer_ID,CONSENT\nC-1,yes\n', token: steward.token, query: { ...declared, subjectIdColumn: 'customer_id', consentColumn: 'consent' } });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json<{ errors: Array<{ field: string; detail: string }> }>().errors).toEqual([
      { field: 'query.consentColumn', detail: 'the file has no column "consent"; it has "CONSENT" (column names are matched exactly)' },
      { field: 'query.subjectIdColumn', detail: 'the file has no column "customer_id"; it has "Customer_ID" (column names are matched exactly)' },
    ]);
    const none = await upload(t, { name: 'other', body: GOOD, token: steward.token, query: { ...declared, subjectIdColumn: 'client' } });
    expect(none.json<{ errors: Array<{ detail: string }> }>().errors).toEqual([{ field: 'query.subjectIdColumn', detail: 'the file has no column "client"' }]);
    expect(await leftovers(t)).toEqual(before);
  });

  it('no Content-Type → 415 naming headers.content-type and the accepted types, with a body or without, nothing left', async () => {
    const before = await leftovers(t);
    for (const payload of [GOOD, undefined]) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/v1/datasets/untyped/versions?sourceSystem=s&classification=internal&owner=steward',
        headers: { authorization: `Bearer ${steward.token}` },
        ...(payload === undefined ? {} : { payload: Buffer.from(payload) }),
      });
      expect(res.statusCode, res.body).toBe(415);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.json()).toMatchObject({ errors: [{ field: 'headers.content-type', detail: expect.stringMatching(/^missing; accepted: text\/csv, /) }] });
    }
    expect(await leftovers(t)).toEqual(before);
  });

  it('an upload declared larger than data.maxUploadBytes → 413 before a byte is read', async () => {
    const res = await upload(t, { name: 'big', body: 'x'.repeat(5000), token: steward.token, query: declared });
    expect(res.statusCode, res.body).toBe(413);
    expect(res.json()).toMatchObject({ code: 'payload_too_large', errors: [{ field: 'body' }] });
    expect((await t.db.query(`SELECT 1 FROM datasets WHERE name = 'big'`)).rowCount).toBe(0);
  });
});

/** A client that goes away mid-body: the server notices, removes the partial upload and records nothing. */
describe.each(eachBackend().map((b) => [b.name, b] as const))('an upload cut off halfway [%s]', (_name, backend) => {
  let t: TestApp;
  let steward: { id: string; token: string };
  let port: number;

  beforeAll(async () => {
    t = await createTestApp(backend, { config: { data: { maxUploadBytes: 1_000_000 } } });
    steward = await createPrincipalWithToken(t.db, { name: 'steward', roles: ['data-steward'] });
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    port = (t.app.server.address() as { port: number }).port;
  });
  afterAll(async () => t?.close());

  it('leaves no version, no dataset, no blob and no spooled file', async () => {
    const body = Buffer.from('id,text\n' + Array.from({ length: 20_000 }, (_, i) => `${i},row ${i}\n`).join(''));
    const socket = connect(port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(
      `POST /api/v1/datasets/cut/versions?sourceSystem=s&classification=internal&owner=steward HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
        `Authorization: Bearer ${steward.token}\r\nContent-Type: text/csv\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    socket.write(body.subarray(0, body.length / 2));
    // Wait until the server is spooling the upload, so the cut happens mid-body, not before it.
    await eventually(async () => ((await leftovers(t)).spooled.length > 0 ? true : undefined), 20);
    socket.destroy();
    await eventually(async () => ((await leftovers(t)).spooled.length === 0 ? true : undefined), 20);
    expect(await leftovers(t)).toEqual({ versions: 0, datasets: 0, blobs: 0, spooled: [] });
    // The server is still healthy and takes the next upload.
    const ok = await fetch(`http://127.0.0.1:${port}/api/v1/datasets/cut/versions?sourceSystem=s&classification=internal&owner=steward`, {
      method: 'POST',
      headers: { authorization: `Bearer ${steward.token}`, 'content-type': 'text/csv' },
      body,
    });
    expect(ok.status).toBe(201);
  });

  it('Windows-1252 after 280 KB of UTF-8 (many chunks, spooled) → 400 naming the line of the first such byte, CRLF lines counted once, nothing left', async () => {
    // UTF-8 umlauts first, then a Windows-1252 ä (0xE4) on line 20,002: the spooled file holds the lines before it when it is found.
    const lines = ['Kundennr;Name', ...Array.from({ length: 20_000 }, (_, i) => `${i + 1};Müller`)];
    const body = Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n'), Buffer.from('20001;B\xe4r\r\n', 'latin1')]);
    // The suite's other tests keep what they ingested: nothing may come on top of it.
    const before = await leftovers(t);
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/datasets/latin/versions?sourceSystem=s&classification=internal&owner=steward&delimiter=%3B`, {
      method: 'POST',
      headers: { authorization: `Bearer ${steward.token}`, 'content-type': 'text/csv' },
      body,
    });
    expect(res.status).toBe(400);
    const offset = body.indexOf(0xe4);
    expect(offset).toBeGreaterThan(256 * 1024);
    expect(await res.json()).toMatchObject({
      detail: expect.stringMatching(new RegExp(`^the file is not valid UTF-8: invalid byte sequence on line 20002 \\(byte offset ${offset}\\); it may be in a single-byte encoding such as Windows-1252`)),
      errors: [{ field: 'body', detail: `invalid UTF-8 on line 20002, at byte ${offset}` }],
    });
    expect(await leftovers(t)).toEqual({ ...before, spooled: [] });
    expect((await t.db.query(`SELECT 1 FROM datasets WHERE name = 'latin'`)).rowCount).toBe(0);
  });

  it('a streamed upload (chunked, no length) that grows past data.maxUploadBytes → 413, and the partial spool is removed', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, method: 'POST', path: '/api/v1/datasets/big/versions?sourceSystem=s&classification=internal&owner=steward',
          headers: { authorization: `Bearer ${steward.token}`, 'content-type': 'text/csv', 'transfer-encoding': 'chunked' } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.write('id,text\n');
      for (let i = 0; i < 120; i++) req.write(`${i},${'y'.repeat(10_000)}\n`);
      req.end();
    });
    expect(status).toBe(413);
    await eventually(async () => ((await leftovers(t)).spooled.length === 0 ? true : undefined), 20);
    expect((await t.db.query(`SELECT 1 FROM datasets WHERE name = 'big'`)).rowCount).toBe(0);
  });
});
