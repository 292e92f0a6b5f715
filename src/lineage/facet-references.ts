import type { Classification } from '../policy/index.js';
import type { Queryable } from '../store/index.js';
import { normalRunId } from './openlineage-merge.js';
import { EXTERNAL_NODE_TYPES } from './vocabulary.js';

/**
 * References in facets to other lineage nodes, withheld from a viewer who may not see them.
 * A graph answer leaves out the nodes a viewer may not see without naming them; the facets of
 * the nodes it does show must not name them either. OpenLineage names a dataset or job by an
 * object holding `namespace` and `name`, and a run by its job's `namespace` with its `runId`:
 * column lineage (`fields.*.inputFields[]`, `dataset[]`), symlinks, a lifecycle change's
 * previous identifier, the lineage facet's entries and inputs, parent and root runs, job
 * dependencies. Every object of that shape counts, in any facet, so a custom facet that
 * follows the spec's convention is covered too.
 *
 * Such a reference is replaced by `{"withheld": true}` when an OpenLineage node of that
 * namespace and name exists in a classification the viewer may not see (the same `visible`
 * list the walk uses); for a run (`{run: {runId}, job: {namespace, name}}`) both halves go
 * when the job or the run is hidden. What is nested in a withheld reference goes with it
 * (a column-lineage input's field name and transformations, forwarded parent facets). A
 * reference to a node Assay does not know is shown as sent: nothing classified it, and
 * reported it would be `internal`, which every reader sees.
 */

/** What replaces a reference the viewer may not see. */
export const WITHHELD_REFERENCE = Object.freeze({ withheld: true });

type Json = unknown;
type JsonObject = Record<string, Json>;

const isObject = (v: Json): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `namespace` and `name` of an OpenLineage node, as one map key. */
const pairKey = (namespace: string, name: string): string => JSON.stringify([namespace, name]);

/** The nodes one object names itself (not its children): a dataset or job, and its run when it gives a `runId`. */
function ownReferences(o: JsonObject): string[] {
  if (typeof o.namespace !== 'string' || typeof o.name !== 'string') return [];
  const keys = [pairKey(o.namespace, o.name)];
  if (typeof o.runId === 'string') keys.push(pairKey(o.namespace, normalRunId(o.runId)));
  return keys;
}

/** A run named as `{run: {runId}, job: {namespace, name}}`: the run's node (its namespace is its job's). */
function runReference(o: JsonObject): string | undefined {
  const { run, job } = o;
  if (!isObject(run) || !isObject(job) || typeof run.runId !== 'string' || typeof job.namespace !== 'string') return undefined;
  return pairKey(job.namespace, normalRunId(run.runId));
}

/** Every node reference inside `value`, as pair keys, into `out`. */
function collect(value: Json, out: Set<string>): void {
  if (Array.isArray(value)) {
    for (const v of value) collect(v, out);
    return;
  }
  if (!isObject(value)) return;
  for (const k of ownReferences(value)) out.add(k);
  const run = runReference(value);
  if (run) out.add(run);
  for (const v of Object.values(value)) collect(v, out);
}

/** The node references inside any of `documents` (facets or attributes), as pair keys. */
export function referencesIn(documents: Iterable<Json>): Set<string> {
  const out = new Set<string>();
  for (const d of documents) collect(d, out);
  return out;
}

/**
 * Of `references` (pair keys from `referencesIn`), those naming an OpenLineage dataset, job or
 * run in a classification outside `visible`: one indexed read.
 */
export async function hiddenReferences(db: Queryable, references: ReadonlySet<string>, visible: readonly Classification[]): Promise<Set<string>> {
  if (references.size === 0) return new Set();
  const pairs = [...references].map((k) => JSON.parse(k) as [string, string]);
  const r = await db.query<{ namespace: string; name: string }>(
    `SELECT DISTINCT n.namespace, n.name
       FROM unnest($1::text[], $2::text[]) AS r(namespace, name)
       CROSS JOIN unnest($3::text[]) AS t(type)
       JOIN lineage_nodes n ON (n.type, n.namespace, n.name) = (t.type, r.namespace, r.name)
      WHERE NOT (n.classification = ANY ($4::text[]))`,
    [pairs.map((p) => p[0]), pairs.map((p) => p[1]), EXTERNAL_NODE_TYPES, visible],
  );
  return new Set(r.rows.map((row) => pairKey(row.namespace, row.name)));
}

/** `value` with every reference in `hidden` replaced by `WITHHELD_REFERENCE` (a copy; `value` is untouched). */
export function withoutHidden<T extends Json>(value: T, hidden: ReadonlySet<string>): T {
  if (hidden.size === 0) return value;
  return redact(value, hidden) as T;
}

function redact(value: Json, hidden: ReadonlySet<string>): Json {
  if (Array.isArray(value)) return value.map((v) => redact(v, hidden));
  if (!isObject(value)) return value;
  if (ownReferences(value).some((k) => hidden.has(k))) return { ...WITHHELD_REFERENCE };
  const run = runReference(value);
  const runHidden = run !== undefined && (hidden.has(run) || ownReferences(value.job as JsonObject).some((k) => hidden.has(k)));
  // fromEntries defines own properties, so a key spelled __proto__ stays data.
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, runHidden && (k === 'run' || k === 'job') ? { ...WITHHELD_REFERENCE } : redact(v, hidden)]));
}
