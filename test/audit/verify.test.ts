import { createHash, generateKeyPairSync, randomInt, sign } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendAuditEntry, sequenceBatch, verifyAuditLog, type AuditVerifyReport } from '../../src/audit/index.js';
import { signCheckpoint } from '../../src/audit/checkpoint.js';
import { entryFromRow, leafBytes, type AuditRow } from '../../src/audit/leaf.js';
import { CompactRange, leafHash } from '../../src/audit/merkle.js';
import { ed25519RawPublicKey } from '../../src/core/index.js';
import type { Queryable, Tx } from '../../src/store/index.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { randomEntry } from '../support/audit-entries.js';
import { eachBackend } from '../support/databases.js';

const PROTECTED = ['audit_entries', 'audit_leaves', 'audit_tree', 'audit_checkpoints'];
const TOTAL = 1000;
const BOOTSTRAP_ENTRIES = 2;


/** Thrown to roll a tampering transaction back once the log has been verified inside it. */
class Rollback extends Error {
  constructor(readonly report: AuditVerifyReport) {
    super('rollback');
  }
}

interface LeafRow {
  idx: number;
  entry_id: string;
  leaf: Uint8Array;
  leaf_hash: Uint8Array;
}

const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe.each(eachBackend().map((b) => [b.name, b] as const))('audit verify [%s]', (_name, backend) => {
  let t: TestApp;
  let size = 0;
  let checkpointSizes: number[] = [];
  let origin = '';

  const verify = (db: Queryable, batchSize?: number): Promise<AuditVerifyReport> =>
    verifyAuditLog(db, {
      publicKeys: t.keyring.list().map((k) => Buffer.from(k.publicKey, 'base64')),
      ...(batchSize === undefined ? {} : { batchSize }),
    });

  /** Tampers inside a transaction (append-only triggers off), verifies what it sees, and rolls everything back. */
  async function tampered(fn: (tx: Tx) => Promise<void>): Promise<AuditVerifyReport> {
    try {
      await t.db.transaction(async (tx) => {
        for (const table of PROTECTED) await tx.query(`ALTER TABLE ${table} DISABLE TRIGGER USER`);
        await fn(tx);
        for (const table of PROTECTED) await tx.query(`ALTER TABLE ${table} ENABLE TRIGGER USER`);
        // An uneven batch size, so problems land in the middle of batches and on their edges.
        throw new Rollback(await verify(tx, 1 + randomInt(97)));
      });
    } catch (err) {
      if (err instanceof Rollback) return err.report;
      throw err;
    }
    throw new Error('unreachable: the tampering transaction committed');
  }

  const leafAt = async (tx: Queryable, idx: number): Promise<LeafRow> => {
    const r = await tx.query<LeafRow>('SELECT idx, entry_id, leaf, leaf_hash FROM audit_leaves WHERE idx = $1', [idx]);
    return r.rows[0]!;
  };
  const insertLeaf = async (tx: Queryable, row: LeafRow): Promise<void> => {
    await tx.query(`INSERT INTO audit_leaves (idx, entry_id, leaf, leaf_hash) VALUES ($1, $2, decode($3, 'hex'), decode($4, 'hex'))`, [
      row.idx,
      row.entry_id,
      hexOf(row.leaf),
      hexOf(row.leaf_hash),
    ]);
  };
  const replaceNote = async (tx: Queryable, cp: { size: number; root: Uint8Array; note: string }): Promise<void> => {
    await tx.query(`UPDATE audit_checkpoints SET note = $1, root_hash = decode($2, 'hex') WHERE size = $3`, [cp.note, hexOf(cp.root), cp.size]);
  };
  const rootAt = async (tx: Queryable, cpSize: number): Promise<Buffer> => {
    const r = await tx.query<{ root_hash: Uint8Array }>('SELECT root_hash FROM audit_checkpoints WHERE size = $1', [cpSize]);
    return Buffer.from(r.rows[0]!.root_hash);
  };
  const middleCheckpoint = (): number => checkpointSizes[Math.floor(checkpointSizes.length / 2)]!;
  const anyIndex = (): number => BOOTSTRAP_ENTRIES + randomInt(size - BOOTSTRAP_ENTRIES);

  beforeAll(async () => {
    t = await createTestApp(backend);
    const key = t.keyring.active();
    let i = 0;
    while (i < TOTAL) {
      const n = Math.min(TOTAL - i, 1 + randomInt(60));
      const start = i;
      await t.db.transaction(async (tx) => {
        for (let k = start; k < start + n; k++) await appendAuditEntry(tx, randomEntry(k));
      });
      i += n;
      expect((await sequenceBatch(t.db, { key, maxBatch: 1 + randomInt(80) })).leader).toBe(true);
    }
    while ((await sequenceBatch(t.db, { key })).sequenced > 0);
    const cps = await t.db.query<{ size: number }>('SELECT size FROM audit_checkpoints ORDER BY size');
    checkpointSizes = cps.rows.map((r) => Number(r.size));
    size = checkpointSizes[checkpointSizes.length - 1]!;
    origin = (await t.db.query<{ origin: string }>('SELECT origin FROM audit_log_state')).rows[0]!.origin;
  }, 120_000);
  afterAll(async () => t?.close());

  it('accepts the untampered log, whatever the batch size', async () => {
    expect(size).toBe(TOTAL + BOOTSTRAP_ENTRIES);
    expect(checkpointSizes.length).toBeGreaterThan(20);
    for (const batchSize of [undefined, 1, 2, 61, 5000]) {
      expect(await verify(t.db, batchSize), `batch ${String(batchSize)}`).toEqual({ ok: true, size, checkpoints: checkpointSizes.length });
    }
    // Inside a transaction too (the tampering tests verify there), with nothing changed.
    expect(await tampered(async () => undefined)).toEqual({ ok: true, size, checkpoints: checkpointSizes.length });
  });

  it('rejects a checkpoint when none of the trusted keys signed it', async () => {
    const other = generateKeyPairSync('ed25519').publicKey;
    const report = await verifyAuditLog(t.db, { publicKeys: [ed25519RawPublicKey(other)] });
    expect(report).toEqual({ ok: false, problem: { kind: 'bad_checkpoint', checkpointSize: checkpointSizes[0], detail: expect.any(String) } });
  });

  it('locates one changed byte of one entry', async () => {
    const k = anyIndex();
    const report = await tampered(async (tx) => {
      const { entry_id } = await leafAt(tx, k);
      // req_123 → req_12X: one byte of the entry, nothing else touched.
      await tx.query(`UPDATE audit_entries SET request_id = substr(request_id, 1, length(request_id) - 1) || 'X' WHERE id = $1`, [entry_id]);
    });
    expect(report).toEqual({ ok: false, problem: { kind: 'changed', index: k, detail: expect.stringContaining('no longer produces') } });
  });

  it('locates one changed byte of one stored leaf', async () => {
    const k = anyIndex();
    const report = await tampered(async (tx) => {
      const leaf = Buffer.from((await leafAt(tx, k)).leaf);
      const at = leaf.indexOf('"action":"') + '"action":"'.length;
      leaf[at] = leaf[at] === 0x78 ? 0x79 : 0x78;
      await tx.query(`UPDATE audit_leaves SET leaf = decode($1, 'hex') WHERE idx = $2`, [hexOf(leaf), k]);
    });
    expect(report).toEqual({ ok: false, problem: { kind: 'changed', index: k, detail: expect.stringContaining('hash') } });
  });

  it('locates a leaf rewritten to bytes that are not UTF-8, with a matching leaf hash', async () => {
    const k = anyIndex();
    const report = await tampered(async (tx) => {
      const leaf = Buffer.from((await leafAt(tx, k)).leaf);
      leaf[leaf.indexOf('"action":"') + '"action":"'.length] = 0xff;
      await tx.query(`UPDATE audit_leaves SET leaf = decode($1, 'hex'), leaf_hash = decode($2, 'hex') WHERE idx = $3`, [
        hexOf(leaf),
        hexOf(leafHash(leaf)),
        k,
      ]);
    });
    expect(report).toEqual({ ok: false, problem: { kind: 'changed', index: k, detail: expect.stringContaining('no longer produces') } });
  });

  it('locates a changed or deleted interior hash of the tree at its first leaf', async () => {
    const report = await tampered(async (tx) => {
      await tx.query(`UPDATE audit_tree SET hash = decode($1, 'hex') WHERE level = 3 AND idx = 5`, [hexOf(createHash('sha256').update('x').digest())]);
    });
    expect(report).toEqual({ ok: false, problem: { kind: 'changed', index: 40, detail: expect.stringContaining('level 3, index 5') } });

    const gone = await tampered(async (tx) => {
      await tx.query('DELETE FROM audit_tree WHERE level = 2 AND idx = 3');
    });
    expect(gone).toEqual({ ok: false, problem: { kind: 'missing', index: 12, detail: expect.stringContaining('level 2, index 3') } });
  });

  it('locates a deleted entry: its leaf alone, or the leaf and the entry', async () => {
    const k = anyIndex();
    const leafOnly = await tampered(async (tx) => {
      await tx.query('DELETE FROM audit_leaves WHERE idx = $1', [k]);
    });
    expect(leafOnly).toEqual({ ok: false, problem: { kind: 'missing', index: k, detail: expect.any(String) } });

    const both = await tampered(async (tx) => {
      const { entry_id } = await leafAt(tx, k);
      await tx.query('DELETE FROM audit_leaves WHERE idx = $1', [k]);
      await tx.query('DELETE FROM audit_entries WHERE id = $1', [entry_id]);
    });
    expect(both).toEqual({ ok: false, problem: { kind: 'missing', index: k, detail: expect.any(String) } });

    // The entry row alone, the leaf kept: only with the foreign key's system trigger off too.
    const entryOnly = await tampered(async (tx) => {
      const { entry_id } = await leafAt(tx, k);
      await tx.query('ALTER TABLE audit_entries DISABLE TRIGGER ALL');
      await tx.query('DELETE FROM audit_entries WHERE id = $1', [entry_id]);
      await tx.query('ALTER TABLE audit_entries ENABLE TRIGGER ALL');
    });
    expect(entryOnly).toEqual({ ok: false, problem: { kind: 'missing', index: k, detail: expect.stringContaining('gone from audit_entries') } });

    const last = await tampered(async (tx) => {
      await tx.query('DELETE FROM audit_leaves WHERE idx = $1', [size - 1]);
    });
    expect(last).toMatchObject({ ok: false, problem: { kind: 'missing', index: size - 1 } });
  });

  it('checks the log state against the recomputed tree', async () => {
    const biggerSize = await tampered(async (tx) => {
      await tx.query('UPDATE audit_log_state SET size = size + 1');
    });
    expect(biggerSize).toEqual({ ok: false, problem: { kind: 'missing', index: size, detail: expect.any(String) } });

    const otherFrontier = await tampered(async (tx) => {
      const range = new CompactRange();
      for (let i = 0; i < size; i++) range.append(createHash('sha256').update(String(i)).digest());
      await tx.query('UPDATE audit_log_state SET frontier = $1', [JSON.stringify(range.toJSON())]);
    });
    expect(otherFrontier).toEqual({ ok: false, problem: { kind: 'changed', index: size, detail: expect.stringContaining('frontier') } });
  });

  it('locates two swapped leaves at the first of them', async () => {
    const a = anyIndex();
    let b = anyIndex();
    while (b === a) b = anyIndex();
    const [lo, hi] = a < b ? [a, b] : [b, a];
    const report = await tampered(async (tx) => {
      const x = await leafAt(tx, lo);
      const y = await leafAt(tx, hi);
      await tx.query('DELETE FROM audit_leaves WHERE idx = $1 OR idx = $2', [lo, hi]);
      await insertLeaf(tx, { ...y, idx: lo });
      await insertLeaf(tx, { ...x, idx: hi });
    });
    expect(report).toEqual({ ok: false, problem: { kind: 'reordered', index: lo, detail: expect.any(String) } });
  });

  it('locates a forged leaf appended after the last checkpoint', async () => {
    const report = await tampered(async (tx) => {
      const r = await tx.query<AuditRow>(
        `INSERT INTO audit_entries (id, actor, action, resource, decision, outcome, request_id)
         VALUES ('aud_forged', $1, 'model.approve', $2, $3, 'succeeded', 'req_forged') RETURNING *`,
        [
          JSON.stringify({ principalId: 'prn_0', kind: 'human', authenticatedBy: 'api_token' }),
          JSON.stringify({ type: 'thing', id: 'thing_forged' }),
          JSON.stringify({ effect: 'allowed', policyIds: ['policy0'] }),
        ],
      );
      const bytes = leafBytes(entryFromRow(r.rows[0]!), size);
      await insertLeaf(tx, { idx: size, entry_id: 'aud_forged', leaf: bytes, leaf_hash: leafHash(bytes) });
      await tx.query('UPDATE audit_log_state SET size = size + 1');
    });
    expect(report).toEqual({ ok: false, problem: { kind: 'forged', index: size, detail: expect.any(String) } });
  });

  it('reports an entry inserted bypassing appendAuditEntry as forged', async () => {
    const report = await tampered(async (tx) => {
      await tx.query(
        `INSERT INTO audit_entries (id, actor, action, resource, decision, outcome)
         VALUES ('aud_bypass', '{"principalId":"prn_0","kind":"human","authenticatedBy":"api_token"}', 'model.approve',
                 '{"type":"thing","id":"x"}', '{"effect":"allowed","policyIds":[]}', 'succeeded')`,
      );
    });
    expect(report).toEqual({ ok: false, problem: { kind: 'forged', detail: expect.stringContaining('aud_bypass') } });
  });

  it('rejects a checkpoint re-signed by an untrusted key', async () => {
    const c = middleCheckpoint();
    const report = await tampered(async (tx) => {
      const root = await rootAt(tx, c);
      const { publicKey, privateKey } = generateKeyPairSync('ed25519');
      const signer = { name: origin, rawPublicKey: ed25519RawPublicKey(publicKey), sign: (b: Uint8Array) => sign(null, b, privateKey) };
      await replaceNote(tx, { size: c, root, note: signCheckpoint({ origin, size: c, rootHash: root }, signer) });
    });
    expect(report).toEqual({ ok: false, problem: { kind: 'bad_checkpoint', checkpointSize: c, detail: expect.stringContaining('no verifiable signatures') } });
  });

  it('rejects a checkpoint signed for another origin, or whose row disagrees with its note', async () => {
    const c = middleCheckpoint();
    const key = t.keyring.active();
    const otherOrigin = await tampered(async (tx) => {
      const root = await rootAt(tx, c);
      const name = 'assay/0000000000000000';
      const signer = { name, rawPublicKey: key.publicKey, sign: (b: Uint8Array) => key.sign(b) };
      await replaceNote(tx, { size: c, root, note: signCheckpoint({ origin: name, size: c, rootHash: root }, signer) });
    });
    expect(otherOrigin).toEqual({ ok: false, problem: { kind: 'bad_checkpoint', checkpointSize: c, detail: expect.any(String) } });

    // Signed by the log's key under the log's name, but for another origin in its body.
    const otherBody = await tampered(async (tx) => {
      const root = await rootAt(tx, c);
      const signer = { name: origin, rawPublicKey: key.publicKey, sign: (b: Uint8Array) => key.sign(b) };
      await replaceNote(tx, { size: c, root, note: signCheckpoint({ origin: 'assay/0000000000000000', size: c, rootHash: root }, signer) });
    });
    expect(otherBody).toEqual({ ok: false, problem: { kind: 'bad_checkpoint', checkpointSize: c, detail: expect.stringContaining('origin') } });

    const rowChanged = await tampered(async (tx) => {
      await tx.query(`UPDATE audit_checkpoints SET root_hash = decode($1, 'hex') WHERE size = $2`, [hexOf(Buffer.alloc(32, 7)), c]);
    });
    expect(rowChanged).toEqual({ ok: false, problem: { kind: 'bad_checkpoint', checkpointSize: c, detail: expect.stringContaining('disagrees') } });
  });

  it('reports a validly signed checkpoint of a different tree as forked, in the middle or at the end', async () => {
    const key = t.keyring.active();
    const signer = { name: origin, rawPublicKey: key.publicKey, sign: (b: Uint8Array) => key.sign(b) };
    for (const c of [middleCheckpoint(), size]) {
      const report = await tampered(async (tx) => {
        const root = createHash('sha256').update(`another tree of size ${c}`).digest();
        await replaceNote(tx, { size: c, root, note: signCheckpoint({ origin, size: c, rootHash: root }, signer) });
      });
      expect(report, `checkpoint ${c}`).toEqual({ ok: false, problem: { kind: 'forked_checkpoint', checkpointSize: c, detail: expect.any(String) } });
    }
  });

  it('reports leaves rewritten consistently (entry, leaf, hashes, tree) at the first checkpoint they break', async () => {
    // Not after the second-to-last checkpoint: two checkpoints must witness the rewrite.
    const k = BOOTSTRAP_ENTRIES + randomInt(checkpointSizes[checkpointSizes.length - 2]! - BOOTSTRAP_ENTRIES);
    const expected = checkpointSizes.find((s) => s > k)!;
    const report = await tampered(async (tx) => {
      const { entry_id } = await leafAt(tx, k);
      const e = await tx.query<AuditRow>(`UPDATE audit_entries SET request_id = 'req_rewritten' WHERE id = $1 RETURNING *`, [entry_id]);
      const bytes = leafBytes(entryFromRow(e.rows[0]!), k);
      await tx.query(`UPDATE audit_leaves SET leaf = decode($1, 'hex'), leaf_hash = decode($2, 'hex') WHERE idx = $3`, [
        hexOf(bytes),
        hexOf(leafHash(bytes)),
        k,
      ]);
      // Rebuild the interior hashes above leaf k and the frontier from the (rewritten) leaves.
      const leaves = await tx.query<{ leaf_hash: Uint8Array }>('SELECT leaf_hash FROM audit_leaves ORDER BY idx');
      const range = new CompactRange();
      for (const row of leaves.rows) {
        for (const n of range.append(row.leaf_hash)) {
          const covers = n.index * 2 ** n.level <= k && k < (n.index + 1) * 2 ** n.level;
          if (n.level > 0 && covers) await tx.query(`UPDATE audit_tree SET hash = decode($1, 'hex') WHERE level = $2 AND idx = $3`, [hexOf(n.hash), n.level, n.index]);
        }
      }
      await tx.query('UPDATE audit_log_state SET frontier = $1', [JSON.stringify(range.toJSON())]);
    });
    expect(report).toEqual({ ok: false, problem: { kind: 'changed', checkpointSize: expected, detail: expect.stringContaining('rewritten') } });
  });

  it('locates a change to any column of an entry at its leaf', async () => {
    const refs = JSON.stringify([{ name: 'added', sha256: 'cd'.repeat(32) }]);
    const changes: Array<[string, string]> = [
      ['recorded_at', `recorded_at = recorded_at + interval '1 millisecond'`],
      ['actor: a value', `actor = jsonb_set(actor, '{kind}', '"service"')`],
      ['actor: a member added', `actor = actor || '{"elevation": null}'`],
      ['actor: a string made an array', `actor = jsonb_set(actor, '{principalId}', jsonb_build_array(actor->'principalId'))`],
      ['action', `action = action || 'x'`],
      ['resource: a member removed', `resource = resource - 'type'`],
      ['resource: a number for a string', `resource = jsonb_set(resource, '{id}', '12')`],
      ['decision', `decision = jsonb_set(decision, '{policyIds}', (decision->'policyIds') || '"extra"')`],
      ['outcome', `outcome = CASE outcome WHEN 'failed' THEN 'succeeded' ELSE 'failed' END`],
      ['reason: set or cleared', `reason = CASE WHEN reason IS NULL THEN 'why' ELSE NULL END`],
      ['reason: one character more', `reason = coalesce(reason, '') || '.'`],
      ['request_id: cleared', `request_id = NULL`],
      ['payload_refs', `payload_refs = payload_refs || '${refs}'::jsonb`],
    ];
    for (const [column, set] of changes) {
      const k = anyIndex();
      const report = await tampered(async (tx) => {
        const { entry_id } = await leafAt(tx, k);
        await tx.query(`UPDATE audit_entries SET ${set} WHERE id = $1`, [entry_id]);
      });
      expect(report, column).toEqual({ ok: false, problem: { kind: 'changed', index: k, detail: expect.stringContaining('no longer produces') } });
    }

    // The id, renamed in the entry and in the leaf that references it alike.
    const k = anyIndex();
    const renamed = await tampered(async (tx) => {
      const { entry_id } = await leafAt(tx, k);
      await tx.query('ALTER TABLE audit_entries DISABLE TRIGGER ALL');
      await tx.query(`UPDATE audit_entries SET id = id || 'x' WHERE id = $1`, [entry_id]);
      await tx.query(`UPDATE audit_leaves SET entry_id = entry_id || 'x' WHERE idx = $1`, [k]);
      await tx.query('ALTER TABLE audit_entries ENABLE TRIGGER ALL');
    });
    expect(renamed, 'id').toEqual({ ok: false, problem: { kind: 'changed', index: k, detail: expect.stringContaining('no longer produces') } });
  });

  /** A view of `db` that records the leaves read whole (the long way), batch by batch. */
  const recordingSlowReads = (db: Queryable, into: number[][]): Queryable => ({
    query: <T,>(sql: string, params?: readonly unknown[]) => {
      if (sql.includes('= ANY($1::bigint[])')) into.push([...(params?.[0] as number[])].sort((a, b) => a - b));
      return db.query<T>(sql, params);
    },
    queryEach: <T,>(sql: string, params: readonly unknown[], onRow: (row: T) => void) => db.queryEach<T>(sql, params, onRow),
  });

  it('vouches for every leaf of an untampered log without reading it whole, and reads only a changed one whole', async () => {
    const reads: number[][] = [];
    expect(await verify(recordingSlowReads(t.db, reads))).toEqual({ ok: true, size, checkpoints: checkpointSizes.length });
    expect(reads).toEqual([]);

    const k = anyIndex();
    const report = await tampered(async (tx) => {
      const { entry_id } = await leafAt(tx, k);
      await tx.query(`UPDATE audit_entries SET action = action || 'x' WHERE id = $1`, [entry_id]);
      reads.length = 0;
      throw new Rollback(await verify(recordingSlowReads(tx, reads)));
    });
    expect(report).toMatchObject({ ok: false, problem: { kind: 'changed', index: k } });
    expect(reads).toEqual([[k]]);
  });

  it('verifies the long way, and as well, when timestamps are printed in another time zone', async () => {
    const reads: number[][] = [];
    const report = await t.db.transaction(async (tx) => {
      await tx.query(`SET LOCAL TimeZone = 'Etc/GMT-1'`);
      return verify(recordingSlowReads(tx, reads), 997);
    });
    expect(report).toEqual({ ok: true, size, checkpoints: checkpointSizes.length });
    expect(reads.flat()).toHaveLength(size);
  });

  it('accepts entries waiting to be sequenced, and sees a bypassing entry however many are queued', async () => {
    const insertEntry = async (tx: Queryable, id: string): Promise<void> => {
      await tx.query(
        `INSERT INTO audit_entries (id, actor, action, resource, decision, outcome)
         VALUES ($1, '{"principalId":"prn_0","kind":"human","authenticatedBy":"api_token"}', 'model.approve',
                 '{"type":"thing","id":"x"}', '{"effect":"allowed","policyIds":[]}', 'succeeded')`,
        [id],
      );
    };
    const queued = await tampered(async (tx) => {
      for (const id of ['aud_queued_1', 'aud_queued_2']) {
        await insertEntry(tx, id);
        await tx.query('INSERT INTO audit_pending (entry_id) VALUES ($1)', [id]);
      }
    });
    expect(queued).toEqual({ ok: true, size, checkpoints: checkpointSizes.length });

    // A queue row for an entry already sequenced, or for no entry at all, must not make up for one that bypassed the queue.
    const bogusQueueRows: Array<(tx: Queryable) => Promise<unknown>> = [
      async (tx) => tx.query('INSERT INTO audit_pending (entry_id) VALUES ($1)', [(await leafAt(tx, anyIndex())).entry_id]),
      async (tx) => {
        await tx.query('ALTER TABLE audit_pending DISABLE TRIGGER ALL');
        await tx.query(`INSERT INTO audit_pending (entry_id) VALUES ('aud_nowhere')`);
        await tx.query('ALTER TABLE audit_pending ENABLE TRIGGER ALL');
      },
    ];
    for (const [i, bogus] of bogusQueueRows.entries()) {
      const hidden = await tampered(async (tx) => {
        await bogus(tx);
        await insertEntry(tx, `aud_bypass_${i}`);
      });
      expect(hidden, `case ${i}`).toEqual({ ok: false, problem: { kind: 'forged', detail: expect.stringContaining(`aud_bypass_${i}`) } });
    }
  });

  it('finds the gap before a leaf stored far past the end at once', async () => {
    const report = await tampered(async (tx) => {
      const last = await leafAt(tx, size - 1);
      await tx.query(`INSERT INTO audit_entries SELECT 'aud_far', recorded_at, actor, action, resource, decision, outcome, reason, request_id, payload_refs
                        FROM audit_entries WHERE id = $1`, [last.entry_id]);
      await insertLeaf(tx, { ...last, idx: size + 1_000_000_000, entry_id: 'aud_far' });
    });
    expect(report).toEqual({ ok: false, problem: { kind: 'missing', index: size, detail: expect.any(String) } });
  }, 20_000);
});
