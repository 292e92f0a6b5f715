import { AssayError, isAssayError, wholeNumberText } from '../core/index.js';

/**
 * A whole number sent as text in a path or query string (core's `wholeNumberText`: decimal
 * digits, no leading zero). The OpenAPI document shows an integer with its bounds, as clients
 * should send it.
 */
export function decimalInteger(bounds: { min: number; max: number; message?: string }) {
  return wholeNumberText(bounds).meta({ type: 'integer', minimum: bounds.min, maximum: bounds.max });
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
