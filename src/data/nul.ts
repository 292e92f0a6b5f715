/**
 * Finding the NUL character in an upload. A text dataset (CSV, JSON Lines) has no use for it,
 * and the quarantine could not record it: column names, profile values and check evidence go
 * to PostgreSQL, whose text and jsonb cannot hold U+0000, and DuckDB's SQL text ends at it.
 * So a NUL byte, or in JSON Lines the escape `\u0000` (`u0000` after an odd run of
 * backslashes), refuses the file, naming where it is.
 */

const BACKSLASH = 0x5c;
const ESCAPE_BODY = Buffer.from('u0000');

/** Parity of the run of backslashes ending just before `end` in `buf`, continuing a run of parity `before` when it reaches the start. */
function runParity(buf: Uint8Array, end: number, before: number): number {
  let i = end - 1;
  let n = 0;
  while (i >= 0 && buf[i] === BACKSLASH) {
    n++;
    i--;
  }
  return i < 0 ? (n + before) % 2 : n % 2;
}

/**
 * A streaming scanner: feed chunks in order; `push` returns the absolute byte offset of the
 * first NUL (the byte, or the backslash of a `\u0000` escape when `jsonEscapes`), or -1. An
 * escape split across chunks is found; it keeps four bytes between chunks. Both searches are
 * `indexOf` (memchr-speed), so a gigabyte costs tens of milliseconds.
 */
export function nulScanner(options: { jsonEscapes: boolean }): { push(chunk: Uint8Array): number } {
  let offset = 0; // absolute offset of the next chunk's first byte
  let tail: Buffer = Buffer.alloc(0); // the previous chunk's last bytes: a split escape's start
  let parityBeforeTail = 0;
  return {
    push(chunk) {
      const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      const zero = bytes.indexOf(0);
      let found = zero >= 0 ? offset + zero : -1;
      if (options.jsonEscapes) {
        const joined = tail.length > 0 ? Buffer.concat([tail, bytes]) : bytes;
        const base = offset - tail.length;
        for (let at = joined.indexOf(ESCAPE_BODY); at !== -1; at = joined.indexOf(ESCAPE_BODY, at + 1)) {
          if (found >= 0 && base + at - 1 >= found) break;
          if (runParity(joined, at, parityBeforeTail) === 1) {
            found = base + at - 1;
            break;
          }
        }
        const start = Math.max(0, joined.length - (ESCAPE_BODY.length - 1));
        parityBeforeTail = runParity(joined, start, parityBeforeTail);
        tail = Buffer.from(joined.subarray(start));
      }
      offset += bytes.length;
      return found;
    },
  };
}
