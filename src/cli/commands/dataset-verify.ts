import { existsSync, readFileSync, statSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { checkDatasetManifestFiles, type TrustedKey } from '../../data/index.js';
import { EXIT, printable, printJson, type CommandContext } from '../io.js';
import { readTrustedKeys } from '../trusted-keys.js';

/** The keys `--public-key` names (`readTrustedKeys`), as the manifest check takes them; a usage error otherwise. */
function trustedKeysOption(value: string): TrustedKey[] {
  try {
    return readTrustedKeys(value).keys.map(({ key: _key, ...k }) => k);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

interface VerifyManifestOptions {
  publicKey: TrustedKey[];
  parquet?: string;
  snapshot?: string;
}

/** Adds `assay dataset verify-manifest`: an examiner's offline check of a signed dataset manifest. */
export function registerManifestVerify(dataset: Command, ctx: CommandContext): void {
  const { io, globals, run } = ctx;
  dataset
    .command('verify-manifest <file>')
    .description('check a manifest envelope (as GET …/versions/{v}/manifest served it) offline: its signature, and the files it certifies')
    .requiredOption('--public-key <key>', 'the log key you trust: name+keyid+base64key, a file holding it, or the saved key list of GET /api/v1/audit/public-keys', trustedKeysOption)
    .option('--parquet <file>', 'the certified Parquet file: its SHA-256 must be the manifest\'s first subject')
    .option('--snapshot <file>', 'the raw snapshot file: its SHA-256 must be the manifest\'s second subject')
    .action((file: string, opts: VerifyManifestOptions) =>
      run(async () => {
        const missing = [file, opts.parquet, opts.snapshot].find((f) => f !== undefined && !(existsSync(f) && statSync(f).isFile()));
        if (missing !== undefined) {
          io.stderr(`error: cannot read ${missing}: no such file\n`);
          return EXIT.usage;
        }
        const report = await checkDatasetManifestFiles({ envelope: readFileSync(file), keys: opts.publicKey, ...(opts.parquet ? { parquet: opts.parquet } : {}), ...(opts.snapshot ? { snapshot: opts.snapshot } : {}) });
        if (globals().json) {
          printJson(io, report);
          return report.ok ? EXIT.ok : EXIT.failure;
        }
        if (!report.ok) {
          io.stderr(`manifest NOT VERIFIED: ${report.problem.kind} — ${report.problem.detail}\n`);
          return EXIT.failure;
        }
        const r = report;
        const compared = (what: string, flag: string, [sha, checked]: [string, boolean]): string =>
          `  ${what} sha256:${sha}${checked ? ' matches the file given' : ` (not compared: pass ${flag})`}\n`;
        io.stdout(
          `manifest OK: ${printable(r.dataset)}@${r.version} (${r.versionId}) signed by key ${r.keyid}\n` +
            `  certified by ${printable(r.certifiedBy)} at ${r.certifiedAt}: ${r.rows} rows\n` +
            compared('parquet', '--parquet', [r.parquetSha256, r.parquetChecked]) +
            compared('raw snapshot', '--snapshot', [r.snapshotSha256, r.snapshotChecked]) +
            `  manifest sha256:${r.manifestSha256}: the dataset.promote entry in the audit log names it\n`,
        );
        for (const w of r.warnings) io.stderr(`warning: ${w}\n`);
        return EXIT.ok;
      })(),
    );
}
