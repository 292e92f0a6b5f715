import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { ConfigInvalid, hashCanonical, type FieldIssue } from '../core/index.js';
import { lineColumnAt, lineColumnAtByte } from './source.js';
import { NAMESPACE } from './vocabulary.js';

/**
 * Compiling policy files: parse and validate each file against the schema, name every policy
 * by its `@id`, and hand Cedar preparsed policy sets. Every problem becomes a `ConfigInvalid`
 * naming `file:line:column`, so a bad site policy stops the server at start with a message
 * that points at the mistake.
 *
 * Cedar evaluates every policy of a set on every request. Each action therefore gets its own
 * slice: the policies whose action scope can match it (`action`, `== A`, `in G` with A in G).
 * A policy outside the slice cannot apply to the action, so the decision is the same as with
 * the whole set, and a decision costs less. Within a slice every action scope holds for the
 * slice's action, so each is preparsed as `action` (any): the same truth value for every
 * request the slice decides, without Cedar consulting the action hierarchy to find it
 * (`specialised` keeps a policy as written when its JSON form would not be exact).
 *
 * Compiling also records what a slice's policies can look at (the attribute names they read,
 * whether they consult the action hierarchy), so that a decision sends Cedar only that, and
 * what the schema leaves open (entity types any id is valid for), so that a request already
 * checked against the schema in the same shape need not be checked again.
 */

/** A file's path (as shown in messages) and its text. */
export interface PolicySource {
  file: string;
  text: string;
}

/** One policy of the compiled set, with where it came from. */
export interface LoadedPolicy {
  id: string;
  effect: 'permit' | 'forbid';
  file: string;
  line: number;
  description: string | undefined;
}

/** One action's share of the policy set, preparsed, and what its policies can observe. */
export interface PolicySlice {
  /** Key of the preparsed slice in cedar-wasm's cache. */
  policySetId: string;
  /** The policy ids in the slice, in pack order. */
  policyIds: string[];
  /**
   * Every attribute name a policy of the slice reads, on any entity or record (`e.a`, `e has a`),
   * sorted. Cedar compares entities by uid, so no other entity attribute can change a decision.
   */
  attributes: string[];
  /**
   * Action entities a policy of the slice can consult the hierarchy of: `action` when a
   * condition names it, and every action a condition names (scopes no longer ask, see above).
   */
  readsAction: boolean;
  actionLiterals: string[];
  /**
   * Every entity the slice's policies name, in scopes or conditions, as `JSON.stringify({ type, id })`
   * writes it, sorted. Their ids matter to a decision as written; any other id of a type that
   * takes any id matters only by which other ids it equals (see `decisionClass`).
   */
  entityLiterals: string[];
}

/** The preparsed schema and policy set, and what was learnt compiling them. */
export interface CompiledPolicySet {
  /** Key of the preparsed schema in cedar-wasm's cache. */
  schemaName: string;
  /** Key of the preparsed policy set in cedar-wasm's cache. */
  policySetId: string;
  /** Key of a preparsed empty policy set: checking a request against the schema decides nothing. */
  emptyPolicySetId: string;
  /** The schema text and the policy texts by id, for the stateless API (benchmarks, tools). */
  schemaText: string;
  policyTexts: Record<string, string>;
  policies: LoadedPolicy[];
  /** Every concrete action the schema declares (action groups excluded). */
  actions: string[];
  /** Per action: the preparsed slice decisions use, the policy ids in it and what they read. */
  slices: Record<string, PolicySlice>;
  /** Per action (groups too): every group it belongs to, transitively, itself excluded. */
  actionGroups: Record<string, string[]>;
  /** The action entity type requests name, qualified (`Assay::Action`). */
  actionType: string;
  /**
   * Entity types, qualified, that accept any id: all but enumerated types and actions. Whether a
   * request fits the schema does not depend on the ids of entities of these types.
   */
  freeIdTypes: string[];
  /** SHA-256 of the schema and every policy text by id: which policy set decided. */
  digest: string;
}

const ID_PATTERN = /^[a-z0-9][a-z0-9._-]*$/;

function where(source: PolicySource, location: cedar.SourceLocation | undefined): string {
  if (!location) return source.file;
  const { line, column } = lineColumnAtByte(source.text, location.start);
  return `${source.file}:${line}:${column}`;
}

function issuesOf(source: PolicySource, errors: readonly cedar.DetailedError[]): FieldIssue[] {
  return errors.map((e) => ({
    field: where(source, e.sourceLocations?.[0]),
    message: e.message + (e.help ? ` (${e.help})` : ''),
  }));
}

