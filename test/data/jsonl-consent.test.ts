import { describe, expect, it } from 'vitest';
import type { DatasetVersionRecord } from '../../src/data/index.js';
import { eachBackend } from '../support/databases.js';
import { upload, withIngesterAndPromoter } from './support.js';

/**
 * A JSON Lines key holding objects or arrays in some records and strings in others is a JSON
 * column to DuckDB, whose strings cast to text with their quotes: consent `"yes"` and residency
 * `"DE"` were unrecognised and every row excluded. consent@3 and residency@3 read them as the
 * strings they are, at ingest and again at promotion.
 */
describe.each(eachBackend().map((b) => [b.name, b] as const))('consent and residency in a JSON column [%s]', (_name, backend) => {
  const suite = withIngesterAndPromoter(backend);

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
    const res = await upload(suite.t, { name: 'mixed', body: `${body}\n`, token: suite.ingester.token, contentType: 'application/x-ndjson', query });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json<DatasetVersionRecord>().exclusions).toEqual([
      { reason: 'consent_unrecognised', rule: 'consent@4', rowCount: 2, rowNumbers: [1, 2] },
      { reason: 'consent_withdrawn', rule: 'consent@4', rowCount: 1, rowNumbers: [5] },
      { reason: 'residency_outside', rule: 'residency@3', rowCount: 1, rowNumbers: [7] },
      { reason: 'residency_unrecognised', rule: 'residency@3', rowCount: 2, rowNumbers: [4, 6] },
    ]);
    expect(await suite.certify('mixed', 'SELECT CAST(id AS INTEGER) AS id FROM $file')).toEqual([{ id: 3 }]);
  });
});
