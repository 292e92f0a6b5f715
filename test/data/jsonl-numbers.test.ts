import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { materialiseCertified } from '../../src/data/certified-parquet.js';
import type { DatasetVersionRecord } from '../../src/data/index.js';
import { eachBackend } from '../support/databases.js';
import { upload, withIngesterAndPromoter } from './support.js';

/**
 * JSON Lines integers that a 64-bit integer or a DOUBLE cannot hold exactly: DuckDB reads
 * 18446744073709551615 as HUGEINT, which its Parquet writer rounds to a DOUBLE, and reads a
 * 17-digit integer beside fractions as a DOUBLE. Certified data is the source minus exclusions,
 * never a rounded number: such files are refused, naming the key and line, and leave nothing.
 */
describe.each(eachBackend().map((b) => [b.name, b] as const))('JSON Lines integers beyond 64 bits [%s]', (_name, backend) => {
  const suite = withIngesterAndPromoter(backend);
  const dir = mkdtempSync(join(tmpdir(), 'assay-jsonl-numbers-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const declared = { classification: 'internal', owner: 'ingester' };
  const jsonl = (name: string, body: string): ReturnType<typeof upload> => upload(suite.t, { name, body, token: suite.ingester.token, contentType: 'application/x-ndjson', query: declared });
  /** The certified rows of version 1 of `name`, every value as text. */
  const certified = (name: string) => suite.certify(name, 'SELECT COLUMNS(*)::VARCHAR FROM $file');

  async function versions(name: string): Promise<number> {
    const r = await suite.t.db.query<{ n: string }>('SELECT count(*)::text AS n FROM dataset_versions v JOIN datasets d ON d.id = v.dataset_id WHERE d.name = $1', [name]);
    return Number(r.rows[0]!.n);
  }

  it('an integer beyond 64 bits is refused with 400 naming body, the key and the line, and nothing is recorded', async () => {
    const res = await jsonl('huge', '{"id":1,"v":1}\n\n{"id":2,"v":18446744073709551615}\n');
    expect(res.statusCode, res.body).toBe(400);
    const body = res.json<{ detail: string; errors: Array<{ field: string; detail: string }> }>();
    expect(body.detail).toContain('key "v" on line 3');
    expect(body.detail).toContain('beyond the 64-bit integer range');
    expect(body.detail).toContain('as JSON strings');
    expect(body.detail).not.toContain('18446744073709551615');
    expect(body.errors).toEqual([{ field: 'body', detail: 'key "v" on line 3: an integer that would be rounded (send it as a JSON string)' }]);
    expect(await versions('huge')).toBe(0);
  });

  it('so is a negative one, and one beyond 128 bits (DuckDB reads both as DOUBLE)', async () => {
    for (const v of ['-9223372036854775809', '1000000000000000000000000000000000000000000']) {
      const res = await jsonl('huger', `{"v":${v}}\n{"v":2}\n`);
      expect(res.statusCode, `${v}: ${res.body}`).toBe(400);
      expect(res.json<{ detail: string }>().detail).toContain('key "v" on line 1');
    }
    expect(await versions('huger')).toBe(0);
  });

  it('a number beyond a double\'s range (DuckDB reads 1e400 as infinity) is refused naming the key and line, at the top level and nested; 1.7e308 passes', async () => {
    for (const [body, key, line] of [
      ['{"v":1.5}\n{"v":2e400}\n', 'v', 2],
      ['{"v":-3e999}\n{"v":1.5}\n', 'v', 1],
      ['{"s":{"x":[1.5]}}\n{"s":{"x":[2.5]}}\n{"s":{"x":[-4e400]}}\n', 's', 3],
    ] as const) {
      const res = await jsonl('overflow', body);
      expect(res.statusCode, `${body}: ${res.body}`).toBe(400);
      const problem = res.json<{ detail: string; errors: Array<{ field: string; detail: string }> }>();
      expect(problem.detail).toContain(`key "${key}" on line ${line} holds a number beyond the range of a double`);
      expect(problem.detail).not.toMatch(/2e400|3e999|4e400/i);
      expect(problem.errors).toEqual([{ field: 'body', detail: `key "${key}" on line ${line}: a number beyond the range of a double (send it as a JSON string)` }]);
    }
    expect(await versions('overflow')).toBe(0);
    const largest = await jsonl('largest', '{"v":1.5}\n{"v":1.7e308}\n');
    expect(largest.statusCode, largest.body).toBe(201);
  });

  it('nested in an object too; nested integers that fit are certified exactly', async () => {
    const res = await jsonl('nested', '{"s":{"a":1}}\n{"s":{"a":18446744073709551615}}\n');
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json<{ detail: string }>().detail).toContain('key "s" on line 2');
    const fits = await jsonl('nested-fits', '{"s":{"a":9223372036854775807}}\n{"s":{"a":-1}}\n');
    expect(fits.statusCode, fits.body).toBe(201);
    expect(await certified('nested-fits')).toEqual([{ s: '{\'a\': 9223372036854775807}' }, { s: '{\'a\': -1}' }]);
  });

  it('an integer a DOUBLE column cannot hold exactly beside fractions is refused too', async () => {
    const res = await jsonl('mixed', '{"v":1.5}\n{"v":9007199254740993}\n');
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json<{ detail: string }>().detail).toContain('key "v" on line 2');
  });

  it('an integer a DOUBLE nested in an object, a list or a map cannot hold exactly is refused too, naming the top-level key', async () => {
    const cases: Array<[string, string]> = [
      ['{"a":{"x":9007199254740993}}\n{"a":{"x":1.5}}\n', 'key "a" on line 1'],
      ['{"a":[1.5]}\n{"a":[2.5, -9007199254740993]}\n', 'key "a" on line 2'],
      ['{"a":{"x":100000000000000000000000000000000000000001}}\n', 'key "a" on line 1'],
      ['{"id":1,"a":[{"x":1.5}]}\n{"id":2,"a":[{"x":2},{"y":[[3.5],[12345678901234567890123]]}]}\n', 'key "a" on line 2'],
      // 250 keys: DuckDB reads the object as a MAP(VARCHAR, DOUBLE).
      [`{"a":{${Array.from({ length: 250 }, (_, i) => `"k${i}":${i}.5`).join(',')}}}\n{"a":{"z":9007199254740993}}\n`, 'key "a" on line 2'],
      ['{"a":{"x y":{"\\"z":[1.5]}}}\n{"a":{"x y":{"\\"z":[18014398509481985]}}}\n', 'key "a" on line 2'],
    ];
    for (const [body, where] of cases) {
      const res = await jsonl('nested-double', body);
      expect(res.statusCode, `${body}: ${res.body}`).toBe(400);
      const detail = res.json<{ detail: string }>().detail;
      expect(detail).toContain(where);
      expect(detail).toContain('that a column of numbers with fractions (DOUBLE) cannot hold exactly');
      expect(detail).not.toMatch(/9007199254740993|12345678901234567890123|18014398509481985|10{40}1/);
    }
    expect(await versions('nested-double')).toBe(0);
  });

  it('nested DOUBLEs that hold their integers exactly, and digits in nested strings and integers, are certified exactly', async () => {
    const res = await jsonl('nested-exact', '{"a":{"x":9007199254740992,"s":"9007199254740993","n":9007199254740993,"l":[1e300]}}\n{"a":{"x":1.5,"s":"t","n":1,"l":[2.5]}}\n');
    expect(res.statusCode, res.body).toBe(201);
    expect(await certified('nested-exact')).toEqual([
      { a: "{'x': 9007199254740992.0, 's': 9007199254740993, 'n': 9007199254740993, 'l': [1e+300]}" },
      { a: "{'x': 1.5, 's': t, 'n': 1, 'l': [2.5]}" },
    ]);
  });

  it('the same values as JSON strings are certified exactly as written; ordinary large numbers pass', async () => {
    const res = await jsonl('as-text', '{"v":"18446744073709551615","n":9223372036854775807,"d":1e30,"f":9007199254740992.5}\n{"v":"1","n":-9223372036854775808,"d":2,"f":1.5}\n');
    expect(res.statusCode, res.body).toBe(201);
    expect(await certified('as-text')).toEqual([
      { v: '18446744073709551615', n: '9223372036854775807', d: '1e+30', f: '9007199254740992.0' },
      { v: '1', n: '-9223372036854775808', d: '2.0', f: '1.5' },
    ]);
  });

  it('a version quarantined before such files were refused is not certified rounded: materialising it is a conflict', async () => {
    const body = Buffer.from('{"v":1}\n{"v":18446744073709551615}\n');
    const blob = await suite.t.deps.blobs.put(body);
    const version = { datasetName: 'before', version: 1, format: 'jsonl', delimiter: null, snapshot: { sha256: blob.hash, size: body.byteLength }, exclusions: [], consentColumn: null, residencyColumn: null, residency: null };
    const scratch = mkdtempSync(join(dir, 'promote-'));
    const env = { db: suite.t.db, claim: 'test-claim', blobs: suite.t.deps.blobs, tmpDir: dir, duckdbMemoryLimit: '256MB' };
    await expect(materialiseCertified(env, version as unknown as DatasetVersionRecord, scratch)).rejects.toMatchObject({
      code: 'conflict',
      message: expect.stringContaining('before v1 cannot be certified: key "v" on line 2 holds an integer beyond the 64-bit integer range'),
    });
  });
});
