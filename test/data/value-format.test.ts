import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DsseEnvelope } from '../../src/core/index.js';
import { verifyDatasetManifest, type DatasetVersionRecord } from '../../src/data/index.js';
import { literal } from '../../src/data/duck.js';
import { DATE_SPECIFIERS, TIME_SPECIFIERS, valueFormatIssues } from '../../src/data/value-format.js';
import { createPrincipalWithToken, createTestApp, type TestApp } from '../support/app.js';
import { eachBackend } from '../support/databases.js';
import { leftovers, scratchDuckSuite, upload } from './support.js';

/** Declared number and date formats: a file exported under a European locale is typed and profiled like one in DuckDB's own syntax. */
describe('declared value formats', () => {
  const session = scratchDuckSuite('value-format');
  const quoted = (line: string): string => line.split(';').map((v) => (v.includes(',') ? `"${v}"` : v)).join(',');
  const GERMAN = ['id;amount;count;booked;at', '1;1.234,56;1.000;31.12.2024;31.12.2024 23:30', '2;-0,5;12;01.02.2024;01.02.2024 08:00', '3;12 345,00;7;1.3.2024;01.03.2024 10:15', '4;;3;;'].map(quoted);
  const GERMAN_VALUES = { decimalSeparator: ',', dateFormat: '%d.%m.%Y', timestampFormat: '%d.%m.%Y %H:%M' } as const;
  const typesOf = (report: { schema: Array<{ name: string; type: string }> }): Record<string, string> => Object.fromEntries(report.schema.map((c) => [c.name, c.type]));

  it('reads decimal commas, grouped digits and day-first dates as numbers, dates and timestamps', async () => {
    const report = await session.quarantineCsv('german', GERMAN, { values: GERMAN_VALUES });
    expect(typesOf(report)).toMatchObject({ amount: 'DOUBLE', count: 'BIGINT', booked: 'DATE', at: 'TIMESTAMP' });
    const col = (name: string) => report.profile.columns.find((c) => c.name === name)!;
    expect(col('amount').numeric).toMatchObject({ min: -0.5, max: 12345 });
    expect(col('count').numeric).toMatchObject({ min: 3, max: 1000 });
    expect(col('booked').temporal).toEqual({ min: '2024-02-01', max: '2024-12-31' });
    expect(col('at').temporal).toEqual({ min: '2024-02-01 08:00:00', max: '2024-12-31 23:30:00' });
    expect(report.checks.find((c) => c.name === 'schema')!.evidence).toMatchObject({ values: GERMAN_VALUES });
  });

  it('undeclared, the same file is text, 1.000 (one to DuckDB, a thousand here) too, and the schema check says so', async () => {
    const report = await session.quarantineCsv('undeclared', GERMAN);
    // schema@3 read count as BIGINT with 1.000 as one: a maximum of 12 where the file holds 1000.
    expect(typesOf(report)).toMatchObject({ amount: 'VARCHAR', count: 'VARCHAR', booked: 'VARCHAR', at: 'VARCHAR' });
    expect(report.profile.columns.find((c) => c.name === 'count')!.numeric).toBeUndefined();
    const schema = report.checks.find((c) => c.name === 'schema')!;
    expect(schema).toMatchObject({ version: 4, status: 'warn', evidence: { readAsText: [{ column: 'amount', looksLike: 'decimal_comma' }, { column: 'count', looksLike: 'ambiguous_point' }, { column: 'booked', looksLike: 'local_date' }] } });
    expect(schema.result).toContain("read as text: amount (numbers with a decimal comma, as 1.234,56: declare decimalSeparator ','); count (numbers whose point may separate thousands, as 1.000 (one, or a thousand): declare decimalSeparator ',' or '.'); booked (dates written day or month first, as 31.12.2025 or 31/12/2025: declare dateFormat, e.g. %d.%m.%Y, %d/%m/%Y or (in US exports) %m/%d/%Y)");
  });

  it('values not written as declared are type violations with row numbers; ISO dates still fit', async () => {
    const lines = ['id,amount,booked', ...Array.from({ length: 400 }, (_, i) => `${i + 1},"${i},5",0${(i % 9) + 1}.01.2024`), '401,1.5,2024-01-31', '402,"1.23,4",31/01/2024', '403,0.123,1.1.2024'];
    const report = await session.quarantineCsv('misfits', lines, { values: { decimalSeparator: ',', dateFormat: '%d.%m.%Y' } });
    expect(typesOf(report)).toMatchObject({ amount: 'DOUBLE', booked: 'DATE' });
    const types = report.checks.find((c) => c.name === 'types')!;
    expect(types.status).toBe('warn');
    expect(types.evidence.columns).toEqual([
      expect.objectContaining({ column: 'amount', expected: 'DOUBLE', violations: 3, rowNumbers: [401, 402, 403] }),
      expect.objectContaining({ column: 'booked', expected: 'DATE', violations: 1, rowNumbers: [402] }),
    ]);
  });

  it('digits grouped by a no-break or narrow no-break space (French exports) read as one number; mixed separators do not', async () => {
    const report = await session.quarantineCsv('french', ['id,montant', ...Array.from({ length: 200 }, (_, i) => `${i},"${i},5"`), '201,"1\u00a0234,5"', '202,"12\u202f345\u202f678,25"', '203,"1.234 567,0"'], { values: { decimalSeparator: ',' } });
    const montant = report.profile.columns.find((c) => c.name === 'montant')!;
    expect(montant).toMatchObject({ type: 'DOUBLE', numeric: { min: 0.5, max: 12345678.25 } });
    expect(report.checks.find((c) => c.name === 'types')!.evidence.columns).toEqual([expect.objectContaining({ column: 'montant', violations: 1, rowNumbers: [203] })]);
  });

  it('a trailing minus, as SAP writes negatives, is a sign under a decimal comma', async () => {
    const report = await session.quarantineCsv('sap', ['id,betrag', ...Array.from({ length: 200 }, (_, i) => `${i},${i + 1}`), '201,"1.234,56-"', '202,7-', '203,+8', '204,-7-'], { values: { decimalSeparator: ',' } });
    const betrag = report.profile.columns.find((c) => c.name === 'betrag')!;
    expect(betrag).toMatchObject({ type: 'BIGINT' });
    expect(report.checks.find((c) => c.name === 'types')!.evidence.columns).toEqual([expect.objectContaining({ column: 'betrag', expected: 'BIGINT', violations: 2, rowNumbers: [201, 204] })]);
    const sap = await session.quarantineCsv('sap-double', ['id,betrag', '1,"1.234,56-"', '2,"0,5"', '3,7-'], { values: { decimalSeparator: ',' } });
    expect(sap.profile.columns.find((c) => c.name === 'betrag')).toMatchObject({ type: 'DOUBLE', numeric: { min: -1234.56, max: 0.5 } });
  });

  it('a declared decimal point reads digits grouped by commas (US and UK exports); undeclared they are text', async () => {
    const US = ['id,amount', ...Array.from({ length: 1000 }, (_, i) => `${i},${i}.5`), '1001,"1,234.50"', '1002,"12,345,678.25"', '1003,"1,234.50-"', '1004,1e3', '1005,"1,23.4"', '1006,"1 234.5"'];
    const report = await session.quarantineCsv('us', US, { values: { decimalSeparator: '.' } });
    expect(report.profile.columns.find((c) => c.name === 'amount')).toMatchObject({ type: 'DOUBLE', numeric: { min: -1234.5, max: 12345678.25 } });
    expect(report.checks.find((c) => c.name === 'types')!.evidence.columns).toEqual([expect.objectContaining({ column: 'amount', expected: 'DOUBLE', violations: 1, rowNumbers: [1005] })]);
    expect(report.checks.find((c) => c.name === 'schema')!.evidence).toMatchObject({ values: { decimalSeparator: '.' } });
    const undeclared = await session.quarantineCsv('us-undeclared', US);
    expect(undeclared.checks.find((c) => c.name === 'types')!.evidence.columns).toEqual([expect.objectContaining({ column: 'amount', violations: 5, rowNumbers: [1001, 1002, 1003, 1005, 1006] })]);
  });

  it('an offset or zone in a declared timestamp format is applied: the instant in UTC', async () => {
    const report = await session.quarantineCsv('zoned', ['id,at', '1,31.12.2024 23:30 +0100', '2,01.07.2024 08:00 -0200'], { values: { timestampFormat: '%d.%m.%Y %H:%M %z' } });
    const at = report.profile.columns.find((c) => c.name === 'at')!;
    expect(at).toMatchObject({ type: 'TIMESTAMP', temporal: { min: '2024-07-01 10:00:00', max: '2024-12-31 22:30:00' } });
  });

  it('refuses declarations that cannot hold, naming the query parameter', () => {
    expect(valueFormatIssues({ decimalSeparator: ',' }, 'jsonl')).toEqual([{ field: 'query.decimalSeparator', message: 'applies to CSV only: JSON Lines values keep their own types' }]);
    expect(valueFormatIssues({ dateFormat: '%d.%m.%Y' }, 'parquet')).toEqual([{ field: 'query.dateFormat', message: 'applies to CSV only: Parquet values keep their own types' }]);
    const field = (f: Parameters<typeof valueFormatIssues>[0]): string[] => valueFormatIssues(f, 'csv').map((i) => `${i.field}: ${i.message.split(' ').slice(0, 3).join(' ')}`);
    expect(field({ dateFormat: '%d.%m.%Q' })).toEqual(['query.dateFormat: unknown strptime specifier']);
    for (const trailing of ['%Y %', '%Y %-']) expect(field({ dateFormat: trailing }), trailing).toEqual(['query.dateFormat: unknown strptime specifier']);
    expect(field({ dateFormat: '%d.%m.%Y %H:%M' })).toEqual(['query.dateFormat: a DATE has']);
    expect(field({ timestampFormat: '%d.%m.%Y' })).toEqual(['query.timestampFormat: a TIMESTAMP has']);
    expect(field({ dateFormat: 'today' })).toEqual(['query.dateFormat: names no part']);
    expect(field({ timestampFormat: '%H:%M' })).toEqual(['query.timestampFormat: names no part']);
    expect(field({ dateFormat: `%d.%m.%Y${'x'.repeat(60)}` })).toEqual(['query.dateFormat: at most 64']);
    expect(field({ dateFormat: '%d\n%m' })).toEqual(['query.dateFormat: at most 64']);
    expect(field({ decimalSeparator: ',', dateFormat: '%-d. %B %Y', timestampFormat: '%Y-%m-%d %I:%M %p %%' })).toEqual([]);
  });

  it('every specifier a declaration may use is one DuckDB parses (a format it refuses would be a 500)', async () => {
    for (const spec of [...DATE_SPECIFIERS, ...TIME_SPECIFIERS]) {
      const format = `%Y ${spec === 'H' || spec === '-H' || spec === 'I' || spec === '-I' ? '' : '%H '}%${spec}`;
      expect(valueFormatIssues({ timestampFormat: format }, 'csv'), format).toEqual([]);
      await expect(session.duck().rows(`SELECT try_strptime('x', ${literal(format)}) AS v`), format).resolves.toEqual([{ v: null }]);
    }
  });
});

