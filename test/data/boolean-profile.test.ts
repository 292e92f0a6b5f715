import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSnapshot } from '../../src/data/load.js';
import { runQuarantine } from '../../src/data/quarantine.js';
import { scratchDuckSuite } from './support.js';

const SPELLINGS = ['true', 'TRUE', 'True', 't', 'T', '1', 'yes', 'Y', 'y', 'false', 'FALSE', 'f', 'F', '0', 'no', 'NO', 'n'];

/**
 * A boolean column is the drift monitor's reference as booleans: a CSV export spelling them
 * TRUE, yes or 1 profiles as the same data written as JSON Lines or Parquet booleans does.
 */
describe('boolean profiles', () => {
  const session = scratchDuckSuite('booleans');

  it('CSV spellings count as true and false, as DuckDB reads each one, with the distinct count of booleans', async () => {
    const csv = await session.quarantineCsv('spellings', ['flag', ...SPELLINGS]);
    const cast = await session.duck().rows<{ v: string; b: boolean }>(`SELECT v, TRY_CAST(v AS BOOLEAN) AS b FROM unnest([${SPELLINGS.map((s) => `'${s}'`).join(', ')}]) t(v)`);
    const trues = cast.filter((r) => r.b === true).length;
    expect(trues + cast.filter((r) => r.b === false).length).toBe(SPELLINGS.length);
    const flag = csv.profile.columns[0]!;
    expect(flag.type).toBe('BOOLEAN');
    expect(flag.topK).toEqual([
      { value: 'true', count: trues },
      { value: 'false', count: SPELLINGS.length - trues },
    ]);
    expect(flag.distinctApprox).toBe(2);
  });

  it('the same data as CSV (yes/no) and JSON Lines (true/false) has one profile', async () => {
    const values = [true, true, false, true, null, false, true];
    const csv = await session.quarantineCsv('yes-no', ['id,flag', ...values.map((v, i) => `${i},${v === null ? '' : v ? 'yes' : 'no'}`)]);
    const path = join(session.dir(), 'flags.jsonl');
    await writeFile(path, values.map((v, i) => JSON.stringify({ id: i, flag: v })).join('\n') + '\n');
    const snapshot = await openSnapshot(session.duck(), { path, format: 'jsonl' });
    const jsonl = await runQuarantine(session.duck(), { snapshot, declared: { classification: 'internal' }, contract: undefined });
    // One profile; only the type the certified Parquet holds them as differs (a CSV file's values as written).
    expect({ ...csv.profile.columns[1], storedAs: 'BOOLEAN' }).toEqual(jsonl.profile.columns[1]);
    expect(csv.profile.columns[1]!.storedAs).toBe('VARCHAR');
    expect(csv.profile.columns[1]!.topK).toEqual([
      { value: 'true', count: 4 },
      { value: 'false', count: 2 },
    ]);
  });

  it('a value that is no boolean is left out of the counts (the types check reports it) but counts as a distinct value', async () => {
    const lines = ['flag', ...Array.from({ length: 199 }, (_, i) => (i % 2 ? 'true' : 'false')), 'maybe'];
    const flag = (await session.quarantineCsv('maybe', lines)).profile.columns[0]!;
    expect(flag.type).toBe('BOOLEAN');
    expect(flag.topK).toEqual([
      { value: 'false', count: 100 },
      { value: 'true', count: 99 },
    ]);
    expect(flag.distinctApprox).toBe(3);
  });
});
