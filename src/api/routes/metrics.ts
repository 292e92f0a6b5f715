import { on } from '../authorize.js';
import { defineRoute } from '../route.js';

/** The Prometheus text format version prom-client writes. */
const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export const metricsRoutes = [
  defineRoute({
    method: 'GET',
    path: '/metrics',
    operationId: 'getMetrics',
    summary:
      'Prometheus text exposition: audit log size, pending entries, sequencer lag and checkpoint age (read from the database at scrape time), autonomy boundary violations, process metrics.',
    tags: ['monitoring'],
    auth: 'token',
    authorize: on.platform,
    request: {},
    responses: { 200: { description: 'metrics', contentType: EXPOSITION_CONTENT_TYPE } },
    handler: async ({ deps }) => ({ text: await deps.metrics.exposition(), contentType: EXPOSITION_CONTENT_TYPE }),
  }),
];
