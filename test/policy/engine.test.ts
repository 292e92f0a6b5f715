import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { BUILT_IN_ROLES } from '../../src/identity/index.js';
import {
  CLASSIFICATIONS,
  loadPolicyEngine,
  PolicyDenied,
  PolicyRequestInvalid,
  RISK_TIERS,
  SCHEMA_FILE,
  summarizeApprovals,
  ZONE_TIERS,
  type AuthorizationRequest,
  type PolicyEngine,
  type ResourceInput,
} from '../../src/policy/index.js';
import { holder, OMNI } from './fixtures.js';

let engine: PolicyEngine;
beforeAll(async () => {
  engine = await loadPolicyEngine();
});

describe('schema and default pack', () => {
  it('load and validate, every policy named by a unique @id with its file and line', () => {
    expect(engine.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(engine.policies.length).toBeGreaterThan(20);
    const ids = engine.policies.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of engine.policies) {
      expect(p.file).toMatch(/packs\/default\/[a-z-]+\.cedar$/);
      // The recorded line holds the policy's @id annotation.
      expect(readFileSync(p.file, 'utf8').split('\n')[p.line - 1]).toContain(`@id("${p.id}")`);
      expect(p.description, p.id).toBeTruthy();
    }
  });

  it('declares the vocabularies the TypeScript side uses (roles, classifications, risk and zone tiers)', () => {
    const parsed = cedar.schemaToJson(readFileSync(SCHEMA_FILE, 'utf8'));
    if (parsed.type !== 'success') throw new Error('schema does not parse');
    const types = parsed.json.Assay!.entityTypes;
    const enumOf = (name: string): string[] => (types[name] as { enum: string[] }).enum;
    expect(enumOf('Role')).toEqual([...BUILT_IN_ROLES]);
    expect(enumOf('Classification')).toEqual([...CLASSIFICATIONS]);
    expect(enumOf('RiskTier')).toEqual([...RISK_TIERS]);
    expect(enumOf('ZoneTier')).toEqual([...ZONE_TIERS]);
  });

  it('has a Cedar action for every token-authenticated API operation', async () => {
    const { routeTable } = await import('../../src/api/routes/index.js');
    const operations = routeTable()
      .filter((r) => r.auth === 'token')
      .map((r) => r.operationId);
    expect(operations.length).toBeGreaterThan(10);
    expect(operations.filter((op) => !engine.actions.includes(op))).toEqual([]);
  });

  it('is deterministic: loading twice gives the same digest', async () => {
    expect((await loadPolicyEngine()).digest).toBe(engine.digest);
  });
});

// One case per default policy: the request that policy decides, and the answer. The last
// test checks the table covers the whole pack, so a new policy without a case fails here.
const other = 'prn_other';
const dataset = (author: string, classification: 'internal' | 'PII' | 'PHI' = 'internal'): ResourceInput => ({
  type: 'Dataset',
  id: 'ds_1',
  classification,
  author,
});
const version = (riskTier: 'low' | 'medium' | 'high'): ResourceInput => ({
  type: 'ModelVersion',
  id: 'mv_1',
  classification: 'internal',
  riskTier,
  author: other,
});
const approvals = (...pairs: [string, string][]) => ({ approval: summarizeApprovals(pairs.map(([principalId, role]) => ({ principalId, role }))) });
const engineer = holder('prn_eng', 'ml-engineer');
const auditLog: ResourceInput = { type: 'AuditLog' };

