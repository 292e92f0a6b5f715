// Tests of the independent RFC 9162 verifier (test/support/rfc9162-verifier.ts). Nothing from
// src/ is imported here: the verifier must stand on the RFC and the reference vectors alone.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  rfcLeafHash,
  rfcMth,
  rfcMthOfLeafHashes,
  rfcNodeHash,
  rfcVerifyConsistency,
  rfcVerifyInclusion,
  type RfcConsistencyInput,
  type RfcInclusionInput,
} from '../support/rfc9162-verifier.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/merkle-testdata/', import.meta.url));

interface Case {
  name: string;
  fields: Record<string, unknown>;
}

function load(folder: string): Case[] {
  const walk = (dir: string): string[] =>
    readdirSync(dir)
      .sort()
      .map((f) => join(dir, f))
      .flatMap((p) => (statSync(p).isDirectory() ? walk(p) : p.endsWith('.json') ? [p] : []));
  return walk(join(FIXTURES, folder)).map((file) => ({
    name: relative(FIXTURES, file),
    // Keep uint64 literals exact (e.g. 18446744073709551615): quote them, then read them as bigint.
    fields: JSON.parse(readFileSync(file, 'utf8').replace(/:\s*(\d{16,})/g, ': "$1"')) as Record<string, unknown>,
  }));
}

const u64 = (c: Case, key: string): bigint => BigInt(String(c.fields[key]));
const b64 = (c: Case, key: string): Buffer => Buffer.from(String(c.fields[key]), 'base64');
const path = (c: Case): Buffer[] => {
  const p = c.fields.proof;
  return Array.isArray(p) ? p.map((x) => Buffer.from(String(x), 'base64')) : [];
};
const wantOk = (c: Case): boolean => c.fields.wantErr !== true;

