import { isAssayError, type FieldIssue } from '../core/index.js';

/** Where a command writes; injectable so tests capture output in process. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Record<string, string | undefined>;
  cwd: string;
}

/** Options every command receives from the global flags. */
export interface GlobalOptions {
  home?: string;
  json?: boolean;
}

/** What a group of commands needs from the program. */
export interface CommandContext {
  io: CliIo;
  globals: () => GlobalOptions;
  /** Wraps an action: its resolved value is the exit code, a throw is reported. */
  run: (fn: () => Promise<number>) => () => Promise<void>;
}

/** Exit codes: 0 success, 1 failure, 2 usage error. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/**
 * `text` from the server as a terminal may show it: control characters and bidirectional
 * formatting characters as `\u{…}` escapes, so stored evidence (e.g. a reason recorded before
 * the server refused them) can neither move the cursor nor reorder what is read.
 */
export function printable(text: string): string {
  return text.replace(/[\p{Cc}\u202A-\u202E\u2066-\u2069]/gu, (c) => `\\u{${c.codePointAt(0)!.toString(16).toUpperCase()}}`);
}

/** Prints `value` as one JSON document on stdout. */
export function printJson(io: CliIo, value: unknown): void {
  io.stdout(JSON.stringify(value, null, 2) + '\n');
}

/**
 * The lines a person reads for an error: each issue once. Some errors (a configuration, a policy
 * test file, a server's refusal) spell their issues out in the message as well, for logs;
 * printed as they are, each issue would show twice, so such a message loses its list of issues
 * (with their fields or without), and an issue the message already states is not listed again.
 */
function errorLines(message: string, errors: readonly FieldIssue[]): string[] {
  const issue = (e: FieldIssue): string => `${e.field}: ${e.message}`;
  const spelled = [errors.map(issue), errors.map((e) => e.message)].map((texts) => `: ${texts.join('; ')}`).find((s) => message.endsWith(s));
  const headline = errors.length > 0 && spelled !== undefined ? message.slice(0, -spelled.length) : message;
  return [`error: ${headline}`, ...errors.filter((e) => !headline.includes(issue(e))).map((e) => `  - ${issue(e)}`)];
}

/** Reports a failure on stderr (as JSON with --json) and returns exit code 1. */
export function reportError(io: CliIo, err: unknown, json: boolean): number {
  const payload = isAssayError(err)
    ? { code: err.code, message: err.message, errors: err.errors }
    : { code: 'internal', message: err instanceof Error ? err.message : String(err), errors: [] };
  if (json) io.stderr(JSON.stringify({ error: payload }) + '\n');
  else for (const line of errorLines(payload.message, payload.errors)) io.stderr(`${line}\n`);
  return EXIT.failure;
}
