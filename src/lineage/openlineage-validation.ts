import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import { plainTextIssue, type FieldIssue } from '../core/index.js';
import type { OpenLineageEvent } from './openlineage-event.js';
import { EVENT_KINDS, openLineageSchemas, type EventKind, type FacetPosition, type OpenLineageSchemas } from './openlineage-schemas.js';

/**
 * Checks one OpenLineage event against the official schemas: the core schema (as the kind
 * the event says it is), then every standard facet against its own facet schema, then the
 * limits of what Assay stores. Every problem is named by its path from `base`
 * (`body.run.runId`, `body.3.inputs.0.facets.schema.fields.1.name`).
 */

/** The outcome: the typed event and its kind, or the bad fields. */
export type EventCheck = { ok: true; kind: EventKind; event: OpenLineageEvent } | { ok: false; issues: FieldIssue[] };

/** Deepest nesting accepted: far beyond any real facet, and well inside every parser's stack. */
export const MAX_EVENT_DEPTH = 64;
/** Byte limits of a namespace and a name (the database keys on them). */
export const MAX_NAMESPACE_BYTES = 500;
export const MAX_NAME_BYTES = 1500;
/** Bad fields reported per event; the first few are enough to fix a producer. */
const MAX_ISSUES = 5;

const COMBINATORS = new Set(['anyOf', 'oneOf', 'allOf', 'not', 'if', 'then', 'else']);