function isAlignedSubtree(start: bigint, end: bigint): boolean {
  if (end <= start) return false;
  let w = 1n;
  while (w < end - start) w <<= 1n;
  return start % w === 0n;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const flip = (b: Uint8Array, bit: number): Buffer => {
  const c = Buffer.from(b);
  const i = Math.floor(bit / 8) % c.length;
  c[i] = (c[i] ?? 0) ^ (1 << (bit % 8));
  return c;
};

// ---------------------------------------------------------------------------

describe('rfc9162 verifier: tree hashing', () => {
  const inputs = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'];
  const entries = inputs.map((h) => Buffer.from(h, 'hex'));

  it('MTH of the RFC 6962 reference entries', () => {
    expect(hex(rfcMth([]))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(hex(rfcMth(entries.slice(0, 1)))).toBe('6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d');
    expect(hex(rfcMth(entries.slice(0, 3)))).toBe('aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77');
    expect(hex(rfcMth(entries.slice(0, 5)))).toBe('4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4');
    expect(hex(rfcMth(entries.slice(0, 7)))).toBe('ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c');
    expect(rfcMth(entries).toString('base64')).toBe('XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=');
  });

  it('leaf and node hashes carry the 0x00 / 0x01 prefixes', () => {
    const a = rfcLeafHash(Buffer.from('a'));
    const b = rfcLeafHash(Buffer.from('b'));
    expect(hex(rfcNodeHash(a, b))).not.toBe(hex(rfcLeafHash(Buffer.concat([a, b]))));
    expect(hex(rfcMthOfLeafHashes([a, b]))).toBe(hex(rfcNodeHash(a, b)));
  });
});

describe('rfc9162 verifier: reference vectors inclusion/', () => {
  for (const c of load('inclusion')) {
    it(`${c.name} → ${wantOk(c) ? 'accept' : 'reject'}`, () => {
      const input: RfcInclusionInput = {
        leafIndex: u64(c, 'leafIdx'),
        treeSize: u64(c, 'treeSize'),
        leafHash: b64(c, 'leafHash'),
        inclusionPath: path(c),
        rootHash: b64(c, 'root'),
      };
      expect(rfcVerifyInclusion(input)).toBe(wantOk(c));
    });
  }
});

describe('rfc9162 verifier: reference vectors consistency/', () => {
  for (const c of load('consistency')) {
    it(`${c.name} → ${wantOk(c) ? 'accept' : 'reject'}`, () => {
      const input: RfcConsistencyInput = {
        first: u64(c, 'size1'),
        second: u64(c, 'size2'),
        firstHash: b64(c, 'root1'),
        secondHash: b64(c, 'root2'),
        consistencyPath: path(c),
      };
      expect(rfcVerifyConsistency(input)).toBe(wantOk(c));
    });
  }
});

// Only the subtree cases that are RFC 9162 proofs (see merkle.test.ts for the mapping and why
// the others are not): inclusion in a valid subtree [start, end) is inclusion of leafIdx - start
// in the tree D[start:end]; subtree consistency from [0, end) is PROOF(end, D_size).
describe('rfc9162 verifier: reference vectors subtreeinclusion/ (valid subtrees)', () => {
  for (const c of load('subtreeinclusion').filter((x) => isAlignedSubtree(u64(x, 'start'), u64(x, 'end')))) {
    it(`${c.name} → ${wantOk(c) ? 'accept' : 'reject'}`, () => {
      const start = u64(c, 'start');
      const leafIndex = u64(c, 'leafIdx') - start;
      const input: RfcInclusionInput = {
        leafIndex: leafIndex < 0n ? Number.NaN : leafIndex,
        treeSize: u64(c, 'end') - start,
        leafHash: b64(c, 'leafHash'),
        inclusionPath: path(c),
        rootHash: b64(c, 'root'),
      };
      expect(rfcVerifyInclusion(input)).toBe(wantOk(c));
    });
  }
});

describe('rfc9162 verifier: reference vectors subtreeconsistency/ (prefix subtrees)', () => {
  for (const c of load('subtreeconsistency').filter((x) => u64(x, 'start') === 0n && u64(x, 'end') > 0n)) {
    it(`${c.name} → ${wantOk(c) ? 'accept' : 'reject'}`, () => {
      const input: RfcConsistencyInput = {
        first: u64(c, 'end'),
        second: u64(c, 'size'),
        firstHash: b64(c, 'root1'),
        secondHash: b64(c, 'root2'),
        consistencyPath: path(c),
      };
      expect(rfcVerifyConsistency(input)).toBe(wantOk(c));
    });
  }
});

// ---------------------------------------------------------------------------
// Proofs built here by the RFC's recursive definitions over a plain list (§2.1.3.1, §2.1.4.1),
// so the verifier is also exercised on every shape of tree up to 64 leaves.

function rfcPath(m: number, d: readonly Buffer[]): Buffer[] {
  if (d.length <= 1) return [];
  let k = 1;
  while (k * 2 < d.length) k *= 2;
  return m < k
    ? [...rfcPath(m, d.slice(0, k)), rfcMthOfLeafHashes(d.slice(k))]
    : [...rfcPath(m - k, d.slice(k)), rfcMthOfLeafHashes(d.slice(0, k))];
}

function rfcSubproof(m: number, d: readonly Buffer[], b: boolean): Buffer[] {
  if (m === d.length) return b ? [] : [rfcMthOfLeafHashes(d)];
  let k = 1;
  while (k * 2 < d.length) k *= 2;
  return m <= k
    ? [...rfcSubproof(m, d.slice(0, k), b), rfcMthOfLeafHashes(d.slice(k))]
    : [...rfcSubproof(m - k, d.slice(k), false), rfcMthOfLeafHashes(d.slice(0, k))];
}

describe('rfc9162 verifier: proofs from the RFC definitions, sizes 1..64', () => {
  const leaves = Array.from({ length: 64 }, (_, i) => rfcLeafHash(Buffer.from(`entry ${String(i)}`)));

  it('accepts every inclusion proof and rejects any flipped bit', () => {
    for (let size = 1; size <= 64; size++) {
      const d = leaves.slice(0, size);
      const rootHash = rfcMthOfLeafHashes(d);
      for (let m = 0; m < size; m++) {
        const inclusionPath = rfcPath(m, d);
        const leafHash = d[m] as Buffer;
        const base: RfcInclusionInput = { leafIndex: m, treeSize: BigInt(size), leafHash, inclusionPath, rootHash };
        expect(rfcVerifyInclusion(base), `${String(m)} in ${String(size)}`).toBe(true);
        inclusionPath.forEach((_, j) => {
          const bad = inclusionPath.map((p, i) => (i === j ? flip(p, m + j * 29) : p));
          expect(rfcVerifyInclusion({ ...base, inclusionPath: bad })).toBe(false);
        });
        expect(rfcVerifyInclusion({ ...base, rootHash: flip(rootHash, size) })).toBe(false);
        expect(rfcVerifyInclusion({ ...base, leafIndex: m + 1 })).toBe(false);
      }
    }
  });

  it('accepts every consistency proof and rejects any flipped bit', () => {
    for (let second = 1; second <= 64; second++) {
      const secondHash = rfcMthOfLeafHashes(leaves.slice(0, second));
      for (let first = 1; first <= second; first++) {
        const firstHash = rfcMthOfLeafHashes(leaves.slice(0, first));
        const consistencyPath = rfcSubproof(first, leaves.slice(0, second), true);
        const base: RfcConsistencyInput = { first, second, firstHash, secondHash, consistencyPath };
        expect(rfcVerifyConsistency(base), `${String(first)} → ${String(second)}`).toBe(true);
        consistencyPath.forEach((_, j) => {
          const bad = consistencyPath.map((p, i) => (i === j ? flip(p, first + j * 31) : p));
          expect(rfcVerifyConsistency({ ...base, consistencyPath: bad })).toBe(false);
        });
        expect(rfcVerifyConsistency({ ...base, firstHash: flip(firstHash, second) })).toBe(false);
        expect(rfcVerifyConsistency({ ...base, secondHash: flip(secondHash, first) })).toBe(false);
      }
    }
  });
});

describe('rfc9162 verifier: malformed input', () => {
  const d = Array.from({ length: 6 }, (_, i) => rfcLeafHash(Buffer.from([i])));
  const root = rfcMthOfLeafHashes(d);

  it('handles uint64 extremes as bigint, and rejects what is not a uint64', () => {
    const inclusionPath = rfcPath(3, d);
    const good: RfcInclusionInput = { leafIndex: 3n, treeSize: 6n, leafHash: d[3] as Buffer, inclusionPath, rootHash: root };
    expect(rfcVerifyInclusion(good)).toBe(true);
    for (const change of [
      { leafIndex: 2n ** 64n - 1n },
      { treeSize: 2n ** 64n },
      { leafIndex: -1 },
      { leafIndex: 2 ** 53 },
      { leafIndex: 3.5 },
      { treeSize: '6' },
      { inclusionPath: null },
      { leafHash: Buffer.alloc(0), rootHash: Buffer.alloc(0), treeSize: 1n, leafIndex: 0n, inclusionPath: [] },
    ]) {
      const input = { ...good, ...change } as unknown as RfcInclusionInput;
      expect(() => rfcVerifyInclusion(input)).not.toThrow();
      expect(rfcVerifyInclusion(input), Object.keys(change).join()).toBe(false);
    }
  });

  it('requires every path element to be a SHA-256 hash', () => {
    const leafHash = d[0] as Buffer;
    const odd = Buffer.alloc(31, 7);
    const inclusion = { leafIndex: 1, treeSize: 2, leafHash, inclusionPath: [odd], rootHash: rfcNodeHash(odd, leafHash) };
    expect(rfcVerifyInclusion(inclusion)).toBe(false);
    const secondHash = rfcNodeHash(leafHash, odd);
    const consistency = { first: 1, second: 2, firstHash: leafHash, secondHash, consistencyPath: [odd] };
    expect(rfcVerifyConsistency(consistency)).toBe(false);
  });

  it('works across the whole uint64 range, and no further', () => {
    // Leaf 2^k of a tree of 2^k + 1 leaves: the path is one hash, the left sibling MTH(D[0:2^k]).
    const leafHash = d[0] as Buffer;
    const sibling = d[1] as Buffer;
    const rootHash = rfcNodeHash(sibling, leafHash);
    const at = (k: bigint): RfcInclusionInput => {
      return { leafIndex: 2n ** k, treeSize: 2n ** k + 1n, leafHash, inclusionPath: [sibling], rootHash };
    };
    expect(rfcVerifyInclusion(at(31n))).toBe(true);
    expect(rfcVerifyInclusion(at(63n))).toBe(true);
    expect(rfcVerifyInclusion(at(64n))).toBe(false); // the RFC's tree_size is a uint64
  });

  it('follows the vectors at the edges of consistency: equal sizes, and nothing from size 0', () => {
    const h4 = rfcMthOfLeafHashes(d.slice(0, 4));
    const empty = rfcMth([]);
    // [first, second], [firstHash, secondHash], consistencyPath
    const check = (sizes: [number, number], hashes: [Buffer, Buffer], consistencyPath: unknown): boolean =>
      rfcVerifyConsistency({
        first: sizes[0],
        second: sizes[1],
        firstHash: hashes[0],
        secondHash: hashes[1],
        consistencyPath,
      } as RfcConsistencyInput);
    expect(check([4, 4], [h4, h4], [])).toBe(true);
    expect(check([4, 4], [h4, root], [])).toBe(false);
    expect(check([4, 4], [h4, h4], [h4])).toBe(false);
    expect(check([0, 0], [empty, empty], [])).toBe(false);
    expect(check([0, 6], [empty, root], [])).toBe(false);
    expect(check([7, 6], [root, root], [])).toBe(false);
    const proof = rfcSubproof(4, d, true);
    expect(check([4, 6], [h4, root], proof)).toBe(true);
    expect(check([4, 6], [h4, root], [...proof, Buffer.alloc(0)])).toBe(false);
    expect(() => check([4, 6], [h4, root], null)).not.toThrow();
    expect(check([4, 6], [h4, root], null)).toBe(false);
  });
});
