import { isAbsolute, resolve } from 'node:path';
import { loadConfig } from '../../core/index.js';
import { PolicyTestFileInvalid, runPolicyTestFile, type PolicyTestReport } from '../../policy/index.js';
import { EXIT, printJson, reportError, type CliIo, type GlobalOptions } from '../io.js';

/** Options of `assay policy test`. */
export interface PolicyTestOptions extends GlobalOptions {
  file: string;
  /** Site policy directory. @default $ASSAY_HOME/policies */
  policies?: string;
}

function printReport(io: CliIo, report: PolicyTestReport): void {
  for (const c of report.cases) {
    const mark = c.passed ? 'PASS' : 'FAIL';
    io.stdout(`${mark}  ${c.kind.padEnd(13)} ${c.name}\n`);
    if (!c.passed) io.stdout(`      line ${c.line}: expected ${c.expected}, got ${c.actual}\n      ${c.detail}\n`);
  }
  const total = report.passed + report.failed;
  io.stdout(`\n${report.passed}/${total} passed, ${report.failed} failed (${report.file}; policy set ${report.policySetDigest.slice(0, 12)})\n`);
}

/**
 * `assay policy test FILE`: runs the file's cases against the default pack plus the site's
 * policies; exit 0 when all pass, 1 when any fails (or the policies are invalid), 2 when the
 * file itself is invalid.
 */
export async function runPolicyTest(io: CliIo, opts: PolicyTestOptions): Promise<number> {
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(io.cwd, p));
  const siteDir = opts.policies
    ? abs(opts.policies)
    : loadConfig({ env: io.env, cwd: io.cwd, overrides: { ...(opts.home ? { home: opts.home } : {}) } }).paths.policies;
  let report: PolicyTestReport;
  try {
    report = await runPolicyTestFile({ file: abs(opts.file), siteDir });
  } catch (err) {
    if (!(err instanceof PolicyTestFileInvalid)) throw err;
    reportError(io, err, opts.json === true);
    return EXIT.usage;
  }
  if (opts.json) printJson(io, report);
  else printReport(io, report);
  return report.failed === 0 ? EXIT.ok : EXIT.failure;
}
