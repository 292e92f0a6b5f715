/**
 * Cedar decisions in process, with the default pack over realistic entities.
 *
 *   node --import tsx bench/policy.ts [--decisions N] [--baseline-decisions M]
 *
 * One mix of requests (audit reads allowed and denied, dataset approvals including a
 * self-approval, a high-risk release with its approval summary, whoami, a PII approval
 * without clearance) is decided N times per path (default 20000), in the same run:
 *   repeated  `engine.authorize`, default engine, the mix repeating (same clients, same
 *             resources): answered by the decision cache;
 *   class     `engine.authorize`, default engine, every request new (every principal and
 *             resource id fresh, decisions unchanged), as a gateway sees many clients and
 *             deployments in few roles: answered by decision class (the request with ids no
 *             policy names renamed by first appearance), once the warm-up has seen each class;
 *   evaluated `engine.authorize` with the decision cache off, the same fresh requests: Cedar
 *             evaluates every one. Their request shapes (the request without those ids) passed
 *             the schema check during warm-up, as a running gateway's have;
 *   new shape `engine.authorize` with both caches off: every request checked against the
 *             schema in full, then evaluated. What a request of a never-seen shape costs once;
 *   stateful  the engine's previous path, as its floor: `statefulIsAuthorized` with the
 *             preparsed schema and `validateRequest` on the action's preparsed slice, Cedar
 *             JSON built beforehand; and the same on the whole preparsed policy set;
 *   baseline  stateless `isAuthorized`, which parses the schema and every policy on each call,
 *             same prebuilt JSON (M decisions, default 1000: each takes milliseconds).
 * Every decision is timed alone and checked against the expected answer. Prints decisions/s,
 * p50, p99 and max per decision (target p99 < 200 µs, so the gateway can afford one per
 * request), which path answered how many decisions, the CPU time per decision (which, unlike the wall-clock figures,
 * other work on a shared machine does not inflate), the ratios to the baseline and, for the
 * evaluated and class paths, each request of the mix on its own. Then where an evaluated decision's time
 * goes: what cedar-wasm spends decoding entity references against plain strings (an empty
 * policy set, k values in the context), how many references the engine sends for each request
 * of the mix, and the machine's own jitter (a pure JavaScript loop as long as the evaluated
 * p50, timed the same way). Writes bench/results/policy.json.
 */
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  compilePolicySet,
  DEFAULT_PACK_DIR,
  loadPolicyEngine,
  SCHEMA_FILE,
  summarizeApprovals,
  type AuthorizationRequest,
  type PolicyEngine,
} from '../src/policy/index.js';
import { contextRecord, principalEntity, resourceEntity, uid } from '../src/policy/entities.js';
import { evaluationEntities, evaluationPlan } from '../src/policy/evaluation.js';
import { seconds } from './support.js';

const here = dirname(fileURLToPath(import.meta.url));
const TARGET_P99_US = 200;
/** Warm-up calls before each timed path: a tenth of its decisions, at most this many. */
const WARMUP = 2000;

const steward = { id: 'prn_01JSTEWARD', kind: 'human', roles: ['data-steward'], attributes: { team: 'claims-data', clearance: ['pii'], region: 'eu-west' } } as const;
const auditor = { id: 'prn_01JAUDITOR', kind: 'human', roles: ['auditor', 'compliance-officer'], attributes: { region: 'eu-west' } } as const;
const scientist = { id: 'prn_01JSCIENTIST', kind: 'human', roles: ['data-scientist', 'ml-engineer'], attributes: { team: 'fraud', region: 'eu-west' } } as const;
const engineer = { id: 'prn_01JENGINEER', kind: 'human', roles: ['ml-engineer'], attributes: { team: 'fraud', clearance: ['pii', 'pci'] } } as const;

