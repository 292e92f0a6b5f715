import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrincipalWithToken, createTestApp, type TestApp } from '../support/app.js';
import { eachBackend } from '../support/databases.js';
import { leftovers, upload } from './support.js';

/**
 * Records and headers longer than the reader takes. DuckDB's error for an over-long record also
 * lists the reader's options (`quote = "`), and was once taken for an unterminated quote; a
 * header longer than the sniffed head was reported as no header at all.
 */
describe('over-long CSV records and headers', () => {
  const [backend] = eachBackend();
  let t: TestApp;
  let steward: { id: string; token: string };
  beforeAll(async () => {
    t = await createTestApp(backend!);
    steward = await createPrincipalWithToken(t.db, { name: 'steward', roles: ['data-steward'] });
  });
  afterAll(async () => t?.close());

  const refused = async (body: string, field: string, detail: RegExp): Promise<void> => {
    const res = await upload(t, { name: 'long', body, token: steward.token, query: { classification: 'internal', owner: 'steward' } });
    expect(res.statusCode, res.body).toBe(400);
    const problem = res.json<{ detail: string; errors: Array<{ field: string }> }>();
    expect(problem.detail).toMatch(detail);
    expect(problem.errors.map((e) => e.field)).toEqual([field]);
    expect(await leftovers(t)).toEqual({ versions: 0, datasets: 0, blobs: 0, spooled: [] });
  };

  it('a record longer than 2,000,000 bytes → 400 naming its line and length, not a quote', async () => {
    await refused(`id,text\n1,short\n2,${'x'.repeat(3_000_000)}\n3,short\n`, 'body', /^line 3 is 3000002 bytes long; a CSV record may have at most 2000000 bytes$/);
  });

  it('a header line longer than the 64 KiB head → 400 naming body.header, not "no header"', async () => {
    const header = Array.from({ length: 12_000 }, (_, i) => `column_${i}`).join(',');
    await refused(`${header}\n${Array.from({ length: 12_000 }, () => '1').join(',')}\n`, 'body.header', /^the CSV header line is longer than 65536 bytes/);
  });
});
