/** Strings that break naive JSON writers: escapes, controls, non-ASCII, astral pairs, separators, lookalike escapes. */
export const NASTY_STRINGS = [
  '',
  'plain',
  'quote " and backslash \\ and slash /',
  'controls \u0000\u0001\u0008\t\n\u000b\f\r\u001f and DEL \u007f',
  'ünïcödé — ✓ 中文 עברית',
  'astral 😀 𝄞 pairs',
  'separators \u2028 \u2029',
  '\\u00e9 looks like an escape',
  '\\ud83d looks like a surrogate escape',
] as const;