const claims = { type: 'Dataset', id: 'ds_01JCLAIMS', classification: 'PII', author: scientist.id, owner: steward.id, team: 'claims-data', zone: 'on-prem', residency: 'eu' } as const;
const stewardOwn = { ...claims, id: 'ds_01JOWN', author: steward.id } as const;
const fraudV3 = { type: 'ModelVersion', id: 'mv_01JFRAUD3', classification: 'PCI', riskTier: 'high', author: scientist.id, owner: engineer.id, team: 'fraud', zone: 'on-prem-secure' } as const;
const approvals = summarizeApprovals([
  { principalId: 'prn_01JVALIDATOR', role: 'model-validator' },
  { principalId: 'prn_01JRISK', role: 'risk-officer' },
  { principalId: 'prn_01JVALIDATOR', role: 'risk-officer' },
]);

/** The request mix, with the decision each must get (checked for every timed decision). */
const MIX: { name: string; request: AuthorizationRequest; expect: 'allow' | 'deny' }[] = [
  { name: 'audit search, auditor', request: { principal: auditor, action: 'searchAuditEntries', resource: { type: 'AuditLog' } }, expect: 'allow' },
  { name: 'audit search, scientist', request: { principal: scientist, action: 'searchAuditEntries', resource: { type: 'AuditLog' } }, expect: 'deny' },
  { name: 'approve dataset', request: { principal: steward, action: 'approveDataset', resource: claims }, expect: 'allow' },
  { name: 'self-approval', request: { principal: steward, action: 'approveDataset', resource: stewardOwn }, expect: 'deny' },
  { name: 'high-risk release', request: { principal: engineer, action: 'releaseModelVersion', resource: fraudV3, context: { approval: approvals } }, expect: 'allow' },
  { name: 'whoami', request: { principal: scientist, action: 'getCurrentPrincipal', resource: { type: 'Principal', ...scientist } }, expect: 'allow' },
  { name: 'PII without clearance', request: { principal: { ...steward, attributes: { team: 'claims-data' } }, action: 'approveDataset', resource: claims }, expect: 'deny' },
];

/** The same request with every principal and resource id suffixed by `#n`: equal ids stay equal, so the decision stays. */
function fresh<T>(value: T, n: number): T {
  if (typeof value === 'string') return (/^(prn|ds|mv)_/.test(value) ? `${value}#${n}` : value) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => fresh(v, n)) as T;
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fresh(v, n)])) as T;
  return value;
}

interface Variant {
  name: string;
  decisions: number;
  perSecond: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
  meanUs: number;
  /** Process CPU time (user + system, all threads: GC included) of the timed loop per decision: unlike the others, not inflated by waiting for a shared CPU. */
  cpuUsPerDecision: number;
}

interface Timing {
  variant: Variant;
  /** Each decision's time, in the order taken. */
  us: Float64Array;
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

function summary(name: string, us: Float64Array, spent: { wall: number; cpuUs: number }): Variant {
  const sorted = Float64Array.from(us).sort();
  const n = us.length;
  const mean = us.reduce((a, b) => a + b, 0) / n;
  const [p50Us, p99Us, maxUs] = [percentile(sorted, 50), percentile(sorted, 99), sorted[n - 1] ?? NaN];
  return { name, decisions: n, perSecond: n / spent.wall, p50Us, p99Us, maxUs, meanUs: mean, cpuUsPerDecision: spent.cpuUs / n };
}

/**
 * Times `decide(i)` for i in [0, n) after warm-up calls of `decide(n + i)`; each call alone, plus
 * the loop's wall time. Each answer must be the mix's expectation for i.
 */
function measure(name: string, n: number, decide: (i: number) => string): Timing {
  const warmup = Math.min(WARMUP, Math.ceil(n / 10));
  for (let i = 0; i < warmup; i++) decide(n + i);
  const us = new Float64Array(n);
  const got: string[] = new Array<string>(n);
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    got[i] = decide(i);
    us[i] = Number(process.hrtime.bigint() - t) / 1e3;
  }
  const wall = seconds(start);
  const { user, system } = process.cpuUsage(cpu);
  got.forEach((d, i) => {
    const m = MIX[i % MIX.length]!;
    if (d !== m.expect) throw new Error(`${name}: ${m.name} (#${i}) expected ${m.expect}, got ${d}`);
  });
  return { variant: summary(name, us, { wall, cpuUs: user + system }), us };
}

