import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GERMAN_CREDIT } from '../data/support.js';
import { runEvent } from '../lineage/fixtures.js';
import { createPrincipalWithToken, createTestApp, type TestApp } from '../support/app.js';
import { eachBackend } from '../support/databases.js';

const CREDIT = readFileSync(GERMAN_CREDIT);
/** Requests sent at once in each race. */
const RACERS = 6;

type Principal = { id: string; token: string };
type Answer = { status: number; json: Record<string, unknown> };

/**
 * The same change asked for several times at once, over real HTTP (on PostgreSQL each request
 * has its own connection). Whatever the interleaving, exactly the changes that may happen once
 * happen once, the others get a 409 problem, and nothing answers 500 or records twice.
 */
describe.each(eachBackend().map((b) => [b.name, b] as const))('concurrent changes [%s]', (_name, backend) => {
  let t: TestApp;
  let base: string;
  const stewards: Principal[] = [];

  const call = async (method: string, path: string, token: string, body?: unknown, contentType = 'application/json'): Promise<Answer> => {
    const res = await fetch(base + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': contentType }) },
      ...(body === undefined ? {} : { body: Buffer.isBuffer(body) ? body : JSON.stringify(body) }),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };
  const race = (n: number, send: (i: number) => Promise<Answer>): Promise<Answer[]> => Promise.all(Array.from({ length: n }, (_, i) => send(i)));
  const statuses = (answers: Answer[]): number[] => answers.map((a) => a.status).sort();
  const entryCount = async (action: string): Promise<number> => (await t.db.query('SELECT 1 FROM audit_entries WHERE action = $1', [action])).rowCount;

  beforeAll(async () => {
    t = await createTestApp(backend);
    for (let i = 0; i < RACERS; i++) stewards.push(await createPrincipalWithToken(t.db, { name: `steward-${i}`, roles: ['data-steward'] }));
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => t?.close());

  it('first ingests of one new dataset: one dataset, gap-free versions, one dataset.create', async () => {
    const query = 'sourceSystem=core-banking&classification=internal&owner=steward-0';
    const answers = await race(RACERS, (i) => call('POST', `/api/v1/datasets/raced/versions?${query}`, stewards[i]!.token, CREDIT, 'text/csv'));
    expect(statuses(answers)).toEqual(Array(RACERS).fill(201));
    expect(answers.map((a) => a.json.version).sort()).toEqual(Array.from({ length: RACERS }, (_, i) => i + 1));
    expect((await t.db.query(`SELECT 1 FROM datasets WHERE name = 'raced'`)).rowCount).toBe(1);
    expect(await entryCount('dataset.create')).toBe(1);
    expect(await entryCount('dataset.ingest')).toBe(RACERS);
  });

  it('promotions of one version: one certifies it, the rest get 409; one manifest, no stray blobs', async () => {
    const [{ by }] = (await t.db.query<{ by: string }>(`SELECT v.ingested_by AS by FROM dataset_versions v JOIN datasets d ON d.id = v.dataset_id WHERE d.name = 'raced' AND v.version = 1`)).rows as [{ by: string }];
    const promoters = stewards.filter((s) => s.id !== by);
    const blobs = async (): Promise<number> => {
      let n = 0;
      for await (const hash of t.deps.blobs.list()) if (hash) n++;
      return n;
    };
    const before = await blobs();
    const answers = await race(promoters.length, (i) => call('POST', '/api/v1/datasets/raced/versions/1/promote', promoters[i]!.token));
    expect(statuses(answers)).toEqual([200, ...Array(promoters.length - 1).fill(409)]);
    expect(await entryCount('dataset.promote')).toBe(1);
    // The certified Parquet and the signed manifest of the one promotion; a loser's are not kept.
    expect(await blobs()).toBe(before + 2);
  });

  it('principals of one name: one is created, the rest get 409', async () => {
    const answers = await race(RACERS, () => call('POST', '/api/v1/principals', t.adminToken, { name: 'same-name', kind: 'human', roles: ['auditor'] }));
    expect(statuses(answers)).toEqual([201, ...Array(RACERS - 1).fill(409)]);
    expect((await t.db.query(`SELECT 1 FROM principals WHERE name = 'same-name'`)).rowCount).toBe(1);
  });

  it('OpenLineage events naming the same new job and datasets: all accepted, each node once', async () => {
    const single = await race(RACERS, () => call('POST', '/api/v1/lineage', t.adminToken, runEvent({ job: 'raced.job', input: 'raced.in', output: 'raced.out' })));
    expect(statuses(single)).toEqual(Array(RACERS).fill(201));
    const batch = await race(RACERS, () =>
      call('POST', '/api/v1/lineage/batch', t.adminToken, [runEvent({ job: 'raced.a', input: 'raced.x', output: 'raced.y' }), runEvent({ job: 'raced.b', input: 'raced.y', output: 'raced.x' })]),
    );
    expect(statuses(batch)).toEqual(Array(RACERS).fill(200));
    const nodes = await t.db.query<{ name: string; n: number }>(
      `SELECT name, count(*)::int AS n FROM lineage_nodes WHERE name IN ('raced.job', 'raced.in', 'raced.out', 'raced.a', 'raced.b', 'raced.x', 'raced.y') GROUP BY name ORDER BY name`,
    );
    expect(nodes.rows).toEqual(['raced.a', 'raced.b', 'raced.in', 'raced.job', 'raced.out', 'raced.x', 'raced.y'].map((name) => ({ name, n: 1 })));
  });

  it('resolving one approval request: one verdict stands; the approval is used once', async () => {
    const agent = await createPrincipalWithToken(t.db, { name: 'raced-bot', roles: ['app-client'], kind: 'agent' });
    const officers = await Promise.all([0, 1, 2, 3].map((i) => createPrincipalWithToken(t.db, { name: `raced-risk-${i}`, roles: ['risk-officer'] })));
    const spend = { action: 'compute.spend', risk: 'medium', amount: 5000, purpose: 'retrain the fraud model' };
    const opened = await call('POST', '/api/v1/policy/decide', agent.token, spend);
    expect(opened.status).toBe(202);
    const id = (opened.json.approval as { id: string }).id;
    const verdict = (i: number): 'approve' | 'reject' => (i % 2 === 0 ? 'approve' : 'reject');
    const answers = await race(officers.length, (i) => call('POST', `/api/v1/approvals/${id}/${verdict(i)}`, officers[i]!.token, { comment: 'checked the ticket and the amount' }));
    expect(statuses(answers)).toEqual([200, ...Array(officers.length - 1).fill(409)]);
    const winner = answers.findIndex((a) => a.status === 200);
    expect(await entryCount('approval.approve') + (await entryCount('approval.reject'))).toBe(1);
    // Approve the next request for sure, then race its use.
    const next = await call('POST', '/api/v1/policy/decide', agent.token, spend);
    const nextId = (next.json.approval as { id: string }).id;
    expect((await call('POST', `/api/v1/approvals/${nextId}/approve`, officers[0]!.token, { comment: 'checked the ticket and the amount' })).status).toBe(200);
    const uses = await race(RACERS, () => call('POST', '/api/v1/policy/decide', agent.token, { ...spend, approvalId: nextId }));
    expect(statuses(uses)).toEqual([200, ...Array(RACERS - 1).fill(409)]);
    expect(answers[winner]!.json.status).toBe(verdict(winner) === 'approve' ? 'approved' : 'rejected');
  });

  it('break-glass asked for at once: one elevation, the rest get 409', async () => {
    const glass = await createPrincipalWithToken(t.db, { name: 'raced-glass', roles: ['break-glass'] });
    const answers = await race(RACERS, () => call('POST', '/api/v1/break-glass', glass.token, { reason: 'incident INC-1234: the database is down' }));
    expect(statuses(answers)).toEqual([201, ...Array(RACERS - 1).fill(409)]);
    expect((await t.db.query('SELECT 1 FROM elevations WHERE principal_id = $1', [glass.id])).rowCount).toBe(1);
  });
});
