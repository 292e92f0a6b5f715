import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { BUILT_IN_ROLES } from '../identity/index.js';
import type { FieldIssue } from '../core/index.js';
import { summarizeApprovals } from './approvals.js';
import { AUTONOMY_TIERS, type AutonomyRequest } from './autonomy.js';
import { loadPolicyEngine, type AuthorizationRequest, type PolicyEngine } from './engine.js';
import type { ContextInput, PrincipalInput, ResourceInput } from './entities.js';
import { PolicyRequestInvalid, PolicyTestFileInvalid } from './errors.js';
import { STANDARD_ZONES, type PlacementRequest, type ZoneInput } from './placement.js';
import { formatPath, parseLocatedYaml } from './source.js';
import { CLASSIFICATIONS, PRINCIPAL_KINDS, RISK_TIERS, ZONE_TIERS } from './vocabulary.js';

/**
 * `assay policy test FILE`: YAML test cases (request → expected decision) run against the
 * default pack plus a site's policies, so a site tests its own policies in its CI. See
 * examples/policy-tests.yaml for the format.
 */

const id = z.string().min(1);
const classification = z.enum(CLASSIFICATIONS);
const riskTier = z.enum(RISK_TIERS);

// Identity spells clearances in lower case, the schema in upper case (PHI): accept both.
const clearance = z.string().refine((v) => CLASSIFICATIONS.some((c) => c.toLowerCase() === v.toLowerCase()), {
  message: `must be one of ${CLASSIFICATIONS.join(', ')}`,
});
const principalAttrs = {
  roles: z.array(z.enum(BUILT_IN_ROLES)),
  kind: z.enum(PRINCIPAL_KINDS).optional(),
  clearance: z.array(clearance).optional(),
  team: z.string().optional(),
  region: z.string().optional(),
};
const principalFixture = z.strictObject(principalAttrs);
const inlinePrincipal = z.strictObject({ id, ...principalAttrs });

const governed = { id, classification, author: id, owner: id.optional(), team: z.string().optional() };
const resourceSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('Platform') }),
  z.strictObject({ type: z.literal('AuditLog') }),
  z.strictObject({ type: z.literal('AuditPayload'), id, classification: classification.optional() }),
  z.strictObject({ type: z.literal('LegalHold'), id }),
  z.strictObject({ type: z.literal('Principal'), id, ...principalAttrs }),
  z.strictObject({ type: z.literal('Token'), id, owner: id }),
  z.strictObject({ type: z.literal('Approval'), id, author: id }),
  z.strictObject({ type: z.literal('Zone'), id, tier: z.enum(ZONE_TIERS), region: id }),
  z.strictObject({ type: z.literal('Dataset'), ...governed, zone: id.optional(), residency: id.optional() }),
  z.strictObject({ type: z.literal('Model'), ...governed, riskTier }),
  z.strictObject({ type: z.literal('ModelVersion'), ...governed, riskTier, zone: id.optional() }),
  z.strictObject({ type: z.literal('Deployment'), ...governed, riskTier, zone: id }),
  z.strictObject({ type: z.literal('Job'), ...governed, zone: id.optional() }),
]);
const zoneFixture = z.strictObject({ tier: z.enum(ZONE_TIERS), region: id });

const authorizationCase = z.strictObject({
  name: id,
  /** A key of `principals`, or an inline principal with an `id`. */
  principal: z.union([id, inlinePrincipal]),
  action: id,
  /** A key of `resources`, or an inline resource. */
  resource: z.union([id, resourceSchema]),
  context: z
    .strictObject({
      elevated: z.boolean().optional(),
      approvals: z.array(z.strictObject({ principal: id, role: z.enum(BUILT_IN_ROLES) })).optional(),
    })
    .optional(),
  expect: z.enum(['allow', 'deny']),
  /** When given, the determining policy ids must be exactly these. */
  policies: z.array(id).optional(),
});
const placementCase = z.strictObject({
  name: id,
  classification,
  residency: id.optional(),
  /** A key of `zones`, a standard zone (on-prem-secure, on-prem, cloud-burst), or an inline zone. */
  zone: z.union([id, z.strictObject({ id, tier: z.enum(ZONE_TIERS), region: id })]),
  expect: z.enum(['allow', 'deny']),
  rule: id.optional(),
});
const autonomyCase = z.strictObject({
  name: id,
  action: id,
  risk: riskTier,
  amount: z.number().nonnegative().optional(),
  expect: z.enum(AUTONOMY_TIERS),
  rule: id.optional(),
});

