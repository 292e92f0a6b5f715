import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigInvalid } from '../../src/core/index.js';
import {
  compilePolicySet,
  DEFAULT_PACK_DIR,
  loadPolicyEngine,
  PolicyRequestInvalid,
  SCHEMA_FILE,
  summarizeApprovals,
  type AuthorizationRequest,
  type CompiledPolicySet,
  type PolicyDecision,
  type PolicyEngine,
  type PrincipalInput,
  type ResourceInput,
} from '../../src/policy/index.js';
import { contextRecord, principalEntity, resourceEntity, uid } from '../../src/policy/entities.js';
import { decisionClass, evaluationEntities, evaluationPlan, LruMap, shapeKey, type CedarCall } from '../../src/policy/evaluation.js';
import { holder, OMNI, tempDirs } from './fixtures.js';

// The engine checks each request shape against the schema once, then evaluates without the
// schema on what the action's slice can observe. These tests hold that to the promise: the
// same decision, determining policies and errors as Cedar with the schema, the whole policy
// set and every attribute; and every request the schema refuses still refused.

const tempDir = tempDirs();

// Site policies that read what the default pack does not (team, region, owner, residency, zone;
// residency only with `has`), consult the action hierarchy from a condition, name an action
// entity, and error at run time.
const SITE = `@id("site.platform-team-reads-api")
permit (principal, action == Assay::Action::"getOpenApi", resource)
when { principal has team && principal.team == "platform" };

@id("site.us-east-no-audit")
forbid (principal, action in Assay::Action::"ReadAuditLog", resource)
when { principal has region && principal.region == "us-east" };

@id("site.owners-approve-resident-data")
permit (principal, action == Assay::Action::"approveDataset", resource)
when { resource has owner && resource.owner == principal && resource has zone && resource.zone == Assay::Zone::"on-prem" };

@id("site.resident-data-only")
forbid (principal, action == Assay::Action::"approveDataset", resource)
when { !(resource has residency) && principal in Assay::Role::"platform-admin" };

@id("site.scientists-no-holds")
forbid (principal, action, resource)
when { action in Assay::Action::"ReadLegalHolds" && principal in Assay::Role::"data-scientist" };

@id("site.metrics-for-auditors")
permit (principal, action == Assay::Action::"getMetrics", resource)
when { Assay::Action::"getMetrics" in Assay::Action::"ReadMetrics" && principal in Assay::Role::"auditor" };

@id("site.author-kind")
forbid (principal, action == Assay::Action::"approveModelVersion", resource)
when { resource.author.kind == "agent" };
`;

function packFiles(): { file: string; text: string }[] {
  return readdirSync(DEFAULT_PACK_DIR)
    .filter((n) => n.endsWith('.cedar'))
    .sort()
    .map((n) => ({ file: join(DEFAULT_PACK_DIR, n), text: readFileSync(join(DEFAULT_PACK_DIR, n), 'utf8') }));
}

const schema = { file: SCHEMA_FILE, text: readFileSync(SCHEMA_FILE, 'utf8') };

function cedarCall(r: AuthorizationRequest): CedarCall {
  const principal = principalEntity(r.principal);
  const resource = resourceEntity(r.resource);
  const same = r.resource.type === 'Principal' && r.resource.id === r.principal.id;
  return { action: r.action, principal: principal.uid, resource: resource.uid, context: contextRecord(r.context), entities: same ? [principal] : [principal, resource] };
}

/** What the engine promises, computed the slow way: Cedar with the schema, the whole set and every attribute. */
function reference(compiled: CompiledPolicySet, r: AuthorizationRequest): Pick<PolicyDecision, 'decision' | 'policyIds' | 'errors'> {
  const call = cedarCall(r);
  const answer = cedar.statefulIsAuthorized({
    principal: call.principal,
    action: uid('Action', call.action),
    resource: call.resource,
    context: call.context,
    entities: call.entities,
    preparsedSchemaName: compiled.schemaName,
    preparsedPolicySetId: compiled.policySetId,
    validateRequest: true,
  });
  if (answer.type === 'failure') throw new Error(`${r.action}: ${answer.errors.map((e) => e.message).join('; ')}`);
  const { decision, diagnostics } = answer.response;
  const errors = diagnostics.errors.map((e) => `${e.policyId}: ${e.error.message}`).sort();
  if (errors.length > 0) return { decision: 'deny', policyIds: [...new Set(diagnostics.errors.map((e) => e.policyId))].sort(), errors };
  return { decision, policyIds: [...diagnostics.reason].sort(), errors: [] };
}

