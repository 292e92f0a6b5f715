import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LineageGraph } from '../../src/lineage/index.js';
import { createPrincipalWithToken, createTestApp, type TestApp } from '../support/app.js';
import { eachBackend } from '../support/databases.js';

/**
 * A run's state as the graph shows it (`attributes.state`), from events as orchestrators send
 * them: out of order, in separate requests or in one batch, and with OTHER events (or events
 * without an eventType), which the specification allows after a run completes to add metadata
 * ("Additional events with OTHER eventType can be added to the same run … after the run is
 * complete"): they carry facets, not a state, so they leave the state the run reached.
 */

type Json = Record<string, unknown>;
const RUN = '01937a1f-0000-7000-8000-00000000a001';

/** An openlineage-spark style RunEvent of one run: `eventType` undefined leaves the field out. */
function sparkEvent(eventType: string | undefined, eventTime: string, runId = RUN, facets: Json = {}): Json {
  return {
    ...(eventType !== undefined ? { eventType } : {}),
    eventTime,
    producer: 'https://github.com/OpenLineage/OpenLineage/tree/1.24.2/integration/spark',
    schemaURL: 'https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent',
    run: { runId, facets },
    job: { namespace: 'spark-prod', name: 'credit_features.execute_insert_into_hadoop_fs_relation_command.features', facets: {} },
    inputs: [],
    outputs: [{ namespace: 'hdfs://namenode.bank.internal:8020', name: '/warehouse/credit.db/features' }],
  };
}

const note = (text: string): Json => ({ bankNote: { _producer: 'https://bank.example/lineage', _schemaURL: 'https://bank.example/schemas/note.json', text } });

describe.each(eachBackend().map((b) => [b.name, b] as const))('run state from OpenLineage events [%s]', (_name, backend) => {
  let t: TestApp;
  let base: string;
  let token: string;

  beforeAll(async () => {
    t = await createTestApp(backend);
    base = await t.app.listen({ host: '127.0.0.1', port: 0 });
    token = (await createPrincipalWithToken(t.db, { name: 'spark', roles: ['data-steward'], kind: 'service' })).token;
  });
  afterAll(async () => t?.close());

  async function post(body: unknown): Promise<void> {
    const res = await fetch(`${base}/api/v1/lineage`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(res.status, await res.text()).toBe(201);
  }
  async function run(runId = RUN): Promise<{ attributes?: Record<string, unknown>; facets?: Record<string, unknown> }> {
    const q = new URLSearchParams({ namespace: 'spark-prod', name: 'credit_features.execute_insert_into_hadoop_fs_relation_command.features', kind: 'job', depth: '1', direction: 'down', facets: 'true' });
    const res = await fetch(`${base}/api/v1/lineage/graph?${q}`, { headers: { authorization: `Bearer ${token}` } });
    const g = (await res.json()) as LineageGraph;
    const node = g.nodes.find((n) => n.type === 'external_run' && n.name === runId);
    if (!node) throw new Error(`run ${runId} not in the graph`);
    return node;
  }

  it('keeps the state of the latest eventTime when COMPLETE arrives before START and RUNNING', async () => {
    await post(sparkEvent('COMPLETE', '2026-12-07T02:20:00.001Z'));
    await post(sparkEvent('START', '2026-12-07T02:10:30.5Z'));
    await post(sparkEvent('RUNNING', '2026-12-07T03:15:00.000000001+01:00'));
    expect((await run()).attributes).toEqual({ state: 'COMPLETE', stateAt: '2026-12-07T02:20:00.001Z' });
  });

  it('an OTHER event after COMPLETE adds its facets and leaves the state, sent alone or in a batch', async () => {
    await post(sparkEvent('OTHER', '2026-12-07T03:00:00+00:00', RUN, note('post-run metadata')));
    const after = await run();
    expect(after.attributes).toEqual({ state: 'COMPLETE', stateAt: '2026-12-07T02:20:00.001Z' });
    expect(after.facets).toMatchObject({ bankNote: { text: 'post-run metadata' } });

    const batched = '01937a1f-0000-7000-8000-00000000a002';
    await post([sparkEvent('START', '2026-12-07T04:00:00Z', batched), sparkEvent('FAIL', '2026-12-07T04:05:00Z', batched), sparkEvent('OTHER', '2026-12-07T04:06:00Z', batched, note('retry scheduled'))]);
    expect((await run(batched)).attributes).toEqual({ state: 'FAIL', stateAt: '2026-12-07T04:05:00.000Z' });
  });

  it('an event without an eventType leaves the state, and a later state still lands', async () => {
    await post(sparkEvent(undefined, '2026-12-07T05:00:00Z', RUN, note('no type')));
    expect((await run()).attributes).toEqual({ state: 'COMPLETE', stateAt: '2026-12-07T02:20:00.001Z' });
    // A late FAIL whose eventTime is after the COMPLETE but before the untyped event still applies.
    await post(sparkEvent('FAIL', '2026-12-07T02:30:00Z'));
    expect((await run()).attributes).toEqual({ state: 'FAIL', stateAt: '2026-12-07T02:30:00.000Z' });
  });

  it('a run first reported by an OTHER event has no state until a state arrives', async () => {
    const early = '01937a1f-0000-7000-8000-00000000a003';
    await post(sparkEvent('OTHER', '2026-12-07T06:00:00Z', early, note('scheduled')));
    expect((await run(early)).attributes).toEqual({});
    await post(sparkEvent('START', '2026-12-07T05:59:00Z', early));
    expect((await run(early)).attributes).toEqual({ state: 'START', stateAt: '2026-12-07T05:59:00.000Z' });
  });

  it('at one stateAt (events microseconds apart share its millisecond) START gives way to RUNNING and RUNNING to an end state, in any order', async () => {
    const quick = '01937a1f-0000-7000-8000-00000000a004';
    // Python producers send microseconds; the stored stateAt keeps milliseconds, so these two tie.
    await post(sparkEvent('COMPLETE', '2026-12-07T07:00:00.123900+00:00', quick));
    await post(sparkEvent('START', '2026-12-07T07:00:00.123100+00:00', quick));
    expect((await run(quick)).attributes).toEqual({ state: 'COMPLETE', stateAt: '2026-12-07T07:00:00.123Z' });
    await post(sparkEvent('RUNNING', '2026-12-07T07:00:00.123500+00:00', quick));
    expect((await run(quick)).attributes).toEqual({ state: 'COMPLETE', stateAt: '2026-12-07T07:00:00.123Z' });

    const batched = '01937a1f-0000-7000-8000-00000000a005';
    await post([sparkEvent('FAIL', '2026-12-07T07:00:00.5001+00:00', batched), sparkEvent('RUNNING', '2026-12-07T07:00:00.5Z', batched), sparkEvent('START', '2026-12-07T07:00:00.5000001Z', batched)]);
    expect((await run(batched)).attributes).toEqual({ state: 'FAIL', stateAt: '2026-12-07T07:00:00.500Z' });
  });
});