const CASES: Record<string, { request: AuthorizationRequest; decision: 'allow' | 'deny' }> = {
  'identity.self-service': {
    request: { principal: holder('prn_s', 'data-scientist'), action: 'listOwnTokens', resource: { type: 'Principal', ...holder('prn_s', 'data-scientist') } },
    decision: 'allow',
  },
  'identity.revoke-own-token': {
    request: { principal: holder('prn_s', 'app-client'), action: 'revokeToken', resource: { type: 'Token', id: 'tok_1', owner: 'prn_s' } },
    decision: 'allow',
  },
  'identity.admins-revoke-tokens': {
    request: { principal: holder('prn_a', 'platform-admin'), action: 'revokeToken', resource: { type: 'Token', id: 'tok_1', owner: other } },
    decision: 'allow',
  },
  'identity.break-glass-self': {
    request: { principal: holder('prn_b', 'break-glass'), action: 'startBreakGlass', resource: { type: 'Principal', ...holder('prn_b', 'break-glass') } },
    decision: 'allow',
  },
  'identity.admins-manage-principals': {
    request: { principal: holder('prn_a', 'platform-admin'), action: 'createPrincipal', resource: { type: 'Platform' } },
    decision: 'allow',
  },
  'sod.no-self-privilege-change': {
    request: { principal: holder('prn_a', 'platform-admin'), action: 'updatePrincipal', resource: { type: 'Principal', ...holder('prn_a', 'platform-admin') } },
    decision: 'deny',
  },
  'api.describe': { request: { principal: holder('prn_c', 'app-client'), action: 'getOpenApi', resource: { type: 'Platform' } }, decision: 'allow' },
  'audit.read-log': { request: { principal: holder('prn_au', 'auditor'), action: 'verifyAuditLog', resource: auditLog }, decision: 'allow' },
  'audit.read-payload-records': {
    request: { principal: holder('prn_au', 'auditor'), action: 'getAuditPayload', resource: { type: 'AuditPayload', id: 'p1' } },
    decision: 'allow',
  },
  'audit.read-payload-content': {
    request: { principal: holder('prn_co', 'compliance-officer'), action: 'readAuditPayload', resource: { type: 'AuditPayload', id: 'p1' } },
    decision: 'allow',
  },
  'audit.erase-payloads': {
    request: { principal: holder('prn_co', 'compliance-officer'), action: 'eraseAuditPayload', resource: { type: 'AuditPayload', id: 'p1' } },
    decision: 'allow',
  },
  'audit.read-legal-holds': {
    request: { principal: holder('prn_au', 'auditor'), action: 'getLegalHold', resource: { type: 'LegalHold', id: 'hold_1' } },
    decision: 'allow',
  },
  'audit.place-legal-holds': {
    request: { principal: holder('prn_so', 'security-officer'), action: 'placeLegalHold', resource: auditLog },
    decision: 'allow',
  },
  'audit.release-legal-holds': {
    request: { principal: holder('prn_co', 'compliance-officer'), action: 'releaseLegalHold', resource: { type: 'LegalHold', id: 'hold_1' } },
    decision: 'allow',
  },
  'audit.read-retention': { request: { principal: holder('prn_ro', 'risk-officer'), action: 'getAuditRetention', resource: auditLog }, decision: 'allow' },
  'audit.purge-payloads': { request: { principal: holder('prn_a', 'platform-admin'), action: 'purgeAuditPayloads', resource: auditLog }, decision: 'allow' },
  'autonomy.ask-before-acting': { request: { principal: holder('prn_c', 'app-client'), action: 'decideAutonomy', resource: { type: 'Platform' } }, decision: 'allow' },
  'autonomy.resolve-requests': {
    request: { principal: holder('prn_ro', 'risk-officer'), action: 'approveApprovalRequest', resource: { type: 'Approval', id: 'apr_1', author: other } },
    decision: 'allow',
  },
  'autonomy.read-requests': {
    request: { principal: holder('prn_au', 'auditor'), action: 'listApprovalRequests', resource: { type: 'Platform' } },
    decision: 'allow',
  },
  'autonomy.read-own-request': {
    request: { principal: holder('prn_c', 'app-client'), action: 'getApprovalRequest', resource: { type: 'Approval', id: 'apr_1', author: 'prn_c' } },
    decision: 'allow',
  },
  'lineage.ingest-events': {
    request: { principal: { ...holder('prn_af', 'data-steward'), kind: 'service' }, action: 'ingestLineageEventBatch', resource: { type: 'Platform' } },
    decision: 'allow',
  },
  'lineage.read-graph': { request: { principal: holder('prn_au', 'auditor'), action: 'getLineageGraph', resource: { type: 'Platform' } }, decision: 'allow' },
  'monitoring.read-metrics': {
    request: { principal: holder('prn_so', 'security-officer'), action: 'getMetrics', resource: { type: 'Platform' } },
    decision: 'allow',
  },
  'data.ingest': {
    request: { principal: holder('prn_sci', 'data-scientist'), action: 'ingestDatasetVersion', resource: dataset('prn_sci') },
    decision: 'allow',
  },
  'data.read-datasets': {
    request: { principal: holder('prn_val', 'model-validator'), action: 'getDatasetVersionChecks', resource: dataset(other) },
    decision: 'allow',
  },
  'data.download-certified': {
    request: { principal: holder('prn_val', 'model-validator'), action: 'downloadCertifiedDataset', resource: dataset(other) },
    decision: 'allow',
  },
  'data.override-blocking-checks': {
    request: { principal: holder('prn_cmp', 'compliance-officer'), action: 'overrideDatasetCheck', resource: dataset(other) },
    decision: 'allow',
  },
  'erasure.request-erasure': {
    request: { principal: holder('prn_cmp', 'compliance-officer'), action: 'requestErasure', resource: { type: 'Platform' } },
    decision: 'allow',
  },
  'erasure.read-requests': { request: { principal: holder('prn_au', 'auditor'), action: 'getErasureRequest', resource: { type: 'Platform' } }, decision: 'allow' },
  'approve.data-stewards-approve-datasets': {
    request: { principal: holder('prn_ds', 'data-steward'), action: 'approveDataset', resource: dataset(other) },
    decision: 'allow',
  },
  'approve.validators-approve-model-versions': {
    request: { principal: holder('prn_v', 'model-validator'), action: 'approveModelVersion', resource: version('high') },
    decision: 'allow',
  },
  'sod.no-self-approval': {
    request: { principal: holder('prn_ds', 'data-steward'), action: 'approveDataset', resource: dataset('prn_ds') },
    decision: 'deny',
  },
  'sod.humans-approve': {
    request: { principal: { ...holder('prn_bot', 'data-steward'), kind: 'agent' }, action: 'approveDataset', resource: dataset(other) },
    decision: 'deny',
  },
  'data.clearance-for-sensitive': {
    request: { principal: holder('prn_ds', 'data-steward'), action: 'approveDataset', resource: dataset(other, 'PHI') },
    decision: 'deny',
  },
  'release.ml-engineers-release': {
    request: { principal: engineer, action: 'releaseModelVersion', resource: version('low'), context: approvals(['prn_v', 'model-validator']) },
    decision: 'allow',
  },
  'release.high-risk-approvers': {
    request: { principal: engineer, action: 'releaseModelVersion', resource: version('high'), context: approvals(['prn_v', 'model-validator']) },
    decision: 'deny',
  },
  'release.medium-risk-approvers': {
    request: { principal: engineer, action: 'releaseModelVersion', resource: version('medium'), context: approvals(['prn_r', 'risk-officer']) },
    decision: 'deny',
  },
  'release.low-risk-approvers': {
    request: { principal: engineer, action: 'releaseModelVersion', resource: version('low'), context: approvals() },
    decision: 'deny',
  },
  'sod.author-approval-void': {
    request: {
      principal: engineer,
      action: 'releaseModelVersion',
      resource: version('low'),
      context: approvals(['prn_v', 'model-validator'], [other, 'risk-officer']),
    },
    decision: 'deny',
  },
};