const suiteSchema = z
  .strictObject({
    principals: z.record(id, principalFixture).default({}),
    resources: z.record(id, resourceSchema).default({}),
    zones: z.record(id, zoneFixture).default({}),
    authorization: z.array(authorizationCase).default([]),
    placement: z.array(placementCase).default([]),
    autonomy: z.array(autonomyCase).default([]),
  })
  .refine((s) => s.authorization.length + s.placement.length + s.autonomy.length > 0, {
    message: 'no test cases: add authorization, placement or autonomy cases',
  });

type CaseKind = 'authorization' | 'placement' | 'autonomy';

interface ResolvedCase {
  kind: CaseKind;
  index: number;
  name: string;
  line: number;
  expected: string;
  run(engine: PolicyEngine): { actual: string; detail: string; passed: boolean };
}

/** A parsed, reference-checked policy test file. */
export interface PolicyTestSuite {
  file: string;
  cases: readonly ResolvedCase[];
}

/** The outcome of one case. */
export interface PolicyTestCaseResult {
  kind: CaseKind;
  name: string;
  /** Line of the case in the file. */
  line: number;
  passed: boolean;
  expected: string;
  actual: string;
  /** Determining policy ids or rule, and the reason. */
  detail: string;
}

/** The outcome of a whole file. */
export interface PolicyTestReport {
  file: string;
  /** Digest of the policy set the cases ran against. */
  policySetDigest: string;
  passed: number;
  failed: number;
  cases: PolicyTestCaseResult[];
}

const sameIds = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && [...a].sort().every((x, i) => x === [...b].sort()[i]);

type FlatPrincipal = z.output<typeof principalFixture>;

/** Test files write principal attributes flat; the engine takes identity's nested shape. */
function principalInput(id: string, p: FlatPrincipal): PrincipalInput {
  const attributes = {
    ...(p.clearance ? { clearance: p.clearance } : {}),
    ...(p.team ? { team: p.team } : {}),
    ...(p.region ? { region: p.region } : {}),
  };
  return { id, roles: p.roles, ...(p.kind ? { kind: p.kind } : {}), attributes };
}

function resourceInput(r: z.output<typeof resourceSchema>): ResourceInput {
  if (r.type !== 'Principal') return r;
  return { type: 'Principal', ...principalInput(r.id, r) };
}

function expectedOf(kind: CaseKind, raw: { expect: string; policies?: string[]; rule?: string }): string {
  if (kind === 'authorization') return raw.policies ? `${raw.expect} [${raw.policies.join(', ')}]` : raw.expect;
  return raw.rule ? `${raw.expect} (${raw.rule})` : raw.expect;
}

/**
 * Parses a policy test file and resolves its fixture references; throws
 * `PolicyTestFileInvalid` naming each bad field and its line.
 */
