import { listValue } from '@duckdb/node-api';
import type { CountProbe } from './checks/index.js';
import { ident, type DuckSession } from './duck.js';
import type { PlannedColumn } from './inspect.js';
import type { HistogramEntries } from './profile.js';

/**
 * Columns whose sampled values are few enough (at most `maxDistinct` distinct) that their
 * single-column predicates are better evaluated once per distinct value than once per record:
 * their value counts are taken in the detail pass anyway (for the profile's top-k). Only
 * columns read as text, whose values the counts hold exactly.
 */
export async function sampledDictionaryColumns(duck: DuckSession, input: { sample: string; columns: PlannedColumn[]; maxDistinct: number }): Promise<Set<string>> {
  const text = input.columns.filter((c) => c.duckType === 'VARCHAR');
  if (text.length === 0) return new Set();
  const [row] = await duck.rows<Record<string, number>>(`SELECT ${text.map((c, i) => `count(DISTINCT ${ident(c.name)}) AS d${i}`).join(', ')} FROM ${input.sample}`);
  return new Set(text.filter((_, i) => row![`d${i}`]! <= input.maxDistinct).map((c) => c.name));
}

/**
 * The exact count of each probe from its column's value counts: the predicate is evaluated on
 * every distinct value (and on null, for the column's nulls), and each value counts as often
 * as it occurs. The values go to DuckDB as a bound parameter, never into the SQL text.
 */
export async function countFromValues(duck: DuckSession, input: { column: string; probes: CountProbe[]; values: HistogramEntries; nulls: number }): Promise<Map<string, number>> {
  const counts = new Map(input.probes.map((p) => [p.key, 0]));
  if (input.probes.length === 0) return counts;
  const occurrences = new Map<string | null, number>(input.values.map((e) => [e.key as string, e.value]));
  occurrences.set(null, input.nulls);
  const holds = input.probes.map((p, i) => `coalesce((${p.predicate((sql) => sql)}), false) AS p${i}`);
  const rows = await duck.rows<Record<string, string | boolean | null>>(
    `SELECT ${ident(input.column)} AS value, ${holds.join(', ')} FROM (SELECT unnest($1::VARCHAR[]) AS ${ident(input.column)})`,
    [listValue([...occurrences.keys()])],
  );
  for (const row of rows) {
    const times = occurrences.get(row.value as string | null)!;
    input.probes.forEach((p, i) => row[`p${i}`] === true && counts.set(p.key, counts.get(p.key)! + times));
  }
  return counts;
}