describe('each default authorization policy decides its case, and names itself', () => {
  it.each(Object.entries(CASES))('%s', (id, c) => {
    const d = engine.authorize(c.request);
    expect(d.decision).toBe(c.decision);
    expect(d.policyIds).toEqual([id]);
    expect(d.reason).toContain(id);
    expect(d.errors).toEqual([]);
  });

  it('the table covers every authorization policy of the pack (placement has its own file)', () => {
    const pack = engine.policies.map((p) => p.id).filter((id) => !id.startsWith('placement.'));
    expect(Object.keys(CASES).sort()).toEqual(pack.sort());
  });

  it('denies by default, naming no policy, when nothing permits', () => {
    const d = engine.authorize({ principal: holder('prn_s', 'data-scientist'), action: 'searchAuditEntries', resource: auditLog });
    expect(d).toMatchObject({ decision: 'deny', policyIds: [] });
    expect(d.reason).toMatch(/no policy permits/);
  });

  it("downloading a certified version's rows: the four roles that work with data, not auditors or administrators, and a PII dataset only with the clearance", () => {
    const download = (p: ReturnType<typeof holder>, classification: 'internal' | 'PII' = 'internal') =>
      engine.authorize({ principal: p, action: 'downloadCertifiedDataset', resource: dataset(other, classification) });
    for (const role of ['data-steward', 'data-scientist', 'ml-engineer', 'model-validator']) {
      expect(download(holder('prn_x', role)), role).toMatchObject({ decision: 'allow', policyIds: ['data.download-certified'] });
    }
    for (const role of ['platform-admin', 'auditor', 'risk-officer', 'compliance-officer', 'security-officer', 'app-client']) {
      expect(download(holder('prn_x', role)).decision, role).toBe('deny');
    }
    // ReadDatasets does not carry it: every role that reads metadata but is not named above is refused rows.
    expect(download(holder('prn_x', 'auditor', 'platform-admin', 'risk-officer', 'compliance-officer'))).toMatchObject({ decision: 'deny', policyIds: [] });
    const scientist = holder('prn_sci', 'data-scientist');
    expect(download(scientist, 'PII')).toMatchObject({ decision: 'deny', policyIds: ['data.clearance-for-sensitive'] });
    expect(download({ ...scientist, attributes: { clearance: ['pii'] } }, 'PII')).toMatchObject({ decision: 'allow', policyIds: ['data.download-certified'] });
  });

  it('a principal with every role still cannot read audit payload bytes of PHI it is not cleared for', () => {
    const request: AuthorizationRequest = {
      principal: { ...OMNI, attributes: { clearance: ['pii'] } },
      action: 'readAuditPayload',
      resource: { type: 'AuditPayload', id: 'p1', classification: 'PHI' },
    };
    expect(engine.authorize(request)).toMatchObject({ decision: 'deny', policyIds: ['data.clearance-for-sensitive'] });
    // Identity spells clearances in lower case; either spelling clears.
    expect(engine.authorize({ ...request, principal: { ...OMNI, attributes: { clearance: ['phi'] } } }).decision).toBe('allow');
  });

  it('break-glass under an active elevation is the emergency path to sensitive data, and only then', () => {
    const bg = { ...holder('prn_bg', 'break-glass', 'compliance-officer') };
    const request: AuthorizationRequest = { principal: bg, action: 'readAuditPayload', resource: { type: 'AuditPayload', id: 'p1', classification: 'PHI' } };
    expect(engine.authorize(request).decision).toBe('deny');
    expect(engine.authorize({ ...request, context: { elevated: false } }).decision).toBe('deny');
    expect(engine.authorize({ ...request, context: { elevated: true } })).toMatchObject({ decision: 'allow', policyIds: ['audit.read-payload-content'] });
    // Elevation without the break-glass role exempts nobody.
    const officer = holder('prn_co', 'compliance-officer');
    expect(engine.authorize({ ...request, principal: officer, context: { elevated: true } }).decision).toBe('deny');
  });
});

