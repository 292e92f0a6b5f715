import { beforeAll, describe, expect, it } from 'vitest';
import { BUILT_IN_ROLES } from '../../src/identity/index.js';
import { loadPolicyEngine, summarizeApprovals, type AuthorizationRequest, type PolicyEngine, type ResourceInput } from '../../src/policy/index.js';
import { holder, OMNI } from './fixtures.js';

let engine: PolicyEngine;
beforeAll(async () => {
  engine = await loadPolicyEngine();
});

const dataset = (author: string): ResourceInput => ({ type: 'Dataset', id: 'ds_1', classification: 'PII', author });
const modelVersion = (author: string, riskTier: 'low' | 'medium' | 'high' = 'high'): ResourceInput => ({
  type: 'ModelVersion',
  id: 'mv_1',
  classification: 'confidential',
  riskTier,
  author,
});
const APPROVE_ACTIONS = [
  ['approveDataset', dataset],
  ['approveModelVersion', modelVersion],
] as const;

describe('an author cannot approve their own dataset or model version', () => {
  // One role at a time, with every clearance, and under an active break-glass elevation: the
  // forbid holds whatever the principal's roles and whatever else permits it.
  const cases = APPROVE_ACTIONS.flatMap(([action, resource]) => BUILT_IN_ROLES.map((role) => [action, role, resource] as const));
  it.each(cases)('%s by its author holding %s → deny by sod.no-self-approval', (action, role, resource) => {
    const author = { ...holder('prn_author', role), attributes: { clearance: ['PII', 'PHI', 'PCI'] } };
    const d = engine.authorize({ principal: author, action, resource: resource(author.id), context: { elevated: true } });
    expect(d.decision).toBe('deny');
    expect(d.policyIds).toContain('sod.no-self-approval');
  });

  it.each(APPROVE_ACTIONS)('%s: every role at once (platform-admin included) is still denied; the same principal approves a colleague’s', (action, resource) => {
    const own = engine.authorize({ principal: OMNI, action, resource: resource(OMNI.id), context: { elevated: true } });
    expect(own).toMatchObject({ decision: 'deny', policyIds: ['sod.no-self-approval'] });
    // Control: the same principal, someone else's artifact — so the denial above is the SoD rule.
    const colleague = engine.authorize({ principal: OMNI, action, resource: resource('prn_colleague') });
    expect(colleague.decision).toBe('allow');
  });

  it('services and agents never approve, even holding the approving role', () => {
    for (const kind of ['service', 'agent'] as const) {
      const d = engine.authorize({ principal: { ...OMNI, kind }, action: 'approveModelVersion', resource: modelVersion('prn_colleague') });
      expect(d).toMatchObject({ decision: 'deny', policyIds: ['sod.humans-approve'] });
    }
  });
});

describe('summarizeApprovals', () => {
  it('counts each approver once, in the role of their first approval', () => {
    expect(
      summarizeApprovals([
        { principalId: 'a', role: 'model-validator' },
        { principalId: 'a', role: 'risk-officer' },
        { principalId: 'b', role: 'model-validator' },
      ]),
    ).toEqual({ approvers: ['a', 'b'], count: 2, roles: ['model-validator'] });
    expect(summarizeApprovals([])).toEqual({ approvers: [], count: 0, roles: [] });
  });
});

describe('a release needs N distinct approvers with the roles its risk tier asks for', () => {
  const engineer = holder('prn_eng', 'ml-engineer');
  const release = (riskTier: 'low' | 'medium' | 'high', approvals: [string, string][], principal = engineer): AuthorizationRequest => ({
    principal,
    action: 'releaseModelVersion',
    resource: modelVersion('prn_author', riskTier),
    context: { approval: summarizeApprovals(approvals.map(([principalId, role]) => ({ principalId, role }))) },
  });

  it.each<[string, 'low' | 'medium' | 'high', [string, string][], 'allow' | 'deny', string[]]>([
    ['high: a validator and a risk officer', 'high', [['v', 'model-validator'], ['r', 'risk-officer']], 'allow', ['release.ml-engineers-release']],
    ['high: one person approving in both roles', 'high', [['v', 'model-validator'], ['v', 'risk-officer']], 'deny', ['release.high-risk-approvers']],
    ['high: two validators, no risk officer', 'high', [['v', 'model-validator'], ['w', 'model-validator']], 'deny', ['release.high-risk-approvers']],
    ['high: nobody', 'high', [], 'deny', ['release.high-risk-approvers']],
    ['medium: a validator', 'medium', [['v', 'model-validator']], 'allow', ['release.ml-engineers-release']],
    ['medium: only a risk officer', 'medium', [['r', 'risk-officer']], 'deny', ['release.medium-risk-approvers']],
    ['low: anyone', 'low', [['s', 'data-steward']], 'allow', ['release.ml-engineers-release']],
    ['low: nobody', 'low', [], 'deny', ['release.low-risk-approvers']],
    ['an approval by the author voids the release', 'low', [['v', 'model-validator'], ['prn_author', 'risk-officer']], 'deny', ['sod.author-approval-void']],
    // The author's approval would complete the pair; it voids the release instead.
    ['high: the author cannot make up the count', 'high', [['v', 'model-validator'], ['prn_author', 'risk-officer']], 'deny', ['sod.author-approval-void']],
  ])('%s → %s', (_name, tier, approvals, decision, policyIds) => {
    const d = engine.authorize(release(tier, approvals));
    expect(d.decision).toBe(decision);
    expect(d.policyIds).toEqual(policyIds);
  });

  it('only ML engineers release, even with every approval in place', () => {
    const approvals: [string, string][] = [['v', 'model-validator'], ['r', 'risk-officer']];
    const validator = holder('prn_val', 'model-validator', 'risk-officer', 'platform-admin');
    expect(engine.authorize(release('high', approvals, validator))).toMatchObject({ decision: 'deny', policyIds: [] });
  });

  it('break-glass elevation does not waive the approvals', () => {
    const bg = holder('prn_bg', 'break-glass', 'ml-engineer');
    const d = engine.authorize({ ...release('high', []), principal: bg, context: { elevated: true, approval: summarizeApprovals([]) } });
    expect(d).toMatchObject({ decision: 'deny', policyIds: ['release.high-risk-approvers'] });
  });
});
