import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { isAssayError, ValidationFailed } from '../core/index.js';
import { firstMixedLineEnding } from './csv-dialect.js';
import type { DuckDBType } from '@duckdb/node-api';
import { anyDouble, doublesAsText, listDepth } from './duck-type.js';
import { AGGREGATES_PER_FILE_READ, AGGREGATES_PER_QUERY, columnNameKey, ident, literal, SMALL_FILE_BYTES, type DuckSession } from './duck.js';
import type { ColumnType, DatasetFormat } from './types.js';

/** A column as loaded: its name and DuckDB's type for it (CSV columns load as VARCHAR). */
export interface LoadedColumn {
  name: string;
  duckType: string;
}

/** What `loadSnapshot` reads. */
export interface LoadInput {
  path: string;
  format: DatasetFormat;
  /** CSV only: the delimiter and the header names already checked by `readCsvHeader`. */
  csv?: { delimiter: string; header: string[] };
}

/**
 * Loads the raw snapshot into DuckDB table `raw`, in file order, so `rowid + 1` is the record
 * number (unless a column of the file is called `rowid`: see `shadowsRowid`). CSV loads strictly (every record must have the header's number of fields, quotes
 * must close) with every column as text: typing is the quarantine's job, not the reader's
 * guess. A file that cannot be read is refused with a 400 naming the line, never echoing its
 * content.
 */
export async function loadSnapshot(duck: DuckSession, input: LoadInput): Promise<LoadedColumn[]> {
  try {
    await duck.run(`CREATE OR REPLACE TABLE raw AS SELECT * FROM ${readerOf(input)}`);
  } catch (err) {
    // The server running out of disk or memory (an AssayError from the session) is not the file's fault.
    if (isAssayError(err)) throw err;
    throw await unreadable(input, err as Error);
  }
  const columns = await duck.rows<{ column_name: string; column_type: string }>('DESCRIBE raw');
  // A Parquet schema can name a column with NUL; no SQL text or database row could carry it.
  const nul = columns.findIndex((c) => c.column_name.includes('\u0000'));
  if (nul >= 0) throw new ValidationFailed(`column ${nul + 1} of the file has a name holding the NUL character (U+0000)`, [{ field: 'body', message: `NUL in the name of column ${nul + 1}` }]);
  if (input.format !== 'csv') refuseBlankColumnNames(columns.map((c) => c.column_name));
  if (input.format === 'jsonl') await refuseEmptyKeys(duck, { path: input.path, columns: columns.map((c) => c.column_name) });
  if (input.format === 'jsonl') await refuseKeysDifferingInCase(duck, { path: input.path, columns: columns.map((c) => c.column_name) });
  if (input.format === 'parquet') await refuseParquetColumnsDifferingInCase(duck, { path: input.path, columns: columns.map((c) => c.column_name) });
  const loaded = columns.map((c) => ({ name: c.column_name, duckType: c.column_type }));
  // JSON Lines numbers a DOUBLE may have rounded, at the top level or nested in objects and lists: integral values of 2^53 and more (counted in the same query as the records).
  const doubles = input.format === 'jsonl' ? await withDoubles(duck, loaded) : [];
  const suspect = doubles.map((c, i) => `, count(CASE WHEN ${anyDouble(ident(c.name), { type: c.type, test: (v) => `abs(${v}) >= ${2 ** 53} AND ${v} = trunc(${v})` })} THEN 1 END) AS d${i}`).join('');
  const [counts] = (await duck.rows<Record<string, number | bigint>>(`SELECT count(*) AS n${suspect} FROM raw`)) as [Record<string, number | bigint>];
  if (Number(counts.n) === 0) throw noRecords();
  if (input.format === 'parquet') return narrowWideIntegers(duck, { columns: loaded, refusal: async (key, record) => parquetBeyondBigint(key, record) });
  if (input.format !== 'jsonl') return loaded;
  await refuseRoundedIntegers(duck, { path: input.path, columns: doubles.filter((_c, i) => Number(counts[`d${i}`]) > 0) });
  const path = input.path;
  return narrowWideIntegers(duck, {
    columns: loaded,
    refusal: async (key, record) => roundedInteger({ path, key, record }, 'beyond the 64-bit integer range (−2^63 to 2^63−1)'),
  });
}

