import { DuckDBInstance } from '@duckdb/node-api';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrincipalWithToken, createTestApp, type TestApp } from '../support/app.js';
import { eachBackend } from '../support/databases.js';
import { GERMAN_CREDIT, leftovers, upload } from './support.js';

const JSONL = '{"id": 1, "score": 0.5, "ok": true, "city": "Bonn"}\n{"id": 2, "score": 1.5, "ok": false, "city": "Köln"}\n{"id": 3, "score": null, "ok": true, "city": "Bonn"}\n';

describe.each(eachBackend().map((b) => [b.name, b] as const))('JSON Lines and Parquet uploads [%s]', (_name, backend) => {
  let t: TestApp;
  let steward: { id: string; token: string };
  let dir: string;
  let parquet: Buffer;
  const declared = { classification: 'confidential', owner: 'steward' };

  beforeAll(async () => {
    t = await createTestApp(backend);
    steward = await createPrincipalWithToken(t.db, { name: 'steward', roles: ['data-steward'] });
    // German credit as Parquet, written by DuckDB (the fixture is made, not shipped).
    dir = mkdtempSync(join(tmpdir(), 'assay-parquet-'));
    const duck = await DuckDBInstance.create(':memory:');
    const conn = await duck.connect();
    await conn.run(`COPY (SELECT * FROM read_csv('${GERMAN_CREDIT}')) TO '${join(dir, 'gc.parquet')}' (FORMAT parquet)`);
    conn.closeSync();
    duck.closeSync();
    parquet = readFileSync(join(dir, 'gc.parquet'));
  });
  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('ingests JSON Lines with the types of its values', async () => {
    const res = await upload(t, { name: 'cities', body: JSONL, token: steward.token, contentType: 'application/x-ndjson', query: declared });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toMatchObject({
      format: 'jsonl',
      delimiter: null,
      rowCount: 3,
      schema: { columns: [{ name: 'id', type: 'BIGINT' }, { name: 'score', type: 'DOUBLE', nullable: true }, { name: 'ok', type: 'BOOLEAN' }, { name: 'city', type: 'VARCHAR' }] },
    });
  });

  it('ingests JSON Lines with a key really named id_1 beside id (no rename by the reader, so no refusal)', async () => {
    const res = await upload(t, { name: 'suffixed', body: '{"id":1,"id_1":2}\n', token: steward.token, contentType: 'application/x-ndjson', query: declared });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json<{ schema: { columns: Array<{ name: string }> } }>().schema.columns.map((c) => c.name)).toEqual(['id', 'id_1']);
  });

  it('ingests Parquet (declared by content type, or octet-stream with format=parquet)', async () => {
    const res = await upload(t, { name: 'gc-parquet', body: parquet, token: steward.token, contentType: 'application/vnd.apache.parquet', query: declared });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toMatchObject({ format: 'parquet', rowCount: 1000 });
    const again = await upload(t, { name: 'gc-parquet', body: parquet, token: steward.token, contentType: 'application/octet-stream', query: { format: 'parquet' } });
    expect(again.statusCode, again.body).toBe(201);
    // Same bytes, same snapshot: one blob serves both versions.
    expect(again.json<{ snapshot: { sha256: string } }>().snapshot.sha256).toBe(res.json<{ snapshot: { sha256: string } }>().snapshot.sha256);
  });

  it.each([
    ['malformed JSON Lines', 'application/x-ndjson', Buffer.from('{"a": 1}\n{"a": 1,,}\n{"a": 2}\n'), /malformed JSON Lines on line 2/],
    // DuckDB counts records, not lines: the line is the file's, blank lines counted.
    ['malformed JSON Lines after blank lines', 'application/x-ndjson', Buffer.from('{"a": 1}\n\n  \n{"a": 2}\n{"a": 1,,}\n'), /malformed JSON Lines on line 5/],
    ['a truncated Parquet file', 'application/vnd.apache.parquet', Buffer.concat([Buffer.from('PAR1'), Buffer.alloc(64, 7), Buffer.from('PAR1')]), /not a readable Parquet file/],
    ['a Parquet file sent as CSV', 'text/csv', Buffer.concat([Buffer.from('PAR1'), Buffer.alloc(16, 1)]), /content is a Parquet file/],
  ])('%s → 4xx, nothing left behind', async (_what, contentType, body, detail) => {
    const before = await leftovers(t);
    const res = await upload(t, { name: 'broken', body, token: steward.token, contentType, query: declared });
    expect(res.statusCode, res.body).toBeGreaterThanOrEqual(400);
    expect(res.statusCode).toBeLessThan(500);
    expect(res.json<{ detail: string }>().detail).toMatch(detail);
    expect(await leftovers(t)).toEqual(before);
  });
});
