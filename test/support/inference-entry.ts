import { appendAuditEntry } from '../../src/audit/index.js';
import type { Tx } from '../../src/store/index.js';

/**
 * What the inference gateway will write: an `inference.complete` entry by the gateway's service
 * account referencing a stored payload as `request`, in the payload's transaction.
 */
export function appendInferenceEntry(tx: Tx, input: { inferenceId: string; requestSha256: string }) {
  return appendAuditEntry(tx, {
    actor: { principalId: 'prn_gateway', kind: 'service', authenticatedBy: 'api_token' },
    action: 'inference.complete',
    resource: { type: 'inference', id: input.inferenceId },
    decision: { effect: 'allowed', policyIds: [] },
    outcome: 'succeeded',
    payloadRefs: [{ name: 'request', sha256: input.requestSha256 }],
  });
}
