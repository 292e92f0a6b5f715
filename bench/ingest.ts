/**
 * Dataset ingest throughput: ingest + hash + every quarantine check + profile, through the real
 * data module, against the tools an operator would compare it with.
 *
 *   npx tsx bench/ingest.ts [--size-mb N]     (default 1024)
 *
 * Generates an N MiB CSV under bench/tmp/ with realistic mixed columns (customer id, e-mail,
 * phone, country, amount, currency, date, segment, score, consent), then times on that same
 * file: `sha256sum`, DuckDB's bare `SELECT count(*) FROM read_csv(…)`, and `ingestDataset`
 * (stream into the spool with UTF-8 validation and SHA-256, every quarantine check with consent
 * and residency exclusions and the profile as DuckDB passes over the spooled file, the fs blob
 * store adopting the spooled file as the snapshot with fsync meanwhile, and the version's
 * transaction in an in-memory PGlite database). Then, as floors, work every exact ingest must
 * do: Node's SHA-256, DuckDB reading every column, and that with DuckDB's distinct key hashes
 * (the duplicates check's least work). Prints the tables and writes bench/results/ingest.json,
 * with the machine's load average (other work slows every row, not all alike).
 * Everything it created under bench/tmp/ is removed.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { cpus, loadavg, platform, release } from 'node:os';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import { ingestDataset } from '../src/data/index.js';
import { createPrincipal } from '../src/identity/index.js';
import { createFsBlobStore, createPgliteDb, migrate } from '../src/store/index.js';
import { seconds } from './support.js';

const MiB = 1024 * 1024;
const here = dirname(fileURLToPath(import.meta.url));
const run = promisify(execFile);

const COUNTRIES = ['DE', 'DE', 'DE', 'FR', 'FR', 'NL', 'IT', 'ES', 'AT', 'BE', 'PL', 'SE', 'IE', 'PT', 'FI', 'DK', 'CZ', 'US', 'GB'];
const SEGMENTS = ['retail', 'private', 'sme', 'corporate', 'student'];
const CURRENCIES = ['EUR', 'EUR', 'EUR', 'USD', 'GBP'];
const HEADER = 'customer_id,email,phone,country,amount,currency,opened_on,segment,score,consent';

function sizeFromArgs(): number {
  const { values } = parseArgs({ options: { 'size-mb': { type: 'string', default: '1024' } } });
  const sizeMb = Number(values['size-mb']);
  if (!Number.isInteger(sizeMb) || sizeMb <= 0) throw new Error('--size-mb must be a positive integer');
  return sizeMb;
}

/** A deterministic pseudo-random stream (xorshift), so every run ingests the same file. */
function prng(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

/** Writes about `sizeMb` MiB of CSV: ~95 bytes a row, 2% without consent, ~10% outside the EU. */
async function writeCsv(path: string, sizeMb: number): Promise<number> {
  const rand = prng(20261123);
  let rows = 0;
  async function* chunks(): AsyncGenerator<string> {
    yield `${HEADER}\n`;
    let written = 0;
    while (written < sizeMb * MiB) {
      const lines: string[] = [];
      for (let i = 0; i < 20_000; i++) {
        rows++;
        const id = 1_000_000 + rows;
        const phone = rand() < 0.3 ? `+49 30 ${Math.floor(1_000_000 + rand() * 8_999_999)}` : '';
        const day = 1 + Math.floor(rand() * 28);
        const consent = rand() < 0.02 ? 'false' : 'true';
        lines.push(
          `C${id},user.${id}@example.com,${phone},${COUNTRIES[Math.floor(rand() * COUNTRIES.length)]},${(rand() * 25_000).toFixed(2)},${CURRENCIES[Math.floor(rand() * CURRENCIES.length)]},2024-${String(1 + Math.floor(rand() * 12)).padStart(2, '0')}-${String(day).padStart(2, '0')},${SEGMENTS[Math.floor(rand() * SEGMENTS.length)]},${rand().toFixed(4)},${consent}`,
        );
      }
      const text = lines.join('\n') + '\n';
      written += Buffer.byteLength(text);
      yield text;
    }
  }
  await pipeline(chunks, createWriteStream(path));
  return rows;
}

async function timed<T>(work: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const start = process.hrtime.bigint();
  const value = await work();
  return { seconds: seconds(start), value };
}

async function duckdbCount(file: string): Promise<number> {
  const [row] = await duckdbQuery(`SELECT count(*) AS n FROM read_csv('${file.replaceAll("'", "''")}')`);
  return Number(row!.n);
}

/** Runs one query in a fresh in-process DuckDB (the baseline with DuckDB's defaults). */
async function duckdbQuery(sql: string, config: Record<string, string> = {}): Promise<Array<Record<string, unknown>>> {
  const instance = await DuckDBInstance.create(':memory:', config);
  const conn = await instance.connect();
  try {
    return (await conn.runAndReadAll(sql)).getRowObjectsJS() as Array<Record<string, unknown>>;
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

/** The file read as ingest reads it: strictly, every column as text. */
function textScan(file: string): string {
  const columns = HEADER.split(',');
  return `read_csv('${file.replaceAll("'", "''")}', auto_detect = false, header = true, delim = ',', quote = '"', escape = '"', strict_mode = true, columns = {${columns.map((c) => `'${c}': 'VARCHAR'`).join(', ')}})`;
}

/**
 * What any exact ingest must at least do, as DuckDB does it: read every column's values (the
 * bare count parses only what it needs to count records), then that and the duplicates check's
 * least work (distinct 64-bit hashes of a key column) in one read. Node's SHA-256 is what the
 * spool hashes with (OpenSSL, SHA-NI where the CPU has it; coreutils' sha256sum does not use it).
 */
async function floors(file: string): Promise<Row[]> {
  const columns = HEADER.split(',');
  const sha = await timed(async () => {
    const digest = createHash('sha256');
    for await (const chunk of createReadStream(file, { highWaterMark: MiB })) digest.update(chunk as Buffer);
    return digest.digest('hex');
  });
  // File order not kept, as in ingest's aggregate passes.
  const unordered = { preserve_insertion_order: 'false' };
  const every = await timed(() => duckdbQuery(`SELECT ${columns.map((c) => `count("${c}")`).join(', ')} FROM ${textScan(file)}`, unordered));
  const key = await timed(() => duckdbQuery(`SELECT ${columns.map((c) => `count("${c}")`).join(', ')}, count(DISTINCT hash("customer_id")) FROM ${textScan(file)}`, unordered));
  const size = (await stat(file)).size / MiB;
  return [
    { name: "node:crypto SHA-256 (the spool's hash)", seconds: sha.seconds, mbPerSecond: size / sha.seconds },
    { name: 'duckdb read_csv, every column as text', seconds: every.seconds, mbPerSecond: size / every.seconds },
    { name: '… and the exact distinct key hashes', seconds: key.seconds, mbPerSecond: size / key.seconds },
  ];
}

/** A migrated in-memory PGlite, an fs blob store and a steward: set up before the clock starts. */
async function ingestTarget(work: string) {
  const db = await createPgliteDb();
  await migrate(db);
  const blobs = await createFsBlobStore({ root: join(work, 'blobs') });
  const system = { actor: { principalId: 'system', kind: 'system', authenticatedBy: 'system' } as const };
  const steward = await createPrincipal(db, { name: 'bench-steward', kind: 'human', roles: ['data-steward'] }, system);
  return { db, blobs, steward, close: async () => (await blobs.close(), await db.close()) };
}

async function ingestOnce(target: Awaited<ReturnType<typeof ingestTarget>>, input: { work: string; file: string }): Promise<{ rows: number; excluded: number; checks: string[] }> {
  const { db, blobs, steward } = target;
  const v = await ingestDataset(
    // The server's default upload idle limit (data.transferIdleTimeoutSeconds), so its per-chunk timer is measured too.
    { db, blobs, tmpDir: join(input.work, 'tmp'), maxUploadBytes: 64 * 1024 * MiB, duckdbMemoryLimit: '4GB', uploadIdleTimeoutMs: 300_000 },
    {
      name: 'bench-customers',
      source: createReadStream(input.file, { highWaterMark: MiB }),
      mediaType: 'text/csv',
      declaredSize: (await stat(input.file)).size,
      sourceSystem: 'bench',
      classification: 'PII',
      ownerId: steward.id,
      consentColumn: 'consent',
      residency: 'EU',
      residencyColumn: 'country',
    },
    { actor: { principalId: steward.id, kind: 'human', authenticatedBy: 'api_token' } },
  );
  return { rows: v.rowCount, excluded: v.exclusions.reduce((n, e) => n + e.rowCount, 0), checks: v.blockingFailures };
}

interface Row {
  name: string;
  seconds: number;
  mbPerSecond: number;
}

function printTable(sizeMb: number, rows: Row[], ratios: Record<string, number>): void {
  const header = ['operation', 'seconds', 'MB/s'];
  const cells = rows.map((r) => [r.name, r.seconds.toFixed(2), r.mbPerSecond.toFixed(0)]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]): string => c.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ');
  console.log(`\ningest benchmark: ${sizeMb} MiB CSV (MB/s = MiB per second)\n`);
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const c of cells) console.log(line(c));
  console.log(`\ningest throughput ÷ sha256sum: ${ratios.vsSha256sum!.toFixed(2)}   ÷ DuckDB read_csv count: ${ratios.vsDuckdbCount!.toFixed(2)} (target ≥ 0.5)`);
}

/** Each floor's own ratio to the bare count: the most an ingest doing that work alone could reach. */
function floorRatios(least: Row[], countSeconds: number): Record<string, number> {
  return Object.fromEntries(least.map((r) => [r.name, countSeconds / r.seconds]));
}

function printFloors(least: Row[], countSeconds: number): void {
  const ratios = floorRatios(least, countSeconds);
  const width = Math.max(...least.map((r) => r.name.length));
  console.log('\nwork every exact ingest does (÷ DuckDB read_csv count = the most an ingest doing only that could reach):\n');
  for (const r of least) console.log(`${r.name.padEnd(width)}  ${r.seconds.toFixed(2).padStart(6)} s  ${r.mbPerSecond.toFixed(0).padStart(5)} MB/s  ÷ count ${ratios[r.name]!.toFixed(2)}`);
}

async function main(): Promise<void> {
  const sizeMb = sizeFromArgs();
  await mkdir(join(here, 'tmp'), { recursive: true });
  const work = await mkdtemp(join(here, 'tmp', 'ingest-'));
  try {
    const file = join(work, 'customers.csv');
    console.log(`writing ~${sizeMb} MiB of CSV to ${file} …`);
    const generated = await writeCsv(file, sizeMb);
    const fileMb = (await stat(file)).size / MiB;

    const loadAtStart = loadavg()[0] ?? 0;
    const sum = await timed(() => run('sha256sum', [file]));
    const count = await timed(() => duckdbCount(file));
    if (count.value !== generated) throw new Error(`DuckDB counted ${count.value} rows, ${generated} were written`);
    const target = await ingestTarget(work);
    const cpuBefore = process.cpuUsage();
    const ingest = await timed(() => ingestOnce(target, { work, file })).finally(() => target.close());
    const cpu = process.cpuUsage(cpuBefore);
    const loadAtEnd = loadavg()[0] ?? 0;
    if (ingest.value.rows !== generated) throw new Error(`ingest recorded ${ingest.value.rows} rows, ${generated} were written`);

    const rows: Row[] = [
      { name: 'sha256sum', seconds: sum.seconds, mbPerSecond: fileMb / sum.seconds },
      { name: 'duckdb read_csv count(*)', seconds: count.seconds, mbPerSecond: fileMb / count.seconds },
      { name: 'assay ingest + hash + all checks', seconds: ingest.seconds, mbPerSecond: fileMb / ingest.seconds },
    ];
    const ratios = { vsSha256sum: sum.seconds / ingest.seconds, vsDuckdbCount: count.seconds / ingest.seconds };
    const least = await floors(file);
    printTable(sizeMb, rows, ratios);
    printFloors(least, count.seconds);

    const resultsDir = join(here, 'results');
    await mkdir(resultsDir, { recursive: true });
    const result = {
      benchmark: 'ingest',
      date: new Date().toISOString(),
      sizeMb: Number(fileMb.toFixed(1)),
      rows: generated,
      excludedRows: ingest.value.excluded,
      blockingFailures: ingest.value.checks,
      node: process.version,
      platform: `${platform()} ${release()}`,
      cpu: cpus()[0]?.model ?? 'unknown',
      cpus: cpus().length,
      measurements: rows,
      ratios,
      floors: least.map((r) => ({ ...r, vsDuckdbCount: floorRatios(least, count.seconds)[r.name] })),
      ingestCpuSeconds: { user: cpu.user / 1e6, system: cpu.system / 1e6 },
      loadAverage1m: { atStart: Math.round(loadAtStart * 100) / 100, atEnd: Math.round(loadAtEnd * 100) / 100 },
      notes: [
        'ratios are throughput ratios (their seconds ÷ ours): > 1 means ingest is faster',
        'the file was just written, so every reader finds it in the page cache; ingest fsyncs the snapshot blob',
        'ingest reads the spooled file in DuckDB, never loading it as a table: a sample of the first 50,000 records (types, PII gates, a key column, few-valued columns, histogram bins), then one parallel aggregate pass for every column fact, check count, statistic, histogram and value count, then LIMIT queries in file order for the row numbers checks cite; the blob store adopts the spooled file (fsync and hard link) meanwhile',
        "floors are work every exact ingest must do, measured after the ingest: the spool's SHA-256; DuckDB reading every column's values; that and the duplicates check's least work (distinct key hashes) in one read. Each one's vsDuckdbCount is the most an ingest doing only that could reach",
        'ingestCpuSeconds is the whole process (DuckDB threads, libuv writes, page faults) during ingest; with other work on the machine (loadAverage1m) every row slows, not all alike',
      ],
    };
    await writeFile(join(resultsDir, 'ingest.json'), JSON.stringify(result, null, 2) + '\n');
    console.log(`\nwrote ${join(resultsDir, 'ingest.json')}`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

await main();
