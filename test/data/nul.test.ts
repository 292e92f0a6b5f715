import { describe, expect, it } from 'vitest';
import { nulScanner } from '../../src/data/nul.js';

/** The offset the scanner must report, the slow way: a walk that tracks escapes byte by byte. */
function reference(bytes: Uint8Array, jsonEscapes: boolean): number {
  let run = 0; // backslashes just before i
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 0) return i;
    if (jsonEscapes && run % 2 === 1 && Buffer.from(bytes.subarray(i, i + 5)).toString('latin1') === 'u0000') return i - 1;
    run = bytes[i] === 0x5c ? run + 1 : 0;
  }
  return -1;
}

function scan(chunks: Uint8Array[], jsonEscapes: boolean): number {
  const s = nulScanner({ jsonEscapes });
  for (const c of chunks) {
    const at = s.push(c);
    if (at >= 0) return at;
  }
  return -1;
}

/** xorshift, so a failure reproduces. */
function prng(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

describe('nulScanner', () => {
  it('finds a NUL byte, and with jsonEscapes the escape \\u0000 only after an odd run of backslashes', () => {
    const text = (s: string): Uint8Array[] => [Buffer.from(s, 'latin1')];
    expect(scan(text('abc\u0000'), false)).toBe(3);
    expect(scan(text('a\\u0000'), false)).toBe(-1);
    expect(scan(text('a\\u0000'), true)).toBe(1);
    expect(scan(text('a\\\\u0000'), true)).toBe(-1);
    expect(scan(text('a\\\\\\u0000'), true)).toBe(3);
    expect(scan(text('\\u0000'), true)).toBe(0);
    expect(scan(text('u0000'), true)).toBe(-1);
  });

  it('reports the same offset however the bytes are split into chunks (20,000 random texts)', () => {
    const rand = prng(20261206);
    const alphabet = ['\\', 'u', '0', 'x', '"', '\u0000'];
    for (let n = 0; n < 20_000; n++) {
      const length = 1 + Math.floor(rand() * 40);
      // NUL bytes rare, so most texts test the escape logic.
      const text = Array.from({ length }, () => alphabet[Math.floor(rand() * (rand() < 0.02 ? 6 : 5))]).join('');
      const bytes = Buffer.from(text, 'latin1');
      const cuts = [...new Set(Array.from({ length: Math.floor(rand() * 6) }, () => Math.floor(rand() * (bytes.length + 1))))].sort((a, b) => a - b);
      const chunks: Uint8Array[] = [];
      let from = 0;
      for (const c of [...cuts, bytes.length]) {
        chunks.push(bytes.subarray(from, c));
        from = c;
      }
      for (const jsonEscapes of [false, true]) expect([text, jsonEscapes, scan(chunks, jsonEscapes)]).toEqual([text, jsonEscapes, reference(bytes, jsonEscapes)]);
    }
  });

  it('counts offsets across chunks, one byte at a time too', () => {
    const bytes = Buffer.from(`${'x'.repeat(100)}\\\\\\u0000`, 'latin1');
    expect(scan([...bytes].map((b) => Uint8Array.of(b)), true)).toBe(102);
  });
});
