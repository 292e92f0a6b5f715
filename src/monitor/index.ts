/**
 * Monitor: what operators watch. Today the Prometheus metrics of a server process (audit log
 * health, autonomy boundary violations, process metrics); drift, alerts and the scorecard
 * arrive with serving.
 */
export { createMetrics, type AssayMetrics, type MetricsOptions } from './metrics.js';
