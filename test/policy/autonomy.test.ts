import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigInvalid } from '../../src/core/index.js';
import {
  AUTONOMY_DEFAULT_RULE,
  classifyAutonomy,
  DEFAULT_PACK_DIR,
  loadPolicyEngine,
  parseAutonomyPolicy,
  type AutonomyPolicy,
  type AutonomyRequest,
  type AutonomyTier,
  type PolicyEngine,
} from '../../src/policy/index.js';
import { tempDirs } from './fixtures.js';

const tempDir = tempDirs();
let engine: PolicyEngine;
beforeAll(async () => {
  engine = await loadPolicyEngine();
});

describe('the default autonomy document', () => {
  it('is the pack’s autonomy.yaml, and valid', () => {
    expect(engine.autonomyFile).toBe(join(DEFAULT_PACK_DIR, 'autonomy.yaml'));
    expect(engine.autonomy.default).toBe('require_approval');
  });

  it.each<[string, AutonomyRequest, AutonomyTier, string]>([
    ['reads are autonomous', { action: 'dataset.read', risk: 'low' }, 'autonomous', 'autonomy.read-only'],
    ['routine work at medium risk is autonomous', { action: 'job.retry', risk: 'medium' }, 'autonomous', 'autonomy.routine-ml-work'],
    ['the same work at high risk waits', { action: 'job.retry', risk: 'high' }, 'require_approval', 'autonomy.high-risk'],
    ['a read at high risk waits too: the most restrictive rule wins', { action: 'dataset.read', risk: 'high' }, 'require_approval', 'autonomy.high-risk'],
    ['a rollback notifies', { action: 'deployment.rollback', risk: 'medium' }, 'notify_human', 'autonomy.rollback-notifies'],
    ['releases are human decisions', { action: 'model.release', risk: 'low' }, 'require_approval', 'autonomy.governed-changes'],
    ['policy changes match policy.*', { action: 'policy.change', risk: 'low' }, 'require_approval', 'autonomy.governed-changes'],
    ['low-risk inference is autonomous', { action: 'inference.chat', risk: 'low' }, 'autonomous', 'autonomy.inference'],
    ['medium-risk inference matches no rule: the default', { action: 'inference.chat', risk: 'medium' }, 'require_approval', AUTONOMY_DEFAULT_RULE],
    ['an unknown action gets the default', { action: 'cluster.reboot', risk: 'low' }, 'require_approval', AUTONOMY_DEFAULT_RULE],
  ])('%s', (_name, request, tier, rule) => {
    expect(engine.classifyAutonomy(request)).toMatchObject({ tier, rule });
  });

  it.each<[number | undefined, AutonomyTier]>([
    [0, 'autonomous'],
    [100, 'autonomous'], // thresholds apply strictly above `over`
    [100.01, 'notify_human'],
    [1000, 'notify_human'],
    [1000.5, 'require_approval'],
    [1e9, 'require_approval'],
    [undefined, 'require_approval'], // no amount: treated as above every threshold
  ])('compute.spend of %s → %s', (amount, tier) => {
    const d = engine.classifyAutonomy({ action: 'compute.spend', risk: 'low', ...(amount === undefined ? {} : { amount }) });
    expect(d).toMatchObject({ tier, rule: 'autonomy.compute-spend' });
    if (amount === undefined) expect(d.reason).toMatch(/no amount/);
  });
});

describe('classifyAutonomy', () => {
  const policy: AutonomyPolicy = {
    version: 1,
    default: 'notify_human',
    rules: [
      { id: 'wide', actions: ['a.*'], tier: 'autonomous' },
      { id: 'narrow', actions: ['a.b'], tier: 'notify_human' },
      { id: 'also-notify', actions: ['*.b'], tier: 'notify_human' },
      { id: 'risky', actions: ['a.*'], risk: ['high'], tier: 'require_approval' },
    ],
  };

  it('takes the most restrictive matching rule, the first one on a tie, whatever the order', () => {
    expect(classifyAutonomy(policy, { action: 'a.c', risk: 'low' })).toMatchObject({ tier: 'autonomous', rule: 'wide' });
    expect(classifyAutonomy(policy, { action: 'a.b', risk: 'low' })).toMatchObject({ tier: 'notify_human', rule: 'narrow' });
    expect(classifyAutonomy(policy, { action: 'a.b', risk: 'high' })).toMatchObject({ tier: 'require_approval', rule: 'risky' });
    const reversed = { ...policy, rules: [...policy.rules].reverse() };
    expect(classifyAutonomy(reversed, { action: 'a.b', risk: 'high' })).toMatchObject({ tier: 'require_approval', rule: 'risky' });
  });

  it('matches whole action names: `*` is the only wildcard and `.` is literal', () => {
    expect(classifyAutonomy(policy, { action: 'axb', risk: 'low' }).rule).toBe(AUTONOMY_DEFAULT_RULE);
    expect(classifyAutonomy(policy, { action: 'xa.b', risk: 'low' }).rule).toBe('also-notify');
  });
});

