import { isAssayError, wholeNumberText } from '../core/index.js';
import type { z } from 'zod';

/**
 * A whole number sent as text in a path or query string (core's `wholeNumberText`: decimal
 * digits, no leading zero). The OpenAPI document shows an integer with its bounds, as clients
 * should send it.
 */
export function decimalInteger(bounds: { min: number; max: number; message?: string }) {
  return wholeNumberText(bounds).meta({ type: 'integer', minimum: bounds.min, maximum: bounds.max });
}

/** A part of the request a route validates, with its zod schema. */
export type RequestSchemas = { params?: z.ZodType; query?: z.ZodType; body?: z.ZodType };

const REQUEST_PARTS = ['body', 'query', 'params'] as const;
const NAMES_A_PART = /^(params|query|body|headers|path)(\.|$)/;

/** The top-level field names a request schema accepts (objects, through optional, pipes, unions and intersections). */
function topLevelFields(schema: z.ZodType | undefined): Set<string> {
  const out = new Set<string>();
  const visit = (s: z.core.$ZodType | undefined): void => {
    if (!s) return;
    const def = s._zod.def as unknown as Record<string, unknown> & { type: string };
    if (def.type === 'object') for (const k of Object.keys(def.shape as object)) out.add(k);
    else if (def.type === 'pipe') visit(def.in as z.core.$ZodType);
    else if (def.type === 'union') for (const o of def.options as z.core.$ZodType[]) visit(o);
    else if (def.type === 'intersection') [def.left, def.right].forEach((o) => visit(o as z.core.$ZodType));
    else if ('innerType' in def) visit(def.innerType as z.core.$ZodType);
  };
  visit(schema);
  return out;
}

/**
 * `err` with each bare field (`name`, `scopes.0`, `sha256`), as a domain module names its
 * inputs, named as the client sent it (`body.name`, `params.sha256`): the part of the request
 * whose schema has that top-level field, body first. The domain does not know where a value
 * came from; the route's schemas do. Fields naming a part already, or no field of the request,
 * are left as they are.
 */
export function namedAsRequested(err: unknown, request: RequestSchemas): unknown {
  if (!isAssayError(err) || err.errors.length === 0) return err;
  const parts = REQUEST_PARTS.map((part) => ({ part, fields: topLevelFields(request[part]) }));
  let changed = false;
  const errors = err.errors.map((e) => {
    if (NAMES_A_PART.test(e.field)) return e;
    const head = e.field.split('.')[0]!;
    const part = parts.find((p) => p.fields.has(head))?.part;
    if (!part) return e;
    changed = true;
    return { ...e, field: `${part}.${e.field}` };
  });
  // In place: the same error, class and message, so the status and the detail are unchanged.
  if (changed) err.errors.splice(0, err.errors.length, ...errors);
  return err;
}