/**
 * The 400 for a Parquet column of unsigned 64-bit (or 128-bit) integers holding a value beyond
 * BIGINT: the schema has no wider integer type, and BIGINT would not be true of it.
 */
function parquetBeyondBigint(column: string, row: number): ValidationFailed {
  const where = `column "${column}" in row ${row}`;
  return new ValidationFailed(
    `${where} holds an integer beyond the 64-bit signed integer range (−2^63 to 2^63−1), which the schema's BIGINT cannot hold: write the column as a string (or as a DECIMAL) in the Parquet file`,
    [{ field: 'body', message: `${where}: an integer beyond the 64-bit signed range` }],
  );
}

/** A type holding integers beyond BIGINT somewhere inside (`HUGEINT`, `STRUCT(a UBIGINT)[]`): DuckDB's JSON reader's, or a Parquet file's UINT_64. */
const WIDE_INTEGER = /\b(UHUGEINT|HUGEINT|UBIGINT)\b/g;

/**
 * Makes BIGINT of every JSON Lines or Parquet column (or nested field) read as a wider integer,
 * and refuses the file (`refusal`, given the column and record number) when a value does not
 * fit: DuckDB's Parquet writer turns HUGEINT into DOUBLE, so 18446744073709551615 would be
 * certified as 18446744073709552000 while the schema says BIGINT, and a Parquet UINT_64 of
 * 18446744073709551615 would be recorded as BIGINT, which no BIGINT holds. DuckDB also widens
 * JSON columns whose values all fit (9223372036854775807 beside a negative number), which are
 * kept, exactly, as BIGINT.
 */
async function narrowWideIntegers(duck: DuckSession, input: { columns: LoadedColumn[]; refusal: (key: string, record: number) => Promise<ValidationFailed> }): Promise<LoadedColumn[]> {
  const narrowed: LoadedColumn[] = [];
  for (const c of input.columns) {
    const narrow = c.duckType.replace(WIDE_INTEGER, 'BIGINT');
    if (narrow === c.duckType) {
      narrowed.push(c);
      continue;
    }
    const q = ident(c.name);
    const [beyond] = await duck.rows<{ n: number | bigint }>(`SELECT n FROM (SELECT row_number() OVER () AS n, ${q} AS v FROM raw) WHERE TRY_CAST(v AS ${narrow}) IS DISTINCT FROM v LIMIT 1`);
    if (beyond) throw await input.refusal(c.name, Number(beyond.n));
    await duck.run(`ALTER TABLE raw ALTER ${q} TYPE ${narrow}`);
    narrowed.push({ name: c.name, duckType: narrow });
  }
  return narrowed;
}

/** A JSON Lines column whose type holds DOUBLE somewhere (`DOUBLE`, `STRUCT(x DOUBLE)`, `DOUBLE[][]`), with DuckDB's type of it. */
interface DoubleColumn {
  name: string;
  type: DuckDBType;
}

/** The columns whose type holds a DOUBLE, at the top level or nested. */
async function withDoubles(duck: DuckSession, columns: LoadedColumn[]): Promise<DoubleColumn[]> {
  // The test on DESCRIBE's text first: most files hold no DOUBLE and need no second look.
  if (!columns.some((c) => /\bDOUBLE\b/.test(c.duckType))) return [];
  return (await duck.columns('SELECT * FROM raw LIMIT 0')).filter(
    (c) => listDepth(c.type) <= MAX_LIST_DEPTH && anyDouble('v', { type: c.type, test: () => 'true' }) !== undefined,
  );
}

/**
 * Lists nested deeper than this are not searched for rounded integers: DuckDB takes minutes to
 * plan the nested lambdas that reach their values (40 levels did not finish), which no upload
 * may cost. Such a column's DOUBLEs are certified as DuckDB read them.
 */
const MAX_LIST_DEPTH = 8;

/**
 * Refuses JSON Lines where a DOUBLE (a column, or a field or list nested in one, of numbers with
 * fractions or integers beyond 64 bits) holds an integer written in digits that the DOUBLE does
 * not hold exactly (9007199254740993, 10^42), or a number beyond its range (1e400, read as
 * infinity): certified data would carry the rounded number, or infinity. The
 * file is read once more, only for `columns`, those holding an integral value of 2^53 or more,
 * with each such DOUBLE read as text: the number as written.
 */
