/**
 * Audit log throughput and latency, on PGlite (in memory) and PostgreSQL, through the real code.
 *
 *   node --import tsx bench/audit.ts [--entries N] [--verify-entries M]
 *
 * --entries (default 100000) entries are bulk-inserted and then sequenced; --verify-entries
 * (default 1000000) is the log size verified on PostgreSQL (PGlite verifies the log it has).
 *
 * Each backend gets a fresh, migrated database and the real app (buildApp, real routes, real
 * keyring, bootstrapped admin). PostgreSQL is a temporary database created on
 * ASSAY_TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres) and dropped
 * afterwards; it is skipped with a note when unreachable. Measures:
 *   1. audited appends/s: one transaction holding one `appendAuditEntry` (~300-byte entry), with
 *      1 and 8 concurrent writers, against the baseline of one plain INSERT of a row of the same
 *      columns and size per transaction; reports audited/plain (target ≥ 0.5);
 *   2. sustained sequencing: N entries pre-inserted with unnest, then `sequenceBatch` (maxBatch
 *      5000) timed until drained (target ≥ 10,000/s on PostgreSQL);
 *   3. `verifyAuditLogSnapshot` over the whole log (target < 10 s per 1M entries): measured on a
 *      log of --verify-entries leaves, scaled to 1M only when that log is smaller (the table
 *      says which), with this process's CPU time beside the wall time. Timed twice: right after
 *      the bulk load (every row read for the first time, autovacuum possibly running), then
 *      after VACUUM (ANALYZE), the steady state of a log written over time, which the target is for;
 *   4. inclusion proofs over HTTP (the app listening on 127.0.0.1, port 0): ~2,000 sequential
 *      `GET /api/v1/audit/proof/inclusion` of random leaves with the admin token; p50/p99.
 * Prints a table and writes bench/results/audit.json.
 */
import { seconds, serverSettings, type ServerSettings } from './support.js';
import { randomInt } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { appendAuditEntry, sequenceBatch, verifyAuditLogSnapshot, type AuditEntryInput } from '../src/audit/index.js';
import { newId } from '../src/core/index.js';
import { createPgliteDb, type Db } from '../src/store/index.js';
import { createTestApp, type TestApp } from '../test/support/app.js';
import { openTestPostgresDb, type TestBackend } from '../test/support/databases.js';

const here = dirname(fileURLToPath(import.meta.url));
const DEFAULT_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
/** Upper bound on the wall time of one append measurement. */
const APPEND_BUDGET_SECONDS = 4;
/** Upper bound on the sequencing measurement (a slow backend reports a rate over fewer entries). */
const SEQUENCE_BUDGET_SECONDS = 60;
const APPEND_LIMIT = 50_000;
const WRITERS = 8;
const PROOF_REQUESTS = 2000;
const BULK_CHUNK = 10_000;
const MAX_BATCH = 5000;

interface Options {
  entries: number;
  verifyEntries: number;
}

interface Rate {
  ops: number;
  seconds: number;
  perSecond: number;
}

interface VerifyRun {
  entries: number;
  checkpoints: number;
  seconds: number;
  secondsPer1M: number;
  extrapolated: boolean;
  processCpuSeconds: number;
}

interface BackendResult {
  backend: string;
  settings: ServerSettings;
  entryBytes: number;
  appends: {
    writers: number;
    audited: Rate;
    plain: Rate;
    ratio: number;
  }[];
  sequencing: Rate & { batches: number; maxBatch: number; drained: boolean };
  /** Verification right after the bulk load: the first read of every row (hint bits unset) while autovacuum may run. */
  verifyAfterLoad: VerifyRun;
  /** Seconds VACUUM (ANALYZE) took on the audit tables between the two verifications. */
  vacuumSeconds: number;
  /** Verification of the vacuumed log: the steady state of a log written over time, which the target is for. */
  verify: VerifyRun;
  inclusionProof: { requests: number; treeSize: number; p50Ms: number; p99Ms: number; meanMs: number };
}

function optionsFromArgs(): Options {
  const { values } = parseArgs({
    options: {
      entries: { type: 'string', default: '100000' },
      'verify-entries': { type: 'string', default: '1000000' },
    },
  });
  const entries = Number(values.entries);
  const verifyEntries = Number(values['verify-entries']);
  if (!Number.isInteger(entries) || entries <= 0) throw new Error('--entries must be a positive integer');
  if (!Number.isInteger(verifyEntries) || verifyEntries <= 0) throw new Error('--verify-entries must be a positive integer');
  return { entries, verifyEntries };
}

