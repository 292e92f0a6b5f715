import { InvalidArgumentError, Option, type Command } from 'commander';
import { CSV_DELIMITERS, DATASET_FORMATS, DECIMAL_SEPARATORS, delimiterForFile, describeValueFormat, mediaTypeForFile, RESIDENCY_REGIONS, residencyOf, type DatasetRecord, type DatasetVersionRecord } from '../../data/index.js';
import { CLASSIFICATIONS } from '../../policy/index.js';
import { getAllPages, getJson, postJson, serverFor, SERVER_URL_HELP } from '../client.js';
import { flagsFor, inFlagTerms } from '../flag-terms.js';
import { EXIT, printable, printJson, type CommandContext } from '../io.js';
import { AnswerLost, progressBar, uploadFile } from '../upload.js';
import { registerCertifiedFileCommands } from './dataset-files.js';
import { DEFAULT_ANSWER_WAIT_SECONDS, findLostIngest, latestVersionBefore, parseAnswerWait } from './dataset-ingest-answer.js';
import { registerProfileCommand } from './dataset-profile.js';
import { datasetVersion } from './dataset-version.js';
import { registerManifestVerify } from './dataset-verify.js';
import { addDeriveOptions, derivationLine, derivationParams, erasureWarning, type DeriveOptions } from './data-derive.js';

type UrlOption = { url?: string };
interface IngestOptions extends UrlOption, DeriveOptions {
  name: string;
  sourceSystem: string;
  sourceDatasetNamespace?: string;
  sourceDatasetName?: string;
  classification: string;
  owner: string;
  purpose?: string;
  consentColumn?: string;
  subjectIdColumn?: string;
  residency?: string;
  residencyColumn?: string;
  delimiter?: string;
  decimalSeparator?: string;
  dateFormat?: string;
  timestampFormat?: string;
  format?: string;
  answerWait: number;
}

function parseDelimiter(value: string): string {
  const d = value === '\\t' || value.toLowerCase() === 'tab' ? '\t' : value;
  if (!(CSV_DELIMITERS as readonly string[]).includes(d)) throw new InvalidArgumentError('must be one of , ; | or tab');
  return d;
}

/** --residency as the server records it (upper case); refused before the upload starts unless the residency check understands it. */
function parseResidency(value: string): string {
  const residency = residencyOf(value);
  if (!residency) throw new InvalidArgumentError(`must be an ISO 3166-1 alpha-2 country code (e.g. DE) or a region (${RESIDENCY_REGIONS.join(', ')})`);
  return residency;
}

/** A version in one line, then who certified it and what (a certified version), and what it was derived from (a derived one). */
function versionLine(v: DatasetVersionRecord, indent = ''): string {
  const blocking = v.blockingFailures.length ? `  blocked by ${v.blockingFailures.join(', ')}` : '';
  // Without it a version certified past a failing check lists like one that passed every check.
  const waived = v.waived?.length ? `  waived by exception: ${v.waived.join(', ')}` : '';
  const excluded = v.exclusions.length ? `  excluded ${v.exclusions.map((e) => `${e.reason}: ${e.rowCount}`).join(', ')}` : '';
  const read = v.values ? `  read with ${describeValueFormat(v.values)}` : '';
  const c = v.certified;
  // Without this line a certified version whose failing check carries an exception reads as certified past a failure.
  // Where the file came from, as lineage links it: the OpenLineage dataset it was exported from.
  const source = v.sourceDataset ? `${indent}  exported from OpenLineage dataset ${printable(v.sourceDataset.name)} in namespace ${printable(v.sourceDataset.namespace)}\n` : '';
  const certified = c ? `${indent}  certified by ${c.by} at ${c.at}: ${c.rows} rows, parquet sha256:${c.parquetSha256}, manifest sha256:${c.manifestSha256}\n` : '';
  return `${indent}${v.datasetName} v${v.version}  ${v.state}  ${v.format}  ${v.rowCount} rows  sha256:${v.snapshot.sha256}  by ${v.ingestedBy} at ${v.ingestedAt}${blocking}${waived}${excluded}${read}\n${source}${certified}${v.derivation ? indent + derivationLine(v.derivation) : ''}`;
}

/**
 * A column of a version's schema in one line: its logical type and, where the certified Parquet
 * holds it otherwise, the type it is stored as (`DOUBLE  stored as DECIMAL(18,2)`: exact).
 */
