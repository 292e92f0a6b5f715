import { generateKeyPairSync, randomInt, sign } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendAuditEntry, proveConsistency, proveInclusion, sequenceBatch } from '../../src/audit/index.js';
import { consistencyProof, inclusionProof, InMemoryHashSource } from '../../src/audit/merkle.js';
import { DbHashSource } from '../../src/audit/tree-store.js';
import { ed25519RawPublicKey, keyIdForPublicKey, NotFound, type ActiveKey } from '../../src/core/index.js';
import { migrate, type Db, type Queryable, type QueryResult } from '../../src/store/index.js';
import { randomEntry } from '../support/audit-entries.js';
import { eachBackend, type OpenedDb } from '../support/databases.js';

function testKey(): ActiveKey {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const raw = ed25519RawPublicKey(publicKey);
  return { keyid: keyIdForPublicKey(raw), publicKey: raw, sign: (bytes) => sign(null, bytes, privateKey) };
}

/** A Queryable that counts the statements it runs. */
function counting(db: Queryable): Queryable & { statements: number } {
  const wrapper = {
    statements: 0,
    query<T>(sql: string, params?: readonly unknown[]): Promise<QueryResult<T>> {
      wrapper.statements++;
      return db.query<T>(sql, params);
    },
    queryEach<T>(sql: string, params: readonly unknown[], onRow: (row: T) => void): Promise<number> {
      wrapper.statements++;
      return db.queryEach<T>(sql, params, onRow);
    },
  };
  return wrapper;
}

const hexes = (hashes: Buffer[]): string[] => hashes.map((h) => h.toString('hex'));

describe.each(eachBackend().map((b) => [b.name, b] as const))('audit proofs from the database [%s]', (_name, backend) => {
  const size = 333;
  let opened: OpenedDb;
  let db: Db;
  let memory: InMemoryHashSource;
  beforeAll(async () => {
    opened = await backend.open();
    db = opened.db;
    await migrate(db);
    const key = testKey();
    for (let i = 0; i < size; ) {
      const n = Math.min(size - i, 1 + randomInt(40));
      const start = i;
      await db.transaction(async (tx) => {
        for (let k = start; k < start + n; k++) await appendAuditEntry(tx, randomEntry(k));
      });
      i += n;
      await sequenceBatch(db, { key, maxBatch: 1 + randomInt(50) });
    }
    while ((await sequenceBatch(db, { key })).sequenced > 0);
    const leaves = await db.query<{ leaf_hash: Buffer }>('SELECT leaf_hash FROM audit_leaves ORDER BY idx');
    memory = new InMemoryHashSource(leaves.rows.map((r) => r.leaf_hash));
  }, 60_000);
  afterAll(async () => opened?.cleanup());

  it('reads every subtree an inclusion or consistency proof needs, and the log size, in one statement', async () => {
    for (let trial = 0; trial < 60; trial++) {
      const treeSize = 1 + randomInt(size);
      const index = randomInt(treeSize);
      const from = 1 + randomInt(treeSize);
      const q = counting(db);
      expect(hexes(await proveInclusion(q, { index, size: treeSize })), `inclusion ${index}/${treeSize}`).toEqual(
        hexes(await inclusionProof(memory, index, treeSize)),
      );
      expect(q.statements).toBe(1);
      q.statements = 0;
      expect(hexes(await proveConsistency(q, { from, to: treeSize })), `consistency ${from}→${treeSize}`).toEqual(
        hexes(await consistencyProof(memory, from, treeSize)),
      );
      expect(q.statements).toBe(1);
    }
  });

  it('refuses sizes beyond the log in that same statement', async () => {
    await expect(proveInclusion(db, { index: 0, size: size + 1 })).rejects.toThrow(/size 334 is beyond the log size 333/);
    await expect(proveConsistency(db, { from: 1, to: size + 1 })).rejects.toThrow(/to 334 is beyond the log size 333/);
    await expect(proveConsistency(db, { from: size + 1, to: size + 1 })).rejects.toThrow(/to 334 is beyond the log size 333/);
  });

  it('names the first subtree absent from the table', async () => {
    const source = new DbHashSource(db);
    const found = await source.subtreeHashes([
      { level: 0, index: 5 },
      { level: 3, index: 2 },
    ]);
    expect(hexes(found)).toEqual(hexes([await memory.subtreeHash(5, 6), await memory.subtreeHash(16, 24)]));
    await expect(source.subtreeHashes([{ level: 0, index: size }])).rejects.toThrow(NotFound);
    await expect(source.subtreeHashes([{ level: 2, index: 0 }, { level: 9, index: 0 }])).rejects.toThrow(/\[0, 512\)/);
    await expect(source.subtreeHash(8, 16)).resolves.toEqual(await memory.subtreeHash(8, 16));
  });
});
