import { describe, expect, it } from 'vitest';
import { scratchDuckSuite } from './support.js';

const ORDER = "SELECT current_setting('preserve_insertion_order') AS kept";

/**
 * Aggregates may read in any order (in parallel); everything else must see records in file
 * order, since LIMIT queries over the snapshot are how row numbers are found.
 */
describe('DuckDB session: file order kept except inside aggregates', () => {
  const session = scratchDuckSuite('duck');

  it('keeps insertion order for ordinary queries', async () => {
    expect(await session.duck().rows(ORDER)).toEqual([{ kept: true }]);
  });

  it('lets an aggregate ignore it, then keeps it again', async () => {
    expect(await session.duck().aggregate(ORDER)).toEqual([{ kept: false }]);
    expect(await session.duck().aggregate<{ n: number }>('SELECT count(*) AS n FROM range(1000)')).toEqual([{ n: 1000 }]);
    expect(await session.duck().rows(ORDER)).toEqual([{ kept: true }]);
  });

  it('keeps it again after an aggregate that fails', async () => {
    await expect(session.duck().aggregate('SELECT count(*) FROM no_such_table')).rejects.toThrow(/no_such_table/);
    expect(await session.duck().rows(ORDER)).toEqual([{ kept: true }]);
  });
});