function rate(ops: number, elapsed: number): Rate {
  return { ops, seconds: elapsed, perSecond: ops / elapsed };
}

const ACTIONS = ['dataset.ingest', 'dataset.promote', 'model.approve', 'deployment.create', 'token.issue'];

/** A typical entry: ~300 bytes of JSON; no requestId, so the plain baseline row carries exactly the same data. */
function entry(i: number): AuditEntryInput {
  return {
    actor: { principalId: newId('prn'), kind: 'human', authenticatedBy: 'api_token' },
    action: ACTIONS[i % ACTIONS.length]!,
    resource: { type: 'dataset', id: newId('ds') },
    decision: { effect: 'allowed', policyIds: ['platform.default'] },
    outcome: 'succeeded',
    reason: `promoted after review #${i}`,
  };
}

function entryBytes(e: AuditEntryInput): number {
  return Buffer.byteLength(JSON.stringify(e));
}

const PLAIN_INSERT = `INSERT INTO bench_plain (id, actor, action, resource, decision, outcome, reason)
  VALUES ($1, $2, $3, $4, $5, $6, $7)`;

async function plainInsert(db: Db, i: number): Promise<void> {
  const e = entry(i);
  await db.transaction(async (tx) => {
    await tx.query(PLAIN_INSERT, [
      newId('aud'),
      JSON.stringify(e.actor),
      e.action,
      JSON.stringify(e.resource),
      JSON.stringify(e.decision),
      e.outcome,
      e.reason ?? null,
    ]);
  });
}

async function auditedAppend(db: Db, i: number): Promise<void> {
  const e = entry(i);
  await db.transaction(async (tx) => {
    await appendAuditEntry(tx, e);
  });
}

/** Runs `op` with `writers` concurrent loops until APPEND_LIMIT ops are done or the budget is spent. */
async function timeBoxedConcurrent(writers: number, op: (i: number) => Promise<void>): Promise<Rate> {
  const start = process.hrtime.bigint();
  let next = 0;
  let stop = false;
  const writer = async (): Promise<void> => {
    while (!stop && next < APPEND_LIMIT) {
      await op(next++);
      if ((next & 31) === 0 && seconds(start) > APPEND_BUDGET_SECONDS) stop = true;
    }
  };
  await Promise.all(Array.from({ length: writers }, writer));
  return rate(next, seconds(start));
}

async function measureAppends(db: Db): Promise<BackendResult['appends']> {
  await db.exec(`DROP TABLE IF EXISTS bench_plain;
    CREATE TABLE bench_plain (id text PRIMARY KEY, actor jsonb NOT NULL, action text NOT NULL, resource jsonb NOT NULL,
      decision jsonb NOT NULL, outcome text NOT NULL, reason text)`);
  // Warm both paths (plan caches, pool connections, zod schemas).
  for (let i = 0; i < 100; i++) {
    await plainInsert(db, i);
    await auditedAppend(db, i);
  }
  const out: BackendResult['appends'] = [];
  for (const writers of [1, WRITERS]) {
    const plain = await timeBoxedConcurrent(writers, (i) => plainInsert(db, i));
    const audited = await timeBoxedConcurrent(writers, (i) => auditedAppend(db, i));
    out.push({ writers, audited, plain, ratio: audited.perSecond / plain.perSecond });
  }
  await db.exec('DROP TABLE bench_plain');
  return out;
}