/** p50, p99 and max of one request of the mix within a timing. */
function perRequest(t: Timing): { name: string; action: string; p50Us: number; p99Us: number; maxUs: number }[] {
  return MIX.map((m, k) => {
    const mine = t.us.filter((_, i) => i % MIX.length === k);
    const v = summary(m.name, mine, { wall: 1, cpuUs: NaN });
    return { name: m.name, action: m.request.action, p50Us: v.p50Us, p99Us: v.p99Us, maxUs: v.maxUs };
  });
}

async function packSources(): Promise<{ file: string; text: string }[]> {
  const names = (await readdir(DEFAULT_PACK_DIR)).filter((n) => n.endsWith('.cedar')).sort();
  return Promise.all(names.map(async (n) => ({ file: join(DEFAULT_PACK_DIR, n), text: await readFile(join(DEFAULT_PACK_DIR, n), 'utf8') })));
}

function cedarCall(r: AuthorizationRequest): Omit<cedar.AuthorizationCall, 'policies' | 'schema'> {
  const principal = principalEntity(r.principal);
  const resource = resourceEntity(r.resource);
  const same = r.resource.type === 'Principal' && r.resource.id === r.principal.id;
  return {
    principal: principal.uid,
    action: uid('Action', r.action),
    resource: resource.uid,
    context: contextRecord(r.context),
    entities: same ? [principal] : [principal, resource],
    validateRequest: true,
  };
}

/** Decisions timed per row of the decoding-cost table. */
const DECODE_DECISIONS = 5000;

/**
 * What cedar-wasm spends decoding a request, apart from policies: one request over an empty
 * preparsed policy set whose context holds k entity references (`__entity`), or k strings of
 * the same ids for comparison; p50 of DECODE_DECISIONS calls each.
 */
function decodeCost(emptyPolicySetId: string): { values: number; entityRefsP50Us: number; stringsP50Us: number }[] {
  const p50 = (context: cedar.Context): number => {
    const call = { principal: uid('Principal', 'prn_a'), action: uid('Action', 'getCurrentPrincipal'), resource: uid('Principal', 'prn_b'), context, entities: [], preparsedPolicySetId: emptyPolicySetId };
    for (let i = 0; i < DECODE_DECISIONS / 10; i++) decisionOf(cedar.statefulIsAuthorized(call));
    const us = new Float64Array(DECODE_DECISIONS);
    for (let i = 0; i < DECODE_DECISIONS; i++) {
      const t = process.hrtime.bigint();
      decisionOf(cedar.statefulIsAuthorized(call));
      us[i] = Number(process.hrtime.bigint() - t) / 1e3;
    }
    return percentile(us.sort(), 50);
  };
  return [0, 2, 4, 8].map((k) => {
    const ids = Array.from({ length: k }, (_, i) => `prn_${i}`);
    return {
      values: k,
      entityRefsP50Us: p50({ values: ids.map((id) => ({ __entity: uid('Principal', id) })) }),
      stringsP50Us: p50({ values: ids }),
    };
  });
}

/**
 * The machine's own jitter: p50 and p99 of a pure JavaScript busy loop calibrated to last about
 * `targetUs`, timed like a decision. On a shared virtual machine a slice of every interval is
 * lost to the host; a p99 well above the p50 here is that, not Cedar.
 */
function machineJitter(targetUs: number): { loopP50Us: number; loopP99Us: number } {
  let sink = 0;
  const loop = (iterations: number): void => {
    for (let i = 0; i < iterations; i++) sink = (sink * 31 + i) | 0;
  };
  let iterations = 1000;
  for (let round = 0; round < 5; round++) {
    const t = process.hrtime.bigint();
    for (let k = 0; k < 100; k++) loop(iterations);
    const us = Number(process.hrtime.bigint() - t) / 1e3 / 100;
    iterations = Math.max(1, Math.round((iterations * targetUs) / Math.max(us, 0.01)));
  }
  const us = new Float64Array(DECODE_DECISIONS * 2);
  for (let i = 0; i < us.length; i++) {
    const t = process.hrtime.bigint();
    loop(iterations);
    us[i] = Number(process.hrtime.bigint() - t) / 1e3;
  }
  us.sort();
  if (sink === 0.5) console.log(sink); // keeps the loop from being optimised away
  return { loopP50Us: percentile(us, 50), loopP99Us: percentile(us, 99) };
}

