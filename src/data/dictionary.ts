import { listValue } from '@duckdb/node-api';
import type { CountProbe } from './checks/index.js';
import { AGGREGATES_PER_QUERY, ident, type DistinctCounts, type DuckSession } from './duck.js';
import type { PlannedColumn } from './inspect.js';
import type { AggregatePass } from './pass.js';
import type { HistogramEntries } from './profile.js';

/**
 * Columns whose sampled values are few enough (at most `maxDistinct` distinct, by the sample's
 * exact counts) that their single-column predicates are better evaluated once per distinct
 * value than once per record: their value counts are taken in the detail pass anyway (for the
 * profile's top-k). Only columns read as text, whose values the counts hold exactly.
 */
export function sampledDictionaryColumns(input: { columns: PlannedColumn[]; sampled: DistinctCounts; maxDistinct: number }): Set<string> {
  return new Set(input.columns.filter((c) => c.duckType === 'VARCHAR' && input.sampled.distinct.get(c.name)! <= input.maxDistinct).map((c) => c.name));
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
  const typed = input.columns.map((column, i) => ({ column, type: `assay_values_${i}` }));
  // A few statements per column: a wide file has thousands, so they go in batches, each one call.
  for (let at = 0; at < typed.length; at += AGGREGATES_PER_QUERY) {
    const batch = typed.slice(at, at + AGGREGATES_PER_QUERY);
    await duck.run(
      batch
        .map(({ column, type }) => `DROP TYPE IF EXISTS ${type}; CREATE TYPE ${type} AS ENUM (SELECT DISTINCT ${ident(column)} FROM ${input.sample} WHERE ${ident(column)} IS NOT NULL);`)
        .join('\n'),
    );
    const [row] = await duck.rows<Record<string, string[]>>(`SELECT ${batch.map(({ type }, j) => `enum_range(NULL::${type}) AS v${j}`).join(', ')}`);
    batch.forEach(({ column, type }, j) => dictionaries.set(column, { column, type, values: row![`v${j}`]! }));
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

/** One column's probes and value counts, for `countFromValues`. */
export interface ValueCountedColumn {
  column: string;
  probes: CountProbe[];
  values: HistogramEntries;
  nulls: number;
}

/** The name a column goes by in `countFromValues`'s branches, whatever its own. */
const VALUE = '"assay_value"';

/**
 * `sql` with every double-quoted identifier naming `column` renamed `as`: a predicate reading
 * that one column (see CountProbe), over a column of another name. String literals are tokens of
 * their own, left as they are, so a literal holding the name is no reference to it.
 */
function renamed(sql: string, column: string, as: string): string {
  const name = ident(column);
  return sql.replace(/'(?:[^']|'')*'|"(?:[^"]|"")*"/g, (token) => (token === name ? as : token));
}

/**
 * The exact count of each probe from its column's value counts: the predicate is evaluated on
 * every distinct value (and on null, for the column's nulls), and each value counts as often
 * as it occurs. The values go to DuckDB as bound parameters, never into the SQL text. Columns
 * whose probes are the same predicates but for the column's name (a wide file's columns mostly
 * are: every number column has pii's same gates) share one branch, their values side by side:
 * DuckDB binds each branch's predicates anew, and one branch a column cost a 50-record file of 800
 * columns 20 s. Branches go in batches, one query each. Answers per column, per probe key.
 */
export async function countFromValues(duck: DuckSession, columns: ValueCountedColumn[]): Promise<Map<string, Map<string, number>>> {
  const counts = new Map(columns.map((c) => [c.column, new Map(c.probes.map((p) => [p.key, 0]))]));
  const asked = columns.filter((c) => c.probes.length > 0);
  const occurrences = asked.map((c) => new Map<string | null, number>([...c.values.map((e) => [e.key as string, e.value] as const), [null, c.nulls]]));
  // The columns (by position in `asked`) of each list of predicates over VALUE.
  const shapes = new Map<string, number[]>();
  asked.forEach((c, i) => {
    const holds = `[${c.probes.map((p) => `coalesce((${renamed(p.predicate((sql) => sql), c.column, VALUE)}), false)`).join(', ')}]::BOOLEAN[]`;
    shapes.set(holds, [...(shapes.get(holds) ?? []), i]);
  });
  const all = [...shapes];
  for (let at = 0; at < all.length; at += AGGREGATES_PER_QUERY) {
    const batch = all.slice(at, at + AGGREGATES_PER_QUERY);
    // One shape for all branches: (c, value, holds[]); a branch's two lists unnest side by side.
    const branches = batch.map(([holds], j) => `SELECT c, ${VALUE} AS value, ${holds} AS holds FROM (SELECT unnest($${2 * j + 1}::INTEGER[]) AS c, unnest($${2 * j + 2}::VARCHAR[]) AS ${VALUE})`);
    const params = batch.flatMap(([, members]) => {
      const pairs = members.flatMap((i) => [...occurrences[i]!.keys()].map((value) => [i, value] as const));
      return [listValue(pairs.map(([i]) => i)), listValue(pairs.map(([, value]) => value))];
    });
    const rows = await duck.rows<{ c: number; value: string | null; holds: boolean[] }>(branches.join(' UNION ALL '), params);
    for (const row of rows) {
      const c = asked[row.c]!;
      const times = occurrences[row.c]!.get(row.value)!;
      const mine = counts.get(c.column)!;
      c.probes.forEach((p, i) => row.holds[i] === true && mine.set(p.key, mine.get(p.key)! + times));
    }
  }
  return counts;
}