async function refuseRoundedIntegers(duck: DuckSession, input: { path: string; columns: DoubleColumn[] }): Promise<void> {
  for (const c of input.columns) {
    const text = doublesAsText(c.type).toString();
    // The same places as the DOUBLEs in c.type (not every VARCHAR: a string of digits is exact).
    const rounds = anyDouble(ident(c.name), {
      type: c.type,
      test: (t) => `(regexp_full_match(${t}, '-?[0-9]+') AND NOT coalesce(TRY_CAST(CAST(${t} AS DOUBLE) AS HUGEINT) = TRY_CAST(${t} AS HUGEINT), false))`,
    });
    // A number beyond a double's range (1e400) reads as infinity, which JSON cannot even write.
    const overflows = anyDouble(ident(c.name), { type: c.type, test: (t) => `coalesce(isinf(TRY_CAST(${t} AS DOUBLE)), false)` });
    const reader = `read_json(${literal(input.path)}, format = 'newline_delimited', records = true, columns = {${literal(c.name)}: ${literal(text)}})`;
    const [found] = await duck.rows<{ n: number | bigint; o: boolean }>(`SELECT n, o FROM (SELECT row_number() OVER () AS n, ${rounds} AS r, ${overflows} AS o FROM ${reader}) WHERE r OR o LIMIT 1`);
    if (found?.o) throw await overflowingNumber({ path: input.path, key: c.name, record: Number(found.n) });
    if (found) throw await roundedInteger({ path: input.path, key: c.name, record: Number(found.n) }, 'that a column of numbers with fractions (DOUBLE) cannot hold exactly: beyond 2^53 or beyond 64 bits');
  }
}

/** The 400 for a JSON Lines number beyond a double's range, which would be certified as infinity, naming the key and line, never the value. */
async function overflowingNumber(input: { path: string; key: string; record: number }): Promise<ValidationFailed> {
  const where = `key "${input.key}" on line ${await lineOfRecord(input.path, input.record)}`;
  return new ValidationFailed(`${where} holds a number beyond the range of a double (about ±1.8e308), which would be certified as infinity: send such values as JSON strings ("1e400", not 1e400)`, [
    { field: 'body', message: `${where}: a number beyond the range of a double (send it as a JSON string)` },
  ]);
}

/** The 400 for a JSON Lines integer that would be certified rounded, naming the key and line, never the value. */
async function roundedInteger(input: { path: string; key: string; record: number }, why: string): Promise<ValidationFailed> {
  const line = await lineOfRecord(input.path, input.record);
  const where = `key "${input.key}" on line ${line}`;
  return new ValidationFailed(`${where} holds an integer ${why}, which would be rounded in the certified data: send such values as JSON strings ("12345678901234567890", not 12345678901234567890)`, [
    { field: 'body', message: `${where}: an integer that would be rounded (send it as a JSON string)` },
  ]);
}

/** The line (1-based) of JSON Lines record `record` (the last line when the file has fewer). */
async function lineOfRecord(path: string, record: number): Promise<number> {
  let records = 0;
  let last = 1;
  for await (const start of recordStarts(path)) {
    if (++records === record) return start.line;
    last = start.line;
  }
  return last;
}

/**
 * Each record's line (1-based) and first byte other than white space, in file order: lines of
 * only white space hold no record, as DuckDB's JSON Lines reader skips them.
 */
async function* recordStarts(path: string): AsyncGenerator<{ line: number; byte: number }> {
  let line = 1;
  let blank = true; // nothing but white space yet on this line
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    for (const byte of chunk) {
      if (byte === 0x0a) {
        line++;
        blank = true;
      } else if (blank && byte !== 0x20 && byte !== 0x09 && byte !== 0x0d) {
        blank = false;
        yield { line, byte };
      }
    }
  }
}

/**
 * Refuses a JSON Lines key or Parquet column whose name is only white space, as a CSV header's
 * blank name is: no examiner or SQL query can tell such a column by its name.
 */
