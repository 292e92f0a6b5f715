import type { FieldIssue } from '../core/index.js';
import { literal } from './duck.js';
import type { DatasetFormat, ValueFormat } from './types.js';

/** Specifiers of DuckDB's strptime (https://duckdb.org/docs/sql/functions/dateformat) that name a calendar date's parts. */
export const DATE_SPECIFIERS = ['a', 'A', 'w', 'd', '-d', 'b', 'h', 'B', 'm', '-m', 'y', '-y', 'Y', 'j', '-j', 'U', 'W'];
/** … and those of a time of day, its fraction, offset or zone. */
export const TIME_SPECIFIERS = ['H', '-H', 'I', '-I', 'p', 'M', '-M', 'S', '-S', 'f', 'g', 'n', 'z', 'Z'];
const specifiersOf = (format: string): string[] | undefined => {
  const found: string[] = [];
  for (let i = 0; i < format.length; i++) {
    if (format[i] !== '%') continue;
    const spec = format[i + 1] === '-' ? format.slice(i + 1, i + 3) : format.slice(i + 1, i + 2);
    if (spec === '%') {
      i++;
      continue;
    }
    if (!DATE_SPECIFIERS.includes(spec) && !TIME_SPECIFIERS.includes(spec)) return undefined;
    found.push(spec);
    i += spec.length;
  }
  return found;
};

/** A declaration in words, for messages: `decimalSeparator ",", dateFormat "%d.%m.%Y"`, or DuckDB's own syntax. */
export function describeValueFormat(values: ValueFormat | null | undefined): string {
  const set = (['decimalSeparator', 'dateFormat', 'timestampFormat'] as const).flatMap((k) => (values?.[k] === undefined ? [] : [[k, values[k]] as const]));
  return set.length > 0 ? set.map(([k, v]) => `${k} ${JSON.stringify(v)}`).join(', ') : "DuckDB's own syntax (no declaration)";
}

/** The declaration without its unset fields, or undefined when nothing is declared (DuckDB's own syntax). */
export function declaredValues(values: ValueFormat | undefined): ValueFormat | undefined {
  const set = Object.fromEntries(Object.entries(values ?? {}).filter(([, v]) => v !== undefined));
  return Object.keys(set).length > 0 ? (set as ValueFormat) : undefined;
}

/** The declaration's problems, each naming its query parameter: wrong file format, unknown or misplaced specifiers. */
export function valueFormatIssues(values: ValueFormat, format: DatasetFormat): FieldIssue[] {
  const declared = Object.entries(values).filter(([, v]) => v !== undefined);
  if (format !== 'csv') return declared.map(([field]) => ({ field: `query.${field}`, message: `applies to CSV only: ${format === 'jsonl' ? 'JSON Lines' : 'Parquet'} values keep their own types` }));
  const issues: FieldIssue[] = [];
  const check = (field: 'dateFormat' | 'timestampFormat', pattern: string | undefined): void => {
    if (pattern === undefined) return;
    const specs = specifiersOf(pattern);
    if (pattern.length > 64 || /[\p{Cc}]/u.test(pattern)) issues.push({ field: `query.${field}`, message: 'at most 64 characters, no control characters' });
    else if (!specs) issues.push({ field: `query.${field}`, message: `unknown strptime specifier in ${JSON.stringify(pattern)}; known: ${[...DATE_SPECIFIERS, ...TIME_SPECIFIERS].map((s) => `%${s}`).join(' ')}` });
    else if (!specs.some((s) => DATE_SPECIFIERS.includes(s))) issues.push({ field: `query.${field}`, message: 'names no part of a date (e.g. %d.%m.%Y)' });
    else if (field === 'dateFormat' && specs.some((s) => TIME_SPECIFIERS.includes(s))) issues.push({ field: `query.${field}`, message: 'a DATE has no time of day: put formats with %H, %M… in timestampFormat' });
    else if (field === 'timestampFormat' && !specs.some((s) => s.endsWith('H') || s.endsWith('I'))) issues.push({ field: `query.${field}`, message: 'a TIMESTAMP has a time of day (%H or %I): put date-only formats in dateFormat' });
  };
  check('dateFormat', values.dateFormat);
  check('timestampFormat', values.timestampFormat);
  return issues;
}

/**
 * Digit groups before the decimal separator: a first group of one to three digits (not led by
 * 0), then threes, all split by one separator (the other mark, a space, a no-break space or a
 * narrow no-break space). The sign leads, or trails as SAP writes negatives (`1.234,56-`).
 */
const GROUPED_NUMBER = {
  ',': groupedNumber(',', '\\.'),
  '.': groupedNumber('\\.', ','),
};
function groupedNumber(decimal: string, group: string): string {
  const digits = `(?:${[group, ' ', '\u00a0', '\u202f'].map((s) => `[1-9][0-9]{0,2}(?:${s}[0-9]{3})+`).join('|')}|[0-9]+)(?:${decimal}[0-9]+)?`;
  return `[+-]?${digits}|${digits}-`;
}

/**
 * SQL: the text value `q` in DuckDB's number syntax when it is a number as `values` writes them;
 * `q` itself by default. Under a declared decimal comma anything else is no number (null); under
 * a declared point, values in DuckDB's own syntax (`1e5`, `.5`) stay numbers too.
 */
export function numberText(q: string, values: ValueFormat | undefined): string {
  const separator = values?.decimalSeparator;
  if (separator === undefined) return q;
  const text = `CAST(${q} AS VARCHAR)`;
  const plain = separator === ',' ? `replace(regexp_replace(${text}, '[. \u00a0\u202f]', '', 'g'), ',', '.')` : `regexp_replace(${text}, '[, \u00a0\u202f]', '', 'g')`;
  const otherwise = separator === ',' ? '' : ` ELSE ${text}`;
  return `CASE WHEN regexp_full_match(${text}, ${literal(GROUPED_NUMBER[separator])}) THEN CASE WHEN suffix(${text}, '-') THEN '-' || rtrim(${plain}, '-') ELSE ${plain} END${otherwise} END`;
}

/**
 * SQL: the text value `q` as a DATE or TIMESTAMP written in the declared format, or null;
 * undefined when `values` declares none for `t`. A TIMESTAMP with an offset or zone is the
 * instant in UTC (the session's zone, see duck.ts), as `temporalOf` gives ISO values.
 */
export function declaredTemporal(q: string, t: 'DATE' | 'TIMESTAMP', values: ValueFormat | undefined): string | undefined {
  const format = t === 'DATE' ? values?.dateFormat : values?.timestampFormat;
  return format === undefined ? undefined : `CAST(try_strptime(CAST(${q} AS VARCHAR), ${literal(format)}) AS ${t})`;
}
