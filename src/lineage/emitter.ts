import { setTimeout as wait } from 'node:timers/promises';
import type { LineageConfig } from '../core/index.js';
import { checkOpenLineageEvent } from './openlineage-validation.js';

/**
 * OpenLineage out, best effort: events about Assay's own jobs go to a configured consumer
 * (`lineage.emitUrl`) in the background. `emit` only queues, so the business transaction that
 * produced the event never waits for, or fails because of, the consumer. Each event is checked
 * against the bundled official schemas before it is queued; it is then POSTed with Node's
 * built-in fetch (undici), one at a time and in order (a run's START before its COMPLETE),
 * retried a bounded number of times on network errors, timeouts, 429 and 5xx. Redirects are
 * not followed: fetch turns a POST answered 301/302/303 into a bodiless GET whose 200 would
 * count an event as sent that the consumer never received, and a 307/308 would carry the
 * event (dataset names, schemas, classifications) to whatever host it names. A redirect is a
 * failure naming its Location, for the operator to fix `lineage.emitUrl`.
 */

/** Anything that logs; pino fits. */
export interface EmitterLogger {
  warn(details: Record<string, unknown>, message: string): void;
  error(details: Record<string, unknown>, message: string): void;
}

/** Options of `createLineageEmitter`. */
export interface LineageEmitterOptions {
  /** The consumer's lineage endpoint, e.g. `http://marquez:5000/api/v1/lineage`. */
  url: string;
  /** Sent as a bearer token. */
  apiKey?: string;
  /** One attempt's time limit. @default 5000 */
  timeoutMs?: number;
  /** Attempts after the first. @default 3 */
  maxRetries?: number;
  /** Wait before retry n is `retryDelayMs · 2^(n-1)`. @default 250 */
  retryDelayMs?: number;
  /** Events waiting to be sent; past it new events are dropped (and logged). @default 1000 */
  maxQueue?: number;
  /**
   * Bytes of events waiting to be sent; past it new events are dropped (and logged). An event
   * carries each dataset's schema, so a thousand events about wide tables could otherwise hold
   * hundreds of megabytes while the consumer is down. @default 32 MiB
   */
  maxQueueBytes?: number;
  logger?: EmitterLogger;
}

/** What `emit` did with an event. */
export type EmitOutcome = 'queued' | 'invalid' | 'dropped';

/** Counters since the emitter was created. */
export interface EmitterStats {
  sent: number;
  /** Given up on: refused by the consumer (4xx), redirected, or still failing after every retry. */
  failed: number;
  /** Refused before queueing: not valid against the schemas. */
  invalid: number;
  /** Refused before queueing: the queue was full. */
  dropped: number;
  /** Queued or being sent when `close` gave up on them (a shutdown). */
  abandoned: number;
}

/** A background sender of OpenLineage events. */
export interface LineageEmitter {
  /** Queues `event` and returns at once; never throws. */
  emit(event: unknown): EmitOutcome;
  /** Resolves once every event queued so far has been sent or given up on. */
  flush(): Promise<void>;
  /**
   * Flushes for at most `ms`, then abandons what is still queued or being sent (the request is
   * aborted): counted in `stats.abandoned` and logged (`lineage.emit.abandoned`), so a shutdown
   * never hangs on a dead consumer and never loses events unseen. Later events are dropped.
   * Resolves with the number abandoned.
   */
  close(ms: number): Promise<number>;
  readonly stats: Readonly<EmitterStats>;
  /** Events queued or being sent now. */
  readonly pending: number;
}

const retryable = (status: number): boolean => status === 429 || status >= 500;