/** What the schema declares that compiling needs. */
interface SchemaFacts {
  /** Each concrete action with the groups it belongs to, transitively (itself included). */
  lineage: Map<string, Set<string>>;
  /** Every action, groups too, with its groups, transitively (itself excluded). */
  actionGroups: Record<string, string[]>;
  actionType: string;
  freeIdTypes: string[];
}

const qualified = (namespace: string, name: string): string => (namespace === '' ? name : `${namespace}::${name}`);

/** Parses the schema: its actions with their groups, and which entity types take any id. */
function checkSchema(schema: PolicySource): SchemaFacts {
  const parsed = cedar.schemaToJson(schema.text);
  if (parsed.type === 'failure') throw new ConfigInvalid(issuesOf(schema, parsed.errors), 'Cedar schema');
  const parents = new Map<string, string[]>();
  const concrete: string[] = [];
  const freeIdTypes: string[] = [];
  for (const [ns, namespace] of Object.entries(parsed.json)) {
    for (const [name, type] of Object.entries(namespace.entityTypes)) {
      if (!('enum' in type)) freeIdTypes.push(qualified(ns, name));
    }
    for (const [name, action] of Object.entries(namespace.actions)) {
      parents.set(name, (action.memberOf ?? []).map((m) => m.id));
      // Groups have no principal types: they exist to be granted, never requested.
      if ((action.appliesTo?.principalTypes.length ?? 0) > 0) concrete.push(name);
    }
  }
  const closure = (name: string): Set<string> => {
    const seen = new Set<string>([name]);
    const queue = [name];
    for (let next = queue.pop(); next !== undefined; next = queue.pop()) {
      for (const parent of parents.get(next) ?? []) {
        if (seen.has(parent)) continue;
        seen.add(parent);
        queue.push(parent);
      }
    }
    return seen;
  };
  const lineage = new Map<string, Set<string>>();
  for (const name of concrete.sort()) lineage.set(name, closure(name));
  const actionGroups: Record<string, string[]> = {};
  for (const name of [...parents.keys()].sort()) actionGroups[name] = [...closure(name)].filter((g) => g !== name).sort();
  return { lineage, actionGroups, actionType: qualified(NAMESPACE, 'Action'), freeIdTypes: freeIdTypes.sort() };
}

const actionIdOf = (e: cedar.EntityUidJson): string => ('__entity' in e ? e.__entity.id : e.id);

/** Whether a policy whose action scope is `scope` can apply to an action of `lineage` (itself and its groups). */
function scopeMatches(scope: cedar.ActionConstraint, action: string, lineage: ReadonlySet<string>): boolean {
  if (scope.op === 'All') return true;
  if (scope.op === '==') return 'entity' in scope && actionIdOf(scope.entity) === action;
  const targets = 'entities' in scope ? scope.entities : [scope.entity];
  return targets.some((t) => lineage.has(actionIdOf(t)));
}

/**
 * Where each policy text starts in its file (-1 if not found). Cedar returns the texts sorted by
 * its generated ids, not by position, and one policy's text can occur inside another's (the same
 * rule without its annotations), so the longest are placed first, each on a span nobody has.
 */
function locateParts(text: string, parts: readonly string[]): number[] {
  const taken: [number, number][] = [];
  const starts = new Array<number>(parts.length).fill(-1);
  const order = parts.map((p, i) => i).sort((a, b) => parts[b]!.length - parts[a]!.length);
  for (const i of order) {
    const part = parts[i]!;
    for (let at = text.indexOf(part); at !== -1; at = text.indexOf(part, at + 1)) {
      const end = at + part.length;
      if (taken.some(([s, e]) => at < e && end > s)) continue;
      taken.push([at, end]);
      starts[i] = at;
      break;
    }
  }
  return starts;
}

/** Splits one file into its policies, keyed by `@id`; reports parse and validation errors. */
interface ParsedPolicy {
  policy: LoadedPolicy;
  text: string;
  json: cedar.PolicyJson;
  /** The policy as its slices preparse it: JSON with `action` for its action scope, or its text when JSON would not be exact. */
  inSlice: string | cedar.PolicyJson;
  reads: PolicyReads;
}

/** What one policy can observe beyond the request's uids. */
interface PolicyReads {
  attributes: Set<string>;
  readsAction: boolean;
  actionLiterals: Set<string>;
  /** Every uid written anywhere in the policy (scope or condition), serialised as `{"type":…,"id":…}`. */
  entityLiterals: Set<string>;
}

/**
 * Every entity uid a policy names, wherever it stands: `{ type, id }` objects in scopes and
 * `__entity` values in conditions. Taking any string pair so keyed is over-inclusive at worst,
 * which only keeps more ids as written.
 */
