import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createPrincipalWithToken } from '../support/app.js';
import { eachBackend } from '../support/databases.js';
import { leftovers, upload, withIngesterAndPromoter } from './support.js';

/**
 * JSON Lines that Windows tools write with a UTF-8 byte order mark (EF BB BF) first, which
 * DuckDB's JSON reader refuses ("BOM is not supported"). It is read as CSV with a BOM is: the
 * snapshot keeps the bytes as sent, hashed as sent; only reading skips the mark, so records,
 * subject ids, certified rows and the lines refusals name are those of the file without it.
 */
describe.each(eachBackend().map((b) => [b.name, b] as const))('JSON Lines with a byte order mark [%s]', (_name, backend) => {
  const suite = withIngesterAndPromoter(backend);
  const declared = { classification: 'internal', owner: 'ingester' };
  const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
  const withBom = (text: string): Buffer => Buffer.concat([BOM, Buffer.from(text)]);
  const jsonl = (name: string, body: Buffer, query: Record<string, string> = {}): ReturnType<typeof upload> =>
    upload(suite.t, { name, body, token: suite.ingester.token, contentType: 'application/x-ndjson', query: { ...declared, ...query } });

  it('is accepted: the snapshot is the bytes as sent, the first key is not renamed, subject ids are indexed and the certified rows are the records', async () => {
    const body = withBom('{"cid":"A-77","v":"a"}\n{"cid":"B-8","v":"b"}\n');
    const res = await jsonl('bom', body, { subjectIdColumn: 'cid' });
    expect(res.statusCode, res.body).toBe(201);
    const version = res.json<{ snapshot: { sha256: string; size: number }; rowCount: number; schema: { columns: Array<{ name: string }> } }>();
    expect(version.snapshot).toEqual({ sha256: createHash('sha256').update(body).digest('hex'), size: body.byteLength });
    expect((await suite.t.deps.blobs.getBytes(version.snapshot.sha256)).equals(body)).toBe(true);
    expect(version.rowCount).toBe(2);
    expect(version.schema.columns.map((c) => c.name)).toEqual(['cid', 'v']);
    const officer = await createPrincipalWithToken(suite.t.db, { name: 'officer', roles: ['compliance-officer'] });
    const filed = await suite.t.app.inject({
      method: 'POST',
      url: '/api/v1/erasure-requests',
      headers: { authorization: `Bearer ${officer.token}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ subjectId: 'A-77', reason: 'Art. 17 request by letter' }),
    });
    expect(filed.statusCode, filed.body).toBe(201);
    // The copy read without the mark is gone with the spooled upload.
    expect((await leftovers(suite.t)).spooled).toEqual([]);
    expect(filed.json<{ datasetVersions: Array<{ dataset: string; version: number }> }>().datasetVersions).toMatchObject([{ dataset: 'bom', version: 1 }]);
    expect(await suite.certify('bom')).toEqual([
      { cid: 'A-77', v: 'a' },
      { cid: 'B-8', v: 'b' },
    ]);
  });

  it('refusals still name the line as the file numbers it', async () => {
    for (const [text, where] of [
      ['{"a":1}\n[1]\n', 'malformed JSON Lines on line 2: each line must be a JSON object'],
      ['[1]\n{"a":1}\n', 'malformed JSON Lines on line 1: each line must be a JSON object'],
      ['{"v":1}\n\n{"v":18446744073709551615}\n', 'key "v" on line 3'],
      ['{"v":1}\n{"v":\n', 'malformed JSON Lines on line 2'],
    ] as const) {
      const res = await jsonl('bom-bad', withBom(text));
      expect(res.statusCode, `${text}: ${res.body}`).toBe(400);
      expect(res.json<{ detail: string }>().detail, text).toContain(where);
    }
    expect((await leftovers(suite.t)).spooled).toEqual([]);
  });
});
