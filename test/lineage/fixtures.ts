import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openLineageSchemas, type FacetPosition } from '../../src/lineage/index.js';

/**
 * OpenLineage test material, read from the copies in test/fixtures/openlineage (the OpenLineage
 * project's own examples, Apache-2.0, see the README there): never from outside the repository.
 */

export const FIXTURES = fileURLToPath(new URL('../fixtures/openlineage/', import.meta.url));

type Json = Record<string, unknown>;

/** One example facet file: `{"<key>": {facet}}`, named after the facet schema it exemplifies. */
export interface FacetExample {
  /** e.g. `SchemaDatasetFacet/1.json`. */
  label: string;
  /** The facet schema's name, e.g. `SchemaDatasetFacet`. */
  schema: string;
  key: string;
  facet: Json;
}

/** Every facet example of the fixtures, in a stable order. */
export function facetExamples(): FacetExample[] {
  const out: FacetExample[] = [];
  for (const dir of readdirSync(FIXTURES, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort()) {
    for (const file of readdirSync(join(FIXTURES, dir)).filter((f) => f.endsWith('.json')).sort()) {
      const doc = JSON.parse(readFileSync(join(FIXTURES, dir, file), 'utf8')) as Json;
      const [key, ...rest] = Object.keys(doc);
      if (!key || rest.length > 0) throw new Error(`${dir}/${file}: expected exactly one facet`);
      out.push({ label: `${dir}/${file}`, schema: dir, key, facet: doc[key] as Json });
    }
  }
  return out;
}

/** The OpenLineage project's full example RunEvent. */
export function exampleFullEvent(): Json {
  return JSON.parse(readFileSync(join(FIXTURES, 'example_full_event.json'), 'utf8')) as Json;
}

/**
 * The position a facet example belongs in: the one its schema file declares. A facet valid in
 * two positions (`subset`: input or output) goes where its own `_schemaURL` says.
 */
export function positionOf(example: FacetExample): FacetPosition {
  const schemas = openLineageSchemas();
  const positions = (Object.keys(schemas.facets) as FacetPosition[]).filter((p) => schemas.facets[p].get(example.key)?.file === `${example.schema}.json`);
  if (positions.length === 1) return positions[0]!;
  const url = String(example.facet._schemaURL ?? '');
  const byUrl = positions.find((p) => (p === 'job' && /Job/.test(url)) || (p === 'dataset' && /Dataset(Facet)?$/.test(url)) || (p === 'input' && /Input/.test(url)) || (p === 'output' && /Output/.test(url)));
  if (!byUrl) throw new Error(`${example.label}: cannot place a facet valid in ${positions.join(', ')}`);
  return byUrl;
}

let runCounter = 0;

/** A fresh, valid RunEvent (a new runId each call) of `job` reading `input` and writing `output`. */
export function runEvent(options: { job?: string; input?: string; output?: string; namespace?: string; outputNamespace?: string } = {}): Json {
  runCounter++;
  const ns = options.namespace ?? 'tests';
  return {
    eventType: 'COMPLETE',
    eventTime: '2030-01-02T03:04:05.678Z',
    producer: 'https://example.com/tests',
    schemaURL: 'https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent',
    run: { runId: `00000000-0000-4000-8000-${String(runCounter).padStart(12, '0')}`, facets: {} },
    job: { namespace: ns, name: options.job ?? 'job.a', facets: {} },
    inputs: [{ namespace: 'warehouse', name: options.input ?? 'in.table', facets: {}, inputFacets: {} }],
    outputs: [{ namespace: options.outputNamespace ?? 'warehouse', name: options.output ?? 'out.table', facets: {}, outputFacets: {} }],
  };
}

/** A DatasetEvent about `namespace`/`name` with `facets`. */
export function datasetEvent(namespace: string, name: string, facets: Json = {}): Json {
  return {
    eventTime: '2030-01-05T00:00:00.000Z',
    producer: 'https://example.com/tests',
    schemaURL: 'https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetEvent',
    dataset: { namespace, name, facets },
  };
}

/** Where in a run event a facet of `position` goes, as a path of keys and indexes. */
export const FACET_PATH: Record<FacetPosition, Array<string | number>> = {
  run: ['run', 'facets'],
  job: ['job', 'facets'],
  dataset: ['outputs', 0, 'facets'],
  input: ['inputs', 0, 'inputFacets'],
  output: ['outputs', 0, 'outputFacets'],
};

/** `event` with `facet` placed under `key` at `position` (a deep copy; the example is untouched). */
export function withFacet(event: Json, placed: { position: FacetPosition; key: string; facet: unknown }): Json {
  const copy = structuredClone(event);
  let target = copy as Record<string | number, unknown>;
  for (const step of FACET_PATH[placed.position]) target = target[step] as Record<string | number, unknown>;
  target[placed.key] = structuredClone(placed.facet);
  return copy;
}

/** Paths (key lists) of every property of every object inside `value`, outermost first. */
export function propertyPaths(value: unknown, prefix: Array<string | number> = []): Array<Array<string | number>> {
  if (Array.isArray(value)) return value.flatMap((v, i) => propertyPaths(v, [...prefix, i]));
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([k, v]) => [[...prefix, k], ...propertyPaths(v, [...prefix, k])]);
}

/** A deep copy of `value` without the property at `path`. */
export function without(value: unknown, path: ReadonlyArray<string | number>): unknown {
  const copy = structuredClone(value) as Record<string | number, unknown>;
  let target = copy;
  for (const step of path.slice(0, -1)) target = target[step] as Record<string | number, unknown>;
  const last = path.at(-1)!;
  if (Array.isArray(target)) target.splice(Number(last), 1);
  else delete target[last];
  return copy;
}
