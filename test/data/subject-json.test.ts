import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrincipalWithToken, createTestApp, type TestApp } from '../support/app.js';
import { eachBackend } from '../support/databases.js';
import { upload } from './support.js';

/**
 * A JSON Lines key whose ids are strings in some records and numbers in others is a JSON
 * column: its string ids were indexed with their quotes, so an erasure request for the subject
 * found nothing (GDPR Art. 17). Each id is now found as written.
 */
describe.each(eachBackend().map((b) => [b.name, b] as const))('subject ids of a JSON column [%s]', (_name, backend) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(backend);
  });
  afterAll(async () => t?.close());

  it('an erasure request finds the version by a string id and by a number id of the same key', async () => {
    const steward = await createPrincipalWithToken(t.db, { name: 'steward', roles: ['data-steward'] });
    const officer = await createPrincipalWithToken(t.db, { name: 'officer', roles: ['compliance-officer'] });
    const body = '{"cid": "A-77", "amount": 1}\n{"cid": 123, "amount": 2}\n';
    const res = await upload(t, { name: 'mixed-ids', body, contentType: 'application/x-ndjson', token: steward.token, query: { classification: 'internal', owner: 'steward', subjectIdColumn: 'cid' } });
    expect(res.statusCode, res.body).toBe(201);
    for (const subjectId of ['A-77', 'a-77', '123']) {
      const filed = await t.app.inject({
        method: 'POST',
        url: '/api/v1/erasure-requests',
        headers: { authorization: `Bearer ${officer.token}`, 'content-type': 'application/json' },
        payload: JSON.stringify({ subjectId, reason: 'Art. 17 request by letter' }),
      });
      expect(filed.statusCode, filed.body).toBe(201);
      expect(filed.json<{ datasetVersions: Array<{ dataset: string; version: number }> }>().datasetVersions, subjectId).toMatchObject([{ dataset: 'mixed-ids', version: 1 }]);
    }
  });
});
