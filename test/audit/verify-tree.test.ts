import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CompactRange, leafHashOfText } from '../../src/audit/merkle.js';
import { HexCompactRange, leafHashHexOfText } from '../../src/audit/verify-tree.js';

// Verification re-hashes the tree with hex strings instead of Buffers; it must be exactly
// merkle.ts's CompactRange (itself checked against the RFC 9162 reference vectors).

describe('HexCompactRange', () => {
  it('completes the same nodes, roots and frontiers as CompactRange, at every size up to 600', () => {
    const hex = new HexCompactRange();
    const bin = new CompactRange();
    expect(hex.root()).toEqual(bin.root());
    for (let i = 0; i < 600; i++) {
      const leaf = randomBytes(32);
      const completed: Array<{ level: number; index: number; hash: string }> = [];
      hex.append(leaf.toString('hex'), (level, index, hash) => completed.push({ level, index, hash }));
      const expected = bin
        .append(leaf)
        .filter((s) => s.level > 0)
        .map((s) => ({ level: s.level, index: s.index, hash: s.hash.toString('hex') }));
      expect(completed, `append ${i}`).toEqual(expected);
      expect(hex.size).toBe(bin.size);
      expect(hex.root(), `root at ${i + 1}`).toEqual(bin.root());
      expect(hex.frontierBase64()).toEqual(bin.toJSON().hashes);
    }
  });

  it('hashes leaves as merkle.ts does', () => {
    for (const text of ['', '{"a":1}', 'ünïcödé ✓ 😀']) {
      expect(leafHashHexOfText(text)).toBe(leafHashOfText(text).toString('hex'));
    }
  });

  it('refuses a hash that is not 64 hex digits rather than hash a wrong node', () => {
    const good = createHash('sha256').update('x').digest('hex');
    for (const bad of [good.slice(2), `zz${good.slice(2)}`, `${good}00`]) {
      const range = new HexCompactRange();
      range.append(good, () => undefined);
      expect(() => range.append(bad, () => undefined), bad).toThrow(/64 hex digits/);
    }
  });
});
