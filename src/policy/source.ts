import { isMap, isNode, isScalar, LineCounter, parseDocument, type Document } from 'yaml';

/**
 * Source locations for error messages: Cedar reports UTF-8 byte offsets, YAML nodes carry
 * character ranges; both become `file:line:column` so an operator can open the spot.
 */

/** 1-based line and column of the character at `charOffset` in `text`. */
export function lineColumnAt(text: string, charOffset: number): { line: number; column: number } {
  const before = text.slice(0, Math.max(0, Math.min(charOffset, text.length)));
  const lastBreak = before.lastIndexOf('\n');
  let line = 1;
  for (let i = before.indexOf('\n'); i !== -1; i = before.indexOf('\n', i + 1)) line++;
  return { line, column: before.length - lastBreak };
}

/** `lineColumnAt` for a UTF-8 byte offset, as Cedar's error spans give them. */
export function lineColumnAtByte(text: string, byteOffset: number): { line: number; column: number } {
  const prefix = Buffer.from(text, 'utf8').subarray(0, Math.max(0, byteOffset)).toString('utf8');
  return lineColumnAt(text, prefix.length);
}

/** A parsed YAML document that can say on which line a field path sits. */
export interface LocatedYaml {
  doc: Document;
  /** The value as plain JavaScript data. */
  value: unknown;
  /** Line of the node at `path`, or of its nearest existing ancestor (for a missing key). */
  lineOf(path: readonly PropertyKey[]): number;
  /** YAML syntax errors, each with its line. */
  syntaxErrors: { line: number; message: string }[];
}

/** Parses YAML keeping node positions, so validation errors can name lines. */
export function parseLocatedYaml(text: string): LocatedYaml {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const lineAtChar = (offset: number): number => lineCounter.linePos(offset).line;
  const syntaxErrors = doc.errors.map((e) => ({ line: lineAtChar(e.pos[0]), message: e.message.split('\n')[0] ?? e.message }));
  return {
    doc,
    value: syntaxErrors.length > 0 ? undefined : doc.toJS(),
    syntaxErrors,
    lineOf(path) {
      for (let n = path.length; n >= 0; n--) {
        const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
        if (isNode(node) && node.range) return lineAtChar(node.range[0]);
        // A key without a value has no value node: point at the key itself.
        const parent = n === 0 ? undefined : n === 1 ? doc.contents : doc.getIn(path.slice(0, n - 1), true);
        const pair = isMap(parent) ? parent.items.find((p) => isScalar(p.key) && p.key.value === path[n - 1]) : undefined;
        if (pair && isScalar(pair.key) && pair.key.range) return lineAtChar(pair.key.range[0]);
      }
      return 1;
    },
  };
}

/** `a.b[2].c` for a path of keys and indexes. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out || '(root)';
}
