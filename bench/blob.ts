/**
 * Blob store throughput against the tools an operator would compare it with.
 *
 *   npx tsx bench/blob.ts [--size-mb N]     (default 1024)
 *
 * Writes an N MB file of random bytes under bench/tmp/, then times, on that same file:
 * `cp`, `cp` + `sync` (cp made durable, as put is), `sha256sum`, the fs store's put and
 * verified get, and the S3 store's put and get against an in-process s3rver (only when
 * N ≤ 256: s3rver is a test double, not a fast server). Prints a table and writes
 * bench/results/blob.json. Everything under bench/tmp/ that it created is removed.
 */
import { execFile } from 'node:child_process';
import { randomFill } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, rmdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { cpus, platform, release } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { createBlobStore, type BlobStore } from '../src/store/blob/index.js';

const MiB = 1024 * 1024;
const S3_MAX_MB = 256;
const here = dirname(fileURLToPath(import.meta.url));
const run = promisify(execFile);

// s3rver ships no type declarations; this is the slice of its API the bench uses.
interface S3rverServer {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverCtor = new (options: {
  address: string;
  port: number;
  directory: string;
  silent: boolean;
  configureBuckets: { name: string }[];
}) => S3rverServer;

interface Row {
  name: string;
  seconds: number;
  mbPerSecond: number;
  timeVsCp: number;
  timeVsSha256sum: number;
}

function sizeFromArgs(): number {
  const { values } = parseArgs({ options: { 'size-mb': { type: 'string', default: '1024' } } });
  const sizeMb = Number(values['size-mb']);
  if (!Number.isInteger(sizeMb) || sizeMb <= 0) throw new Error(`--size-mb must be a positive integer`);
  return sizeMb;
}

/** Writes `sizeMb` MiB of fresh random bytes (incompressible, so no filesystem can shortcut it). */
async function writeRandomFile(path: string, sizeMb: number): Promise<void> {
  async function* chunks(): AsyncGenerator<Buffer> {
    for (let written = 0; written < sizeMb * MiB; written += 4 * MiB) {
      // A fresh buffer per chunk: the write stream may still hold the previous one.
      const chunk = Buffer.alloc(Math.min(4 * MiB, sizeMb * MiB - written));
      yield await new Promise<Buffer>((resolve, reject) =>
        randomFill(chunk, (err, filled) => (err ? reject(err) : resolve(filled))),
      );
    }
  }
  await pipeline(chunks, createWriteStream(path));
}

async function timed<T>(work: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const start = process.hrtime.bigint();
  const value = await work();
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, value };
}

/** A sink that discards everything, so a get is measured without any write cost. */
function nullSink(): Writable {
  return new Writable({
    highWaterMark: MiB,
    write: (_chunk, _encoding, callback) => callback(),
  });
}

/** Times put (from a file read stream) and verified get of `file`; checks the hash sha256sum found. */
async function measureStore(
  label: string,
  store: BlobStore,
  file: string,
  expectedHash: string,
): Promise<[string, number][]> {
  const put = await timed(() => store.put(createReadStream(file, { highWaterMark: MiB })));
  if (put.value.hash !== expectedHash) throw new Error(`${label} put hashed ${put.value.hash}, sha256sum said ${expectedHash}`);
  const get = await timed(async () => pipeline(await store.get(expectedHash), nullSink()));
  await store.close();
  return [
    [`${label} put`, put.seconds],
    [`${label} get (verified)`, get.seconds],
  ];
}

async function startS3rver(directory: string): Promise<{ server: S3rverServer; endpoint: string }> {
  const S3rver = createRequire(import.meta.url)('s3rver') as S3rverCtor;
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    directory,
    silent: true,
    configureBuckets: [{ name: 'bench' }],
  });
  const { port } = await server.run();
  return { server, endpoint: `http://127.0.0.1:${port}` };
}

