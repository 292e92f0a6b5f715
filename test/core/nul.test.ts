import { describe, expect, it } from 'vitest';
import { nulPath } from '../../src/core/index.js';

describe('nulPath', () => {
  it('names the first string or key holding U+0000, in document order', () => {
    expect(nulPath({ a: 'ok', b: ['x', 'y\u0000'], c: 'z\u0000' }, 'body')).toBe('body.b.1');
    expect(nulPath({ a: { 'k\u0000': 1 }, b: 'z\u0000' }, 'body')).toBe('body.a.k\u0000');
    expect(nulPath({ a: { deep: 'x\u0000' }, 'k\u0000': 1 }, 'body')).toBe('body.a.deep');
    expect(nulPath('\u0000', 'query')).toBe('query');
    expect(nulPath({ a: 1, b: null, c: [true, 'fine'] }, 'body')).toBeUndefined();
  });

  it('walks nesting deeper than the call stack', () => {
    let deep: unknown = 'bottom \u0000';
    for (let i = 0; i < 300_000; i++) deep = [deep];
    expect(nulPath(deep, 'body')).toBe(`body${'.0'.repeat(300_000)}`);
  });
});
