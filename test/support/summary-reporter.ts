import type { Reporter, TestCase, TestModule } from 'vitest/node';

function count(tests: Iterable<TestCase>): { passed: number; failed: number; skipped: number } {
  const c = { passed: 0, failed: 0, skipped: 0 };
  for (const t of tests) {
    const state = t.result().state;
    if (state === 'passed') c.passed++;
    else if (state === 'failed') c.failed++;
    else c.skipped++;
  }
  return c;
}

/**
 * Prints one line per top-level suite (so CI output names each backend a contract suite ran
 * on, e.g. `store contract [postgres]`), then one plain closing line,
 * `Tests: N passed, N failed, N skipped`, that log readers recognise without knowing vitest.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const lines: string[] = [];
    let failedModules = 0;
    for (const mod of testModules) {
      for (const suite of mod.children.suites()) {
        const c = count(suite.children.allTests());
        lines.push(`  ${c.failed ? '✗' : '✓'} ${suite.name}: ${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped`);
      }
      // A file that failed to load has no tests but must still count as a failure.
      if (mod.state() === 'failed' && [...mod.children.allTests()].length === 0) failedModules++;
    }
    const total = count(testModules.flatMap((m) => [...m.children.allTests()]));
    process.stdout.write(`\nSuites:\n${lines.join('\n')}\n`);
    process.stdout.write(`\nTests: ${total.passed} passed, ${total.failed + failedModules} failed, ${total.skipped} skipped\n`);
  }
}
