import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { ConfigInvalid, hashCanonical, type FieldIssue } from '../core/index.js';
import { lineColumnAt, lineColumnAtByte } from './source.js';

/**
 * Compiling policy files: parse and validate each file against the schema, name every policy
 * by its `@id`, and hand Cedar preparsed policy sets. Every problem becomes a `ConfigInvalid`
 * naming `file:line:column`, so a bad site policy stops the server at start with a message
 * that points at the mistake.
 *
 * Cedar evaluates every policy of a set on every request. Each action therefore gets its own
 * slice: the policies whose action scope can match it (`action`, `== A`, `in G` with A in G).
 * A policy outside the slice cannot apply to the action, so the decision is the same as with
 * the whole set, and a decision costs less.
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

/** The preparsed schema and policy set, and what was learnt compiling them. */
export interface CompiledPolicySet {
  /** Key of the preparsed schema in cedar-wasm's cache. */
  schemaName: string;
  /** Key of the preparsed policy set in cedar-wasm's cache. */
  policySetId: string;
  /** The schema text and the policy texts by id, for the stateless API (benchmarks, tools). */
  schemaText: string;
  policyTexts: Record<string, string>;
  policies: LoadedPolicy[];
  /** Every concrete action the schema declares (action groups excluded). */
  actions: string[];
  /** Per action: the preparsed slice decisions use, and the policy ids in it. */
  slices: Record<string, { policySetId: string; policyIds: string[] }>;
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

/** Parses the schema; returns each concrete action with the groups it belongs to, transitively. */
function checkSchema(schema: PolicySource): Map<string, Set<string>> {
  const parsed = cedar.schemaToJson(schema.text);
  if (parsed.type === 'failure') throw new ConfigInvalid(issuesOf(schema, parsed.errors), 'Cedar schema');
  const parents = new Map<string, string[]>();
  const concrete: string[] = [];
  for (const namespace of Object.values(parsed.json)) {
    for (const [name, action] of Object.entries(namespace.actions)) {
      parents.set(name, (action.memberOf ?? []).map((m) => m.id));
      // Groups have no principal types: they exist to be granted, never requested.
      if ((action.appliesTo?.principalTypes.length ?? 0) > 0) concrete.push(name);
    }
  }
  const lineage = new Map<string, Set<string>>();
  for (const name of concrete.sort()) {
    const seen = new Set<string>([name]);
    const queue = [name];
    for (let next = queue.pop(); next !== undefined; next = queue.pop()) {
      for (const parent of parents.get(next) ?? []) {
        if (seen.has(parent)) continue;
        seen.add(parent);
        queue.push(parent);
      }
    }
    lineage.set(name, seen);
  }
  return lineage;
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
  scope: cedar.ActionConstraint;
}

function policiesOf(source: PolicySource, schemaText: string, issues: FieldIssue[]): ParsedPolicy[] {
  const parsed = cedar.checkParsePolicySet({ staticPolicies: source.text });
  if (parsed.type === 'failure') {
    issues.push(...issuesOf(source, parsed.errors));
    return [];
  }
  const validation = cedar.validate({ schema: schemaText, policies: { staticPolicies: source.text } });
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
    out.push({ policy, text, scope: json.json.action });
  });
  return out.sort((a, b) => a.policy.line - b.policy.line);
}

function preparse(id: string, policies: Record<string, string>): void {
  const answer = cedar.preparsePolicySet(id, { staticPolicies: policies });
  if (answer.type === 'failure') throw new ConfigInvalid(issuesOf({ file: 'policy set', text: '' }, answer.errors), 'Cedar policies');
}

/**
 * Validates `files` against `schema` and preparses them, whole and sliced per action; throws
 * `ConfigInvalid` listing every problem in every file, each as `file:line:column`.
 */
export function compilePolicySet(input: { schema: PolicySource; files: readonly PolicySource[] }): CompiledPolicySet {
  const lineage = checkSchema(input.schema);
  const issues: FieldIssue[] = [];
  const parsed: ParsedPolicy[] = [];
  for (const source of input.files) {
    for (const p of policiesOf(source, input.schema.text, issues)) {
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

  const slices: CompiledPolicySet['slices'] = {};
  for (const [action, groups] of lineage) {
    const texts = Object.fromEntries(parsed.filter((p) => scopeMatches(p.scope, action, groups)).map((p) => [p.policy.id, p.text]));
    const id = `assay-slice-${hashCanonical(texts)}`;
    if (!Object.values(slices).some((s) => s.policySetId === id)) preparse(id, texts);
    slices[action] = { policySetId: id, policyIds: Object.keys(texts) };
  }
  return {
    schemaName,
    policySetId,
    schemaText: input.schema.text,
    policyTexts,
    policies: parsed.map((p) => p.policy),
    actions: [...lineage.keys()],
    slices,
    digest,
  };
}
