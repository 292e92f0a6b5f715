import { describe, expect, it } from 'vitest';

// A host zone far from UTC (this file runs in a process of its own): the quarantine must not depend on it.
process.env.TZ = 'America/New_York';

import type { QuarantineReport } from '../../src/data/quarantine.js';
import { scratchDuckSuite } from './support.js';

/**
 * Types the quarantine infers where DuckDB's casts lose information: a time of day cast to DATE
 * is dropped, an offset cast to TIMESTAMP is ignored, leading zeros cast to a number vanish.
 * Each would put a wrong type into the signed manifest and wrong values into the profile the
 * drift monitor compares with.
 */
describe('inferred types that keep what the values say', () => {
  const session = scratchDuckSuite('temporal');
  const column = (report: QuarantineReport) => ({ type: report.schema[0]!.type, temporal: report.profile.columns[0]!.temporal });
  const typesCheck = (report: QuarantineReport) => report.checks.find((c) => c.name === 'types')!;

  it('values with a time of day are a TIMESTAMP column, never a DATE', async () => {
    const report = await session.quarantineCsv('times', ['at', '2024-01-01 10:00:00', '2024-01-02T11:30:00', '2024-01-03 00:00:00']);
    expect(column(report)).toEqual({ type: 'TIMESTAMP', temporal: { min: '2024-01-01 10:00:00', max: '2024-01-03 00:00:00' } });
    expect(typesCheck(report).status).toBe('pass');
  });

  it('date-only values (and midnight) are a DATE column', async () => {
    const report = await session.quarantineCsv('dates', ['opened_on', '2024-03-01', '2023-12-31', '2024-02-29 00:00:00']);
    expect(column(report)).toEqual({ type: 'DATE', temporal: { min: '2023-12-31', max: '2024-03-01' } });
  });

  it('an offset or zone name is applied: the profile holds UTC instants', async () => {
    const report = await session.quarantineCsv('offsets', ['at', '2024-01-01T10:00:00+05:00', '2024-01-01T10:00:00Z', '2024-01-01 12:00:00 Europe/Berlin']);
    // 05:00, 10:00 and 11:00 UTC (Berlin is UTC+1 in January); DuckDB's TIMESTAMP cast would say 10:00, 10:00 and 12:00.
    expect(column(report)).toEqual({ type: 'TIMESTAMP', temporal: { min: '2024-01-01 05:00:00', max: '2024-01-01 11:00:00' } });
  });

  it('midnights with an offset are the dates as written; junk after a date makes no DATE', async () => {
    const local = await session.quarantineCsv('local-midnights', ['day', '2024-01-01T00:00:00+02:00', '2024-01-02T00:00:00+02:00']);
    expect(column(local)).toEqual({ type: 'DATE', temporal: { min: '2024-01-01', max: '2024-01-02' } });
    // DuckDB's DATE cast reads the date and ignores what follows it.
    const junk = await session.quarantineCsv('junk', ['day', '2024-1-1 1', '2024-01-1Z', '2024-1-1+5']);
    expect(column(junk)).toEqual({ type: 'VARCHAR', temporal: undefined });
  });

  it('numbers with a leading zero before a digit are codes: text, their zeros kept; a lone zero or 0.5 is a number', async () => {
    const codes = await session.quarantineCsv('postal-codes', ['plz', '01067', '80331', '04109']);
    expect(column(codes).type).toBe('VARCHAR');
    expect(codes.profile.columns[0]!.topK?.map((v) => v.value).sort()).toEqual(['01067', '04109', '80331']);
    const numbers = await session.quarantineCsv('numbers', ['score', '0', '0.5', '10', '-0.25']);
    expect(column(numbers).type).toBe('DOUBLE');
    const counts = await session.quarantineCsv('counts', ['n', '0', '7', '10']);
    expect(column(counts).type).toBe('BIGINT');
  });

  it('a timestamp among dates is a type violation of the DATE column, with its row number', async () => {
    const dates = Array.from({ length: 199 }, (_, i) => `2024-01-${String((i % 28) + 1).padStart(2, '0')}`);
    const report = await session.quarantineCsv('mixed', ['opened_on', ...dates.slice(0, 120), '2024-02-01 09:15', ...dates.slice(120)]);
    expect(column(report).type).toBe('DATE');
    expect(typesCheck(report)).toMatchObject({ name: 'types', version: 3, status: 'warn', evidence: { columns: [{ column: 'opened_on', expected: 'DATE', violations: 1, rowNumbers: [121] }] } });
    // The profile's range is that of the dates: the timestamp is not cut down to 2024-02-01.
    expect(column(report).temporal).toEqual({ min: '2024-01-01', max: '2024-01-28' });
  });
});
