import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDuckSession } from '../../src/data/duck.js';
import { INFERENCE_SAMPLE_ROWS } from '../../src/data/inspect.js';
import { openSnapshot } from '../../src/data/load.js';
import { runQuarantine, type QuarantineReport } from '../../src/data/quarantine.js';

const ROWS = 60_000;

/**
 * A file whose first INFERENCE_SAMPLE_ROWS records mislead: the note column is empty in them,
 * then holds e-mail addresses (one inside a quoted, multi-line field) and a phone number; code
 * is numeric in them and text afterwards; tag has one value in them and thousands afterwards,
 * one an e-mail address; the repeats come at the end. Every expectation below follows from how
 * the file is written.
 */
function misleadingCsv(): string {
  const lines = ['id,note,amount,code,consent,country,tag'];
  const record = (i: number): string => {
    const note = i === 58_000 ? '"write to\nanna@example.com"' : i > 55_000 && i % 1000 === 0 ? 'write to anna@example.com' : i === 59_500 ? '+49 30 1234567' : '';
    const amount = i > 55_000 && i % 10 === 0 ? 'n/a' : String(i * 3);
    const code = i > INFERENCE_SAMPLE_ROWS ? `x${i}` : String(i);
    const consent = i > INFERENCE_SAMPLE_ROWS && i % 5000 === 0 ? 'no' : 'yes';
    const tag = i === 59_999 ? 'eve@example.com' : i > INFERENCE_SAMPLE_ROWS ? `t${i}` : 'a';
    return `${i},${note},${amount},${code},${consent},${i % 2 === 0 ? 'US' : 'DE'},${tag}`;
  };
  for (let i = 1; i <= ROWS; i++) lines.push(record(i));
  lines.push(record(57_001), record(57_001));
  return lines.join('\n') + '\n';
}

/**
 * The quarantine reads a CSV file in passes planned from a sample of its first records. These
 * prove that a sample which misleads costs passes, never exactness: counts and row numbers are
 * those of the whole file.
 */
describe('quarantine passes over a file whose sample misleads', () => {
  let dir: string;
  let report: QuarantineReport;
  const check = (name: string) => report.checks.find((c) => c.name === name)!;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'assay-passes-'));
    const path = join(dir, 'misleading.csv');
    await writeFile(path, misleadingCsv());
    const duck = await openDuckSession({ tempDir: dir, memoryLimit: '1GB' });
    try {
      const snapshot = await openSnapshot(duck, { path, format: 'csv', csv: { delimiter: ',', header: ['id', 'note', 'amount', 'code', 'consent', 'country', 'tag'] } });
      report = await runQuarantine(duck, { snapshot, declared: { classification: 'internal', consentColumn: 'consent', residency: 'EU', residencyColumn: 'country' }, contract: undefined });
    } finally {
      duck.close();
    }
  });
  afterAll(async () => dir && rm(dir, { recursive: true, force: true }));

  it('counts records, not lines, and infers a column again when the rest of the file contradicts the sample', () => {
    expect(report.rows).toBe(ROWS + 2);
    expect(report.schema.map((c) => `${c.name}:${c.type}`)).toEqual(['id:BIGINT', 'note:VARCHAR', 'amount:BIGINT', 'code:VARCHAR', 'consent:BOOLEAN', 'country:VARCHAR', 'tag:VARCHAR']);
  });

  it('profiles from the same passes: the histogram holds exactly the values that are numbers, top-k the exact counts', () => {
    const amount = report.profile.columns.find((c) => c.name === 'amount')!;
    expect(amount.numeric!.histogram.counts.reduce((a, b) => a + b, 0)).toBe(ROWS + 2 - 500);
    expect(report.profile.columns.find((c) => c.name === 'country')!.topK).toEqual([
      { value: 'DE', count: ROWS / 2 + 2 },
      { value: 'US', count: ROWS / 2 },
    ]);
  });

  it("bins a histogram by the sample's range, the first and last bins reaching out to the column's min and max, with exact counts", () => {
    const amounts = misleadingCsv().split('\n').slice(1, -1).map((line) => Number(line.split(',')[2])).filter((v) => !Number.isNaN(v));
    const [lo, hi] = [3, INFERENCE_SAMPLE_ROWS * 3];
    const width = (hi - lo) / 20;
    const counts = new Array<number>(20).fill(0);
    for (const v of amounts) counts[Math.min(Math.max(Math.floor((v - lo) / width), 0), 19)]!++;
    const edges = [lo, ...Array.from({ length: 19 }, (_, k) => lo + (k + 1) * width), 59_999 * 3];
    expect(report.profile.columns.find((c) => c.name === 'amount')!.numeric!.histogram).toEqual({ edges, counts, edgesFrom: 'sample' });
    expect(counts[19]).toBeGreaterThan(10_000);
  });

  it('counts values the sample had one by one, exactly; a column with values it lacked is counted in a pass of its own', () => {
    const col = (name: string) => report.profile.columns.find((c) => c.name === name)!;
    expect(col('country').distinctApprox).toBe(2);
    // A boolean column counts its values as booleans, whatever the file spelled them (yes, no).
    expect(col('consent').topK).toEqual([
      { value: 'true', count: ROWS },
      { value: 'false', count: 2 },
    ]);
    expect(col('tag').distinctApprox).toBeGreaterThan(1000);
  });

  it('pii@4 finds what the sample did not hold, with row numbers in file order', () => {
    const findings = check('pii').evidence.findings as Array<{ column: string; detector: string; count: number; rowNumbers: number[] }>;
    expect(findings).toEqual([
      { column: 'note', detector: 'email', count: 5, rowNumbers: [56_000, 57_000, 58_000, 59_000, 60_000] },
      { column: 'note', detector: 'phone', count: 1, rowNumbers: [59_500] },
      { column: 'tag', detector: 'email', count: 1, rowNumbers: [59_999] },
    ]);
    expect(check('pii').status).toBe('fail');
  });

  it('types@3, duplicates@1, consent@5 and residency@4 report exact counts and the first row numbers', () => {
    const amount = Array.from({ length: 100 }, (_, k) => 55_010 + 10 * k);
    expect(check('types').evidence).toEqual({ columns: [{ column: 'amount', expected: 'BIGINT', source: 'inferred', violations: 500, rowNumbers: amount }] });
    expect(check('duplicates').evidence).toEqual({ duplicateRows: 2, rowNumbers: [ROWS + 1, ROWS + 2] });
    expect(report.exclusions.map(({ predicate: _p, ...e }) => e)).toEqual([
      { reason: 'consent_withdrawn', rule: 'consent@4', rowCount: 2, rowNumbers: [55_000, 60_000] },
      { reason: 'residency_outside', rule: 'residency@3', rowCount: ROWS / 2, rowNumbers: Array.from({ length: 100 }, (_, k) => 2 * (k + 1)) },
    ]);
  });
});
