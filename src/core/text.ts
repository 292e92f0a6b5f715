import type { z } from 'zod';
import type { FieldIssue } from './errors.js';

/**
 * Text that becomes evidence (a reason, a comment, a source system, a transform's name) is
 * signed into manifests and audit entries and shown to examiners, in terminals too. Control
 * characters could rewrite what a terminal shows (ESC sequences, carriage returns, line breaks
 * that fake another entry), and bidirectional formatting characters reorder what is read
 * (`evil\u202Eyp.exe` reads as `evilexe.py`): such text is refused, not stored.
 */
const NOT_PLAIN = /[\p{Cc}\u202A-\u202E\u2066-\u2069]/u;

/** Why `text` may not become evidence, or undefined when it may. */
export function plainTextIssue(text: string): string | undefined {
  const m = NOT_PLAIN.exec(text);
  if (!m) return undefined;
  const code = m[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
  return `must not contain control or bidirectional formatting characters (U+${code} at character ${m.index + 1})`;
}

/**
 * One issue per named text that may not become evidence (`plainTextIssue`); absent texts pass.
 * Domain functions check their evidence text themselves, so a caller other than the HTTP API
 * (the CLI, a job, a future route) is held to the same rule.
 */
export function plainTextIssues(texts: ReadonlyArray<readonly [field: string, text: string | undefined]>): FieldIssue[] {
  return texts.flatMap(([field, text]) => {
    const message = text === undefined ? undefined : plainTextIssue(text);
    return message ? [{ field, message }] : [];
  });
}

/**
 * `text` within `max` UTF-16 units, never ending in half a surrogate pair: a lone surrogate
 * reaches the database as U+FFFD, so the record would hold a character nobody wrote.
 */
export function clipText(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max);
  return /[\uD800-\uDBFF]$/.test(cut) ? cut.slice(0, -1) : cut;
}

/** `schema` also refusing text that may not become evidence (`plainTextIssue`), naming the character. */
export function plainText<T extends z.ZodType<string>>(schema: T): T {
  return schema.superRefine((value, ctx) => {
    const issue = plainTextIssue(value);
    if (issue) ctx.addIssue({ code: 'custom', message: issue });
  });
}

/**
 * A URL's user information (`https://user:token@host`, `https://ghp_…@github.com`) or a query
 * parameter that carries a secret (`?password=`, a presigned URL's `X-Amz-Signature=`, a SAS
 * `sig=`). Evidence text is signed into manifests and audit entries the database refuses to
 * change or delete, and copied into every audit bundle, so a credential in it could never be
 * revoked from the record. A user name alone is allowed where it is no secret: `ssh://git@host`.
 */
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*):\/\/([^\s/?#@]*)@/gi;
const SECRET_QUERY_PARAMETER = /[?&;](password|passwd|pwd|secret|client_secret|token|access_token|api[_-]?key|x-amz-signature|x-amz-credential|x-goog-signature|sig)=/i;

/** Why `text` may not become evidence because it embeds a credential, or undefined when it does not. The credential is never echoed. */
export function embeddedCredentialIssue(text: string): string | undefined {
  for (const m of text.matchAll(URL_USERINFO)) {
    const [, scheme, userinfo] = m as unknown as [string, string, string];
    // Over http(s) a lone user name is how tokens travel (https://TOKEN@github.com).
    if (userinfo.includes(':') || /^(https?|ftps?)$/i.test(scheme)) {
      return `must not embed credentials: the ${scheme}:// URL at character ${m.index + 1} holds user information (user@ or user:password@); name the location without them`;
    }
  }
  const q = SECRET_QUERY_PARAMETER.exec(text);
  if (q) return `must not embed credentials: the query parameter "${q[1]}" at character ${q.index + 2} carries a secret; name the location without it`;
  return undefined;
}

/** One issue per named text that embeds a credential (`embeddedCredentialIssue`); absent texts pass. */
export function embeddedCredentialIssues(texts: ReadonlyArray<readonly [field: string, text: string | undefined]>): FieldIssue[] {
  return texts.flatMap(([field, text]) => {
    const message = text === undefined ? undefined : embeddedCredentialIssue(text);
    return message ? [{ field, message }] : [];
  });
}

/** `1 row`, `2 rows`: a count with its noun in the number the count takes (`plural` when not noun + s). */
export function counted(n: number, noun: string, plural = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : plural}`;
}
