import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { duplicateJsonKey, impreciseJsonNumber, plainTextIssue, sha256OfStream } from '../../core/index.js';
import type { DatasetDerivation } from '../../data/index.js';
import { printable } from '../io.js';

/**
 * `assay dataset ingest` flags that declare a derived version (a feature table): the certified
 * versions it was built from, the transformation code (hashed here, never uploaded) and its
 * parameters. They become the ingest's query parameters (derivedFrom, codeSha256, codeUri,
 * transform, parameters); the server checks the rest.
 */

/** The derivation flags as commander parses them. */
export interface DeriveOptions {
  derivedFrom: string[];
  code?: string;
  codeSha256?: string;
  codeUri?: string;
  transform?: string;
  param: Array<[string, unknown]>;
  paramsFile?: string;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** `key=value`; the value is JSON when it parses as JSON (`3`, `true`, `["a"]`), else the text itself. */
function parseParam(value: string, previous: Array<[string, unknown]>): Array<[string, unknown]> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError('must be KEY=VALUE, e.g. window=90 or columns=["age","duration"]');
  // The last value would win silently, and the version would record parameters other than the
  // ones the user typed; the server refuses a key named twice for the same reason.
  const key = value.slice(0, eq);
  // Node decodes arguments as UTF-8, turning bytes that are not (a Latin-1 terminal's é) into
  // U+FFFD: the version would record, and its manifest sign, a parameter other than the one typed.
  // The bytes are gone by now, so any U+FFFD is refused; a file can carry one on purpose.
  if (value.includes('\uFFFD')) {
    throw new InvalidArgumentError(`${JSON.stringify(value.slice(0, 100))} holds U+FFFD, as an argument that is not valid UTF-8 reads (a terminal in another encoding?): type it in UTF-8, or put it in --params-file`);
  }
  if (previous.some(([k]) => k === key)) throw new InvalidArgumentError(`names the key ${JSON.stringify(key)} again: give each parameter once`);
  const raw = value.slice(eq + 1);
  let parsed: unknown = raw;
  try {
    parsed = JSON.parse(raw);
  } catch {
    // Not JSON: the text as given.
  }
  // Parsed, 12345678901234567891 would be sent (and recorded) as 12345678901234567000.
  const imprecise = parsed === raw ? undefined : impreciseJsonNumber(raw);
  if (imprecise !== undefined) throw new InvalidArgumentError(`${key}: ${imprecise.slice(0, 100)} is a number no double holds (it would be recorded as ${Number(imprecise)}): quote it, ${key}='"${imprecise.slice(0, 100)}"', to send it as text`);
  return [...previous, [key, parsed]];
}

/** Adds the derivation flags to `command`. */
export function addDeriveOptions(command: Command): Command {
  return command
    .option('--derived-from <name@version>', 'a certified version this file was derived from (repeatable): the new version is a derived one', collect, [])
    .option('--code <file>', 'the transformation code: hashed here (SHA-256), its file name sent as the transform name')
    .option('--code-sha256 <hex>', 'the SHA-256 of the transformation code, instead of --code')
    .option('--code-uri <uri>', 'where the transformation code lives, e.g. a repository URL at a commit')
    .option('--transform <name>', "the transformation's name (default: the --code file's name)")
    .option('--param <key=value>', 'a transformation parameter (repeatable); the value is parsed as JSON when it can be', parseParam, [])
    .option('--params-file <file.json>', 'the transformation parameters as a JSON object (--param entries override its keys)');
}

