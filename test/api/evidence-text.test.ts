import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eraseAuditPayload, placeLegalHold, readAuditPayload, releaseLegalHold } from '../../src/audit/index.js';
import { decideAutonomy, resolveApprovalRequest } from '../../src/autonomy/index.js';
import { ValidationFailed } from '../../src/core/index.js';
import { requestErasure } from '../../src/data/index.js';
import { BUILT_IN_ROLES, changeContextOf, getPrincipal, issueToken, startElevation, updatePrincipal, type AuthenticatedPrincipal } from '../../src/identity/index.js';
import { createPrincipalWithToken, createTestApp, type TestApp } from '../support/app.js';
import { eachBackend } from '../support/databases.js';

/**
 * Text that becomes evidence outside the data module (legal holds, erasure requests, principal
 * changes, token names, a decision's purpose, a payload read's reason) holds no control or
 * bidirectional formatting characters, over the real HTTP server on a loopback port: such
 * text is signed and audited and shown in terminals, where an ESC sequence, a line break or a
 * right-to-left override forges or reorders what an examiner reads. Each is refused with 400
 * naming the field, and nothing is recorded.
 */

const FORGED = [
  ['an ANSI escape', 'ok\u001b[2K\rapproved by CISO'],
  ['a line break', 'ticket 7\n2026-12-06 approved by CISO'],
  ['a right-to-left override', 'invoice\u202Efdp.exe'],
] as const;

