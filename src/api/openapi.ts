import { z } from 'zod';
import { PROBLEM_CONTENT_TYPE } from './problem.js';
import type { RouteSpec } from './route.js';

type JsonSchema = Record<string, unknown>;

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any', override: io === 'input' ? keepIntegerDefault : undefined }) as JsonSchema;
  return rest;
}

/**
 * A decimal integer parameter (src/api/fields.ts) parses its text through a transform, so zod
 * leaves its default out of the input schema; documented as an integer, its default is one.
 */
function keepIntegerDefault(ctx: { zodSchema: z.core.$ZodTypes; jsonSchema: z.core.JSONSchema.BaseSchema }): void {
  const def = ctx.zodSchema._zod.def;
  if (def.type === 'default' && ctx.jsonSchema.type === 'integer' && ctx.jsonSchema.default === undefined) ctx.jsonSchema.default = def.defaultValue as number;
}

function parameters(schema: z.ZodType | undefined, where: 'path' | 'query'): JsonSchema[] {
  if (!schema) return [];
  const s = jsonSchema(schema, 'input') as { properties?: Record<string, JsonSchema>; required?: string[] };
  return Object.entries(s.properties ?? {}).map(([name, prop]) => ({
    name,
    in: where,
    required: where === 'path' || (s.required ?? []).includes(name),
    schema: prop,
    ...(typeof prop.description === 'string' ? { description: prop.description } : {}),
  }));
}

const problemSchema: JsonSchema = {
  type: 'object',
  required: ['type', 'title', 'status', 'detail', 'code', 'requestId'],
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    instance: { type: 'string' },
    code: { type: 'string' },
    requestId: { type: 'string' },
    correlationId: { type: 'string' },
    errors: {
      type: 'array',
      items: { type: 'object', required: ['field', 'detail'], properties: { field: { type: 'string' }, detail: { type: 'string' } } },
    },
  },
};

/** The OpenAPI 3.1 document of a route table, generated from the schemas that validate requests. */
export function buildOpenApi(routes: RouteSpec[], info: { version: string }): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const r of routes) {
    const path = r.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const responses: Record<string, JsonSchema> = {};
    for (const [status, spec] of Object.entries(r.responses)) {
      const body = spec.schema ? { schema: jsonSchema(spec.schema, 'output') } : spec.binary ? { schema: { type: 'string', format: 'binary' } } : {};
      responses[status] = {
        description: spec.description,
        ...(spec.headers ? { headers: Object.fromEntries(Object.entries(spec.headers).map(([name, h]) => [name, { description: h.description, schema: { type: h.type } }])) } : {}),
        ...(spec.schema || spec.contentType ? { content: { [spec.contentType ?? 'application/json']: body } } : {}),
      };
    }
    const errorRef = { description: 'problem details (RFC 9457)', content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: '#/components/schemas/Problem' } } } };
    if (r.request.body || r.request.query || r.request.params) responses['400'] ??= errorRef;
    if (r.auth === 'token') responses['401'] ??= errorRef;
    responses.default ??= errorRef;
    (paths[path] ??= {})[r.method.toLowerCase()] = {
      operationId: r.operationId,
      summary: r.summary,
      tags: r.tags,
      security: r.auth === 'token' ? [{ bearerAuth: [] }] : [],
      parameters: [...parameters(r.request.params, 'path'), ...parameters(r.request.query, 'query')],
      ...(r.request.body
        ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(r.request.body, 'input') } } } }
        : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Assay API',
      version: info.version,
      description: 'On-prem AI factory: governed data, certified models, traceable inference.',
    },
    servers: [{ url: '/' }],
    paths,
    components: {
      securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'Assay API token (assay_…)' } },
      schemas: { Problem: problemSchema },
    },
  };
}
