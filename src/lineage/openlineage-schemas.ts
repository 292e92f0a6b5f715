import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { Ajv2020, type AnySchemaObject, type ValidateFunction } from 'ajv/dist/2020.js';
import ajvFormats from 'ajv-formats';

/**
 * The official OpenLineage JSON Schemas (specification 2-0-2, bundled in `openlineage/` with
 * their licence), compiled once with ajv (draft 2020-12). Every file is registered under its
 * own `$id`, so the schemas' absolute `$ref`s resolve to the bundled copies and nothing is
 * fetched at run time.
 */

/** Where the bundled schemas live (copied to dist/ by scripts/copy-assets.mjs). */
export const OPENLINEAGE_SCHEMA_DIR = fileURLToPath(new URL('./openlineage/', import.meta.url));

/** The `$id` of the core schema. */
export const OPENLINEAGE_SCHEMA_ID = 'https://openlineage.io/spec/2-0-2/OpenLineage.json';

/** The three kinds of event. */
export const EVENT_KINDS = ['RunEvent', 'DatasetEvent', 'JobEvent'] as const;
/** A kind of OpenLineage event. */
export type EventKind = (typeof EVENT_KINDS)[number];

/** Where a facet sits in an event, named after the core schema's facet definitions. */
export const FACET_POSITIONS = ['run', 'job', 'dataset', 'input', 'output'] as const;
/** A facet position. */
export type FacetPosition = (typeof FACET_POSITIONS)[number];

const POSITION_OF_DEF: Record<string, FacetPosition> = {
  RunFacet: 'run',
  JobFacet: 'job',
  DatasetFacet: 'dataset',
  InputDatasetFacet: 'input',
  OutputDatasetFacet: 'output',
};

/** One standard facet: the file it comes from, validating `{[key]: facet}`. */
export interface FacetSchema {
  key: string;
  file: string;
  id: string;
  validate: ValidateFunction;
}

/** The compiled schemas. */
export interface OpenLineageSchemas {
  /** The core schema as published: one of RunEvent, DatasetEvent, JobEvent. */
  event: ValidateFunction;
  /** Each kind alone, so an invalid event is reported against the kind it meant to be. */
  kinds: Record<EventKind, ValidateFunction>;
  /** Standard facets by position, then by key. */
  facets: Record<FacetPosition, ReadonlyMap<string, FacetSchema>>;
  /** Every registered `$id`. */
  ids: readonly string[];
}

type Json = Record<string, unknown>;

const readJson = (file: string): Json => JSON.parse(readFileSync(file, 'utf8')) as Json;

/**
 * The positions a facet definition may take: the core facet definitions it builds on, found
 * through its `allOf`/`anyOf`/`oneOf` branches and the file's own `#/$defs/…` references (not
 * through its properties, which describe nested values).
 */
function positionsOf(schema: Json, file: Json, seen = new Set<Json>()): Set<FacetPosition> {
  const out = new Set<FacetPosition>();
  if (seen.has(schema)) return out;
  seen.add(schema);
  const ref = schema.$ref;
  if (typeof ref === 'string') {
    const core = /OpenLineage\.json#\/\$defs\/(\w+)$/.exec(ref);
    const local = /^#\/\$defs\/(\w+)$/.exec(ref);
    const position = core ? POSITION_OF_DEF[core[1]!] : undefined;
    if (position) out.add(position);
    const target = local ? (file.$defs as Record<string, Json> | undefined)?.[local[1]!] : undefined;
    if (target) for (const p of positionsOf(target, file, seen)) out.add(p);
  }
  for (const branch of ['allOf', 'anyOf', 'oneOf'] as const) {
    const list = schema[branch];
    if (Array.isArray(list)) for (const s of list as Json[]) for (const p of positionsOf(s, file, seen)) out.add(p);
  }
  return out;
}

function emptyFacetTable(): Record<FacetPosition, Map<string, FacetSchema>> {
  return { run: new Map(), job: new Map(), dataset: new Map(), input: new Map(), output: new Map() };
}

/** Loads and compiles the bundled schemas; throws if a file is missing, malformed or ambiguous. */
export function compileOpenLineageSchemas(dir: string = OPENLINEAGE_SCHEMA_DIR): OpenLineageSchemas {
  // Not strict: the official files carry annotation keywords of their own (`example`,
  // `documentation`…) that ajv would otherwise refuse; they never change what validates.
  const ajv = new Ajv2020({ strict: false, allErrors: false, validateFormats: true });
  // ajv-formats is CommonJS: its `module.exports` is the plugin and also carries it as `.default`,
  // which is the one spelling TypeScript (NodeNext) and Node agree on.
  ajvFormats.default(ajv);

  const core = readJson(join(dir, 'OpenLineage.json'));
  if (core.$id !== OPENLINEAGE_SCHEMA_ID) throw new Error(`bundled OpenLineage.json has $id ${String(core.$id)}, expected ${OPENLINEAGE_SCHEMA_ID}`);
  ajv.addSchema(core as AnySchemaObject);
  const facetDir = join(dir, 'facets');
  const files = readdirSync(facetDir).filter((f) => f.endsWith('.json')).sort();
  const loaded = files.map((f) => ({ file: f, schema: readJson(join(facetDir, f)) }));
  for (const { schema } of loaded) ajv.addSchema(schema as AnySchemaObject);

  const facets = emptyFacetTable();
  for (const { file, schema } of loaded) {
    const id = String(schema.$id);
    const validate = ajv.getSchema(id);
    if (!validate) throw new Error(`facet schema ${file} did not compile`);
    for (const [key, property] of Object.entries((schema.properties ?? {}) as Record<string, Json>)) {
      const positions = positionsOf(property, schema);
      if (positions.size === 0) throw new Error(`facet schema ${file}: cannot tell where facet "${key}" goes`);
      for (const position of positions) {
        const clash = facets[position].get(key);
        if (clash) throw new Error(`facet "${key}" (${position}) is defined by both ${clash.file} and ${file}`);
        facets[position].set(key, { key, file, id, validate });
      }
    }
  }
  const event = ajv.getSchema(OPENLINEAGE_SCHEMA_ID);
  if (!event) throw new Error('OpenLineage.json did not compile');
  const kinds = Object.fromEntries(EVENT_KINDS.map((k) => [k, ajv.compile({ $ref: `${OPENLINEAGE_SCHEMA_ID}#/$defs/${k}` })])) as Record<EventKind, ValidateFunction>;
  return { event, kinds, facets, ids: [OPENLINEAGE_SCHEMA_ID, ...loaded.map((l) => String(l.schema.$id))] };
}

let shared: OpenLineageSchemas | undefined;

/** The bundled schemas, compiled on first use and then shared by the whole process. */
export function openLineageSchemas(): OpenLineageSchemas {
  shared ??= compileOpenLineageSchemas();
  return shared;
}