describe.each(eachBackend().map((b) => [b.name, b] as const))('evidence text is plain text [%s]', (_name, backend) => {
  let t: TestApp;
  let base: string;
  let token: string;
  let subjectId: string;

  const send = async (method: 'POST' | 'PATCH' | 'GET', path: string, body?: unknown) => {
    const res = await fetch(base + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, type: res.headers.get('content-type'), json: (await res.json()) as { errors?: Array<{ field: string; detail: string }> } };
  };
  const rows = async (table: string): Promise<number> => (await t.db.query(`SELECT 1 FROM ${table}`)).rowCount ?? 0;

  beforeAll(async () => {
    t = await createTestApp(backend);
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    token = (await createPrincipalWithToken(t.db, { name: 'omni', roles: BUILT_IN_ROLES.filter((r) => r !== 'break-glass'), attributes: { clearance: ['pii', 'phi', 'pci'] } })).token;
    subjectId = (await createPrincipalWithToken(t.db, { name: 'sam', roles: ['data-scientist'] })).id;
  });
  afterAll(async () => t?.close());

  it.each(FORGED)('refuses %s in every such field with 400 naming it, and records nothing', async (_what, forged) => {
    const before = { holds: await rows('audit_legal_holds'), erasures: await rows('erasure_requests'), tokens: await rows('api_tokens'), approvals: await rows('approval_requests') };
    const cases: Array<[string, () => ReturnType<typeof send>]> = [
      ['body.reason', () => send('POST', '/api/v1/audit/holds', { caseId: 'CASE-9', reason: forged })],
      ['body.caseId', () => send('POST', '/api/v1/audit/holds', { caseId: forged, reason: 'litigation hold' })],
      ['body.reason', () => send('POST', '/api/v1/erasure-requests', { subjectId: 'CUST-9', reason: forged })],
      ['body.reason', () => send('PATCH', `/api/v1/principals/${subjectId}`, { disabled: true, reason: forged })],
      ['body.name', () => send('POST', `/api/v1/principals/${subjectId}/tokens`, { name: forged })],
      ['body.purpose', () => send('POST', '/api/v1/policy/decide', { action: 'payment.refund', risk: 'high', amount: 5000, purpose: forged })],
      ['query.reason', () => send('GET', `/api/v1/audit/payloads/${'a'.repeat(64)}/content?reason=${encodeURIComponent(forged)}`)],
    ];
    for (const [field, request] of cases) {
      const res = await request();
      expect(res.status, `${field}: ${JSON.stringify(res.json)}`).toBe(400);
      expect(res.type).toMatch(/^application\/problem\+json/);
      expect(res.json.errors?.find((e) => e.field === field)?.detail).toMatch(/control or bidirectional formatting characters \(U\+[0-9A-F]{4} at character \d+\)/);
    }
    expect({ holds: await rows('audit_legal_holds'), erasures: await rows('erasure_requests'), tokens: await rows('api_tokens'), approvals: await rows('approval_requests') }).toEqual(before);
    expect((await t.db.query<{ disabled_at: string | null }>('SELECT disabled_at FROM principals WHERE id = $1', [subjectId])).rows[0]?.disabled_at).toBeNull();
  });

  it.each(FORGED)('the domain functions refuse %s themselves, for callers other than the HTTP API, naming the field', async (_what, forged) => {
    const p = await getPrincipal(t.db, subjectId);
    const medic: AuthenticatedPrincipal = { ...p, roles: ['break-glass'], authenticatedBy: 'api_token', scopes: ['read', 'write'], authenticatedAt: new Date().toISOString() };
    const ctx = changeContextOf(medic, 'req-domain');
    const before = { entries: await rows('audit_entries'), erasures: await rows('erasure_requests'), tokens: await rows('api_tokens'), elevations: await rows('elevations') };
    const refusal = async (work: () => Promise<unknown>): Promise<string[]> => {
      const err = await work().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ValidationFailed);
      return (err as ValidationFailed).errors.map((e) => e.field);
    };
    const hash = 'a'.repeat(64);
    const refused: Array<[string[], string[]]> = [
      [await refusal(() => requestErasure({ db: t.db, flagsModels: true }, { subjectId: 'CUST-9', reason: forged }, ctx)), ['body.reason']],
      [await refusal(() => startElevation(t.db, { principal: medic, reason: `INC-1 ${forged}`, durationMinutes: 5 }, ctx)), ['reason']],
      [await refusal(() => issueToken(t.db, { principalId: subjectId, name: forged }, ctx)), ['name']],
      [await refusal(() => updatePrincipal(t.db, { id: subjectId, disabled: true }, { ...ctx, reason: forged })), ['reason']],
      [await refusal(() => resolveApprovalRequest(t.db, { id: 'apr_none', verdict: 'approve', comment: `looks fine ${forged}` }, ctx)), ['body.comment']],
      [
        await refusal(() =>
          decideAutonomy(
            { db: t.db, classify: () => ({ tier: 'autonomous', rule: 'r', reason: 'r' }) as never, violations: { inc: () => undefined }, approvalExpiryMinutes: 60 },
            { action: 'payment.refund', risk: 'high', purpose: forged },
            ctx,
          ),
        ),
        ['body.purpose'],
      ],
      [await refusal(() => eraseAuditPayload({ db: t.db, blobs: t.auditPayloads }, { sha256: hash, reason: forged }, ctx)), ['reason']],
      [await refusal(() => readAuditPayload({ db: t.db, blobs: t.auditPayloads }, hash, { ...ctx, reason: forged })), ['reason']],
      [await refusal(() => placeLegalHold({ db: t.db, retention: t.deps.config.audit.retention }, { caseId: 'CASE-11', reason: forged }, ctx)), ['reason']],
      [await refusal(() => releaseLegalHold({ db: t.db }, { id: 'hold_none', reason: forged }, ctx)), ['reason']],
    ];
    for (const [fields, expected] of refused) expect(fields).toEqual(expected);
    expect({ entries: await rows('audit_entries'), erasures: await rows('erasure_requests'), tokens: await rows('api_tokens'), elevations: await rows('elevations') }).toEqual(before);
  });

  it('takes the same text without them', async () => {
    const hold = await send('POST', '/api/v1/audit/holds', { caseId: 'CASE-10', reason: 'litigation hold, matter 2026-114 (Müller v. Bank)' });
    expect(hold.status, JSON.stringify(hold.json)).toBe(201);
    expect((await send('PATCH', `/api/v1/principals/${subjectId}`, { disabled: false, reason: 'quarterly review: ticket IAM-77' })).status).toBe(200);
  });
});
