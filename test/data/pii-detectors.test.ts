import { describe, expect, it } from 'vitest';
import { PII_DETECTORS, registerPiiMacros, type PiiDetector } from '../../src/data/checks/index.js';
import { detectorGate, detectorOn } from '../../src/data/checks/pii-detectors.js';
import { literal } from '../../src/data/duck.js';
import { scratchDuckSuite } from './support.js';

/** pii@4's detectors (pii@2's and pii@3's but for no-break spaces and a slash in international numbers), on the real DuckDB session: what they find, and what they must leave alone. */
describe('pii@4 detectors', () => {
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

  it('finds Spanish, Italian, UK and French national ids and German social insurance numbers whose check holds, and not their broken twins', async () => {
    const ids: Record<string, [string[], string[]]> = {
      // DNI 12345678 mod 23 = 14 → Z; NIE X1234567 → 01234567 mod 23 = 19 → L.
      es_dni: [['12345678Z', '12345678-Z', '12345678 z', 'X1234567L', 'Y1234567X'], ['12345678A', 'X1234567Z', '1234567Z', 'W1234567L']],
      // RSSMRA85T10A562S is the fiscal code of the textbook Mario Rossi; omocodia swaps a digit for its letter and keeps the check.
      it_fiscal_code: [['RSSMRA85T10A562S', 'rssmra85t10a562s', 'BNCLRA70A41H501B'], ['RSSMRA85T10A562T', 'RSSMRA85Z10A562S', 'RSSMRA85T10A56XS']],
      uk_nino: [['AB123456C', 'AB 12 34 56 C', 'jg103759a'], ['GB123456A', 'AB123456E', 'DA123456A', 'AO123456A', 'AB12345C']],
      // Keys: 97 − (1841276451089 mod 97) = 46; 2A (Corsica) counts as 19: 275122A123456 → 2751219123456 → key 03.
      fr_nir: [['184127645108946', '1 84 12 76 451 089 46', '2550814168025 38', '275122A12345603'], ['184127645108947', '184137645108946', '384127645108946', '18412764510894']],
      // pii@4: 15 070649 C 10 3 is the textbook German social insurance number (C as 03; digit sums of 2 1 2 5 7 1 2 1 2 1 2 1 × the digits: 43, key 3). Its twins: another key, month 13, day 32 (keys recomputed), no letter.
      de_svnr: [['15 070649 C 10 3', '15070649C103', '65 170839 j 00 3', '12150585M016'], ['15070649C104', '15 061349 C 10 2', '15 320649 C 10 2', '150706491103']],
    };
    for (const [detector, [finds, others]] of Object.entries(ids)) {
      expect(await matches(detector, [...finds, ...others]), detector).toEqual({ ...all(finds, true), ...all(others, false) });
    }
  });

  it('pii@4: no-break spaces group as spaces do, an international number may hold one slash, and German social insurance numbers are found (pii@3 missed all three)', async () => {
    await registerPiiMacros(session.duck());
    const cases: Array<[string, PiiDetector]> = [
      // As a bank's web page groups them (U+00A0), or a French locale (U+202F), and a copy keeps them.
      ['DE89\u00a03704\u00a00044\u00a00532\u00a00130\u00a000', 'iban'],
      ['DE89\u202f3704\u202f0044\u202f0532\u202f0130\u202f00', 'iban'],
      ['86\u00a0095\u00a0742\u00a0719', 'de_tax_id'],
      ['4111\u00a01111\u00a01111\u00a01111', 'pan'],
      ['030\u00a01234567', 'phone'],
      ['+49\u00a030\u00a01234567', 'phone'],
      // A German letterhead's forms.
      ['+49 (0)30/1234567', 'phone'],
      ['+49(0)30/123456-78', 'phone'],
      ['0049 (0)30 / 12 34 56', 'phone'],
    ];
    const detectors = Object.keys(PII_DETECTORS) as PiiDetector[];
    const found = async (v: string): Promise<PiiDetector[]> => {
      const [row] = await session.duck().rows<Record<string, boolean>>(`SELECT ${detectors.map((d) => `${detectorOn(d, 'v')} AS ${d}`).join(', ')} FROM (SELECT ${literal(v)} AS v)`);
      return detectors.filter((d) => row![d]);
    };
    for (const [v, detector] of cases) expect(await found(v), JSON.stringify(v)).toEqual([detector]);
    // Two slashes make a date or a path, not a phone number.
    for (const v of ['+2024/01/01', '0012/05/2024', '01/02/2024', '+12/3']) expect(await found(v), v).toEqual([]);
    const report = await session.quarantineCsv('nbsp', ['id,iban,phone,Sozialversicherungsnummer', '1,DE89\u00a03704\u00a00044\u00a00532\u00a00130\u00a000,+49 (0)30/1234567,none', '2,none,none,15 070649 C 10 3'], { classification: 'internal' });
    expect(report.checks.find((c) => c.name === 'pii')).toMatchObject({
      version: 4,
      status: 'fail',
      evidence: {
        findings: [
          { column: 'iban', detector: 'iban', count: 1, rowNumbers: [1] },
          { column: 'phone', detector: 'phone', count: 1, rowNumbers: [1] },
          { column: 'Sozialversicherungsnummer', detector: 'de_svnr', count: 1, rowNumbers: [2] },
        ],
      },
    });
  });

  it('every gate lets through every cell its detector matches (the shared pass skips detectors by their gates)', async () => {
    const values = [
      'anna@example.com', 'иван@пример.рф', '030 1234567', '(030) 12345678', '+49 30 1234567', '(555) 123-4567', 'DE89 3704 0044 0532 0130 00', 'gb82west12345698765432',
      '4111 1111 1111 1111', '5500-0000-0000-0004', '123-45-6789', '86095742719', '12345678Z', '12345678 z', 'x1234567l', 'RSSMRA85T10A562S', 'rssmra85t10a562s',
      'AB 12 34 56 C', 'jg103759a', '\u017fB123456C', '184127645108946', '1 84 12 76 451 089 46', '275122A12345603',
      'DE89\u00a03704\u00a00044\u00a00532\u00a00130\u00a000', '86\u00a0095\u00a0742\u00a0719', '4111\u202f1111\u202f1111\u202f1111', '+49 (0)30/1234567', '1\u00a084\u00a012\u00a076\u00a0451\u00a0089\u00a046',
      '15 070649 C 10 3', '15070649c103',
    ];
    await registerPiiMacros(session.duck());
    await session.duck().run(`CREATE OR REPLACE TABLE cells AS SELECT unnest([${values.map((v) => literal(v)).join(', ')}]) AS v`);
    for (const detector of Object.keys(PII_DETECTORS) as PiiDetector[]) {
      const rows = await session.duck().rows<{ v: string; matched: boolean; gated: boolean }>(`SELECT v, ${detectorOn(detector, 'v')} AS matched, ${detectorGate(detector, 'v')} AS gated FROM cells`);
      expect(rows.filter((r) => r.matched).length, detector).toBeGreaterThan(0);
      expect(rows.filter((r) => r.matched && !r.gated).map((r) => r.v), detector).toEqual([]);
    }
  });

  it('a quarantine reports the new finds per column with row numbers, and a date column as none', async () => {
    const report = await session.quarantineCsv(
      'contacts',
      ['id,phone,email,born,national_id', '1,030 1234567,anna@müller.de,01.02.1980,none', '2,none,none,31.12.1975,12345678Z', '3,(030) 12345678,none,01-02-1980,AB 12 34 56 C', '4,none,иван@пример.рф,02/03/1990,12345678A'],
      { classification: 'PII' },
    );
    const pii = report.checks.find((c) => c.name === 'pii')!;
    expect(pii).toMatchObject({ version: 4, status: 'pass' });
    const findings = (pii.evidence.findings as Array<{ column: string; detector: string; count: number; rowNumbers: number[] }>).map((f) => `${f.column}:${f.detector}:${f.count}:${f.rowNumbers.join('/')}`);
    expect(findings.sort()).toEqual(['email:email:2:1/4', 'national_id:es_dni:1:2', 'national_id:uk_nino:1:3', 'phone:phone:2:1/3']);
  });
});
