import { isUtf8 } from 'node:buffer';
import { Transform } from 'node:stream';

/** Byte offset of the first byte that is not part of a valid UTF-8 sequence, or -1 when all are valid. */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    const need = b < 0x80 ? 0 : b >= 0xc2 && b <= 0xdf ? 1 : b >= 0xe0 && b <= 0xef ? 2 : b >= 0xf0 && b <= 0xf4 ? 3 : -1;
    if (need < 0 || i + need >= bytes.length) return i;
    if (need > 0 && !isUtf8(bytes.subarray(i, i + need + 1))) return i;
    i += need + 1;
  }
  return -1;
}

/** How many bytes at the end of `bytes` start a multi-byte sequence that the next chunk completes. */
function incompleteTail(bytes: Uint8Array): number {
  for (let back = 1; back <= Math.min(3, bytes.length); back++) {
    const b = bytes[bytes.length - back]!;
    if (b < 0x80) return 0;
    if (b >= 0xc0) {
      const len = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
      return len > back ? back : 0;
    }
  }
  return 0;
}

/**
 * A streaming UTF-8 validator: feed chunks in order; `push` returns the absolute byte offset
 * of the first invalid byte (or -1), carrying sequences split across chunk boundaries. Uses
 * Node's SIMD `isUtf8`, so it costs little next to the disk write.
 */
export function utf8Validator(): { push(chunk: Uint8Array): number; end(): number } {
  let carry: Uint8Array = new Uint8Array(0);
  let offset = 0; // absolute offset of carry[0]
  const check = (bytes: Uint8Array): number => {
    if (isUtf8(bytes)) return -1;
    const at = firstInvalidUtf8(bytes);
    return at < 0 ? -1 : offset + at;
  };
  return {
    push(chunk) {
      const bytes = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
      const tail = incompleteTail(bytes);
      const whole = bytes.subarray(0, bytes.length - tail);
      const bad = check(whole);
      offset += whole.length;
      carry = Uint8Array.from(bytes.subarray(bytes.length - tail));
      return bad;
    },
    end() {
      return carry.length > 0 ? offset : -1;
    },
  };
}

/** The UTF-8 byte order mark, which Windows tools write at the start of text files. */
const UTF8_BOM = [0xef, 0xbb, 0xbf] as const;

/** Whether `head` (a file's first bytes) starts with the UTF-8 byte order mark. */
export function startsWithBom(head: Uint8Array): boolean {
  return head.length >= 3 && head[0] === UTF8_BOM[0] && head[1] === UTF8_BOM[1] && head[2] === UTF8_BOM[2];
}

/** A stream passing bytes through unchanged, except a UTF-8 byte order mark at their very start. */
export function skipBom(): Transform {
  let head: Buffer | undefined = Buffer.alloc(0);
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      if (head === undefined) return done(null, chunk);
      head = Buffer.concat([head, chunk]);
      // Undecided until three bytes have come: a BOM may arrive split across chunks.
      if (head.length < 3) return done();
      const rest = startsWithBom(head) ? head.subarray(3) : head;
      head = undefined;
      done(null, rest);
    },
    flush(done) {
      done(null, head !== undefined && head.length > 0 ? head : null);
    },
  });
}
