import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { INFERENCE_SAMPLE_ROWS } from '../../src/data/inspect.js';
import { openSnapshot } from '../../src/data/load.js';
import { runQuarantine } from '../../src/data/quarantine.js';
import type { ColumnProfile } from '../../src/data/profile.js';
import { scratchDuckSuite } from './support.js';

/** Histograms are binned by the sample's range in the one pass over the file; their counts are exact whatever the rest holds. */
describe('histogram bins from the sample', () => {
  const session = scratchDuckSuite('bins');
  const numeric = async (name: string, values: string[]): Promise<NonNullable<ColumnProfile['numeric']>> =>
    (await session.quarantineCsv(name, ['level', ...values])).profile.columns[0]!.numeric!;

  it('a sample of one value: values up to it fall in the first bin, larger ones in the last, the outer edges are the column min and max', async () => {
    const later = ['1', '10', '7', '5', '-2'];
    const level = await numeric('constant', [...Array.from({ length: INFERENCE_SAMPLE_ROWS }, () => '5'), ...later]);
    expect(level.histogram).toEqual({ edges: [-2, ...new Array<number>(19).fill(5), 10], counts: [INFERENCE_SAMPLE_ROWS + 3, ...new Array<number>(18).fill(0), 2], edgesFrom: 'sample' });
    expect([level.min, level.max]).toEqual([-2, 10]);
  });

  it("a file the sample covers: 20 equal-width bins over the column's range", async () => {
    const level = await numeric('covered', Array.from({ length: 100 }, (_, i) => String(i)));
    expect(level.histogram.edgesFrom).toBe('range');
    const width = 99 / 20;
    const counts = new Array<number>(20).fill(0);
    for (let v = 0; v < 100; v++) counts[Math.min(Math.floor(v / width), 19)]!++;
    expect(level.histogram.edges).toEqual(Array.from({ length: 21 }, (_, k) => (k === 20 ? 99 : 0 + k * width)));
    expect(level.histogram.counts).toEqual(counts);
  });

  it('quantiles lie between the column min and max: a column of zeros (and -0) has every quantile 0, not the t-digest\'s 2.2e-308', async () => {
    for (const [name, values] of [['zeros', ['0', '0', '0', '0']], ['signed-zeros', ['-0.0', '0.0', '-0.0', '0.0']], ['zeros-and-one', [...new Array<string>(99).fill('0'), '1']]] as const) {
      const level = await numeric(name, [...values]);
      for (const [p, v] of Object.entries(level.quantiles)) {
        expect(v, `${name} ${p}`).toBeGreaterThanOrEqual(level.min);
        expect(v, `${name} ${p}`).toBeLessThanOrEqual(level.max);
      }
      if (level.max === 0) expect(new Set(Object.values(level.quantiles))).toEqual(new Set([0]));
    }
  });
});

