import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { auditStatus } from '../audit/index.js';
import type { Queryable } from '../store/index.js';

/**
 * Prometheus metrics of one server process. Each process has its own registry (never
 * prom-client's global one), so several apps in one process — tests, embedded use — never
 * share or double-register series. Gauges that describe shared state (the audit log) are read
 * from the database at scrape time, so every replica reports the same truth.
 */

/** The metrics a process exposes at `/metrics`, and the instruments the domain updates. */
export interface AssayMetrics {
  readonly registry: Registry;
  /** `assay_autonomy_boundary_violations_total{kind}`: kinds are autonomy's `BoundaryViolationKind`. */
  readonly autonomyBoundaryViolations: Counter<'kind'>;
  /** The Prometheus text exposition of every metric. */
  exposition(): Promise<string>;
}

/** Options of `createMetrics`. */
export interface MetricsOptions {
  /** Where the audit log's gauges are read at scrape time. */
  db: Queryable;
  /** The policy engine whose decisions `assay_policy_decisions_total{path}` counts. */
  policy?: { decisionCounts(): Readonly<Record<string, number>> };
  /** The OpenLineage emitter whose outcomes `assay_lineage_emit_events_total{outcome}` counts. */
  lineageEmitter?: { readonly stats: Readonly<Record<string, number>>; readonly pending: number };
  /** Adds Node's process metrics (CPU, memory, event loop lag) under `assay_process_…`. @default true */
  processMetrics?: boolean;
}

/** A fresh registry with Assay's metrics. */
export function createMetrics(options: MetricsOptions): AssayMetrics {
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'assay_' });
  const autonomyBoundaryViolations = new Counter({
    name: 'assay_autonomy_boundary_violations_total',
    help: 'Actions an agent or application attempted outside its autonomy bounds (an approval missing, rejected, expired, reused or for something else).',
    labelNames: ['kind'],
    registers: [registry],
  });
  registerAuditGauges(registry, options.db);
  if (options.policy) registerPolicyDecisions(registry, options.policy);
  if (options.lineageEmitter) registerLineageEmitter(registry, options.lineageEmitter);
  return { registry, autonomyBoundaryViolations, exposition: () => registry.metrics() };
}

/** Authorization decisions by the path that answered them, read from the engine at scrape time. */
function registerPolicyDecisions(registry: Registry, policy: NonNullable<MetricsOptions['policy']>): void {
  new Counter({
    name: 'assay_policy_decisions_total',
    help: 'Authorization decisions by path: cached (the same request before), class (a request differing only in ids no policy names), evaluated (Cedar).',
    labelNames: ['path'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [path, n] of Object.entries(policy.decisionCounts())) this.inc({ path }, n);
    },
  });
}

/**
 * What became of the OpenLineage events this process emitted, and how many wait: the emitter
 * never fails the job that emitted, so an alert on `failed`, `dropped` or `abandoned` is how an
 * operator learns the consumer (Marquez, DataHub) is missing lineage.
 */
function registerLineageEmitter(registry: Registry, emitter: NonNullable<MetricsOptions['lineageEmitter']>): void {
  new Counter({
    name: 'assay_lineage_emit_events_total',
    help: 'OpenLineage events about Assay jobs by outcome: sent, failed (refused, redirected or out of retries), invalid (against the schema), dropped (queue full), abandoned (queued at shutdown).',
    labelNames: ['outcome'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [outcome, n] of Object.entries(emitter.stats)) this.inc({ outcome }, n);
    },
  });
  new Gauge({
    name: 'assay_lineage_emit_queue_length',
    help: 'OpenLineage events queued or being sent to the configured consumer.',
    registers: [registry],
    collect() {
      this.set(emitter.pending);
    },
  });
}

/** Sequencer lag, checkpoint age, log size and queue length, read in one statement per scrape. */
function registerAuditGauges(registry: Registry, db: Queryable): void {
  // One read per scrape shared by the four gauges: prom-client collects them one after another.
  let inFlight: ReturnType<typeof auditStatus> | undefined;
  const status = (): ReturnType<typeof auditStatus> => {
    inFlight ??= auditStatus(db).finally(() => setImmediate(() => (inFlight = undefined)));
    return inFlight;
  };
  const gauge = (name: string, help: string, read: (s: Awaited<ReturnType<typeof auditStatus>>) => number | null): void => {
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        // An absent value (no checkpoint yet) is NaN rather than a made-up zero: an alert on
        // `> threshold` stays quiet, and nobody reads a fresh checkpoint into it.
        this.set(read(await status()) ?? Number.NaN);
      },
    });
  };
  gauge('assay_audit_log_size', 'Entries sequenced into the audit log Merkle tree.', (s) => s.size);
  gauge('assay_audit_pending_entries', 'Committed audit entries waiting to be sequenced.', (s) => s.pending);
  gauge('assay_audit_sequencer_lag_seconds', 'Age of the oldest committed audit entry not yet sequenced (0 when none).', (s) => s.sequencerLagSeconds);
  gauge('assay_audit_checkpoint_age_seconds', 'Age of the newest signed checkpoint; NaN before the first.', (s) => s.checkpointAgeSeconds);
}