type Segment = string | number;
const join = (base: string, segments: readonly Segment[]): string => [base, ...segments.map(String)].join('.');
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `/run/facets/a~1b` → ['run', 'facets', 'a/b'] (RFC 6901 unescaping). */
function pointerSegments(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** ajv's errors as field issues: the most specific ones (not the combinators that wrap them), deepest first. */
function issuesOf(errors: readonly ErrorObject[] | null | undefined, base: string, prefix: readonly Segment[] = []): FieldIssue[] {
  const all = errors ?? [];
  const specific = all.filter((e) => !COMBINATORS.has(e.keyword));
  const chosen = (specific.length > 0 ? specific : all).map((e) => {
    const segments: Segment[] = [...prefix, ...pointerSegments(e.instancePath)];
    const params = e.params as { missingProperty?: string; additionalProperty?: string };
    if (e.keyword === 'required' && params.missingProperty) segments.push(params.missingProperty);
    if (e.keyword === 'additionalProperties' && params.additionalProperty) segments.push(params.additionalProperty);
    return { depth: segments.length, issue: { field: join(base, segments), message: e.message ?? `fails ${e.keyword}` } };
  });
  chosen.sort((a, b) => b.depth - a.depth);
  const seen = new Set<string>();
  const out: FieldIssue[] = [];
  for (const { issue } of chosen) {
    if (seen.has(issue.field)) continue;
    seen.add(issue.field);
    out.push(issue);
  }
  return out.slice(0, MAX_ISSUES);
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * What cannot be stored or hashed, found before the schema sees it: U+0000 in a string or a key
 * (PostgreSQL text and jsonb refuse it), a lone surrogate or a number too large for a double
 * (neither has canonical JSON), and nesting past MAX_EVENT_DEPTH. Walks iteratively.
 */
function unstorable(value: unknown, base: string): FieldIssue | undefined {
  const stack: Array<{ v: unknown; path: Segment[] }> = [{ v: value, path: [] }];
  while (stack.length > 0) {
    const { v, path } = stack.pop()!;
    if (path.length > MAX_EVENT_DEPTH) return { field: join(base, path), message: `nested deeper than ${MAX_EVENT_DEPTH} levels` };
    if (typeof v === 'string') {
      if (v.includes('\u0000')) return { field: join(base, path), message: 'must not contain U+0000' };
      if (LONE_SURROGATE.test(v)) return { field: join(base, path), message: 'must not contain a lone UTF-16 surrogate (no UTF-8 form)' };
    } else if (typeof v === 'number') {
      if (!Number.isFinite(v)) return { field: join(base, path), message: 'must be a finite number' };
    } else if (Array.isArray(v)) {
      v.forEach((item, i) => stack.push({ v: item, path: [...path, i] }));
    } else if (isObject(v)) {
      for (const [k, item] of Object.entries(v)) {
        if (k.includes('\u0000') || LONE_SURROGATE.test(k)) return { field: join(base, path), message: 'keys must not contain U+0000 or a lone surrogate' };
        stack.push({ v: item, path: [...path, k] });
      }
    }
  }
  return undefined;
}

/**
 * The kind an event means to be: the one its `schemaURL` points at (…OpenLineage.json#/$defs/RunEvent,
 * or the older #/definitions/RunEvent), else the one its shape suggests. Without this, a RunEvent
 * missing `run.runId` would be reported against all three kinds at once.
 */
function intendedKind(e: Record<string, unknown>): EventKind {
  const named = typeof e.schemaURL === 'string' ? /(RunEvent|DatasetEvent|JobEvent)$/.exec(e.schemaURL)?.[1] : undefined;
  if (named && (EVENT_KINDS as readonly string[]).includes(named)) return named as EventKind;
  if ('run' in e) return 'RunEvent';
  if ('dataset' in e && !('job' in e)) return 'DatasetEvent';
  if ('job' in e) return 'JobEvent';
  return 'RunEvent';
}

/** What the kinds exclude, said plainly (the schema's `not` would only say "must NOT be valid"). */
function kindConflict(kind: EventKind, e: Record<string, unknown>, base: string): FieldIssue | undefined {
  if (kind === 'JobEvent' && 'run' in e) return { field: join(base, ['run']), message: 'a JobEvent has no run; send a RunEvent' };
  if (kind === 'DatasetEvent' && 'run' in e && 'job' in e) return { field: join(base, ['run']), message: 'a DatasetEvent has no run and job; send a RunEvent' };
  return undefined;
}

/** Every facets object of an event, with its position and path. */
function facetGroups(e: OpenLineageEvent): Array<{ position: FacetPosition; facets: unknown; path: Segment[] }> {
  const groups: Array<{ position: FacetPosition; facets: unknown; path: Segment[] }> = [];
  if (e.run?.facets) groups.push({ position: 'run', facets: e.run.facets, path: ['run', 'facets'] });
  if (e.job?.facets) groups.push({ position: 'job', facets: e.job.facets, path: ['job', 'facets'] });
  if (e.dataset?.facets) groups.push({ position: 'dataset', facets: e.dataset.facets, path: ['dataset', 'facets'] });
  for (const side of ['inputs', 'outputs'] as const) {
    (e[side] ?? []).forEach((d, i) => {
      if (d.facets) groups.push({ position: 'dataset', facets: d.facets, path: [side, i, 'facets'] });
      if (side === 'inputs' && d.inputFacets) groups.push({ position: 'input', facets: d.inputFacets, path: [side, i, 'inputFacets'] });
      if (side === 'outputs' && d.outputFacets) groups.push({ position: 'output', facets: d.outputFacets, path: [side, i, 'outputFacets'] });
    });
  }
  return groups;
}

/**
 * Standard facets against their own schemas, matched by name and position. Custom facets
 * (any other name) have only the core schema's BaseFacet to meet. A deletion marker
 * (`_deleted: true`) carries no body, so only the core schema applies to it.
 */
function facetIssues(schemas: OpenLineageSchemas, e: OpenLineageEvent, base: string): FieldIssue[] {
  const out: FieldIssue[] = [];
  for (const group of facetGroups(e)) {
    if (!isObject(group.facets)) continue;
    for (const [key, facet] of Object.entries(group.facets)) {
      const schema = schemas.facets[group.position].get(key);
      if (!schema || (isObject(facet) && facet._deleted === true)) continue;
      if (!schema.validate({ [key]: facet })) out.push(...issuesOf(schema.validate.errors, base, group.path));
      if (out.length >= MAX_ISSUES) return out.slice(0, MAX_ISSUES);
    }
  }
  return out;
}

/**
 * What is wrong with an OpenLineage namespace and name (of a dataset or job) as the graph keys
 * on them, each issue under its field in `fields`: 1 to MAX_NAMESPACE_BYTES and 1 to
 * MAX_NAME_BYTES bytes, and no control or bidirectional formatting character. Namespaces and
 * names become graph nodes, go into the audit entry and reach terminals (an erasure request
 * lists the tables by name): an ESC sequence, a line break or a right-to-left override there
 * would forge or reorder what an examiner reads (core/text.ts).
 */
export function openLineageNameIssues(v: { namespace: string; name: string }, fields: { namespace: string; name: string }): FieldIssue[] {
  const out: FieldIssue[] = [];
  const ns = Buffer.byteLength(v.namespace);
  if (ns < 1 || ns > MAX_NAMESPACE_BYTES) out.push({ field: fields.namespace, message: `must be 1 to ${MAX_NAMESPACE_BYTES} bytes` });
  const n = Buffer.byteLength(v.name);
  if (n < 1 || n > MAX_NAME_BYTES) out.push({ field: fields.name, message: `must be 1 to ${MAX_NAME_BYTES} bytes` });
  for (const key of ['namespace', 'name'] as const) {
    const issue = plainTextIssue(v[key]);
    if (issue) out.push({ field: fields[key], message: issue });
  }
  return out;
}

/** Names longer than the graph can key on or holding what may not become evidence, and times PostgreSQL cannot store. */
function storageIssues(e: OpenLineageEvent, base: string): FieldIssue[] {
  const out: FieldIssue[] = [];
  const named: Array<{ v: { namespace: string; name: string }; path: Segment[] }> = [];
  if (e.job) named.push({ v: e.job, path: ['job'] });
  if (e.dataset) named.push({ v: e.dataset, path: ['dataset'] });
  for (const side of ['inputs', 'outputs'] as const) (e[side] ?? []).forEach((d, i) => named.push({ v: d, path: [side, i] }));
  const parentJob = (e.run?.facets?.parent as { job?: { namespace?: unknown; name?: unknown } } | undefined)?.job;
  if (typeof parentJob?.namespace === 'string' && typeof parentJob.name === 'string') {
    named.push({ v: { namespace: parentJob.namespace, name: parentJob.name }, path: ['run', 'facets', 'parent', 'job'] });
  }
  for (const { v, path } of named) out.push(...openLineageNameIssues(v, { namespace: join(base, [...path, 'namespace']), name: join(base, [...path, 'name']) }));
  // The schema's date-time is RFC 3339, which allows a leap second (23:59:60) that no Date holds
  // (an invalid Date's year is NaN); the database's timestamps hold years 1 to 9999.
  const year = new Date(e.eventTime).getUTCFullYear();
  if (!(year >= 1 && year <= 9999)) out.push({ field: join(base, ['eventTime']), message: 'must be a date-time this server can hold: years 1 to 9999 in UTC, no leap second (:60)' });
  return out;
}

/** Checks one event; `base` is the path of the event in the request (`body`, `body.2`). */
export function checkOpenLineageEvent(value: unknown, base: string, schemas: OpenLineageSchemas = openLineageSchemas()): EventCheck {
  if (!isObject(value)) return { ok: false, issues: [{ field: base, message: 'must be an OpenLineage RunEvent, DatasetEvent or JobEvent object' }] };
  const bad = unstorable(value, base);
  if (bad) return { ok: false, issues: [bad] };
  const kind = intendedKind(value);
  const conflict = kindConflict(kind, value, base);
  if (conflict) return { ok: false, issues: [conflict] };
  const asKind: ValidateFunction = schemas.kinds[kind];
  if (!asKind(value)) return { ok: false, issues: issuesOf(asKind.errors, base) };
  if (!schemas.event(value)) return { ok: false, issues: issuesOf(schemas.event.errors, base) };
  const event = value as unknown as OpenLineageEvent;
  const issues = [...facetIssues(schemas, event, base), ...storageIssues(event, base)];
  return issues.length > 0 ? { ok: false, issues: issues.slice(0, MAX_ISSUES) } : { ok: true, kind, event };
}
