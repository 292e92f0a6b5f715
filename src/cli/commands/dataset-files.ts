import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { DatasetVersionRecord } from '../../data/index.js';
import { getJson, serverFor, SERVER_URL_HELP } from '../client.js';
import { assertWritable, downloadFile, type DownloadedFile } from '../download.js';
import { inFlagTerms } from '../flag-terms.js';
import { EXIT, printable, printJson, type CommandContext } from '../io.js';
import { progressBar } from '../upload.js';
import { datasetVersion } from './dataset-version.js';

/** The arguments behind the route's fields, so a refusal names what was typed. */
const FILE_FIELDS = { 'params.name': 'NAME', 'params.version': '--version' };

interface FileOptions {
  version: string;
  out?: string;
  force?: boolean;
  url?: string;
}

type Certified = NonNullable<DatasetVersionRecord['certified']>;

/** One file a certified version has, fetched by its own command. */
interface CertifiedFile {
  command: string;
  description: string;
  /** The route under the version, and the default file name's ending. */
  route: 'parquet' | 'manifest';
  suffix: string;
  /** What the file is, for "only a certified version has …". */
  noun: string;
  /** The SHA-256 the version record states for the file. */
  sha256: (c: Certified) => string;
  /** What is reported once the file is verified and in place. */
  report: (arrived: Arrived) => { json: object; text: string; warning?: string };
}

interface Arrived {
  name: string;
  version: DatasetVersionRecord & { certified: Certified };
  out: string;
  got: DownloadedFile;
}

const FILES: CertifiedFile[] = [
  {
    command: 'download',
    description: "fetch a certified version's rows (its Parquet file, audited by the server), verified against the SHA-256 the version record states",
    route: 'parquet',
    suffix: '.parquet',
    noun: 'a Parquet file',
    sha256: (c) => c.parquetSha256,
    report: ({ name, version: v, out, got }) => {
      const erasureRequests = Number(got.headers['assay-erasure-requests'] ?? 0);
      return {
        json: { dataset: name, version: v.version, path: out, sha256: got.sha256, size: got.size, rows: v.certified.rows, erasureRequests },
        text: `${printable(name)} v${v.version}: ${got.size} bytes, ${v.certified.rows} rows, sha256:${got.sha256} verified, written to ${printable(out)}\n`,
        ...(erasureRequests > 0
          ? {
              warning: `warning: ${erasureRequests} erasure request${erasureRequests === 1 ? '' : 's'} (GDPR Art. 17) reached ${printable(name)} v${v.version}: its rows may hold the data of subjects who asked to be erased; ask the dataset's data steward before you use it (assay data erasure-requests list)\n`,
            }
          : {}),
      };
    },
  },
  {
    command: 'manifest',
    description:
      "save a certified version's signed manifest exactly as served (for assay dataset verify-manifest), verified against the manifest SHA-256 the version record and its dataset.promote audit entry state",
    route: 'manifest',
    suffix: '.manifest.json',
    noun: 'a manifest',
    sha256: (c) => c.manifestSha256,
    report: ({ name, version: v, out, got }) => ({
      json: { dataset: name, version: v.version, path: out, sha256: got.sha256, size: got.size },
      text: `${printable(name)} v${v.version}: manifest sha256:${got.sha256} verified, written to ${printable(out)}\n`,
    }),
  },
];

/** Adds `assay dataset download` and `assay dataset manifest`: a certified version's files, each verified against the SHA-256 its version record states before it takes its name. */
export function registerCertifiedFileCommands(dataset: Command, ctx: CommandContext): void {
  const { io } = ctx;
  const json = (): boolean => ctx.globals().json === true;
  const inArgumentTerms = (err: unknown): never => {
    throw inFlagTerms(err, {}, { fields: !json(), paths: FILE_FIELDS });
  };

  for (const file of FILES) {
    dataset
      .command(file.command)
      .description(file.description)
      .argument('<name>', 'the dataset')
      .requiredOption('--version <n>', 'the certified version', datasetVersion)
      .option('--out <file>', `where to write it (default: <name>-v<version>${file.suffix} in the current directory)`)
      .option('--force', 'replace --out if it exists')
      .option('--url <url>', SERVER_URL_HELP)
      .action((name: string, opts: FileOptions) =>
        ctx.run(async () => {
          const out = resolve(io.cwd, opts.out ?? `${name}-v${opts.version}${file.suffix}`);
          const force = opts.force === true;
          // Refused before anything is fetched: a download is an audited access.
          await assertWritable(out, force);
          const target = serverFor(io, ctx.globals(), opts.url);
          const path = `/api/v1/datasets/${encodeURIComponent(name)}/versions/${opts.version}`;
          const v = await getJson<DatasetVersionRecord>(target, path).catch(inArgumentTerms);
          if (!v.certified) {
            io.stderr(`error: ${printable(name)} v${v.version} is not certified (state: ${v.state}): only a certified version has ${file.noun}\n`);
            return EXIT.failure;
          }
          const bar = process.stderr.isTTY && !json() ? progressBar(io.stderr) : undefined;
          const got = await downloadFile(target, { path: `${path}/${file.route}`, out, force, expectedSha256: file.sha256(v.certified), ...(bar ? { onProgress: bar.update } : {}) })
            .catch(inArgumentTerms)
            .finally(() => bar?.done());
          const report = file.report({ name, version: { ...v, certified: v.certified }, out, got });
          // With --json the answer says it all, and stderr carries only JSON errors.
          if (json()) printJson(io, report.json);
          else {
            if (report.warning) io.stderr(report.warning);
            io.stdout(report.text);
          }
          return EXIT.ok;
        })(),
      );
  }
}
