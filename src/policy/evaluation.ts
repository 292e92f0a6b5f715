import type { CedarValueJson, Context, EntityJson, EntityUidJson } from '@cedar-policy/cedar-wasm/nodejs';
import type { PolicySlice } from './policy-set.js';

/**
 * What a decision sends Cedar, and what the engine remembers between decisions.
 *
 * Cedar's schema-aware request path re-reads the schema's action hierarchy into the entity
 * store and checks every entity against its type on every call: about half of what an
 * evaluated decision cost. The engine therefore splits a decision in two:
 *
 * - **The schema check** runs Cedar with the schema and `validateRequest`, over an empty policy
 *   set, once per request *shape*: the request with the ids of entity types that accept any id
 *   blanked out (`shapeKey`). Enumerated ids (roles, classifications, tiers), actions, attribute
 *   names, types and values stay in the shape, so a request is only spared the check when one
 *   differing from it in nothing but such ids has passed it.
 * - **The evaluation** runs Cedar without the schema, on the action's slice, with entities cut to
 *   what the slice's policies can observe (`evaluationEntities`): the attributes they read, and the
 *   action entities they consult with the action groups the schema would have supplied.
 *
 * Entities only ever come from the builders in `entities.ts`, which write entity references
 * with the explicit `__entity` escape; without a schema Cedar reads exactly the same values.
 *
 * Most of an evaluated decision is cedar-wasm decoding the request (each entity reference in
 * an attribute costs about as much as evaluating a policy), and most requests repeat one another
 * up to who and what they name: app client A on deployment X, then app client B on deployment Y,
 * in the same roles and classifications. The engine therefore also remembers decisions by
 * `decisionClass`: the request as the slice observes it, with every id that no policy names
 * replaced by the order in which it first appears. Cedar can only compare such ids with one
 * another (equality, hierarchy membership, attribute lookup by uid): it has no operator that
 * reads an id's text. Renaming them one-to-one, consistently through the request and its
 * entities, keeping every id a policy names, is an isomorphism of the evaluation, so two
 * requests of one class get the same decision and the same determining policies.
 */

/** One Cedar question, as the entity builders produce it. */
export interface CedarCall {
  action: string;
  principal: EntityUidJson;
  resource: EntityUidJson;
  context: Context;
  entities: EntityJson[];
}

/** A bounded map that drops the least recently used entry first; size 0 keeps nothing. */
export class LruMap<V> {
  readonly #entries = new Map<string, V>();

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.#entries.size;
  }

  get(key: string): V | undefined {
    const value = this.#entries.get(key);
    if (value !== undefined) {
      this.#entries.delete(key); // re-inserted: Map order is recency
      this.#entries.set(key, value);
    }
    return value;
  }

  set(key: string, value: V): void {
    if (this.capacity === 0) return;
    this.#entries.delete(key);
    if (this.#entries.size >= this.capacity) this.#entries.delete(this.#entries.keys().next().value as string);
    this.#entries.set(key, value);
  }
}

