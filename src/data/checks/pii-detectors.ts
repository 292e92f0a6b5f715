import type { DuckSession } from '../duck.js';

/**
 * Pattern detectors for personal and payment data, as DuckDB SQL over a cell's text `v`:
 * conditions that must all hold, cheapest first (a character, a length), so the regular
 * expressions and checksums run only on candidates (see `allOf`). Cells are matched as they
 * are, untrimmed, but for no-break spaces (U+00A0, U+202F), which read as spaces: a bank's web
 * page groups an IBAN with them, and a copy keeps them. Emails are found anywhere in a cell (free text too); the
 * others must be the whole (trimmed) cell, which keeps amounts and ids from matching.
 *
 * | detector    | finds | rule |
 * |---|---|---|
 * | `email`     | e-mail addresses | local@domain.tld anywhere in the text; letters of any script (`anna@müller.de`, RFC 6531 local parts), punycode top-level domains (`.xn--p1ai`) |
 * | `phone`     | phone numbers | `+`/`00` international form with 8–15 digits (separators ` ().-`, and one `/`, as in `+49 (0)30/1234567`); NANP `(555) 123-4567` with separators; national form with trunk `0` (`030 1234567`, `(030) 12345678`, `0171/1234567`, `01 23 45 67 89`, `020 7946 0958`) with separators and 9–15 digits, so `01.02.2024` is no phone; bare digit strings are not phones |
 * | `iban`      | IBANs | 2 letters, 2 check digits, 11–30 alphanumerics (spaces allowed), valid ISO 7064 mod-97 checksum |
 * | `pan`       | payment card numbers | 13–19 digits (spaces or dashes allowed) starting 2–6, valid Luhn checksum |
 * | `us_ssn`    | US social security numbers | `AAA-GG-SSSS` with dashes, area not 000, 666 or 9xx, group not 00, serial not 0000 |
 * | `de_tax_id` | German tax identification numbers (Steuer-IdNr) | 11 digits, first not 0, 8 or 9 distinct digits among the first 10, valid ISO 7064 MOD 11,10 check digit |
 * | `de_svnr`   | German social insurance numbers (Sozialversicherungs-/Rentenversicherungsnummer), on every payslip and in every insurer's and HR system's records | area (2 digits), birth date (DDMMYY), the birth name's initial, serial (2 digits), check digit (the letter as its two-digit place in the alphabet, weights 2 1 2 5 7 1 2 1 2 1 2 1, sum of the products' digit sums mod 10); spaces allowed: `15 070649 C 10 3` |
 * | `es_dni`    | Spanish DNI and NIE numbers | 8 digits, or X/Y/Z and 7 digits, then the check letter of the number mod 23 (a space or dash before it allowed) |
 * | `it_fiscal_code` | Italian fiscal codes (codice fiscale) | 16 characters in the code's layout (digits of the date and number may be the omocodia letters L–V), valid check character |
 * | `uk_nino`   | UK National Insurance numbers | 2 prefix letters of the allowed sets (not BG, GB, KN, NK, NT, TN, ZZ), 6 digits (in pairs with spaces, or not), suffix A–D |
 * | `fr_nir`    | French social security numbers (NIR) | 15 characters (spaces allowed): sex 1 or 2, year, month, department (2A and 2B for Corsica), commune, order, and the key 97 − (the first 13 mod 97) |
 *
 * These are pii@4's rules: a condition rewritten to run faster must hold for exactly the same cells.
 * pii@2 and pii@3 (which read more columns than pii@2, see pii.ts) had no `de_svnr`, and differed in two more: no-break
 * spaces were no spaces (`DE89 3704 0044 0532 0130 00` grouped by U+00A0 was missed), and the
 * international phone form had no `/` (`+49 (0)30/1234567` was missed).
 * pii@1 differed in three: its e-mails were ASCII only (`anna@müller.de` was missed), its phones
 * had no national form (`030 1234567` was missed), and it had no Spanish, Italian, UK or French
 * national ids. Versions keep the results of the rules they were
 * checked by; nothing is rebuilt from them.
 */
