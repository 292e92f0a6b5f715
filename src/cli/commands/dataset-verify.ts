import { existsSync, readFileSync, statSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { checkDatasetManifestFiles } from '../../data/index.js';
import { EXIT, printable, printJson, type CommandContext } from '../io.js';
import { readTrustedKeys, type TrustedKeyEntry } from '../trusted-keys.js';

/** The keys `--public-key` names (`readTrustedKeys`); a usage error otherwise. */
function trustedKeysOption(value: string): TrustedKeyEntry[] {
  try {
    return readTrustedKeys(value).keys;
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

interface VerifyManifestOptions {
  publicKey: TrustedKeyEntry[];
  parquet?: string;
  snapshot?: string;
  bundle?: string;
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
    .option('--bundle <path>', 'an audit bundle (assay audit export) that must verify under the same key(s) and hold the dataset.promote entry naming this manifest')
    .action((file: string, opts: VerifyManifestOptions) =>
      run(async () => {
        const missing = [file, opts.parquet, opts.snapshot].find((f) => f !== undefined && !(existsSync(f) && statSync(f).isFile()));
        if (missing !== undefined || (opts.bundle !== undefined && !existsSync(opts.bundle))) {
          io.stderr(`error: cannot read ${missing ?? opts.bundle}: no such file\n`);
          return EXIT.usage;
        }
        const keys = opts.publicKey.map(({ key: _key, ...k }) => k);
        const report = await checkDatasetManifestFiles({
          envelope: readFileSync(file),
          keys,
          ...(opts.parquet ? { parquet: opts.parquet } : {}),
          ...(opts.snapshot ? { snapshot: opts.snapshot } : {}),
          ...(opts.bundle !== undefined ? { bundle: { path: opts.bundle, publicKeys: opts.publicKey.map((k) => k.key) } } : {}),
        });
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
            (r.auditEntry
              ? `  manifest sha256:${r.manifestSha256}: recorded by audit entry ${r.auditEntry.index} (dataset.promote by ${printable(r.auditEntry.principalId)} at ${r.auditEntry.recordedAt}), in the bundle signed at log size ${r.auditEntry.checkpointSize}\n`
              : `  manifest sha256:${r.manifestSha256}: the dataset.promote entry in the audit log names it (not checked: pass --bundle)\n`),
        );
        for (const w of r.warnings) io.stderr(`warning: ${w}\n`);
        return EXIT.ok;
      })(),
    );
}
