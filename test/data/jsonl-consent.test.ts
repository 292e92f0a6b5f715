import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatasetVersionRecord } from '../../src/data/index.js';
import { createPrincipalWithToken, createTestApp, type TestApp } from '../support/app.js';
import { eachBackend } from '../support/databases.js';
import { upload } from './support.js';

type Principal = { id: string; token: string };

/** The `id` column of a Parquet file, in file order, read in a throwaway DuckDB. */
async function parquetIds(path: string): Promise<number[]> {
  const duck = await DuckDBInstance.create(':memory:');
  const conn = await duck.connect();
  try {
    return ((await conn.runAndReadAll(`SELECT id FROM read_parquet('${path}')`)).getRowObjectsJS() as Array<{ id: bigint }>).map((r) => Number(r.id));
  } finally {
    conn.closeSync();
    duck.closeSync();
  }
}

/**
 * A JSON Lines key holding objects or arrays in some records and strings in others is a JSON
 * column to DuckDB, whose strings cast to text with their quotes: consent `"yes"` and residency
 * `"DE"` were unrecognised and every row excluded. consent@3 and residency@3 read them as the
 * strings they are, at ingest and again at promotion.
 */
describe.each(eachBackend().map((b) => [b.name, b] as const))('consent and residency in a JSON column [%s]', (_name, backend) => {
  let t: TestApp;
  let ingester: Principal;
  let promoter: Principal;
  let dir: string;

  beforeAll(async () => {
    t = await createTestApp(backend);
    ingester = await createPrincipalWithToken(t.db, { name: 'ingester', roles: ['data-steward'] });
    promoter = await createPrincipalWithToken(t.db, { name: 'promoter', roles: ['data-steward'] });
    dir = mkdtempSync(join(tmpdir(), 'assay-jsonl-consent-'));
  });
  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('rows whose JSON string grants consent and names a country inside the residency are certified', async () => {
    const body = [
      '{"id":1,"consent":{"a":1},"country":"DE"}',
      '{"id":2,"consent":[1],"country":"DE"}',
      '{"id":3,"consent":"yes","country":"de"}',
      '{"id":4,"consent":"Ja","country":["DE"]}',
      '{"id":5,"consent":"no","country":"FR"}',
      '{"id":6,"consent":"yes","country":{"c":"US"}}',
      '{"id":7,"consent":"yes","country":"US"}',
    ].join('\n');
    const query = { classification: 'internal', owner: 'ingester', consentColumn: 'consent', residency: 'EU', residencyColumn: 'country' };
    const res = await upload(t, { name: 'mixed', body: `${body}\n`, token: ingester.token, contentType: 'application/x-ndjson', query });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json<DatasetVersionRecord>().exclusions).toEqual([
      { reason: 'consent_unrecognised', rule: 'consent@3', rowCount: 2, rowNumbers: [1, 2] },
      { reason: 'consent_withdrawn', rule: 'consent@3', rowCount: 1, rowNumbers: [5] },
      { reason: 'residency_outside', rule: 'residency@3', rowCount: 1, rowNumbers: [7] },
      { reason: 'residency_unrecognised', rule: 'residency@3', rowCount: 2, rowNumbers: [4, 6] },
    ]);
    const promoted = await t.app.inject({ method: 'POST', url: '/api/v1/datasets/mixed/versions/1/promote', headers: { authorization: `Bearer ${promoter.token}` } });
    expect(promoted.statusCode, promoted.body).toBe(200);
    const path = join(dir, 'mixed.parquet');
    await pipeline(await t.deps.blobs.get(promoted.json<{ version: DatasetVersionRecord }>().version.certified!.parquetSha256), createWriteStream(path));
    expect(await parquetIds(path)).toEqual([3]);
  });
});
