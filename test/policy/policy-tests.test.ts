import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  loadPolicyEngine,
  parsePolicyTests,
  PolicyTestFileInvalid,
  runPolicyTestFile,
  runPolicyTests,
  type PolicyEngine,
} from '../../src/policy/index.js';
import { tempDirs } from './fixtures.js';

const EXAMPLE = join(import.meta.dirname, '..', '..', 'examples', 'policy-tests.yaml');
const tempDir = tempDirs();
let engine: PolicyEngine;
beforeAll(async () => {
  engine = await loadPolicyEngine();
});

function invalid(text: string): PolicyTestFileInvalid {
  try {
    runPolicyTests(engine, parsePolicyTests(text, 'tests.yaml'));
  } catch (err) {
    if (err instanceof PolicyTestFileInvalid) return err;
    throw err;
  }
  throw new Error('expected PolicyTestFileInvalid');
}

describe('runPolicyTests', () => {
  it('passes every case of examples/policy-tests.yaml against the default pack', async () => {
    const report = await runPolicyTestFile({ file: EXAMPLE });
    expect(report.failed).toBe(0);
    expect(report.cases.map((c) => c.kind)).toEqual(expect.arrayContaining(['authorization', 'placement', 'autonomy']));
    expect(report.passed).toBe(report.cases.length);
    expect(report.policySetDigest).toBe(engine.digest);
  });

  it('reports a failing case with what was expected, what came, and its line', () => {
    const text = [
      'principals:',
      '  sam: { roles: [data-scientist] }',
      'authorization:',
      '  - name: scientists read the audit log',
      '    principal: sam',
      '    action: searchAuditEntries',
      '    resource: { type: AuditLog }',
      '    expect: allow',
      '  - name: but they do not',
      '    principal: sam',
      '    action: searchAuditEntries',
      '    resource: { type: AuditLog }',
      '    expect: deny',
      'placement:',
      '  - { name: PHI in the cloud, classification: PHI, zone: cloud-burst, expect: deny, rule: placement.residency }',
      'autonomy:',
      '  - { name: rollback, action: deployment.rollback, risk: low, expect: notify_human }',
    ].join('\n');
    const report = runPolicyTests(engine, parsePolicyTests(text, 'tests.yaml'));
    expect(report).toMatchObject({ passed: 2, failed: 2 });
    expect(report.cases[0]).toMatchObject({ passed: false, line: 4, expected: 'allow', actual: 'deny []' });
    expect(report.cases[1]).toMatchObject({ passed: true, line: 9 });
    // Right decision, wrong rule: a failure too.
    expect(report.cases[2]).toMatchObject({ passed: false, line: 15, expected: 'deny (placement.residency)', actual: 'deny (placement.phi-secure-only)' });
    expect(report.cases[3]).toMatchObject({ passed: true, kind: 'autonomy' });
  });

  it('compares determining policy ids exactly when the case lists them', () => {
    const base = ['principals:', '  ada: { roles: [auditor] }', 'authorization:', '  - name: x', '    principal: ada', '    action: verifyAuditLog', '    resource: { type: AuditLog }', '    expect: allow'];
    const pass = runPolicyTests(engine, parsePolicyTests([...base, '    policies: [audit.read-log]'].join('\n'), 't.yaml'));
    const fail = runPolicyTests(engine, parsePolicyTests([...base, '    policies: [audit.read-log, api.describe]'].join('\n'), 't.yaml'));
    expect([pass.failed, fail.failed]).toEqual([0, 1]);
  });

  it('runs the cases against site policies too', async () => {
    const site = tempDir({
      'extra.cedar': '@id("site.scientists-status")\npermit (principal in Assay::Role::"data-scientist", action == Assay::Action::"getAuditStatus", resource);\n',
    });
    const file = join(
      tempDir({
        't.yaml': 'authorization:\n  - { name: s, principal: { id: s, roles: [data-scientist] }, action: getAuditStatus, resource: { type: AuditLog }, expect: allow, policies: [site.scientists-status] }\n',
      }),
      't.yaml',
    );
    expect((await runPolicyTestFile({ file })).failed).toBe(1);
    expect((await runPolicyTestFile({ file, siteDir: site })).failed).toBe(0);
  });
});

describe('a bad test file is refused, naming the field and its line', () => {
  it.each<[string, string, string, RegExp]>([
    ['YAML syntax', 'authorization:\n  - name: [x\n', 'line', /./],
    ['an unknown expectation', 'autonomy:\n  - name: x\n    action: a.b\n    risk: low\n    expect: maybe\n', 'autonomy[0].expect', /tests\.yaml:5\)/],
    ['an unknown role', 'principals:\n  x: { roles: [wizard] }\nautonomy: [{ name: a, action: a, risk: low, expect: autonomous }]\n', 'principals.x.roles[0]', /tests\.yaml:2\)/],
    ['an unknown principal', 'authorization:\n  - { name: a, principal: nobody, action: getOpenApi, resource: { type: Platform }, expect: allow }\n', 'authorization[0].principal', /unknown principal "nobody".*tests\.yaml:2\)/],
    ['an unknown resource', 'principals: { p: { roles: [] } }\nauthorization:\n  - { name: a, principal: p, action: getOpenApi, resource: thing, expect: allow }\n', 'authorization[0].resource', /unknown resource "thing"/],
    ['an unknown zone', 'placement:\n  - { name: a, classification: PHI, zone: mars, expect: deny }\n', 'placement[0].zone', /unknown zone "mars"/],
    ['an unknown action', 'authorization:\n  - name: a\n    principal: { id: p, roles: [] }\n    action: launchMissiles\n    resource: { type: Platform }\n    expect: deny\n', 'authorization[0]', /unknown action launchMissiles.*tests\.yaml:2\)/],
    ['a resource the action does not take', 'authorization:\n  - { name: a, principal: { id: p, roles: [] }, action: approveDataset, resource: { type: Platform }, expect: deny }\n', 'authorization[0]', /not valid for/],
    ['no cases at all', 'principals: {}\n', '(root)', /no test cases/],
    ['an unknown section', 'tests: []\n', '(root)', /tests/],
  ])('%s', (_name, text, field, message) => {
    const err = invalid(text);
    expect(err.code).toBe('validation_failed');
    const issue = err.errors.find((e) => e.field.startsWith(field));
    expect(issue, JSON.stringify(err.errors)).toBeDefined();
    expect(issue!.message).toMatch(message);
  });

  it('an unreadable file', async () => {
    await expect(runPolicyTestFile({ file: '/nonexistent/tests.yaml' })).rejects.toBeInstanceOf(PolicyTestFileInvalid);
  });

  it('the example file is the documented format: it still parses', () => {
    expect(parsePolicyTests(readFileSync(EXAMPLE, 'utf8'), EXAMPLE).cases.length).toBeGreaterThan(15);
  });
});