/** The file's SHA-256, or a usage message naming --code when it cannot be read (a typo in the path is the caller's). */
async function codeSha256(file: string): Promise<string | { usage: string }> {
  try {
    return await sha256OfStream(createReadStream(file));
  } catch (err) {
    return { usage: `--code ${file}: ${(err as Error).message}` };
  }
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

async function parametersOf(opts: DeriveOptions): Promise<Record<string, unknown> | string> {
  let base: unknown = {};
  if (opts.paramsFile) {
    let text: string;
    try {
      // Strictly: read as 'utf8', bytes that are not (a Latin-1 or UTF-16 file) would become
      // U+FFFD and be recorded as parameters nobody wrote. A UTF-8 byte order mark is skipped.
      text = UTF8.decode(await readFile(opts.paramsFile));
      base = JSON.parse(text);
    } catch (err) {
      if (err instanceof TypeError && (err as NodeJS.ErrnoException).code === 'ERR_ENCODING_INVALID_ENCODED_DATA') {
        return `--params-file ${opts.paramsFile}: is not UTF-8 text (saved in Latin-1, Windows-1252 or UTF-16?): save it as UTF-8`;
      }
      return `--params-file ${opts.paramsFile}: ${(err as Error).message}`;
    }
    if (typeof base !== 'object' || base === null || Array.isArray(base)) return `--params-file ${opts.paramsFile}: must hold a JSON object`;
    // Re-serialised, a key named twice would reach the server once, with whichever value JSON.parse kept.
    const twice = duplicateJsonKey(text);
    if (twice !== undefined) return `--params-file ${opts.paramsFile}: names the key ${JSON.stringify(twice.slice(0, 100))} twice in one object`;
    const imprecise = impreciseJsonNumber(text);
    if (imprecise !== undefined) return `--params-file ${opts.paramsFile}: holds the number ${imprecise.slice(0, 100)}, which would be recorded as ${Number(imprecise)}: write it as a string`;
  }
  return { ...(base as Record<string, unknown>), ...Object.fromEntries(opts.param) };
}

/** Why a --code file's name cannot be the transform name (the server holds it to 1–200 characters of plain text), or undefined. */
function transformNameIssue(name: string): string | undefined {
  return name.length > 200 ? `is ${name.length} characters, over 200` : plainTextIssue(name);
}

/**
 * The ingest query parameters the derivation flags declare (none without --derived-from), or
 * a usage message when they contradict each other.
 */
export async function derivationParams(opts: DeriveOptions): Promise<Array<[string, string]> | string> {
  if (opts.derivedFrom.length === 0) {
    const stray = [opts.code && '--code', opts.codeSha256 && '--code-sha256', opts.codeUri && '--code-uri', opts.transform && '--transform', opts.param.length > 0 && '--param', opts.paramsFile && '--params-file'].filter(Boolean);
    return stray.length > 0 ? `${stray.join(', ')} declare a derived version: name its inputs with --derived-from` : [];
  }
  if (Boolean(opts.code) === Boolean(opts.codeSha256)) return '--derived-from needs the transformation code: --code FILE or --code-sha256 HEX (one of them)';
  const parameters = await parametersOf(opts);
  if (typeof parameters === 'string') return parameters;
  const transform = opts.transform ?? (opts.code ? basename(opts.code) : undefined);
  // The server would refuse it naming --transform, a flag the user never typed.
  const unnamed = opts.transform === undefined && transform !== undefined ? transformNameIssue(transform) : undefined;
  if (unnamed !== undefined) return `--code ${printable(opts.code!)}: its file name, sent as the transform name, ${unnamed}: name the transform with --transform NAME`;
  const code = opts.code ? await codeSha256(opts.code) : opts.codeSha256!;
  if (typeof code !== 'string') return code.usage;
  return [
    ...opts.derivedFrom.map((ref): [string, string] => ['derivedFrom', ref]),
    ['codeSha256', code],
    ...(opts.codeUri ? [['codeUri', opts.codeUri] as [string, string]] : []),
    ...(transform ? [['transform', transform] as [string, string]] : []),
    ...(Object.keys(parameters).length > 0 ? [['parameters', JSON.stringify(parameters)] as [string, string]] : []),
  ];
}

/**
 * The warning for a derived version some of whose inputs erasure requests reached (the
 * server's Assay-Erasure-Requests), worded as `dataset download`'s: the feature table holds
 * those subjects' data too, and requests filed before it was made do not list it.
 */
export function erasureWarning(requests: number, v: { datasetName: string; version: number }): string {
  return `warning: ${requests} erasure request${requests === 1 ? '' : 's'} (GDPR Art. 17) reached the inputs of ${printable(v.datasetName)} v${v.version}: it may hold the data of subjects who asked to be erased, and those requests do not list it; tell the inputs' data steward (assay data erasure-requests list)\n`;
}

/** One line under a derived version: its inputs, code and parameters. */
export function derivationLine(d: DatasetDerivation): string {
  const inputs = d.inputs.map((i) => `${i.dataset}@${i.version}`).join(', ');
  return `  derived from ${inputs} by ${d.code.name ?? 'code'} sha256:${d.code.sha256}, parameters ${JSON.stringify(d.parameters)}\n`;
}
