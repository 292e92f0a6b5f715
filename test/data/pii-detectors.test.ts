import { describe, expect, it } from 'vitest';
import { registerPiiMacros } from '../../src/data/checks/index.js';
import { literal } from '../../src/data/duck.js';
import { scratchDuckSuite } from './support.js';

/** pii@2's e-mail and phone rules, on the real DuckDB session: what they find, and what they must leave alone. */
describe('pii@2 detectors', () => {
  const session = scratchDuckSuite('pii-detectors');

  async function matches(detector: string, values: string[]): Promise<Record<string, boolean>> {
    await registerPiiMacros(session.duck());
    const rows = await session.duck().rows<{ v: string; m: boolean }>(`SELECT v, assay_pii_${detector}(v) AS m FROM (VALUES ${values.map((v) => `(${literal(v)})`).join(', ')}) t(v)`);
    return Object.fromEntries(rows.map((r) => [r.v, r.m]));
  }
  const all = (values: string[], m: boolean): Record<string, boolean> => Object.fromEntries(values.map((v) => [v, m]));

  it('finds national phone numbers written with a trunk 0 and separators', async () => {
    const phones = ['030 1234567', '0171 1234567', '0171/1234567', '(030) 12345678', '0221 12345-67', '020 7946 0958', '07700 900123', '01 23 45 67 89', '01.23.45.67.89', '06-12345678', '06 1234 5678', '044 668 18 00'];
    expect(await matches('phone', phones)).toEqual(all(phones, true));
  });

  it('keeps the international and NANP forms pii@1 found', async () => {
    const phones = ['+49 30 1234567', '+49 (0)30 1234567', '0049 30 1234567', '+1 555 123 4567', '(555) 123-4567', '555.123.4567'];
    expect(await matches('phone', phones)).toEqual(all(phones, true));
  });

  it('leaves dates, amounts, postal codes and bare digit strings alone', async () => {
    const others = ['01.02.2024', '01-02-2024', '01/02/2024', '01.02.24', '01.02.2024 10:30', '2024-01-02', '0 123 456', '01.234.567,89', '1.234.567', '0.12345678', '01067', '007', '0123456789', '01711234567', '0123 4567', 'A 030 1234567'];
    expect(await matches('phone', others)).toEqual(all(others, false));
  });

  it('finds e-mail addresses in any script, and punycode domains', async () => {
    const emails = ['anna@example.com', 'anna@müller.de', 'jürgen@example.de', 'Kontakt: zoë@straße.de, bitte', 'иван@пример.рф', 'user@example.xn--p1ai', '用户@例子.广告', 'राम@डाटामेल.भारत'];
    expect(await matches('email', emails)).toEqual(all(emails, true));
  });

  it('needs a local part, a domain and a top-level domain of two letters or more', async () => {
    const others = ['meet @ 5pm', '@handle', 'anna@', 'anna@example', 'x@y.z', 'anna@example.123', 'a@b'];
    expect(await matches('email', others)).toEqual(all(others, false));
  });

  it('a quarantine reports the new finds per column with row numbers, and a date column as none', async () => {
    const report = await session.quarantineCsv('contacts', ['id,phone,email,born', '1,030 1234567,anna@müller.de,01.02.1980', '2,none,none,31.12.1975', '3,(030) 12345678,none,01-02-1980', '4,none,иван@пример.рф,02/03/1990'], { classification: 'PII' });
    const pii = report.checks.find((c) => c.name === 'pii')!;
    expect(pii).toMatchObject({ version: 2, status: 'pass' });
    const findings = (pii.evidence.findings as Array<{ column: string; detector: string; count: number; rowNumbers: number[] }>).map((f) => `${f.column}:${f.detector}:${f.count}:${f.rowNumbers.join('/')}`);
    expect(findings.sort()).toEqual(['email:email:2:1/4', 'phone:phone:2:1/3']);
  });
});
