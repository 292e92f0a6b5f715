import { generateKeyPairSync, randomInt, sign } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sequenceBatch, verifyAuditLog } from '../../src/audit/index.js';
import { entryFromRow, leafBytes, type AuditRow } from '../../src/audit/leaf.js';
import { leafHash } from '../../src/audit/merkle.js';
import { ed25519RawPublicKey, keyIdForPublicKey, type ActiveKey } from '../../src/core/index.js';
import { migrate, type Db } from '../../src/store/index.js';
import { eachBackend, type OpenedDb } from '../support/databases.js';

function testKey(): ActiveKey {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const raw = ed25519RawPublicKey(publicKey);
  return { keyid: keyIdForPublicKey(raw), publicKey: raw, sign: (bytes) => sign(null, bytes, privateKey) };
}

const AWKWARD = ['', 'quote " backslash \\', 'controls \u0001\t\n\u001f', 'ünïcödé ✓ 😀', '\u2028', '{"index":1}', '\\ud800'];
const STAMPS = ['2026-11-23 18:18:40.123456+00', '2026-11-23 18:18:41+00', '10000-01-01 00:00:00+00', '0044-03-15 12:00:00 BC'];

/** Inserts entries the way a bulk loader could (any jsonb, any timestamp) and queues them. */
async function insertEntries(db: Db, from: number, count: number): Promise<void> {
  await db.transaction(async (tx) => {
    for (let i = from; i < from + count; i++) {
      const text = AWKWARD[i % AWKWARD.length]!;
      await tx.query(
        `INSERT INTO audit_entries (id, recorded_at, actor, action, resource, decision, outcome, reason, request_id, payload_refs)
         VALUES ($1, $2::timestamptz, $3, 'thing.do', $4, $5, 'succeeded', $6, $7, $8)`,
        [
          `aud_${String(i).padStart(6, '0')}`,
          STAMPS[i % STAMPS.length],
          JSON.stringify({ principalId: `prn_${text}`, kind: 'human', authenticatedBy: 'api_token', ...(i % 5 === 0 ? { extra: [1.5, null, { z: true, a: text }] } : {}) }),
          JSON.stringify({ type: 'thing', id: text }),
          JSON.stringify({ effect: 'allowed', policyIds: [text, 'p2'] }),
          i % 3 ? text : null,
          i % 4 ? `req_${i}` : null,
          JSON.stringify(i % 2 ? [{ name: text, sha256: 'cd'.repeat(32) }] : []),
        ],
      );
      await tx.query('INSERT INTO audit_pending (entry_id) VALUES ($1)', [`aud_${String(i).padStart(6, '0')}`]);
    }
  });
}

describe.each(eachBackend().map((b) => [b.name, b] as const))('audit sequencer leaves [%s]', (_name, backend) => {
  const key = testKey();
  let opened: OpenedDb;
  let db: Db;
  beforeAll(async () => {
    opened = await backend.open();
    db = opened.db;
    await migrate(db);
  });
  afterAll(async () => opened?.cleanup());

  it('stores exactly the leaf bytes and hashes of each entry as the driver reads it, whatever the entry holds', async () => {
    const total = 240;
    for (let done = 0; done < total; ) {
      const n = Math.min(total - done, 1 + randomInt(50));
      await insertEntries(db, done, n);
      done += n;
      expect((await sequenceBatch(db, { key, maxBatch: 1 + randomInt(70) })).leader).toBe(true);
    }
    while ((await sequenceBatch(db, { key })).sequenced > 0);

    const rows = await db.query<AuditRow & { idx: number; leaf: Buffer; leaf_hash: Buffer }>(
      'SELECT l.idx, l.leaf, l.leaf_hash, e.* FROM audit_leaves l JOIN audit_entries e ON e.id = l.entry_id ORDER BY l.idx',
    );
    expect(rows.rows.map((r) => r.idx)).toEqual(Array.from({ length: total }, (_, i) => i));
    // In queue order, which is insertion order here.
    expect(rows.rows.map((r) => r.id)).toEqual(Array.from({ length: total }, (_, i) => `aud_${String(i).padStart(6, '0')}`));
    for (const row of rows.rows) {
      const expected = Buffer.from(leafBytes(entryFromRow(row), row.idx));
      expect(row.leaf.toString('utf8'), `leaf ${row.idx}`).toBe(expected.toString('utf8'));
      expect(row.leaf.equals(expected), `leaf ${row.idx} bytes`).toBe(true);
      expect(row.leaf_hash.equals(leafHash(expected)), `leaf hash ${row.idx}`).toBe(true);
    }
  });

  it('verifies that log, and still locates a changed entry whose timestamp only the driver reads', async () => {
    const report = await verifyAuditLog(db, { publicKeys: [key.publicKey], batchSize: 1 + randomInt(60) });
    expect(report).toEqual({ ok: true, size: 240, checkpoints: expect.any(Number) });
    for (const k of [2, 3, 100]) {
      // Entries 2 and 3 (mod 4) carry a year-10000 and a BC timestamp; 100 an ordinary one.
      const tampered = await db
        .transaction(async (tx) => {
          await tx.query('ALTER TABLE audit_entries DISABLE TRIGGER USER');
          await tx.query(`UPDATE audit_entries SET action = 'thing.undo' WHERE id = $1`, [`aud_${String(k).padStart(6, '0')}`]);
          const r = await verifyAuditLog(tx, { publicKeys: [key.publicKey], batchSize: 1 + randomInt(60) });
          throw Object.assign(new Error('rollback'), { report: r });
        })
        .catch((err: { report?: unknown }) => err.report);
      expect(tampered, `entry ${k}`).toEqual({ ok: false, problem: { kind: 'changed', index: k, detail: expect.stringContaining('no longer produces') } });
    }
  });
});