export const PII_DETECTORS = {
  email: [
    `contains(v, '@')`,
    // Letters and marks of any script, digits; a top-level domain of letters, or punycode.
    `regexp_matches(v, '[\\p{L}\\p{M}\\p{N}._%+-]+@[\\p{L}\\p{M}\\p{N}-]+(\\.[\\p{L}\\p{M}\\p{N}-]+)*\\.(?:\\p{L}[\\p{L}\\p{M}]+|xn--[A-Za-z0-9-]+)')`,
  ],
  phone: [
    `length(v) BETWEEN 8 AND 24 AND (ascii(v) IN (40, 43) OR ascii(v) BETWEEN 48 AND 57)`,
    // International, NANP or national (trunk 0, area code, separated groups), as one alternation: one regular expression pass instead of three.
    `regexp_full_match(v, '(?:(\\+|00)[1-9](?:[0-9 ().-]{6,20}|[0-9 ().-]*/[0-9 ().-]*)[0-9])|(?:\\(?[2-9][0-9]{2}\\)?[ .-][0-9]{3}[ .-][0-9]{4})|(?:(?:\\(0[1-9][0-9]{0,4}\\) ?|0[1-9][0-9]{0,4}[ ./-])[0-9]{2,}(?:[ .-][0-9]{2,})*)')`,
    // 8 to 15 digits among any other characters: the digit count without building the digits-only string.
    `regexp_full_match(v, '[^0-9]*(?:[0-9][^0-9]*){8,15}')`,
    // A national number has at least 9: dates such as 01.02.2024 or 01-02-2024 have 8.
    `NOT regexp_matches(v, '^\\(?0[1-9]') OR regexp_full_match(v, '[^0-9]*(?:[0-9][^0-9]*){9,15}')`,
  ],
  iban: [
    `length(v) BETWEEN 15 AND 42 AND ascii(upper(v)) BETWEEN 65 AND 90 AND ascii(substr(v, 3, 1)) BETWEEN 48 AND 57`,
    `regexp_full_match(replace(upper(v), ' ', ''), '[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}')`,
    `assay_iban_mod97(replace(upper(v), ' ', '')) = 1`,
  ],
  pan: [
    `length(v) BETWEEN 13 AND 23 AND ascii(v) BETWEEN 50 AND 54`,
    `regexp_full_match(v, '[2-6][0-9 -]{11,21}[0-9]')`,
    // 13 to 19 characters besides spaces and dashes, counted without building the stripped string.
    `regexp_full_match(v, '[ -]*(?:[^ -][ -]*){13,19}')`,
    `assay_luhn_ok(replace(replace(v, ' ', ''), '-', ''))`,
  ],
  us_ssn: [`length(v) = 11 AND ascii(v) BETWEEN 48 AND 56`, `regexp_full_match(v, '[0-8][0-9]{2}-[0-9]{2}-[0-9]{4}')`, `substr(v, 1, 3) NOT IN ('000', '666') AND substr(v, 5, 2) <> '00' AND substr(v, 8, 4) <> '0000'`],
  de_tax_id: [`length(v) BETWEEN 11 AND 14 AND ascii(v) BETWEEN 49 AND 57`, `regexp_full_match(replace(v, ' ', ''), '[1-9][0-9]{10}')`, `assay_de_tax_id_ok(replace(v, ' ', ''))`],
  de_svnr: [
    `length(v) BETWEEN 12 AND 16 AND ascii(v) BETWEEN 48 AND 57`,
    `regexp_full_match(upper(v), '[0-9]{2} ?(?:0[1-9]|[12][0-9]|3[01])(?:0[1-9]|1[0-2])[0-9]{2} ?[A-Z] ?[0-9]{2} ?[0-9]')`,
    `assay_de_svnr_ok(replace(upper(v), ' ', ''))`,
  ],
  es_dni: [
    `length(v) BETWEEN 9 AND 10 AND (ascii(v) BETWEEN 48 AND 57 OR ascii(upper(v)) BETWEEN 88 AND 90) AND ascii(upper(right(v, 1))) BETWEEN 65 AND 90`,
    `regexp_full_match(upper(v), '(?:[0-9]{8}|[XYZ][0-9]{7})[ -]?[A-Z]')`,
    `assay_es_dni_ok(replace(replace(upper(v), ' ', ''), '-', ''))`,
  ],
  it_fiscal_code: [
    `length(v) = 16 AND ascii(upper(v)) BETWEEN 65 AND 90`,
    `regexp_full_match(upper(v), '[A-Z]{6}[0-9L-NP-V]{2}[ABCDEHLMPRST][0-9L-NP-V]{2}[A-Z][0-9L-NP-V]{3}[A-Z]')`,
    `assay_it_fiscal_code_ok(upper(v))`,
  ],
  uk_nino: [
    `length(v) BETWEEN 9 AND 13 AND ascii(upper(v)) BETWEEN 65 AND 90 AND ascii(upper(substr(v, 2, 1))) BETWEEN 65 AND 90`,
    `regexp_full_match(upper(v), '[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-D]')`,
    `substr(upper(v), 1, 2) NOT IN ('BG', 'GB', 'KN', 'NK', 'NT', 'TN', 'ZZ')`,
  ],
  fr_nir: [
    `length(v) BETWEEN 15 AND 21 AND ascii(v) BETWEEN 49 AND 50`,
    `regexp_full_match(replace(upper(v), ' ', ''), '[12][0-9]{2}(?:0[1-9]|1[0-2]|[2-9][0-9])(?:2[AB]|[0-9]{2})[0-9]{8}')`,
    `assay_fr_nir_ok(replace(upper(v), ' ', ''))`,
  ],
} as const;

