import { createReadStream } from 'node:fs';
import { ValidationFailed } from '../core/index.js';
import { columnNameKey } from './duck.js';

/** Delimiters a CSV upload may use; anything else is refused. */
export const CSV_DELIMITERS = [',', ';', '\t', '|'] as const;

/** Splits the first `maxRecords` records of `text` by `delimiter`, honouring double quotes ("" escapes a quote). */
export function splitRecords(text: string, delimiter: string, maxRecords: number): string[][] {
  const records: string[][] = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length && records.length < maxRecords; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"' && field === '') quoted = true;
    else if (ch === delimiter) {
      fields.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      fields.push(field);
      records.push(fields);
      fields = [];
      field = '';
    } else field += ch;
  }
  // A last record without a newline counts only when the text is complete (no more bytes follow).
  return records;
}

const describe = (d: string): string => (d === '\t' ? 'tab' : `"${d}"`);

/**
 * The header of a CSV upload, checked against its declared delimiter. A file whose records
 * parse as a single column under the declared delimiter but as the same number (≥ 2) of
 * columns under another is refused: it is almost certainly, say, `;`-separated data declared
 * as comma-separated. Blank and duplicate column names are refused too: governed data needs
 * stable names.
 */
export function readCsvHeader(head: Buffer, input: { delimiter: string; complete: boolean }): string[] {
  // The head may end mid-character; the spool already proved the whole file is UTF-8.
  let text = head.toString('utf8');
  if (input.complete && !/[\r\n]$/.test(text)) text += '\n';
  else if (!input.complete) {
    const end = Math.max(text.lastIndexOf('\n'), text.lastIndexOf('\r'));
    text = end < 0 ? '' : text.slice(0, end + 1);
  }
  if (text === '' && !input.complete) {
    throw new ValidationFailed(`the CSV header line is longer than ${head.length} bytes, the most a header may have`, [
      { field: 'body.header', message: `longer than ${head.length} bytes` },
    ]);
  }
  const records = splitRecords(text.replace(/^\uFEFF/, ''), input.delimiter, 20);
  const header = records[0];
  refuseSeparatorHint(records[0]?.join(input.delimiter));
  if (!header || (header.length === 1 && header[0] === '')) {
    throw new ValidationFailed('the CSV file has no header line', [{ field: 'body', message: 'no header' }]);
  }
  if (header.length === 1) {
    for (const other of CSV_DELIMITERS.filter((d) => d !== input.delimiter)) {
      const alt = splitRecords(text, other, 20);
      const width = alt[0]?.length ?? 0;
      if (width >= 2 && alt.every((r) => r.length === width)) {
        throw new ValidationFailed(
          `wrong delimiter: declared ${describe(input.delimiter)}, but every line splits into ${width} columns on ${describe(other)}; pass delimiter=${other === '\t' ? '%09' : other}`,
          [{ field: 'query.delimiter', message: `the file looks ${describe(other)}-separated (${width} columns), not ${describe(input.delimiter)}-separated` }],
        );
      }
    }
  }
  const seen = new Map<string, { name: string; index: number }>();
  header.forEach((raw, i) => {
    const name = raw.trim();
    if (name === '') refuseBlankName(records, { at: i, delimiter: input.delimiter });
    const key = columnNameKey(name);
    const earlier = seen.get(key);
    if (earlier?.name === name) {
      throw new ValidationFailed(`CSV header names column "${name}" twice (columns ${earlier.index + 1} and ${i + 1})`, [
        { field: `body.header[${i + 1}]`, message: `duplicate column name "${name}"` },
      ]);
    }
    if (earlier) {
      throw new ValidationFailed(`CSV header names columns "${earlier.name}" and "${name}" (columns ${earlier.index + 1} and ${i + 1}), which differ only in case; column names ignore case`, [
        { field: `body.header[${i + 1}]`, message: `"${name}" repeats column ${earlier.index + 1} "${earlier.name}" but for case` },
      ]);
    }
    seen.set(key, { name, index: i });
  });
  return header.map((h) => h.trim());
}

/**
 * Excel writes `sep=;` as a file's first line to name its delimiter, and reads the header from
 * the next one; DuckDB (and every other reader of the certified Parquet) would take the hint
 * for the header. Refused, saying so, rather than misread as a one-column header.
 */
function refuseSeparatorHint(firstLine: string | undefined): void {
  const hint = /^sep=(.)$/i.exec(firstLine ?? '');
  if (!hint) return;
  const d = hint[1]!;
  const spelled = d === '\t' ? '%09' : d;
  throw new ValidationFailed(`the first line "sep=${d === '\t' ? '\\t' : d}" is Excel's delimiter hint, not a header: remove that line (e.g. sed -i 1d FILE) and pass delimiter=${spelled}`, [
    { field: 'body.header', message: `Excel's delimiter hint "sep=" instead of a header` },
  ]);
}

/**
 * A blank header name is refused. When it is the last, and the records seen end with an empty
 * field too, every line ends with the delimiter, as SAP and Excel exports on Windows write
 * them: the refusal says so and how to remove it.
 */
function refuseBlankName(records: string[][], input: { at: number; delimiter: string }): never {
  const { at, delimiter } = input;
  const field = `body.header[${at + 1}]`;
  const [header = [], ...rest] = records;
  const trailing = at === header.length - 1 && at > 0 && rest.length > 0 && rest.every((r) => r.length === header.length && r[at] === '');
  if (!trailing) throw new ValidationFailed(`CSV header column ${at + 1} has no name`, [{ field, message: 'blank column name' }]);
  const shown = describe(delimiter);
  const sed = delimiter === '\t' ? '\\t' : delimiter === '|' ? '\\|' : delimiter;
  throw new ValidationFailed(
    `CSV header column ${at + 1} has no name: every line ends with ${shown}, a trailing delimiter (as SAP and Excel exports write them), so the last column is unnamed and empty; remove it from every line, e.g. sed -i -E 's/${sed}(\\r?)$/\\1/' FILE`,
    [{ field, message: `blank column name: every line ends with ${shown}` }],
  );
}

const CR = 0x0d;
const LF = 0x0a;
const QUOTE = 0x22;

/**
 * The first line (1-based, as an editor counts them) whose end differs from the first line's,
 * CRLF against LF, or undefined when the file keeps to one: DuckDB's strict reader fails on a
 * file that mixes them without saying where. Line breaks inside quoted fields are data, not
 * line ends. Reads the file once, so it is asked only after DuckDB refused it.
 */
export async function firstMixedLineEnding(path: string): Promise<{ line: number; ending: 'CRLF' | 'LF'; first: 'CRLF' | 'LF' } | undefined> {
  let line = 1;
  let quoted = false;
  let afterCr = false;
  let first: 'CRLF' | 'LF' | undefined;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    for (const byte of chunk) {
      if (byte === LF) {
        if (!quoted) {
          const ending = afterCr ? 'CRLF' : 'LF';
          first ??= ending;
          if (ending !== first) return { line, ending, first };
        }
        line++;
      } else if (byte === QUOTE) quoted = !quoted; // a doubled quote ("") toggles twice
      afterCr = byte === CR;
    }
  }
  return undefined;
}
