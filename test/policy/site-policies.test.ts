import { describe, expect, it } from 'vitest';
import { ConfigInvalid } from '../../src/core/index.js';
import { loadPolicyEngine } from '../../src/policy/index.js';
import { holder, tempDirs } from './fixtures.js';

const tempDir = tempDirs();

async function loadError(files: Record<string, string>): Promise<ConfigInvalid> {
  const siteDir = tempDir(files);
  const err = await loadPolicyEngine({ siteDir }).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof ConfigInvalid)) throw new Error(`expected ConfigInvalid, got ${String(err)}`);
  return err;
}

const VALID = `// Site policy: data scientists may watch the audit log's health.
@id("site.scientists-read-audit-status")
permit (
  principal in Assay::Role::"data-scientist",
  action == Assay::Action::"getAuditStatus",
  resource
);
`;

describe('site policies from $ASSAY_HOME/policies', () => {
  it('add to the default pack; decisions name the site policy', async () => {
    const engine = await loadPolicyEngine({ siteDir: tempDir({ 'audit.cedar': VALID, 'README.txt': 'not a policy' }) });
    const scientist = holder('prn_s', 'data-scientist');
    expect(engine.authorize({ principal: scientist, action: 'getAuditStatus', resource: { type: 'AuditLog' } })).toMatchObject({
      decision: 'allow',
      policyIds: ['site.scientists-read-audit-status'],
    });
    expect(engine.authorize({ principal: scientist, action: 'searchAuditEntries', resource: { type: 'AuditLog' } }).decision).toBe('deny');
    const site = engine.policies.find((p) => p.id === 'site.scientists-read-audit-status');
    expect(site).toMatchObject({ effect: 'permit', line: 2 });
    expect(site?.file).toMatch(/audit\.cedar$/);
    expect(engine.digest).not.toBe((await loadPolicyEngine()).digest);
  });

  it('a missing site directory means the default pack alone', async () => {
    const engine = await loadPolicyEngine({ siteDir: '/nonexistent/assay/policies' });
    expect(engine.digest).toBe((await loadPolicyEngine()).digest);
  });

  it('a site forbid overrides a default permit', async () => {
    const engine = await loadPolicyEngine({
      siteDir: tempDir({
        'no-admin-audit.cedar': `@id("site.admins-do-not-read-audit")
forbid (principal in Assay::Role::"platform-admin", action in Assay::Action::"ReadAuditLog", resource);
`,
      }),
    });
    expect(engine.authorize({ principal: holder('prn_a', 'platform-admin'), action: 'verifyAuditLog', resource: { type: 'AuditLog' } })).toMatchObject({
      decision: 'deny',
      policyIds: ['site.admins-do-not-read-audit'],
    });
  });
});

