import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatasetVersionRecord } from '../../src/data/index.js';
import { INFERENCE_SAMPLE_ROWS } from '../../src/data/inspect.js';
import type { DatasetProfile } from '../../src/data/profile.js';
import { createPrincipalWithToken, createTestApp, type TestApp } from '../support/app.js';
import { eachBackend } from '../support/databases.js';
import { scratchDuckSuite, upload } from './support.js';

/**
 * A European export writes a thousand as `1.000`, which DuckDB reads as one: undeclared, a
 * column whose points may separate thousands is no number (schema@4), unless another value
 * settles them as decimal points; schema@3 profiled `100.000` as 100.
 */
describe.each(eachBackend().map((b) => [b.name, b] as const))('a point that may separate thousands [%s]', (_name, backend) => {
  let t: TestApp;
  let steward: { id: string; token: string };
  // As SAP and Excel write it on Windows: a byte order mark, CRLF, `;`, umlauts and spaces in the header.
  const SAP = Buffer.concat([
    Buffer.from([0xef, 0xbb, 0xbf]),
    Buffer.from(['Kundennr;Betrag (EUR);Kündigungsdatum;Gewicht', '100001;1.000;31.12.2025;0.250', '100002;2.500;15.01.2026;1.085', '100003;100.000;01.03.2026;12.500', '100004;12.750;;2.000'].join('\r\n') + '\r\n'),
  ]);

  beforeAll(async () => {
    t = await createTestApp(backend);
    steward = await createPrincipalWithToken(t.db, { name: 'stella', roles: ['data-steward'] });
  });
  afterAll(async () => t?.close());

  const profileOf = async (name: string, version: number): Promise<DatasetProfile> =>
    (await t.app.inject({ method: 'GET', url: `/api/v1/datasets/${name}/versions/${version}/profile`, headers: { authorization: `Bearer ${steward.token}` } })).json<DatasetProfile>();

  it('undeclared, 1.000 and 100.000 are text with a warning that says what to declare; a column whose 0.250 settles its points stays a number', async () => {
    const res = await upload(t, { name: 'sap', body: SAP, token: steward.token, query: { classification: 'internal', owner: 'stella', delimiter: ';' } });
    expect(res.statusCode, res.body).toBe(201);
    const version = res.json<DatasetVersionRecord>();
    expect(version.schema.columns.map((c) => [c.name, c.type])).toEqual([
      ['Kundennr', 'BIGINT'],
      ['Betrag (EUR)', 'VARCHAR'],
      ['Kündigungsdatum', 'VARCHAR'],
      ['Gewicht', 'DOUBLE'],
    ]);
    const profile = await profileOf('sap', 1);
    const column = (name: string) => profile.columns.find((c) => c.name === name)!;
    expect(column('Betrag (EUR)').numeric).toBeUndefined();
    expect(column('Gewicht').numeric).toMatchObject({ min: 0.25, max: 12.5 });
    const checks = (await t.app.inject({ method: 'GET', url: '/api/v1/datasets/sap/versions/1/checks', headers: { authorization: `Bearer ${steward.token}` } })).json<{ checks: Array<{ name: string; version: number; status: string; result: string; evidence: Record<string, unknown> }> }>().checks;
    const schema = checks.find((c) => c.name === 'schema')!;
    expect(schema).toMatchObject({ version: 4, status: 'warn', evidence: { readAsText: [{ column: 'Betrag (EUR)', looksLike: 'ambiguous_point' }, { column: 'Kündigungsdatum', looksLike: 'local_date' }] } });
    expect(schema.result).toContain("read as text: Betrag (EUR) (numbers whose point may separate thousands, as 1.000 (one, or a thousand): declare decimalSeparator ',' or '.')");
  });

  it('JSON Lines strings such as "1.000" are no numbers either, and get no hint: a declaration applies to CSV only', async () => {
    const body = ['{"id":1,"Menge":"1.000","Betrag":"1.234,56"}', '{"id":2,"Menge":"2.500","Betrag":"12,50"}'].join('\n') + '\n';
    const res = await upload(t, { name: 'jsonl-strings', body, token: steward.token, contentType: 'application/x-ndjson', query: { classification: 'internal', owner: 'stella' } });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json<DatasetVersionRecord>().schema.columns.map((c) => [c.name, c.type])).toEqual([
      ['id', 'BIGINT'],
      ['Menge', 'VARCHAR'],
      ['Betrag', 'VARCHAR'],
    ]);
    const checks = (await t.app.inject({ method: 'GET', url: '/api/v1/datasets/jsonl-strings/versions/1/checks', headers: { authorization: `Bearer ${steward.token}` } })).json<{ checks: Array<{ name: string; status: string; evidence: Record<string, unknown> }> }>().checks;
    expect(checks.find((c) => c.name === 'schema')).toMatchObject({ status: 'pass', evidence: { readAsText: [] } });
  });

  it('declared, the same file reads 100.000 as a hundred thousand under a decimal comma, and as a hundred under a point', async () => {
    for (const [decimalSeparator, type, max] of [
      [',', 'BIGINT', 100_000],
      ['.', 'DOUBLE', 100],
    ] as const) {
      const res = await upload(t, { name: 'sap', body: SAP, token: steward.token, query: { delimiter: ';', decimalSeparator } });
      expect(res.statusCode, res.body).toBe(201);
      const version = res.json<DatasetVersionRecord>();
      expect(version.schema.columns.find((c) => c.name === 'Betrag (EUR)')).toMatchObject({ type });
      const profile = await profileOf('sap', version.version);
      expect(profile.columns.find((c) => c.name === 'Betrag (EUR)')!.numeric, decimalSeparator).toMatchObject({ max });
    }
  });
});

describe('a point that may separate thousands, beyond the sample', () => {
  const session = scratchDuckSuite('thousands-point');
  const integers = Array.from({ length: INFERENCE_SAMPLE_ROWS }, (_, i) => `${i + 1},${(i % 900) + 1}`);

  it('a few 1.000 after the sampled integers are no integers: types@3 reports them by row', async () => {
    const report = await session.quarantineCsv('few', ['id,amount', ...integers, '50001,1.000', '50002,7', '50003,12.000']);
    expect(report.schema.find((c) => c.name === 'amount')).toMatchObject({ type: 'BIGINT' });
    expect(report.checks.find((c) => c.name === 'types')).toMatchObject({ version: 3, status: 'warn', evidence: { columns: [{ column: 'amount', expected: 'BIGINT', violations: 2, rowNumbers: [50_001, 50_003] }] } });
  });

  it('many make the column text, inferred again from every record, with the warning', async () => {
    const thousands = Array.from({ length: 1_000 }, (_, i) => `${50_001 + i},${(i % 9) + 1}.000`);
    const report = await session.quarantineCsv('many', ['id,amount', ...integers, ...thousands]);
    expect(report.schema.find((c) => c.name === 'amount')).toMatchObject({ type: 'VARCHAR' });
    expect(report.checks.find((c) => c.name === 'schema')).toMatchObject({ version: 4, status: 'warn', evidence: { readAsText: [{ column: 'amount', looksLike: 'ambiguous_point' }] } });
    expect(report.profile.columns.find((c) => c.name === 'amount')!.numeric).toBeUndefined();
  });
});
