/**
 * How deep a JSON Lines file nests. DuckDB's JSON reader recurses once per level and crashes
 * the whole process (a segmentation fault, not an error) somewhere past ten thousand levels,
 * so any principal allowed to ingest could take the server down with one line of brackets.
 * The spool therefore refuses a record nested deeper than `JSON_LINES_MAX_DEPTH` before DuckDB
 * reads a byte of it.
 */

/** Deepest nesting of arrays and objects a JSON Lines record may have: far above real data, far below DuckDB's limit. */
export const JSON_LINES_MAX_DEPTH = 1000;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const NEWLINE = 0x0a;
const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;

/** The byte-by-byte state of one line's scan: nesting depth, and where strings stand. */
interface LineState {
  maxDepth: number;
  depth: number;
  inString: boolean;
  escaped: boolean;
}

/**
 * Scans `bytes[from, to)` of a line, continuing `state`; returns the index of the bracket that
 * opens level `state.maxDepth + 1`, or -1. Brackets inside strings do not count.
 */
function scanLine(bytes: Uint8Array, [from, to]: [number, number], state: LineState): number {
  for (let i = from; i < to; i++) {
    const b = bytes[i]!;
    if (state.inString) {
      if (state.escaped) state.escaped = false;
      else if (b === BACKSLASH) state.escaped = true;
      else if (b === QUOTE) state.inString = false;
    } else if (b === QUOTE) state.inString = true;
    else if (b === OPEN_ARRAY || b === OPEN_OBJECT) {
      if (++state.depth > state.maxDepth) return i;
    } else if ((b === CLOSE_ARRAY || b === CLOSE_OBJECT) && state.depth > 0) state.depth--;
  }
  return -1;
}

/**
 * A streaming depth gauge for JSON Lines: feed chunks in order; `push` returns the absolute
 * offset of the first bracket that opens level `maxDepth + 1`, or -1. Each line starts at
 * depth 0: a raw newline cannot occur inside a valid JSON string, so a malformed line cannot
 * push the next one deeper. A line of at most `maxDepth` bytes cannot nest deeper than that,
 * so only longer lines are scanned byte by byte; the rest cost one `indexOf` per line.
 */
export function jsonDepthGauge(maxDepth: number = JSON_LINES_MAX_DEPTH): { push(chunk: Uint8Array): number } {
  let offset = 0; // absolute offset of the chunk being pushed
  let state: LineState | undefined; // set while scanning a long line
  let pending: Uint8Array[] = []; // the current line's bytes from earlier chunks, while it is short
  let pendingLength = 0;
  return {
    push(chunk) {
      const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      let i = 0;
      while (i < bytes.length) {
        const newline = bytes.indexOf(NEWLINE, i);
        const end = newline >= 0 ? newline : bytes.length;
        if (!state && pendingLength + (end - i) > maxDepth) {
          // A long line: scan what came before (too short to be too deep), then carry on here.
          state = { maxDepth, depth: 0, inString: false, escaped: false };
          for (const part of pending) scanLine(part, [0, part.length], state);
          pending = [];
          pendingLength = 0;
        }
        if (state) {
          const deep = scanLine(bytes, [i, end], state);
          if (deep >= 0) return offset + deep;
        } else if (newline < 0) {
          pending.push(Uint8Array.from(bytes.subarray(i, end)));
          pendingLength += end - i;
        }
        if (newline >= 0) {
          state = undefined;
          pending = [];
          pendingLength = 0;
        }
        i = end + 1;
      }
      offset += bytes.length;
      return -1;
    },
  };
}