/** Entity references (`__entity`) in what the engine sends Cedar to evaluate each request of the mix. */
function entityReferencesSent(compiled: ReturnType<typeof compilePolicySet>): { name: string; references: number }[] {
  return MIX.map((m) => {
    const plan = evaluationPlan(m.request.action, compiled.slices[m.request.action]!, { type: compiled.actionType, groups: compiled.actionGroups });
    const call = cedarCall(m.request);
    const entities = evaluationEntities({ action: m.request.action, principal: call.principal, resource: call.resource, context: call.context, entities: call.entities }, plan);
    return { name: m.name, references: JSON.stringify({ context: call.context, entities }).split('"__entity"').length - 1 };
  });
}

const decisionOf = (a: cedar.AuthorizationAnswer): string => {
  if (a.type === 'failure') throw new Error(a.errors.map((e) => e.message).join('; '));
  return a.response.decision;
};

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (c: string[]): string => c.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
}

function counts(): { n: number; baselineN: number } {
  const { values } = parseArgs({ options: { decisions: { type: 'string', default: '20000' }, 'baseline-decisions': { type: 'string', default: '1000' } } });
  const n = Number(values.decisions);
  const baselineN = Number(values['baseline-decisions']);
  if (!Number.isInteger(n) || n <= 0) throw new Error('--decisions must be a positive integer');
  if (!Number.isInteger(baselineN) || baselineN <= 0) throw new Error('--baseline-decisions must be a positive integer');
  return { n, baselineN };
}

