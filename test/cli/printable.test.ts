import { describe, expect, it } from 'vitest';
import { printable } from '../../src/cli/io.js';

describe('printable: server text as a terminal shows it', () => {
  it('escapes control and bidirectional formatting characters, so stored evidence cannot move the cursor or reorder what is read', () => {
    expect(printable('ok\u001b[2K\u001b[1Aforged\nline\r\u202Eevil\u2066')).toBe('ok\\u{1B}[2K\\u{1B}[1Aforged\\u{A}line\\u{D}\\u{202E}evil\\u{2066}');
  });
  it('leaves plain text in any script as it is', () => {
    const text = 'Sandbox-Adressen (DSR-7): ça va, 特徴 😀 — ok';
    expect(printable(text)).toBe(text);
  });
});
