/**
 * Text that becomes evidence (an exception's reason, a source system, a purpose, a transform's
 * name) is signed into manifests and audit entries and shown to examiners, in terminals too.
 * Control characters could rewrite what a terminal shows (ESC sequences, carriage returns,
 * line breaks that fake another entry), and bidirectional formatting characters reorder what
 * is read (`evil\u202Eyp.exe` reads as `evilexe.py`): such text is refused, not stored.
 */
const NOT_PLAIN = /[\p{Cc}\u202A-\u202E\u2066-\u2069]/u;

/** Why `text` may not become evidence, or undefined when it may. */
export function plainTextIssue(text: string): string | undefined {
  const m = NOT_PLAIN.exec(text);
  if (!m) return undefined;
  const code = m[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
  return `must not contain control or bidirectional formatting characters (U+${code} at character ${m.index + 1})`;
}
