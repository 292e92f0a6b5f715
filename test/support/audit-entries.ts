import { randomInt } from 'node:crypto';
import type { AuditEntryInput } from '../../src/audit/index.js';

const ACTIONS = ['dataset.ingest', 'dataset.promote', 'model.approve', 'deployment.create', 'token.issue'];

/** A varied audit entry for test logs: actions cycle, every 7th is a denial, odd ones carry a Unicode reason. */
export function randomEntry(i: number): AuditEntryInput {
  return {
    actor: { principalId: `prn_${randomInt(5)}`, kind: 'human', authenticatedBy: 'api_token' },
    action: ACTIONS[i % ACTIONS.length]!,
    resource: { type: 'thing', id: `thing_${i}` },
    decision: { effect: i % 7 === 0 ? 'denied' : 'allowed', policyIds: [`policy${i % 3}`] },
    outcome: i % 7 === 0 ? 'failed' : 'succeeded',
    ...(i % 2 ? { reason: `because ${i} — ünïcode ✓` } : {}),
    requestId: `req_${i}`,
  };
}
