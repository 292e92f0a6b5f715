import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_SUBJECT_ID_LENGTH, type DatasetVersionRecord, type ErasureRequestRecord } from '../../src/data/index.js';
import { createPrincipalWithToken, createTestApp, type TestApp } from '../support/app.js';
import { eachBackend } from '../support/databases.js';

/**
 * Erasure requests over the real HTTP server on a loopback port, for subject ids as files of
 * every format really hold them: the officer types the id as the data subject's letter gives
 * it, and the request must find every version the subject is in however the file spelled it.
 */

type Principal = { id: string; token: string };

describe.each(eachBackend().map((b) => [b.name, b] as const))('erasure requests find subject ids as files hold them [%s]', (_name, backend) => {
  let t: TestApp;
  let base: string;
  let dir: string;
  let scientist: Principal;
  let steward: Principal;
  let officer: Principal;

  /** Ingests `body` over HTTP as the next version of `name`, with `customer_id` as its subject id column. */
  async function ingest(name: string, body: string | Buffer, contentType: string, query: Record<string, string> = {}): Promise<DatasetVersionRecord> {
    const q = new URLSearchParams({ sourceSystem: 'core-banking', classification: 'internal', owner: steward.id, subjectIdColumn: 'customer_id', ...query });
    const res = await fetch(`${base}/api/v1/datasets/${name}/versions?${q.toString()}`, { method: 'POST', headers: { authorization: `Bearer ${scientist.token}`, 'content-type': contentType }, body });
    const text = await res.text();
    expect(res.status, text).toBe(201);
    return JSON.parse(text) as DatasetVersionRecord;
  }
  /** Files a request for `subjectId` and returns the datasets it found the subject in. */
  async function foundIn(subjectId: string): Promise<string[]> {
    const res = await fetch(`${base}/api/v1/erasure-requests`, {
      method: 'POST',
      headers: { authorization: `Bearer ${officer.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ subjectId, reason: 'Art. 17(1)(b), ticket DSR-90' }),
    });
    const text = await res.text();
    expect(res.status, text).toBe(201);
    return (JSON.parse(text) as ErasureRequestRecord).datasetVersions.map((v) => v.dataset);
  }

  beforeAll(async () => {
    t = await createTestApp(backend);
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    dir = mkdtempSync(join(tmpdir(), 'assay-erasure-ids-'));
    scientist = await createPrincipalWithToken(t.db, { name: 'sam-scientist', roles: ['data-scientist'] });
    steward = await createPrincipalWithToken(t.db, { name: 'stella-steward', roles: ['data-steward'] });
    officer = await createPrincipalWithToken(t.db, { name: 'carla-compliance', roles: ['compliance-officer'] });
  });
  afterAll(async () => {
    await t?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('finds a numeric id held as a float: Parquet from pandas (float64 once an id is missing) and a JSON Lines key with one 1e3', async () => {
    // pandas writes an integer column holding a missing value as float64: DuckDB reads 1001.0.
    const duck = await DuckDBInstance.create(':memory:');
    const conn = await duck.connect();
    const path = join(dir, 'loans.parquet');
    await conn.run(`COPY (SELECT * FROM (VALUES (1001.0::DOUBLE, 10), (NULL, 20), (1002.0::DOUBLE, 30)) AS t(customer_id, amount)) TO '${path}' (FORMAT parquet)`);
    conn.closeSync();
    duck.closeSync();
    const parquet = await ingest('loans-parquet', readFileSync(path), 'application/vnd.apache.parquet');
    expect(parquet.schema.columns[0]).toMatchObject({ name: 'customer_id', type: 'DOUBLE' });
    const jsonl = await ingest('loans-jsonl', '{"customer_id": 1001, "amount": 1}\n{"customer_id": 1e3, "amount": 2}\n', 'application/x-ndjson');
    expect(jsonl.schema.columns[0]).toMatchObject({ name: 'customer_id', type: 'DOUBLE' });
    await ingest('loans-csv', 'customer_id,amount\n1001,5\n', 'text/csv');

    // An Oracle NUMBER exported through Spark is DECIMAL(38,10): DuckDB writes 1001.0000000000.
    const decimal = join(dir, 'decimal.parquet');
    const duck2 = await DuckDBInstance.create(':memory:');
    const conn2 = await duck2.connect();
    await conn2.run(`COPY (SELECT * FROM (VALUES (1001::DECIMAL(38,10), 1::FLOAT), (12.5::DECIMAL(38,10), 2::FLOAT)) AS t(customer_id, amount)) TO '${decimal}' (FORMAT parquet)`);
    await conn2.run(`COPY (SELECT amount AS customer_id, customer_id AS amount FROM '${decimal}') TO '${join(dir, 'float.parquet')}' (FORMAT parquet)`);
    conn2.closeSync();
    duck2.closeSync();
    const dec = await ingest('loans-decimal', readFileSync(decimal), 'application/vnd.apache.parquet');
    expect(dec.schema.columns[0]).toMatchObject({ name: 'customer_id' });
    await ingest('loans-float', readFileSync(join(dir, 'float.parquet')), 'application/vnd.apache.parquet');
    expect(await foundIn('1001')).toEqual(['loans-csv', 'loans-decimal', 'loans-jsonl', 'loans-parquet']);
    expect(await foundIn('2')).toEqual(['loans-float']);
    // A fraction is found as DuckDB writes it at the column's scale.
    expect(await foundIn('12.5000000000')).toEqual(['loans-decimal']);
    expect(await foundIn(' 1000 ')).toEqual(['loans-jsonl']);
    // Another number, or one with other digits, is another subject.
    expect(await foundIn('1003')).toEqual([]);
    expect(await foundIn('10010')).toEqual([]);
  });

  it('finds an id with accents whichever Unicode spelling the file and the request use (NFC or NFD), and refuses a reason quoting it in the other', async () => {
    // One system exports decomposed (e + U+0308, as macOS file names are), another composed.
    await ingest('patients-nfd', 'customer_id,amount\nZoe\u0308-Mu\u0308ller,1\nAnna,2\n', 'text/csv');
    await ingest('patients-nfc', '{"customer_id": "  Zo\u00eb-M\u00fcller", "amount": 3}\n', 'application/x-ndjson');
    expect(await foundIn('Zo\u00eb-M\u00fcller')).toEqual(['patients-nfc', 'patients-nfd']);
    expect(await foundIn(' ZOe\u0308-Mu\u0308LLER')).toEqual(['patients-nfc', 'patients-nfd']);
    expect(await foundIn('Zoe-Muller')).toEqual([]);

    const quoting = await fetch(`${base}/api/v1/erasure-requests`, {
      method: 'POST',
      headers: { authorization: `Bearer ${officer.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ subjectId: 'Zo\u00eb-M\u00fcller', reason: 'Art. 17(1)(b): letter from Zoe\u0308-Mu\u0308ller' }),
    });
    expect(quoting.status).toBe(400);
    expect(((await quoting.json()) as { errors: Array<{ field: string }> }).errors.map((e) => e.field)).toEqual(['body.reason']);
  });

  it('finds an IBAN however the file and the request space it, and refuses a reason quoting it in another spacing', async () => {
    await ingest('accounts-jsonl', '{"customer_id": "DE89 3704 0044 0532 0130 00", "amount": 1}\n{"customer_id": "FR14 2004 1010 0505 0001 3M02 606", "amount": 2}\n', 'application/x-ndjson');
    await ingest('accounts-csv', 'customer_id,amount\nde89370400440532013000,3\n', 'text/csv');
    expect(await foundIn('DE89370400440532013000')).toEqual(['accounts-csv', 'accounts-jsonl']);
    expect(await foundIn('DE89 3704 0044 0532 0130 00')).toEqual(['accounts-csv', 'accounts-jsonl']);
    expect(await foundIn('fr1420041010050500013m02606')).toEqual(['accounts-jsonl']);
    expect(await foundIn('DE89 3704 0044 0532 0130 01')).toEqual([]);

    const request = (subjectId: string, reason: string) =>
      fetch(`${base}/api/v1/erasure-requests`, { method: 'POST', headers: { authorization: `Bearer ${officer.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ subjectId, reason }) });
    for (const [subjectId, reason] of [
      ['DE89 3704 0044 0532 0130 00', 'Art. 17(1)(b): letter about account DE89370400440532013000'],
      ['DE89370400440532013000', 'Art. 17(1)(b): letter about account de89 3704 0044 0532 0130 00.'],
      ['DE89370400440532013000', 'Art. 17(1)(b): letter about account DE89\u00a03704\u30000044 0532 0130 00'],
    ] as const) {
      const quoting = await request(subjectId, reason);
      expect(quoting.status, reason).toBe(400);
      expect(((await quoting.json()) as { errors: Array<{ field: string; detail: string }> }).errors).toEqual([
        expect.objectContaining({ field: 'body.reason', detail: expect.stringContaining('must not contain the subject id') }),
      ]);
    }
    // Another account is no quote.
    expect((await request('DE89370400440532013000', 'Art. 17(1)(b): not DE89370400440532013001')).status).toBe(201);
  });

  it('finds an id longer than a thousand characters (a composite key, a URL), and refuses one past the limit naming body.subjectId', async () => {
    const long = `https://crm.example.com/customers/${'k'.repeat(3000)}`;
    await ingest('crm-export', `customer_id,amount\n${long},1\nshort,2\n`, 'text/csv');
    expect(await foundIn(long)).toEqual(['crm-export']);
    expect(await foundIn(`${long}x`)).toEqual([]);

    const tooLong = await fetch(`${base}/api/v1/erasure-requests`, {
      method: 'POST',
      headers: { authorization: `Bearer ${officer.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ subjectId: 'k'.repeat(MAX_SUBJECT_ID_LENGTH + 1), reason: 'Art. 17(1)(b), ticket DSR-91' }),
    });
    expect(tooLong.status).toBe(400);
    expect(((await tooLong.json()) as { errors: Array<{ field: string }> }).errors.map((e) => e.field)).toEqual(['body.subjectId']);
  });

  it('finds a subject whose only rows were excluded (consent withdrawn): the raw snapshot, which the version keeps, still holds them', async () => {
    const v = await ingest('consents', 'customer_id,consent\nW-1,no\nW-2,yes\nW-3,yes\n', 'text/csv', { purpose: 'credit-scoring', consentColumn: 'consent' });
    const promoted = await fetch(`${base}/api/v1/datasets/consents/versions/1/promote`, { method: 'POST', headers: { authorization: `Bearer ${steward.token}` } });
    const certified = (await promoted.json()) as { version: DatasetVersionRecord };
    expect(promoted.status).toBe(200);
    expect(certified.version).toMatchObject({ id: v.id, state: 'certified', rowCount: 3, certified: { rows: 2 }, exclusions: [{ reason: 'consent_withdrawn', rowCount: 1 }] });
    expect(await foundIn('W-1')).toEqual(['consents']);
  });
});
