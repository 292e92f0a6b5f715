import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ErasureRequestRecord } from '../../src/data/index.js';
import { createPgliteDb } from '../../src/store/index.js';
import { createPrincipalWithToken } from '../support/app.js';
import { cliEnv, fetchFresh, runAssay, type RunningServer, startAssayServer } from '../support/cli.js';

const root = mkdtempSync(join(tmpdir(), 'assay-cli-erasure-'));
const home = join(root, 'home');
const csv = join(root, 'loans.csv');
const features = join(root, 'loan-features.csv');

/** A Spark RunEvent reading the certified loans (as Assay's own events name it) into `output`. */
function sparkReadingLoans(run: { runId: string; job: Record<string, unknown>; output: { namespace: string; name: string } }): Record<string, unknown> {
  return {
    eventType: 'COMPLETE',
    eventTime: '2026-12-06T10:00:00.000Z',
    producer: 'https://example.com/spark',
    schemaURL: 'https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent',
    run: { runId: run.runId },
    job: run.job,
    inputs: [{ namespace: 'assay', name: 'loans' }],
    outputs: [run.output],
  };
}

describe('assay data erasure-request / erasure-requests against a running server', () => {
  let server: RunningServer | undefined;
  let scientist = { id: '', token: '' };
  let officer = { id: '', token: '' };
  let steward = { id: '', token: '' };
  let clearedOfficer = { id: '', token: '' };
  /** The orchestrator's lineage sender: it tags a job PII, so it is cleared for PII. */
  let spark = { id: '', token: '' };
  let requestId = '';
  const as = (token: string, args: string[]) => runAssay(['--home', home, ...args], cliEnv({ ASSAY_TOKEN: token }));

  beforeAll(async () => {
    writeFileSync(csv, 'customer_id,amount\nK-501,10\nK-502,20\n');
    expect(runAssay(['--home', home, 'init']).status).toBe(0);
    // Seeded before the server takes the embedded database.
    const db = await createPgliteDb({ dataDir: join(home, 'db') });
    try {
      scientist = await createPrincipalWithToken(db, { name: 'sam-scientist', roles: ['data-scientist'] });
      officer = await createPrincipalWithToken(db, { name: 'carla-compliance', roles: ['compliance-officer'] });
      steward = await createPrincipalWithToken(db, { name: 'stella-steward', roles: ['data-steward'] });
      clearedOfficer = await createPrincipalWithToken(db, { name: 'pia-compliance', roles: ['compliance-officer'], attributes: { clearance: ['pii'] } });
      spark = await createPrincipalWithToken(db, { name: 'spark-lineage', roles: ['data-steward'], kind: 'service', attributes: { clearance: ['pii'] } });
    } finally {
      await db.close();
    }
    server = await startAssayServer(home);
    const ingest = as(scientist.token, ['dataset', 'ingest', csv, '--name', 'loans', '--source-system', 'core', '--classification', 'internal', '--owner', 'carla-compliance', '--subject-id-column', 'customer_id']);
    expect(ingest.status, ingest.stderr).toBe(0);
    // A feature table built from it, without a subject index of its own.
    const promoted = as(steward.token, ['dataset', 'promote', 'loans', '1']);
    expect(promoted.status, promoted.stderr).toBe(0);
    writeFileSync(features, 'amount_band\n1\n2\n');
    const derived = as(scientist.token, [
      'dataset', 'ingest', features, '--name', 'loan-features', '--source-system', 'feature-store', '--classification', 'internal', '--owner', 'carla-compliance',
      '--derived-from', 'loans@1', '--code-sha256', 'a'.repeat(64),
    ]);
    expect(derived.status, derived.stderr).toBe(0);
  });

  afterAll(async () => {
    await server?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('a compliance officer files a request: the version holding the subject and the one derived from it are found, the id is not echoed', () => {
    const filed = as(officer.token, ['--json', 'data', 'erasure-request', '--subject-id', 'K-501', '--reason', 'Art. 17(1)(b), ticket DSR-1']);
    expect(filed.status, filed.stderr).toBe(0);
    const r = JSON.parse(filed.stdout) as ErasureRequestRecord;
    expect(r).toMatchObject({
      requestedBy: officer.id,
      status: 'open',
      datasetVersionCount: 1,
      derivedDatasetVersionCount: 1,
      modelCount: 0,
      datasetVersions: [{ dataset: 'loans', version: 1, state: 'certified' }],
      derivedDatasetVersions: [{ dataset: 'loan-features', version: 1, state: 'quarantine' }],
    });
    expect(filed.stdout).not.toContain('K-501');
    requestId = r.id;

    const human = as(officer.token, ['data', 'erasure-request', '--subject-id', 'K-999', '--reason', 'Art. 17(1)(a), ticket DSR-2']);
    expect(human.status, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/^era_[0-9A-Z]{26} {2}open {2}by .* 0 dataset versions, 0 derived dataset versions, 0 external datasets, 0 models, 0 flagged retrain_required {2}reason: Art\. 17\(1\)\(a\), ticket DSR-2\n$/);
  });

  it('lists and shows requests', () => {
    const listed = as(officer.token, ['data', 'erasure-requests', 'list']);
    expect(listed.status, listed.stderr).toBe(0);
    expect(listed.stdout.trim().split('\n')).toHaveLength(2);
    expect(listed.stdout).toContain(`${requestId}  open`);
    const shown = as(officer.token, ['data', 'erasure-requests', 'show', requestId]);
    expect(shown.status, shown.stderr).toBe(0);
    expect(shown.stdout).toContain('1 dataset version, 1 derived dataset version, 0 external datasets, 0 models');
    expect(shown.stdout).toMatch(/\n {2}dataset loans v1 \(dsv_[0-9A-Z]{26}, certified\)\n {2}derived dataset loan-features v1 \(dsv_[0-9A-Z]{26}, quarantine\)\n$/);
    const json = JSON.parse(as(officer.token, ['--json', 'data', 'erasure-requests', 'list', '--status', 'open']).stdout) as { erasureRequests: Array<{ id: string }> };
    expect(json.erasureRequests.map((x) => x.id)).toContain(requestId);
  });

  it('shows the names of outside tables as escapes, so an escape sequence or a line break in one cannot forge what the officer reads', async () => {
    // A pipeline reported a copy of the certified loans under a name holding a terminal escape
    // sequence, a right-to-left override and a line break that would start a fake line. The
    // server now refuses such names, so they are written as an earlier release stored them: the
    // event goes in with plain names, and the names are rewritten while the server is stopped.
    const event = sparkReadingLoans({ runId: '01890a5d-ac96-774b-b0a4-6c2b7e0c8a01', job: { namespace: 'spark', name: 'copy' }, output: { namespace: 's3://x', name: 'copy' } });
    const res = await fetchFresh(`${server!.url}/api/v1/lineage`, { method: 'POST', headers: { authorization: `Bearer ${steward.token}`, 'content-type': 'application/json' }, body: JSON.stringify(event) });
    expect(res.status, await res.text()).toBe(201);
    await server!.stop();
    const db = await createPgliteDb({ dataDir: join(home, 'db') });
    try {
      const renamed = await db.query(`UPDATE lineage_nodes SET namespace = $1, name = $2 WHERE type = 'external_dataset' AND namespace = 's3://x' AND name = 'copy'`, [
        's3://x\u001b[2J',
        'copy\u202e\nFAKE: 0 external datasets',
      ]);
      expect(renamed.rowCount).toBe(1);
    } finally {
      await db.close();
    }
    server = await startAssayServer(home);
    const filed = as(officer.token, ['data', 'erasure-request', '--subject-id', 'K-502', '--reason', 'Art. 17(1)(b), ticket DSR-3']);
    expect(filed.status, filed.stderr).toBe(0);
    expect(filed.stdout).toMatch(/\n {2}external dataset s3:\/\/x\\u\{1B\}\[2J copy\\u\{202E\}\\u\{A\}FAKE: 0 external datasets \(lnd_[0-9A-Z]{26}\)\n/);
    expect(filed.stdout).not.toMatch(/[\u001b\u202e]|\nFAKE/); // eslint-disable-line no-control-regex -- the test looks for the raw characters
  });

  it('names an outside table reached only through a PII job to an officer cleared for PII, and counts it as withheld for the others', async () => {
    const piiTags = { _producer: 'https://example.com/spark', _schemaURL: 'https://openlineage.io/spec/facets/1-0-0/TagsJobFacet.json#/$defs/TagsJobFacet', tags: [{ key: 'pii', value: 'true' }] };
    const event = sparkReadingLoans({ runId: '01890a5d-ac96-774b-b0a4-6c2b7e0c8a02', job: { namespace: 'spark', name: 'enrich', facets: { tags: piiTags } }, output: { namespace: 's3://y', name: 'loans_enriched' } });
    const res = await fetchFresh(`${server!.url}/api/v1/lineage`, { method: 'POST', headers: { authorization: `Bearer ${spark.token}`, 'content-type': 'application/json' }, body: JSON.stringify(event) });
    expect(res.status, await res.text()).toBe(201);
    const filed = as(officer.token, ['data', 'erasure-request', '--subject-id', 'K-501', '--reason', 'Art. 17(1)(b), ticket DSR-4']);
    expect(filed.status, filed.stderr).toBe(0);
    expect(filed.stdout).not.toContain('loans_enriched');
    expect(filed.stdout).toContain('  withheld: 0 dataset versions, 0 derived dataset versions, 1 external dataset and 0 models in lineage domains you are not cleared for, or reached only through them');
    const id = /^(era_[0-9A-Z]{26}) /.exec(filed.stdout)?.[1] ?? '';
    const shown = as(clearedOfficer.token, ['data', 'erasure-requests', 'show', id]);
    expect(shown.status, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/\n {2}external dataset s3:\/\/y loans_enriched \(lnd_[0-9A-Z]{26}\)\n/);
    expect(shown.stdout).not.toContain('withheld');
  });

  it('exits 1 naming the field or the policy, 2 on a usage error', () => {
    const blank = as(officer.token, ['--json', 'data', 'erasure-request', '--subject-id', '  ', '--reason', 'Art. 17(1)(b)']);
    expect(blank.status).toBe(1);
    expect(JSON.parse(blank.stderr)).toMatchObject({ error: { code: 'validation_failed', errors: [{ field: 'body.subjectId' }] } });
    const denied = as(scientist.token, ['--json', 'data', 'erasure-request', '--subject-id', 'K-501', '--reason', 'Art. 17(1)(b)']);
    expect(denied.status).toBe(1);
    expect(JSON.parse(denied.stderr)).toMatchObject({ error: { code: 'forbidden' } });
    expect(as(officer.token, ['data', 'erasure-request', '--subject-id', 'K-501']).status).toBe(2);
    expect(as(officer.token, ['data', 'erasure-requests', 'list', '--status', 'pending']).status).toBe(2);
  });

  it('names the flag or argument the officer typed, not the API field, in a refusal (and the API field with --json)', () => {
    const blank = as(officer.token, ['data', 'erasure-request', '--subject-id', '  ', '--reason', 'Art. 17(1)(b)']);
    expect(blank.status).toBe(1);
    expect(blank.stderr).toContain('--subject-id');
    expect(blank.stderr).not.toContain('body.subjectId');
    const quoting = as(officer.token, ['data', 'erasure-request', '--subject-id', 'K-501', '--reason', 'letter from K-501']);
    expect(quoting.status).toBe(1);
    expect(quoting.stderr).toMatch(/--reason: must not contain the subject id/);
    expect(quoting.stderr).not.toContain('body.reason');
    const badId = as(officer.token, ['data', 'erasure-requests', 'show', 'DSR-7']);
    expect(badId.status).toBe(1);
    expect(badId.stderr).toMatch(/ID: must be an erasure request id/);
    expect(badId.stderr).not.toContain('params.id');
    const json = as(officer.token, ['--json', 'data', 'erasure-request', '--subject-id', 'K-501', '--reason', 'letter from K-501']);
    expect(JSON.parse(json.stderr)).toMatchObject({ error: { errors: [{ field: 'body.reason' }] } });
  });
});