const sorted = (d: PolicyDecision): Pick<PolicyDecision, 'decision' | 'policyIds' | 'errors'> => ({
  decision: d.decision,
  policyIds: [...d.policyIds].sort(),
  errors: [...d.errors].sort(),
});

describe('what each slice can observe', () => {
  let compiled: CompiledPolicySet;
  beforeAll(() => {
    compiled = compilePolicySet({ schema, files: packFiles() });
  });

  it('the attribute names its policies read, and no others', () => {
    // no-self-approval reads author, humans-approve kind, clearance-for-sensitive the rest.
    expect(compiled.slices.approveDataset?.attributes).toEqual(['author', 'classification', 'clearance', 'elevated', 'kind']);
    expect(compiled.slices.releaseModelVersion?.attributes).toEqual(['approval', 'approvers', 'author', 'classification', 'clearance', 'count', 'elevated', 'riskTier', 'roles']);
    expect(compiled.slices.revokeToken?.attributes).toEqual(['classification', 'clearance', 'elevated', 'owner']);
  });

  it('the action hierarchy only where a policy consults it', () => {
    // `action in Assay::Action::"Approve"` holds for every request the slice decides: its scope is preparsed as `action`.
    expect(compiled.slices.approveDataset).toMatchObject({ readsAction: false, actionLiterals: [] });
    expect(compiled.slices.releaseModelVersion).toMatchObject({ readsAction: false, actionLiterals: [] }); // only `action ==`
    expect(compiled.actionGroups.approveDataset).toEqual(['Approve']);
    expect(compiled.actionGroups.Approve).toEqual([]);
  });

  it('the entity types that take any id: all but the enumerated ones', () => {
    expect(compiled.freeIdTypes).toContain('Assay::Principal');
    expect(compiled.freeIdTypes).toContain('Assay::Dataset');
    for (const e of ['Assay::Role', 'Assay::Classification', 'Assay::RiskTier', 'Assay::ZoneTier', 'Assay::Action']) expect(compiled.freeIdTypes).not.toContain(e);
  });

  it('sends Cedar only the attributes read, and no action entity when no condition asks', () => {
    const request: AuthorizationRequest = {
      principal: { id: 'prn_d', roles: ['data-steward'], attributes: { team: 't', region: 'eu', clearance: ['pii'] } },
      action: 'approveDataset',
      resource: { type: 'Dataset', id: 'd', classification: 'PII', author: 'prn_x', owner: 'prn_d', team: 't', zone: 'z', residency: 'eu' },
    };
    const plan = evaluationPlan('approveDataset', compiled.slices.approveDataset!, { type: compiled.actionType, groups: compiled.actionGroups });
    const [principal, resource, ...rest] = evaluationEntities(cedarCall(request), plan);
    expect(Object.keys(principal!.attrs).sort()).toEqual(['clearance', 'kind']);
    expect(principal!.parents).toEqual([uid('Role', 'data-steward')]);
    expect(Object.keys(resource!.attrs).sort()).toEqual(['author', 'classification']);
    expect(rest).toEqual([]);
  });

  it('sends each action entity a condition asks for with every group it is in, transitively', () => {
    const slice = { policySetId: 's', policyIds: [], attributes: [], readsAction: true, actionLiterals: ['b'], entityLiterals: [] };
    const plan = evaluationPlan('a', slice, { type: 'NS::Action', groups: { a: ['G', 'H'], b: [] } });
    expect(plan.actionEntities).toEqual([
      { uid: { type: 'NS::Action', id: 'a' }, attrs: {}, parents: [{ type: 'NS::Action', id: 'G' }, { type: 'NS::Action', id: 'H' }] },
      { uid: { type: 'NS::Action', id: 'b' }, attrs: {}, parents: [] },
    ]);
  });
});

