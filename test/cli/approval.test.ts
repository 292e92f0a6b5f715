import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgliteDb } from '../../src/store/index.js';
import { createPrincipalWithToken } from '../support/app.js';
import { cliEnv, runAssay, startAssayServer, type RunningServer } from '../support/cli.js';

const root = mkdtempSync(join(tmpdir(), 'assay-cli-approval-'));
const home = join(root, 'home');

describe('assay policy decide / assay approval against a running server', () => {
  let server: RunningServer | undefined;
  let agentToken = '';
  let officerToken = '';
  let approvalId = '';
  const as = (token: string, args: string[]) => runAssay(['--home', home, ...args], cliEnv({ ASSAY_TOKEN: token }));
  const spend = ['policy', 'decide', '--action', 'compute.spend', '--risk', 'medium', '--amount', '5000', '--purpose', 'retrain the fraud model'];

  beforeAll(async () => {
    expect(runAssay(['--home', home, 'init']).status).toBe(0);
    // Seeded before the server takes the embedded database.
    const db = await createPgliteDb({ dataDir: join(home, 'db') });
    try {
      agentToken = (await createPrincipalWithToken(db, { name: 'budget-bot', roles: ['app-client'], kind: 'agent' })).token;
      officerToken = (await createPrincipalWithToken(db, { name: 'rita-risk', roles: ['risk-officer'] })).token;
    } finally {
      await db.close();
    }
    server = await startAssayServer(home);
  });

  afterAll(async () => {
    await server?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('an agent asks; require_approval opens a request that a risk officer lists', () => {
    const small = as(agentToken, ['policy', 'decide', '--action', 'compute.spend', '--risk', 'low', '--amount', '20', '--purpose', 'nightly eval']);
    expect(small.status, small.stderr).toBe(0);
    expect(small.stdout).toMatch(/^autonomous \(rule autonomy\.compute-spend\)/);

    const asked = as(agentToken, ['--json', ...spend]);
    expect(asked.status, asked.stderr).toBe(0);
    const answer = JSON.parse(asked.stdout) as { decision: string; approval: { id: string; status: string } };
    expect(answer).toMatchObject({ decision: 'require_approval', approval: { status: 'pending' } });
    approvalId = answer.approval.id;

    const listed = as(officerToken, ['approval', 'list']);
    expect(listed.status, listed.stderr).toBe(0);
    expect(listed.stdout).toContain(`${approvalId}  compute.spend (medium amount 5000)`);
    expect(as(officerToken, ['approval', 'list', '--status', 'approved']).stdout).toBe('no approved approval requests\n');
  });

  it('the agent may neither approve its own request nor act before a human did', () => {
    const self = as(agentToken, ['--json', 'approval', 'approve', approvalId, '--comment', 'looks fine to me']);
    expect(self.status).toBe(1);
    expect(JSON.parse(self.stderr)).toMatchObject({ error: { code: 'forbidden' } });
    const early = as(agentToken, ['--json', ...spend, '--approval', approvalId]);
    expect(early.status).toBe(1);
    expect(JSON.parse(early.stderr)).toMatchObject({ error: { code: 'conflict', errors: [{ field: 'body.approvalId' }] } });
  });

  it('a risk officer approves with a comment; the agent acts once', () => {
    const noComment = runAssay(['--home', home, 'approval', 'approve', approvalId], cliEnv({ ASSAY_TOKEN: officerToken }));
    expect(noComment.status).toBe(2);
    const approved = as(officerToken, ['approval', 'approve', approvalId, '--comment', 'budget line FIN-22']);
    expect(approved.status, approved.stderr).toBe(0);
    expect(approved.stdout).toContain('approved by');
    expect(approved.stdout).toContain('budget line FIN-22');

    const go = as(agentToken, ['--json', ...spend, '--approval', approvalId]);
    expect(go.status, go.stderr).toBe(0);
    expect(JSON.parse(go.stdout)).toMatchObject({ decision: 'approved', approval: { id: approvalId, status: 'redeemed' } });
    const again = as(agentToken, [...spend, '--approval', approvalId]);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain('already_redeemed');
    const shown = JSON.parse(as(officerToken, ['--json', 'approval', 'show', approvalId]).stdout) as { status: string; comment: string };
    expect(shown).toMatchObject({ status: 'redeemed', comment: 'budget line FIN-22' });
  });

  it('names the flag or argument typed, not the API field, in a refusal (and the API field with --json)', () => {
    const decide = as(agentToken, ['policy', 'decide', '--action', 'spend money', '--risk', 'low', '--purpose', 'p', '--approval', 'apr_1']);
    expect(decide.status).toBe(1);
    expect(decide.stderr).toMatch(/--action: a dotted action type/);
    expect(decide.stderr).toMatch(/--purpose: /);
    expect(decide.stderr).toMatch(/--approval: must be an approval request id/);
    expect(decide.stderr).not.toMatch(/body\./);
    const badId = as(officerToken, ['approval', 'approve', 'APR-7', '--comment', 'budget line FIN-22']);
    expect(badId.status).toBe(1);
    expect(badId.stderr).toMatch(/ID: must be an approval request id/);
    expect(badId.stderr).not.toContain('params.id');
    const short = as(officerToken, ['approval', 'reject', approvalId, '--comment', 'no']);
    expect(short.status).toBe(1);
    expect(short.stderr).toMatch(/--comment: /);
    expect(short.stderr).not.toContain('body.comment');
    const json = as(officerToken, ['--json', 'approval', 'reject', approvalId, '--comment', 'no']);
    expect(JSON.parse(json.stderr)).toMatchObject({ error: { errors: [{ field: 'body.comment' }] } });
  });

  it('refuses a bad risk or amount before asking the server', () => {
    expect(as(agentToken, ['policy', 'decide', '--action', 'x.y', '--risk', 'extreme', '--purpose', 'p']).status).toBe(2);
    expect(as(agentToken, ['policy', 'decide', '--action', 'x.y', '--risk', 'low', '--amount', '-3', '--purpose', 'p']).status).toBe(2);
  });
});
