import type { TransactionOptions } from './types.js';

const RETRYABLE = new Set(['40001', '40P01']);

/** True for serialisation failures and deadlocks, which a transaction may simply re-run. */
export function isRetryable(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && RETRYABLE.has(code);
}

/** Runs `attempt` and re-runs it on retryable errors with jittered backoff, per `options`. */
export async function withRetries<T>(options: TransactionOptions, attempt: () => Promise<T>): Promise<T> {
  const retries = options.retries ?? (options.isolation === 'serializable' ? 5 : 0);
  for (let n = 0; ; n++) {
    try {
      return await attempt();
    } catch (err) {
      if (n >= retries || !isRetryable(err)) throw err;
      await new Promise((r) => setTimeout(r, Math.random() * 5 * 2 ** n));
    }
  }
}

/** The `BEGIN` statement for the requested isolation. */
export function beginStatement(options: TransactionOptions): string {
  return `BEGIN ISOLATION LEVEL ${(options.isolation ?? 'read committed').toUpperCase()}`;
}
