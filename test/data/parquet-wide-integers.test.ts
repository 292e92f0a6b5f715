import { describe, expect, it } from 'vitest';
import { eachBackend } from '../support/databases.js';
import { parquetFixtures, upload, withIngesterAndPromoter } from './support.js';

/**
 * Parquet unsigned integers: the schema's integer type is BIGINT (signed 64 bits), so a UINT_64
 * value beyond 2^63−1 is refused naming the column and row, never recorded as a BIGINT it does
 * not fit; UINT_64 values that fit, and UINT_32/16/8, are BIGINT, profiled and certified exactly.
 * (Parquet has no 128-bit integer: DuckDB writes HUGEINT and UHUGEINT as DOUBLE.)
 */
describe.each(eachBackend().map((b) => [b.name, b] as const))('Parquet unsigned integers [%s]', (_name, backend) => {
  const suite = withIngesterAndPromoter(backend);
  const { parquetOf } = parquetFixtures('parquet-ints');
  const declared = { classification: 'internal', owner: 'ingester' };
  const send = (name: string, body: Buffer): ReturnType<typeof upload> =>
    upload(suite.t, { name, body, token: suite.ingester.token, contentType: 'application/vnd.apache.parquet', query: declared });

  async function versions(name: string): Promise<number> {
    const r = await suite.t.db.query<{ n: string }>('SELECT count(*)::text AS n FROM dataset_versions v JOIN datasets d ON d.id = v.dataset_id WHERE d.name = $1', [name]);
    return Number(r.rows[0]!.n);
  }

  it('a UINT_64 value beyond 2^63−1 is refused with 400 naming the column and row, and nothing is recorded', async () => {
    const body = await parquetOf('beyond', "SELECT * FROM (VALUES (1, 1::UBIGINT), (2, 18446744073709551615::UBIGINT)) t(id, u)");
    const res = await send('beyond', body);
    expect(res.statusCode, res.body).toBe(400);
    const problem = res.json<{ detail: string; errors: Array<{ field: string; detail: string }> }>();
    expect(problem.detail).toContain('column "u" in row 2 holds an integer beyond the 64-bit signed integer range');
    expect(problem.detail).not.toContain('18446744073709551615');
    expect(problem.errors).toEqual([{ field: 'body', detail: 'column "u" in row 2: an integer beyond the 64-bit signed range' }]);
    expect(await versions('beyond')).toBe(0);
  });

  it('so is one inside a struct or a list, naming the top-level column', async () => {
    for (const select of [
      "SELECT * FROM (VALUES ({'a': 1::UBIGINT}), ({'a': 18446744073709551615::UBIGINT})) t(s)",
      'SELECT * FROM (VALUES ([1::UBIGINT]), ([2::UBIGINT, 18446744073709551615::UBIGINT])) t(s)',
    ]) {
      const res = await send('nested-beyond', await parquetOf('nested-beyond', select));
      expect(res.statusCode, `${select}: ${res.body}`).toBe(400);
      expect(res.json<{ detail: string }>().detail).toContain('column "s" in row 2 holds an integer beyond the 64-bit signed integer range');
    }
    expect(await versions('nested-beyond')).toBe(0);
  });

  it('unsigned columns whose values fit are BIGINT in the schema and profile, and certified exactly', async () => {
    const body = await parquetOf(
      'fits',
      'SELECT * FROM (VALUES (9223372036854775807::UBIGINT, 4294967295::UINTEGER, 65535::USMALLINT, 255::UTINYINT), (0::UBIGINT, 0::UINTEGER, 0::USMALLINT, 0::UTINYINT)) t(u, ui, us, ut)',
    );
    const res = await send('fits', body);
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json<{ schema: { columns: Array<{ name: string; type: string }> } }>().schema.columns.map((c) => [c.name, c.type])).toEqual([
      ['u', 'BIGINT'],
      ['ui', 'BIGINT'],
      ['us', 'BIGINT'],
      ['ut', 'BIGINT'],
    ]);
    const profile = await suite.t.app.inject({ method: 'GET', url: '/api/v1/datasets/fits/versions/1/profile', headers: { authorization: `Bearer ${suite.ingester.token}` } });
    expect(profile.statusCode, profile.body).toBe(200);
    const types = profile.json<{ columns: Array<{ name: string; type: string }> }>().columns.map((c) => c.type);
    expect(types).toEqual(['BIGINT', 'BIGINT', 'BIGINT', 'BIGINT']);
    expect(await suite.certify('fits', 'SELECT COLUMNS(*)::VARCHAR FROM $file')).toEqual([
      { u: '9223372036854775807', ui: '4294967295', us: '65535', ut: '255' },
      { u: '0', ui: '0', us: '0', ut: '0' },
    ]);
  });
});
