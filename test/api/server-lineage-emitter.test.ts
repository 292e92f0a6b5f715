import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../src/api/index.js';
import { initHome } from '../../src/cli/commands/init.js';
import { loadConfig } from '../../src/core/index.js';

/**
 * The server's OpenLineage emitter, as `assay server` wires it: what it did is on /metrics, and
 * what a shutdown leaves undelivered is logged. The consumer (Marquez in production, which
 * cannot run here) is a loopback receiver that never answers.
 */
describe('the server reports what its OpenLineage emitter could not deliver', () => {
  const hanging: ServerResponse[] = [];
  const consumer = createServer((req, res) => {
    req.resume();
    hanging.push(res);
  });
  let home: string;
  beforeAll(async () => {
    await new Promise<void>((resolve) => consumer.listen(0, '127.0.0.1', resolve));
    home = mkdtempSync(join(tmpdir(), 'assay-server-emitter-'));
  });
  afterAll(async () => {
    for (const res of hanging) res.destroy();
    await new Promise<void>((resolve) => consumer.close(() => resolve()));
    rmSync(home, { recursive: true, force: true });
  });

  it('counts queued events on /metrics, and logs those a shutdown abandons', async () => {
    const emitUrl = `http://127.0.0.1:${(consumer.address() as AddressInfo).port}/api/v1/lineage`;
    writeFileSync(join(home, 'config.json'), JSON.stringify({ lineage: { emitUrl, emitTimeoutMs: 100, emitMaxRetries: 10 } }));
    const config = loadConfig({ env: { ASSAY_HOME: home, ASSAY_LOG_LEVEL: 'silent', ASSAY_HOST: '127.0.0.1', ASSAY_PORT: '0' }, cwd: home });
    await initHome(config);
    const token = readFileSync(config.paths.adminToken, 'utf8').trim();
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const server = await startServer({ config, logger: pino({ level: 'info' }, sink) });
    let closed = false;
    try {
      const auth = { authorization: `Bearer ${token}` };
      const created = await fetch(`${server.url}/api/v1/principals`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'steward', kind: 'human', roles: ['data-steward'], attributes: {}, token: { name: 'initial' } }),
      });
      const steward = (await created.json()) as { id: string; token: string };
      expect(created.status, JSON.stringify(steward)).toBe(201);
      const ingested = await fetch(`${server.url}/api/v1/datasets/loans/versions?sourceSystem=core-banking&classification=internal&owner=${steward.id}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${steward.token}`, 'content-type': 'text/csv' },
        body: 'id,amount\n1,10\n2,20\n',
      });
      expect(ingested.status, await ingested.text()).toBe(201);
      // START is held open by the consumer, then retried after growing waits; COMPLETE waits behind it.
      const metrics = await (await fetch(`${server.url}/metrics`, { headers: auth })).text();
      expect(metrics).toMatch(/^assay_lineage_emit_queue_length [12]$/m);
      expect(metrics).toMatch(/^assay_lineage_emit_events_total\{outcome="sent"\} 0$/m);
      await server.close();
      closed = true;
      // START and COMPLETE: the first waits for a retry (or is in flight), the second behind it.
      expect(lines.filter((l) => l.event === 'lineage.emit.failed')).toEqual([]);
      expect(lines.find((l) => l.event === 'lineage.emit.abandoned')).toMatchObject({ abandoned: 2, url: emitUrl });
    } finally {
      if (!closed) await server.close();
    }
  });
});
