import type { Command } from 'commander';
import { counted } from '../../core/index.js';
import type { ColumnProfile, DatasetProfile } from '../../data/index.js';
import { getJson, serverFor, SERVER_URL_HELP } from '../client.js';
import { inFlagTerms } from '../flag-terms.js';
import { EXIT, printable, printJson, type CommandContext } from '../io.js';
import { datasetVersion } from './dataset-version.js';

/** The arguments behind the route's fields, so a refusal names what was typed. */
const PROFILE_FIELDS = { 'params.name': 'NAME', 'params.version': '--version' };

const WITHHELD: Record<NonNullable<ColumnProfile['redacted']>, string> = {
  personal_data: 'values withheld: personal data found in the column',
  subject_id: 'values withheld: the subject id column',
  high_cardinality: 'no top values: too many distinct values for a categorical column',
};

/** A number as a person reads it in a table: whole numbers as they are, others to four significant digits. */
function shown(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Number(n.toPrecision(4)));
}

const percent = (rate: number): string => `${shown(rate * 100)}%`;

/** The lines of one column: its type and counts, then what its values look like. */
function columnLines(c: ColumnProfile): string[] {
  const stored = c.storedAs !== undefined && c.storedAs !== c.type ? ` (stored as ${c.storedAs})` : '';
  const lines = [`  ${printable(c.name)}  ${c.type}${stored}  ${counted(c.count, 'value')}, ${counted(c.nulls, 'null')} (${percent(c.nullRate)}), ~${c.distinctApprox} distinct\n`];
  if (c.numeric) {
    const q = Object.entries(c.numeric.quantiles).map(([k, v]) => `${k} ${shown(v)}`);
    // Statistics of fewer values than the column holds say so, or NaN and ±Infinity go unseen.
    const of = c.numeric.finite !== undefined && c.numeric.finite !== c.count ? ` (of ${counted(c.numeric.finite, 'finite number')}; ${c.count - c.numeric.finite} other: NaN, ±Infinity or no number)` : '';
    lines.push(`    min ${shown(c.numeric.min)}  ${q.join('  ')}  max ${shown(c.numeric.max)}; mean ${shown(c.numeric.mean)}${c.numeric.stddev !== null ? `, stddev ${shown(c.numeric.stddev)}` : ''}${of}\n`);
  }
  if (c.temporal) lines.push(`    from ${c.temporal.min} to ${c.temporal.max}\n`);
  if (c.text) lines.push(`    length ${c.text.minLength} to ${c.text.maxLength}, mean ${shown(c.text.meanLength)}\n`);
  // Values come from the data: escaped, so a line break or an escape sequence in one cannot rewrite what is read.
  if (c.topK?.length) lines.push(`    top: ${c.topK.map((t) => `${printable(JSON.stringify(t.value))} ${t.count}`).join(', ')}\n`);
  if (c.redacted) lines.push(`    ${WITHHELD[c.redacted]}\n`);
  return lines;
}

/** Adds `assay dataset profile`: a version's column profile (the drift monitor's reference), as a steward reads it. */
export function registerProfileCommand(dataset: Command, ctx: CommandContext): void {
  const { io } = ctx;
  const json = (): boolean => ctx.globals().json === true;
  dataset
    .command('profile')
    .description("a version's column profile: types, null rates, distinct counts, quantiles of numbers, ranges of dates, top values of categories (never values of personal data)")
    .argument('<name>', 'the dataset')
    .requiredOption('--version <n>', 'the version', datasetVersion)
    .option('--column <name>', 'only this column')
    .option('--url <url>', SERVER_URL_HELP)
    .action((name: string, opts: { version: string; column?: string; url?: string }) =>
      ctx.run(async () => {
        const { version } = opts;
        const profile = await getJson<DatasetProfile>(serverFor(io, ctx.globals(), opts.url), `/api/v1/datasets/${encodeURIComponent(name)}/versions/${version}/profile`).catch((err: unknown) => {
          throw inFlagTerms(err, {}, { fields: !json(), paths: PROFILE_FIELDS });
        });
        const columns = opts.column === undefined ? profile.columns : profile.columns.filter((c) => c.name === opts.column);
        if (columns.length === 0) {
          io.stderr(`error: ${printable(name)} v${version} has no column ${printable(JSON.stringify(opts.column))}; it has ${profile.columns.map((c) => printable(c.name)).join(', ')}\n`);
          return EXIT.failure;
        }
        if (json()) {
          printJson(io, { ...profile, columns });
          return EXIT.ok;
        }
        io.stdout([`${printable(name)} v${version}: ${counted(profile.rows, 'row')}, ${counted(profile.columns.length, 'column')}\n`, ...columns.flatMap(columnLines)].join(''));
        return EXIT.ok;
      })(),
    );
}
