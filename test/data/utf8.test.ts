import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { skipBom, utf8Validator } from '../../src/data/utf8.js';

/** Feeds `bytes` to a fresh validator in chunks cut at `cuts`; the first invalid offset, or -1. */
function validate(bytes: Buffer, cuts: number[]): number {
  const v = utf8Validator();
  let from = 0;
  for (const to of [...cuts, bytes.length]) {
    const bad = v.push(bytes.subarray(from, to));
    if (bad >= 0) return bad;
    from = to;
  }
  return v.end();
}

describe('streaming UTF-8 validation (uploads arrive in arbitrary chunks)', () => {
  const text = Buffer.from('id,name\n1,Zoë 🐍 Müller\n2,東京\n', 'utf8');

  it('accepts valid text however the chunks split its multi-byte characters', () => {
    for (let a = 0; a < text.length; a++) {
      for (const b of [a + 1, a + 2, a + 3].filter((c) => c <= text.length)) expect(validate(text, [a, b]), `cut at ${a},${b}`).toBe(-1);
    }
  });

  it('names the absolute offset of the first invalid byte, whichever chunk holds it', () => {
    const bad = Buffer.concat([Buffer.from('id,name\n1,caf'), Buffer.from([0xc3, 0x28]), Buffer.from('\n')]);
    for (let cut = 0; cut <= bad.length; cut++) expect(validate(bad, [cut]), `cut at ${cut}`).toBe(13);
    expect(validate(Buffer.from([0x61, 0xff]), [])).toBe(1);
    expect(validate(Buffer.from([0x61, 0xed, 0xa0, 0x80]), [2])).toBe(1); // an encoded surrogate is not UTF-8
  });

  it('a multi-byte character cut off at the very end of the upload is invalid', () => {
    const truncated = Buffer.from('ab€', 'utf8').subarray(0, 4);
    expect(validate(truncated, [3])).toBe(2);
  });
});

describe('skipBom', () => {
  const BOM = [0xef, 0xbb, 0xbf];
  /** The bytes `skipBom` passes on when `input` arrives split into the given chunk sizes. */
  async function through(input: number[], sizes: number[]): Promise<number[]> {
    const chunks: Buffer[] = [];
    let at = 0;
    for (const n of sizes) {
      chunks.push(Buffer.from(input.slice(at, at + n)));
      at += n;
    }
    if (at < input.length) chunks.push(Buffer.from(input.slice(at)));
    const out: Buffer[] = [];
    await pipeline(Readable.from(chunks), skipBom(), new Writable({ write: (c: Buffer, _e, done) => (out.push(c), done()) }));
    return [...Buffer.concat(out)];
  }

  it('drops a byte order mark however the chunks split it, and nothing else', async () => {
    const text = [...Buffer.from('{"a":1}\n')];
    for (const sizes of [[], [1], [2], [1, 1], [1, 1, 1], [2, 2], [4], [3]]) {
      expect(await through([...BOM, ...text], sizes), `chunks ${sizes.join(',')}`).toEqual(text);
      expect(await through(text, sizes), `no mark, chunks ${sizes.join(',')}`).toEqual(text);
    }
  });

  it('keeps a file shorter than a mark, a partial mark, and a mark not at the start', async () => {
    expect(await through([0x7b], [1])).toEqual([0x7b]);
    expect(await through([0xef, 0xbb], [1, 1])).toEqual([0xef, 0xbb]);
    expect(await through([0xef, 0xbb, 0x41], [1, 1])).toEqual([0xef, 0xbb, 0x41]);
    expect(await through([0x41, ...BOM], [1, 1, 1])).toEqual([0x41, ...BOM]);
    expect(await through([...BOM], [1, 1, 1])).toEqual([]);
    expect(await through([...BOM, ...BOM], [2, 2])).toEqual(BOM);
  });
});
