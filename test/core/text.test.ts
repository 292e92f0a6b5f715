import { describe, expect, it } from 'vitest';
import { clipText, embeddedCredentialIssue, plainTextIssue } from '../../src/core/index.js';

/** Evidence text helpers: what may be stored, and how it is cut to fit. */
describe('evidence text', () => {
  it('clipText cuts between characters, never inside a surrogate pair', () => {
    expect(clipText('abc', 5)).toBe('abc');
    expect(clipText('abcdef', 3)).toBe('abc');
    // '😀' is two UTF-16 units: a cut after its first would leave a lone surrogate (stored as U+FFFD).
    expect(clipText('ab😀cd', 3)).toBe('ab');
    expect(clipText('ab😀cd', 4)).toBe('ab😀');
  });

  it('plainTextIssue names the first control or bidi formatting character and where it is', () => {
    expect(plainTextIssue('Müller v. Bank — ticket 7, 日本')).toBeUndefined();
    expect(plainTextIssue('ok\u001b[2K')).toBe('must not contain control or bidirectional formatting characters (U+001B at character 3)');
    expect(plainTextIssue('a\tb')).toContain('U+0009');
    expect(plainTextIssue('invoice\u202Efdp.exe')).toContain('U+202E at character 8');
    expect(plainTextIssue('x\u2066y')).toContain('U+2066');
  });

  it('embeddedCredentialIssue finds user information in a URL and secret query parameters, without echoing them', () => {
    for (const text of ['https://token123@github.com/org/repo', 'postgres://etl:hunter2@db:5432/x', 'see git+ssh://git:pw@host/r.git', 'https://h/p?a=1&password=x', 'https://b.s3.amazonaws.com/k?X-Amz-Signature=abc', 'https://acct.blob.core.windows.net/c/b?sv=1&sig=abc']) {
      const issue = embeddedCredentialIssue(text);
      expect(issue, text).toMatch(/^must not embed credentials/);
      expect(issue).not.toMatch(/token123|hunter2|pw@|=x|abc/);
    }
    for (const text of ['https://github.com/org/repo@v1', 'ssh://git@github.com/org/repo.git', 'git@github.com:org/repo.git', 'anna@example.com', 'crm export, token bucket', 'https://h/p?tokens_per_day=5', 'Müller v. Bank']) {
      expect(embeddedCredentialIssue(text), text).toBeUndefined();
    }
  });
});