function entityLiteralsOf(policy: cedar.PolicyJson): Set<string> {
  const found = new Set<string>();
  const visit = (node: unknown): void => {
    if (node === null || typeof node !== 'object') return;
    const record = node as Record<string, unknown>;
    if (typeof record.type === 'string' && typeof record.id === 'string') found.add(JSON.stringify({ type: record.type, id: record.id }));
    for (const value of Object.values(record)) visit(value);
  };
  visit(policy);
  return found;
}

/**
 * Walks a policy's conditions in JSON form (every node, known kinds or not, so nothing is
 * missed): the attribute names read with `.` and `has`, whether `action` is named, and the
 * action entities named. Finding too much only sends Cedar more; finding too little could not.
 */
function readsOf(policy: cedar.PolicyJson, actionType: string): PolicyReads {
  const reads: PolicyReads = { attributes: new Set(), readsAction: false, actionLiterals: new Set(), entityLiterals: entityLiteralsOf(policy) };
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const item of node) visit(item);
      return;
    }
    if (node === null || typeof node !== 'object') return;
    const record = node as Record<string, unknown>;
    for (const op of ['.', 'has']) {
      const attr = (record[op] as { attr?: unknown } | undefined)?.attr;
      for (const a of Array.isArray(attr) ? attr : [attr]) if (typeof a === 'string') reads.attributes.add(a);
    }
    if (record.Var === 'action') reads.readsAction = true;
    const entity = record.__entity as { type?: unknown; id?: unknown } | undefined;
    if (entity?.type === actionType && typeof entity.id === 'string') reads.actionLiterals.add(entity.id);
    for (const value of Object.values(record)) visit(value);
  };
  visit(policy.conditions);
  return reads;
}

/** Whether every number in `node` is one a double holds exactly, whatever the text said. */
function exactNumbers(node: unknown): boolean {
  if (typeof node === 'number') return Number.isSafeInteger(node);
  if (node === null || typeof node !== 'object') return true;
  return Object.values(node).every(exactNumbers);
}

/**
 * The policy with its action scope widened to `action`, as JSON, if its JSON form says exactly
 * what its text does. JSON numbers are doubles in JavaScript: a Long beyond 2^53 - 1 may have
 * come back changed, so such a policy keeps its text, scope and all. (Strings, names and
 * structure survive JSON exactly.)
 */
function specialised(json: cedar.PolicyJson, text: string): string | cedar.PolicyJson {
  return exactNumbers(json) ? { ...json, action: { op: 'All' } } : text;
}