/**
 * Conditions joined so each runs only where the previous held. DuckDB evaluates every operand
 * of an AND inside an aggregate FILTER over the whole vector, but a CASE branch only on the rows
 * that reach it, so the checksums and rewrites cost nothing on non-candidates.
 */
export function allOf(conditions: readonly string[]): string {
  return conditions.reduceRight((inner, c) => `CASE WHEN ${c} THEN ${inner} ELSE false END`, 'true');
}

/** A code point of a letter whose upper case may be A-Z. */
const letter = (codePoint: string): string => `(${codePoint} BETWEEN 65 AND 90 OR ${codePoint} BETWEEN 97 AND 122 OR ${codePoint} > 127)`;

/**
 * Per detector, a condition every match meets, implied by the detector's first condition and
 * far cheaper than the rest: mostly on the cell's length and first code point (`ascii`), a few
 * on one more code point; `email`'s is its own first condition. A letter may be any whose upper
 * case is A-Z, hence the non-ASCII allowance (see `letter`). Gates are evaluated as CASE conditions, so
 * each conjunct runs only on the cells the previous ones let through.
 */
const PII_GATES: Record<keyof typeof PII_DETECTORS, (cell: { v: string; len: string; first: string }) => string> = {
  email: ({ v }) => `contains(${v}, '@')`,
  phone: ({ len, first }) => `${len} BETWEEN 8 AND 24 AND (${first} IN (40, 43) OR ${first} BETWEEN 48 AND 57)`,
  iban: ({ v, len, first }) => `${len} BETWEEN 15 AND 42 AND ${letter(first)} AND ascii(substr(${v}, 3, 1)) BETWEEN 48 AND 57`,
  pan: ({ len, first }) => `${len} BETWEEN 13 AND 23 AND ${first} BETWEEN 50 AND 54`,
  us_ssn: ({ len, first }) => `${len} = 11 AND ${first} BETWEEN 48 AND 56`,
  de_tax_id: ({ len, first }) => `${len} BETWEEN 11 AND 14 AND ${first} BETWEEN 49 AND 57`,
  de_svnr: ({ len, first }) => `${len} BETWEEN 12 AND 16 AND ${first} BETWEEN 48 AND 57`,
  es_dni: ({ v, len, first }) => `${len} BETWEEN 9 AND 10 AND (${first} BETWEEN 48 AND 57 OR ${first} BETWEEN 88 AND 90 OR ${first} BETWEEN 120 AND 122 OR ${first} > 127) AND ${letter(`ascii(right(${v}, 1))`)}`,
  it_fiscal_code: ({ len, first }) => `${len} = 16 AND ${letter(first)}`,
  uk_nino: ({ v, len, first }) => `${len} BETWEEN 9 AND 13 AND ${letter(first)} AND ${letter(`ascii(substr(${v}, 2, 1))`)}`,
  fr_nir: ({ len, first }) => `${len} BETWEEN 15 AND 21 AND ${first} BETWEEN 49 AND 50`,
};