const principals: PrincipalInput[] = [
  OMNI,
  { id: 'prn_p', kind: 'human', roles: ['data-steward', 'auditor'], attributes: { team: 'platform', region: 'us-east', clearance: ['pii'] } },
  { id: 'prn_bot', kind: 'agent', roles: ['data-steward', 'model-validator', 'ml-engineer'], attributes: { clearance: ['PHI'] } },
  { ...holder('prn_bg', 'break-glass', 'compliance-officer', 'data-scientist'), attributes: { region: 'eu' } },
  holder('prn_none'),
];
/** Per resource type: one resource tied to the principal (its author, owner, itself) and one that is not, sensitive. */
const resources = (p: PrincipalInput): Record<string, ResourceInput[]> => ({
  Platform: [{ type: 'Platform' }],
  AuditLog: [{ type: 'AuditLog' }],
  AuditPayload: [{ type: 'AuditPayload', id: 'pl', classification: 'PHI' }, { type: 'AuditPayload', id: 'pl2' }],
  LegalHold: [{ type: 'LegalHold', id: 'h' }],
  Principal: [{ type: 'Principal', ...p }, { type: 'Principal', id: 'prn_o', roles: ['platform-admin'], attributes: { team: 'platform' } }],
  Token: [{ type: 'Token', id: 't', owner: p.id }, { type: 'Token', id: 't2', owner: 'prn_o' }],
  Approval: [{ type: 'Approval', id: 'a', author: p.id }, { type: 'Approval', id: 'a2', author: 'prn_o' }],
  Dataset: [
    { type: 'Dataset', id: 'd', classification: 'internal', author: 'prn_o', owner: p.id, team: 'platform', zone: 'on-prem', residency: 'eu' },
    { type: 'Dataset', id: 'd2', classification: 'PII', author: p.id },
  ],
  ModelVersion: [
    { type: 'ModelVersion', id: 'm', classification: 'internal', riskTier: 'medium', author: 'prn_o', owner: p.id, team: 'platform', zone: 'on-prem' },
    { type: 'ModelVersion', id: 'm2', classification: 'PHI', riskTier: 'high', author: p.id },
  ],
});
const contexts = (action: string, p: PrincipalInput): AuthorizationRequest['context'][] =>
  action === 'releaseModelVersion'
    ? [
        { approval: summarizeApprovals([{ principalId: 'prn_v', role: 'model-validator' }, { principalId: 'prn_r', role: 'risk-officer' }]) },
        { elevated: true, approval: summarizeApprovals([{ principalId: p.id, role: 'model-validator' }]) },
        { approval: summarizeApprovals([]) },
      ]
    : [{}, { elevated: true }, { elevated: false }];

/** Every action of the schema (placement aside) × principal × resource of the type it takes × context. */
function* everyRequest(compiled: CompiledPolicySet, actions: readonly string[]): Generator<AuthorizationRequest> {
  const parsed = cedar.schemaToJson(compiled.schemaText);
  if (parsed.type !== 'success') throw new Error('schema');
  const declared = parsed.json.Assay!.actions;
  for (const action of actions.filter((a) => a !== 'placeWorkload')) {
    const resourceType = declared[action]!.appliesTo!.resourceTypes[0]!;
    for (const principal of principals) {
      for (const resource of resources(principal)[resourceType] ?? []) {
        for (const context of contexts(action, principal)) yield { principal, action, resource, context };
      }
    }
  }
}