function printTable(sizeMb: number, rows: Row[], notes: string[]): void {
  const header = ['operation', 'seconds', 'MB/s', 'time ÷ cp', 'time ÷ sha256sum'];
  const cells = rows.map((r) => [
    r.name,
    r.seconds.toFixed(2),
    r.mbPerSecond.toFixed(0),
    `${r.timeVsCp.toFixed(2)}×`,
    `${r.timeVsSha256sum.toFixed(2)}×`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]): string => c.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ');
  console.log(`\nblob store benchmark: ${sizeMb} MiB file (MB/s = MiB per second)\n`);
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const c of cells) console.log(line(c));
  for (const note of notes) console.log(`\nnote: ${note}`);
}

async function main(): Promise<void> {
  const sizeMb = sizeFromArgs();
  await mkdir(join(here, 'tmp'), { recursive: true });
  const work = await mkdtemp(join(here, 'tmp', 'blob-'));
  const notes: string[] = [
    'the source file was just written, so every reader finds it in the page cache; put fsyncs, cp does not (see "cp + sync")',
  ];
  try {
    const source = join(work, 'source.bin');
    console.log(`writing ${sizeMb} MiB of random bytes to ${source} …`);
    await writeRandomFile(source, sizeMb);

    const measured: [string, number][] = [];
    const copy = join(work, 'copy.bin');
    const cp = await timed(() => run('cp', [source, copy]));
    measured.push(['cp', cp.seconds]);
    await rm(copy);
    const cpSync = await timed(async () => {
      await run('cp', [source, copy]);
      await run('sync', [copy]); // coreutils `sync FILE` fsyncs just that file
    });
    measured.push(['cp + sync', cpSync.seconds]);
    await rm(copy);
    const sum = await timed(() => run('sha256sum', [source]));
    measured.push(['sha256sum', sum.seconds]);
    const expectedHash = sum.value.stdout.split(' ')[0] ?? '';

    const fsStore = await createBlobStore({ kind: 'fs', root: join(work, 'fs-store') });
    measured.push(...(await measureStore('fs', fsStore, source, expectedHash)));
    await rm(join(work, 'fs-store'), { recursive: true, force: true });

    if (sizeMb <= S3_MAX_MB) {
      const { server, endpoint } = await startS3rver(join(work, 's3rver'));
      try {
        const s3Store = await createBlobStore({
          kind: 's3',
          endpoint,
          region: 'us-east-1',
          bucket: 'bench',
          forcePathStyle: true,
          accessKeyId: 'S3RVER',
          secretAccessKey: 'S3RVER',
          spoolDir: join(work, 's3-spool'),
        });
        measured.push(...(await measureStore('s3 (s3rver)', s3Store, source, expectedHash)));
      } finally {
        await server.close();
      }
    } else {
      notes.push(`s3 skipped: ${sizeMb} MiB > ${S3_MAX_MB} MiB and s3rver (a test double) is too slow to be worth timing at this size`);
    }

    const cpSeconds = cp.seconds;
    const sumSeconds = sum.seconds;
    const rows: Row[] = measured.map(([name, seconds]) => ({
      name,
      seconds,
      mbPerSecond: sizeMb / seconds,
      timeVsCp: seconds / cpSeconds,
      timeVsSha256sum: seconds / sumSeconds,
    }));
    printTable(sizeMb, rows, notes);

    const resultsDir = join(here, 'results');
    await mkdir(resultsDir, { recursive: true });
    const result = {
      benchmark: 'blob',
      date: new Date().toISOString(),
      sizeMb,
      node: process.version,
      platform: `${platform()} ${release()}`,
      cpu: cpus()[0]?.model ?? 'unknown',
      rows,
      notes,
    };
    await writeFile(join(resultsDir, 'blob.json'), JSON.stringify(result, null, 2) + '\n');
    console.log(`\nwrote ${join(resultsDir, 'blob.json')}`);
  } finally {
    await rm(work, { recursive: true, force: true });
    // bench/tmp/ itself goes too, unless something else is using it.
    await rmdir(join(here, 'tmp')).catch(() => undefined);
  }
}

await main();
