import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { INFERENCE_SAMPLE_ROWS } from '../../src/data/inspect.js';
import { openSnapshot } from '../../src/data/load.js';
import { runQuarantine, type QuarantineReport } from '../../src/data/quarantine.js';
import { scratchDuckSuite } from './support.js';

const column = (report: QuarantineReport, name: string) => report.profile.columns.find((c) => c.name === name)!;

/**
 * A numeric column's distinct count counts numbers, not the ways a CSV file spells them: `1`,
 * `1.0`, `01` and `1e0` are one value, as in JSON Lines, where they are one number. Text that is
 * no number counts by its spelling (as a boolean column's text that is no boolean does).
 */
describe('numeric distinct counts count values, not spellings', () => {
  const session = scratchDuckSuite('numeric-distinct');

  it('in a file the sample holds whole, exactly, and as JSON Lines counts the same numbers', async () => {
    const spellings = [
      ['1', '1.0', '1e0', '+1', '1.00'],
      ['2.5', '2.50', '25e-1', '2.500'],
    ];
    const rows = Array.from({ length: 300 }, (_, i) => ({ id: i % 3, amount: spellings[i % 2]![i % spellings[i % 2]!.length]! }));
    // One `01`: a leading zero makes a code, not a number, so one in a hundred values at most, or the column is text; read as a number, it is 1.
    rows[4]!.amount = '01';
    const csv = await session.quarantineCsv('spelled', ['id,amount', ...rows.map((r) => `${['7', '7.0', '+7'][r.id]},${r.amount}`)]);
    expect(csv.schema.map((c) => c.type)).toEqual(['BIGINT', 'DOUBLE']);
    expect(column(csv, 'id').distinctApprox).toBe(1);
    expect(column(csv, 'amount').distinctApprox).toBe(2);
    const path = join(session.dir(), 'spelled.jsonl');
    await writeFile(path, rows.map((r) => JSON.stringify({ id: 7, amount: Number(r.amount) })).join('\n') + '\n');
    const jsonl = await runQuarantine(session.duck(), { snapshot: await openSnapshot(session.duck(), { path, format: 'jsonl' }), declared: { classification: 'internal' }, contract: undefined });
    expect(column(jsonl, 'amount').distinctApprox).toBe(2);
    expect(column(jsonl, 'id').distinctApprox).toBe(1);
  });

  it('text that is no number counts by spelling, and so do integers beyond 2^53, which a double would merge', async () => {
    const lines = ['id,amount', ...Array.from({ length: 199 }, (_, i) => `${i % 2 ? '9007199254740993' : '9007199254740992'},${i % 2 ? '3.5' : '3.50'}`), '9007199254740992,n/a'];
    const report = await session.quarantineCsv('beyond', lines);
    expect(report.schema.map((c) => c.type)).toEqual(['BIGINT', 'DOUBLE']);
    expect(column(report, 'id').distinctApprox).toBe(2);
    expect(column(report, 'amount').distinctApprox).toBe(2);
  });

  it('−0 is 0, as DuckDB counts doubles (and JSON Lines numbers): in a file the sample holds whole and in a longer one counted from its values', async () => {
    const zeros = ['-0', '0', '-0.0', '0.0', '1'];
    const short = await session.quarantineCsv('signed-zeros', ['level', ...Array.from({ length: 100 }, (_, i) => zeros[i % 5]!)]);
    expect(short.schema.map((c) => c.type)).toEqual(['BIGINT']);
    expect(column(short, 'level').distinctApprox).toBe(2);
    const long = await session.quarantineCsv('signed-zeros-long', ['level', ...Array.from({ length: INFERENCE_SAMPLE_ROWS + 100 }, (_, i) => zeros[i % 5]!)]);
    expect(column(long, 'level').distinctApprox).toBe(2);
    const path = join(session.dir(), 'signed-zeros.jsonl');
    await writeFile(path, zeros.map((z) => `{"level": ${z}}`).join('\n') + '\n');
    const jsonl = await runQuarantine(session.duck(), { snapshot: await openSnapshot(session.duck(), { path, format: 'jsonl' }), declared: { classification: 'internal' }, contract: undefined });
    expect(column(jsonl, 'level').distinctApprox).toBe(2);
  });

  it('in a longer file: a few-valued column exactly, from its value counts; a many-valued one and one that outgrew its sample by estimate', async () => {
    const rows = INFERENCE_SAMPLE_ROWS + 5000;
    // few: 2 values, 5 spellings. many: 4,000 values, each spelled two ways. late: 2 values in the sample, then 2,500 more, each spelled two ways.
    const few = ['1.5', '1.50', '2', '2.00', '15e-1'];
    const lines = ['few,many,late', ...Array.from({ length: rows }, (_, i) => `${few[i % 5]},${i % 8000 < 4000 ? i % 4000 : `${i % 4000}.0`},${i < INFERENCE_SAMPLE_ROWS ? (i % 2 ? '1' : '1.0') : `${Math.floor((i - INFERENCE_SAMPLE_ROWS) / 2) + 2}${i % 2 ? '' : '.0'}`}`)];
    const report = await session.quarantineCsv('long', lines);
    expect(report.schema.map((c) => c.type)).toEqual(['DOUBLE', 'BIGINT', 'BIGINT']);
    expect(column(report, 'few').distinctApprox).toBe(2);
    // By spelling they would be about 8,000 and 5,000: DuckDB's sketch errs by far less than the difference.
    expect(Math.abs(column(report, 'many').distinctApprox - 4000) / 4000).toBeLessThan(0.3);
    expect(Math.abs(column(report, 'late').distinctApprox - 2501) / 2501).toBeLessThan(0.3);
  });
});
