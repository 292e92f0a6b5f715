import { listValue } from '@duckdb/node-api';
import type { CountProbe } from './checks/index.js';
import { aggregateRow, ident, type DuckSession } from './duck.js';
import type { PlannedColumn } from './inspect.js';
import type { AggregatePass } from './pass.js';
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
  const distinct = text.map((c, i) => `count(DISTINCT ${ident(c.name)}) AS d${i}`);
  const row = (await aggregateRow((sql) => duck.rows(sql), { select: distinct, from: input.sample })) as Record<string, number>;
  return new Set(text.filter((_, i) => row![`d${i}`]! <= input.maxDistinct).map((c) => c.name));
}

/** A few-valued column's distinct sampled values, as the ENUM type the shared pass counts its values by. */
export interface Dictionary {
  column: string;
  type: string;
  /** The type's values, by code. */
  values: string[];
}

/**
 * An ENUM type per column holding the distinct non-null values its sampled records have. The
 * shared pass counts a column's values by their codes in it, so its counts never hold more
 * entries than the sample had values (memory stays bounded whatever the rest of the file holds);
 * values the dictionary lacks are left out and show as a shortfall (see `planValueCounts`).
 * The values go from the sample into the type by a query, never through SQL text.
 */
export async function sampleDictionaries(duck: DuckSession, input: { sample: string; columns: string[] }): Promise<Map<string, Dictionary>> {
  const dictionaries = new Map<string, Dictionary>();
  for (const [i, column] of input.columns.entries()) {
    const type = `assay_values_${i}`;
    const q = ident(column);
    await duck.run(`DROP TYPE IF EXISTS ${type}`);
    await duck.run(`CREATE TYPE ${type} AS ENUM (SELECT DISTINCT ${q} FROM ${input.sample} WHERE ${q} IS NOT NULL)`);
    const [row] = await duck.rows<{ v: string[] }>(`SELECT enum_range(NULL::${type}) AS v`);
    dictionaries.set(column, { column, type, values: row!.v });
  }
  return dictionaries;
}

/**
 * Adds to `pass` the value counts of each dictionary's column, over the values it holds.
 * The reader returns them by column, with how many non-null values they account for: when
 * that falls short of the column's non-null count, the file holds values the sample did not.
 */
export function planValueCounts(pass: AggregatePass, dictionaries: Dictionary[]): (result: Record<string, unknown>) => Map<string, { entries: HistogramEntries; counted: number }> {
  const keys = dictionaries.map((d) => [d, pass.add(`histogram(enum_code(TRY_CAST(${ident(d.column)} AS ${d.type})))`)] as const);
  return (result) =>
    new Map(
      keys.map(([d, key]) => {
        const entries = ((result[key] as Array<{ key: number; value: number }> | null) ?? []).map((e) => ({ key: d.values[e.key], value: e.value }));
        return [d.column, { entries, counted: entries.reduce((n, e) => n + e.value, 0) }];
      }),
    );
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
