import { AssayError } from '../core/index.js';
import type { DatasetFormat } from './types.js';

/**
 * Media types a dataset upload may declare. `application/octet-stream` needs an explicit
 * format; the others name theirs. The API streams these bodies instead of buffering them.
 */
export const UPLOAD_MEDIA_TYPES: Record<string, DatasetFormat | undefined> = {
  'text/csv': 'csv',
  'application/csv': 'csv',
  'application/x-ndjson': 'jsonl',
  'application/jsonl': 'jsonl',
  'application/x-jsonlines': 'jsonl',
  'application/vnd.apache.parquet': 'parquet',
  'application/x-parquet': 'parquet',
  'application/octet-stream': undefined,
};

/** Extensions of tab-separated text (Excel's "Text (Tab delimited)", most databases' TSV export): CSV whose delimiter is the tab. */
const TAB_SEPARATED = ['.tsv', '.tab'];
const isTabSeparated = (path: string): boolean => TAB_SEPARATED.some((ext) => path.toLowerCase().replace(/\.gz$/, '').endsWith(ext));

/** The media type the CLI sends for a file, by its extension (undefined when the extension names no format). */
export function mediaTypeForFile(path: string): string | undefined {
  const lower = path.toLowerCase().replace(/\.gz$/, '');
  if (lower.endsWith('.csv') || isTabSeparated(lower)) return 'text/csv';
  if (lower.endsWith('.jsonl') || lower.endsWith('.ndjson')) return 'application/x-ndjson';
  if (lower.endsWith('.parquet')) return 'application/vnd.apache.parquet';
  return undefined;
}

/** The delimiter a file's extension implies (a tab for `.tsv` and `.tab`), or undefined: the CLI sends it unless `--delimiter` says otherwise. */
export function delimiterForFile(path: string): string | undefined {
  return isTabSeparated(path) ? '\t' : undefined;
}

/**
 * The format of an upload: the explicit `format` wins when it agrees with the media type;
 * a disagreement, or an octet-stream without a format, is a 415 naming both.
 */
export function resolveFormat(input: { mediaType: string; format?: DatasetFormat | undefined }): DatasetFormat {
  const mediaType = input.mediaType.split(';')[0]!.trim().toLowerCase();
  if (!Object.hasOwn(UPLOAD_MEDIA_TYPES, mediaType)) {
    const given = mediaType === '' ? 'no Content-Type' : `unsupported media type ${mediaType}`;
    throw new AssayError('unsupported_media_type', `${given}: send CSV (text/csv), JSON Lines (application/x-ndjson) or Parquet (application/vnd.apache.parquet)`, {
      errors: [{ field: 'headers.content-type', message: `${mediaType === '' ? 'missing' : `unsupported: ${mediaType}`}; accepted: ${Object.keys(UPLOAD_MEDIA_TYPES).join(', ')}` }],
    });
  }
  const implied = UPLOAD_MEDIA_TYPES[mediaType];
  if (implied && input.format && implied !== input.format) {
    throw new AssayError('unsupported_media_type', `content type ${mediaType} is ${implied}, but format=${input.format} was given`, {
      errors: [{ field: 'query.format', message: `contradicts content-type ${mediaType}` }],
    });
  }
  const format = implied ?? input.format;
  if (!format) {
    throw new AssayError('unsupported_media_type', `${mediaType} does not name a format: pass format=csv|jsonl|parquet`, {
      errors: [{ field: 'query.format', message: 'required with application/octet-stream' }],
    });
  }
  return format;
}

const PARQUET_MAGIC = Buffer.from('PAR1', 'ascii');

/**
 * Checks the first bytes agree with the declared format: a Parquet file starts with `PAR1`, a
 * text format must not. Catches a file sent under the wrong type with a clear 415.
 */
export function assertMagic(format: DatasetFormat, head: Buffer): void {
  const isParquet = head.subarray(0, 4).equals(PARQUET_MAGIC);
  if (format === 'parquet' && !isParquet) {
    throw new AssayError('unsupported_media_type', 'declared Parquet, but the content does not start with the Parquet magic bytes PAR1', {
      errors: [{ field: 'body', message: 'not a Parquet file' }],
    });
  }
  if (format !== 'parquet' && isParquet) {
    throw new AssayError('unsupported_media_type', `declared ${format}, but the content is a Parquet file: send it as application/vnd.apache.parquet`, {
      errors: [{ field: 'body', message: 'Parquet content' }],
    });
  }
}
