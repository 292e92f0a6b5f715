import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
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

/** Runs `sql` in a throwaway DuckDB ($dir: the suite's scratch directory) and returns its rows. */
async function duckRows(sql: string): Promise<Array<Record<string, unknown>>> {
  const duck = await DuckDBInstance.create(':memory:');
  const conn = await duck.connect();
  try {
    return (await conn.runAndReadAll(sql)).getRowObjectsJS() as Array<Record<string, unknown>>;
  } finally {
    conn.closeSync();
    duck.closeSync();
  }
}

/**
 * A file with its own `rowid` column (Oracle exports carry ROWID) hides the row id of DuckDB's
 * table: record numbers and the certified Parquet's order must still be the file's, whatever
 * that column holds (text made every ingest a 500; integers made wrong record numbers).
 */
describe.each(eachBackend().map((b) => [b.name, b] as const))('a column called rowid [%s]', (_name, backend) => {
  let t: TestApp;
  let ingester: Principal;
  let promoter: Principal;
  let dir: string;
  const declared = { classification: 'internal', owner: 'ingester', consentColumn: 'consent' };

  beforeAll(async () => {
    t = await createTestApp(backend);
    ingester = await createPrincipalWithToken(t.db, { name: 'ingester', roles: ['data-steward'] });
    promoter = await createPrincipalWithToken(t.db, { name: 'promoter', roles: ['data-steward'] });
    dir = mkdtempSync(join(tmpdir(), 'assay-rowid-'));
  });
  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Promotes version 1 of `name` and reads its certified Parquet back in file order. */
  async function certifiedRows(name: string): Promise<Array<Record<string, unknown>>> {
    const res = await t.app.inject({ method: 'POST', url: `/api/v1/datasets/${name}/versions/1/promote`, headers: { authorization: `Bearer ${promoter.token}` } });
    expect(res.statusCode, res.body).toBe(200);
    const path = join(dir, `${name}.parquet`);
    await pipeline(await t.deps.blobs.get(res.json<{ version: DatasetVersionRecord }>().version.certified!.parquetSha256), createWriteStream(path));
    return duckRows(`SELECT * FROM read_parquet('${path}')`);
  }

  it('CSV with a text ROWID column: ingested, the withdrawn record is number 2, and the certified rows keep file order', async () => {
    const res = await upload(t, { name: 'oracle-export', body: 'ROWID,consent\nAAAc,yes\nAAAb,no\nAAAa,yes\n', token: ingester.token, query: declared });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json<DatasetVersionRecord>().exclusions).toMatchObject([{ reason: 'consent_withdrawn', rowCount: 1, rowNumbers: [2] }]);
    expect(await certifiedRows('oracle-export')).toEqual([
      { ROWID: 'AAAc', consent: 'yes' },
      { ROWID: 'AAAa', consent: 'yes' },
    ]);
  });

  it('Parquet with an integer rowid column: record numbers count records, not its values', async () => {
    const path = join(dir, 'upload.parquet');
    await duckRows(`COPY (SELECT * FROM (VALUES (300, 'yes'), (200, 'no'), (100, 'yes')) v(rowid, consent)) TO '${path}' (FORMAT parquet)`);
    const res = await upload(t, { name: 'numbered', body: readFileSync(path), contentType: 'application/vnd.apache.parquet', token: ingester.token, query: declared });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json<DatasetVersionRecord>().exclusions).toMatchObject([{ reason: 'consent_withdrawn', rowCount: 1, rowNumbers: [2] }]);
    expect((await certifiedRows('numbered')).map((r) => r.rowid)).toEqual([300, 100]);
  });

  it('columns named like the ones the quarantine derives beside the file\'s, in another case (__SHARED0, __RECORD), are profiled as any other', async () => {
    const res = await upload(t, { name: 'derived-names', body: '__SHARED0,__Shared1,__RECORD\n1.5,2,9\n1.5,2,9\n2.5,3,7\n', token: ingester.token, query: { classification: 'internal', owner: 'ingester' } });
    expect(res.statusCode, res.body).toBe(201);
    const profile = await t.app.inject({ method: 'GET', url: '/api/v1/datasets/derived-names/versions/1/profile', headers: { authorization: `Bearer ${ingester.token}` } });
    const columns = profile.json<{ columns: Array<{ name: string; numeric?: { min: number; max: number } }> }>().columns;
    expect(columns.map((c) => [c.name, c.numeric?.min, c.numeric?.max])).toEqual([
      ['__SHARED0', 1.5, 2.5],
      ['__Shared1', 2, 3],
      ['__RECORD', 7, 9],
    ]);
    const checks = await t.app.inject({ method: 'GET', url: '/api/v1/datasets/derived-names/versions/1/checks', headers: { authorization: `Bearer ${ingester.token}` } });
    expect(checks.json<{ checks: Array<{ name: string; result: string }> }>().checks.find((c) => c.name === 'duplicates')!.result).toMatch(/^1 records repeat an earlier record/);
  });
});
