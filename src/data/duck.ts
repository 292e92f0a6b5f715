import { availableParallelism } from 'node:os';
import { DuckDBInstance, type DuckDBConnection, type DuckDBType, type DuckDBValue } from '@duckdb/node-api';
import { InsufficientStorage, isStorageFull, Unavailable } from '../core/index.js';

/** A private in-process DuckDB for one ingest or promotion (see load.ts for how it reads the snapshot). */
export interface DuckSession {
  /** Runs `sql` and returns its rows as plain JavaScript (BIGINT as number, lists as arrays). */
  rows<T = Record<string, unknown>>(sql: string, params?: DuckDBValue[]): Promise<T[]>;
  /** The names and types (as DuckDB's own type objects, nested ones walkable) of the columns `sql` returns. */
  columns(sql: string): Promise<Array<{ name: string; type: DuckDBType }>>;
  /** Runs statements that return nothing worth reading. */
  run(sql: string, params?: DuckDBValue[]): Promise<void>;
  /**
   * `rows` for a query whose answer does not depend on the order records are read in
   * (aggregates): DuckDB may then read in parallel without keeping file order, which its CSV
   * reader otherwise does on about one core. Order is kept again afterwards, also on failure.
   */
  aggregate<T = Record<string, unknown>>(sql: string, params?: DuckDBValue[]): Promise<T[]>;
  close(): void;
}

/** Settings of a DuckDB session. */
export interface DuckOptions {
  /** Where DuckDB spills when a table outgrows its memory limit. */
  tempDir: string;
  /** e.g. `2GB`. */
  memoryLimit: string;
}

/**
 * Aggregates asked for in one query over a sample or a small file. DuckDB plans a query in time
 * that grows with the square of its aggregates (1,200 pattern counts over 20 records: 7.8 s in
 * one query, 2.5 s in slices of 300, 0.55 s in slices of 50), and an exact distinct count keeps a
 * hash table per thread even over a few records (300 of them outgrew a 256 MB memory limit). A
 * 50-record file of 800 columns once ran out of memory in one query. Where another read costs
 * little, a wide row is asked for in slices of this many.
 */
export const AGGREGATES_PER_QUERY = 50;

/**
 * Aggregates asked for in one read of a whole file of at least SMALL_FILE_BYTES: there each
 * slice costs a read of the file, so slices are larger. The ingest bench's pass (about 150
 * aggregates over 1 GB) is one read.
 */
export const AGGREGATES_PER_FILE_READ = 300;

/** Files smaller than this are read again rather than planned in large slices. */
export const SMALL_FILE_BYTES = 64 * 1024 * 1024;

/** A row of aggregates to ask for (see `aggregateRow`). */
export interface AggregateRowQuery {
  /** Aliased aggregates, `expr AS alias`. */
  select: readonly string[];
  /** The FROM clause; it may depend on the slice's expressions (a source computing only the derived columns they use). */
  from: string | ((slice: readonly string[]) => string);
  /** @default AGGREGATES_PER_QUERY */
  perQuery?: number;
}

/**
 * One row of aliased aggregates, asked for in slices of at most `perQuery` and merged. `ask`
 * runs one query (`rows` or `aggregate`).
 */
export async function aggregateRow(ask: (sql: string) => Promise<Array<Record<string, unknown>>>, query: AggregateRowQuery): Promise<Record<string, unknown>> {
  const { select, from } = query;
  const size = query.perQuery ?? AGGREGATES_PER_QUERY;
  const row: Record<string, unknown> = {};
  for (let i = 0; i < select.length; i += size) {
    const slice = select.slice(i, i + size);
    const [got] = await ask(`SELECT ${slice.join(', ')} FROM ${typeof from === 'string' ? from : from(slice)}`);
    Object.assign(row, got);
  }
  return row;
}

/**
 * Text cells (records × text columns) up to which `distinctCounts` unpivots a table. Measured on
 * two cores, 300 text columns: 2,000 records 0.1 s unpivoted against 1.4 s in slices, 10,000
 * records 0.8 s against 1.4 s, 20,000 records 1.5 s against 1.9 s. The pairs also make one hash
 * table, so it stays small.
 */
export const UNPIVOT_MAX_CELLS = 2_000_000;