describe.each(eachBackend().map((b) => [b.name, b] as const))('declared value formats over HTTP [%s]', (_name, backend) => {
  let t: TestApp;
  let ingester: { id: string; token: string };
  let promoter: { id: string; token: string };
  const LINES = ['id;amount;booked', '1;1.234,56;31.12.2024', '2;-0,5;01.02.2024', '3;7;15.06.2024'].join('\n') + '\n';
  const GERMAN = { delimiter: ';', decimalSeparator: ',', dateFormat: '%d.%m.%Y' };

  beforeAll(async () => {
    t = await createTestApp(backend);
    ingester = await createPrincipalWithToken(t.db, { name: 'ingester', roles: ['data-steward'] });
    promoter = await createPrincipalWithToken(t.db, { name: 'promoter', roles: ['data-steward'] });
  });
  afterAll(async () => t?.close());

  it('refuses a declaration that cannot hold with 400 naming the parameter, and keeps nothing', async () => {
    const cases: Array<[Record<string, string>, string, string]> = [
      [{ decimalSeparator: ';' }, 'text/csv', 'query.decimalSeparator'],
      [{ dateFormat: '%d.%m.%Q' }, 'text/csv', 'query.dateFormat'],
      [{ timestampFormat: '%d.%m.%Y' }, 'text/csv', 'query.timestampFormat'],
      [{ decimalSeparator: ',' }, 'application/x-ndjson', 'query.decimalSeparator'],
      [{ decimalSeparator: '.' }, 'application/x-ndjson', 'query.decimalSeparator'],
    ];
    for (const [query, contentType, field] of cases) {
      const body = contentType === 'text/csv' ? 'id,amount\n1,"1,5"\n' : '{"id": 1}\n';
      const res = await upload(t, { name: 'refused', body, token: ingester.token, contentType, query: { classification: 'internal', owner: 'ingester', ...query } });
      expect(res.statusCode, res.body).toBe(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.json<{ errors: Array<{ field: string }> }>().errors.map((e) => e.field)).toContain(field);
    }
    expect(await leftovers(t)).toEqual({ versions: 0, datasets: 0, blobs: 0, spooled: [] });
  });

  it('records the declaration with the version, and signs it into the manifest with the schema it typed', async () => {
    const res = await upload(t, { name: 'ledger', body: LINES, token: ingester.token, query: { classification: 'internal', owner: 'ingester', ...GERMAN } });
    expect(res.statusCode, res.body).toBe(201);
    const version = res.json<DatasetVersionRecord>();
    expect(version.values).toEqual({ decimalSeparator: ',', dateFormat: '%d.%m.%Y' });
    expect(version.schema.columns.map((c) => c.type)).toEqual(['BIGINT', 'DOUBLE', 'DATE']);
    const promoted = await t.app.inject({ method: 'POST', url: '/api/v1/datasets/ledger/versions/1/promote', headers: { authorization: `Bearer ${promoter.token}` } });
    expect(promoted.statusCode, promoted.body).toBe(200);
    const statement = verifyDatasetManifest(promoted.json<{ manifest: DsseEnvelope }>().manifest, (k) => t.keyring.publicKey(k));
    // The delimiter is signed too: read with ",", the snapshot is one column and none of its counts hold.
    expect(statement.predicate.snapshot).toMatchObject({ format: 'csv', delimiter: ';', rows: version.rowCount });
    expect(statement.predicate).toMatchObject({ values: { decimalSeparator: ',', dateFormat: '%d.%m.%Y' }, schema: { columns: [{ type: 'BIGINT' }, { type: 'DOUBLE' }, { type: 'DATE' }] } });
    // A file without a declaration records none, and its manifest says nothing of it.
    const plain = await upload(t, { name: 'plain', body: 'id,amount\n1,2.5\n', token: ingester.token, query: { classification: 'internal', owner: 'ingester' } });
    expect(plain.json<DatasetVersionRecord>().values).toBeNull();
  });

  it('a next version without the declaration breaks the contract, and the schema check says which declaration read it', async () => {
    const res = await upload(t, { name: 'ledger', body: LINES, token: ingester.token, query: { delimiter: ';' } });
    expect(res.statusCode, res.body).toBe(201);
    const checks = await t.app.inject({ method: 'GET', url: '/api/v1/datasets/ledger/versions/2/checks', headers: { authorization: `Bearer ${ingester.token}` } });
    const schema = checks.json<{ checks: Array<{ name: string; status: string; result: string }> }>().checks.find((c) => c.name === 'schema')!;
    expect(schema.status).toBe('fail');
    expect(schema.result).toBe(
      'breaks the contract of version 1: type changed: amount DOUBLE→VARCHAR, booked DATE→VARCHAR; version 1 was read with decimalSeparator ",", dateFormat "%d.%m.%Y", this one with DuckDB\'s own syntax (no declaration); read as text: amount (numbers with a decimal comma, as 1.234,56: declare decimalSeparator \',\'); booked (dates written day or month first, as 31.12.2025 or 31/12/2025: declare dateFormat, e.g. %d.%m.%Y, %d/%m/%Y or (in US exports) %m/%d/%Y)',
    );
    const again = await upload(t, { name: 'ledger', body: LINES, token: ingester.token, query: GERMAN });
    expect(again.json<DatasetVersionRecord>().blockingFailures).toEqual([]);
  });
});