function refuseBlankColumnNames(columns: string[]): void {
  const blank = columns.findIndex((c) => c.trim() === '');
  if (blank < 0) return;
  throw new ValidationFailed(`column ${blank + 1} of the file has a blank name (only white space)`, [{ field: 'body', message: `column ${blank + 1} has a blank name` }]);
}

/**
 * Refuses JSON Lines whose records hold the empty key `""`: DuckDB's reader quietly names that
 * column `C` and its position (`C0`, `C1`), a column the file does not have, and the schema,
 * checks and certified Parquet would carry the invented name. Only when a loaded name looks
 * like that are the file's own keys read (one more pass): a key genuinely called `C0` is fine.
 */
async function refuseEmptyKeys(duck: DuckSession, input: { path: string; columns: string[] }): Promise<void> {
  if (!input.columns.some((c) => /^C\d+$/.test(c))) return;
  const [{ n }] = (await duck.rows<{ n: number | bigint }>(
    `SELECT count(*) AS n FROM read_json_objects(${literal(input.path)}, format = 'newline_delimited') WHERE list_contains(json_keys(json), '')`,
  )) as [{ n: number | bigint }];
  if (Number(n) === 0) return;
  throw new ValidationFailed('records hold the empty key "", which DuckDB would name C0, C1…, a column the file does not have: name the key', [
    { field: 'body', message: `the empty key "" in ${Number(n)} record(s)` },
  ]);
}

/**
 * Whether a loaded column name looks like DuckDB's rename of one it took for a duplicate: its
 * readers ignore ASCII case in names, and call the second of "ID" and "id" `id_1`.
 */
function looksRenamed(columns: string[]): boolean {
  const keys = new Set(columns.map(columnNameKey));
  return columns.some((c) => {
    const m = /^(.+)_\d+$/.exec(c);
    return m !== null && keys.has(columnNameKey(m[1]!));
  });
}

/** The first two names DuckDB would take for one column (equal, or differing only in ASCII case), sorted; undefined when there are none. */
function caseTwins(names: Iterable<string>): [string, string] | undefined {
  const byKey = new Map<string, string>();
  for (const name of names) {
    const other = byKey.get(columnNameKey(name));
    if (other !== undefined) return [other, name].sort() as [string, string];
    byKey.set(columnNameKey(name), name);
  }
  return undefined;
}

/**
 * Refuses JSON Lines whose records hold keys that differ only in ASCII case ("ID" and "id"):
 * DuckDB's column names ignore that case, so its reader quietly renames the second (`id_1`), a
 * column the file does not have. Only when a loaded name looks like such a rename are the
 * file's own keys read (one more pass): a key genuinely called `id_1` is no rename.
 */
async function refuseKeysDifferingInCase(duck: DuckSession, input: { path: string; columns: string[] }): Promise<void> {
  if (!looksRenamed(input.columns)) return;
  const found = await duck.rows<{ k: string }>(`SELECT DISTINCT unnest(json_keys(json)) AS k FROM read_json_objects(${literal(input.path)}, format = 'newline_delimited')`);
  const twins = caseTwins(found.map((f) => f.k));
  if (!twins) return;
  const [a, b] = twins;
  throw new ValidationFailed(`records hold the keys "${a}" and "${b}", which differ only in case; column names ignore case, so they would be one column: rename one`, [
    { field: 'body', message: `keys "${a}" and "${b}" differ only in case` },
  ]);
}

/**
 * Refuses a Parquet file with two columns whose names differ only in ASCII case (or are
 * equal): `read_parquet` renames the second (`id_1`) as the JSON reader does. The file's own
 * names come from its footer (`parquet_schema`, metadata only), read only when a loaded name
 * looks like a rename.
 */
async function refuseParquetColumnsDifferingInCase(duck: DuckSession, input: { path: string; columns: string[] }): Promise<void> {
  if (!looksRenamed(input.columns)) return;
  const schema = await duck.rows<{ name: string; num_children: number | bigint | null }>(`SELECT name, num_children FROM parquet_schema(${literal(input.path)})`);
  const twins = caseTwins(topLevelNames(schema));
  if (!twins) return;
  const [a, b] = twins;
  const same = a === b ? `two columns named "${a}"` : `the columns "${a}" and "${b}", which differ only in case`;
  throw new ValidationFailed(`the file has ${same}; column names ignore case, so they would be one column: rename one`, [
    { field: 'body', message: a === b ? `column "${a}" twice` : `columns "${a}" and "${b}" differ only in case` },
  ]);
}

