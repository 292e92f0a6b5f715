import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendAuditEntry, startSequencer } from '../../src/audit/index.js';
import { openKeyring, type Keyring } from '../../src/core/index.js';
import { createPostgresDb, migrate, type Db } from '../../src/store/index.js';
import { createTestPostgres, postgresAvailable, type TestPostgres } from '../support/databases.js';
import { join } from 'node:path';
import { tempDirs } from '../support/temp-dirs.js';

const temp = tempDirs();
afterAll(() => temp.removeAll());

// Two "servers" are two independent connection pools on one PostgreSQL database, each with
// its own sequencer loop, as two `assay server` processes would have.
describe.skipIf(!postgresAvailable())('audit sequencer on PostgreSQL, two sequencers and 8 writers', () => {
  let database: TestPostgres;
  let keyring: Keyring;
  beforeAll(async () => {
    database = await createTestPostgres();
    keyring = await openKeyring(join(temp.make('assay-seq-'), 'keys'), { create: true });
    await keyring.generate();
  });
  afterAll(async () => database?.drop());

  it('keeps one gap-free sequence while writers commit concurrently and one sequencer dies mid-stream', async () => {
    const serverA: Db = await createPostgresDb({ connectionString: database.url });
    const serverB: Db = await createPostgresDb({ connectionString: database.url });
    await Promise.all([migrate(serverA), migrate(serverB)]);
    const errors: unknown[] = [];
    const seqA = startSequencer(serverA, { key: keyring.active(), idleMs: 5, maxBatch: 50, onError: (e) => errors.push(e) });
    const seqB = startSequencer(serverB, { key: keyring.active(), idleMs: 5, maxBatch: 50, onError: (e) => errors.push(e) });

    const writer = async (w: number, db: Db, count: number): Promise<void> => {
      for (let i = 0; i < count; i++) {
        await db.transaction((tx) =>
          appendAuditEntry(tx, {
            actor: { principalId: `prn_w${w}`, kind: 'service', authenticatedBy: 'api_token' },
            action: 'test.write',
            resource: { type: 'thing', id: `w${w}_${i}` },
            decision: { effect: 'allowed', policyIds: [] },
            outcome: 'succeeded',
          }),
        );
      }
    };
    const firstHalf = Array.from({ length: 8 }, (_, w) => writer(w, w % 2 ? serverA : serverB, 100));
    await Promise.all(firstHalf);
    // Server A "dies": its sequencer stops and its connections are cut, mid-stream.
    const stoppingA = seqA.stop();
    await serverA.close().catch(() => undefined);
    await stoppingA;
    await Promise.all(Array.from({ length: 8 }, (_, w) => writer(w + 8, serverB, 50)));
    await seqB.flush();
    await seqB.flush();
    await seqB.stop();

    const total = 8 * 100 + 8 * 50;
    const leaves = await serverB.query<{ idx: number; entry_id: string }>('SELECT idx, entry_id FROM audit_leaves ORDER BY idx');
    expect(leaves.rows.map((r) => r.idx)).toEqual(Array.from({ length: total }, (_, i) => i));
    expect(new Set(leaves.rows.map((r) => r.entry_id)).size).toBe(total);
    expect((await serverB.query('SELECT 1 FROM audit_pending')).rowCount).toBe(0);
    const cp = await serverB.query<{ size: number }>('SELECT max(size) AS size FROM audit_checkpoints');
    expect(cp.rows[0]?.size).toBe(total);
    await serverB.close();
  });
});
