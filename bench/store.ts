/**
 * SQL store throughput through Assay's `Db` interface, on every backend it supports.
 *
 *   npx tsx bench/store.ts [--rows N]     (default 20000)
 *
 * Backends: PGlite in memory, PGlite on disk (a temp dir under bench/tmp/), and PostgreSQL
 * (a temporary database created on ASSAY_TEST_DATABASE_URL, default
 * postgres://postgres@127.0.0.1:5432/postgres, and dropped afterwards; skipped with a note
 * when unreachable). Measures single-row INSERTs each in its own transaction (autocommit),
 * INSERTs batched in one transaction, one `INSERT … SELECT FROM unnest(…)` of N rows, and
 * primary-key point reads (random keys) with sequential awaits and with 8 concurrent readers.
 * Each measurement is time-boxed, so slow backends report a rate over fewer than N operations.
 * Prints a table and writes bench/results/store.json.
 */
import { seconds, serverSettings, type ServerSettings } from './support.js';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, rmdir, writeFile } from 'node:fs/promises';
import { cpus, platform, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createPgliteDb } from '../src/store/db/pglite/driver.js';
import type { Db } from '../src/store/db/types.js';
import { openTestPostgresDb } from '../test/support/databases.js';

const here = dirname(fileURLToPath(import.meta.url));
const DEFAULT_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
/** Upper bound on the wall time of one measurement; keeps the whole run near two minutes. */
const BUDGET_SECONDS = 4;
const CONCURRENT_READERS = 8;

interface Measurement {
  name: string;
  ops: number;
  seconds: number;
  opsPerSecond: number;
}

interface BackendResult {
  backend: string;
  settings: ServerSettings;
  measurements: Measurement[];
}

interface Backend {
  name: string;
  open(): Promise<{ db: Db; cleanup(): Promise<void> }>;
}

function rowsFromArgs(): number {
  const { values } = parseArgs({ options: { rows: { type: 'string', default: '20000' } } });
  const rows = Number(values.rows);
  if (!Number.isInteger(rows) || rows <= 0) throw new Error('--rows must be a positive integer');
  return rows;
}

function measurement(name: string, ops: number, elapsed: number): Measurement {
  return { name, ops, seconds: elapsed, opsPerSecond: ops / elapsed };
}

/** Runs `op(i)` for i = 0… sequentially until `limit` ops are done or the budget is spent. */
async function timeBoxed(name: string, limit: number, op: (i: number) => Promise<unknown>): Promise<Measurement> {
  const start = process.hrtime.bigint();
  let i = 0;
  while (i < limit) {
    await op(i++);
    if ((i & 63) === 0 && seconds(start) > BUDGET_SECONDS) break;
  }
  return measurement(name, i, seconds(start));
}

/** A row's payload: ~100 bytes of text, distinct per row. */
function payload(i: number): string {
  return `row ${i} ${randomBytes(40).toString('hex')}`;
}

async function measureBackend(db: Db, rows: number): Promise<Measurement[]> {
  await db.exec(`DROP TABLE IF EXISTS bench_rows;
    CREATE TABLE bench_rows (id text PRIMARY KEY, n int8 NOT NULL, payload text NOT NULL)`);
  const insert = 'INSERT INTO bench_rows (id, n, payload) VALUES ($1, $2, $3)';
  const keys: string[] = [];
  const out: Measurement[] = [];

  // 1. One transaction per row: every statement commits (and, on disk, syncs) on its own.
  out.push(
    await timeBoxed('INSERT, autocommit (1 row/tx)', rows, async (i) => {
      const id = `auto-${i}`;
      await db.query(insert, [id, i, payload(i)]);
      keys.push(id);
    }),
  );

  // 2. N single-row INSERTs inside one transaction.
  {
    const start = process.hrtime.bigint();
    const done = await db.transaction(async (tx) => {
      let i = 0;
      while (i < rows) {
        const id = `tx-${i}`;
        await tx.query(insert, [id, i, payload(i)]);
        keys.push(id);
        if ((++i & 63) === 0 && seconds(start) > BUDGET_SECONDS) break;
      }
      return i;
    });
    out.push(measurement('INSERT, batched in one tx', done, seconds(start)));
  }

  // 3. One statement inserting N rows from arrays.
  {
    const ids = Array.from({ length: rows }, (_, i) => `unnest-${i}`);
    const ns = Array.from({ length: rows }, (_, i) => i);
    const payloads = Array.from({ length: rows }, (_, i) => payload(i));
    const start = process.hrtime.bigint();
    const r = await db.query(
      'INSERT INTO bench_rows (id, n, payload) SELECT * FROM unnest($1::text[], $2::int8[], $3::text[])',
      [ids, ns, payloads],
    );
    out.push(measurement('INSERT … SELECT FROM unnest (1 stmt)', r.rowCount, seconds(start)));
    keys.push(...ids);
  }
  await db.exec('ANALYZE bench_rows');

  // 4. Point reads of random existing keys.
  const select = 'SELECT id, n, payload FROM bench_rows WHERE id = $1';
  const randomKey = (): string => keys[Math.floor(Math.random() * keys.length)] ?? '';
  const read = async (): Promise<void> => {
    const r = await db.query(select, [randomKey()]);
    if (r.rowCount !== 1) throw new Error('point read missed an existing key');
  };
  for (let i = 0; i < 200; i++) await read(); // warm the plan cache and buffers
  out.push(await timeBoxed('point read by PK, sequential', rows, read));

  {
    const start = process.hrtime.bigint();
    let done = 0;
    const reader = async (): Promise<void> => {
      while (done < rows) {
        done++;
        await read();
        if ((done & 63) === 0 && seconds(start) > BUDGET_SECONDS) break;
      }
    };
    await Promise.all(Array.from({ length: CONCURRENT_READERS }, reader));
    out.push(measurement(`point read by PK, ${CONCURRENT_READERS} concurrent readers`, done, seconds(start)));
  }
  return out;
}

