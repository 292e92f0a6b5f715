import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import ajvFormats from 'ajv-formats';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { buildOpenApi, PROBLEM_CONTENT_TYPE, type RouteSpec } from '../../src/api/index.js';

/**
 * Holds every answer an in-process app gives to the OpenAPI document it publishes: a client
 * generated from `/api/v1/openapi.json` must be able to read what the server really sends. A
 * status a route does not declare (other than a problem), a body its declared JSON Schema
 * refuses, or a problem that is not RFC 9457 problem+json is a violation, reported by
 * `assertConforming` (the test app calls it when it closes, so every suite checks it).
 */
export interface ResponseConformance {
  violations: string[];
  assertConforming(): void;
}

type JsonSchema = Record<string, unknown>;
interface Operation {
  responses: Record<string, { content?: Record<string, { schema?: JsonSchema }> }>;
}

/** Adds an onSend hook to `app` (before it is ready) checking each answer of `routes` against their OpenAPI document. */
export function checkResponsesAgainstOpenApi(app: FastifyInstance, routes: RouteSpec[]): ResponseConformance {
  const doc = buildOpenApi(routes, { version: 'test' }) as { paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, JsonSchema> } };
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  ajvFormats.default(ajv);
  ajv.addSchema({ $id: 'openapi.json', components: doc.components });
  const validators = new Map<JsonSchema, ValidateFunction>();
  const validatorOf = (schema: JsonSchema): ValidateFunction => {
    let v = validators.get(schema);
    if (!v) {
      // Component references resolve against the document's components.
      const text = JSON.stringify(schema).replaceAll('"#/components/', '"openapi.json#/components/');
      v = ajv.compile(JSON.parse(text) as JsonSchema);
      validators.set(schema, v);
    }
    return v;
  };
  const violations: string[] = [];
  const problem = { $ref: '#/components/schemas/Problem' };
  const check = (where: string, schema: JsonSchema, payload: string): void => {
    const validate = validatorOf(schema);
    if (validate(JSON.parse(payload))) return;
    const issues = (validate.errors ?? []).slice(0, 5).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`);
    violations.push(`${where}: body does not match the declared schema: ${issues.join('; ')}`);
  };

  app.addHook('onSend', async (req: FastifyRequest, reply, payload) => {
    const path = req.routeOptions.url;
    const op = path ? doc.paths[path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')]?.[req.method.toLowerCase()] : undefined;
    const status = reply.statusCode;
    const contentType = String(reply.getHeader('content-type') ?? '').split(';')[0]!.trim();
    const where = `${req.method} ${path ?? req.url} → ${status}`;
    const declared = op?.responses[String(status)];
    if (status >= 400 && (!declared || contentType === PROBLEM_CONTENT_TYPE)) {
      if (contentType !== PROBLEM_CONTENT_TYPE) violations.push(`${where}: answered ${contentType || 'no content type'}, not ${PROBLEM_CONTENT_TYPE}`);
      else if (typeof payload === 'string') check(where, problem, payload);
      return payload;
    }
    if (!op) return payload;
    if (!declared) {
      violations.push(`${where}: status not declared (declared: ${Object.keys(op.responses).join(', ')})`);
      return payload;
    }
    const media = Object.entries(declared.content ?? {}).find(([type]) => type.split(';')[0]!.trim() === contentType)?.[1];
    if (declared.content && !media) {
      violations.push(`${where}: answered ${contentType || 'no content type'}, declared ${Object.keys(declared.content).join(', ')}`);
      return payload;
    }
    if (!media?.schema || contentType !== 'application/json' || typeof payload !== 'string') return payload;
    check(where, media.schema, payload);
    return payload;
  });

  return {
    violations,
    assertConforming() {
      if (violations.length > 0) {
        const distinct = [...new Set(violations)];
        throw new Error(`answers that break the published OpenAPI document (${distinct.length}):\n${distinct.join('\n')}`);
      }
    },
  };
}
