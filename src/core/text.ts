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
