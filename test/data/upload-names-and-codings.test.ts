import { DuckDBInstance } from '@duckdb/node-api';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createPrincipalWithToken, createTestApp, type TestApp } from '../support/app.js';
import { eachBackend } from '../support/databases.js';
import { leftovers, upload } from './support.js';

/**
 * Uploads whose column names DuckDB would invent or no one could tell apart: each a clear 4xx
 * naming the problem that leaves nothing new behind (DESIGN invariant 6), where they were
 * accepted under an invented name.
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
});