/** Values at the ends of the double range, and far beyond the sample's, are binned like any other: the ingest never fails on them. */
describe('histogram bins at the ends of the double range', () => {
  const session = scratchDuckSuite('bins-extreme');
  const numeric = async (name: string, values: string[]): Promise<NonNullable<ColumnProfile['numeric']>> =>
    (await session.quarantineCsv(name, ['level', ...values])).profile.columns[0]!.numeric!;

  it('a range wider than any double (-1e308 to 1e308): finite edges, each value in its own bin', async () => {
    const level = await numeric('overflowing-range', ['-1e308', '0', '0.8e308', '1e308']);
    expect(level.histogram.edges.every((e) => Number.isFinite(e))).toBe(true);
    expect(level.histogram.edges[0]).toBe(-1e308);
    expect(level.histogram.edges[10]).toBe(0);
    expect(level.histogram.edges[20]).toBe(1e308);
    // 0.8e308 − (−1e308) overflows a double, yet it falls in bin 18 of 20, not the last.
    expect(level.histogram.counts).toEqual([1, ...new Array<number>(9).fill(0), 1, ...new Array<number>(7).fill(0), 1, 1]);
  });

  it('mean and standard deviation of values near the double range are the values\', not Infinity or a failed ingest', async () => {
    const wide = await numeric('wide-moments', ['-1e308', '0', '1e308']);
    expect([wide.mean, wide.stddev]).toEqual([0, 1e308]);
    const same = await numeric('same-huge', ['1e308', '1e308', '1e308']);
    expect([same.mean, same.stddev]).toEqual([1e308, 0]);
    // Its standard deviation (2.4e308) is no double: null, as JSON has no Infinity.
    const widest = await numeric('widest', ['-1.7e308', '1.7e308']);
    expect([widest.mean, widest.stddev]).toEqual([0, null]);
    const small = await numeric('small-moments', ['1e-200', '3e-200']);
    expect(small.mean).toBeCloseTo(2e-200, 210);
    const near = await numeric('near-max', ['1.7e308', '1.6e308', '1.5e308']);
    expect(near.mean / 1.6e308).toBeCloseTo(1, 12);
    expect(near.stddev! / 1e307).toBeCloseTo(1, 12);
  });

  it('the standard deviation of values near 1e-200, whose squares underflow a double, is theirs, not 0', async () => {
    // Sample standard deviations: √2·1e-200, 1e-200 (with a zero among them), and of two subnormals.
    for (const [values, sd] of [
      [['1e-200', '3e-200'], Math.SQRT2 * 1e-200],
      [['1e-200', '2e-200', '0'], 1e-200],
      [['-1e-300', '1e-300'], Math.SQRT2 * 1e-300],
      [['1e-310', '3e-310'], Math.SQRT2 * 1e-310],
    ] as Array<[string[], number]>) {
      const level = await numeric(`tiny-${values.join('_')}`, values);
      expect(level.stddev! / sd, values.join(',')).toBeCloseTo(1, 9);
    }
    const zeros = await numeric('zeros', ['0', '0', '-0']);
    expect([zeros.mean, zeros.stddev]).toEqual([0, 0]);
  });

  it('a value far beyond the sample range (1e30 after values in [0, 1]) falls in the last bin, though its bin number overflows a BIGINT', async () => {
    const sample = Array.from({ length: INFERENCE_SAMPLE_ROWS }, (_, i) => String(i % 2));
    const level = await numeric('far-outlier', [...sample, '1e30', '-1e30']);
    expect(level.histogram.edgesFrom).toBe('sample');
    expect([level.min, level.max]).toEqual([-1e30, 1e30]);
    expect(level.histogram.counts[0]).toBe(INFERENCE_SAMPLE_ROWS / 2 + 1);
    expect(level.histogram.counts[19]).toBe(INFERENCE_SAMPLE_ROWS / 2 + 1);
  });
});

/** NaN and ±Infinity are left out of a column's statistics; the profile says how many values those describe, so a drift reference sees them. */
describe('numeric statistics of fewer values than the column holds', () => {
  const session = scratchDuckSuite('bins-finite');

  it('a Parquet DOUBLE column of NaN, ±Infinity and one number: count 4, finite 1, and the histogram counts add up to finite', async () => {
    const path = join(session.dir(), 'non-finite.parquet');
    await session.duck().run(`COPY (SELECT * FROM (VALUES ('NaN'::DOUBLE), ('Infinity'::DOUBLE), (1.0::DOUBLE), ('-Infinity'::DOUBLE), (NULL::DOUBLE)) t(f)) TO '${path}' (FORMAT parquet)`);
    const snapshot = await openSnapshot(session.duck(), { path, format: 'parquet' });
    const column = (await runQuarantine(session.duck(), { snapshot, declared: { classification: 'internal' }, contract: undefined })).profile.columns[0]!;
    expect(column).toMatchObject({ count: 4, nulls: 1, numeric: { min: 1, max: 1, finite: 1 } });
    expect(column.numeric!.histogram.counts.reduce((a, b) => a + b, 0)).toBe(1);
  });

  it('a CSV column of numbers with a value that is no number: finite counts only the numbers', async () => {
    const values = [...Array.from({ length: 199 }, (_, i) => String(i)), 'n/a'];
    const column = (await session.quarantineCsv('one-text', ['level', ...values])).profile.columns[0]!;
    expect(column).toMatchObject({ type: 'BIGINT', count: 200, numeric: { min: 0, max: 198, finite: 199 } });
  });
});

describe('a column with no value', () => {
  const session = scratchDuckSuite('no-value');

  it('has counts only: no text lengths of null, as no numeric or temporal statistics', async () => {
    const report = await session.quarantineCsv('all-null', ['id,note', ...Array.from({ length: 10 }, (_, i) => `${i},`)]);
    const note = report.profile.columns.find((c) => c.name === 'note')!;
    expect(note).toMatchObject({ type: 'VARCHAR', count: 0, nulls: 10, nullRate: 1, distinctApprox: 0 });
    expect(note).not.toHaveProperty('text');
    expect(note).not.toHaveProperty('numeric');
  });
});
