import { existsSync, readFileSync, statSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { parseVerifierKey } from '../../audit/index.js';
import { checkDatasetManifestFiles, type TrustedKey } from '../../data/index.js';
import { EXIT, printable, printJson, type CommandContext } from '../io.js';

/** A note verifier key's raw Ed25519 key, or undefined when `text` is none. */
function rawKeyOf(text: string): Uint8Array | undefined {
  try {
    return parseVerifierKey(text.trim()).publicKey;
  } catch {
    return undefined;
  }
}

/**
 * The keys `--public-key` names: a note verifier key, a file holding one (as saved from
 * `GET /api/v1/audit/public-key?keyid=`), or the saved answer of `GET /api/v1/audit/public-keys`,
 * whose every key (with the span it signed in) is then trusted. Throws the usage error otherwise.
 */
export function readTrustedKeys(value: string): TrustedKey[] {
  const direct = rawKeyOf(value);
  if (direct) return [{ publicKey: direct }];
  if (!existsSync(value) || !statSync(value).isFile()) {
    throw new InvalidArgumentError('must be a note verifier key (name+keyid+base64key), or a file holding one or the key list of GET /api/v1/audit/public-keys');
  }
  const text = readFileSync(value, 'utf8');
  const single = rawKeyOf(text);
  if (single) return [{ publicKey: single }];
  let list: Array<{ publicKey?: unknown; createdAt?: unknown; retiredAt?: unknown }> | undefined;
  try {
    list = (JSON.parse(text) as { keys?: typeof list }).keys;
  } catch {
    list = undefined;
  }
  const keys = Array.isArray(list) ? list.map((k) => ({ raw: typeof k?.publicKey === 'string' ? rawKeyOf(k.publicKey) : undefined, k })) : [];
  if (keys.length === 0 || keys.some((k) => k.raw === undefined)) {
    throw new InvalidArgumentError(`${value} holds neither a note verifier key nor the key list of GET /api/v1/audit/public-keys`);
  }
  return keys.map(({ raw, k }) => ({
    publicKey: raw!,
    ...(typeof k.createdAt === 'string' ? { createdAt: k.createdAt } : {}),
    ...(typeof k.retiredAt === 'string' || k.retiredAt === null ? { retiredAt: k.retiredAt } : {}),
  }));
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
    .requiredOption('--public-key <key>', 'the log key you trust: name+keyid+base64key, a file holding it, or the saved key list of GET /api/v1/audit/public-keys', readTrustedKeys)
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
