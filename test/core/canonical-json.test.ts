import { describe, expect, it } from 'vitest';
import { canonicalBytes, canonicalJson } from '../../src/core/canonical-json.js';
import { ValidationFailed } from '../../src/core/errors.js';
import { hashCanonical, sha256Hex } from '../../src/core/hash.js';

/** Runs `fn`, expecting ValidationFailed; returns it so the test can inspect the named fields. */
function rejects(fn: () => unknown): ValidationFailed {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationFailed);
    return err as ValidationFailed;
  }
  throw new Error('expected ValidationFailed, nothing was thrown');
}

describe('canonicalJson — RFC 8785 examples', () => {
  // §3.2.2 input, written as JSON text so the number literals are parsed exactly as in the RFC.
  const rfcInput = String.raw`{
    "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
    "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
    "literals": [null, true, false]
  }`;
  const rfcOutput = String.raw`{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`;

  it('serialises the §3.2.2 example exactly', () => {
    expect(canonicalJson(JSON.parse(rfcInput))).toBe(rfcOutput);
  });

  it('produces the §3.2.4 UTF-8 bytes of the example', () => {
    const hex = [
      '7b 22 6c 69 74 65 72 61 6c 73 22 3a 5b 6e 75 6c 6c 2c 74 72',
      '75 65 2c 66 61 6c 73 65 5d 2c 22 6e 75 6d 62 65 72 73 22 3a',
      '5b 33 33 33 33 33 33 33 33 33 2e 33 33 33 33 33 33 33 2c 31',
      '65 2b 33 30 2c 34 2e 35 2c 30 2e 30 30 32 2c 31 65 2d 32 37',
      '5d 2c 22 73 74 72 69 6e 67 22 3a 22 e2 82 ac 24 5c 75 30 30',
      '30 66 5c 6e 41 27 42 5c 22 5c 5c 5c 5c 5c 22 2f 22 7d',
    ]
      .join(' ')
      .replace(/ /g, '');
    expect(Buffer.from(canonicalBytes(JSON.parse(rfcInput))).toString('hex')).toBe(hex);
  });

  it('sorts property names by UTF-16 code units (§3.2.3)', () => {
    const input = JSON.parse(String.raw`{
      "\u20ac": "Euro Sign",
      "\r": "Carriage Return",
      "\ufb33": "Hebrew Letter Dalet With Dagesh",
      "1": "One",
      "\ud83d\ude00": "Emoji: Grinning Face",
      "\u0080": "Control",
      "\u00f6": "Latin Small Letter O With Diaeresis"
    }`) as Record<string, string>;
    const out = canonicalJson(input);
    const reparsed = JSON.parse(out) as Record<string, string>;
    // Object.keys would put the integer-like "1" first, so read the order from the text itself.
    const order = [...out.matchAll(/:"([^"]+)"/g)].map((m) => m[1]);
    expect(order).toEqual([
      'Carriage Return',
      'One',
      'Control',
      'Latin Small Letter O With Diaeresis',
      'Euro Sign',
      'Emoji: Grinning Face',
      'Hebrew Letter Dalet With Dagesh',
    ]);
    expect(out).toBe(
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis",' +
        '"\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
    expect(reparsed).toEqual(input);
  });

  // Appendix B: IEEE 754 bit patterns and their canonical text (NaN/Infinity rows are errors, tested below).
  const appendixB: [string, string][] = [
    ['0000000000000000', '0'],
    ['8000000000000000', '0'],
    ['0000000000000001', '5e-324'],
    ['8000000000000001', '-5e-324'],
    ['7fefffffffffffff', '1.7976931348623157e+308'],
    ['ffefffffffffffff', '-1.7976931348623157e+308'],
    ['4340000000000000', '9007199254740992'],
    ['c340000000000000', '-9007199254740992'],
    ['4430000000000000', '295147905179352830000'],
    ['44b52d02c7e14af5', '9.999999999999997e+22'],
    ['44b52d02c7e14af6', '1e+23'],
    ['44b52d02c7e14af7', '1.0000000000000001e+23'],
    ['444b1ae4d6e2ef4e', '999999999999999700000'],
    ['444b1ae4d6e2ef4f', '999999999999999900000'],
    ['444b1ae4d6e2ef50', '1e+21'],
    ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
    ['3eb0c6f7a0b5ed8d', '0.000001'],
    ['41b3de4355555553', '333333333.3333332'],
    ['41b3de4355555554', '333333333.33333325'],
    ['41b3de4355555555', '333333333.3333333'],
    ['41b3de4355555556', '333333333.3333334'],
    ['41b3de4355555557', '333333333.33333343'],
    ['becbf647612f3696', '-0.0000033333333333333333'],
    ['43143ff3c1cb0959', '1424953923781206.2'],
  ];

  it.each(appendixB)('serialises the double 0x%s as %s (Appendix B)', (bits, expected) => {
    const value = Buffer.from(bits, 'hex').readDoubleBE(0);
    expect(canonicalJson(value)).toBe(expected);
    expect(canonicalJson([value])).toBe(`[${expected}]`);
  });

  it.each([
    [0, '0'],
    [-0, '0'],
    [5e-324, '5e-324'],
    [1.7976931348623157e308, '1.7976931348623157e+308'],
    [9007199254740992, '9007199254740992'],
    [1e21, '1e+21'],
    [1e23, '1e+23'],
    [295147905179352830000, '295147905179352830000'],
    [0.000001, '0.000001'],
    [1e-7, '1e-7'],
  ])('serialises the literal %s as %s', (value, expected) => {
    expect(canonicalJson({ n: value })).toBe(`{"n":${expected}}`);
  });
});

describe('canonicalJson — strictness', () => {
  it.each([
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['-Infinity', Number.NEGATIVE_INFINITY],
  ])('rejects %s, naming the field', (_label, value) => {
    const err = rejects(() => canonicalJson({ a: { b: [1, value] } }));
    expect(err.errors).toEqual([{ field: 'a.b.1', message: expect.stringContaining('not a finite number') }]);
    rejects(() => canonicalJson(value));
  });

  it('rejects undefined at the top level and inside arrays', () => {
    expect(rejects(() => canonicalJson(undefined)).errors[0]?.field).toBe('(root)');
    expect(rejects(() => canonicalJson([1, undefined])).errors[0]?.field).toBe('1');
    // eslint-disable-next-line no-sparse-arrays
    expect(rejects(() => canonicalJson([1, , 3])).errors[0]?.field).toBe('1');
  });

  it('omits properties whose value is undefined, like JSON.stringify', () => {
    expect(canonicalJson({ b: 1, a: undefined })).toBe('{"b":1}');
  });

  it('rejects BigInt, functions and symbols wherever they appear', () => {
    expect(rejects(() => canonicalJson(10n)).errors[0]?.message).toMatch(/BigInt/);
    expect(rejects(() => canonicalJson({ big: 1n })).errors[0]?.field).toBe('big');
    expect(rejects(() => canonicalJson({ f: () => 1 })).errors[0]?.field).toBe('f');
    expect(rejects(() => canonicalJson(() => 1)).errors[0]?.field).toBe('(root)');
    expect(rejects(() => canonicalJson({ s: Symbol('x') })).errors[0]?.field).toBe('s');
    expect(rejects(() => canonicalJson([Symbol('x')])).errors[0]?.field).toBe('0');
    expect(rejects(() => canonicalJson(Symbol('x'))).errors[0]?.field).toBe('(root)');
  });

  it('rejects Maps, Sets, class instances and binary data instead of emitting {}', () => {
    class Thing {
      x = 1;
    }
    expect(rejects(() => canonicalJson({ m: new Map([['a', 1]]) })).errors[0]?.field).toBe('m');
    expect(rejects(() => canonicalJson(new Set([1]))).errors[0]?.field).toBe('(root)');
    expect(rejects(() => canonicalJson({ t: new Thing() })).errors[0]?.message).toMatch(/Thing/);
    expect(rejects(() => canonicalJson({ b: Buffer.from('hi') })).errors[0]?.field).toBe('b');
    expect(rejects(() => canonicalJson(new Uint8Array(2))).errors[0]?.field).toBe('(root)');
  });

  it('rejects circular references and lone surrogates', () => {
    const loop: Record<string, unknown> = { a: 1 };
    loop.self = loop;
    expect(rejects(() => canonicalJson(loop)).errors[0]?.field).toBe('self');
    expect(rejects(() => canonicalJson({ s: 'x\ud800y' })).errors[0]?.field).toBe('s');
  });

  it('allows a repeated (non-circular) reference and applies toJSON (Date)', () => {
    const shared = { v: 1 };
    expect(canonicalJson({ a: shared, b: shared })).toBe('{"a":{"v":1},"b":{"v":1}}');
    expect(canonicalJson({ at: new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6)) })).toBe('{"at":"2026-01-02T03:04:05.006Z"}');
  });

  it('keeps a __proto__ member parsed from JSON as ordinary data', () => {
    const parsed: unknown = JSON.parse('{"__proto__":{"x":1},"a":2}');
    expect(canonicalJson(parsed)).toBe('{"__proto__":{"x":1},"a":2}');
  });

  it('accepts null-prototype objects', () => {
    const bare = Object.create(null) as Record<string, unknown>;
    bare.z = 1;
    bare.a = [true];
    expect(canonicalJson(bare)).toBe('{"a":[true],"z":1}');
  });
});

describe('hash', () => {
  it('hashes the canonical bytes, so property order does not change the address', () => {
    expect(hashCanonical({ b: 2, a: 1 })).toBe(hashCanonical({ a: 1, b: 2 }));
    expect(hashCanonical({ a: 1, b: 2 })).toBe(sha256Hex('{"a":1,"b":2}'));
  });

  it('hashes strings as UTF-8 (sha256 of "abc" is the FIPS 180-2 vector)', () => {
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256Hex(new TextEncoder().encode('€'))).toBe(sha256Hex('€'));
  });
});
