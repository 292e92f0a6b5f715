import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Command } from 'commander';
import { addDeriveOptions, derivationParams } from '../../src/cli/commands/data-derive.js';
import { duplicateJsonKey, impreciseJsonNumber, sha256Hex } from '../../src/core/index.js';

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

describe('a number no double holds as written', () => {
  it('is found anywhere but in strings; the same number written otherwise is not', () => {
    expect(impreciseJsonNumber('{"seed": 12345678901234567891}')).toBe('12345678901234567891');
    expect(impreciseJsonNumber('{"a": [1, {"b": 9007199254740993}]}')).toBe('9007199254740993');
    expect(impreciseJsonNumber('{"pi": 3.141592653589793238462643383279}')).toBe('3.141592653589793238462643383279');
    expect(impreciseJsonNumber('{"tiny": 1e-400}')).toBe('1e-400');
    expect(impreciseJsonNumber('{"s": "12345678901234567891", "k\\"9007199254740993": 1}')).toBeUndefined();
    expect(impreciseJsonNumber('{"a": 1.0, "b": 1.50e2, "c": 0.1, "d": 9007199254740992, "e": 1152921504606846976, "f": -0, "g": 1E+21, "h": 5e-324}')).toBeUndefined();
  });

  it('--param and --params-file refuse it, before the CLI would send another number', async () => {
    const base = { derivedFrom: ['german-credit@1'], codeSha256: 'a'.repeat(64), param: [] as Array<[string, unknown]> };
    const file = join(dir, 'seed.json');
    writeFileSync(file, '{"seed": 12345678901234567891}');
    expect(await derivationParams({ ...base, paramsFile: file })).toMatch(/^--params-file .*seed\.json: holds the number 12345678901234567891, which would be recorded as 12345678901234567000/);
    const parse = (...args: string[]) => {
      const command = addDeriveOptions(new Command('ingest')).exitOverride().configureOutput({ writeErr: () => undefined });
      return command.parse(args, { from: 'user' }).opts<{ param: Array<[string, unknown]> }>().param;
    };
    expect(() => parse('--param', 'seed=12345678901234567891')).toThrow(/seed: 12345678901234567891 is a number no double holds \(it would be recorded as 12345678901234567000\)/);
    expect(parse('--param', 'seed="12345678901234567891"', '--param', 'window=90', '--param', 'name=12345678901234567891x')).toEqual([
      ['seed', '12345678901234567891'],
      ['window', 90],
      ['name', '12345678901234567891x'],
    ]);
  });
});

describe('parameters that are not UTF-8', () => {
  const base = { derivedFrom: ['german-credit@1'], codeSha256: 'a'.repeat(64), param: [] as Array<[string, unknown]> };

  it('--params-file in Latin-1 or UTF-16 is a usage error, not parameters recorded with U+FFFD; a UTF-8 byte order mark is skipped', async () => {
    const file = join(dir, 'latin1.json');
    // {"label": "café"} as Latin-1 writes it: é is the single byte 0xE9.
    writeFileSync(file, Buffer.concat([Buffer.from('{"label": "caf'), Buffer.from([0xe9]), Buffer.from('"}')]));
    expect(await derivationParams({ ...base, paramsFile: file })).toBe(`--params-file ${file}: is not UTF-8 text (saved in Latin-1, Windows-1252 or UTF-16?): save it as UTF-8`);
    writeFileSync(file, Buffer.from('\uFEFF{"label": "x"}', 'utf16le'));
    expect(await derivationParams({ ...base, paramsFile: file })).toMatch(/is not UTF-8 text/);
    writeFileSync(file, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"label": "café \uFFFD"}')]));
    expect(await derivationParams({ ...base, paramsFile: file })).toEqual(expect.arrayContaining([['parameters', JSON.stringify({ label: 'café \uFFFD' })]]));
  });

  it('--param holding U+FFFD, as Node reads an argument that is not UTF-8, is a usage error', () => {
    const parse = (...args: string[]) => {
      const command = addDeriveOptions(new Command('ingest')).exitOverride().configureOutput({ writeErr: () => undefined });
      return command.parse(args, { from: 'user' }).opts<{ param: Array<[string, unknown]> }>().param;
    };
    // A Latin-1 terminal's `label=café` arrives in process.argv as `label=caf\uFFFD` (the bytes themselves are gone).
    expect(() => parse('--param', 'label=caf\uFFFD')).toThrow(/"label=caf\uFFFD" holds U\+FFFD, as an argument that is not valid UTF-8 reads/);
    expect(() => parse('--param', '\uFFFD=1')).toThrow(/holds U\+FFFD/);
    expect(parse('--param', 'label=café')).toEqual([['label', 'café']]);
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

  it('a file name that cannot be the transform name is refused naming --code, which was typed, not --transform, which was not', async () => {
    const opts = { derivedFrom: ['german-credit@1'], param: [] as Array<[string, unknown]> };
    const bidi = join(dir, 'evil\u202Elqs.sql');
    writeFileSync(bidi, 'SELECT 1');
    const refused = await derivationParams({ ...opts, code: bidi });
    expect(refused).toMatch(/^--code .*evil\\u\{202E\}lqs\.sql: its file name, sent as the transform name, must not contain control or bidirectional formatting characters \(U\+202E at character 5\): name the transform with --transform NAME$/);
    const long = join(dir, `${'f'.repeat(201)}.sql`.slice(0, 250));
    writeFileSync(long, 'SELECT 1');
    expect(await derivationParams({ ...opts, code: long })).toMatch(/its file name, sent as the transform name, is 205 characters, over 200: name the transform with --transform NAME$/);
    // Named with --transform, the file's name does not matter.
    expect(await derivationParams({ ...opts, code: bidi, transform: 'features.sql' })).toEqual(expect.arrayContaining([['transform', 'features.sql']]));
  });
});