/** Inserts `count` entries and queues them for sequencing, BULK_CHUNK rows per statement. */
async function bulkInsert(db: Db, count: number): Promise<void> {
  for (let done = 0; done < count; done += BULK_CHUNK) {
    const n = Math.min(BULK_CHUNK, count - done);
    const cols = {
      id: [] as string[],
      actor: [] as string[],
      action: [] as string[],
      resource: [] as string[],
      decision: [] as string[],
      outcome: [] as string[],
      reason: [] as string[],
      requestId: [] as string[],
    };
    for (let k = 0; k < n; k++) {
      const e = entry(done + k);
      cols.id.push(newId('aud'));
      cols.actor.push(JSON.stringify(e.actor));
      cols.action.push(e.action);
      cols.resource.push(JSON.stringify(e.resource));
      cols.decision.push(JSON.stringify(e.decision));
      cols.outcome.push(e.outcome);
      cols.reason.push(e.reason ?? '');
      cols.requestId.push(newId('req'));
    }
    await db.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO audit_entries (id, actor, action, resource, decision, outcome, reason, request_id)
         SELECT id, actor::jsonb, action, resource::jsonb, decision::jsonb, outcome, reason, request_id
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
             AS u (id, actor, action, resource, decision, outcome, reason, request_id)`,
        [cols.id, cols.actor, cols.action, cols.resource, cols.decision, cols.outcome, cols.reason, cols.requestId],
      );
      await tx.query(
        `INSERT INTO audit_pending (entry_id)
         SELECT id FROM unnest($1::text[]) WITH ORDINALITY AS u (id, n) ORDER BY n`,
        [cols.id],
      );
    });
  }
}

/** Sequences until the queue is empty (or the budget is spent, when one is given). */
async function drain(t: TestApp, budgetSeconds = Infinity): Promise<BackendResult['sequencing']> {
  const key = t.keyring.active();
  const start = process.hrtime.bigint();
  let sequenced = 0;
  let batches = 0;
  let drained = false;
  for (;;) {
    const r = await sequenceBatch(t.db, { key, maxBatch: MAX_BATCH });
    if (!r.leader) throw new Error('another sequencer holds the lock');
    if (r.sequenced === 0) {
      drained = true;
      break;
    }
    sequenced += r.sequenced;
    batches++;
    if (seconds(start) > budgetSeconds) break;
  }
  return { ...rate(sequenced, seconds(start)), batches, maxBatch: MAX_BATCH, drained };
}

async function pendingCount(db: Db): Promise<number> {
  const r = await db.query<{ n: number | string }>('SELECT count(*) AS n FROM audit_pending');
  return Number(r.rows[0]?.n ?? 0);
}

async function logSizeOf(db: Db): Promise<number> {
  const r = await db.query<{ size: number | string }>('SELECT size FROM audit_log_state');
  return Number(r.rows[0]?.size ?? 0);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function measureProofs(t: TestApp, size: number): Promise<BackendResult['inclusionProof']> {
  const address = await t.app.listen({ host: '127.0.0.1', port: 0 });
  const headers = { authorization: `Bearer ${t.adminToken}` };
  const get = async (index: number): Promise<void> => {
    const res = await fetch(`${address}/api/v1/audit/proof/inclusion?index=${index}&size=${size}`, { headers });
    const body = (await res.json()) as { proof?: unknown[] };
    if (res.status !== 200 || !Array.isArray(body.proof)) throw new Error(`inclusion proof ${index}/${size}: HTTP ${res.status}`);
  };
  for (let i = 0; i < 50; i++) await get(randomInt(size)); // warm up
  const ms: number[] = [];
  for (let i = 0; i < PROOF_REQUESTS; i++) {
    const index = randomInt(size);
    const start = process.hrtime.bigint();
    await get(index);
    ms.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  const mean = ms.reduce((a, b) => a + b, 0) / ms.length;
  ms.sort((a, b) => a - b);
  return { requests: ms.length, treeSize: size, p50Ms: percentile(ms, 50), p99Ms: percentile(ms, 99), meanMs: mean };
}

/** Verifies the whole log over one snapshot, timed, and fails unless it is whole and of `logSize` leaves. */
async function timedVerify(db: Db, publicKeys: Uint8Array[], logSize: number): Promise<VerifyRun> {
  const start = process.hrtime.bigint();
  const cpuStart = process.cpuUsage();
  const report = await verifyAuditLogSnapshot({ db, publicKeys });
  const verifySeconds = seconds(start);
  const cpu = process.cpuUsage(cpuStart);
  if (!report.ok) throw new Error(`verification failed: ${report.problem.detail}`);
  if (report.size !== logSize) throw new Error(`verified ${report.size} leaves, expected ${logSize}`);
  return {
    entries: report.size,
    checkpoints: report.checkpoints,
    seconds: verifySeconds,
    secondsPer1M: (verifySeconds / report.size) * 1e6,
    extrapolated: report.size < 1e6,
    processCpuSeconds: (cpu.user + cpu.system) / 1e6,
  };
}

async function measureBackend(name: string, t: TestApp, options: Options, verifyTarget: number): Promise<BackendResult> {
  const settings = await serverSettings(t.db);
  console.log(`  ${name}: appends …`);
  const appends = await measureAppends(t.db);

  // Drain what the appends queued, so the timed sequencing covers exactly the bulk-inserted entries.
  await drain(t);
  console.log(`  ${name}: inserting ${options.entries} entries, then sequencing …`);
  await bulkInsert(t.db, options.entries);
  const sequencing = await drain(t, SEQUENCE_BUDGET_SECONDS);

  // Top up to the verification size (untimed), then verify the whole log.
  const size = await logSizeOf(t.db);
  const topUp = Math.max(0, verifyTarget - size - (await pendingCount(t.db)));
  if (topUp > 0) {
    console.log(`  ${name}: topping the log up by ${topUp} entries for verification …`);
    await bulkInsert(t.db, topUp);
  }
  await drain(t);
  const logSize = await logSizeOf(t.db);
  console.log(`  ${name}: verifying ${logSize} entries …`);
  const publicKeys = t.keyring.list().map((k) => Buffer.from(k.publicKey, 'base64'));
  const verifyAfterLoad = await timedVerify(t.db, publicKeys, logSize);
  // A log of a million entries is written over weeks, and autovacuum has long visited its pages
  // when anyone verifies it; right after a bulk load every row is read for the first time.
  // Both are measured; the target is for the steady state.
  console.log(`  ${name}: VACUUM (ANALYZE) of the audit tables, then verifying again …`);
  const vacuumStart = process.hrtime.bigint();
  for (const table of ['audit_entries', 'audit_leaves', 'audit_tree', 'audit_checkpoints']) await t.db.exec(`VACUUM (ANALYZE) ${table}`);
  const vacuumSeconds = seconds(vacuumStart);
  const verify = await timedVerify(t.db, publicKeys, logSize);

  console.log(`  ${name}: ${PROOF_REQUESTS} inclusion proofs over HTTP …`);
  const inclusionProof = await measureProofs(t, logSize);
  return { backend: name, settings, entryBytes: entryBytes(entry(0)), appends, sequencing, verifyAfterLoad, vacuumSeconds, verify, inclusionProof };
}

const fmt = (n: number, digits = 0): string =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

function printTable(results: BackendResult[], notes: string[]): void {
  const rows: Array<{ name: string; target: string; cell(r: BackendResult): string }> = [];
  for (const [k, writers] of [1, WRITERS].entries()) {
    const w = `${writers} writer${writers > 1 ? 's' : ''}`;
    rows.push({ name: `plain INSERT tx/s, ${w}`, target: '', cell: (r) => fmt(r.appends[k]!.plain.perSecond) });
    rows.push({ name: `audited append tx/s, ${w}`, target: '', cell: (r) => fmt(r.appends[k]!.audited.perSecond) });
    rows.push({ name: `  ratio audited/plain, ${w}`, target: '≥ 0.50', cell: (r) => fmt(r.appends[k]!.ratio, 2) });
  }
  rows.push({
    name: `sequencing entries/s (maxBatch ${MAX_BATCH})`,
    target: '≥ 10,000 (pg)',
    cell: (r) => `${fmt(r.sequencing.perSecond)}${r.sequencing.drained ? '' : ` (${r.sequencing.ops}, budget hit)`}`,
  });
  rows.push({ name: '  entries sequenced in that run', target: '', cell: (r) => fmt(r.sequencing.ops) });
  rows.push({ name: 'verify: N entries measured', target: '', cell: (r) => fmt(r.verify.entries) });
  rows.push({ name: 'verify right after the bulk load: s for N', target: '', cell: (r) => fmt(r.verifyAfterLoad.seconds, 2) });
  rows.push({ name: '  this process\'s CPU seconds for N', target: '', cell: (r) => fmt(r.verifyAfterLoad.processCpuSeconds, 2) });
  rows.push({ name: 'VACUUM (ANALYZE) of the audit tables, s', target: '', cell: (r) => fmt(r.vacuumSeconds, 2) });
  rows.push({ name: 'verify: seconds for N', target: '', cell: (r) => fmt(r.verify.seconds, 2) });
  rows.push({ name: '  this process\'s CPU seconds for N', target: '', cell: (r) => fmt(r.verify.processCpuSeconds, 2) });
  rows.push({
    name: 'verify: s per 1M entries',
    target: '< 10',
    cell: (r) => `${fmt(r.verify.secondsPer1M, 2)}${r.verify.extrapolated ? ' (scaled)' : ''}`,
  });
  rows.push({ name: `inclusion proof HTTP p50 ms`, target: '', cell: (r) => fmt(r.inclusionProof.p50Ms, 2) });
  rows.push({ name: `inclusion proof HTTP p99 ms`, target: '', cell: (r) => fmt(r.inclusionProof.p99Ms, 2) });
  rows.push({ name: '  proof tree size / requests', target: '', cell: (r) => `${fmt(r.inclusionProof.treeSize)} / ${r.inclusionProof.requests}` });

  const header = ['metric', ...results.map((r) => r.backend), 'target'];
  const cells = rows.map((row) => [row.name, ...results.map((r) => row.cell(r)), row.target]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]): string => c.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ');
  const bytes = results[0]?.entryBytes ?? 0;
  console.log(`\naudit benchmark (entry ≈ ${bytes} bytes of JSON; append measurements time-boxed to ${APPEND_BUDGET_SECONDS} s)\n`);
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const c of cells) console.log(line(c));
  for (const note of notes) console.log(`\nnote: ${note}`);
}

function backendFor(name: 'pglite' | 'postgres', adminUrl: string): TestBackend {
  if (name === 'pglite') {
    return {
      name,
      available: true,
      async open() {
        const db = await createPgliteDb();
        return { db, cleanup: () => db.close() };
      },
    };
  }
  return {
    name,
    available: true,
    open: () => openTestPostgresDb(adminUrl),
  };
}

async function main(): Promise<void> {
  const options = optionsFromArgs();
  const adminUrl = process.env.ASSAY_TEST_DATABASE_URL || DEFAULT_POSTGRES_URL;
  const notes: string[] = [
    'PGlite is single-connection: its 8 "concurrent" writers queue behind one another',
    'plain baseline: one INSERT per transaction into a table with the same columns (text id, jsonb actor/resource/decision, text action/outcome/reason) and an equally sized row',
    `verification on PostgreSQL covers a log of --verify-entries ${options.verifyEntries} (topped up with bulk-inserted entries); PGlite verifies the log it already has; "(scaled)" marks a figure scaled linearly from a log under 1M entries`,
  ];
  const results: BackendResult[] = [];
  const started = process.hrtime.bigint();
  const loadAtStart = loadavg()[0] ?? 0;
  if (loadAtStart > 1) notes.push(`1-minute load average was ${fmt(loadAtStart, 2)} at start: other work shared the machine`);

  for (const name of ['pglite', 'postgres'] as const) {
    let t: TestApp;
    try {
      t = await createTestApp(backendFor(name, adminUrl));
    } catch (err) {
      if (name !== 'postgres') throw err;
      notes.push(`postgres skipped: ${new URL(adminUrl).host} unreachable (${(err as Error).message})`);
      continue;
    }
    console.log(`measuring ${name} …`);
    try {
      if (name === 'postgres') {
        notes.push(`postgres reached over TCP at ${new URL(adminUrl).host}, through a pool of 10 connections`);
      }
      const result = await measureBackend(name, t, options, name === 'postgres' ? options.verifyEntries : 0);
      if (result.settings.fsync !== 'on') notes.push(`${name} runs with fsync=${result.settings.fsync}: its commits are not flushed to disk`);
      results.push(result);
    } finally {
      await t.close();
    }
  }

  const loadAtEnd = loadavg()[0] ?? 0;
  if (loadAtEnd > 1) notes.push(`1-minute load average was ${fmt(loadAtEnd, 2)} at the end`);
  printTable(results, notes);
  console.log(`\ntotal run time ${fmt(seconds(started), 1)} s`);

  const resultsDir = join(here, 'results');
  await mkdir(resultsDir, { recursive: true });
  const cpuList = cpus();
  const result = {
    benchmark: 'audit',
    date: new Date().toISOString(),
    entries: options.entries,
    verifyEntries: options.verifyEntries,
    appendBudgetSeconds: APPEND_BUDGET_SECONDS,
    sequenceBudgetSeconds: SEQUENCE_BUDGET_SECONDS,
    targets: { auditedToPlainRatio: 0.5, sequencingPerSecondPostgres: 10_000, verifySecondsPer1M: 10 },
    machine: {
      node: process.version,
      platform: `${platform()} ${release()}`,
      cpus: cpuList.length,
      cpu: cpuList[0]?.model ?? 'unknown',
      memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
      loadAverage1mAtStart: Math.round(loadAtStart * 100) / 100,
      loadAverage1mAtEnd: Math.round(loadAtEnd * 100) / 100,
    },
    results,
    notes,
  };
  await writeFile(join(resultsDir, 'audit.json'), JSON.stringify(result, null, 2) + '\n');
  console.log(`\nwrote ${join(resultsDir, 'audit.json')}`);
}

await main();
