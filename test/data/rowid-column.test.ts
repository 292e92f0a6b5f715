import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { DatasetVersionRecord } from '../../src/data/index.js';
import { eachBackend } from '../support/databases.js';
import { duckRows, upload, withIngesterAndPromoter } from './support.js';

/**
 * A file with its own `rowid` column (Oracle exports carry ROWID) hides the row id of DuckDB's
 * table: record numbers and the certified Parquet's order must still be the file's, whatever
 * that column holds (text made every ingest a 500; integers made wrong record numbers).
 */
describe.each(eachBackend().map((b) => [b.name, b] as const))('a column called rowid [%s]', (_name, backend) => {
  const suite = withIngesterAndPromoter(backend);
  const dir = mkdtempSync(join(tmpdir(), 'assay-rowid-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const declared = { classification: 'internal', owner: 'ingester', consentColumn: 'consent' };

  it('CSV with a text ROWID column: ingested, the withdrawn record is number 2, and the certified rows keep file order', async () => {
    const res = await upload(suite.t, { name: 'oracle-export', body: 'ROWID,consent\nAAAc,yes\nAAAb,no\nAAAa,yes\n', token: suite.ingester.token, query: declared });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json<DatasetVersionRecord>().exclusions).toMatchObject([{ reason: 'consent_withdrawn', rowCount: 1, rowNumbers: [2] }]);
    expect(await suite.certify('oracle-export')).toEqual([
      { ROWID: 'AAAc', consent: 'yes' },
      { ROWID: 'AAAa', consent: 'yes' },
    ]);
  });

  it('Parquet with an integer rowid column: record numbers count records, not its values', async () => {
    const path = join(dir, 'upload.parquet');
    await duckRows(`COPY (SELECT * FROM (VALUES (300, 'yes'), (200, 'no'), (100, 'yes')) v(rowid, consent)) TO '${path}' (FORMAT parquet)`);
    const res = await upload(suite.t, { name: 'numbered', body: readFileSync(path), contentType: 'application/vnd.apache.parquet', token: suite.ingester.token, query: declared });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json<DatasetVersionRecord>().exclusions).toMatchObject([{ reason: 'consent_withdrawn', rowCount: 1, rowNumbers: [2] }]);
    expect((await suite.certify('numbered')).map((r) => r.rowid)).toEqual([300, 100]);
  });

  it('columns named like the ones the quarantine derives beside the file\'s, in another case (__SHARED0, __RECORD), are profiled as any other', async () => {
    const res = await upload(suite.t, { name: 'derived-names', body: '__SHARED0,__Shared1,__RECORD\n1.5,2,9\n1.5,2,9\n2.5,3,7\n', token: suite.ingester.token, query: { classification: 'internal', owner: 'ingester' } });
    expect(res.statusCode, res.body).toBe(201);
    const profile = await suite.t.app.inject({ method: 'GET', url: '/api/v1/datasets/derived-names/versions/1/profile', headers: { authorization: `Bearer ${suite.ingester.token}` } });
    const columns = profile.json<{ columns: Array<{ name: string; numeric?: { min: number; max: number } }> }>().columns;
    expect(columns.map((c) => [c.name, c.numeric?.min, c.numeric?.max])).toEqual([
      ['__SHARED0', 1.5, 2.5],
      ['__Shared1', 2, 3],
      ['__RECORD', 7, 9],
    ]);
    const checks = await suite.t.app.inject({ method: 'GET', url: '/api/v1/datasets/derived-names/versions/1/checks', headers: { authorization: `Bearer ${suite.ingester.token}` } });
    expect(checks.json<{ checks: Array<{ name: string; result: string }> }>().checks.find((c) => c.name === 'duplicates')!.result).toMatch(/^1 record repeats an earlier record/);
  });
});