/**
 * The same aggregates of every column of a small table, with one expression each: the columns'
 * values (`values`, SQL of type VARCHAR over `source`) unpivoted into (column, value) pairs and
 * grouped by column, at most UNPIVOT_MAX_CELLS cells a query. DuckDB binds every aggregate
 * expression of a query anew, and binding is what a wide table's per-column aggregates cost
 * (8,000 PII gate counts over a 50-record sample of 800 columns: 17 s in 160 queries). UNPIVOT
 * leaves nulls out, so `aggregates` (`expr AS alias` over the value `v`) must ignore them. Answers,
 * by column position, the aliased values and `n`, the non-null count; undefined where none.
 */
export async function unpivotedAggregates(
  duck: DuckSession,
  input: { source: string; rows: number; values: readonly string[]; aggregates: (v: string) => readonly string[] },
): Promise<Array<Record<string, unknown> | undefined>> {
  const answers = new Array<Record<string, unknown> | undefined>(input.values.length).fill(undefined);
  const chunk = Math.max(1, Math.floor(UNPIVOT_MAX_CELLS / Math.max(1, input.rows)));
  for (let at = 0; at < input.values.length; at += chunk) {
    // Columns by position (c0, c1…), so no name of the file's has to survive as a value.
    const columns = input.values.slice(at, at + chunk).map((sql, i) => `${sql} AS c${at + i}`);
    const found = await duck.rows<Record<string, unknown> & { k: string }>(
      `SELECT k, count(*) AS n, ${input.aggregates('v').join(', ')} FROM (UNPIVOT (SELECT ${columns.join(', ')} FROM ${input.source}) ON COLUMNS(*) INTO NAME k VALUE v) GROUP BY k`,
    );
    for (const row of found) answers[Number(row.k.slice(1))] = row;
  }
  return answers;
}

/**
 * A column `distinctCounts` counts (of type `duckType`): its values, or with `text`, the SQL
 * `text` makes of the SQL of its value, which must be null exactly where the value is.
 */
export interface DistinctColumn {
  name: string;
  duckType: string;
  text?: (value: string) => string;
}

/** A table's record count and each column's exact number of distinct non-null values. */
export interface DistinctCounts {
  rows: number;
  distinct: Map<string, number>;
}

/**
 * Exact distinct counts of `columns` over table `source` (a sample, or a small file loaded).
 * DuckDB keeps a hash table per `count(DISTINCT …)` and per thread, about 5 ms each even over
 * 20 records: 1,000 columns then cost seconds. Over a small table the text columns are
 * unpivoted into (column, value) pairs and counted in one query instead; other types (JSON
 * Lines, Parquet) are counted in slices, as their values must not be compared as text.
 */
export async function distinctCounts(duck: DuckSession, input: { source: string; columns: ReadonlyArray<DistinctColumn> }): Promise<DistinctCounts> {
  const [{ n: rows }] = (await duck.rows<{ n: number }>(`SELECT count(*) AS n FROM ${input.source}`)) as [{ n: number }];
  const valueOf = (c: DistinctColumn): string => (c.text ? c.text(ident(c.name)) : ident(c.name));
  const text = input.columns.filter((c) => c.duckType === 'VARCHAR');
  const unpivoted = text.length > 0 && rows * text.length <= UNPIVOT_MAX_CELLS ? text : [];
  const distinct = new Map<string, number>(unpivoted.map((c) => [c.name, 0]));
  if (unpivoted.length > 0) {
    // Columns by position (c0, c1…), so no name of the file's has to survive as a value. UNPIVOT
    // leaves nulls out. Columns whose values are counted by the same `text` share an UNPIVOT and
    // the text is made of the pairs' values, bound once for all of them (once per column, 533
    // number columns' texts cost a second of binding).
    const shapes = new Map<string, number[]>();
    unpivoted.forEach((c, i) => {
      const text = c.text ? c.text('v') : 'v';
      shapes.set(text, [...(shapes.get(text) ?? []), i]);
    });
    const branches = [...shapes].map(
      ([text, members]) => `SELECT k, ${text} AS v FROM (UNPIVOT (SELECT ${members.map((i) => `${ident(unpivoted[i]!.name)} AS c${i}`).join(', ')} FROM ${input.source}) ON COLUMNS(*) INTO NAME k VALUE v)`,
    );
    const found = await duck.rows<{ k: string; d: number }>(`SELECT k, count(v) AS d FROM (SELECT DISTINCT k, v FROM (${branches.join(' UNION ALL ')})) GROUP BY k`);
    for (const { k, d } of found) distinct.set(unpivoted[Number(k.slice(1))]!.name, d);
  }
  const rest = input.columns.filter((c) => !distinct.has(c.name));
  const row = await aggregateRow((sql) => duck.rows(sql), { select: rest.map((c, i) => `count(DISTINCT ${valueOf(c)}) AS d${i}`), from: input.source });
  rest.forEach((c, i) => distinct.set(c.name, row[`d${i}`] as number));
  return { rows, distinct };
}