/** Creates an emitter for one consumer. */
export function createLineageEmitter(options: LineageEmitterOptions): LineageEmitter {
  const timeoutMs = options.timeoutMs ?? 5000;
  const maxRetries = options.maxRetries ?? 3;
  const retryDelayMs = options.retryDelayMs ?? 250;
  const maxQueue = options.maxQueue ?? 1000;
  const maxQueueBytes = options.maxQueueBytes ?? 32 * 1024 * 1024;
  const log = options.logger;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.apiKey) headers.authorization = `Bearer ${options.apiKey}`;

  const stats: EmitterStats = { sent: 0, failed: 0, invalid: 0, dropped: 0, abandoned: 0 };
  const queue: string[] = [];
  let draining: Promise<void> | undefined;
  let sending = 0;
  let queuedBytes = 0;
  // Aborted by `close`: the request in flight and any wait before a retry end at once.
  const stop = new AbortController();

  /** One event, with retries; resolves whatever happens. */
  async function deliver(body: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      let problem: string;
      let again: boolean;
      try {
        const res = await fetch(options.url, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), stop.signal]) });
        if (res.ok) {
          await res.body?.cancel();
          stats.sent++;
          return;
        }
        if (res.status >= 300 && res.status < 400) {
          await res.body?.cancel();
          problem = `HTTP ${res.status} redirect to ${(res.headers.get('location') ?? '(no location)').slice(0, 200)} not followed: lineage.emitUrl must name the consumer's endpoint itself`;
          again = false;
        } else {
          problem = `HTTP ${res.status}: ${(await res.text()).slice(0, 200)}`;
          again = retryable(res.status);
        }
      } catch (err) {
        problem = (err as Error).message;
        again = true;
      }
      if (stop.signal.aborted) {
        stats.abandoned++;
        return;
      }
      if (!again || attempt >= maxRetries) {
        stats.failed++;
        log?.error({ event: 'lineage.emit.failed', url: options.url, attempts: attempt + 1, problem }, 'OpenLineage event not delivered');
        return;
      }
      try {
        await wait(retryDelayMs * 2 ** attempt, undefined, { signal: stop.signal });
      } catch {
        stats.abandoned++;
        return;
      }
    }
  }

  async function drain(): Promise<void> {
    for (let body = queue.shift(); body !== undefined; body = queue.shift()) {
      queuedBytes -= Buffer.byteLength(body);
      sending = 1;
      await deliver(body);
      sending = 0;
    }
    draining = undefined;
  }

  async function flush(): Promise<void> {
    while (draining) await draining;
  }

  return {
    stats,
    get pending() {
      return queue.length + sending;
    },
    emit(event) {
      const check = checkOpenLineageEvent(event, 'event');
      if (!check.ok) {
        stats.invalid++;
        log?.error({ event: 'lineage.emit.invalid', issues: check.issues }, 'OpenLineage event refused: not valid against the schema');
        return 'invalid';
      }
      const body = JSON.stringify(event);
      const bytes = Buffer.byteLength(body);
      if (queue.length >= maxQueue || queuedBytes + bytes > maxQueueBytes || stop.signal.aborted) {
        stats.dropped++;
        log?.warn({ event: 'lineage.emit.dropped', queued: queue.length, queuedBytes, bytes, closed: stop.signal.aborted }, 'OpenLineage event dropped: the send queue is full, or the emitter closed');
        return 'dropped';
      }
      queue.push(body);
      queuedBytes += bytes;
      draining ??= drain();
      return 'queued';
    },
    flush,
    async close(ms) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([flush(), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
      clearTimeout(timer);
      const before = stats.abandoned;
      stats.abandoned += queue.length;
      queue.length = 0;
      queuedBytes = 0;
      stop.abort();
      // The request in flight, if any, ends now: as sent if its answer came first, else abandoned.
      await flush();
      const abandoned = stats.abandoned - before;
      if (abandoned > 0) log?.error({ event: 'lineage.emit.abandoned', url: options.url, abandoned, waitedMs: ms }, 'OpenLineage events not delivered before shutdown');
      return abandoned;
    },
  };
}

/** The emitter `config.lineage` asks for, or undefined when no `emitUrl` is set. */
export function lineageEmitterFromConfig(config: LineageConfig, logger?: EmitterLogger): LineageEmitter | undefined {
  if (!config.emitUrl) return undefined;
  return createLineageEmitter({
    url: config.emitUrl,
    timeoutMs: config.emitTimeoutMs,
    maxRetries: config.emitMaxRetries,
    ...(config.emitApiKey ? { apiKey: config.emitApiKey } : {}),
    ...(logger ? { logger } : {}),
  });
}
