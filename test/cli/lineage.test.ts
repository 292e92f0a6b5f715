import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_EVENTS_PER_REQUEST } from '../../src/lineage/index.js';
import { createPgliteDb } from '../../src/store/index.js';
import { createPrincipalWithToken } from '../support/app.js';
import { cliEnv, runAssay, startAssayServer, type RunningServer } from '../support/cli.js';

// `assay lineage send` and `assay lineage graph` over the real server of a fresh home: an
// Airflow-like pipeline's events sent from a file, then traced as a person reads them.

const root = mkdtempSync(join(tmpdir(), 'assay-cli-lineage-'));
const home = join(root, 'home');
const file = (name: string): string => join(root, name);
let server: RunningServer | undefined;
let engineer = '';
let viewer = '';

afterAll(async () => {
  await server?.stop();
  rmSync(root, { recursive: true, force: true });
});

const as = (token: string, args: string[]) => runAssay(['--home', home, ...args], cliEnv({ ASSAY_TOKEN: token }));

/** A COMPLETE RunEvent of job `job` in namespace `airflow`, reading `input` and writing `output` (namespace `warehouse`). */
function runEvent(job: string, input: string, output: string, runNumber: number): Record<string, unknown> {
  return {
    eventType: 'COMPLETE',
    eventTime: '2026-11-02T08:00:00.000Z',
    producer: 'https://github.com/OpenLineage/OpenLineage/tree/1.24.0/integration/airflow',
    schemaURL: 'https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent',
    run: { runId: `0193a0c4-7d2e-7c1a-9f3b-${String(runNumber).padStart(12, '0')}` },
    job: { namespace: 'airflow', name: job },
    inputs: [{ namespace: 'warehouse', name: input }],
    outputs: [{ namespace: 'warehouse', name: output }],
  };
}

beforeAll(async () => {
  expect(runAssay(['--home', home, 'init']).status).toBe(0);
  const db = await createPgliteDb({ dataDir: join(home, 'db') });
  try {
    engineer = (await createPrincipalWithToken(db, { name: 'erin-engineer', roles: ['ml-engineer'] })).token;
    viewer = (await createPrincipalWithToken(db, { name: 'val-validator', roles: ['model-validator'] })).token;
  } finally {
    await db.close();
  }
  server = await startAssayServer(home);
}, 120_000);

