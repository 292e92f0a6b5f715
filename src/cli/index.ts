/** The `assay` command line. */
export { runCli } from './program.js';
export { initHome, type InitResult } from './commands/init.js';
export type { CliIo } from './io.js';
