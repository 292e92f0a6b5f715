import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTONOMY_NOTIFY_EVENT, type ApprovalRequestRecord, type AutonomyAnswer } from '../../src/autonomy/index.js';
import { changeEntryCount, createPrincipalWithToken } from '../support/app.js';
import { eachBackend } from '../support/databases.js';
import { bearer, createIdentityApp, entries, type IdentityApp } from '../identity/harness.js';

/**
 * Bounded autonomy over the real HTTP server on a loopback port: ask before acting, approval
 * requests resolved by humans with a comment before they expire, redemption once, and every
 * boundary violation audited and counted in /metrics.
 *
 * The default pack's autonomy.yaml decides the tiers used here: compute.spend is autonomous up
 * to 100, notify_human up to 1000, require_approval above.
 */

interface Problem {
  detail: string;
  errors?: Array<{ field: string; detail: string }>;
}

const DAY_MS = 24 * 60 * 60 * 1000;

describe.each(eachBackend().map((b) => [b.name, b] as const))('bounded autonomy over HTTP [%s]', (_name, backend) => {
  let t: IdentityApp;
  let base: string;
  let agent: { id: string; token: string };
  let otherAgent: { id: string; token: string };
  let riskOfficer: { id: string; token: string };
  let secondRiskOfficer: { id: string; token: string };
  let roboOfficer: { id: string; token: string };
  let scientist: { id: string; token: string };

  beforeAll(async () => {
    t = await createIdentityApp(backend);
    base = await t.app.listen({ host: '127.0.0.1', port: 0 });
    agent = await createPrincipalWithToken(t.db, { name: 'refund-bot', roles: ['app-client'], kind: 'agent' });
    otherAgent = await createPrincipalWithToken(t.db, { name: 'other-bot', roles: ['app-client'], kind: 'agent' });
    riskOfficer = await createPrincipalWithToken(t.db, { name: 'rita-risk', roles: ['risk-officer'] });
    secondRiskOfficer = await createPrincipalWithToken(t.db, { name: 'rob-risk', roles: ['risk-officer'] });
    roboOfficer = await createPrincipalWithToken(t.db, { name: 'robo-approver', roles: ['risk-officer'], kind: 'service' });
    scientist = await createPrincipalWithToken(t.db, { name: 'sam-scientist', roles: ['data-scientist'] });
  });
  afterAll(async () => t?.close());

  async function call<T>(method: 'GET' | 'POST', path: string, token: string, body?: object): Promise<{ status: number; json: T; text: string }> {
    const res = await fetch(base + path, {
      method,
      headers: { ...bearer(token), ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    const json = (res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : undefined) as T;
    return { status: res.status, json, text };
  }
  const decide = (token: string, body: object) => call<AutonomyAnswer & Problem>('POST', '/api/v1/policy/decide', token, body);
  const resolve = (verdict: 'approve' | 'reject', id: string, token: string, body: object = { comment: 'checked the ticket and the amount' }) =>
    call<ApprovalRequestRecord & Problem>('POST', `/api/v1/approvals/${id}/${verdict}`, token, body);
  const spend = (amount: number, extra: object = {}) => ({ action: 'compute.spend', risk: 'medium', amount, purpose: 'retrain the fraud model', ...extra });
  const openRequest = async (amount = 5000, token = agent.token): Promise<ApprovalRequestRecord> => {
    const res = await decide(token, spend(amount));
    expect(res.status, res.text).toBe(202);
    return res.json.approval!;
  };
  const violations = async (): Promise<Map<string, number>> => {
    const res = await call<undefined>('GET', '/metrics', t.adminToken);
    expect(res.status).toBe(200);
    const counts = new Map<string, number>();
    for (const m of res.text.matchAll(/^assay_autonomy_boundary_violations_total\{kind="([a-z_]+)"\} (\d+)$/gm)) counts.set(m[1]!, Number(m[2]));
    return counts;
  };
  const status = async (id: string): Promise<string> =>
    (await t.db.query<{ status: string }>('SELECT status FROM approval_requests WHERE id = $1', [id])).rows[0]!.status;

  it('answers autonomous within bounds, and records the answer', async () => {
    const res = await decide(agent.token, spend(40));
    expect(res.status, res.text).toBe(200);
    expect(res.json).toMatchObject({ decision: 'autonomous', rule: 'autonomy.compute-spend' });
    expect(res.json.approval).toBeUndefined();
    const [answer] = (await entries(t.db, 'autonomy.decide', 'compute.spend')).filter((e) => e.actor.principalId === agent.id);
    expect(answer).toMatchObject({ decision: { effect: 'allowed', policyIds: ['autonomy:autonomy.compute-spend'] }, outcome: 'succeeded' });
    expect(answer?.reason).toContain('retrain the fraud model');
  });

  it('answers notify_human above the first threshold: an alert entry and an alert line tell people', async () => {
    const before = (await entries(t.db, 'alert.raise')).length;
    const res = await decide(agent.token, spend(500));
    expect(res.status, res.text).toBe(200);
    expect(res.json).toMatchObject({ decision: 'notify_human', rule: 'autonomy.compute-spend' });
    const alerts = await entries(t.db, 'alert.raise');
    expect(alerts).toHaveLength(before + 1);
    expect(alerts.at(-1)?.reason).toContain(`${AUTONOMY_NOTIFY_EVENT}: ${agent.id} compute.spend`);
    expect(t.logs.some((l) => l.event === AUTONOMY_NOTIFY_EVENT && l.principalId === agent.id && l.level === 40)).toBe(true);
  });

  it('opens an approval request for require_approval, expiring after the configured day', async () => {
    const res = await decide(agent.token, spend(5000, { resource: { type: 'budget', id: 'gpu-pool-a' } }));
    expect(res.status, res.text).toBe(202);
    const a = res.json.approval!;
    expect(res.json).toMatchObject({ decision: 'require_approval', rule: 'autonomy.compute-spend' });
    expect(a).toMatchObject({ requesterId: agent.id, action: 'compute.spend', risk: 'medium', amount: 5000, status: 'pending', resource: { type: 'budget', id: 'gpu-pool-a' } });
    expect(Date.parse(a.expiresAt) - Date.parse(a.createdAt)).toBe(DAY_MS);
    expect(await entries(t.db, 'approval.request', a.id)).toHaveLength(1);
    const [answer] = await entries(t.db, 'autonomy.decide', 'gpu-pool-a');
    expect(answer?.decision.effect).toBe('denied');
    const mine = await call<ApprovalRequestRecord>('GET', `/api/v1/approvals/${a.id}`, agent.token);
    expect(mine.status).toBe(200);
    expect(mine.json.status).toBe('pending');
  });

  it('acting on a pending request is a boundary violation: refused, audited and counted', async () => {
    const a = await openRequest();
    const before = (await violations()).get('not_approved') ?? 0;
    const res = await decide(agent.token, spend(5000, { approvalId: a.id }));
    expect(res.status).toBe(409);
    expect(res.json.errors?.[0]).toMatchObject({ field: 'body.approvalId' });
    expect(res.json.errors?.[0]?.detail).toMatch(/^not_approved: /);
    const [violation] = await entries(t.db, 'autonomy.violation', a.id);
    expect(violation).toMatchObject({ decision: { effect: 'denied', policyIds: ['autonomy:not_approved'] }, outcome: 'failed' });
    expect(violation?.actor.principalId).toBe(agent.id);
    expect((await violations()).get('not_approved')).toBe(before + 1);
    expect(await status(a.id)).toBe('pending');
  });

  it('a human approves with a comment; the requester then acts once, for no more than was approved', async () => {
    const a = await openRequest();
    const approved = await resolve('approve', a.id, riskOfficer.token, { comment: 'budget line FIN-22 covers it' });
    expect(approved.status, approved.text).toBe(200);
    expect(approved.json).toMatchObject({ status: 'approved', decidedBy: riskOfficer.id, comment: 'budget line FIN-22 covers it' });
    const [entry] = await entries(t.db, 'approval.approve', a.id);
    expect(entry?.actor.principalId).toBe(riskOfficer.id);
    expect(entry?.reason).toContain('budget line FIN-22 covers it');

    const again = await resolve('reject', a.id, secondRiskOfficer.token);
    expect(again.status).toBe(409);
    expect(again.json.detail).toContain('is approved');

    const more = await decide(agent.token, spend(6000, { approvalId: a.id }));
    expect(more.status).toBe(409);
    expect(more.json.errors?.[0]?.detail).toMatch(/^mismatch: /);
    const otherAction = await decide(agent.token, { ...spend(5000), action: 'payment.refund', approvalId: a.id });
    expect(otherAction.status).toBe(409);
    const someoneElse = await decide(otherAgent.token, spend(5000, { approvalId: a.id }));
    expect(someoneElse.status).toBe(403);
    expect(someoneElse.json.errors?.[0]?.detail).toMatch(/^not_requester: /);
    expect(await status(a.id)).toBe('approved');

    const go = await decide(agent.token, spend(4500, { approvalId: a.id }));
    expect(go.status, go.text).toBe(200);
    expect(go.json).toMatchObject({ decision: 'approved', rule: 'approval', approval: { id: a.id, status: 'redeemed' } });
    expect(await entries(t.db, 'approval.redeem', a.id)).toHaveLength(1);

    const twice = await decide(agent.token, spend(4500, { approvalId: a.id }));
    expect(twice.status).toBe(409);
    expect(twice.json.errors?.[0]?.detail).toMatch(/^already_redeemed: /);
    const counts = await violations();
    for (const kind of ['mismatch', 'not_requester', 'already_redeemed']) expect(counts.get(kind), kind).toBeGreaterThanOrEqual(1);
  });

  it('an approval is used once even when the requester races itself', async () => {
    const a = await openRequest();
    expect((await resolve('approve', a.id, riskOfficer.token)).status).toBe(200);
    const results = await Promise.all(Array.from({ length: 6 }, () => decide(agent.token, spend(5000, { approvalId: a.id }))));
    expect(results.map((r) => r.status).sort()).toEqual([200, 409, 409, 409, 409, 409]);
    expect(await entries(t.db, 'approval.redeem', a.id)).toHaveLength(1);
  });

  it('a rejected request cannot be acted on', async () => {
    const a = await openRequest();
    const rejected = await resolve('reject', a.id, riskOfficer.token, { comment: 'no budget left this quarter' });
    expect(rejected.status, rejected.text).toBe(200);
    expect(rejected.json.status).toBe('rejected');
    expect(await entries(t.db, 'approval.reject', a.id)).toHaveLength(1);
    const res = await decide(agent.token, spend(5000, { approvalId: a.id }));
    expect(res.status).toBe(409);
    expect(res.json.errors?.[0]?.detail).toMatch(/^rejected: .*no budget left this quarter/);
  });

  it('an unknown approval id is a violation too (404)', async () => {
    const before = (await violations()).get('unknown_approval') ?? 0;
    const res = await decide(agent.token, spend(5000, { approvalId: 'apr_01J0000000000000000000NONE' }));
    expect(res.status).toBe(404);
    expect((await violations()).get('unknown_approval')).toBe(before + 1);
  });

  it('separation of duties: nobody resolves their own request, services and agents resolve none', async () => {
    // A risk officer asks for something that needs approval, then tries to approve it.
    const own = await decide(riskOfficer.token, { action: 'model.release', risk: 'high', purpose: 'release scorecard v7' });
    expect(own.status, own.text).toBe(202);
    const id = own.json.approval!.id;
    const self = await resolve('approve', id, riskOfficer.token);
    expect(self.status).toBe(403);
    expect(self.json.detail).toContain('sod.no-self-approval');
    const selfReject = await resolve('reject', id, riskOfficer.token);
    expect(selfReject.status).toBe(403);
    const robot = await resolve('approve', id, roboOfficer.token);
    expect(robot.status).toBe(403);
    expect(robot.json.detail).toContain('sod.humans-approve');
    const agentTry = await resolve('approve', id, agent.token);
    expect(agentTry.status).toBe(403);
    expect(await status(id)).toBe('pending');
    const other = await resolve('approve', id, secondRiskOfficer.token);
    expect(other.status, other.text).toBe(200);
    expect(other.json.decidedBy).toBe(secondRiskOfficer.id);
  });

  it('a request expires: it can no longer be approved nor acted on, and lists as expired', async () => {
    const a = await decide(agent.token, spend(5000, { expiresInMinutes: 30 }));
    expect(a.status).toBe(202);
    const id = a.json.approval!.id;
    expect(Date.parse(a.json.approval!.expiresAt) - Date.parse(a.json.approval!.createdAt)).toBe(30 * 60_000);
    const approvedThenExpiring = (await openRequest()).id;
    expect((await resolve('approve', approvedThenExpiring, riskOfficer.token)).status).toBe(200);

    t.clock.advance(DAY_MS + 1000);
    const late = await resolve('approve', id, riskOfficer.token);
    expect(late.status).toBe(409);
    expect(late.json.detail).toContain('is expired');
    expect(await status(id)).toBe('pending');
    const stale = await decide(agent.token, spend(5000, { approvalId: approvedThenExpiring }));
    expect(stale.status).toBe(409);
    expect(stale.json.errors?.[0]?.detail).toMatch(/^expired: /);

    const expired = await call<{ approvals: ApprovalRequestRecord[] }>('GET', '/api/v1/approvals?status=expired', riskOfficer.token);
    expect(expired.status).toBe(200);
    expect(expired.json.approvals.map((x) => x.id)).toEqual(expect.arrayContaining([id, approvedThenExpiring]));
    const pending = await call<{ approvals: ApprovalRequestRecord[] }>('GET', '/api/v1/approvals?status=pending', riskOfficer.token);
    expect(pending.json.approvals.map((x) => x.id)).not.toContain(id);
  });

  it('lists requests page by page, filtered by requester; a scientist may not list them', async () => {
    const all: string[] = [];
    let after: string | null = null;
    do {
      const page: { status: number; json: { approvals: ApprovalRequestRecord[]; nextCursor: string | null } } = await call(
        'GET',
        `/api/v1/approvals?limit=2&requester=${agent.id}${after ? `&after=${after}` : ''}`,
        t.adminToken,
      );
      expect(page.status).toBe(200);
      expect(page.json.approvals.length).toBeLessThanOrEqual(2);
      all.push(...page.json.approvals.map((a) => a.id));
      expect(page.json.approvals.every((a) => a.requesterId === agent.id)).toBe(true);
      after = page.json.nextCursor;
    } while (after);
    const stored = await t.db.query<{ id: string }>('SELECT id FROM approval_requests WHERE requester_id = $1 ORDER BY id', [agent.id]);
    expect(all).toEqual(stored.rows.map((r) => r.id));
    expect((await call('GET', '/api/v1/approvals', scientist.token)).status).toBe(403);
  });

  it('bad questions and decisions get a 400 naming the field and write nothing', async () => {
    const a = await openRequest();
    const requests = async (): Promise<number> => (await t.db.query('SELECT 1 FROM approval_requests')).rowCount;
    const before = { requests: await requests(), entries: await changeEntryCount(t.db) };
    const cases: Array<[object, string]> = [
      [{ action: 'compute.spend', risk: 'medium', amount: 10 }, 'body.purpose'],
      [spend(-1), 'body.amount'],
      [{ ...spend(10), risk: 'extreme' }, 'body.risk'],
      [{ ...spend(10), action: 'compute spend; drop' }, 'body.action'],
      [spend(5000, { expiresInMinutes: 24 * 60 + 1 }), 'body.expiresInMinutes'],
      [spend(5000, { approvalId: 'not-an-id' }), 'body.approvalId'],
      [spend(10, { surprise: true }), 'body'],
    ];
    for (const [body, field] of cases) {
      const res = await decide(agent.token, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json.errors?.map((e) => e.field).some((f) => f.startsWith(field)), `${JSON.stringify(res.json.errors)} names ${field}`).toBe(true);
    }
    const noComment = await resolve('approve', a.id, riskOfficer.token, { comment: ' ' });
    expect(noComment.status).toBe(400);
    expect(noComment.json.errors?.[0]?.field).toBe('body.comment');
    expect(await requests()).toBe(before.requests);
    expect(await changeEntryCount(t.db)).toBe(before.entries);
    expect(await status(a.id)).toBe('pending');
  });

  it('/metrics exposes the audit log gauges and the violation counter to those allowed', async () => {
    const res = await call<undefined>('GET', '/metrics', t.adminToken);
    expect(res.status).toBe(200);
    for (const name of ['assay_audit_log_size', 'assay_audit_pending_entries', 'assay_audit_sequencer_lag_seconds', 'assay_audit_checkpoint_age_seconds']) {
      expect(res.text).toMatch(new RegExp(`^# TYPE ${name} gauge$`, 'm'));
    }
    expect(res.text).toMatch(/^# TYPE assay_autonomy_boundary_violations_total counter$/m);
    const pending = Number(/^assay_audit_pending_entries (\d+)$/m.exec(res.text)?.[1]);
    const stored = (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_pending')).rows[0]!.n;
    // Each scrape's own authorisation entry lands in the queue, so the scrape saw at most what is there now.
    expect(pending).toBeGreaterThan(0);
    expect(pending).toBeLessThanOrEqual(stored);
    expect((await call('GET', '/metrics', scientist.token)).status).toBe(403);
  });

  it('/metrics counts authorization decisions by the path that answered them, as the engine does', async () => {
    const scrape = async (): Promise<Record<string, number>> => {
      const res = await call<undefined>('GET', '/metrics', t.adminToken);
      expect(res.text).toMatch(/^# TYPE assay_policy_decisions_total counter$/m);
      return Object.fromEntries([...res.text.matchAll(/^assay_policy_decisions_total\{path="([a-z]+)"\} (\d+)$/gm)].map((m) => [m[1]!, Number(m[2])]));
    };
    const first = await scrape();
    expect(Object.keys(first).sort()).toEqual(['cached', 'class', 'evaluated']);
    // Between the scrapes: one decision for the policy question, one for the second scrape itself.
    await decide(agent.token, spend(30));
    const second = await scrape();
    const total = (c: Record<string, number>): number => c.cached! + c.class! + c.evaluated!;
    expect(total(second) - total(first)).toBe(2);
    expect(second).toEqual({ ...t.policy.decisionCounts() });
  });
});