export function parsePolicyTests(text: string, file: string): PolicyTestSuite {
  const located = parseLocatedYaml(text);
  if (located.syntaxErrors.length > 0) {
    throw new PolicyTestFileInvalid(file, located.syntaxErrors.map((e) => ({ field: `line ${e.line}`, message: e.message })));
  }
  const issue = (path: readonly PropertyKey[], message: string): FieldIssue => ({
    field: formatPath(path),
    message: `${message} (${file}:${located.lineOf(path)})`,
  });
  const parsed = suiteSchema.safeParse(located.value ?? {});
  if (!parsed.success) throw new PolicyTestFileInvalid(file, parsed.error.issues.map((i) => issue(i.path, i.message)));
  const suite = parsed.data;
  const issues: FieldIssue[] = [];
  const cases: ResolvedCase[] = [];

  // Fixture keys of `principals` are the principal ids; authors, owners and approvers name them.
  suite.authorization.forEach((c, index) => {
    const path = ['authorization', index];
    let principal: PrincipalInput | undefined;
    if (typeof c.principal === 'string') {
      const fixture = suite.principals[c.principal];
      if (fixture) principal = principalInput(c.principal, fixture);
      else issues.push(issue([...path, 'principal'], `unknown principal "${c.principal}": define it under principals`));
    } else principal = principalInput(c.principal.id, c.principal);
    let resource: ResourceInput | undefined;
    if (typeof c.resource === 'string') {
      const fixture = suite.resources[c.resource];
      if (fixture) resource = resourceInput(fixture);
      else issues.push(issue([...path, 'resource'], `unknown resource "${c.resource}": define it under resources`));
    } else resource = resourceInput(c.resource);
    if (!principal || !resource) return;
    const context: ContextInput = {
      ...(c.context?.elevated === undefined ? {} : { elevated: c.context.elevated }),
      ...(c.context?.approvals === undefined
        ? {}
        : { approval: summarizeApprovals(c.context.approvals.map((a) => ({ principalId: a.principal, role: a.role }))) }),
    };
    const request: AuthorizationRequest = { principal, action: c.action, resource, ...(c.context ? { context } : {}) };
    cases.push({
      kind: 'authorization',
      index,
      name: c.name,
      line: located.lineOf(path),
      expected: expectedOf('authorization', c),
      run(engine) {
        const d = engine.authorize(request);
        const passed = d.decision === c.expect && (c.policies === undefined || sameIds(d.policyIds, c.policies));
        return { actual: `${d.decision} [${d.policyIds.join(', ')}]`, detail: d.reason, passed };
      },
    });
  });

  suite.placement.forEach((c, index) => {
    const path = ['placement', index];
    let zone: ZoneInput | undefined;
    if (typeof c.zone === 'string') {
      const fixture = suite.zones[c.zone];
      zone = fixture ? { id: c.zone, ...fixture } : STANDARD_ZONES.find((z) => z.id === c.zone);
      if (!zone) issues.push(issue([...path, 'zone'], `unknown zone "${c.zone}": define it under zones`));
    } else zone = c.zone;
    if (!zone) return;
    const request: PlacementRequest = { classification: c.classification, zone, ...(c.residency ? { residency: c.residency } : {}) };
    cases.push({
      kind: 'placement',
      index,
      name: c.name,
      line: located.lineOf(path),
      expected: expectedOf('placement', c),
      run(engine) {
        const d = engine.decidePlacement(request);
        const actual = d.allowed ? 'allow' : 'deny';
        return { actual: `${actual} (${d.rule})`, detail: d.reason, passed: actual === c.expect && (c.rule === undefined || c.rule === d.rule) };
      },
    });
  });

  suite.autonomy.forEach((c, index) => {
    const request: AutonomyRequest = { action: c.action, risk: c.risk, ...(c.amount === undefined ? {} : { amount: c.amount }) };
    cases.push({
      kind: 'autonomy',
      index,
      name: c.name,
      line: located.lineOf(['autonomy', index]),
      expected: expectedOf('autonomy', c),
      run(engine) {
        const d = engine.classifyAutonomy(request);
        return { actual: `${d.tier} (${d.rule})`, detail: d.reason, passed: d.tier === c.expect && (c.rule === undefined || c.rule === d.rule) };
      },
    });
  });

  if (issues.length > 0) throw new PolicyTestFileInvalid(file, issues);
  return { file, cases };
}

/**
 * Runs every case of `suite` against `engine`. A case the schema refuses (unknown action,
 * wrong resource type) makes the file invalid: throws `PolicyTestFileInvalid` naming it.
 */
export function runPolicyTests(engine: PolicyEngine, suite: PolicyTestSuite): PolicyTestReport {
  const results: PolicyTestCaseResult[] = [];
  const issues: FieldIssue[] = [];
  for (const c of suite.cases) {
    try {
      const r = c.run(engine);
      results.push({ kind: c.kind, name: c.name, line: c.line, passed: r.passed, expected: c.expected, actual: r.actual, detail: r.detail });
    } catch (err) {
      if (!(err instanceof PolicyRequestInvalid)) throw err;
      issues.push({ field: `${c.kind}[${c.index}]`, message: `${err.message} (${suite.file}:${c.line})` });
    }
  }
  if (issues.length > 0) throw new PolicyTestFileInvalid(suite.file, issues);
  const passed = results.filter((r) => r.passed).length;
  return { file: suite.file, policySetDigest: engine.digest, passed, failed: results.length - passed, cases: results };
}

/** Reads `file`, loads the default pack plus `siteDir`, and runs the file's cases. */
export async function runPolicyTestFile(options: { file: string; siteDir?: string }): Promise<PolicyTestReport> {
  let text: string;
  try {
    text = await readFile(options.file, 'utf8');
  } catch (err) {
    throw new PolicyTestFileInvalid(options.file, [{ field: options.file, message: `cannot read: ${(err as Error).message}` }]);
  }
  const suite = parsePolicyTests(text, options.file);
  const engine = await loadPolicyEngine(options.siteDir ? { siteDir: options.siteDir } : {});
  return runPolicyTests(engine, suite);
}
