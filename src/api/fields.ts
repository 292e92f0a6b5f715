import { z } from 'zod';
import { AssayError, isAssayError } from '../core/index.js';

/**
 * A whole number sent as text in a path or query string: decimal digits only, then bounded.
 * `z.coerce.number()` would take `0x10`, `1e3`, ` 5 ` and `5.0` as numbers, so one version or
 * count could be written many ways and a slip such as `1e3` would be read as 1000, not refused.
 * The OpenAPI document shows an integer with its bounds, as clients should send it.
 */
export function decimalInteger(bounds: { min: number; max: number; message?: string }) {
  const { min, max } = bounds;
  const range = bounds.message ?? `an integer from ${min} to ${max}`;
  return z
    .string()
    .regex(/^[0-9]+$/, `${range}, in decimal digits only`)
    .transform(Number)
    // Digits only, so the number is whole: one issue for one too large, not "not an integer" too.
    .pipe(z.number().min(min, range).max(max, range))
    .meta({ type: 'integer', minimum: min, maximum: max });
}

/**
 * Runs a domain call whose refusals name its inputs bare (`end`, `size`) and names them as the
 * client sent them (`query.end`): the domain does not know where a value came from, the route
 * does. Fields already naming a part of the request are left as they are.
 */
export async function namedAsSent<T>(part: 'params' | 'query' | 'body', work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (!isAssayError(err) || err.errors.length === 0) throw err;
    const prefixed = err.errors.map((e) => (/^(params|query|body|headers)(\.|$)/.test(e.field) ? e : { ...e, field: `${part}.${e.field}` }));
    throw new AssayError(err.code, err.message, { errors: prefixed, cause: err });
  }
}
