import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { derivationParams } from '../../src/cli/commands/data-derive.js';
import { duplicateJsonKey, sha256Hex } from '../../src/core/index.js';

const dir = mkdtempSync(join(tmpdir(), 'assay-params-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a key named twice in one JSON object', () => {
  it('is found in any object, however the key is escaped; sibling objects and arrays may repeat keys', () => {
    expect(duplicateJsonKey('{"window": 30, "window": 90}')).toBe('window');
    expect(duplicateJsonKey('{"a": [{"k\\"x": 1}, {"k\\u0022x": 2, "k\\"x": 3}]}')).toBe('k"x');
    expect(duplicateJsonKey('{"a": {"b": 1}, "c": {"b": 2}, "d": [{"b": 3}, {"b": 4}], "e": "\\"b\\": 5, \\"b\\""}')).toBeUndefined();
    expect(duplicateJsonKey('{"a": "}", "b": "{", "a ": 1}')).toBeUndefined();
  });

  it('--params-file naming a key twice is a usage error, before the CLI would re-serialise it with one value', async () => {
    const file = join(dir, 'params.json');
    writeFileSync(file, '{"window": 30, "decimals": 2, "window": 90}');
    const base = { derivedFrom: ['german-credit@1'], codeSha256: 'a'.repeat(64), param: [] as Array<[string, unknown]>, paramsFile: file };
    expect(await derivationParams(base)).toBe(`--params-file ${file}: names the key "window" twice in one object`);
    writeFileSync(file, '{"window": 30, "decimals": 2}');
    expect(await derivationParams(base)).toEqual(expect.arrayContaining([['parameters', JSON.stringify({ window: 30, decimals: 2 })]]));
  });
});

describe('--code', () => {
  it('a file that cannot be read is a usage error naming --code and the path, not a bare ENOENT', async () => {
    const missing = join(dir, 'no-such-features.sql');
    const opts = { derivedFrom: ['german-credit@1'], code: missing, param: [] as Array<[string, unknown]> };
    expect(await derivationParams(opts)).toMatch(new RegExp(`^--code ${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: ENOENT`));
    const file = join(dir, 'features.sql');
    writeFileSync(file, 'SELECT 1');
    expect(await derivationParams({ ...opts, code: file })).toEqual(expect.arrayContaining([['codeSha256', sha256Hex(Buffer.from('SELECT 1'))]]));
  });
});
