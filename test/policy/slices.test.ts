import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BUILT_IN_ROLES } from '../../src/identity/index.js';
import { compilePolicySet, DEFAULT_PACK_DIR, loadPolicyEngine, SCHEMA_FILE, type CompiledPolicySet, type PolicyEngine } from '../../src/policy/index.js';
import { contextRecord, principalEntity, resourceEntity, uid } from '../../src/policy/entities.js';
import type { AuthorizationRequest, ResourceInput } from '../../src/policy/index.js';
import { tempDirs } from './fixtures.js';

// Decisions use a per-action slice of the policy set. These tests hold that to the promise:
// same decision and same determining policies as the whole set.
const tempDir = tempDirs();
const SITE = `@id("site.listed-actions")
permit (principal, action in [Assay::Action::"getOpenApi", Assay::Action::"ReadAuditLog"], resource)
when { principal in Assay::Role::"app-client" };
`;
let compiled: CompiledPolicySet;
let engine: PolicyEngine;

beforeAll(async () => {
  const site = tempDir({ 'site.cedar': SITE });
  const dir = DEFAULT_PACK_DIR;
  const files = readdirSync(dir)
    .filter((n) => n.endsWith('.cedar'))
    .sort()
    .map((n) => ({ file: join(dir, n), text: readFileSync(join(dir, n), 'utf8') }));
  files.push({ file: join(site, 'site.cedar'), text: SITE });
  compiled = compilePolicySet({ schema: { file: SCHEMA_FILE, text: readFileSync(SCHEMA_FILE, 'utf8') }, files });
  engine = await loadPolicyEngine({ siteDir: site });
});

describe('per-action policy slices', () => {
  it('hold exactly the policies whose action scope can match', () => {
    expect(compiled.slices.searchAuditEntries?.policyIds).toEqual(['audit.read-log', 'data.clearance-for-sensitive', 'site.listed-actions']);
    expect(compiled.slices.getOpenApi?.policyIds).toEqual(['data.clearance-for-sensitive', 'api.describe', 'site.listed-actions']);
    expect(compiled.slices.approveDataset?.policyIds).toEqual([
      'approve.data-stewards-approve-datasets',
      'sod.no-self-approval',
      'sod.humans-approve',
      'data.clearance-for-sensitive',
    ]);
    // Every concrete action has a slice; groups are not requestable.
    expect(Object.keys(compiled.slices).sort()).toEqual([...engine.actions].sort());
    expect(compiled.slices.ReadAuditLog).toBeUndefined();
  });

  it('decide every action × role like the whole set does', () => {
    const sample: Record<string, ResourceInput> = {
      Platform: { type: 'Platform' },
      AuditLog: { type: 'AuditLog' },
      AuditPayload: { type: 'AuditPayload', id: 'p', classification: 'PHI' },
      LegalHold: { type: 'LegalHold', id: 'h' },
      Token: { type: 'Token', id: 't', owner: 'prn_x' },
      Principal: { type: 'Principal', id: 'prn_x', roles: [] },
      Dataset: { type: 'Dataset', id: 'd', classification: 'PII', author: 'prn_y' },
      ModelVersion: { type: 'ModelVersion', id: 'm', classification: 'internal', riskTier: 'high', author: 'prn_y' },
      Approval: { type: 'Approval', id: 'apr', author: 'prn_y' },
    };
    const parsed = cedar.schemaToJson(compiled.schemaText);
    if (parsed.type !== 'success') throw new Error('schema');
    const actions = parsed.json.Assay!.actions;
    let compared = 0;
    for (const action of engine.actions.filter((a) => a !== 'placeWorkload')) {
      const resourceType = actions[action]!.appliesTo!.resourceTypes[0]!;
      for (const role of BUILT_IN_ROLES) {
        const request: AuthorizationRequest = {
          principal: { id: 'prn_x', roles: [role], attributes: { clearance: ['pii'] } },
          action,
          resource: sample[resourceType]!,
          context: action === 'releaseModelVersion' ? { approval: { approvers: ['v'], count: 1, roles: ['model-validator'] } } : {},
        };
        const principal = principalEntity(request.principal);
        const resource = resourceEntity(request.resource);
        const same = request.resource.type === 'Principal' && request.resource.id === request.principal.id;
        const whole = cedar.statefulIsAuthorized({
          principal: principal.uid,
          action: uid('Action', action),
          resource: resource.uid,
          context: contextRecord(request.context),
          entities: same ? [principal] : [principal, resource],
          preparsedSchemaName: compiled.schemaName,
          preparsedPolicySetId: compiled.policySetId,
          validateRequest: true,
        });
        if (whole.type !== 'success') throw new Error(`${action}: ${JSON.stringify(whole.errors)}`);
        const sliced = engine.authorize(request);
        expect([action, role, sliced.decision, [...sliced.policyIds].sort()]).toEqual([
          action,
          role,
          whole.response.decision,
          [...whole.response.diagnostics.reason].sort(),
        ]);
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(300);
  });
});

describe('the decision cache', () => {
  const requests: AuthorizationRequest[] = [
    { principal: { id: 'prn_a', roles: ['auditor'] }, action: 'searchAuditEntries', resource: { type: 'AuditLog' } },
    { principal: { id: 'prn_s', roles: ['data-scientist'] }, action: 'searchAuditEntries', resource: { type: 'AuditLog' } },
    { principal: { id: 'prn_d', roles: ['data-steward'] }, action: 'approveDataset', resource: { type: 'Dataset', id: 'd', classification: 'internal', author: 'prn_d' } },
    { principal: { id: 'prn_d', roles: ['data-steward'] }, action: 'approveDataset', resource: { type: 'Dataset', id: 'd', classification: 'internal', author: 'prn_x' } },
  ];

  it('answers exactly as evaluating every time, also when tiny and evicting', async () => {
    const uncached = await loadPolicyEngine({ decisionCacheSize: 0 });
    const tiny = await loadPolicyEngine({ decisionCacheSize: 1 });
    const normal = await loadPolicyEngine();
    for (let round = 0; round < 3; round++) {
      for (const r of requests) {
        const expected = uncached.authorize(r);
        expect(tiny.authorize(r)).toEqual(expected);
        expect(normal.authorize(r)).toEqual(expected);
      }
    }
  });

  it('keys on everything the decision depends on: an attribute change is a new decision', async () => {
    const e = await loadPolicyEngine();
    const own = requests[2]!;
    expect(e.authorize(own).decision).toBe('deny');
    expect(e.authorize({ ...own, resource: { ...(own.resource as ResourceInput & { type: 'Dataset' }), author: 'prn_other' } }).decision).toBe('allow');
    expect(e.authorize(own).decision).toBe('deny');
  });

  it('hands out copies: a caller changing its decision does not change the next one', async () => {
    const e = await loadPolicyEngine();
    const first = e.authorize(requests[0]!);
    first.policyIds.push('tampered');
    first.decision = 'deny';
    expect(e.authorize(requests[0]!)).toMatchObject({ decision: 'allow', policyIds: ['audit.read-log'] });
  });
});
