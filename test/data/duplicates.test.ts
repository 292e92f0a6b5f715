import { describe, expect, it } from 'vitest';
import { INFERENCE_SAMPLE_ROWS } from '../../src/data/inspect.js';
import { scratchDuckSuite } from './support.js';

/**
 * duplicates@1 hashes a column the sample shows to be a key when it can, all fields when it
 * cannot, and compares records whose hashes repeat field by field: its count is exact either way.
 */
describe('duplicates@1: exact counts whichever hash decides', () => {
  const session = scratchDuckSuite('duplicates');
  const duplicates = async (name: string, lines: string[]): Promise<unknown> =>
    (await session.quarantineCsv(name, lines)).checks.find((c) => c.name === 'duplicates')!.evidence;

  it('no column is a key: records are compared whole, empty fields alike', async () => {
    expect(await duplicates('nokey', ['a,b', 'x,1', 'x,2', 'y,1', 'x,1', ',1', ',1', 'x,'])).toEqual({ duplicateRows: 2, rowNumbers: [4, 6] });
  });

  it('a key in the sample that repeats later decides nothing: a repeated key with other fields is no duplicate, the same record is', async () => {
    const lines = ['id,v'];
    for (let i = 1; i <= INFERENCE_SAMPLE_ROWS; i++) lines.push(`${i},${i % 7}`);
    lines.push('1,other', `2,${2 % 7}`);
    expect(await duplicates('key', lines)).toEqual({ duplicateRows: 1, rowNumbers: [INFERENCE_SAMPLE_ROWS + 2] });
  });

  it('a key that stays one proves every record distinct', async () => {
    expect(await duplicates('unique', ['id,v', '1,a', '2,a', '3,a'])).toEqual({ duplicateRows: 0, rowNumbers: [] });
  });
});
