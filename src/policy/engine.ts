import { existsSync, statSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { ConfigInvalid } from '../core/index.js';
import { classifyAutonomy, parseAutonomyPolicy, type AutonomyDecision, type AutonomyPolicy, type AutonomyRequest } from './autonomy.js';
import { contextRecord, principalEntity, resourceEntity, uid, type ContextInput, type PrincipalInput, type ResourceInput } from './entities.js';
import { PolicyRequestInvalid } from './errors.js';
import { decisionClass, evaluationPlan, LruMap, observedCall, shapeKey, type CedarCall, type EvaluationPlan } from './evaluation.js';
import { DEFAULT_DENY_RULE, type PlacementDecision, type PlacementRequest } from './placement.js';
import { compilePolicySet, type CompiledPolicySet, type LoadedPolicy, type PolicySource } from './policy-set.js';

/** The Cedar schema every policy is validated against. */
export const SCHEMA_FILE = fileURLToPath(new URL('./schema/assay.cedarschema', import.meta.url));
/** The default policy pack shipped with Assay. */
export const DEFAULT_PACK_DIR = fileURLToPath(new URL('./packs/default/', import.meta.url));

const AUTONOMY_FILES = ['autonomy.yaml', 'autonomy.yml', 'autonomy.json'];

/** Where the policies come from. */
export interface PolicyEngineOptions {
  /** Site policies: every `*.cedar` file here, and optionally an `autonomy.yaml` that replaces the pack's. Need not exist. */
  siteDir?: string;
  /** @default DEFAULT_PACK_DIR */
  packDir?: string;
  /**
   * Decisions remembered, least recently used dropped first; 0 turns the cache off. A Cedar
   * decision depends only on the request, its entities and the policies, so a remembered
   * decision for byte-identical input is the decision. As many again are remembered by decision
   * class: the request as its action's policies observe it, with ids no policy names renamed by
   * order of appearance, which Cedar cannot tell apart (see `evaluation.ts`). @default 4096
   */
  decisionCacheSize?: number;
  /**
   * Request shapes remembered as fitting the schema, least recently used dropped first; 0 checks
   * every request against the schema. A shape is a request with the ids of entities whose type
   * accepts any id left out: whether a request fits the schema does not depend on them. A
   * request of a new shape is checked in full (once), then evaluated like any other. @default 4096
   */
  schemaCheckCacheSize?: number;
}

/** One authorization question, in Assay's types. */
export interface AuthorizationRequest {
  principal: PrincipalInput;
  /** A concrete action of the schema: an API operationId or a lifecycle decision. */
  action: string;
  resource: ResourceInput;
  context?: ContextInput;
}

/** The answer, with the policies that determined it (for the audit entry). */
export interface PolicyDecision {
  decision: 'allow' | 'deny';
  /** Determining policy ids, in pack order: the permits that allowed, or the forbids that denied. */
  policyIds: string[];
  /** One sentence for the audit entry and the problem+json detail. */
  reason: string;
  /** Policy evaluation errors; any error makes the decision a deny (fail closed). */
  errors: string[];
}

/**
 * Decisions by the path that answered them: `cached` (the same request before), `class` (a
 * request of the same decision class before, see `evaluation.ts`) or `evaluated` (Cedar).
 */
export type DecisionCounts = Readonly<Record<'cached' | 'class' | 'evaluated', number>>;

/** The loaded policies of one process: Cedar authorization, placement and bounded autonomy. */
export interface PolicyEngine {
  /** SHA-256 of the schema and all policy texts: which policy set made a decision. */
  readonly digest: string;
  readonly policies: readonly LoadedPolicy[];
  /** Every action a request may name. */
  readonly actions: readonly string[];
  readonly autonomy: AutonomyPolicy;
  /** The file the autonomy document came from. */
  readonly autonomyFile: string;
  /** Decides a request; throws `PolicyRequestInvalid` when the schema does not allow it. */
  authorize(request: AuthorizationRequest): PolicyDecision;
  /** How many decisions (placement included) each path has answered since load. */
  decisionCounts(): DecisionCounts;
  /** The policies whose scope can match `action`, in pack order; empty for an unknown action. */
  policiesFor(action: string): readonly LoadedPolicy[];
  /** Decides whether data may be processed in a zone, naming the rule. */
  decidePlacement(request: PlacementRequest): PlacementDecision;
  /** Sorts an autonomous action into a tier by the autonomy document. */
  classifyAutonomy(request: AutonomyRequest): AutonomyDecision;
}

async function cedarFiles(dir: string): Promise<PolicySource[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.cedar')).sort();
  return Promise.all(names.map(async (n) => ({ file: join(dir, n), text: await readFile(join(dir, n), 'utf8') })));
}

async function autonomyFile(packDir: string, siteDir: string | undefined): Promise<string> {
  const site = siteDir ? AUTONOMY_FILES.map((n) => join(siteDir, n)).filter((f) => existsSync(f)) : [];
  if (site.length > 1) {
    throw new ConfigInvalid(site.map((f) => ({ field: f, message: 'more than one autonomy document; keep one' })), 'site policies');
  }
  return site[0] ?? join(packDir, 'autonomy.yaml');
}

/**
 * Loads the default pack and the site's policies, validates every file against the schema
 * and preparses them once; throws `ConfigInvalid` naming file and line of every problem.
 */
export async function loadPolicyEngine(options: PolicyEngineOptions = {}): Promise<PolicyEngine> {
  const packDir = options.packDir ?? DEFAULT_PACK_DIR;
  const cacheSize = options.decisionCacheSize ?? DEFAULT_CACHE_SIZE;
  const shapeCacheSize = options.schemaCheckCacheSize ?? DEFAULT_CACHE_SIZE;
  const badSizes = Object.entries({ decisionCacheSize: cacheSize, schemaCheckCacheSize: shapeCacheSize }).filter(([, n]) => !Number.isInteger(n) || n < 0);
  if (badSizes.length > 0) {
    throw new ConfigInvalid(
      badSizes.map(([field]) => ({ field, message: 'must be a whole number, 0 or more' })),
      'policy engine options',
    );
  }
  const files = [...(await cedarFiles(packDir))];
  if (options.siteDir && existsSync(options.siteDir)) {
    if (!statSync(options.siteDir).isDirectory()) {
      throw new ConfigInvalid([{ field: options.siteDir, message: 'site policies must be a directory of .cedar files' }], 'site policies');
    }
    files.push(...(await cedarFiles(options.siteDir)));
  }
  const schema = { file: SCHEMA_FILE, text: await readFile(SCHEMA_FILE, 'utf8') };
  const compiled = compilePolicySet({ schema, files });
  const autonomyPath = await autonomyFile(packDir, options.siteDir);
  const autonomy = parseAutonomyPolicy(await readFile(autonomyPath, 'utf8'), autonomyPath);
  return new CedarPolicyEngine(compiled, { autonomy, autonomyFile: autonomyPath, cacheSize, shapeCacheSize });
}

const DEFAULT_CACHE_SIZE = 4096;
const PLACE_ACTION = 'placeWorkload';
const WORKLOAD_ID = 'workload';

class CedarPolicyEngine implements PolicyEngine {
  readonly digest: string;
  readonly policies: readonly LoadedPolicy[];
  readonly actions: readonly string[];
  readonly autonomy: AutonomyPolicy;
  readonly autonomyFile: string;
  readonly #plans: ReadonlyMap<string, EvaluationPlan>;
  readonly #order: ReadonlyMap<string, number>;
  readonly #freeIdTypes: ReadonlySet<string>;

  readonly #cache: LruMap<PolicyDecision>;
  /** Verdicts by decision class (see `evaluation.ts`). */
  readonly #classes: LruMap<Verdict>;
  readonly #counts = { cached: 0, class: 0, evaluated: 0 };
  /** Shapes of requests that passed the schema check (see `evaluation.ts`). */
  readonly #fitShapes: LruMap<true>;

  constructor(
    private readonly compiled: CompiledPolicySet,
    settings: { autonomy: AutonomyPolicy; autonomyFile: string; cacheSize: number; shapeCacheSize: number },
  ) {
    this.digest = compiled.digest;
    this.policies = compiled.policies;
    this.actions = compiled.actions;
    this.autonomy = settings.autonomy;
    this.autonomyFile = settings.autonomyFile;
    this.#cache = new LruMap(settings.cacheSize);
    this.#classes = new LruMap(settings.cacheSize);
    this.#fitShapes = new LruMap(settings.shapeCacheSize);
    const actions = { type: compiled.actionType, groups: compiled.actionGroups };
    this.#plans = new Map(Object.entries(compiled.slices).map(([action, slice]) => [action, evaluationPlan(action, slice, actions)]));
    this.#order = new Map(compiled.policies.map((p, i) => [p.id, i]));
    this.#freeIdTypes = new Set(compiled.freeIdTypes);
  }

  authorize(request: AuthorizationRequest): PolicyDecision {
    if (request.action === PLACE_ACTION) {
      throw new PolicyRequestInvalid(`${PLACE_ACTION} is decided by decidePlacement, not authorize`);
    }
    const principal = principalEntity(request.principal);
    const resource = resourceEntity(request.resource);
    const sameEntity = request.resource.type === 'Principal' && request.resource.id === request.principal.id;
    return this.#decide({
      action: request.action,
      principal: principal.uid,
      resource: resource.uid,
      context: contextRecord(request.context),
      entities: sameEntity ? [principal] : [principal, resource],
    });
  }

  decisionCounts(): DecisionCounts {
    return { ...this.#counts };
  }

  policiesFor(action: string): readonly LoadedPolicy[] {
    const ids = new Set(this.compiled.slices[action]?.policyIds ?? []);
    return this.policies.filter((p) => ids.has(p.id));
  }

  decidePlacement(request: PlacementRequest): PlacementDecision {
    const workload: cedar.EntityJson = {
      uid: uid('Workload', WORKLOAD_ID),
      attrs: {
        classification: { __entity: uid('Classification', request.classification) },
        ...(request.residency === undefined ? {} : { residency: request.residency }),
      },
      parents: [],
    };
    const zone = resourceEntity({ type: 'Zone', ...request.zone });
    const d = this.#decide({ action: PLACE_ACTION, principal: workload.uid, resource: zone.uid, context: {}, entities: [workload, zone] });
    const allowed = d.decision === 'allow';
    const rule = d.policyIds[0] ?? DEFAULT_DENY_RULE;
    const what = `${request.classification}${request.residency ? ` data resident in ${request.residency}` : ' data'}`;
    const reason =
      d.errors.length > 0
        ? d.reason
        : allowed
          ? `${what} may run in zone ${request.zone.id} (${request.zone.tier}, ${request.zone.region}) under ${rule}`
          : d.policyIds.length > 0
            ? `${what} may not run in zone ${request.zone.id} (${request.zone.tier}, ${request.zone.region}): ${d.policyIds.join(', ')}`
            : `no placement policy permits ${what} in zone ${request.zone.id} (${request.zone.tier}, ${request.zone.region})`;
    return { allowed, rule, policyIds: d.policyIds, reason };
  }

  classifyAutonomy(request: AutonomyRequest): AutonomyDecision {
    return classifyAutonomy(this.autonomy, request);
  }

  #decide(call: CedarCall): PolicyDecision {
    const plan = this.#plans.get(call.action);
    if (plan === undefined) {
      throw new PolicyRequestInvalid(`unknown action ${call.action}: not declared in the Cedar schema`, [
        { field: 'action', message: `must be one of ${this.actions.join(', ')}` },
      ]);
    }
    // The key is the whole input; entity builders emit keys in a fixed order, so equal input
    // serialises equally (and a different order would only miss, never mislead).
    const key = this.#cache.capacity > 0 || this.#fitShapes.capacity > 0 ? JSON.stringify(call) : '';
    if (this.#cache.capacity === 0) return explain(call, this.#verdict(call, plan, key));
    let d = this.#cache.get(key);
    if (d) this.#counts.cached++;
    else {
      d = explain(call, this.#verdict(call, plan, key));
      this.#cache.set(key, d);
    }
    return { ...d, policyIds: [...d.policyIds], errors: [...d.errors] };
  }

  /** Throws `PolicyRequestInvalid` unless the request fits the schema; asks Cedar once per shape of `serialised`. */
  #checkSchema(call: CedarCall, serialised: string): void {
    const shape = this.#fitShapes.capacity === 0 ? undefined : shapeKey(serialised, this.#freeIdTypes);
    if (shape !== undefined && this.#fitShapes.get(shape)) return;
    const answer = cedar.statefulIsAuthorized({
      principal: call.principal,
      action: uid('Action', call.action),
      resource: call.resource,
      context: call.context,
      entities: call.entities,
      preparsedSchemaName: this.compiled.schemaName,
      preparsedPolicySetId: this.compiled.emptyPolicySetId,
      validateRequest: true,
    });
    if (answer.type === 'failure') throw unfit(call.action, answer.errors);
    if (shape !== undefined) this.#fitShapes.set(shape, true);
  }

  /**
   * The decision and its determining policies, from the request's decision class when one was
   * decided before, else from Cedar. `serialised` is `JSON.stringify(call)`, or '' when no cache wants it.
   */
  #verdict(call: CedarCall, plan: EvaluationPlan, serialised: string): Verdict {
    this.#checkSchema(call, serialised);
    // Checked against the schema above; evaluated without it, on what the slice can observe.
    const observed = observedCall(call, plan);
    const cls = this.#classes.capacity === 0 ? undefined : decisionClass(observed, this.#freeIdTypes, plan.named);
    const known = cls === undefined ? undefined : this.#classes.get(cls);
    if (known) {
      this.#counts.class++;
      return known;
    }
    this.#counts.evaluated++;
    const answer = cedar.statefulIsAuthorized({
      principal: call.principal,
      action: uid('Action', call.action),
      resource: call.resource,
      context: call.context,
      entities: [...observed.entities, ...plan.actionEntities],
      preparsedPolicySetId: plan.policySetId,
    });
    if (answer.type === 'failure') throw unfit(call.action, answer.errors);
    const { decision, diagnostics } = answer.response;
    const byOrder = (a: string, b: string): number => (this.#order.get(a) ?? 0) - (this.#order.get(b) ?? 0);
    if (diagnostics.errors.length > 0) {
      // Cedar skips a policy that errors; a skipped forbid would let the request through, so fail closed.
      // Not remembered by class: the messages name the request's own ids.
      const failed = [...new Set(diagnostics.errors.map((e) => e.policyId))].sort(byOrder);
      return { decision: 'deny', policyIds: failed, errors: diagnostics.errors.map((e) => `${e.policyId}: ${e.error.message}`) };
    }
    const verdict: Verdict = { decision, policyIds: [...diagnostics.reason].sort(byOrder), errors: [] };
    if (cls !== undefined) this.#classes.set(cls, verdict);
    return verdict;
  }
}

/** A decision before it is put in words: the same for every request of a decision class (when it has no errors). */
type Verdict = Readonly<Omit<PolicyDecision, 'reason'>>;

/** The decision for `call`, with its reason in words. */
function explain(call: CedarCall, v: Verdict): PolicyDecision {
  const subject = `${call.action} by ${describe(call.principal)} on ${describe(call.resource)}`;
  const reason =
    v.errors.length > 0
      ? `denied: policy evaluation failed (${v.errors.join('; ')})`
      : v.decision === 'allow'
        ? `${subject} permitted by ${v.policyIds.join(', ')}`
        : v.policyIds.length > 0
          ? `${subject} forbidden by ${v.policyIds.join(', ')}`
          : `${subject} denied: no policy permits it`;
  return { decision: v.decision, policyIds: [...v.policyIds], reason, errors: [...v.errors] };
}

function unfit(action: string, failures: readonly cedar.DetailedError[]): PolicyRequestInvalid {
  const errors = failures.map((e) => ({ field: 'request', message: e.message }));
  return new PolicyRequestInvalid(`request for ${action} does not fit the Cedar schema: ${errors.map((e) => e.message).join('; ')}`, errors);
}

function describe(u: cedar.EntityUidJson): string {
  const { type, id } = '__entity' in u ? u.__entity : u;
  return `${type.replace(/^Assay::/, '')} ${id}`;
}