function columnLine(c: DatasetVersionRecord['schema']['columns'][number]): string {
  const stored = c.storedAs !== undefined && c.storedAs !== c.type ? `  stored as ${printable(c.storedAs)}` : '';
  return `  column ${printable(c.name)}  ${c.type}${stored}${c.nullable ? '  nullable' : ''}\n`;
}

type ShownCheck = { name: string; version: number; status: string; blocking: boolean; result: string; override: { by: string; at: string; reason: string } | null };

/** A check in one line, and under it the exception it carries: who recorded it, when and why. */
function checkLines(c: ShownCheck): string {
  const line = `  ${c.status.padEnd(4)} ${`${c.name}@${c.version}`.padEnd(14)} ${c.blocking ? 'blocking' : '        '}  ${printable(c.result)}\n`;
  return c.override ? `${line}       exception by ${c.override.by} at ${c.override.at}: ${printable(c.override.reason)}\n` : line;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** The flag behind each query parameter `dataset ingest` sends, so the server's refusals read in its terms. */
const INGEST_FLAGS = flagsFor(
  ['sourceSystem', 'sourceDatasetNamespace', 'sourceDatasetName', 'classification', 'owner', 'purpose', 'consentColumn', 'subjectIdColumn', 'residency', 'residencyColumn', 'delimiter', 'decimalSeparator', 'dateFormat', 'timestampFormat', 'format', 'derivedFrom', 'codeSha256', 'codeUri', 'transform', 'parameters'],
  // Both flags make the one parameters object the server checks.
  { parameters: '--param/--params-file' },
);

/** The arguments and flags behind the fields `dataset promote` and `dataset override` send. */
const PROMOTE_FIELDS = { 'params.name': 'NAME', 'params.version': 'VERSION', 'body.overrides.*.check': '--override', 'body.overrides.*.reason': '--reason' };
const OVERRIDE_FIELDS = { 'params.name': 'NAME', 'params.version': 'VERSION', 'params.check': '--check', 'body.reason': '--reason' };

interface PromoteOptions extends UrlOption {
  override: string[];
  reason: string[];
}

/** Adds `assay dataset ingest|list|show|download|manifest|profile|verify-manifest|promote|override`: governed data through the running server (every change is audited there). */
export function registerDataCommands(program: Command, ctx: CommandContext): void {
  const { io } = ctx;
  const json = (): boolean => ctx.globals().json === true;
  const dataset = program.command('dataset').description('governed datasets: ingest into quarantine, checks, profiles');
  registerManifestVerify(dataset, ctx);
  registerProfileCommand(dataset, ctx);

  addDeriveOptions(dataset.command('ingest'))
    .description('stream FILE (CSV, JSON Lines or Parquet) to the server as a new version of a dataset, in quarantine')
    .argument('<file>', 'the file to ingest (.csv, .tsv/.tab (tab-separated), .jsonl/.ndjson, .parquet; or pass --format)')
    .requiredOption('--name <name>', 'dataset name (created on first ingest)')
    .requiredOption('--source-system <system>', 'the system the file comes from')
    .option('--source-dataset-namespace <ns>', 'OpenLineage namespace of the dataset the file was exported from, e.g. postgres://warehouse:5432 (with --source-dataset-name)')
    .option('--source-dataset-name <name>', 'OpenLineage name of that dataset, e.g. risk.public.loans (with --source-dataset-namespace): lineage links it upstream of the version')
    .addOption(new Option('--classification <class>', 'data classification').choices([...CLASSIFICATIONS]).makeOptionMandatory())
    .requiredOption('--owner <principal>', 'accountable owner (principal id or name)')
    .option('--purpose <text>', 'the purpose the data was collected for')
    .option('--consent-column <column>', 'rows whose consent is not given here are excluded')
    .option('--subject-id-column <column>', 'data subject id, indexed as salted hashes for erasure requests')
    .option('--residency <region>', 'where the data must stay: a country code (e.g. DE) or a region (EU, EEA)', parseResidency)
    .option('--residency-column <column>', "each row's country or region; rows outside --residency are excluded")
    .option('--delimiter <char>', 'CSV delimiter: , ; | or tab (default ,; tab for .tsv and .tab)', parseDelimiter)
    .addOption(new Option('--decimal-separator <char>', 'CSV numbers: , reads 1.234,56 as 1234.56, . reads 1,234.56 as 1234.56 (undeclared: no grouping)').choices([...DECIMAL_SEPARATORS]))
    .option('--date-format <strptime>', 'CSV dates, e.g. %d.%m.%Y (default ISO 8601)')
    .option('--timestamp-format <strptime>', 'CSV timestamps, e.g. "%d.%m.%Y %H:%M" (default ISO 8601)')
    .addOption(new Option('--format <format>', 'file format, when the extension does not say').choices([...DATASET_FORMATS]))
    .option('--answer-wait <seconds>', 'if the connection closes after the whole file was sent, look this long for the version the server makes from it (0: only report)', parseAnswerWait, DEFAULT_ANSWER_WAIT_SECONDS)
    .option('--url <url>', SERVER_URL_HELP)
    .action((file: string, opts: IngestOptions) =>
      ctx.run(async () => {
        const query = new URLSearchParams({ sourceSystem: opts.sourceSystem, classification: opts.classification, owner: opts.owner });
        for (const [key, value] of Object.entries({ sourceDatasetNamespace: opts.sourceDatasetNamespace, sourceDatasetName: opts.sourceDatasetName, purpose: opts.purpose, consentColumn: opts.consentColumn, subjectIdColumn: opts.subjectIdColumn, residency: opts.residency, residencyColumn: opts.residencyColumn, delimiter: opts.delimiter ?? (opts.format ? undefined : delimiterForFile(file)), decimalSeparator: opts.decimalSeparator, dateFormat: opts.dateFormat, timestampFormat: opts.timestampFormat, format: opts.format })) {
          if (value !== undefined) query.set(key, value);
        }
        const derivation = await derivationParams(opts);
        if (typeof derivation === 'string') {
          io.stderr(`error: ${derivation}\n`);
          return EXIT.usage;
        }
        for (const [key, value] of derivation) query.append(key, value);
        const target = serverFor(io, ctx.globals(), opts.url);
        let before: number | undefined;
        let erasureRequests = 0;
        const bar = process.stderr.isTTY && !json() ? progressBar(io.stderr) : undefined;
        const version = await uploadFile<DatasetVersionRecord>(target, {
          file,
          path: `/api/v1/datasets/${encodeURIComponent(opts.name)}/versions?${query.toString()}`,
          contentType: opts.format ? 'application/octet-stream' : (mediaTypeForFile(file) ?? 'application/octet-stream'),
          ...(bar ? { onProgress: bar.update } : {}),
          // After the file is found readable: a missing FILE is refused before the server is asked anything.
          ...(opts.answerWait > 0 ? { beforeSend: async () => void (before = await latestVersionBefore(target, opts.name)) } : {}),
          onAnswered: (headers) => void (erasureRequests = Number(headers['assay-erasure-requests'] ?? 0) || 0),
        })
          .finally(() => bar?.done())
          .catch((err: unknown) => {
            if (err instanceof AnswerLost) return findLostIngest(err, { target, name: opts.name, before, waitSeconds: opts.answerWait, say: io.stderr });
            throw inFlagTerms(err, INGEST_FLAGS, { fields: !json() });
          });
        if (json()) printJson(io, version);
        else io.stdout(versionLine(version));
        // On stderr in both modes: stdout stays the version (as --json prints it) for scripts.
        if (erasureRequests > 0) io.stderr(erasureWarning(erasureRequests, version));
        return EXIT.ok;
      })(),
    );

  dataset
    .command('list')
    .description('datasets you are cleared to see')
    .option('--url <url>', SERVER_URL_HELP)
    .action((opts: UrlOption) =>
      ctx.run(async () => {
        const all = await getAllPages<DatasetRecord>(serverFor(io, ctx.globals(), opts.url), { path: '/api/v1/datasets', query: {}, key: 'datasets' });
        if (json()) printJson(io, { datasets: all });
        else if (all.length === 0) io.stdout('no datasets\n');
        else for (const d of all) io.stdout(`${d.name}  ${d.classification}  owner ${d.ownerId}  latest v${d.latestVersion ?? '-'}\n`);
        return EXIT.ok;
      })(),
    );

  dataset
    .command('show')
    .description('a dataset and its versions; with --version, that version, its columns and its checks')
    .argument('<name>', 'the dataset')
    .option('--version <n>', 'one version, with its quarantine checks', datasetVersion)
    .option('--url <url>', SERVER_URL_HELP)
    .action((name: string, opts: UrlOption & { version?: string }) =>
      ctx.run(async () => {
        const target = serverFor(io, ctx.globals(), opts.url);
        const base = `/api/v1/datasets/${encodeURIComponent(name)}`;
        if (opts.version) {
          const v = await getJson<DatasetVersionRecord>(target, `${base}/versions/${encodeURIComponent(opts.version)}`);
          const { checks } = await getJson<{ checks: ShownCheck[] }>(target, `${base}/versions/${encodeURIComponent(opts.version)}/checks`);
          if (json()) printJson(io, { ...v, checks });
          else {
            io.stdout(versionLine(v));
            for (const c of v.schema.columns) io.stdout(columnLine(c));
            for (const c of checks) io.stdout(checkLines(c));
          }
          return EXIT.ok;
        }
        const d = await getJson<DatasetRecord>(target, base);
        const { versions } = await getJson<{ versions: DatasetVersionRecord[] }>(target, `${base}/versions`);
        if (json()) printJson(io, { ...d, versions });
        else {
          io.stdout(`${d.name}  ${d.classification}  owner ${d.ownerId}  created by ${d.createdBy} at ${d.createdAt}\n`);
          for (const v of versions) io.stdout(versionLine(v, '  '));
        }
        return EXIT.ok;
      })(),
    );

  registerCertifiedFileCommands(dataset, ctx);

  dataset
    .command('promote')
    .description('certify a quarantined version (never your own ingest): certified rows as Parquet and a signed manifest')
    .argument('<name>', 'the dataset')
    .argument('<version>', 'the version to certify', datasetVersion)
    .option('--override <check>', 'record an exception to this failing blocking check (repeatable; each needs a --reason)', collect, [])
    .option('--reason <text>', 'why the preceding --override may be waived (kept in the manifest and the audit log)', collect, [])
    .option('--url <url>', SERVER_URL_HELP)
    .action((name: string, version: string, opts: PromoteOptions) =>
      ctx.run(async () => {
        if (opts.override.length !== opts.reason.length) {
          io.stderr(`error: each --override needs its --reason (${opts.override.length} overrides, ${opts.reason.length} reasons)\n`);
          return EXIT.usage;
        }
        const overrides = opts.override.map((check, i) => ({ check, reason: opts.reason[i]! }));
        const target = serverFor(io, ctx.globals(), opts.url);
        const result = await postJson<{ version: DatasetVersionRecord; manifest: unknown }>(
          target,
          `/api/v1/datasets/${encodeURIComponent(name)}/versions/${encodeURIComponent(version)}/promote`,
          overrides.length > 0 ? { overrides } : {},
        ).catch((err: unknown) => {
          throw inFlagTerms(err, {}, { fields: !json(), paths: PROMOTE_FIELDS });
        });
        if (json()) printJson(io, result);
        else io.stdout(versionLine(result.version));
        return EXIT.ok;
      })(),
    );

  dataset
    .command('override')
    .description('record an exception to a failing blocking check of a quarantined version (never your own ingest), so another principal may certify it')
    .argument('<name>', 'the dataset')
    .argument('<version>', 'the quarantined version', datasetVersion)
    .requiredOption('--check <check>', 'the failing blocking check, e.g. pii')
    .requiredOption('--reason <text>', 'why it may be waived (kept with the exception, in the manifest and the audit log)')
    .option('--url <url>', SERVER_URL_HELP)
    .action((name: string, version: string, opts: UrlOption & { check: string; reason: string }) =>
      ctx.run(async () => {
        const target = serverFor(io, ctx.globals(), opts.url);
        const check = await postJson<{ name: string; version: number; override: { by: string; at: string; reason: string } }>(
          target,
          `/api/v1/datasets/${encodeURIComponent(name)}/versions/${encodeURIComponent(version)}/checks/${encodeURIComponent(opts.check)}/override`,
          { reason: opts.reason },
        ).catch((err: unknown) => {
          throw inFlagTerms(err, {}, { fields: !json(), paths: OVERRIDE_FIELDS });
        });
        if (json()) printJson(io, check);
        else io.stdout(`${name} v${version}: ${check.name}@${check.version} waived by ${check.override.by} at ${check.override.at}: ${printable(check.override.reason)}\n`);
        return EXIT.ok;
      })(),
    );
}
