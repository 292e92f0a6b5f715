import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { PiiFinding } from '../../src/data/checks/pii.js';
import { openSnapshot } from '../../src/data/load.js';
import { runQuarantine, type QuarantineReport } from '../../src/data/quarantine.js';
import { scratchDuckSuite } from './support.js';

/** `digits` with its Luhn check digit appended. */
function withLuhn(digits: string): string {
  let sum = 0;
  [...digits].reverse().forEach((ch, i) => {
    let d = Number(ch);
    if (i % 2 === 0) d *= 2;
    sum += d > 9 ? d - 9 : d;
  });
  return `${digits}${(10 - (sum % 10)) % 10}`;
}

const findingsOf = (report: QuarantineReport): string[] =>
  ((report.checks.find((c) => c.name === 'pii')!.evidence.findings ?? []) as PiiFinding[]).map((f) => `${f.column}:${f.detector}:${f.count}:${f.rowNumbers.join(' ')}`);

const profileOf = (report: QuarantineReport, column: string): Record<string, unknown> => report.profile.columns.find((c) => c.name === column) as unknown as Record<string, unknown>;

/**
 * pii@3 reads number and nested columns. pii@2 read text and integer columns only, integers as
 * written: a card number exported as `4111111111111111.0`, or stored as a Parquet DECIMAL or
 * DOUBLE, was missed, the check passed, and the profile published the column's min and max;
 * card numbers and e-mails inside JSON objects and Parquet structs were never read at all.
 */
describe('pii@3: numbers and nested values', () => {
  const session = scratchDuckSuite('pii-scan');

  it('reads a number as the digits of its integral value, however the file writes it; redacts the column from the profile', async () => {
    const report = await session.quarantineCsv('numbers', [
      'id,whole,decimal,amount,mixed',
      // whole: integral values written with a zero fraction (BIGINT); decimal: DOUBLE with card numbers among fractions.
      '1,4111111111111111.0,4111111111111111.00,12.5,5',
      '2,5500000000000004.0,0.25,4111111111111111.5,anna@example.com',
      '3,7,5500000000000004,99.75,6',
    ]);
    expect(report.schema.map((c) => `${c.name}:${c.type}`)).toEqual(['id:BIGINT', 'whole:BIGINT', 'decimal:DOUBLE', 'amount:DOUBLE', 'mixed:VARCHAR']);
    // amount's 4111111111111111.5 is no integer: no card number. The e-mail in a text column as before.
    expect(findingsOf(report)).toEqual(['whole:pan:2:1 2', 'decimal:pan:2:1 3', 'mixed:email:1:2']);
    expect(report.checks.find((c) => c.name === 'pii')).toMatchObject({ version: 4, status: 'fail' });
    for (const column of ['whole', 'decimal']) {
      expect(profileOf(report, column)).toMatchObject({ redacted: 'personal_data' });
      expect(profileOf(report, column)).not.toHaveProperty('numeric');
    }
    expect(profileOf(report, 'amount')).toHaveProperty('numeric');
  });

  it('reads a number column\'s misfits as written, and numbers under the declared decimal comma', async () => {
    const lines = ['id,n', ...Array.from({ length: 200 }, (_, i) => `${i + 1},${i + 1}`), '201,anna@example.com', '202,"4111111111111111,0"'];
    const report = await session.quarantineCsv('misfit', lines, { values: { decimalSeparator: ',' } });
    expect(report.schema.find((c) => c.name === 'n')?.type).toBe('BIGINT');
    expect(findingsOf(report)).toEqual(['n:email:1:201', 'n:pan:1:202']);
  });

  it('reads Parquet decimals, doubles and 19-digit decimals as digits, and every value inside structs, lists and maps', async () => {
    const duck = session.duck();
    const path = join(session.dir(), 'nested.parquet');
    const pan19 = withLuhn('601100000000000000');
    await duck.run(
      `COPY (SELECT * FROM (VALUES
         (1, 4111111111111111::DECIMAL(18,0), 4111111111111111::DOUBLE, ${pan19}::DECIMAL(19,0), 12.5::DOUBLE, {'name': 'a', 'contact': {'email': 'anna@example.com'}}, ['x', '5500000000000004'], MAP {'carl@example.com': 1}),
         (2, 7::DECIMAL(18,0), 0.5::DOUBLE, 1::DECIMAL(19,0), 4111111111111111.5::DOUBLE, {'name': 'b', 'contact': {'email': 'none'}}, ['y'], MAP {'k': 2}),
         (3, 5500000000000004::DECIMAL(18,0), 5500000000000004::DOUBLE, 2::DECIMAL(19,0), 1.0::DOUBLE, NULL, [], MAP {'k': 3})
       ) AS t(id, dec, dbl, dec19, amount, person, tags, m)) TO '${path}' (FORMAT parquet)`,
    );
    const snapshot = await openSnapshot(duck, { path, format: 'parquet' });
    const report = await runQuarantine(duck, { snapshot, declared: { classification: 'internal' }, contract: undefined });
    expect(findingsOf(report)).toEqual(['dec:pan:2:1 3', 'dbl:pan:2:1 3', 'dec19:pan:1:1', 'person:email:1:1', 'tags:pan:1:1', 'm:email:1:1']);
    for (const column of ['dec', 'dbl', 'dec19']) expect(profileOf(report, column)).toMatchObject({ redacted: 'personal_data' });
    expect(profileOf(report, 'amount')).toHaveProperty('numeric');
  });

  it('reads nested JSON Lines values; a dataset classified PCI admits their card numbers', async () => {
    const { writeFile } = await import('node:fs/promises');
    const path = join(session.dir(), 'nested.jsonl');
    await writeFile(
      path,
      [
        '{"id":1,"customer":{"email":"anna@example.com","card":"4111111111111111"},"tags":["bob@example.com"]}',
        '{"id":2,"customer":{"email":"x","card":"1234"},"tags":["x"]}',
        '{"id":3,"customer":{"email":"carl@example.com","card":"5500000000000004"},"tags":[]}',
      ].join('\n') + '\n',
    );
    const snapshot = await openSnapshot(session.duck(), { path, format: 'jsonl' });
    const internal = await runQuarantine(session.duck(), { snapshot, declared: { classification: 'internal' }, contract: undefined });
    expect(findingsOf(internal)).toEqual(['customer:email:2:1 3', 'customer:pan:2:1 3', 'tags:email:1:1']);
    expect(internal.checks.find((c) => c.name === 'pii')!.status).toBe('fail');
    const pci = await runQuarantine(session.duck(), { snapshot, declared: { classification: 'PCI' }, contract: undefined });
    expect(pci.checks.find((c) => c.name === 'pii')!.status).toBe('pass');
  });
});
