import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hashCanonical, loadConfig, type ConfigInvalid } from '../../src/core/index.js';
import {
  assayRunEvent,
  checkOpenLineageEvent,
  createLineageEmitter,
  lineageEmitterFromConfig,
  openLineageRunId,
  type EmitterLogger,
  type LineageGraph,
  type OpenLineageEvent,
} from '../../src/lineage/index.js';
import { createPrincipalWithToken, createTestApp, type TestApp } from '../support/app.js';
import { eachBackend } from '../support/databases.js';
import { upload } from '../data/support.js';

/**
 * OpenLineage out: the emitter against a real HTTP receiver on a loopback port (standing in
 * for Marquez, which cannot run here), and against Assay's own ingestion endpoint.
 */

interface Received {
  headers: IncomingMessage['headers'];
  body: unknown;
}

/** A receiver that answers each request with the next status of `script` (the last one repeats), or never answers (`'hang'`). */
async function receiver(script: Array<number | 'hang'>): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const hanging: ServerResponse[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      const step = script[Math.min(received.length - 1, script.length - 1)]!;
      if (step === 'hang') hanging.push(res);
      else res.writeHead(step, { 'content-type': 'application/json' }).end(step < 300 ? '' : '{"error":"nope"}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/api/v1/lineage`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function capturingLogger(): EmitterLogger & { lines: Array<{ level: string; details: Record<string, unknown> }> } {
  const lines: Array<{ level: string; details: Record<string, unknown> }> = [];
  return { lines, warn: (details) => lines.push({ level: 'warn', details }), error: (details) => lines.push({ level: 'error', details }) };
}

const event = (assayRunId = 'run_01J00000000000000000000001', eventType: 'START' | 'COMPLETE' = 'COMPLETE') =>
  assayRunEvent({
    namespace: 'assay',
    job: 'dataset.ingest',
    assayRunId,
    eventType,
    eventTime: new Date('2030-05-06T07:08:09.000Z'),
    inputs: [{ namespace: 'file', name: '/data/german_credit.csv' }],
    outputs: [{ namespace: 'assay', name: 'dsv_01J000000000000000000000GC' }],
  });

describe('assayRunEvent', () => {
  it('is valid against the official schema, with a stable UUID run id per Assay run', () => {
    expect(checkOpenLineageEvent(event(), 'event')).toMatchObject({ ok: true, kind: 'RunEvent' });
    const id = openLineageRunId('run_01J00000000000000000000001');
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(openLineageRunId('run_01J00000000000000000000001')).toBe(id);
    expect(openLineageRunId('run_01J00000000000000000000002')).not.toBe(id);
    expect(event().run).toMatchObject({ runId: id, facets: { assay: { runId: 'run_01J00000000000000000000001' } } });
  });
});

describe('lineage emitter', () => {
  const open: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    for (const r of open.splice(0)) await r.close();
  });
  const start = async (script: Array<number | 'hang'>) => {
    const r = await receiver(script);
    open.push(r);
    return r;
  };

  it('sends each event once, in order, as JSON with the API key', async () => {
    const r = await start([200]);
    const emitter = createLineageEmitter({ url: r.url, apiKey: 'k-123' });
    expect(emitter.emit(event('run_A', 'START'))).toBe('queued');
    expect(emitter.emit(event('run_A', 'COMPLETE'))).toBe('queued');
    await emitter.flush();
    expect(r.received.map((x) => (x.body as { eventType: string }).eventType)).toEqual(['START', 'COMPLETE']);
    expect(r.received[0]!.body).toEqual(JSON.parse(JSON.stringify(event('run_A', 'START'))));
    expect(r.received[0]!.headers).toMatchObject({ authorization: 'Bearer k-123', 'content-type': 'application/json' });
    expect(emitter.stats).toEqual({ sent: 2, failed: 0, invalid: 0, dropped: 0, abandoned: 0 });
  });

  it('returns at once, whatever the consumer does: the caller never waits for delivery', async () => {
    const r = await start(['hang']);
    const emitter = createLineageEmitter({ url: r.url, timeoutMs: 200, maxRetries: 0 });
    let settled = false;
    const outcome = emitter.emit(event());
    void emitter.flush().then(() => (settled = true));
    expect(outcome).toBe('queued');
    // emit has returned while the request is still unanswered.
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    await emitter.flush();
    expect(emitter.stats.failed).toBe(1);
  });

  it('retries network trouble, timeouts, 429 and 5xx a bounded number of times', async () => {
    const r = await start([503, 429, 200]);
    const emitter = createLineageEmitter({ url: r.url, maxRetries: 3, retryDelayMs: 5 });
    emitter.emit(event());
    await emitter.flush();
    expect(r.received).toHaveLength(3);
    expect(emitter.stats).toMatchObject({ sent: 1, failed: 0 });

    const down = await start([500]);
    const log = capturingLogger();
    const stubborn = createLineageEmitter({ url: down.url, maxRetries: 2, retryDelayMs: 5, logger: log });
    stubborn.emit(event());
    await stubborn.flush();
    expect(down.received).toHaveLength(3);
    expect(stubborn.stats).toMatchObject({ sent: 0, failed: 1 });
    expect(log.lines).toEqual([{ level: 'error', details: expect.objectContaining({ event: 'lineage.emit.failed', attempts: 3 }) }]);

    const slow = await start(['hang', 200]);
    const patient = createLineageEmitter({ url: slow.url, timeoutMs: 150, maxRetries: 1, retryDelayMs: 5 });
    patient.emit(event());
    await patient.flush();
    expect(slow.received).toHaveLength(2);
    expect(patient.stats).toMatchObject({ sent: 1, failed: 0 });
  });

  it('does not retry what the consumer refuses (4xx other than 429)', async () => {
    const r = await start([400]);
    const emitter = createLineageEmitter({ url: r.url, maxRetries: 3, retryDelayMs: 5 });
    emitter.emit(event());
    await emitter.flush();
    expect(r.received).toHaveLength(1);
    expect(emitter.stats.failed).toBe(1);
  });

  it('follows no redirect: the event is neither counted as sent nor carried elsewhere', async () => {
    const elsewhere = await start([200]);
    for (const status of [301, 302, 303, 307, 308]) {
      const redirecting = createServer((req, res) => {
        req.resume();
        req.on('end', () => res.writeHead(status, { location: elsewhere.url.replace('127.0.0.1', 'localhost') }).end());
      });
      await new Promise<void>((resolve) => redirecting.listen(0, '127.0.0.1', resolve));
      open.push({ close: () => new Promise<void>((resolve) => redirecting.close(() => resolve())) });
      const log = capturingLogger();
      const emitter = createLineageEmitter({ url: `http://127.0.0.1:${(redirecting.address() as AddressInfo).port}/api/v1/lineage`, maxRetries: 2, retryDelayMs: 5, logger: log });
      emitter.emit(event());
      await emitter.flush();
      expect(emitter.stats, `HTTP ${status}`).toMatchObject({ sent: 0, failed: 1 });
      expect(log.lines).toEqual([{ level: 'error', details: expect.objectContaining({ event: 'lineage.emit.failed', attempts: 1, problem: expect.stringContaining(`HTTP ${status} redirect to ${elsewhere.url.replace('127.0.0.1', 'localhost')}`) }) }]);
    }
    expect(elsewhere.received).toHaveLength(0);
  });

  it('gives up quietly on an unreachable consumer', async () => {
    const r = await receiver([200]);
    await r.close();
    const emitter = createLineageEmitter({ url: r.url, maxRetries: 1, retryDelayMs: 5, timeoutMs: 500 });
    expect(emitter.emit(event())).toBe('queued');
    await emitter.flush();
    expect(emitter.stats).toMatchObject({ sent: 0, failed: 1 });
  });

  it('refuses an event the schema refuses, and drops events past the queue bound, without throwing', async () => {
    const r = await start(['hang', 200]);
    const log = capturingLogger();
    const emitter = createLineageEmitter({ url: r.url, maxQueue: 1, timeoutMs: 200, maxRetries: 0, logger: log });
    const bad = { ...event(), run: { runId: 'not-a-uuid' } };
    expect(emitter.emit(bad)).toBe('invalid');
    expect(log.lines[0]).toMatchObject({ level: 'error', details: { event: 'lineage.emit.invalid', issues: [{ field: 'event.run.runId' }] } });
    expect(emitter.emit(event('run_1'))).toBe('queued'); // taken by the sender at once
    expect(emitter.emit(event('run_2'))).toBe('queued'); // waits
    expect(emitter.emit(event('run_3'))).toBe('dropped');
    await emitter.flush();
    expect(r.received).toHaveLength(2);
    expect(emitter.stats).toEqual({ sent: 1, failed: 1, invalid: 1, dropped: 1, abandoned: 0 });
  });

  it('bounds the queue in bytes too: an event about a wide table that would pass the bound is dropped, smaller ones still queue', async () => {
    const r = await start(['hang']);
    const log = capturingLogger();
    const small = (id: string) => event(id);
    const size = Buffer.byteLength(JSON.stringify(small('run_1')));
    const emitter = createLineageEmitter({ url: r.url, maxQueueBytes: 3 * size, timeoutMs: 60_000, maxRetries: 0, logger: log });
    const wide = assayRunEvent({
      namespace: 'assay',
      job: 'dataset.ingest/genomics',
      assayRunId: 'run_W',
      eventType: 'COMPLETE',
      eventTime: new Date('2030-05-06T07:08:09.000Z'),
      outputs: [{ namespace: 'assay', name: 'genomics', facets: { schema: { _producer: 'urn:test', _schemaURL: 'https://openlineage.io/spec/facets/1-2-0/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet', fields: Array.from({ length: 200 }, (_, i) => ({ name: `snp_${i}`, type: 'BIGINT' })) } } }],
    });
    expect(emitter.emit(small('run_1'))).toBe('queued'); // taken by the sender at once
    expect(emitter.emit(small('run_2'))).toBe('queued');
    expect(emitter.emit(small('run_3'))).toBe('queued');
    expect(emitter.emit(wide)).toBe('dropped');
    expect(emitter.emit(small('run_4'))).toBe('queued');
    expect(emitter.emit(small('run_5'))).toBe('dropped');
    expect(emitter.stats).toMatchObject({ dropped: 2 });
    expect(log.lines[0]).toMatchObject({ level: 'warn', details: { event: 'lineage.emit.dropped', queued: 2 } });
    await emitter.close(10);
    expect(emitter.stats).toMatchObject({ dropped: 2, abandoned: 4 });
  });

  it('on close, abandons within its time what the consumer has not taken, counted and logged, never silently', async () => {
    const r = await start(['hang']);
    const log = capturingLogger();
    const emitter = createLineageEmitter({ url: r.url, timeoutMs: 60_000, maxRetries: 0, logger: log });
    for (const id of ['run_1', 'run_2', 'run_3']) emitter.emit(event(id));
    expect(emitter.pending).toBe(3);
    // The consumer holds the first request open: nothing can be delivered before close gives up.
    await expect(emitter.close(50)).resolves.toBe(3);
    expect(emitter.stats).toMatchObject({ sent: 0, failed: 0, abandoned: 3 });
    expect(emitter.pending).toBe(0); // the request in flight was aborted
    expect(log.lines).toEqual([{ level: 'error', details: expect.objectContaining({ event: 'lineage.emit.abandoned', abandoned: 3, waitedMs: 50 }) }]);
    expect(emitter.emit(event('run_4'))).toBe('dropped');

    // A wait before a retry ends too: close never outlives its time by a backoff.
    const failing = await start([503]);
    const retrying = createLineageEmitter({ url: failing.url, maxRetries: 5, retryDelayMs: 60_000, logger: log });
    retrying.emit(event('run_5'));
    while (failing.received.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    await expect(retrying.close(20)).resolves.toBe(1);
    expect(retrying.stats).toMatchObject({ failed: 0, abandoned: 1 });

    const idle = createLineageEmitter({ url: r.url, logger: log });
    await expect(idle.close(50)).resolves.toBe(0);
    expect(log.lines.filter((l) => l.details.event === 'lineage.emit.abandoned')).toHaveLength(2);
  });

  it('is built from config.lineage only when emitUrl is set', () => {
    const none = loadConfig({ env: {}, cwd: '/tmp' });
    expect(none.lineage).toEqual({ emitTimeoutMs: 5000, emitMaxRetries: 3, namespace: 'assay' });
    expect(lineageEmitterFromConfig(none.lineage)).toBeUndefined();
    expect(lineageEmitterFromConfig({ ...none.lineage, emitUrl: 'http://127.0.0.1:9/api/v1/lineage' })).toBeDefined();
    const home = mkdtempSync(join(tmpdir(), 'assay-lineage-config-'));
    try {
      writeFileSync(join(home, 'config.json'), JSON.stringify({ lineage: { emitUrl: 'ftp://marquez/api/v1/lineage', emitMaxRetries: 99 } }));
      const err = (() => {
        try {
          loadConfig({ env: { ASSAY_HOME: home }, cwd: home });
        } catch (e) {
          return e as ConfigInvalid;
        }
        throw new Error('a bad lineage section was accepted');
      })();
      expect(err.errors.map((e) => e.field).sort()).toEqual(['lineage.emitMaxRetries', 'lineage.emitUrl']);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});

describe.each(eachBackend().map((b) => [b.name, b] as const))('Assay to Assay: the emitter into the lineage endpoint [%s]', (_name, backend) => {
  let t: TestApp;
  let base: string;
  beforeAll(async () => {
    // A central Assay with a namespace of its own: one Assay's namespace is written by that Assay alone.
    t = await createTestApp(backend, { config: { lineage: { namespace: 'central-assay' } } });
    base = await t.app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => t?.close());

  it("another Assay's job events, sent by its emitter, land in the graph", async () => {
    const engineer = await createPrincipalWithToken(t.db, { name: 'pipeline', roles: ['ml-engineer'], kind: 'service' });
    const emitter = createLineageEmitter({ url: `${base}/api/v1/lineage`, apiKey: engineer.token, retryDelayMs: 5 });
    emitter.emit(event('run_X', 'START'));
    emitter.emit(event('run_X', 'COMPLETE'));
    await emitter.flush();
    expect(emitter.stats).toMatchObject({ sent: 2, failed: 0 });
    const res = await fetch(`${base}/api/v1/lineage/graph?namespace=assay&name=dataset.ingest&kind=job&direction=down&depth=2&facets=true`, {
      headers: { authorization: `Bearer ${engineer.token}` },
    });
    const g = (await res.json()) as LineageGraph;
    expect(g.nodes.find((n) => n.type === 'external_run')).toMatchObject({ name: openLineageRunId('run_X'), attributes: { state: 'COMPLETE' }, facets: { assay: { runId: 'run_X' } } });
    expect(g.nodes.find((n) => n.type === 'external_dataset')).toMatchObject({ namespace: 'assay', name: 'dsv_01J000000000000000000000GC' });
  });
});

describe.each(eachBackend().map((b) => [b.name, b] as const))('OpenLineage out of the data jobs [%s]', (_name, backend) => {
  let t: TestApp;
  let consumer: Awaited<ReturnType<typeof receiver>>;
  beforeAll(async () => {
    // The consumer (Marquez in production) is a loopback receiver: it cannot run here.
    consumer = await receiver([200]);
    t = await createTestApp(backend, { config: { lineage: { emitUrl: consumer.url, namespace: 'bank-assay' } } });
  });
  afterAll(async () => {
    await t?.close();
    await consumer?.close();
  });

  it('an ingest and a promotion each reach the consumer as START and COMPLETE, quarantine → certified', async () => {
    const scientist = await createPrincipalWithToken(t.db, { name: 'scientist', roles: ['data-scientist'] });
    const steward = await createPrincipalWithToken(t.db, { name: 'steward', roles: ['data-steward'] });
    const ingested = await upload(t, {
      name: 'loans',
      token: scientist.token,
      body: 'id,amount,segment\n1,100.5,retail\n2,250,sme\n3,75.25,retail\n',
      query: { classification: 'internal', owner: steward.id },
    });
    expect(ingested.statusCode).toBe(201);
    const promoted = await t.app.inject({ method: 'POST', url: '/api/v1/datasets/loans/versions/1/promote', headers: { authorization: `Bearer ${steward.token}` } });
    expect(promoted.statusCode).toBe(200);
    await t.deps.lineageEmitter!.flush();
    expect(t.deps.lineageEmitter!.stats).toMatchObject({ sent: 4, failed: 0, invalid: 0 });
    // What became of the events is on /metrics, for an alert on lineage the consumer is missing.
    const metrics = await t.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${t.adminToken}` } });
    expect(metrics.statusCode).toBe(200);
    expect(metrics.body).toContain('assay_lineage_emit_events_total{outcome="sent"} 4');
    expect(metrics.body).toContain('assay_lineage_emit_events_total{outcome="failed"} 0');
    expect(metrics.body).toContain('assay_lineage_emit_queue_length 0');

    const events = consumer.received.map((r) => r.body as OpenLineageEvent);
    for (const e of events) expect(checkOpenLineageEvent(e, 'event')).toMatchObject({ ok: true, kind: 'RunEvent' });
    expect(events.map((e) => `${e.job?.name} ${e.eventType}`)).toEqual(['dataset.ingest/loans START', 'dataset.ingest/loans COMPLETE', 'dataset.promote/loans START', 'dataset.promote/loans COMPLETE']);
    const [, ingestDone, promoteStart, promoteDone] = events as [OpenLineageEvent, OpenLineageEvent, OpenLineageEvent, OpenLineageEvent];
    expect(ingestDone.job?.namespace).toBe('bank-assay');
    expect(ingestDone.outputs?.[0]).toMatchObject({
      namespace: 'bank-assay',
      name: 'loans/quarantine',
      facets: {
        version: { datasetVersion: '1' },
        schema: { fields: [{ name: 'id', type: 'BIGINT' }, { name: 'amount', type: 'DOUBLE' }, { name: 'segment', type: 'VARCHAR' }] },
        tags: { tags: [{ key: 'classification', value: 'internal' }] },
      },
      outputFacets: { outputStatistics: { rowCount: 3 } },
    });
    expect(promoteStart.run?.runId).toBe(promoteDone.run?.runId);
    expect(promoteStart.run?.runId).not.toBe(ingestDone.run?.runId);
    expect(promoteDone.inputs?.map((d) => d.name)).toEqual(['loans/quarantine']);
    expect(promoteDone.outputs?.[0]).toMatchObject({ name: 'loans', facets: { version: { datasetVersion: '1' } }, outputFacets: { outputStatistics: { rowCount: 3 } } });
    // The certified dataset is the Parquet file: each field says how it holds the column (a CSV
    // is certified as written, as text), beside the logical type the quarantine dataset shows.
    const stored = (promoteDone.outputs?.[0]?.facets?.schema as { fields: Array<Record<string, unknown>> }).fields;
    expect(stored.map((f) => [f.name, f.type, f.description])).toEqual([
      ['id', 'BIGINT', 'stored as VARCHAR in the certified Parquet'],
      ['amount', 'DOUBLE', 'stored as VARCHAR in the certified Parquet'],
      ['segment', 'VARCHAR', 'stored as VARCHAR in the certified Parquet'],
    ]);
    const quarantined = (ingestDone.outputs?.[0]?.facets?.schema as { fields: Array<Record<string, unknown>> }).fields;
    expect(quarantined.every((f) => !('description' in f))).toBe(true);
  });

  it('a derived version is job dataset.derive/<name>, reading the certified versions it was built from', async () => {
    const before = consumer.received.length;
    const scientist = await createPrincipalWithToken(t.db, { name: 'feature-builder', roles: ['data-scientist'] });
    const derived = await upload(t, {
      name: 'loan-features',
      token: scientist.token,
      body: 'id,amount_log\n1,4.61\n2,5.52\n3,4.32\n',
      query: {
        classification: 'internal',
        owner: scientist.id,
        derivedFrom: 'loans@1',
        codeSha256: 'ab'.repeat(32),
        codeUri: 'git+https://git.example/features@4f2a',
        transform: 'log_amount.py',
        parameters: '{"base": 2.718281828459045, "columns": ["amount"]}',
      },
    });
    expect(derived.statusCode, derived.body).toBe(201);
    await t.deps.lineageEmitter!.flush();
    const [start, done] = consumer.received.slice(before).map((r) => r.body as OpenLineageEvent) as [OpenLineageEvent, OpenLineageEvent];
    expect([start.job?.name, start.eventType, done.eventType]).toEqual(['dataset.derive/loan-features', 'START', 'COMPLETE']);
    // Which code and settings built the table, as the version records them.
    const parameters = { base: 2.718281828459045, columns: ['amount'] };
    for (const e of [start, done]) {
      expect(e.run?.facets?.assayDerivation).toEqual({
        _producer: expect.any(String),
        _schemaURL: 'urn:assay:openlineage:AssayDerivationRunFacet',
        code: { sha256: 'ab'.repeat(32), uri: 'git+https://git.example/features@4f2a', name: 'log_amount.py' },
        parameters,
        parametersSha256: hashCanonical(parameters),
      });
    }
    expect(done.inputs).toEqual([expect.objectContaining({ namespace: 'bank-assay', name: 'loans', facets: expect.objectContaining({ version: expect.objectContaining({ datasetVersion: '1' }) }) })]);
    expect(done.outputs?.[0]).toMatchObject({ name: 'loan-features/quarantine' });
    expect(checkOpenLineageEvent(done, 'event')).toMatchObject({ ok: true });
  });

  it("each dataset's ingest and promotion are jobs of its own: a consumer's job never links two datasets", async () => {
    // Marquez versions a job by the datasets its latest run read and wrote: a job shared by two
    // datasets would draw the last one promoted as upstream of the other.
    const before = consumer.received.length;
    const scientist = await createPrincipalWithToken(t.db, { name: 'scientist-3', roles: ['data-scientist'] });
    const steward = await createPrincipalWithToken(t.db, { name: 'steward-3', roles: ['data-steward'] });
    for (const name of ['cards', 'mortgages']) {
      const ingested = await upload(t, { name, token: scientist.token, body: 'id,amount\n1,10\n2,20\n', query: { classification: 'internal', owner: steward.id } });
      expect(ingested.statusCode, ingested.body).toBe(201);
      const promoted = await t.app.inject({ method: 'POST', url: `/api/v1/datasets/${name}/versions/1/promote`, headers: { authorization: `Bearer ${steward.token}` } });
      expect(promoted.statusCode, promoted.body).toBe(200);
    }
    await t.deps.lineageEmitter!.flush();
    const events = consumer.received.slice(before).map((r) => r.body as OpenLineageEvent);
    expect(events.filter((e) => e.eventType === 'COMPLETE').map((e) => e.job?.name)).toEqual(['dataset.ingest/cards', 'dataset.promote/cards', 'dataset.ingest/mortgages', 'dataset.promote/mortgages']);
    const datasetsOfJob = new Map<string, Set<string>>();
    for (const e of events) {
      const names = datasetsOfJob.get(e.job!.name) ?? new Set<string>();
      for (const d of [...(e.inputs ?? []), ...(e.outputs ?? [])]) names.add(d.name.replace(/\/quarantine$/, ''));
      datasetsOfJob.set(e.job!.name, names);
    }
    for (const [job, names] of datasetsOfJob) expect([...names], job).toHaveLength(1);
  });

  it('an ingest naming the OpenLineage dataset its file was exported from lists it as an input, under its own namespace', async () => {
    const before = consumer.received.length;
    const scientist = await createPrincipalWithToken(t.db, { name: 'scientist-4', roles: ['data-scientist'] });
    const ingested = await upload(t, {
      name: 'exported-loans',
      token: scientist.token,
      body: 'id,amount\n1,10\n2,20\n',
      query: { classification: 'internal', owner: scientist.id, sourceDatasetNamespace: 'postgres://warehouse:5432', sourceDatasetName: 'risk.public.loans' },
    });
    expect(ingested.statusCode, ingested.body).toBe(201);
    await t.deps.lineageEmitter!.flush();
    const events = consumer.received.slice(before).map((r) => r.body as OpenLineageEvent);
    expect(events.map((e) => `${e.job?.name} ${e.eventType}`)).toEqual(['dataset.ingest/exported-loans START', 'dataset.ingest/exported-loans COMPLETE']);
    // A consumer such as Marquez draws the warehouse table's jobs upstream of the quarantine dataset, as Assay's graph does.
    for (const e of events) {
      expect(e.inputs).toEqual([{ namespace: 'postgres://warehouse:5432', name: 'risk.public.loans' }]);
      expect(checkOpenLineageEvent(e, 'event')).toMatchObject({ ok: true });
    }
    expect(events[1]!.outputs?.map((d) => `${d.namespace} ${d.name}`)).toEqual(['bank-assay exported-loans/quarantine']);
  });

  it('a refused ingest emits nothing', async () => {
    const before = consumer.received.length;
    const scientist = await createPrincipalWithToken(t.db, { name: 'scientist-2', roles: ['data-scientist'] });
    const refused = await upload(t, { name: 'empty', token: scientist.token, body: '', query: { classification: 'internal', owner: scientist.id } });
    expect(refused.statusCode).toBe(400);
    await t.deps.lineageEmitter!.flush();
    expect(consumer.received.length).toBe(before);
  });
});