describe('decisions equal Cedar with the schema, the whole set and every attribute', () => {
  let compiled: CompiledPolicySet;
  let engine: PolicyEngine;
  beforeAll(async () => {
    const site = tempDir({ 'site.cedar': SITE });
    compiled = compilePolicySet({ schema, files: [...packFiles(), { file: join(site, 'site.cedar'), text: SITE }] });
    engine = await loadPolicyEngine({ siteDir: site });
    expect(engine.digest).toBe(compiled.digest);
  });

  it('for every action × principal × resource × context, decision, policies and errors alike', () => {
    let compared = 0;
    const seen = { allow: 0, deny: 0, errors: 0 };
    for (const request of everyRequest(compiled, engine.actions)) {
      const got = sorted(engine.authorize(request));
      expect([request, got]).toEqual([request, reference(compiled, request)]);
      seen[got.errors.length > 0 ? 'errors' : got.decision]++;
      compared++;
    }
    expect(compared).toBeGreaterThan(800);
    // The comparison covered permits, forbids and run-time errors.
    expect(seen.allow).toBeGreaterThan(50);
    expect(seen.deny).toBeGreaterThan(50);
    expect(seen.errors).toBeGreaterThan(0);
  });

  it('site policies reading attributes the default pack ignores decide as written', () => {
    const p = principals[1]!;
    expect(engine.authorize({ principal: p, action: 'getOpenApi', resource: { type: 'Platform' } }).policyIds).toContain('site.platform-team-reads-api');
    expect(engine.authorize({ principal: { ...OMNI, attributes: { ...OMNI.attributes, region: 'us-east' } }, action: 'verifyAuditLog', resource: { type: 'AuditLog' } })).toMatchObject({
      decision: 'deny',
      policyIds: ['site.us-east-no-audit'],
    });
    const dataset: ResourceInput = { type: 'Dataset', id: 'd', classification: 'internal', author: 'prn_o', owner: 'prn_x', residency: 'eu', zone: 'on-prem' };
    expect(engine.authorize({ principal: holder('prn_x'), action: 'approveDataset', resource: dataset }).policyIds).toEqual(['site.owners-approve-resident-data']);
    expect(engine.authorize({ principal: holder('prn_x'), action: 'approveDataset', resource: { ...dataset, zone: 'cloud' } }).decision).toBe('deny');
    const admin = holder('prn_x', 'platform-admin');
    expect(engine.authorize({ principal: admin, action: 'approveDataset', resource: dataset }).decision).toBe('allow');
    expect(engine.authorize({ principal: admin, action: 'approveDataset', resource: { ...dataset, residency: undefined } })).toMatchObject({
      decision: 'deny',
      policyIds: ['site.resident-data-only'],
    });
    expect(engine.authorize({ principal: holder('prn_s', 'data-scientist', 'auditor'), action: 'getLegalHold', resource: { type: 'LegalHold', id: 'h' } })).toMatchObject({
      decision: 'deny',
      policyIds: ['site.scientists-no-holds'],
    });
    expect(engine.authorize({ principal: holder('prn_a', 'auditor'), action: 'getMetrics', resource: { type: 'Platform' } }).policyIds).toEqual(['site.metrics-for-auditors']);
  });
});

describe('a pack whose conditions alone consult the action hierarchy', () => {
  // No scope says `action in …` here, so only the conditions can ask for action entities.
  const PACK = `@id("only.condition-reads-group")
permit (principal, action, resource) when { action in Assay::Action::"ReadAuditLog" };

@id("only.names-another-action")
permit (principal, action == Assay::Action::"getOpenApi", resource)
when { Assay::Action::"getMetrics" in Assay::Action::"ReadMetrics" };

@id("only.exact-longs")
forbid (principal, action in Assay::Action::"ReadAuditLog", resource)
when { 9007199254740993 == 9007199254740992 };
`;
  let compiled: CompiledPolicySet;
  let engine: PolicyEngine;
  beforeAll(async () => {
    const packDir = tempDir({ 'pack.cedar': PACK, 'autonomy.yaml': readFileSync(join(DEFAULT_PACK_DIR, 'autonomy.yaml'), 'utf8') });
    compiled = compilePolicySet({ schema, files: [{ file: join(packDir, 'pack.cedar'), text: PACK }] });
    engine = await loadPolicyEngine({ packDir });
  });

  it('sends the action with its groups when a condition names `action`, and every action a condition names', () => {
    // The group a condition names is sent too: more than needed, never less.
    expect(compiled.slices.getAuditStatus).toMatchObject({ readsAction: true, actionLiterals: ['ReadAuditLog'] });
    expect(compiled.slices.getOpenApi).toMatchObject({ readsAction: true, actionLiterals: ['ReadAuditLog', 'getMetrics', 'ReadMetrics'].sort() });
    // only.exact-longs compares two Longs a double cannot tell apart: its slices keep its text.
    const p = holder('prn_p');
    for (const [action, resource, decision] of [
      ['getAuditStatus', { type: 'AuditLog' }, 'allow'], // and not forbidden by only.exact-longs
      ['getOpenApi', { type: 'Platform' }, 'allow'],
      ['getMetrics', { type: 'Platform' }, 'deny'],
    ] as const) {
      const request: AuthorizationRequest = { principal: p, action, resource };
      expect(sorted(engine.authorize(request))).toEqual(reference(compiled, request));
      expect(engine.authorize(request).decision).toBe(decision);
    }
  });
});