describe('autonomy documents are validated, errors naming the field and its line', () => {
  const parseError = (text: string): ConfigInvalid => {
    try {
      parseAutonomyPolicy(text, 'site/autonomy.yaml');
    } catch (err) {
      if (err instanceof ConfigInvalid) return err;
      throw err;
    }
    throw new Error('expected ConfigInvalid');
  };

  it.each<[string, string, string, RegExp]>([
    ['an unknown tier', 'version: 1\ndefault: autonomous\nrules:\n  - id: r\n    actions: [a]\n    tier: sometimes\n', 'rules[0].tier', /autonomy\.yaml:6\)/],
    ['a missing field', 'version: 1\ndefault: autonomous\nrules:\n  - id: r\n    tier: autonomous\n', 'rules[0].actions', /autonomy\.yaml:4\)/],
    ['an unknown key', 'version: 1\ndefault: autonomous\nrules: []\nmood: calm\n', '(root)', /mood/],
    [
      'thresholds out of order',
      'version: 1\ndefault: autonomous\nrules:\n  - id: r\n    actions: [a]\n    tier: autonomous\n    thresholds:\n      - { over: 10, tier: notify_human }\n      - { over: 5, tier: require_approval }\n',
      'rules[0].thresholds[1].over',
      /greater than the previous threshold \(10\).*autonomy\.yaml:9\)/,
    ],
    ['a duplicate rule id', 'version: 1\ndefault: autonomous\nrules:\n  - { id: r, actions: [a], tier: autonomous }\n  - { id: r, actions: [b], tier: autonomous }\n', 'rules[1].id', /duplicate/],
    ['a wrong version', 'version: 2\ndefault: autonomous\nrules: []\n', 'version', /autonomy\.yaml:1\)/],
    ['a risk that does not exist', 'version: 1\ndefault: autonomous\nrules:\n  - { id: r, actions: [a], risk: [extreme], tier: autonomous }\n', 'rules[0].risk[0]', /autonomy\.yaml:4\)/],
  ])('%s', (_name, text, field, message) => {
    const err = parseError(text);
    const issue = err.errors.find((e) => e.field === field);
    expect(issue, JSON.stringify(err.errors)).toBeDefined();
    expect(issue!.message).toMatch(message);
  });

  it('YAML syntax errors name the line', () => {
    const err = parseError('version: 1\ndefault: [autonomous\nrules: []\n');
    expect(err.errors[0]!.field).toMatch(/^site\/autonomy\.yaml:\d+$/);
  });

  it('the shipped document parses to what the engine loaded', () => {
    const file = join(DEFAULT_PACK_DIR, 'autonomy.yaml');
    expect(parseAutonomyPolicy(readFileSync(file, 'utf8'), file)).toEqual(engine.autonomy);
  });
});

describe('a site autonomy document replaces the default', () => {
  it('from $ASSAY_HOME/policies/autonomy.yaml', async () => {
    const site = tempDir({ 'autonomy.yaml': 'version: 1\ndefault: notify_human\nrules:\n  - { id: site.all-reads, actions: ["*.read"], tier: notify_human }\n' });
    const e = await loadPolicyEngine({ siteDir: site });
    expect(e.autonomyFile).toBe(join(site, 'autonomy.yaml'));
    expect(e.classifyAutonomy({ action: 'dataset.read', risk: 'low' })).toMatchObject({ tier: 'notify_human', rule: 'site.all-reads' });
    expect(e.classifyAutonomy({ action: 'model.release', risk: 'low' })).toMatchObject({ tier: 'notify_human', rule: AUTONOMY_DEFAULT_RULE });
  });

  it('or autonomy.json; an invalid one refuses to load, naming the field', async () => {
    const ok = tempDir({ 'autonomy.json': '{"version": 1, "default": "autonomous", "rules": []}' });
    expect((await loadPolicyEngine({ siteDir: ok })).classifyAutonomy({ action: 'x', risk: 'high' }).tier).toBe('autonomous');
    const bad = tempDir({ 'autonomy.json': '{"version": 1, "default": "never", "rules": []}' });
    await expect(loadPolicyEngine({ siteDir: bad })).rejects.toMatchObject({
      code: 'config_invalid',
      errors: [{ field: 'default', message: expect.stringMatching(/autonomy\.json:1\)$/) }],
    });
  });
});