/**
 * The detector's gate on a column (quoted identifier): false for every cell the detector
 * cannot match. The cell's length and first code point come from `shared`, so the shared pass
 * computes them once per cell for every gate.
 */
export function detectorGate(detector: PiiDetector, column: string, shared: (sql: string) => string = (sql) => sql): string {
  const v = `CAST(${column} AS VARCHAR)`;
  return PII_GATES[detector]({ v, len: shared(`length(${v})`), first: shared(`ascii(${v})`) });
}

/** The detector on a column as the shared pass evaluates it: the same boolean as `detectorOn`, behind its gate. */
export function gatedDetectorOn(detector: PiiDetector, column: string, shared: (sql: string) => string): string {
  return `CASE WHEN ${detectorGate(detector, column, shared)} THEN ${detectorOn(detector, column)} ELSE false END`;
}

/** A detector's name. */
export type PiiDetector = keyof typeof PII_DETECTORS;

/** Detectors that find data about a person (anything but a card number). */
export const PERSONAL_DETECTORS: PiiDetector[] = ['email', 'phone', 'iban', 'us_ssn', 'de_tax_id', 'de_svnr', 'es_dni', 'it_fiscal_code', 'uk_nino', 'fr_nir'];

/**
 * A cell's text with no-break spaces (U+00A0, U+202F) as spaces. Translated only in the rare
 * cell that holds one: a translate copies every cell it is given, and on a large file's
 * passing cells (every e-mail, every amount a phone gate lets through) that copy cost a third
 * of the ingest (bench/ingest).
 */
const spacesRead = (v: string): string => `CASE WHEN contains(${v}, '\u00a0') OR contains(${v}, '\u202f') THEN translate(${v}, '\u00a0\u202f', '  ') ELSE ${v} END`;

/**
 * The detector applied to a column (quoted identifier), as a boolean SQL expression. No-break
 * spaces read as spaces, except to the e-mail detector, which no space separates; the gates,
 * which run on every cell, need not read them: a no-break space is one character, as a space
 * is, and no gate reads one.
 */
export function detectorOn(detector: PiiDetector, column: string): string {
  const v = `CAST(${column} AS VARCHAR)`;
  return `assay_pii_${detector}(${detector === 'email' ? v : spacesRead(v)})`;
}

/**
 * Registers the detectors as macros, and the checksums they call: ISO 7064 mod-97 (IBAN), Luhn,
 * ISO 7064 MOD 11,10 (German tax id), the German social insurance number's digit sums, the DNI letter (mod 23), the codice fiscale's check
 * character (odd positions by its table, even by value, mod 26) and the NIR key (mod 97).
 */