/** `r` with every id of an entity that takes any id passed through `to` (principals, resources, authors, owners, zones, approvers). */
function renamed(r: AuthorizationRequest, to: (id: string) => string): AuthorizationRequest {
  const ids = (o: object): Record<string, unknown> =>
    Object.fromEntries(Object.entries(o).map(([k, v]) => [k, ['id', 'author', 'owner', 'zone'].includes(k) && typeof v === 'string' ? to(v) : v]));
  const { approval, ...rest } = r.context ?? {};
  return {
    ...r,
    principal: ids(r.principal) as unknown as PrincipalInput,
    // The singletons' ids are fixed by the engine, not the caller.
    resource: (r.resource.type === 'Platform' || r.resource.type === 'AuditLog' ? r.resource : ids(r.resource)) as ResourceInput,
    context: { ...rest, ...(approval ? { approval: { ...approval, approvers: approval.approvers.map(to) } } : {}) },
  };
}

describe('decisions remembered by class: requests alike but for ids no policy names', () => {
  // Site policies naming a principal, a dataset and a zone by id, one of them spelled like a renamed id.
  const NAMING = `${SITE}
@id("site.banned")
forbid (principal == Assay::Principal::"#0", action, resource);

@id("site.special-dataset")
forbid (principal, action == Assay::Action::"approveDataset", resource == Assay::Dataset::"d-special");
`;
  let compiled: CompiledPolicySet;
  let engine: PolicyEngine;
  beforeAll(async () => {
    const site = tempDir({ 'site.cedar': NAMING });
    compiled = compilePolicySet({ schema, files: [...packFiles(), { file: join(site, 'site.cedar'), text: NAMING }] });
    engine = await loadPolicyEngine({ siteDir: site });
  });

  it('answers every request with ids renamed one-to-one from its class, exactly as Cedar does', () => {
    const requests = [...everyRequest(compiled, engine.actions)];
    for (const r of requests) engine.authorize(r);
    const before = engine.decisionCounts();
    let compared = 0;
    // Fresh ids (equal ones stay equal), then a swap of two principals and of the two zones a site policy tells apart.
    const renamings: Array<(id: string) => string> = [
      (id) => `${id}~1`,
      (id) => ({ prn_p: 'prn_o', prn_o: 'prn_p', 'on-prem': 'cloud', cloud: 'on-prem' })[id] ?? id,
    ];
    for (const to of renamings) {
      for (const r of requests) {
        const other = renamed(r, to);
        expect([other, sorted(engine.authorize(other))]).toEqual([other, reference(compiled, other)]);
        compared++;
      }
    }
    const after = engine.decisionCounts();
    expect(compared).toBeGreaterThan(1600);
    // Most renamed requests were answered from their class; those naming the zone a policy names were not.
    expect(after.class - before.class).toBeGreaterThan(compared / 2);
    expect(after.evaluated - before.evaluated).toBeGreaterThan(0);
  });

  it('keeps apart ids a policy names, even one spelled like a renamed id', () => {
    const steward = holder('prn_x', 'data-steward');
    const dataset: ResourceInput = { type: 'Dataset', id: 'd1', classification: 'internal', author: 'prn_o' };
    const ask = (principalId: string, datasetId: string): PolicyDecision =>
      engine.authorize({ principal: { ...steward, id: principalId }, action: 'approveDataset', resource: { ...dataset, id: datasetId } });
    expect(ask('prn_x', 'd1')).toMatchObject({ decision: 'allow' });
    expect(ask('#0', 'd1')).toMatchObject({ decision: 'deny', policyIds: ['site.banned'] });
    expect(ask('prn_y', 'd-special')).toMatchObject({ decision: 'deny', policyIds: ['site.special-dataset'] });
    expect(ask('prn_z', 'd2')).toMatchObject({ decision: 'allow', reason: expect.stringContaining('Principal prn_z on Dataset d2') });
    expect(ask('#0', 'd-special')).toMatchObject({ decision: 'deny', policyIds: ['site.banned', 'site.special-dataset'] });
  });

  it('keeps apart requests whose ids are equal differently: the author approving, or someone else', () => {
    const steward = (id: string): PrincipalInput => holder(id, 'data-steward');
    const ask = (principalId: string, authorId: string): string =>
      engine.authorize({ principal: steward(principalId), action: 'approveDataset', resource: { type: 'Dataset', id: 'd9', classification: 'internal', author: authorId } }).decision;
    expect([ask('prn_1', 'prn_2'), ask('prn_3', 'prn_3'), ask('prn_4', 'prn_5'), ask('prn_6', 'prn_6')]).toEqual(['allow', 'deny', 'allow', 'deny']);
  });

  it('evaluates a request again when its decision had errors: their messages name its own ids', () => {
    const validator = holder('prn_v', 'model-validator');
    const version = (author: string): ResourceInput => ({ type: 'ModelVersion', id: 'm', classification: 'internal', riskTier: 'low', author });
    const first = engine.authorize({ principal: validator, action: 'approveModelVersion', resource: version('prn_author1') });
    const before = engine.decisionCounts();
    const second = engine.authorize({ principal: validator, action: 'approveModelVersion', resource: version('prn_author2') });
    expect(first).toMatchObject({ decision: 'deny', policyIds: ['site.author-kind'] });
    expect(first.errors.join()).toContain('prn_author1');
    expect(second.errors.join()).toContain('prn_author2');
    expect(engine.decisionCounts().evaluated - before.evaluated).toBe(1);
  });
});

