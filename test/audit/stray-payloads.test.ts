import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  listAuditEntries,
  sequenceBatch,
  startRetentionPurge,
  storeAuditPayload,
  STRAY_PAYLOAD_GRACE_MS,
  sweepStrayPayloads,
  verifyAuditLog,
  type StraySweepReport,
} from '../../src/audit/index.js';
import { DEFAULT_RETENTION } from '../../src/core/index.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { eventually } from '../support/cli.js';
import { eachBackend } from '../support/databases.js';
import { appendInferenceEntry } from '../support/inference-entry.js';

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');
let unique = 0;
const fresh = (label: string): string => `{"prompt":"${label} #${++unique}","at":"${Date.now()}"}`;
const T0 = new Date('2030-03-01T00:00:00.000Z');
const after = (ms: number): Date => new Date(T0.getTime() + ms);

/**
 * Payload bytes are written before their row, in the caller's transaction; when it rolls back the
 * bytes stay, unknown to retention and erasure. The sweep marks them and, a grace period later,
 * removes them with an audited entry; bytes a transaction stores after all are never removed.
 */
describe.each(eachBackend().map((b) => [b.name, b] as const))('stray audit payload bytes [%s]', (_name, backend) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(backend);
  });
  afterAll(async () => t?.close());

  const storeThenRollBack = async (body: string): Promise<void> => {
    await expect(
      t.db.transaction(async (tx) => {
        await storeAuditPayload(tx, { blobs: t.auditPayloads, retention: DEFAULT_RETENTION }, { class: 'inference', mediaType: 'text/plain', bytes: body });
        throw new Error('the business change failed');
      }),
    ).rejects.toThrow('the business change failed');
  };
  const storeCommitted = (body: string) =>
    t.db.transaction(async (tx) => {
      const p = await storeAuditPayload(tx, { blobs: t.auditPayloads, retention: DEFAULT_RETENTION }, { class: 'inference', mediaType: 'text/plain', bytes: body });
      await appendInferenceEntry(tx, { inferenceId: `inf_${unique}`, requestSha256: p.sha256 });
      return p;
    });
  const sweep = (now: Date): Promise<StraySweepReport> => sweepStrayPayloads({ db: t.db, blobs: t.auditPayloads, now });
  const marks = async (): Promise<string[]> => (await t.db.query<{ sha256: string }>('SELECT sha256 FROM audit_payload_strays ORDER BY 1')).rows.map((r) => r.sha256);

  it('removes the bytes a rolled-back transaction left, only after the grace period, with an audit entry naming them', async () => {
    const kept = await storeCommitted(fresh('kept'));
    const stray = fresh('stray');
    await storeThenRollBack(stray);
    expect(await t.auditPayloads.has(sha(stray))).toBe(true);

    expect(await sweep(T0)).toEqual({ marked: 1, removed: [], entryIds: [] });
    expect(await marks()).toEqual([sha(stray)]);
    // Seen again before the grace period ends: still kept, still marked from the first sighting.
    expect(await sweep(after(STRAY_PAYLOAD_GRACE_MS - 1))).toEqual({ marked: 0, removed: [], entryIds: [] });
    expect(await t.auditPayloads.has(sha(stray))).toBe(true);

    const swept = await sweep(after(STRAY_PAYLOAD_GRACE_MS));
    expect(swept.removed).toEqual([sha(stray)]);
    expect(await t.auditPayloads.has(sha(stray))).toBe(false);
    expect(await t.auditPayloads.has(kept.sha256)).toBe(true);
    expect(await marks()).toEqual([]);
    const [entry] = await listAuditEntries(t.db, { action: 'audit.payload.sweep' });
    expect(entry).toMatchObject({ id: swept.entryIds[0], outcome: 'succeeded', payloadRefs: [{ name: 'stray', sha256: sha(stray) }] });
    // The sweep is an ordinary entry: the log still verifies.
    for (;;) if ((await sequenceBatch(t.db, { key: t.keyring.active() })).sequenced === 0) break;
    const report = await verifyAuditLog(t.db, { publicKeys: t.keyring.list().map((k) => Buffer.from(k.publicKey, 'base64')) });
    expect(report.ok).toBe(true);
  });

  it('never removes bytes a later transaction stored after all', async () => {
    const body = fresh('second-chance');
    await storeThenRollBack(body);
    expect((await sweep(T0)).marked).toBe(1);
    // The same bytes, stored and committed within the grace period: the mark goes with the store.
    const p = await storeCommitted(body);
    expect(await marks()).toEqual([]);
    expect((await sweep(after(2 * STRAY_PAYLOAD_GRACE_MS))).removed).toEqual([]);
    expect(await t.auditPayloads.has(p.sha256)).toBe(true);
  });

  it('a store waiting on a sweep that removes the same bytes writes them anew', async () => {
    const body = fresh('raced');
    await storeThenRollBack(body);
    await sweep(T0);
    // Both at once; whichever order the database gives them, the committed payload has its bytes.
    const [p] = await Promise.all([storeCommitted(body), sweep(after(STRAY_PAYLOAD_GRACE_MS))]);
    expect(await t.auditPayloads.getBytes(p.sha256)).toEqual(Buffer.from(body));
  });

  it('the retention schedule sweeps too', async () => {
    const body = fresh('scheduled');
    await storeThenRollBack(body);
    const sweeps: StraySweepReport[] = [];
    const errors: unknown[] = [];
    const schedule = startRetentionPurge({ db: t.db, blobs: t.auditPayloads, intervalMs: 60 * 60 * 1000, onSweep: (r) => sweeps.push(r), onError: (e) => errors.push(e) });
    try {
      await eventually(async () => (sweeps.length > 0 ? true : undefined));
    } finally {
      await schedule.stop();
    }
    expect(errors).toEqual([]);
    expect(sweeps[0]?.marked).toBe(1);
    expect(await marks()).toEqual([sha(body)]);
  });
});
