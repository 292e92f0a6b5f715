import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendAuditEntry, sequenceBatch, verifyAuditLogSnapshot, type AuditVerifyReport } from '../../src/audit/index.js';
import type { Tx } from '../../src/store/index.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { randomEntry } from '../support/audit-entries.js';
import { eachBackend } from '../support/databases.js';

// verifyAuditLogSnapshot is what the CLI and the API run. On PostgreSQL it reads the leaves over
// several connections sharing one exported snapshot, batches streaming at once, and must still
// check them in log order: these tests commit their tampering (other connections cannot see an
// uncommitted change), verify, and undo it.

const PROTECTED = ['audit_entries', 'audit_leaves'];
const TOTAL = 400;

describe.each(eachBackend().map((b) => [b.name, b] as const))('audit verify over one snapshot [%s]', (_name, backend) => {
  let t: TestApp;
  let size = 0;
  let checkpoints = 0;

  const verify = (batchSize?: number): Promise<AuditVerifyReport> =>
    verifyAuditLogSnapshot({
      db: t.db,
      publicKeys: t.keyring.list().map((k) => Buffer.from(k.publicKey, 'base64')),
      ...(batchSize === undefined ? {} : { batchSize }),
    });

  /** Commits `change` with the append-only triggers off. */
  const commit = (change: (tx: Tx) => Promise<void>): Promise<void> =>
    t.db.transaction(async (tx) => {
      for (const table of PROTECTED) await tx.query(`ALTER TABLE ${table} DISABLE TRIGGER USER`);
      await change(tx);
      for (const table of PROTECTED) await tx.query(`ALTER TABLE ${table} ENABLE TRIGGER USER`);
    });

  /** Verifies with the log tampered by `apply` (committed), then commits `undo` and checks the log is whole again. */
  async function whileTampered(apply: (tx: Tx) => Promise<void>, undo: (tx: Tx) => Promise<void>, batchSize: number): Promise<AuditVerifyReport> {
    await commit(apply);
    try {
      return await verify(batchSize);
    } finally {
      await commit(undo);
      expect(await verify()).toEqual({ ok: true, size, checkpoints });
    }
  }

  const entryIdAt = async (idx: number): Promise<string> =>
    (await t.db.query<{ entry_id: string }>('SELECT entry_id FROM audit_leaves WHERE idx = $1', [idx])).rows[0]!.entry_id;
  // Past the first batches, so the problem is in a batch read while others stream.
  const laterIndex = (): number => 100 + randomInt(size - 100);

  beforeAll(async () => {
    t = await createTestApp(backend);
    const key = t.keyring.active();
    for (let i = 0; i < TOTAL; i += 40) {
      await t.db.transaction(async (tx) => {
        for (let k = i; k < i + 40; k++) await appendAuditEntry(tx, randomEntry(k));
      });
      await sequenceBatch(t.db, { key, maxBatch: 1 + randomInt(50) });
    }
    while ((await sequenceBatch(t.db, { key })).sequenced > 0);
    const state = await t.db.query<{ size: number; checkpoints: number }>(
      'SELECT size, (SELECT count(*)::int FROM audit_checkpoints) AS checkpoints FROM audit_log_state',
    );
    size = Number(state.rows[0]!.size);
    checkpoints = state.rows[0]!.checkpoints;
  }, 120_000);
  afterAll(async () => t?.close());

  it('accepts the untampered log whatever the batch size', async () => {
    expect(size).toBeGreaterThan(TOTAL);
    for (const batchSize of [undefined, 1, 7, 64]) {
      expect(await verify(batchSize), `batch ${String(batchSize)}`).toEqual({ ok: true, size, checkpoints });
    }
  });

  it('locates a changed entry in a batch read alongside others', async () => {
    const k = laterIndex();
    const id = await entryIdAt(k);
    const original = (await t.db.query<{ action: string }>('SELECT action FROM audit_entries WHERE id = $1', [id])).rows[0]!.action;
    const report = await whileTampered(
      (tx) => tx.query(`UPDATE audit_entries SET action = action || 'x' WHERE id = $1`, [id]).then(() => undefined),
      (tx) => tx.query('UPDATE audit_entries SET action = $2 WHERE id = $1', [id, original]).then(() => undefined),
      7,
    );
    expect(report).toEqual({ ok: false, problem: { kind: 'changed', index: k, detail: expect.stringContaining('no longer produces') } });
  });

  it('locates a deleted leaf and two swapped leaves, reporting the first problem in log order', async () => {
    const k = laterIndex();
    const saved = (await t.db.query<{ idx: number; entry_id: string; leaf: Buffer; leaf_hash: Buffer }>('SELECT * FROM audit_leaves WHERE idx = $1', [k])).rows[0]!;
    const deleted = await whileTampered(
      (tx) => tx.query('DELETE FROM audit_leaves WHERE idx = $1', [k]).then(() => undefined),
      (tx) => tx.query('INSERT INTO audit_leaves (idx, entry_id, leaf, leaf_hash) VALUES ($1, $2, $3, $4)', [saved.idx, saved.entry_id, saved.leaf, saved.leaf_hash]).then(() => undefined),
      5,
    );
    expect(deleted).toMatchObject({ ok: false, problem: { kind: 'missing', index: k } });

    const a = 100 + randomInt(size - 101);
    const b = a + 1 + randomInt(size - a - 1);
    // Two leaves trade places (bytes, hash and entry): the first of them holds the other's bytes.
    const swap = async (tx: Tx): Promise<void> => {
      await tx.query('UPDATE audit_leaves SET idx = -1 WHERE idx = $1', [a]);
      await tx.query('UPDATE audit_leaves SET idx = $1 WHERE idx = $2', [a, b]);
      await tx.query('UPDATE audit_leaves SET idx = $1 WHERE idx = -1', [b]);
    };
    await t.db.exec('ALTER TABLE audit_leaves DROP CONSTRAINT audit_leaves_idx_check');
    try {
      const swapped = await whileTampered(swap, swap, 3);
      expect(swapped).toMatchObject({ ok: false, problem: { kind: 'reordered', index: a } });
    } finally {
      await t.db.exec('ALTER TABLE audit_leaves ADD CONSTRAINT audit_leaves_idx_check CHECK (idx >= 0)');
    }
  });

  it('verifies what its snapshot holds while the log keeps growing', async () => {
    const key = t.keyring.active();
    const growing = (async () => {
      for (let i = 0; i < 10; i++) {
        await t.db.transaction(async (tx) => {
          for (let k = 0; k < 5; k++) await appendAuditEntry(tx, randomEntry(TOTAL + 5 * i + k));
        });
        await sequenceBatch(t.db, { key });
      }
    })();
    const report = await verify(3);
    await growing;
    expect(report).toMatchObject({ ok: true });
    if (!report.ok) return;
    expect(report.size).toBeGreaterThanOrEqual(size);
    const after = await verify();
    expect(after).toMatchObject({ ok: true, size: size + 50 });
    size += 50;
    checkpoints = after.ok ? after.checkpoints : checkpoints;
  });
});

describe.skipIf(!eachBackend({ includeUnavailable: true }).find((b) => b.name === 'postgres')?.available)('audit verify over one snapshot, many at once [postgres]', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(eachBackend().find((b) => b.name === 'postgres')!);
    await t.db.transaction(async (tx) => {
      for (let k = 0; k < 30; k++) await appendAuditEntry(tx, randomEntry(k));
    });
    await sequenceBatch(t.db, { key: t.keyring.active() });
  }, 60_000);
  afterAll(async () => t?.close());

  // Each verification holds a pooled connection and asks for two more; eight at once on a pool of
  // ten would each get their first and wait for the rest forever, were they not run in turn.
  it('runs concurrent verifications to completion without exhausting the connection pool', async () => {
    const publicKeys = t.keyring.list().map((k) => Buffer.from(k.publicKey, 'base64'));
    const reports = await Promise.all(Array.from({ length: 8 }, () => verifyAuditLogSnapshot({ db: t.db, publicKeys, batchSize: 4 })));
    expect(reports.map((r) => r.ok)).toEqual(Array(8).fill(true));
  }, 60_000);
});