describe('decisionClass', () => {
  const free = new Set(['T::P', 'T::D']);
  const ref = (type: string, id: string): { __entity: { type: string; id: string } } => ({ __entity: { type, id } });
  const call = (ids: [string, string, string], context: CedarCall['context'] = {}): CedarCall => ({
    action: 'act',
    principal: { type: 'T::P', id: ids[0] },
    resource: { type: 'T::D', id: ids[1] },
    context,
    entities: [{ uid: { type: 'T::D', id: ids[1] }, attrs: { author: ref('T::P', ids[2]), tier: ref('T::Tier', 'high'), people: [ref('T::P', ids[0])] }, parents: [{ type: 'T::P', id: ids[2] }] }],
  });
  const cls = (c: CedarCall, named: ReadonlySet<string> = new Set()): string => decisionClass(c, free, named);

  it('renames free ids by first appearance wherever Cedar reads a uid, keeping which are equal, and other types as they are', () => {
    expect(cls(call(['a', 'x', 'b']))).toBe(cls(call(['c', 'y', 'd'])));
    expect(cls(call(['a', 'x', 'b']))).not.toContain('"a"');
    expect(cls(call(['a', 'x', 'a']))).not.toBe(cls(call(['a', 'x', 'b'])));
    expect(cls(call(['a', 'x', 'b']))).toContain('{"type":"T::Tier","id":"high"}');
    // A principal and a dataset may share an id without being equal: they are counted apart by type.
    expect(cls(call(['a', 'a', 'b']))).toBe(cls(call(['a', 'x', 'b'])));
  });

  it('keeps named ids, marked so that no renamed id can pose as one', () => {
    const named = new Set([JSON.stringify({ type: 'T::P', id: '#0' })]);
    const posing = cls(call(['#0', 'x', 'b']), named);
    expect(posing).toContain('"id":"=#0"');
    expect(posing).not.toBe(cls(call(['z', 'x', 'b']), named));
    expect(cls(call(['z', 'x', 'b']), named)).toBe(cls(call(['q', 'y', 'r']), named));
  });

  it('leaves strings alone, also in records shaped like a uid, and ids holding quotes are ids like any other', () => {
    const record = (id: string): CedarCall['context'] => ({ rec: { type: 'T::P', id }, s: id });
    expect(cls(call(['a', 'x', 'b'], record('k1')))).not.toBe(cls(call(['a', 'x', 'b'], record('k2'))));
    expect(cls(call(['a', 'x', 'b'], record('k1')))).toContain('"rec":{"type":"T::P","id":"k1"}');
    const sly = 'a","id":"b"},{"type":"T::P","id":"c';
    expect(cls(call([sly, 'x', 'b']))).toBe(cls(call(['a', 'x', 'b'])));
    expect(cls(call([sly, 'x', 'b']), new Set([JSON.stringify({ type: 'T::P', id: sly })]))).toContain(JSON.stringify(`=${sly}`));
  });
});