describe('requests the schema does not allow are errors, never decisions', () => {
  const scientist = holder('prn_s', 'data-scientist');
  it.each<[string, AuthorizationRequest, RegExp]>([
    ['an unknown action', { principal: scientist, action: 'frobnicate', resource: auditLog }, /unknown action frobnicate/],
    ['an action group', { principal: scientist, action: 'ReadAuditLog', resource: auditLog }, /unknown action ReadAuditLog/],
    ['a resource type the action does not take', { principal: scientist, action: 'approveDataset', resource: auditLog }, /not valid for/],
    ['an unknown role', { principal: holder('prn_x', 'wizard'), action: 'getOpenApi', resource: { type: 'Platform' } }, /wizard/],
    ['an unknown clearance', { principal: { ...scientist, attributes: { clearance: ['secret'] } }, action: 'getOpenApi', resource: { type: 'Platform' } }, /secret/],
    ['a release without its approval context', { principal: engineer, action: 'releaseModelVersion', resource: version('low') }, /approval/],
    ['placement through authorize', { principal: scientist, action: 'placeWorkload', resource: { type: 'Zone', id: 'z', tier: 'on-prem', region: 'eu' } }, /decidePlacement/],
  ])('%s', (_name, request, message) => {
    expect(() => engine.authorize(request)).toThrow(PolicyRequestInvalid);
    expect(() => engine.authorize(request)).toThrow(message);
  });
});

describe('PolicyDenied', () => {
  it('carries what the audit entry and the problem+json body need, as a forbidden error', () => {
    const d = engine.authorize({ principal: holder('prn_s', 'data-scientist'), action: 'approveDataset', resource: dataset('prn_s') });
    const err = new PolicyDenied({ action: 'approveDataset', principalId: 'prn_s', policyIds: d.policyIds, reason: d.reason });
    expect(err).toMatchObject({ code: 'forbidden', action: 'approveDataset', principalId: 'prn_s', policyIds: ['sod.no-self-approval'] });
    expect(err.message).toBe(d.reason);
  });
});