/** The top-level column names of a Parquet schema, flattened depth first as `parquet_schema` lists it (the root first). */
function topLevelNames(schema: Array<{ name: string; num_children: number | bigint | null }>): string[] {
  const names: string[] = [];
  // Children still to come of each element open on the way down; a loop, so deep nesting costs no stack.
  const open = [Number(schema[0]?.num_children ?? 0)];
  for (let i = 1; i < schema.length && open.length > 0; i++) {
    if (open.length === 1) names.push(schema[i]!.name);
    open[open.length - 1]! -= 1;
    const children = Number(schema[i]!.num_children ?? 0);
    if (children > 0) open.push(children);
    while (open.length > 0 && open[open.length - 1] === 0) open.pop();
  }
  return names;
}

/** 400 for a file that holds a header (or schema) but no records. */
export function noRecords(): ValidationFailed {
  return new ValidationFailed('the file has no records', [{ field: 'body', message: 'no records (header only)' }]);
}

/**
 * A snapshot the quarantine reads: its columns, and two FROM-clause sources over its records.
 * Queries over either fail with DuckDB's reader error when the file is malformed; `refuse`
 * turns that into the 400 that names the problem.
 */
export interface Snapshot {
  format: DatasetFormat;
  columns: LoadedColumn[];
  /** Every record, read in parallel: for aggregates, whose order does not matter. */
  scan: string;
  /** Every record in file order, with its 1-based record number in column `rowColumn`: for LIMIT queries that find row numbers. */
  numbered: string;
  /** A column name that is not one of the file's. */
  rowColumn: string;
  /** The 400 for a reader error met while querying the snapshot; any other error as it was (a promise: finding the line may read the file). */
  refuse(err: unknown): Promise<unknown>;
  /** Aggregates per query over `scan`: more for a large file, where each query is one more read of it. */
  aggregatesPerRead: number;
}

/**
 * Opens the snapshot for the quarantine without loading it when it is a large CSV file: the
 * checks read the file itself, in a few passes, so a large upload is never held in memory (or
 * spilled) as a table. Record numbers then come from `row_number() OVER ()` over a scan in file
 * order (DuckDB runs that scan on one thread, so it is used only for LIMIT queries). JSON Lines
 * and Parquet are loaded as table `raw` first: their readers infer types, which every pass would
 * otherwise repeat. So is a CSV file under SMALL_FILE_BYTES: a wide one is read once per slice
 * of aggregates, and each read parses every column, so re-reading it made the time grow with
 * the square of its columns (3,000 columns of 20 records: 96 s).
 */
export async function openSnapshot(duck: DuckSession, input: LoadInput): Promise<Snapshot> {
  const { size } = await stat(input.path);
  const small = size < SMALL_FILE_BYTES;
  const loaded = input.format !== 'csv' || small;
  const columns = loaded ? await loadSnapshot(duck, input) : input.csv!.header.map((name) => ({ name, duckType: 'VARCHAR' }));
  const rowColumn = unusedName(columns, '__record');
  const scan = loaded ? 'raw' : readerOf(input);
  const numbered = loaded && !shadowsRowid(columns) ? `(SELECT rowid + 1 AS ${ident(rowColumn)}, * FROM raw)` : `(SELECT row_number() OVER () AS ${ident(rowColumn)}, * FROM ${scan})`;
  const refuse = async (err: unknown): Promise<unknown> => (isReaderError(err) ? unreadable(input, err) : err);
  return { format: input.format, columns, scan, numbered, rowColumn, refuse, aggregatesPerRead: small ? AGGREGATES_PER_QUERY : AGGREGATES_PER_FILE_READ };
}

/**
 * True when one of the file's columns is called `rowid` (any case, as DuckDB compares names):
 * it then hides table `raw`'s own row id, so record numbers and file order come from
 * `row_number() OVER ()` in insertion order instead (Oracle exports carry a ROWID column).
 */