// Each test runs CLI processes one after another: on a loaded machine each takes seconds to start.
describe('assay lineage send / graph', { timeout: 180_000 }, () => {
  it('sends JSON Lines events and traces them: each edge upstream → downstream, named as a person reads it', () => {
    const lines = [runEvent('extract_loans', 'core.loans', 'staging.loans', 1), runEvent('score_loans', 'staging.loans', 'marts.scores', 2)];
    writeFileSync(file('events.jsonl'), `${JSON.stringify(lines[0])}\n\n${JSON.stringify(lines[1])}\n`);
    const sent = as(engineer, ['lineage', 'send', file('events.jsonl')]);
    expect(sent.status, sent.stderr).toBe(0);
    expect(sent.stdout).toMatch(/^events 1–2: recorded \(2 events, audit entry \S+\)\n$/);

    const traced = as(viewer, ['lineage', 'graph', '--namespace', 'warehouse', '--name', 'marts.scores', '--kind', 'dataset', '--direction', 'up', '--depth', '4']);
    expect(traced.status, traced.stderr).toBe(0);
    expect(traced.stdout.split('\n')[0]).toBe('lineage up from dataset warehouse marts.scores, depth 4: 7 nodes, 6 edges');
    expect(traced.stdout).toContain('  external_job airflow score_loans —run_of→ external_run airflow 0193a0c4-7d2e-7c1a-9f3b-000000000002\n');
    expect(traced.stdout).toContain('  external_dataset warehouse staging.loans —input→ external_run');
    expect(traced.stdout).toMatch(/external_run \S+ \S+ —output→ external_dataset warehouse marts\.scores\n/);
    expect(traced.stdout).toContain('external_dataset warehouse core.loans —input→ external_run');

    const asJson = JSON.parse(as(viewer, ['--json', 'lineage', 'graph', '--namespace', 'warehouse', '--name', 'core.loans', '--kind', 'dataset', '--direction', 'down']).stdout) as {
      nodes: Array<{ name?: string }>;
      truncated: boolean;
    };
    expect(asJson.nodes.map((n) => n.name)).toContain('marts.scores');
    expect(asJson.truncated).toBe(false);
  });

  it('a file of more events than one request takes goes in batches; a refused batch stops the send, naming the event and where to resume', () => {
    const many = Array.from({ length: MAX_EVENTS_PER_REQUEST + 2 }, (_, i) => runEvent(`job_${i}`, `in_${i}`, `out_${i}`, 100 + i));
    writeFileSync(file('many.json'), JSON.stringify(many));
    const sent = as(engineer, ['lineage', 'send', file('many.json')]);
    expect(sent.status, sent.stderr).toBe(0);
    expect(sent.stdout.trim().split('\n').map((l) => l.replace(/, audit entry \S+\)/, ')'))).toEqual([
      `events 1–${MAX_EVENTS_PER_REQUEST}: recorded (${MAX_EVENTS_PER_REQUEST} events)`,
      `events ${MAX_EVENTS_PER_REQUEST + 1}–${MAX_EVENTS_PER_REQUEST + 2}: recorded (2 events)`,
    ]);

    // The third event lacks its run id: its batch is refused whole, and what came before stays recorded.
    const broken = [runEvent('a', 'x1', 'y1', 9001), runEvent('b', 'x2', 'y2', 9002), runEvent('c', 'x3', 'y3', 9003)];
    delete (broken[2]!.run as Record<string, unknown>).runId;
    writeFileSync(file('broken.jsonl'), broken.map((e) => JSON.stringify(e)).join('\n'));
    const refused = as(engineer, ['lineage', 'send', file('broken.jsonl')]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('events 1–3 were refused and nothing from event 1 on was recorded (fix it, then resend with --from 1)');
    expect(refused.stderr).toContain('event 3 (line 3): run');
    expect(refused.stderr).not.toMatch(/body\.\d/);
    const graph = JSON.parse(as(viewer, ['--json', 'lineage', 'graph', '--namespace', 'warehouse', '--name', 'x1', '--kind', 'dataset']).stderr || '{}') as { error?: { code: string } };
    expect(graph.error?.code).toBe('not_found');

    // Fixed, the rest is sent from where it stopped.
    writeFileSync(file('fixed.jsonl'), readFileSync(file('broken.jsonl'), 'utf8').replace(/"run":\{\}/, '"run":{"runId":"0193a0c4-7d2e-7c1a-9f3b-000000009003"}'));
    const resumed = as(engineer, ['lineage', 'send', file('fixed.jsonl'), '--from', '3']);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(/^events 3–3: recorded \(1 event, audit entry \S+\)\n$/);
  });

  it.each([
    ['a graph with no start', ['lineage', 'graph']],
    ['a graph with --node and --name', ['lineage', 'graph', '--node', 'dsv_x', '--name', 'y']],
    ['a graph with --namespace but no --kind', ['lineage', 'graph', '--namespace', 'warehouse', '--name', 'y']],
    ['a missing events file', ['lineage', 'send', file('missing.json')]],
    ['--from past the events', ['lineage', 'send', file('events.jsonl'), '--from', '3']],
    ['--from that is no number', ['lineage', 'send', file('events.jsonl'), '--from', 'two']],
  ])('%s → exit 2, nothing sent', (_label, args) => {
    const r = as(engineer, args);
    expect(r.status, r.stdout).toBe(2);
    expect(r.stderr).toMatch(/error/);
    expect(r.stdout).toBe('');
  });

  it('a line that is not JSON is named before anything is sent; a refused query names the flag', () => {
    writeFileSync(file('bad.jsonl'), `${JSON.stringify(runEvent('d', 'x4', 'y4', 9004))}\n{not json\n`);
    const bad = as(engineer, ['lineage', 'send', file('bad.jsonl')]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain(`line 2 of ${file('bad.jsonl')} is not JSON`);
    const depth = as(viewer, ['lineage', 'graph', '--namespace', 'warehouse', '--name', 'x4', '--kind', 'dataset']);
    expect(depth.status).toBe(1); // nothing of bad.jsonl was sent

    const tooDeep = as(viewer, ['lineage', 'graph', '--node', 'dsv_x', '--depth', '99']);
    expect(tooDeep.status).toBe(1);
    expect(tooDeep.stderr).toContain('--depth: an integer from 0 to 20');
  });
});
