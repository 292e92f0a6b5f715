import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { parseBundleTime } from '../audit/index.js';
import { ASSAY_VERSION, WHOLE_NUMBER_TEXT } from '../core/index.js';
import { readPublicKeyOption, runAuditExport, runAuditVerify } from './commands/audit.js';
import { registerApprovalCommands } from './commands/approval.js';
import { registerAuditPayloadCommands } from './commands/audit-payloads.js';
import { registerDataCommands } from './commands/data.js';
import { registerErasureCommands } from './commands/erasure.js';
import { registerLineageCommands } from './commands/lineage.js';
import { runInit } from './commands/init.js';
import { registerPrincipalCommands } from './commands/principal.js';
import { EXIT, printJson, reportError, type CliIo, type GlobalOptions } from './io.js';

/** Digits as ASSAY_PORT takes them: `07600` is refused here as it is there, not read as 7600. */
function parsePort(value: string): number {
  const n = Number(value);
  if (!WHOLE_NUMBER_TEXT.test(value) || n > 65535) throw new InvalidArgumentError('must be an integer from 0 to 65535, in decimal digits without leading zeros');
  return n;
}

function parseTimeOption(value: string): string {
  try {
    return parseBundleTime(value);
  } catch (err) {
    throw new InvalidArgumentError(err instanceof Error ? err.message : String(err));
  }
}

function parseKeyOption(value: string): string | string[] {
  try {
    return readPublicKeyOption(value);
  } catch (err) {
    throw new InvalidArgumentError(err instanceof Error ? err.message : String(err));
  }
}

/**
 * Runs the `assay` command line with `argv` (without node and script) and resolves to the
 * exit code: 0 success, 1 failure, 2 usage error (with help on stderr).
 */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  let exitCode: number = EXIT.ok;
  const program = new Command('assay')
    .description('Assay: on-prem AI factory with verifiable evidence')
    .option('--home <dir>', 'Assay home directory (same as ASSAY_HOME)')
    .option('--json', 'print machine-readable JSON')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
  const globals = (): GlobalOptions => program.opts<GlobalOptions>();
  const run = (fn: () => Promise<number>) => async () => {
    try {
      exitCode = await fn();
    } catch (err) {
      exitCode = reportError(io, err, globals().json === true);
    }
  };

  program
    .command('init')
    .description('create $ASSAY_HOME, signing keys, the database and the first administrator (idempotent)')
    .action(run(() => runInit(io, globals())));
  program
    .command('server')
    .description('run the HTTP API server (owns the embedded database while it runs)')
    .option('--port <port>', 'port to listen on (0 = any free port)', parsePort)
    .option('--host <host>', 'address to listen on')
    .action((opts: { port?: number; host?: string }) =>
      run(async () => {
        // The HTTP stack loads only for the command that serves.
        const { runServer } = await import('./commands/server.js');
        return runServer(io, { ...globals(), ...opts });
      })(),
    );
  const audit = program.command('audit').description('the tamper-evident audit log');
  audit
    .command('verify')
    .description('recompute the Merkle tree, check every checkpoint signature and consistency; exit 1 naming the first bad index')
    .option('--url <url>', 'server to ask (default: the running server of $ASSAY_HOME, else the database directly)')
    .addOption(
      new Option('--bundle <file>', 'verify an exported bundle (or the folder it was extracted into) offline: no server, database or home').conflicts('url'),
    )
    .option('--public-key <key>', 'with --bundle: the log key you trust (name+keyid+base64key, a file holding it, or the saved key list of GET /api/v1/audit/public-keys)', parseKeyOption)
    .action((opts: { url?: string; bundle?: string; publicKey?: string }) => run(() => runAuditVerify(io, { ...globals(), ...opts }))());
  audit
    .command('export')
    .description('write the entries recorded in [--from, --to) as a self-contained bundle an examiner verifies offline')
    .requiredOption('--out <file>', 'bundle to write: a POSIX tar, gzipped when the name ends in .gz or .tgz')
    .option('--from <time>', 'first time included, ISO-8601 date or date-time, UTC unless an offset is given (default: the beginning)', parseTimeOption)
    .option('--to <time>', 'first time excluded (default: no bound)', parseTimeOption)
    .option('--url <url>', 'server to read from (default: the running server of $ASSAY_HOME, else the database directly)')
    .action((opts: { out: string; from?: string; to?: string; url?: string }) => run(() => runAuditExport(io, { ...globals(), ...opts }))());
  registerAuditPayloadCommands(audit, { io, globals, run });
  const policy = program.command('policy').description('Cedar policies, placement and bounded autonomy');
  policy
    .command('test <file>')
    .description('run YAML policy tests against the default pack plus site policies; exit 0 all pass, 1 any fails, 2 bad file')
    .option('--policies <dir>', 'site policy directory (default: $ASSAY_HOME/policies)')
    .action((file: string, opts: { policies?: string }) =>
      run(async () => {
        const { runPolicyTest } = await import('./commands/policy.js');
        return runPolicyTest(io, { ...globals(), ...opts, file });
      })(),
    );
  registerApprovalCommands(program, policy, { io, globals, run });
  registerPrincipalCommands(program, { io, globals, run });
  registerDataCommands(program, { io, globals, run });
  registerErasureCommands(program, { io, globals, run });
  registerLineageCommands(program, { io, globals, run });
  program
    .command('version')
    .description('print the Assay version')
    .action(
      run(async () => {
        if (globals().json) printJson(io, { version: ASSAY_VERSION, node: process.version });
        else io.stdout(`assay ${ASSAY_VERSION}\n`);
        return EXIT.ok;
      }),
    );

  try {
    if (argv.length === 0) {
      program.outputHelp({ error: true });
      return EXIT.usage;
    }
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return EXIT.ok;
      return EXIT.usage;
    }
    return reportError(io, err, false);
  }
}