export function shadowsRowid(columns: Array<{ name: string }>): boolean {
  return columns.some((c) => c.name.toLowerCase() === 'rowid');
}

/** `base`, or `base` with a number appended, whichever no column is called. */
function unusedName(columns: Array<{ name: string }>, base: string): string {
  // In lower case: DuckDB's names ignore case, so `__RECORD` would be taken as well.
  const taken = new Set(columns.map((c) => c.name.toLowerCase()));
  let name = base;
  for (let i = 1; taken.has(name); i++) name = `${base}${i}`;
  return name;
}

/** DuckDB's errors for a CSV file it cannot parse (anything else, e.g. out of memory, is not the uploader's fault). */
function isReaderError(err: unknown): err is Error {
  return err instanceof Error && /CSV Error|Invalid Input Error|unicode/i.test(err.message);
}

function readerOf(input: LoadInput): string {
  const path = literal(input.path);
  switch (input.format) {
    case 'csv': {
      const { delimiter, header } = input.csv!;
      const columns = `{${header.map((h) => `${literal(h)}: 'VARCHAR'`).join(', ')}}`;
      return `read_csv(${path}, auto_detect = false, header = true, delim = ${literal(delimiter)}, quote = '"', escape = '"', strict_mode = true, null_padding = false, columns = ${columns})`;
    }
    case 'jsonl':
      // sample_size = -1: types are decided from every record, so a late record cannot fail the load.
      return `read_json(${path}, format = 'newline_delimited', records = true, sample_size = -1)`;
    case 'parquet':
      return `read_parquet(${path})`;
  }
}

/**
 * A 400 that says what is wrong and where, without the offending content (it may hold personal
 * data). DuckDB names no line when a CSV file mixes CRLF and LF line ends ("the CSV Parser state
 * machine reached an invalid state"), so then the file is read for the first line that differs.
 */
async function unreadable(input: LoadInput, err: Error): Promise<ValidationFailed> {
  if (input.format === 'jsonl' && /expected records, but got non-record JSON/i.test(err.message)) {
    const line = await firstLineNotAnObject(input.path);
    if (line !== undefined) {
      return new ValidationFailed(`malformed JSON Lines on line ${line}: each line must be a JSON object ({…}), not an array or a single value`, [
        { field: 'body', message: `line ${line} is not a JSON object` },
      ]);
    }
  }
  if (input.format === 'csv' && /state machine reached an invalid state/i.test(err.message)) {
    const mixed = await firstMixedLineEnding(input.path);
    if (mixed) {
      return new ValidationFailed(
        `malformed CSV: line ${mixed.line} ends in ${mixed.ending}, earlier lines in ${mixed.first}; the file mixes CRLF and LF line endings: convert it to one (e.g. with dos2unix)`,
        [{ field: 'body', message: `mixed line endings: line ${mixed.line} ends in ${mixed.ending}, earlier lines in ${mixed.first}` }],
      );
    }
  }
  return readerRefusal(input.format, err, input.format === 'jsonl' ? await jsonLineOf(input.path, err.message) : undefined);
}

/**
 * The file line of the record a DuckDB JSON error names. DuckDB 1.5 counts records, not lines
 * (blank lines are skipped), and its parser counts one ahead ("in line 2" for a bad first
 * record) while its transform errors (a duplicate key) name the record itself.
 */
async function jsonLineOf(path: string, message: string): Promise<number | undefined> {
  const named = /in line (\d+)/.exec(message)?.[1];
  if (named === undefined) return undefined;
  const record = Math.max(1, Number(named) - (/JSON transform error/.test(message) ? 0 : 1));
  let n = 0;
  for await (const start of recordStarts(path)) if (++n === record) return start.line;
  return undefined;
}

/** The first line (1-based) whose first byte other than white space does not open an object; blank lines are skipped, as DuckDB's reader skips them. */
async function firstLineNotAnObject(path: string): Promise<number | undefined> {
  for await (const start of recordStarts(path)) if (start.byte !== 0x7b) return start.line; // {
  return undefined;
}

