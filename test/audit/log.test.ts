import { createHash, randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendAuditEntry, sequenceBatch } from '../../src/audit/index.js';
import { canonicalJson } from '../../src/core/index.js';
import { verifyCheckpointNote } from '../support/c2sp-note-verifier.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { randomEntry } from '../support/audit-entries.js';
import { eachBackend } from '../support/databases.js';
import { rfcLeafHash, rfcVerifyConsistency, rfcVerifyInclusion } from '../support/rfc9162-verifier.js';



describe.each(eachBackend().map((b) => [b.name, b] as const))('audit log [%s]', (_name, backend) => {
  let t: TestApp;
  const get = async (url: string): Promise<{ status: number; text: string }> => {
    const r = await t.app.inject({ url, headers: { authorization: `Bearer ${t.adminToken}` } });
    return { status: r.statusCode, text: r.body };
  };
  const getJson = async <T>(url: string): Promise<T> => JSON.parse((await get(url)).text) as T;

  beforeAll(async () => {
    t = await createTestApp(backend);
  });
  afterAll(async () => t?.close());

  it('sequences 1000 audited actions into a gap-free tree whose checkpoints and proofs an outsider can verify', async () => {
    const key = t.keyring.active();
    const total = 1000;
    const checkpoints: string[] = [];
    // Commit in uneven transactions and sequence in uneven batches, interleaved.
    let i = 0;
    while (i < total) {
      const n = Math.min(total - i, 1 + randomInt(120));
      const start = i;
      await t.db.transaction(async (tx) => {
        for (let k = start; k < start + n; k++) await appendAuditEntry(tx, randomEntry(k));
      });
      i += n;
      const r = await sequenceBatch(t.db, { key, maxBatch: 1 + randomInt(200) });
      expect(r.leader).toBe(true);
      checkpoints.push((await get('/api/v1/audit/checkpoint')).text);
    }
    // Drain without HTTP in the loop: every API request records its authorisation decision,
    // so reading a checkpoint between rounds would keep the queue from ever emptying.
    for (;;) {
      const r = await sequenceBatch(t.db, { key });
      if (r.sequenced === 0) break;
    }
    checkpoints.push((await get('/api/v1/audit/checkpoint')).text);

    const vkey = (await get('/api/v1/audit/public-key')).text;
    const cps = checkpoints.map((note) => verifyCheckpointNote(note, vkey));
    const last = cps[cps.length - 1]!;
    // The bootstrap (admin + token = 2) precedes ours; every API request above added an
    // `authz.decide` entry, interleaved with ours.
    const bootstrapEntries = 2;
    expect(last.size).toBeGreaterThanOrEqual(total + bootstrapEntries);
    expect(last.origin).toMatch(/^assay\/[0-9a-f]{16}$/);

    // Leaves: exact bytes, consecutive, each the canonical JSON of its entry with its index.
    const leaves: Buffer[] = [];
    for (let s = 0; s < last.size; s += 1000) {
      const page = await getJson<{ leaves: string[] }>(`/api/v1/audit/leaves?start=${s}&end=${Math.min(s + 1000, last.size)}`);
      leaves.push(...page.leaves.map((l) => Buffer.from(l, 'base64')));
    }
    expect(leaves).toHaveLength(last.size);
    leaves.forEach((leaf, index) => {
      const parsed = JSON.parse(leaf.toString('utf8')) as { index: number };
      expect(parsed.index).toBe(index);
      expect(canonicalJson(parsed)).toBe(leaf.toString('utf8'));
    });
    const ours = leaves
      .map((l) => JSON.parse(l.toString('utf8')) as { requestId: string; action: string })
      .filter((e) => e.action !== 'authz.decide')
      .slice(bootstrapEntries);
    expect(ours.map((e) => e.requestId)).toEqual(Array.from({ length: total }, (_, k) => `req_${k}`));

    // Inclusion of a sample of leaves in the latest checkpoint, checked by the independent verifier.
    for (const index of [0, 1, 2, 511, 512, 777, last.size - 1]) {
      const { proof } = await getJson<{ proof: string[] }>(`/api/v1/audit/proof/inclusion?index=${index}&size=${last.size}`);
      const ok = rfcVerifyInclusion({
        leafIndex: index,
        treeSize: last.size,
        leafHash: rfcLeafHash(leaves[index]!),
        inclusionPath: proof.map((p) => Buffer.from(p, 'base64')),
        rootHash: last.root,
      });
      expect(ok, `leaf ${index}`).toBe(true);
      const wrong = rfcVerifyInclusion({
        leafIndex: index,
        treeSize: last.size,
        leafHash: createHash('sha256').update('forged').digest(),
        inclusionPath: proof.map((p) => Buffer.from(p, 'base64')),
        rootHash: last.root,
      });
      expect(wrong).toBe(false);
    }

    // Every consecutive pair of checkpoints is consistent.
    for (let k = 1; k < cps.length; k++) {
      const a = cps[k - 1]!;
      const b = cps[k]!;
      if (a.size === b.size) continue;
      const { proof } = await getJson<{ proof: string[] }>(`/api/v1/audit/proof/consistency?from=${a.size}&to=${b.size}`);
      const ok = rfcVerifyConsistency({
        first: a.size,
        second: b.size,
        firstHash: a.root,
        secondHash: b.root,
        consistencyPath: proof.map((p) => Buffer.from(p, 'base64')),
      });
      expect(ok, `${a.size} → ${b.size}`).toBe(true);
    }
  });

  it('rejects proof requests outside the log with 400 naming the parameter', async () => {
    const size = (await getJson<{ leaves: string[] }>('/api/v1/audit/leaves?start=0&end=1')).leaves.length;
    expect(size).toBe(1);
    for (const [url, field] of [
      ['/api/v1/audit/proof/inclusion?index=5&size=99999999', 'query.size'],
      ['/api/v1/audit/proof/inclusion?index=7&size=7', 'query.index'],
      ['/api/v1/audit/proof/consistency?from=0&to=3', 'query.from'],
      ['/api/v1/audit/leaves?start=0&end=1001', 'query.end'],
      ['/api/v1/audit/leaves?start=a&end=2', 'query.start'],
    ] as const) {
      const r = await get(url);
      expect(r.status, url).toBe(400);
      expect(JSON.parse(r.text).errors[0].field).toBe(field);
    }
  });

  it('reports sequencer lag and checkpoint age for monitoring', async () => {
    const key = t.keyring.active();
    while ((await sequenceBatch(t.db, { key })).sequenced > 0);
    await t.db.transaction(async (tx) => {
      for (let k = 0; k < 3; k++) await appendAuditEntry(tx, randomEntry(5000 + k));
    });
    const waiting = await getJson<{ size: number; pending: number; sequencerLagSeconds: number; latestCheckpointSize: number }>('/api/v1/audit/status');
    // Ours, plus this request's own authorisation decision (committed before the handler ran).
    expect(waiting.pending).toBe(4);
    expect(waiting.sequencerLagSeconds).toBeGreaterThanOrEqual(0);
    expect(waiting.latestCheckpointSize).toBe(waiting.size);
    await sequenceBatch(t.db, { key });
    const done = await getJson<{ size: number; pending: number; sequencerLagSeconds: number; latestCheckpointSize: number; checkpointAgeSeconds: number }>('/api/v1/audit/status');
    expect(done).toMatchObject({ size: waiting.size + 4, pending: 1, latestCheckpointSize: waiting.size + 4 });
    expect(done.checkpointAgeSeconds).toBeGreaterThanOrEqual(0);
  });

  it('searches entries by action and actor, page by page, with each entry\'s log index', async () => {
    const expected = (await t.db.query<{ id: string }>(`SELECT id FROM audit_entries WHERE action = 'model.approve' ORDER BY id`)).rows.map((r) => r.id);
    expect(expected.length).toBeGreaterThan(100);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { entries: Array<{ id: string; action: string; index: number | null }>; nextCursor: string | null } = await getJson(
        `/api/v1/audit/entries?action=model.approve&limit=37${cursor ? `&cursor=${cursor}` : ''}`,
      );
      for (const e of page.entries) {
        expect(e.action).toBe('model.approve');
        expect(e.index).toEqual(expect.any(Number));
      }
      seen.push(...page.entries.map((e) => e.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(expected);

    const byActor = await getJson<{ entries: Array<{ actor: { principalId: string } }> }>(`/api/v1/audit/entries?actor=prn_1&limit=1000`);
    expect(byActor.entries.length).toBeGreaterThan(0);
    expect(byActor.entries.every((e) => e.actor.principalId === 'prn_1')).toBe(true);
    const none = await getJson<{ entries: unknown[] }>(`/api/v1/audit/entries?from=2999-01-01T00:00:00Z`);
    expect(none.entries).toEqual([]);

    for (const [url, field] of [
      ['/api/v1/audit/entries?from=yesterday', 'query.from'],
      ['/api/v1/audit/entries?limit=5000', 'query.limit'],
      ['/api/v1/audit/entries?cursor=../../x', 'query.cursor'],
      ['/api/v1/audit/entries?colour=red', 'query.colour'],
    ] as const) {
      const r = await get(url);
      expect(r.status, url).toBe(400);
      expect(JSON.parse(r.text).errors[0].field).toBe(field);
    }
  });
});