function policiesOf(source: PolicySource, schema: { text: string; actionType: string }, issues: FieldIssue[]): ParsedPolicy[] {
  const parsed = cedar.checkParsePolicySet({ staticPolicies: source.text });
  if (parsed.type === 'failure') {
    issues.push(...issuesOf(source, parsed.errors));
    return [];
  }
  const validation = cedar.validate({ schema: schema.text, policies: { staticPolicies: source.text } });
  if (validation.type === 'failure') {
    issues.push(...issuesOf(source, validation.errors));
    return [];
  }
  // Keep going after validation errors: a missing @id or a duplicate is worth reporting in the same run.
  // Cedar reports one error per entity type a policy could apply to; one per spot is enough.
  const bySpot = new Map<string, { message: string; more: number }>();
  for (const v of validation.validationErrors) {
    const field = where(source, v.error.sourceLocations?.[0]);
    const seen = bySpot.get(field);
    if (seen) {
      seen.more++;
      continue;
    }
    // Cedar names the policy by its generated id (`policy3`); the location says more.
    const message = v.error.message.replace(/^for policy `[^`]*`,?:? ?/, '') + (v.error.help ? ` (${v.error.help})` : '');
    bySpot.set(field, { message, more: 0 });
  }
  for (const [field, { message, more }] of bySpot) issues.push({ field, message: more > 0 ? `${message}, and ${more} more here` : message });
  const parts = cedar.policySetTextToParts(source.text);
  if (parts.type === 'failure') {
    issues.push(...issuesOf(source, parts.errors));
    return [];
  }
  if (parts.policy_templates.length > 0) {
    issues.push({ field: source.file, message: 'policy templates are not supported; write static policies' });
  }
  const out: ParsedPolicy[] = [];
  const starts = locateParts(source.text, parts.policies);
  parts.policies.forEach((text, i) => {
    const at = starts[i] ?? -1;
    const line = at === -1 ? 1 : lineColumnAt(source.text, at).line;
    const json = cedar.policyToJson(text);
    if (json.type === 'failure') {
      issues.push(...issuesOf(source, json.errors));
      return;
    }
    const id = json.json.annotations?.id;
    if (id === undefined) {
      issues.push({ field: `${source.file}:${line}`, message: 'policy has no @id("…") annotation; every policy needs a unique id' });
      return;
    }
    if (!ID_PATTERN.test(id)) {
      issues.push({ field: `${source.file}:${line}`, message: `policy id "${id}" must be lower-case letters, digits, ".", "_" or "-"` });
      return;
    }
    const policy = { id, effect: json.json.effect, file: source.file, line, description: json.json.annotations?.description };
    const inSlice = specialised(json.json, text);
    const reads = readsOf(json.json, schema.actionType);
    // A scope kept as written still consults the action hierarchy.
    if (typeof inSlice === 'string' && json.json.action.op === 'in') reads.readsAction = true;
    out.push({ policy, text, json: json.json, inSlice, reads });
  });
  return out.sort((a, b) => a.policy.line - b.policy.line);
}

function preparse(id: string, policies: Record<string, string | cedar.PolicyJson>): void {
  const answer = cedar.preparsePolicySet(id, { staticPolicies: policies });
  if (answer.type === 'failure') throw new ConfigInvalid(issuesOf({ file: 'policy set', text: '' }, answer.errors), 'Cedar policies');
}

/**
 * Validates `files` against `schema` and preparses them, whole and sliced per action; throws
 * `ConfigInvalid` listing every problem in every file, each as `file:line:column`.
 */
export function compilePolicySet(input: { schema: PolicySource; files: readonly PolicySource[] }): CompiledPolicySet {
  const facts = checkSchema(input.schema);
  const issues: FieldIssue[] = [];
  const parsed: ParsedPolicy[] = [];
  for (const source of input.files) {
    for (const p of policiesOf(source, { text: input.schema.text, actionType: facts.actionType }, issues)) {
      const first = parsed.find((q) => q.policy.id === p.policy.id)?.policy;
      if (first) {
        issues.push({ field: `${p.policy.file}:${p.policy.line}`, message: `duplicate policy id "${p.policy.id}" (first at ${first.file}:${first.line})` });
        continue;
      }
      parsed.push(p);
    }
  }
  if (issues.length > 0) throw new ConfigInvalid(issues, 'Cedar policies');

  const policyTexts = Object.fromEntries(parsed.map((p) => [p.policy.id, p.text]));
  const digest = hashCanonical({ schema: input.schema.text, policies: policyTexts });
  // cedar-wasm keeps preparsed sets for the life of the process and cannot drop them; naming
  // them by content makes reloading the same policies reuse the entries instead of adding more.
  const schemaName = `assay-schema-${hashCanonical({ schema: input.schema.text })}`;
  const schemaAnswer = cedar.preparseSchema(schemaName, input.schema.text);
  if (schemaAnswer.type === 'failure') throw new ConfigInvalid(issuesOf(input.schema, schemaAnswer.errors), 'Cedar schema');
  const policySetId = `assay-policies-${digest}`;
  preparse(policySetId, policyTexts);
  const emptyPolicySetId = 'assay-empty';
  preparse(emptyPolicySetId, {});

  const slices: CompiledPolicySet['slices'] = {};
  for (const [action, groups] of facts.lineage) {
    const inSlice = parsed.filter((p) => scopeMatches(p.json.action, action, groups));
    const policies = Object.fromEntries(inSlice.map((p) => [p.policy.id, p.inSlice]));
    const id = `assay-slice-${hashCanonical(policies)}`;
    if (!Object.values(slices).some((s) => s.policySetId === id)) preparse(id, policies);
    const union = (pick: (r: PolicyReads) => Set<string>): string[] => [...new Set(inSlice.flatMap((p) => [...pick(p.reads)]))].sort();
    slices[action] = {
      policySetId: id,
      policyIds: Object.keys(policies),
      attributes: union((r) => r.attributes),
      readsAction: inSlice.some((p) => p.reads.readsAction),
      actionLiterals: union((r) => r.actionLiterals),
      entityLiterals: union((r) => r.entityLiterals),
    };
  }
  return {
    schemaName,
    policySetId,
    emptyPolicySetId,
    schemaText: input.schema.text,
    policyTexts,
    policies: parsed.map((p) => p.policy),
    actions: [...facts.lineage.keys()],
    slices,
    actionGroups: facts.actionGroups,
    actionType: facts.actionType,
    freeIdTypes: facts.freeIdTypes,
    digest,
  };
}
