import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliEnv, runAssay } from '../support/cli.js';
import { tempDirs } from './fixtures.js';

// These run the real `assay` command in a child process, as a site's CI would.
const EXAMPLE = join(import.meta.dirname, '..', '..', 'examples', 'policy-tests.yaml');
const tempDir = tempDirs();

const FAILING = `authorization:
  - name: scientists read the audit log
    principal: { id: sam, roles: [data-scientist] }
    action: searchAuditEntries
    resource: { type: AuditLog }
    expect: allow
`;

describe('assay policy test FILE', () => {
  it('exits 0 when every case of the example passes, printing each', () => {
    const home = join(tempDir(), 'home'); // no policies directory: the default pack alone
    const r = runAssay(['--home', home, 'policy', 'test', EXAMPLE]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^PASS {2}authorization +a data steward approves/m);
    expect(r.stdout).toMatch(/\d+\/\d+ passed, 0 failed/);
    expect(r.stdout).not.toMatch(/^FAIL/m);
  });

  it('exits 1 when a case fails, naming it, its line and what came instead', () => {
    const dir = tempDir({ 't.yaml': FAILING });
    const r = runAssay(['--home', join(dir, 'home'), 'policy', 'test', join(dir, 't.yaml')]);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^FAIL {2}authorization +scientists read the audit log/m);
    expect(r.stdout).toContain('line 2: expected allow, got deny []');
  });

  it('exits 2 on a bad file, naming the field and line', () => {
    const dir = tempDir({ 't.yaml': FAILING.replace('expect: allow', 'expect: perhaps') });
    const r = runAssay(['--home', join(dir, 'home'), 'policy', 'test', join(dir, 't.yaml')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/authorization\[0\]\.expect: .*t\.yaml:6\)/);
    // Printed once: the message does not spell out again the issues listed under it.
    expect(r.stderr.match(/authorization\[0\]\.expect/g)).toHaveLength(1);
    expect(r.stderr).toMatch(/^error: invalid policy test file .*t\.yaml\n {2}- authorization\[0\]\.expect: /);
  });

  it('--json prints the report', () => {
    const home = join(tempDir(), 'home');
    const r = runAssay(['--home', home, '--json', 'policy', 'test', EXAMPLE]);
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { failed: number; passed: number; cases: { name: string; passed: boolean }[] };
    expect(report.failed).toBe(0);
    expect(report.cases.length).toBe(report.passed);
  });

  it('runs against $ASSAY_HOME/policies: a site policy changes the outcome', () => {
    const dir = tempDir({ 't.yaml': FAILING });
    const home = join(dir, 'home');
    mkdirSync(join(home, 'policies'), { recursive: true });
    writeFileSync(
      join(home, 'policies', 'site.cedar'),
      '@id("site.scientists-search")\npermit (principal in Assay::Role::"data-scientist", action == Assay::Action::"searchAuditEntries", resource);\n',
    );
    const r = runAssay(['policy', 'test', join(dir, 't.yaml')], cliEnv({ ASSAY_HOME: home }));
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });

  it('exits 1 naming file and line when a site policy is invalid', () => {
    const site = tempDir({ 'bad.cedar': '@id("x")\npermit (principal in Assay::Role::"auditr", action, resource);\n' });
    const r = runAssay(['--home', join(site, 'home'), 'policy', 'test', EXAMPLE, '--policies', site]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/bad\.cedar:2:\d+: .*auditr/);
  });

  it('exits 2 without a file argument', () => {
    expect(runAssay(['policy', 'test']).status).toBe(2);
  });
});