async function main(): Promise<void> {
  const { n, baselineN } = counts();
  const loadAtStart = loadavg()[0] ?? 0;

  const cached: PolicyEngine = await loadPolicyEngine();
  const classed: PolicyEngine = await loadPolicyEngine();
  const uncached: PolicyEngine = await loadPolicyEngine({ decisionCacheSize: 0 });
  const unchecked: PolicyEngine = await loadPolicyEngine({ decisionCacheSize: 0, schemaCheckCacheSize: 0 });
  const compiled = compilePolicySet({ schema: { file: SCHEMA_FILE, text: await readFile(SCHEMA_FILE, 'utf8') }, files: await packSources() });
  if (compiled.digest !== cached.digest) throw new Error('bench compiled a different policy set than the engine loaded');
  const calls = MIX.map((m) => cedarCall(m.request));
  const policies = { staticPolicies: compiled.policyTexts };
  const stateful = (call: (typeof calls)[number], policySetId: string): string =>
    decisionOf(cedar.statefulIsAuthorized({ ...call, preparsedSchemaName: compiled.schemaName, preparsedPolicySetId: policySetId }));
  const sliceOf = (i: number): string => compiled.slices[MIX[i % MIX.length]!.request.action]!.policySetId;
  const pick = <T>(list: readonly T[], i: number): T => list[i % list.length]!;
  // Fresh requests for the fresh-id paths, built before timing: n timed plus the warm-up.
  const novel = Array.from({ length: n + WARMUP }, (_, i) => fresh(pick(MIX, i).request, i));

  console.log(`deciding ${fmt(n)} requests per path (mix of ${MIX.length}; baseline ${fmt(baselineN)}) …`);
  const hits = measure('engine.authorize, repeated requests (decision cache)', n, (i) => cached.authorize(pick(MIX, i).request).decision);
  const classes = measure('engine.authorize, fresh ids (decision class)', n, (i) => classed.authorize(novel[i]!).decision);
  const misses = measure('engine.authorize, fresh ids, caches off (evaluated)', n, (i) => uncached.authorize(novel[i]!).decision);
  const newShape = measure('engine.authorize, new shape (schema check + evaluated)', n, (i) => unchecked.authorize(pick(MIX, i).request).decision);
  const sliced = measure('before: statefulIsAuthorized + schema, slice, prebuilt JSON', n, (i) => stateful(pick(calls, i), sliceOf(i)));
  const whole = measure('before: statefulIsAuthorized + schema, whole set, prebuilt', n, (i) => stateful(pick(calls, i), compiled.policySetId));
  const stateless = measure('isAuthorized, stateless (baseline)', baselineN, (i) =>
    decisionOf(cedar.isAuthorized({ ...pick(calls, i), schema: compiled.schemaText, policies })),
  ).variant;
  const variants = [hits.variant, classes.variant, misses.variant, newShape.variant, sliced.variant, whole.variant, stateless];
  const paths = { repeated: cached.decisionCounts(), freshIds: classed.decisionCounts(), evaluated: uncached.decisionCounts() };
  const decoding = decodeCost(compiled.emptyPolicySetId);
  const references = entityReferencesSent(compiled);
  const jitter = machineJitter(misses.variant.p50Us);
  const loadAtEnd = loadavg()[0] ?? 0;

  const x = (a: number, b: number): string => `${fmt(a / b, 1)}×`;
  console.log(`\npolicy benchmark: default pack (${compiled.policies.length} policies), cedar ${cedar.getCedarVersion()}, ${fmt(n)} decisions per path\n`);
  printTable(
    ['path', 'decisions/s', 'p50 µs', 'p99 µs', 'max µs', 'CPU µs each (all threads)', 'baseline p50 / p50', 'baseline p99 / p99', 'throughput / baseline'],
    variants.map((v) => [
      v.name,
      fmt(v.perSecond),
      fmt(v.p50Us, 1),
      fmt(v.p99Us, 1),
      fmt(v.maxUs, 1),
      fmt(v.cpuUsPerDecision, 1),
      x(stateless.p50Us, v.p50Us),
      x(stateless.p99Us, v.p99Us),
      x(v.perSecond, stateless.perSecond),
    ]),
  );
  console.log(
    `\nwhich path answered (warm-up included): ${Object.entries(paths)
      .map(([name, c]) => `${name}: cached ${fmt(c.cached)}, class ${fmt(c.class)}, evaluated ${fmt(c.evaluated)}`)
      .join('; ')}`,
  );
  const byRequest = perRequest(misses);
  const byRequestClass = perRequest(classes);
  console.log(`\neach request of the mix (${fmt(n / MIX.length)} decisions each), evaluated by Cedar and answered by decision class:\n`);
  printTable(
    ['request', 'action', 'evaluated p50 µs', 'p99 µs', 'max µs', 'class p50 µs', 'p99 µs', 'max µs'],
    byRequest.map((r, k) => {
      const c = byRequestClass[k]!;
      return [r.name, r.action, fmt(r.p50Us, 1), fmt(r.p99Us, 1), fmt(r.maxUs, 1), fmt(c.p50Us, 1), fmt(c.p99Us, 1), fmt(c.maxUs, 1)];
    }),
  );
  const perReference = ((decoding.at(-1)?.entityRefsP50Us ?? NaN) - (decoding[0]?.entityRefsP50Us ?? NaN)) / (decoding.at(-1)?.values ?? NaN);
  const perString = ((decoding.at(-1)?.stringsP50Us ?? NaN) - (decoding[0]?.stringsP50Us ?? NaN)) / (decoding.at(-1)?.values ?? NaN);
  console.log(`\ncedar-wasm decoding a request (empty policy set; k values in the context), p50 of ${fmt(DECODE_DECISIONS)} calls each:\n`);
  printTable(
    ['k values', 'k entity references µs', 'k strings µs'],
    decoding.map((d) => [String(d.values), fmt(d.entityRefsP50Us, 1), fmt(d.stringsP50Us, 1)]),
  );
  console.log(`each entity reference costs about ${fmt(perReference, 1)} µs to decode, a string ${fmt(perString, 1)} µs`);
  console.log(`entity references the engine sends per request: ${references.map((r) => `${r.name} ${r.references}`).join(', ')}`);
  console.log(
    `machine jitter: a pure JavaScript loop of about the evaluated p50 takes p50 ${fmt(jitter.loopP50Us, 1)} µs, p99 ${fmt(jitter.loopP99Us, 1)} µs ` +
      `(p99/p50 ${fmt(jitter.loopP99Us / jitter.loopP50Us, 2)}; the evaluated path's is ${fmt(misses.variant.p99Us / misses.variant.p50Us, 2)})`,
  );
  const met = { repeated: hits.variant.p99Us < TARGET_P99_US, freshIds: classes.variant.p99Us < TARGET_P99_US, evaluated: misses.variant.p99Us < TARGET_P99_US };
  const verdict = (ok: boolean, v: Variant): string => `${ok ? 'met' : 'NOT met'} (${fmt(v.p99Us, 1)} µs)`;
  console.log(
    `\ntarget p99 < ${TARGET_P99_US} µs: fresh ids (decision class) ${verdict(met.freshIds, classes.variant)}; repeated requests ${verdict(met.repeated, hits.variant)}; ` +
      `every decision evaluated by Cedar ${verdict(met.evaluated, misses.variant)}`,
  );
  console.log(`before → after, evaluated p50: ${fmt(sliced.variant.p50Us, 1)} → ${fmt(misses.variant.p50Us, 1)} µs; p99: ${fmt(sliced.variant.p99Us, 1)} → ${fmt(misses.variant.p99Us, 1)} µs`);
  if (Math.max(loadAtStart, loadAtEnd) > 1) {
    console.log(`note: 1-minute load average was ${fmt(loadAtStart, 2)} at start and ${fmt(loadAtEnd, 2)} at end: other work shared the machine`);
  }

  const cpuList = cpus();
  const result = {
    benchmark: 'policy',
    date: new Date().toISOString(),
    cedarVersion: cedar.getCedarVersion(),
    policies: compiled.policies.length,
    policySetDigest: compiled.digest,
    mix: MIX.map((m) => ({ name: m.name, action: m.request.action, expect: m.expect })),
    decisionsPerPath: n,
    baselineDecisions: baselineN,
    targets: { p99Us: TARGET_P99_US },
    machine: {
      node: process.version,
      platform: `${platform()} ${release()}`,
      cpus: cpuList.length,
      cpu: cpuList[0]?.model ?? 'unknown',
      memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
      loadAverage1mAtStart: Math.round(loadAtStart * 100) / 100,
      loadAverage1mAtEnd: Math.round(loadAtEnd * 100) / 100,
    },
    results: variants,
    decisionPaths: paths,
    evaluatedByRequest: byRequest,
    decisionClassByRequest: byRequestClass,
    decodeCost: { decisionsEach: DECODE_DECISIONS, rows: decoding, perEntityReferenceUs: perReference, perStringUs: perString },
    entityReferencesByRequest: references,
    machineJitter: jitter,
    ratios: {
      statelessP50OverRepeatedP50: stateless.p50Us / hits.variant.p50Us,
      statelessP50OverFreshIdsP50: stateless.p50Us / classes.variant.p50Us,
      statelessP99OverFreshIdsP99: stateless.p99Us / classes.variant.p99Us,
      evaluatedP99OverFreshIdsP99: misses.variant.p99Us / classes.variant.p99Us,
      statelessP50OverEvaluatedP50: stateless.p50Us / misses.variant.p50Us,
      statelessP99OverEvaluatedP99: stateless.p99Us / misses.variant.p99Us,
      evaluatedThroughputOverStateless: misses.variant.perSecond / stateless.perSecond,
      previousSliceP50OverEvaluatedP50: sliced.variant.p50Us / misses.variant.p50Us,
      previousSliceP99OverEvaluatedP99: sliced.variant.p99Us / misses.variant.p99Us,
      wholeSetP50OverSlicedP50: whole.variant.p50Us / sliced.variant.p50Us,
    },
    targetMet: met,
  };
  const resultsDir = join(here, 'results');
  await mkdir(resultsDir, { recursive: true });
  await writeFile(join(resultsDir, 'policy.json'), JSON.stringify(result, null, 2) + '\n');
  console.log(`\nwrote ${join(resultsDir, 'policy.json')}`);
}

await main();