describe('the schema check, once per request shape', () => {
  let engine: PolicyEngine;
  beforeAll(async () => {
    engine = await loadPolicyEngine({ decisionCacheSize: 0 });
  });
  const scientist = holder('prn_s', 'data-scientist');
  const fits: AuthorizationRequest = { principal: scientist, action: 'getOpenApi', resource: { type: 'Platform' } };

  it.each<[string, AuthorizationRequest, RegExp]>([
    ['an unknown role', { ...fits, principal: holder('prn_s', 'wizard') }, /wizard/],
    ['a resource type the action does not take', { ...fits, resource: { type: 'AuditLog' } }, /not valid for/],
    ['an unknown classification', { ...fits, action: 'getAuditPayload', resource: { type: 'AuditPayload', id: 'p', classification: 'secret' as 'PII' } }, /secret/],
    ['an unknown risk tier', { ...fits, action: 'approveModelVersion', resource: { type: 'ModelVersion', id: 'm', classification: 'internal', riskTier: 'extreme' as 'high', author: 'prn_o' } }, /extreme/],
    ['a context key the action does not take', { ...fits, context: { approval: summarizeApprovals([]) } }, /approval/],
  ])('refuses %s even right after a fitting request with the same ids', (_name, unfit, message) => {
    // Warm the shapes of fitting requests that share every id with the unfit one.
    expect(engine.authorize(fits).decision).toBe('allow');
    expect(engine.authorize({ ...fits, action: 'getAuditPayload', resource: { type: 'AuditPayload', id: 'p', classification: 'PII' } }).decision).toBe('deny');
    expect(engine.authorize({ ...fits, action: 'approveModelVersion', resource: { type: 'ModelVersion', id: 'm', classification: 'internal', riskTier: 'high', author: 'prn_o' } }).decision).toBe('deny');
    for (let i = 0; i < 2; i++) expect(() => engine.authorize(unfit)).toThrow(PolicyRequestInvalid);
    expect(() => engine.authorize(unfit)).toThrow(message);
  });

  it('decides alike with the shape memo off, tiny and evicting, or on', async () => {
    const everyTime = await loadPolicyEngine({ decisionCacheSize: 0, schemaCheckCacheSize: 0 });
    const tiny = await loadPolicyEngine({ decisionCacheSize: 0, schemaCheckCacheSize: 1 });
    const requests: AuthorizationRequest[] = [
      fits,
      { principal: holder('prn_a', 'auditor'), action: 'searchAuditEntries', resource: { type: 'AuditLog' } },
      { principal: holder('prn_d', 'data-steward'), action: 'approveDataset', resource: { type: 'Dataset', id: 'd', classification: 'internal', author: 'prn_d' } },
      { principal: holder('prn_e', 'data-steward'), action: 'approveDataset', resource: { type: 'Dataset', id: 'e', classification: 'internal', author: 'prn_x' } },
      { principal: holder('prn_w', 'wizard'), action: 'getOpenApi', resource: { type: 'Platform' } },
    ];
    const outcome = (e: PolicyEngine, r: AuthorizationRequest): unknown => {
      try {
        return e.authorize(r);
      } catch (err) {
        return err instanceof PolicyRequestInvalid ? `invalid: ${err.message}` : err;
      }
    };
    for (let round = 0; round < 3; round++) {
      for (const r of requests) {
        const expected = outcome(everyTime, r);
        expect(outcome(tiny, r)).toEqual(expected);
        expect(outcome(engine, r)).toEqual(expected);
      }
    }
    expect(outcome(engine, requests[4]!)).toMatch(/^invalid: .*wizard/);
  });

  it('refuses a negative or fractional memo size', async () => {
    for (const size of [-1, 1.5]) {
      await expect(loadPolicyEngine({ schemaCheckCacheSize: size })).rejects.toMatchObject({ code: 'config_invalid', errors: [{ field: 'schemaCheckCacheSize' }] });
    }
    await expect(loadPolicyEngine({ schemaCheckCacheSize: -1 })).rejects.toBeInstanceOf(ConfigInvalid);
  });
});