/** The refusal of a file DuckDB could not read; `jsonLine` is the line of the JSON record it names (`jsonLineOf`). */
function readerRefusal(format: DatasetFormat, err: Error, jsonLine?: number): ValidationFailed {
  const message = err.message;
  const csvLine = /CSV Error on Line: (\d+)/.exec(message)?.[1];
  const line = csvLine ?? (jsonLine === undefined ? undefined : String(jsonLine));
  const where = line ? ` on line ${line}` : '';
  const fields = /Expected Number of Columns: (\d+) Found: (\d+)/.exec(message);
  if (fields) {
    return new ValidationFailed(`ragged rows: line ${line ?? '?'} has ${fields[2]} fields, the header has ${fields[1]}`, [
      { field: 'body', message: `ragged row at line ${line ?? '?'}: ${fields[2]} fields, expected ${fields[1]}` },
    ]);
  }
  const long = /Maximum line size of (\d+) bytes exceeded\. Actual Size:\s*(\d+)/.exec(message);
  if (long) {
    return new ValidationFailed(`line ${line ?? '?'} is ${long[2]} bytes long; a CSV record may have at most ${long[1]} bytes`, [
      { field: 'body', message: `record too long at line ${line ?? '?'}: ${long[2]} bytes, at most ${long[1]}` },
    ]);
  }
  if (/unicode|utf-8/i.test(message)) {
    return new ValidationFailed(`the file is not valid UTF-8${where}`, [{ field: 'body', message: `invalid UTF-8${where}` }]);
  }
  // Only DuckDB's own wording: every CSV error also lists the reader's options, "quote = \"" among them.
  if (/unterminated quote/i.test(message) && format === 'csv') {
    return new ValidationFailed(`malformed CSV${where}: a quoted field is not closed`, [{ field: 'body', message: `unterminated quote${where}` }]);
  }
  // The message quotes the whole record: only the key is repeated here, never a value.
  const duplicate = format === 'jsonl' ? /has duplicate key ("(?:[^"\\]|\\.)*")\s*$/m.exec(message.split('\n')[0] ?? '')?.[1] : undefined;
  if (duplicate) {
    return new ValidationFailed(`malformed JSON Lines${where}: the record holds the key ${duplicate} twice; each key of a record names one column`, [
      { field: 'body', message: `duplicate key ${duplicate}${where}` },
    ]);
  }
  if (format === 'jsonl' && /expected records, but got non-record JSON/.test(message)) {
    return new ValidationFailed('malformed JSON Lines: no record holds a key, so there is no column to certify', [{ field: 'body', message: 'no record holds a key' }]);
  }
  if (format === 'jsonl') {
    const why = /: ([^:\n]+?)\.?\s*$/m.exec(message.split('\n')[0] ?? '')?.[1] ?? 'not a JSON object per line';
    return new ValidationFailed(`malformed JSON Lines${where}: ${why}`, [{ field: 'body', message: `malformed JSON${where}` }]);
  }
  if (format === 'parquet') {
    return new ValidationFailed('not a readable Parquet file', [{ field: 'body', message: 'invalid Parquet' }]);
  }
  return new ValidationFailed(`malformed CSV${where}`, [{ field: 'body', message: `unreadable${where}` }]);
}

/**
 * A column's type as the schema records it (`storedAs`): DuckDB's type text, with a NUL (which
 * only a Parquet struct field's name can hold, and which no database row can) written as the
 * six characters `\u0000`, so that such a file is certified as before, its field named visibly.
 */
export function storedTypeOf(duckType: string): string {
  return duckType.replaceAll('\u0000', '\\u0000');
}

const INTEGER_TYPES = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT)$/;

/** The logical type of a column DuckDB typed itself (JSON Lines, Parquet). */
export function logicalTypeOf(duckType: string): ColumnType {
  if (INTEGER_TYPES.test(duckType)) return 'BIGINT';
  if (/^(DOUBLE|FLOAT|REAL|DECIMAL.*)$/.test(duckType)) return 'DOUBLE';
  if (duckType === 'BOOLEAN') return 'BOOLEAN';
  if (duckType === 'DATE') return 'DATE';
  if (duckType.startsWith('TIMESTAMP')) return 'TIMESTAMP';
  if (duckType === 'VARCHAR') return 'VARCHAR';
  return 'OTHER';
}
