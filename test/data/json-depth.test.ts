import { describe, expect, it } from 'vitest';
import { JSON_LINES_MAX_DEPTH, jsonDepthGauge } from '../../src/data/json-depth.js';

/** The offset the gauge must report, the slow way: every byte, depth reset at each newline. */
function reference(bytes: Uint8Array, maxDepth: number): number {
  let depth = 0;
  let inString = false;
  let escaped = false;
  for (let i = 0; i < bytes.length; i++) {
    const c = String.fromCharCode(bytes[i]!);
    if (c === '\n') [depth, inString, escaped] = [0, false, false];
    else if (inString) {
      if (escaped) escaped = false;
      else if (c === '\\') escaped = true;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '[' || c === '{') {
      if (++depth > maxDepth) return i;
    } else if ((c === ']' || c === '}') && depth > 0) depth--;
  }
  return -1;
}

function gauge(chunks: Uint8Array[], maxDepth: number): number {
  const g = jsonDepthGauge(maxDepth);
  for (const c of chunks) {
    const at = g.push(c);
    if (at >= 0) return at;
  }
  return -1;
}

function prng(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

describe('jsonDepthGauge', () => {
  it('refuses the bracket that opens one level too many, outside strings, line by line', () => {
    const text = (s: string): Uint8Array[] => [Buffer.from(s)];
    expect(gauge(text('[[[1]]]\n'), 3)).toBe(-1);
    expect(gauge(text('[[[[1]]]]\n'), 3)).toBe(3);
    expect(gauge(text('{"a":"[[[[[[[["}\n'), 3)).toBe(-1);
    expect(gauge(text('{"a":"\\"[[[["}\n'), 3)).toBe(-1);
    expect(gauge(text('[[[\n[[[\n'), 3)).toBe(-1);
    expect(gauge(text(`{"a":${'['.repeat(JSON_LINES_MAX_DEPTH)}${']'.repeat(JSON_LINES_MAX_DEPTH)}}`), JSON_LINES_MAX_DEPTH)).toBe(5 + JSON_LINES_MAX_DEPTH - 1);
  });

  it('agrees with a byte-by-byte walk however lines fall across chunks (20,000 random texts)', () => {
    const rand = prng(20261206);
    const alphabet = ['[', ']', '{', '}', '"', '\\', 'x', '\n'];
    for (let n = 0; n < 20_000; n++) {
      const maxDepth = 1 + Math.floor(rand() * 4);
      const length = 1 + Math.floor(rand() * 60);
      const text = Array.from({ length }, () => alphabet[Math.floor(rand() * alphabet.length)]).join('');
      const bytes = Buffer.from(text);
      const cuts = [...new Set(Array.from({ length: Math.floor(rand() * 6) }, () => Math.floor(rand() * (bytes.length + 1))))].sort((a, b) => a - b);
      const chunks: Uint8Array[] = [];
      let from = 0;
      for (const c of [...cuts, bytes.length]) {
        chunks.push(bytes.subarray(from, c));
        from = c;
      }
      expect([text, maxDepth, gauge(chunks, maxDepth)]).toEqual([text, maxDepth, reference(bytes, maxDepth)]);
    }
  });
});
