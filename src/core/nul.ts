/**
 * The NUL character (U+0000) in structured values. PostgreSQL's text and jsonb cannot hold it,
 * so anything headed for the database is checked first and refused naming where it is.
 */

/**
 * The dotted path (from `root`) of the first string or key under `value` holding U+0000, or
 * undefined. Iterative: a request body may nest deeper than the call stack goes.
 */
export function nulPath(value: unknown, root: string): string | undefined {
  // Each entry: a value, its path, and whether the key that leads to it holds NUL.
  const stack: Array<[unknown, string, boolean]> = [[value, root, false]];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const [v, path, badKey] = next;
    if (badKey) return path;
    if (typeof v === 'string') {
      if (v.includes('\u0000')) return path;
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    // Pushed in reverse, so entries are visited in order and the first NUL found is the first in the document.
    const entries = Object.entries(v);
    for (let i = entries.length - 1; i >= 0; i--) {
      const [k, child] = entries[i]!;
      stack.push([child, `${path}.${k}`, k.includes('\u0000')]);
    }
  }
  return undefined;
}