export async function registerPiiMacros(duck: DuckSession): Promise<void> {
  const digit = (ch: string): string => `(ascii(${ch}) - 48)`;
  await duck.run(`CREATE OR REPLACE MACRO assay_iban_mod97(s) AS list_reduce(
      list_transform(str_split(substr(s, 5) || substr(s, 1, 4), ''), ch -> CASE WHEN ch BETWEEN '0' AND '9' THEN ${digit('ch')} ELSE ascii(ch) - 55 END),
      (acc, d) -> (acc * CASE WHEN d >= 10 THEN 100 ELSE 10 END + d) % 97, 0)`);
  await duck.run(`CREATE OR REPLACE MACRO assay_luhn_ok(d) AS list_sum(list_transform(list_reverse(str_split(d, '')),
      (ch, i) -> CASE WHEN i % 2 = 0 THEN CASE WHEN ${digit('ch')} * 2 > 9 THEN ${digit('ch')} * 2 - 9 ELSE ${digit('ch')} * 2 END ELSE ${digit('ch')} END)) % 10 = 0`);
  await duck.run(`CREATE OR REPLACE MACRO assay_de_tax_id_ok(d) AS
      length(list_distinct(str_split(substr(d, 1, 10), ''))) IN (8, 9) AND
      (11 - list_reduce(list_transform(str_split(substr(d, 1, 10), ''), ch -> ${digit('ch')}),
        (p, x) -> (CASE WHEN (x + p) % 10 = 0 THEN 10 ELSE (x + p) % 10 END) * 2 % 11, 10)) % 10 = ${digit('substr(d, 11, 1)')}`);
  // The 12 digits of a social insurance number with its letter as two (A = 01), then its check digit.
  const svnrDigit = (i: string): string => `${digit(`substr(substr(s, 1, 8) || lpad(CAST(ascii(substr(s, 9, 1)) - 64 AS VARCHAR), 2, '0') || substr(s, 10, 2), ${i} + 1, 1)`)} * [2, 1, 2, 5, 7, 1, 2, 1, 2, 1, 2, 1][${i} + 1]`;
  await duck.run(`CREATE OR REPLACE MACRO assay_de_svnr_ok(s) AS
      list_sum(list_transform(range(12), i -> (${svnrDigit('i')}) // 10 + (${svnrDigit('i')}) % 10)) % 10 = ${digit('substr(s, 12, 1)')}`);
  await duck.run(`CREATE OR REPLACE MACRO assay_es_dni_ok(s) AS
      substr('TRWAGMYFPDXBNJZSQVHLCKE', CAST(CAST(CASE substr(s, 1, 1) WHEN 'X' THEN '0' WHEN 'Y' THEN '1' WHEN 'Z' THEN '2' ELSE substr(s, 1, 1) END || substr(s, 2, 7) AS BIGINT) % 23 AS INTEGER) + 1, 1) = substr(s, 9, 1)`);
  // A character's value: digits 0-9, letters A=0…Z=25; odd positions (1st, 3rd…) map it through the code's table.
  const value = (ch: string): string => `CASE WHEN ${ch} BETWEEN '0' AND '9' THEN ${digit(ch)} ELSE ascii(${ch}) - 65 END`;
  const odd = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23];
  await duck.run(`CREATE OR REPLACE MACRO assay_it_fiscal_code_ok(s) AS
      chr(65 + CAST(list_sum(list_transform(range(15), i -> CASE WHEN i % 2 = 0 THEN [${odd.join(', ')}][${value('substr(s, i + 1, 1)')} + 1] ELSE ${value('substr(s, i + 1, 1)')} END)) % 26 AS INTEGER)) = substr(s, 16, 1)`);
  await duck.run(`CREATE OR REPLACE MACRO assay_fr_nir_ok(d) AS
      97 - CAST(replace(replace(substr(d, 1, 13), '2A', '19'), '2B', '18') AS BIGINT) % 97 = CAST(substr(d, 14, 2) AS INTEGER)`);
  for (const [name, rule] of Object.entries(PII_DETECTORS)) await duck.run(`CREATE OR REPLACE MACRO assay_pii_${name}(v) AS ${allOf(rule)}`);
}