describe('an invalid site policy file refuses to load, naming file and line', () => {
  it('an attribute the schema does not have (after non-ASCII text, so byte offsets are mapped right)', async () => {
    const err = await loadError({
      'typo.cedar': `// Règles du site — données de santé ≥ PHI
@id("site.ok")
permit (principal in Assay::Role::"auditor", action == Assay::Action::"getOpenApi", resource);

@id("site.typo")
forbid (principal, action == Assay::Action::"approveDataset", resource)
when { resource.clasification == Assay::Classification::"PHI" };
`,
    });
    expect(err.code).toBe('config_invalid');
    expect(err.errors).toHaveLength(1);
    expect(err.errors[0]!.field).toMatch(/typo\.cedar:7:8$/);
    expect(err.errors[0]!.message).toMatch(/clasification.*did you mean `classification`/);
    expect(err.message).toContain('typo.cedar:7:8');
  });

  it('a syntax error', async () => {
    const err = await loadError({ 'syntax.cedar': '@id("a")\npermit (principal, action, resource)\nwhen { 1 + };\n' });
    expect(err.errors[0]!.field).toMatch(/syntax\.cedar:3:\d+$/);
  });

  it('a role, classification or action that does not exist', async () => {
    const err = await loadError({
      'names.cedar': [
        '@id("a")',
        'permit (principal in Assay::Role::"auditr", action, resource);',
        '@id("b")',
        'permit (principal, action == Assay::Action::"deleteEverything", resource);',
      ].join('\n'),
    });
    const fields = err.errors.map((e) => e.field);
    expect(fields.some((f) => /names\.cedar:2:/.test(f))).toBe(true);
    expect(fields.some((f) => /names\.cedar:4:/.test(f))).toBe(true);
    expect(err.errors.map((e) => e.message).join(' ')).toMatch(/auditr/);
  });

  it('a policy without @id, and every problem of every file in one error', async () => {
    const err = await loadError({
      'a.cedar': '@id("site.a")\npermit (principal, action == Assay::Action::"getOpenApi", resource);\n\npermit (principal, action == Assay::Action::"getOpenApi", resource);\n',
      'b.cedar': '@id("site.b")\npermit (principal, action, resource) when { resource.nope };\n',
    });
    expect(err.errors.map((e) => e.field)).toEqual(expect.arrayContaining([expect.stringMatching(/a\.cedar:4$/), expect.stringMatching(/b\.cedar:2:\d+$/)]));
    expect(err.errors.find((e) => /a\.cedar:4$/.test(e.field))?.message).toMatch(/@id/);
  });

  it('an id the default pack already uses, naming both places', async () => {
    const err = await loadError({ 'dup.cedar': '\n@id("sod.no-self-approval")\npermit (principal, action == Assay::Action::"getOpenApi", resource);\n' });
    expect(err.errors).toHaveLength(1);
    expect(err.errors[0]!.field).toMatch(/dup\.cedar:2$/);
    expect(err.errors[0]!.message).toMatch(/duplicate policy id "sod.no-self-approval" \(first at .*packs\/default\/approvals\.cedar:\d+\)/);
  });

  it('a template', async () => {
    const err = await loadError({ 't.cedar': '@id("t")\npermit (principal == ?principal, action, resource);\n' });
    expect(err.errors[0]!.message).toMatch(/template/);
  });

  it('two autonomy documents', async () => {
    const doc = 'version: 1\ndefault: notify_human\nrules: []\n';
    const err = await loadError({ 'autonomy.yaml': doc, 'autonomy.json': '{"version": 1, "default": "autonomous", "rules": []}' });
    expect(err.errors.map((e) => e.message)).toEqual(['more than one autonomy document; keep one', 'more than one autonomy document; keep one']);
  });
});

describe('evaluation errors fail closed', () => {
  it('a forbid that errors at run time denies instead of being skipped', async () => {
    // The validator cannot see an overflow; Cedar would skip the erroring forbid and allow.
    const engine = await loadPolicyEngine({
      siteDir: tempDir({
        'overflow.cedar': `@id("site.overflowing-forbid")
forbid (principal, action == Assay::Action::"getOpenApi", resource)
when { 9223372036854775807 + 1 > 0 };
`,
      }),
    });
    const d = engine.authorize({ principal: holder('prn_c', 'app-client'), action: 'getOpenApi', resource: { type: 'Platform' } });
    expect(d.decision).toBe('deny');
    expect(d.policyIds).toEqual(['site.overflowing-forbid']);
    expect(d.errors[0]).toMatch(/site\.overflowing-forbid: .*overflow/);
  });
});

describe('engine options', () => {
  it('refuse a site path that is a file, and a negative cache size', async () => {
    const dir = tempDir({ 'policies': 'not a directory' });
    await expect(loadPolicyEngine({ siteDir: `${dir}/policies` })).rejects.toMatchObject({ code: 'config_invalid' });
    await expect(loadPolicyEngine({ decisionCacheSize: -1 })).rejects.toMatchObject({
      code: 'config_invalid',
      errors: [{ field: 'decisionCacheSize' }],
    });
  });
});
