/**
 * The NUL character (U+0000) in structured values. PostgreSQL's text and jsonb cannot hold it,
 * so anything headed for the database is checked first and refused naming where it is.
 */

/** The dotted path (from `root`) of the first string or key under `value` holding U+0000, or undefined. */
export function nulPath(value: unknown, root: string): string | undefined {
  if (typeof value === 'string') return value.includes('\u0000') ? root : undefined;
  if (value === null || typeof value !== 'object') return undefined;
  for (const [k, v] of Object.entries(value)) {
    const here = `${root}.${k}`;
    if (k.includes('\u0000')) return here;
    const found = nulPath(v, here);
    if (found) return found;
  }
  return undefined;
}