function printTable(rows: number, results: BackendResult[], notes: string[]): void {
  const names = results[0]?.measurements.map((m) => m.name) ?? [];
  const header = ['ops/s', ...results.map((r) => r.backend)];
  const cells = names.map((name) => [
    name,
    ...results.map((r) => {
      const m = r.measurements.find((x) => x.name === name);
      return m ? `${Math.round(m.opsPerSecond).toLocaleString('en-US')}${m.ops < rows ? ` (${m.ops})` : ''}` : '-';
    }),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]): string => c.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ');
  console.log(`\nstore benchmark: ${rows} rows (ops/s; "(n)" = only n ops fit the ${BUDGET_SECONDS} s budget)\n`);
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const c of cells) console.log(line(c));
  for (const note of notes) console.log(`\nnote: ${note}`);
}

async function main(): Promise<void> {
  const rows = rowsFromArgs();
  await mkdir(join(here, 'tmp'), { recursive: true });
  const work = await mkdtemp(join(here, 'tmp', 'store-'));
  const adminUrl = process.env.ASSAY_TEST_DATABASE_URL || DEFAULT_POSTGRES_URL;
  const notes: string[] = [
    'PGlite is single-connection: its "concurrent readers" queue behind one another',
  ];
  const results: BackendResult[] = [];

  const backends: Backend[] = [
    {
      name: 'pglite (memory)',
      async open() {
        const db = await createPgliteDb();
        return { db, cleanup: () => db.close() };
      },
    },
    {
      name: 'pglite (disk)',
      async open() {
        const db = await createPgliteDb({ dataDir: join(work, 'pglite') });
        return { db, cleanup: () => db.close() };
      },
    },
    {
      name: 'postgres',
      open: () => openTestPostgresDb(adminUrl),
    },
  ];

  try {
    for (const backend of backends) {
      let opened: { db: Db; cleanup(): Promise<void> };
      try {
        opened = await backend.open();
      } catch (err) {
        if (backend.name !== 'postgres') throw err;
        notes.push(`postgres skipped: ${new URL(adminUrl).host} unreachable (${(err as Error).message})`);
        continue;
      }
      console.log(`measuring ${backend.name} …`);
      if (backend.name === 'postgres') {
        notes.push(`postgres reached over TCP at ${new URL(adminUrl).host}, through a pool of 10 connections`);
      }
      try {
        const settings = await serverSettings(opened.db);
        if (settings.fsync !== 'on') {
          notes.push(`${backend.name} runs with fsync=${settings.fsync}: its commits are not flushed to disk`);
        }
        results.push({ backend: backend.name, settings, measurements: await measureBackend(opened.db, rows) });
      } finally {
        await opened.cleanup();
      }
    }

    printTable(rows, results, notes);

    const resultsDir = join(here, 'results');
    await mkdir(resultsDir, { recursive: true });
    const cpuList = cpus();
    const result = {
      benchmark: 'store',
      date: new Date().toISOString(),
      rows,
      budgetSecondsPerMeasurement: BUDGET_SECONDS,
      machine: {
        node: process.version,
        platform: `${platform()} ${release()}`,
        cpus: cpuList.length,
        cpu: cpuList[0]?.model ?? 'unknown',
        memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
      },
      results,
      notes,
    };
    await writeFile(join(resultsDir, 'store.json'), JSON.stringify(result, null, 2) + '\n');
    console.log(`\nwrote ${join(resultsDir, 'store.json')}`);
  } finally {
    await rm(work, { recursive: true, force: true });
    // bench/tmp/ itself goes too, unless something else is using it.
    await rmdir(join(here, 'tmp')).catch(() => undefined);
  }
}

await main();
