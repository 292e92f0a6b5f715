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

/**
 * A server's refusal in the command's terms: advice such as "pass delimiter=;" becomes "pass
 * --delimiter ';'", and, when `fields` is set (not for --json, whose consumers read the API's
 * field names), `query.delimiter` becomes `--delimiter`. Anything else is returned as it was.
 */
export function inFlagTerms(err: unknown, flags: Readonly<Record<string, string>>, options: { fields: boolean }): unknown {
  if (!(err instanceof AssayError)) return err;
  const errors: FieldIssue[] = err.errors.map((e) => {
    const name = /^query\.([A-Za-z0-9]+)$/.exec(e.field)?.[1];
    const flag = name !== undefined && Object.hasOwn(flags, name) ? flags[name] : undefined;
    return { field: options.fields && flag ? flag : e.field, message: rewrite(e.message, flags) };
  });
  return new AssayError(err.code, rewrite(err.message, flags), { errors, cause: err });
}
