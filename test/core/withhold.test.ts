import { PassThrough, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { lastChunkWithheld } from '../../src/core/index.js';

/** Pipes `source` through the withholding stream into a sink; returns what reached the sink and how the pipeline ended. */
async function run(source: Readable, beforeLast?: () => Promise<void>): Promise<{ received: string; released: number; error?: Error }> {
  const withheld = lastChunkWithheld(beforeLast);
  const parts: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      parts.push(chunk);
      done();
    },
  });
  const error = await pipeline(source, withheld.stream, sink).then(
    () => undefined,
    (err: Error) => err,
  );
  return { received: Buffer.concat(parts).toString(), released: withheld.bytes(), error };
}

/** A source that emits `chunks` and then fails, as a blob failing its digest at the end does. */
function failingAfter(chunks: string[]): Readable {
  const s = new PassThrough();
  let i = 0;
  const next = (): void => {
    if (i < chunks.length) {
      s.write(Buffer.from(chunks[i++] as string), next);
    } else {
      s.destroy(new Error('digest mismatch'));
    }
  };
  setImmediate(next);
  return s;
}

describe('lastChunkWithheld', () => {
  it('passes every byte on a clean end, counting what it released', async () => {
    const r = await run(Readable.from([Buffer.from('ab'), Buffer.from('cd'), Buffer.from('ef')]));
    expect(r).toEqual({ received: 'abcdef', released: 6, error: undefined });
  });

  it('never releases the last chunk when the source fails, so the receiver sees the transfer cut off', async () => {
    const r = await run(failingAfter(['ab', 'cd', 'ef']));
    expect(r.error?.message).toBe('digest mismatch');
    expect(r.received).toBe('abcd');
    expect(r.released).toBe(4);
  });

  it('releases the last chunk only after beforeLast resolves, and fails with its reason instead when it rejects', async () => {
    let checked = false;
    const ok = await run(Readable.from([Buffer.from('ab'), Buffer.from('cd')]), async () => {
      checked = true;
    });
    expect(checked).toBe(true);
    expect(ok.received).toBe('abcd');

    const refused = await run(Readable.from([Buffer.from('ab'), Buffer.from('cd')]), () => Promise.reject(new Error('file changed')));
    expect(refused.error?.message).toBe('file changed');
    expect(refused.received).toBe('ab');
    expect(refused.released).toBe(2);
  });
});
