import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Conflict, NotFound, ValidationFailed } from '../../src/core/index.js';
import { namedAsRequested } from '../../src/api/fields.js';

/**
 * A domain module names its inputs bare (`name`, `scopes.0`); the route knows which part of the
 * request each came in. Over the real route schemas the HTTP tests (principals, audit payloads)
 * check the answers; here each schema shape a route declares is walked.
 */
describe('namedAsRequested', () => {
  const fields = (err: unknown): string[] => (err as ValidationFailed).errors.map((e) => e.field);

  it('names a bare field after the part whose schema has it, body first, and leaves what it cannot place', () => {
    const request = {
      params: z.object({ id: z.string() }),
      query: z.object({ reason: z.string().optional(), limit: z.string() }),
      body: z.strictObject({ name: z.string(), reason: z.string(), token: z.object({ scopes: z.array(z.string()) }).optional() }),
    };
    const err = new ValidationFailed('bad', [
      { field: 'name', message: 'x' },
      { field: 'reason', message: 'x' },
      { field: 'limit', message: 'x' },
      { field: 'id', message: 'x' },
      { field: 'token.scopes.1', message: 'x' },
      { field: 'body.name', message: 'already named' },
      { field: 'headers.content-type', message: 'already named' },
      { field: 'principalId', message: 'no field of the request' },
    ]);
    const out = namedAsRequested(err, request);
    expect(out).toBe(err);
    expect(out).toBeInstanceOf(ValidationFailed);
    expect(fields(out)).toEqual(['body.name', 'body.reason', 'query.limit', 'params.id', 'body.token.scopes.1', 'body.name', 'headers.content-type', 'principalId']);
    expect((out as ValidationFailed).message).toBe('bad');
  });

  it('sees through optional, default, transforms, unions and intersections', () => {
    const body = z
      .union([z.object({ a: z.string() }), z.intersection(z.object({ b: z.string() }), z.object({ c: z.string() }))])
      .optional()
      .transform((v) => v);
    const withDefault = z.object({ d: z.number() }).default({ d: 1 });
    const err = new Conflict('taken', [
      { field: 'a', message: 'x' },
      { field: 'b', message: 'x' },
      { field: 'c', message: 'x' },
      { field: 'd', message: 'x' },
    ]);
    expect(fields(namedAsRequested(err, { body, query: withDefault }))).toEqual(['body.a', 'body.b', 'body.c', 'query.d']);
  });

  it('passes through errors without fields and anything that is not an Assay error', () => {
    const plain = new Error('boom');
    expect(namedAsRequested(plain, { body: z.object({ name: z.string() }) })).toBe(plain);
    const missing = new NotFound('principal', 'prn_x');
    expect(namedAsRequested(missing, { params: z.object({ id: z.string() }) })).toBe(missing);
    expect(missing.errors).toEqual([]);
  });
});