/** A uid as `JSON.stringify` writes the builders' `{ type, id }`; quotes inside strings are always escaped. */
const SERIALISED_UID = /\{"type":"((?:[^"\\]|\\.)*)","id":"(?:[^"\\]|\\.)*"\}/g;

/**
 * The shape of a request serialised by `JSON.stringify`: every id of a `freeIdTypes` entity
 * blanked. Equal for two requests that differ only in such ids, and so equally fit (or not)
 * the schema. Ids of other types (enumerated entities, actions, anything undeclared) and every
 * other value are kept; a uid written any other way keeps its id, which can only split shapes.
 */
export function shapeKey(serialised: string, freeIdTypes: ReadonlySet<string>): string {
  return serialised.replace(SERIALISED_UID, (uid: string, type: string) => (freeIdTypes.has(type) ? `{"type":"${type}","id":""}` : uid));
}

/** What one action's decisions send Cedar besides the request's own entities. */
export interface EvaluationPlan {
  policySetId: string;
  /** The attribute names the slice reads; every other entity attribute is left out. */
  attributes: ReadonlySet<string>;
  /** The action entities the slice consults, each with all its groups as parents. */
  actionEntities: readonly EntityJson[];
  /** The entities the slice's policies name, serialised as `JSON.stringify({ type, id })`: their ids keep their text in a decision class. */
  named: ReadonlySet<string>;
}

/** The plan for `action`'s slice: `actionType` is the qualified action entity type, `groups` every action's groups. */
export function evaluationPlan(action: string, slice: PolicySlice, actions: { type: string; groups: Readonly<Record<string, readonly string[]>> }): EvaluationPlan {
  const consulted = new Set(slice.actionLiterals);
  if (slice.readsAction) consulted.add(action);
  const actionEntities = [...consulted].sort().map((id) => ({
    uid: { type: actions.type, id },
    attrs: {},
    parents: (actions.groups[id] ?? []).map((g) => ({ type: actions.type, id: g })),
  }));
  return { policySetId: slice.policySetId, attributes: new Set(slice.attributes), actionEntities, named: new Set(slice.entityLiterals) };
}

/** The request as the plan's slice observes it: its entities with only the attributes the slice reads. */
export function observedCall(call: CedarCall, plan: EvaluationPlan): CedarCall {
  const entities: EntityJson[] = [];
  for (const e of call.entities) {
    const attrs: EntityJson['attrs'] = {};
    for (const [name, value] of Object.entries(e.attrs)) if (plan.attributes.has(name)) attrs[name] = value;
    entities.push(e.tags === undefined ? { uid: e.uid, attrs, parents: e.parents } : { uid: e.uid, attrs, parents: e.parents, tags: e.tags });
  }
  return { action: call.action, principal: call.principal, resource: call.resource, context: call.context, entities };
}

/** The request's entities with only the attributes the plan's slice reads, then the action entities it consults. */
export function evaluationEntities(call: CedarCall, plan: EvaluationPlan): EntityJson[] {
  return [...observedCall(call, plan).entities, ...plan.actionEntities];
}

/**
 * The decision class of an observed request (see the top of this file), as a string: the
 * request serialised with each id of a `freeIdTypes` entity that is not in `named` replaced by
 * `#n`, n counting distinct uids in order of first appearance, and each id in `named` by `=id`,
 * so no renamed id can pose as one a policy names. Uids are found where Cedar reads them — the
 * principal, the resource, each entity's uid and parents, `__entity` values in attributes and
 * the context, at any depth — never in other values (a record with `type` and `id` strings is a
 * record). Ids of other types (enumerated values, actions) and every other value stay as they
 * are. Two requests share a class exactly when one is the other with such ids renamed one-to-one.
 */
export function decisionClass(observed: CedarCall, freeIdTypes: ReadonlySet<string>, named: ReadonlySet<string>): string {
  const renamed = new Map<string, string>();
  const rename = (u: EntityUidJson): EntityUidJson => {
    const { type, id } = '__entity' in u ? u.__entity : u;
    if (!freeIdTypes.has(type)) return { type, id };
    const key = JSON.stringify({ type, id });
    if (named.has(key)) return { type, id: `=${id}` };
    let placeholder = renamed.get(key);
    if (placeholder === undefined) renamed.set(key, (placeholder = `#${renamed.size}`));
    return { type, id: placeholder };
  };
  const value = (v: CedarValueJson): CedarValueJson => {
    if (v === null || typeof v !== 'object') return v;
    if (Array.isArray(v)) return v.map(value);
    if ('__entity' in v) return { __entity: rename(v as EntityUidJson) as { type: string; id: string } };
    if ('__extn' in v) return v;
    const out: Record<string, CedarValueJson> = {};
    for (const [k, x] of Object.entries(v)) out[k] = value(x as CedarValueJson);
    return out;
  };
  const attrs = (a: Record<string, CedarValueJson>): Record<string, CedarValueJson> => value(a) as Record<string, CedarValueJson>;
  return JSON.stringify({
    action: observed.action,
    principal: rename(observed.principal),
    resource: rename(observed.resource),
    context: attrs(observed.context as Record<string, CedarValueJson>),
    entities: observed.entities.map((e) => ({ uid: rename(e.uid), attrs: attrs(e.attrs), parents: e.parents.map(rename), ...(e.tags === undefined ? {} : { tags: attrs(e.tags) }) })),
  });
}
