import { ValidationFailed } from '../core/index.js';

/**
 * Runs a domain call whose refusals name its inputs bare (`end`, `size`) and names them as the
 * client sent them (`query.end`): the domain does not know where a value came from, the route
 * does. Fields already naming a part of the request are left as they are.
 */
export async function namedAsSent<T>(part: 'params' | 'query' | 'body', work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (!(err instanceof ValidationFailed)) throw err;
    const prefixed = err.errors.map((e) => (/^(params|query|body|headers)(\.|$)/.test(e.field) ? e : { ...e, field: `${part}.${e.field}` }));
    throw new ValidationFailed(err.message, prefixed);
  }
}