describe('shapeKey', () => {
  const free = new Set(['Assay::Principal', 'Assay::Dataset', 'Assay::Zone']);
  const shape = (r: AuthorizationRequest): string => shapeKey(JSON.stringify(cedarCall(r)), free);
  const steward = { id: 'prn_d', kind: 'human', roles: ['data-steward'], attributes: { clearance: ['pii'] } } as const;
  const dataset = { type: 'Dataset', id: 'd', classification: 'PII', author: 'prn_x', zone: 'z1' } as const;
  const base: AuthorizationRequest = { principal: steward, action: 'approveDataset', resource: dataset };

  it('is the same for requests that differ only in ids of types that take any id', () => {
    expect(shape({ ...base, principal: { ...steward, id: 'prn_other' }, resource: { ...dataset, id: 'd2', author: 'prn_y', zone: 'z2' } })).toBe(shape(base));
    expect(shape(base)).not.toContain('prn_');
  });

  it.each<[string, AuthorizationRequest]>([
    ['a role', { ...base, principal: { ...steward, roles: ['auditor'] } }],
    ['a clearance', { ...base, principal: { ...steward, attributes: { clearance: ['phi'] } } }],
    ['a classification', { ...base, resource: { ...dataset, classification: 'PHI' } }],
    ['the action', { ...base, action: 'approveModelVersion' }],
    ['the resource type', { ...base, resource: { type: 'AuditLog' } }],
    ['an attribute present or not', { ...base, resource: { ...dataset, residency: 'eu' } }],
    ['a string attribute', { ...base, principal: { ...steward, kind: 'agent' } }],
    ['the context', { ...base, context: { elevated: true } }],
  ])('differs when %s differs', (_name, other) => {
    expect(shape(other)).not.toBe(shape(base));
  });

  it('keeps ids of types outside the set, and is not fooled by ids that look like uids', () => {
    const call: CedarCall = { ...cedarCall(base), action: 'x' };
    expect(shapeKey(JSON.stringify(call), new Set())).toBe(JSON.stringify(call));
    const sly = { ...base, principal: { ...steward, id: 'a","id":"b"},{"type":"Assay::Role","id":"wizard' } };
    expect(shape(sly)).toBe(shape(base));
  });
});

describe('LruMap', () => {
  it('keeps at most its capacity, dropping the least recently used', () => {
    const m = new LruMap<number>(2);
    m.set('a', 1);
    m.set('b', 2);
    expect(m.get('a')).toBe(1); // a is now the most recent
    m.set('c', 3);
    expect([m.get('a'), m.get('b'), m.get('c'), m.size]).toEqual([1, undefined, 3, 2]);
    m.set('a', 4); // overwriting does not evict
    expect([m.get('a'), m.get('c'), m.size]).toEqual([4, 3, 2]);
  });

  it('keeps nothing at capacity 0', () => {
    const m = new LruMap<number>(0);
    m.set('a', 1);
    expect([m.get('a'), m.size]).toEqual([undefined, 0]);
  });
});
