import { AssayError, type FieldIssue } from '../core/index.js';

/**
 * The server speaks of its query parameters (`query.delimiter`, "pass delimiter=;"); a command
 * that set them from flags should speak of the flags. These helpers translate a refusal of such
 * a request.
 */

/** `--kebab-case` for each query parameter, unless `exceptions` names another flag for it. */
export function flagsFor(keys: readonly string[], exceptions: Readonly<Record<string, string>> = {}): Record<string, string> {
  return Object.fromEntries(keys.map((k) => [k, exceptions[k] ?? `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`]));
}

/** A value as typed after its flag: percent-encoding decoded, a tab as `tab`, a lone punctuation character (a delimiter) quoted for the shell. */
function asTyped(encoded: string): string {
  let value = encoded;
  try {
    value = decodeURIComponent(encoded);
  } catch {
    // Not percent-encoding after all: as written.
  }
  if (value === '\t') return 'tab';
  return /^[^A-Za-z0-9]$/.test(value) ? `'${value}'` : value;
}

/** `text` with each `name=value` of a known parameter written as `--flag value`. */
function rewrite(text: string, flags: Readonly<Record<string, string>>): string {
  return text.replace(/\b([A-Za-z][A-Za-z0-9]*)=((?:%[0-9A-Fa-f]{2}|[^\s%])+)/g, (whole, name: string, value: string) => {
    const flag = Object.hasOwn(flags, name) ? flags[name] : undefined;
    return flag ? `${flag} ${asTyped(value)}` : whole;
  });
}

/** 1st, 2nd, 3rd, 4th… */
function ordinal(n: number): string {
  const tens = n % 100;
  return `${n}${tens >= 11 && tens <= 13 ? 'th' : (['th', 'st', 'nd', 'rd'][n % 10] ?? 'th')}`;
}

/**
 * Flags for request fields other than query parameters, keyed by the API's field with `*` for an
 * index (`body.overrides.*.check`), or ending in `<key>` for any key of an object the flag
 * builds, which the flag then names (`body.attributes.<key>`: `--attr <key>`, so
 * `body.attributes.colour` is `--attr colour`). A field without a prefix (`scopes`) is a whole
 * issue's field.
 */
export type FieldFlags = Readonly<Record<string, string>>;

/**
 * The flag for an API field: `query.name` of a known parameter, or a field `paths` names; an
 * index the field holds says which occurrence of a repeated flag (`--reason (2nd)`).
 */
function flagOf(field: string, flags: Readonly<Record<string, string>>, paths: FieldFlags): string | undefined {
  const name = /^query\.([A-Za-z0-9]+)$/.exec(field)?.[1];
  if (name !== undefined) return Object.hasOwn(flags, name) ? flags[name] : undefined;
  const indexes = field.match(/(?<=\.)\d+(?=\.|$)/g) ?? [];
  const pattern = field.replace(/(?<=\.)\d+(?=\.|$)/g, '*');
  const flag = Object.hasOwn(paths, pattern) ? paths[pattern] : undefined;
  if (flag === undefined) return keyFlagOf(field, paths);
  if (indexes.length === 0) return flag;
  return `${flag} (${indexes.map((i) => ordinal(Number(i) + 1)).join(', ')})`;
}

/**
 * The flag for a field below a path ending in `<key>`, naming the key; a field deeper inside the
 * key's value (`body.attributes.clearance.1`, an item of one flag's list) is the key's.
 */
function keyFlagOf(field: string, paths: FieldFlags): string | undefined {
  for (const [path, flag] of Object.entries(paths)) {
    if (!path.endsWith('.<key>')) continue;
    const prefix = path.slice(0, -'<key>'.length);
    const key = field.startsWith(prefix) ? field.slice(prefix.length).split('.')[0] : undefined;
    if (key) return flag.replace('<key>', key);
  }
  return undefined;
}

/** `text` with each API field a flag stands for (not a deeper path such as `query.parameters.key`) written as that flag. */
function renameFields(text: string, flags: Readonly<Record<string, string>>, paths: FieldFlags): string {
  return text.replace(/\b(?:query|body|params)(?:\.[A-Za-z0-9_]+)+/g, (whole) => flagOf(whole, flags, paths) ?? whole);
}

/**
 * A server's refusal in the command's terms: advice such as "pass delimiter=;" becomes "pass
 * --delimiter ';'", and, when `fields` is set (not for --json, whose consumers read the API's
 * field names), `query.delimiter` (or a field `paths` names) becomes `--delimiter`, in the
 * fields and wherever the message or an issue names it. Anything else is returned as it was.
 */
export function inFlagTerms(err: unknown, flags: Readonly<Record<string, string>>, options: { fields: boolean; paths?: FieldFlags }): unknown {
  if (!(err instanceof AssayError)) return err;
  const paths = options.paths ?? {};
  const terms = (text: string): string => (options.fields ? renameFields(rewrite(text, flags), flags, paths) : rewrite(text, flags));
  const fieldOf = (field: string): string => (Object.hasOwn(paths, field) ? paths[field]! : renameFields(field, flags, paths));
  const errors: FieldIssue[] = err.errors.map((e) => ({ field: options.fields ? fieldOf(e.field) : e.field, message: terms(e.message) }));
  return new AssayError(err.code, terms(err.message), { errors, cause: err });
}
