import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { ASSAY_VERSION } from '../core/index.js';
import { runAuditVerify } from './commands/audit.js';
import { runInit } from './commands/init.js';
import { EXIT, printJson, reportError, type CliIo, type GlobalOptions } from './io.js';

function parsePort(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw new InvalidArgumentError('must be an integer from 0 to 65535');
  return n;
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
    .action((opts: { url?: string }) => run(() => runAuditVerify(io, { ...globals(), ...opts }))());
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
