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

/** `text` with each `query.name` of a known parameter (not a deeper path such as `query.name.key`) written as its flag. */
function renameFields(text: string, flags: Readonly<Record<string, string>>): string {
  return text.replace(/\bquery\.([A-Za-z0-9]+)(?![A-Za-z0-9]|\.[A-Za-z0-9])/g, (whole, name: string) =>
    (Object.hasOwn(flags, name) ? flags[name] : undefined) ?? whole,
  );
}

/**
 * A server's refusal in the command's terms: advice such as "pass delimiter=;" becomes "pass
 * --delimiter ';'", and, when `fields` is set (not for --json, whose consumers read the API's
 * field names), `query.delimiter` becomes `--delimiter`, in the fields and wherever the message
 * or an issue names it. Anything else is returned as it was.
 */
export function inFlagTerms(err: unknown, flags: Readonly<Record<string, string>>, options: { fields: boolean }): unknown {
  if (!(err instanceof AssayError)) return err;
  const terms = (text: string): string => (options.fields ? renameFields(rewrite(text, flags), flags) : rewrite(text, flags));
  const errors: FieldIssue[] = err.errors.map((e) => ({ field: options.fields ? renameFields(e.field, flags) : e.field, message: terms(e.message) }));
  return new AssayError(err.code, terms(err.message), { errors, cause: err });
}
