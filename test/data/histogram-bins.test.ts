import { describe, expect, it } from 'vitest';
import { INFERENCE_SAMPLE_ROWS } from '../../src/data/inspect.js';
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