/** The form under which DuckDB tells column names apart: it ignores the case of ASCII letters ("ID" and "id" are one column). */
export const columnNameKey = (name: string): string => name.replace(/[A-Z]/g, (c) => c.toLowerCase());

/** A DuckDB identifier, double-quoted. */
export const ident = (name: string): string => `"${name.replaceAll('"', '""')}"`;
/** A DuckDB string literal, single-quoted. */
export const literal = (value: string): string => `'${value.replaceAll("'", "''")}'`;
/** DuckDB string literals, comma-separated (an IN list's inside). */
export const literalList = (values: readonly string[]): string => values.map(literal).join(', ');

/**
 * SQL: column `name` as text. A column DuckDB typed JSON (a JSON Lines key holding strings in
 * some records, objects, arrays or numbers in others) casts a string with its quotes (`"yes"`):
 * with `json`, its strings are read as the strings they are.
 */
export function columnText(column: { name: string; json: boolean }): string {
  const q = ident(column.name);
  return column.json ? `(CASE WHEN json_type(${q}) = 'VARCHAR' THEN json_extract_string(${q}, '$') ELSE CAST(${q} AS VARCHAR) END)` : `CAST(${q} AS VARCHAR)`;
}

function plain(value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === 'object' && !(value instanceof Date) && !(value instanceof Uint8Array)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

/** Opens an in-memory DuckDB that spills to `tempDir` (one per ingest, so nothing outlives the request). */
export async function openDuckSession(options: DuckOptions): Promise<DuckSession> {
  const instance = await DuckDBInstance.create(':memory:', {
    memory_limit: options.memoryLimit,
    temp_directory: options.tempDir,
    // Every core reads and checks the file. Insertion order stays on (but inside `aggregate`): a
    // LIMIT over the snapshot must return its first records, which is how row numbers are found.
    threads: String(availableParallelism()),
    preserve_insertion_order: 'true',
    // The server reads files it was handed, nothing else: no extension downloads, no remote files.
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
  });
  const conn: DuckDBConnection = await instance.connect();
  // Values without a zone read as UTC and instants are given in UTC, whatever the host's zone (see inspect.ts `temporalOf`).
  await conn.run(`SET TimeZone = 'UTC'`);
  // Running out of memory or of spill space is the server's capacity, not the request's fault nor a bug: say so, and which setting decides it.
  const capacity = (err: unknown): unknown => {
    if (isStorageFull(err)) return new InsufficientStorage('the data engine (DuckDB) ran out of disk space for its spill files; nothing was kept', err);
    if (err instanceof Error && /Out of Memory Error/.test(err.message)) {
      return new Unavailable(`the data engine (DuckDB) needed more than its memory limit of ${options.memoryLimit} (data.duckdbMemoryLimit); an administrator can raise it`, err);
    }
    return err;
  };
  const rows = async <T>(sql: string, params?: DuckDBValue[]): Promise<T[]> => {
    try {
      const reader = await conn.runAndReadAll(sql, params);
      return reader.getRowObjectsJS().map((r) => plain(r) as T);
    } catch (err) {
      throw capacity(err);
    }
  };
  return {
    rows,
    async aggregate<T>(sql: string, params?: DuckDBValue[]) {
      await conn.run('SET preserve_insertion_order = false');
      try {
        return await rows<T>(sql, params);
      } finally {
        await conn.run('SET preserve_insertion_order = true');
      }
    },
    async columns(sql: string) {
      try {
        const result = await conn.run(sql);
        const types = result.columnTypes();
        return result.columnNames().map((name, i) => ({ name, type: types[i]! }));
      } catch (err) {
        throw capacity(err);
      }
    },
    async run(sql: string, params?: DuckDBValue[]) {
      try {
        await conn.run(sql, params);
      } catch (err) {
        throw capacity(err);
      }
    },
    close() {
      conn.closeSync();
      instance.closeSync();
    },
  };
}
