import { describe, expect, it } from 'vitest';
import { INFERENCE_SAMPLE_ROWS } from '../../src/data/inspect.js';
import type { QuarantineReport } from '../../src/data/quarantine.js';
import { scratchDuckSuite } from './support.js';

const distinctOf = (report: QuarantineReport, column: string): number => report.profile.columns.find((c) => c.name === column)!.distinctApprox;

/**
 * A file no longer than the inference sample is read whole into it, so the profile's distinct
 * counts are the sample's exact ones. They were DuckDB's HyperLogLog estimate, a small sketch
 * that put 4 for five distinct dates in a five-record file.
 */
describe('exact distinct counts for a file the sample holds whole', () => {
  const session = scratchDuckSuite('exact-distinct');

  it('five distinct dates in five records are five', async () => {
    const dates = ['31.12.2024', '1.3.2024', '15.06.2023', '31.01.2024', '01.01.2020'];
    const report = await session.quarantineCsv('dates', ['id,day', ...dates.map((d, i) => `${i + 1},${d}`)], { values: { dateFormat: '%d.%m.%Y' } });
    expect(report.schema.find((c) => c.name === 'day')?.type).toBe('DATE');
    expect(distinctOf(report, 'day')).toBe(5);
    expect(distinctOf(report, 'id')).toBe(5);
  });

  it('every column of a file of 20,000 records, nulls left out', async () => {
    const rows = 20_000;
    // id: all distinct; half: every second value repeated; sparse: 1,234 distinct values, the rest empty.
    const lines = ['id,half,sparse,amount', ...Array.from({ length: rows }, (_, i) => `k${i},h${Math.floor(i / 2)},${i < 1234 ? `s${i}` : ''},${(i % 7919) / 10}`)];
    const report = await session.quarantineCsv('many', lines);
    expect(report.rows).toBe(rows);
    expect(distinctOf(report, 'id')).toBe(rows);
    expect(distinctOf(report, 'half')).toBe(rows / 2);
    expect(distinctOf(report, 'sparse')).toBe(1234);
    expect(distinctOf(report, 'amount')).toBe(7919);
  });

  it('a file longer than the sample keeps the estimate, read over every record', async () => {
    const rows = INFERENCE_SAMPLE_ROWS + 5000;
    const lines = ['id,code', ...Array.from({ length: rows }, (_, i) => `k${i},c${i % 3}`)];
    const report = await session.quarantineCsv('long', lines);
    // Not the sample's 50,000: an estimate of all 55,000 (within DuckDB's sketch error), and the few-valued column exact.
    expect(Math.abs(distinctOf(report, 'id') - rows) / rows).toBeLessThan(0.3);
    expect(distinctOf(report, 'id')).not.toBe(INFERENCE_SAMPLE_ROWS);
    expect(distinctOf(report, 'code')).toBe(3);
  });
});
