import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordPendingAuditPayload, storeAuditPayload, type PendingAuditPayload } from '../../src/audit/index.js';
import { DEFAULT_RETENTION } from '../../src/core/index.js';
import { createFsBlobStore, createPgliteDb } from '../../src/store/index.js';
import { createPrincipalWithToken } from '../support/app.js';
import { cliEnv, runAssay, startAssayServer, type RunningServer } from '../support/cli.js';
import { appendInferenceEntry } from '../support/inference-entry.js';

const root = mkdtempSync(join(tmpdir(), 'assay-cli-payloads-'));
const home = join(root, 'home');
const blobPath = (sha256: string) => join(home, 'audit-payloads', 'sha256', sha256.slice(0, 2), sha256.slice(2, 4), sha256);

describe('assay audit hold / purge / erase against a running server', () => {
  let server: RunningServer | undefined;
  let complianceToken = '';
  let expired = '';
  let held = '';
  const assay = (args: string[], extra: Record<string, string> = {}) => runAssay(['--home', home, ...args], cliEnv(extra));

  beforeAll(async () => {
    expect(runAssay(['--home', home, 'init']).status).toBe(0);
    // The schedule would purge the seeded payloads at start; this test drives purges itself.
    writeFileSync(join(home, 'config.json'), JSON.stringify({ audit: { purgeIntervalSeconds: 0 } }));
    // Seeded before the server takes the embedded database: a compliance officer and two payloads past their maximum.
    const db = await createPgliteDb({ dataDir: join(home, 'db') });
    const blobs = await createFsBlobStore({ root: join(home, 'audit-payloads') });
    try {
      complianceToken = (await createPrincipalWithToken(db, { name: 'cora-compliance', roles: ['compliance-officer'] })).token;
      const clock = { now: () => new Date('2001-01-01T00:00:00.000Z') };
      const pending: PendingAuditPayload[] = [];
      for (const [body, subjectId] of [['{"q":"expired"}', 'subj-free'], ['{"q":"held"}', 'subj-cli']] as const) {
        pending.push(await recordPendingAuditPayload({ db, retention: DEFAULT_RETENTION }, { class: 'inference', mediaType: 'application/json', bytes: body, subjectId }));
      }
      const hashes = await db.transaction(async (tx) => {
        const hashes: string[] = [];
        for (const one of pending) {
          const p = await storeAuditPayload(tx, { blobs, retention: DEFAULT_RETENTION, clock }, one);
          await appendInferenceEntry(tx, { inferenceId: `inf_${one.subjectId ?? ''}`, requestSha256: p.sha256 });
          hashes.push(p.sha256);
        }
        return hashes;
      });
      expired = hashes[0]!;
      held = hashes[1]!;
    } finally {
      await blobs.close();
      await db.close();
    }
    server = await startAssayServer(home);
  });

  afterAll(async () => {
    await server?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('places and lists a hold; a dry-run purge reports what is due and what the hold keeps, and deletes nothing', () => {
    const placed = assay(['--json', 'audit', 'hold', 'place', '--case', 'CASE-CLI', '--reason', 'litigation', '--subject', 'subj-cli']);
    expect(placed.status, placed.stderr).toBe(0);
    const hold = JSON.parse(placed.stdout) as { id: string; caseId: string; active: boolean };
    expect(hold).toMatchObject({ caseId: 'CASE-CLI', active: true });

    const listed = assay(['audit', 'hold', 'list']);
    expect(listed.status, listed.stderr).toBe(0);
    expect(listed.stdout).toContain(hold.id);
    expect(listed.stdout).toContain('case CASE-CLI');
    expect(listed.stdout).toContain('subject subj-cli');
    const asJson = JSON.parse(assay(['--json', 'audit', 'hold', 'list']).stdout) as { holds: Array<{ id: string }> };
    expect(asJson.holds.map((h) => h.id)).toEqual([hold.id]);

    const dry = assay(['--json', 'audit', 'purge', '--dry-run']);
    expect(dry.status, dry.stderr).toBe(0);
    const report = JSON.parse(dry.stdout) as { dryRun: boolean; purged: Array<{ sha256: string }>; held: Array<{ sha256: string; holdIds: string[] }> };
    expect(report.dryRun).toBe(true);
    expect(report.purged.map((p) => p.sha256)).toEqual([expired]);
    expect(report.held).toEqual([expect.objectContaining({ sha256: held, holdIds: [hold.id] })]);
    expect(existsSync(blobPath(expired))).toBe(true);
    expect(existsSync(blobPath(held))).toBe(true);

    const human = assay(['audit', 'purge', '--dry-run']);
    expect(human.stdout).toContain('dry run: would purge 1 payload(s)');
    expect(human.stdout).toContain(`held by ${hold.id}`);
  });

  it('releases only with a compliance officer\'s token, then erases and purges', () => {
    const hold = (JSON.parse(assay(['--json', 'audit', 'hold', 'list']).stdout) as { holds: Array<{ id: string }> }).holds[0]!;
    const asAdmin = assay(['--json', 'audit', 'hold', 'release', hold.id, '--reason', 'settled']);
    expect(asAdmin.status).toBe(1);
    expect(JSON.parse(asAdmin.stderr)).toMatchObject({ error: { code: 'forbidden' } });

    const erasedUnderHold = assay(['audit', 'erase', held, '--reason', 'DSR-5'], { ASSAY_TOKEN: complianceToken });
    expect(erasedUnderHold.status).toBe(1);
    expect(erasedUnderHold.stderr).toContain('CASE-CLI');
    expect(existsSync(blobPath(held))).toBe(true);

    const released = assay(['audit', 'hold', 'release', hold.id, '--reason', 'settled'], { ASSAY_TOKEN: complianceToken });
    expect(released.status, released.stderr).toBe(0);
    expect(released.stdout).toContain(`released legal hold ${hold.id}`);

    const erased = assay(['audit', 'erase', held, '--reason', 'DSR-5'], { ASSAY_TOKEN: complianceToken });
    expect(erased.status, erased.stderr).toBe(0);
    expect(existsSync(blobPath(held))).toBe(false);

    const purged = JSON.parse(assay(['--json', 'audit', 'purge']).stdout) as { purged: Array<{ sha256: string; entryId: string }> };
    expect(purged.purged.map((p) => p.sha256)).toEqual([expired]);
    expect(existsSync(blobPath(expired))).toBe(false);
    expect(assay(['audit', 'purge', '--dry-run']).stdout).toContain('would purge 0 payload(s)');
  });

  it('names the flag or argument typed, not the API field, in a refusal (and the API field with --json)', () => {
    const asOfficer = (args: string[]) => assay(args, { ASSAY_TOKEN: complianceToken });
    const place = asOfficer(['audit', 'hold', 'place', '--case', ' ', '--reason', 'r', '--class', 'Not A Class', '--stored-from', 'yesterday']);
    expect(place.status).toBe(1);
    expect(place.stderr).toMatch(/--case: /);
    expect(place.stderr).toMatch(/--class \(1st\): must be a payload class name/);
    expect(place.stderr).toMatch(/--stored-from: /);
    expect(place.stderr).not.toMatch(/body\./);
    const release = asOfficer(['audit', 'hold', 'release', 'HOLD-7', '--reason', 'settled']);
    expect(release.status).toBe(1);
    expect(release.stderr).toMatch(/ID: must be a legal hold id/);
    expect(release.stderr).not.toContain('params.id');
    const erase = asOfficer(['audit', 'erase', 'not-a-hash', '--reason', 'DSR-6']);
    expect(erase.status).toBe(1);
    expect(erase.stderr).toMatch(/SHA256: must be 64 lowercase hexadecimal characters/);
    expect(erase.stderr).not.toContain('params.sha256');
    const reason = asOfficer(['audit', 'erase', expired, '--reason', ' ']);
    expect(reason.status).toBe(1);
    expect(reason.stderr).toMatch(/--reason: /);
    expect(reason.stderr).not.toContain('body.reason');
    // A window that ends before it starts: the message, too, speaks of what was typed.
    const backwards = asOfficer(['audit', 'hold', 'place', '--case', 'C-9', '--reason', 'r', '--stored-from', '2026-02-01', '--stored-to', '2026-01-01']);
    expect(backwards.status).toBe(1);
    expect(backwards.stderr).toMatch(/--stored-to: must be later than the stored-from time/);
    expect(backwards.stderr).not.toMatch(/storedFrom|body\./);
    const json = asOfficer(['--json', 'audit', 'hold', 'place', '--case', ' ', '--reason', 'r']);
    expect(JSON.parse(json.stderr)).toMatchObject({ error: { errors: [{ field: 'body.caseId' }] } });
  });

  it('reports usage errors with exit 2', () => {
    expect(assay(['audit', 'hold', 'place', '--reason', 'no case']).status).toBe(2);
    expect(assay(['audit', 'purge', '--limit', 'many']).status).toBe(2);
    expect(assay(['audit', 'hold', 'place', '--case', 'C', '--reason', 'r', '--resource', 'no-colon']).status).toBe(2);
  });
});
