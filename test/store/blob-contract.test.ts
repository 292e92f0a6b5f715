import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { PutObjectCommand, S3Client, paginateListObjectsV2 } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BlobCorrupt, NotFound, ValidationFailed } from '../../src/core/errors.js';
import { createBlobStore, type BlobStore } from '../../src/store/blob/index.js';

// s3rver ships no type declarations; this is the slice of its API the suite uses.
interface S3rverOptions {
  address: string;
  port: number;
  directory: string;
  silent: boolean;
  configureBuckets: { name: string }[];
}
interface S3rverServer {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
const S3rver = createRequire(import.meta.url)('s3rver') as new (options: S3rverOptions) => S3rverServer;

const MiB = 1024 * 1024;
const BUCKET = 'assay-blobs';
// s3rver checks SigV4 signatures against its single built-in account.
const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/** One store under test plus the backend-specific knobs the contract needs to observe it. */
/** The fs store's staging directory of this process, under `root/tmp` (one per process, named by its owner file). */
async function ownStaging(root: string): Promise<string> {
  const dirs = await readdir(join(root, 'tmp'));
  if (dirs.length !== 1) throw new Error(`expected one staging directory under ${root}/tmp, found ${dirs.join(', ')}`);
  return join(root, 'tmp', dirs[0]!);
}

/** What is staged in `dir`, leaving out the owner file of a process's staging directory. */
async function staged(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => name !== 'owner.json');
}

interface Harness {
  store: BlobStore;
  /** Where in-progress uploads are staged; must be empty whenever no put is running. */
  stagingDir: string;
  /** Overwrites the stored bytes of `hash` with `bytes`, behind the store's back. */
  tamper(hash: string, bytes: Buffer): Promise<void>;
  /** Every file or object the store holds outside its staging directory, whatever its name, read behind the store's back. */
  everything(): Promise<string[]>;
}

interface Backend {
  name: 'fs' | 's3';
  start(): Promise<void>;
  open(): Promise<Harness>;
  stop(): Promise<void>;
}

const scratch: string[] = [];
async function scratchDir(label: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `assay-blob-${label}-`));
  scratch.push(dir);
  return dir;
}

const fsBackend: Backend = {
  name: 'fs',
  start: async () => undefined,
  async open() {
    const root = await scratchDir('fs');
    const store = await createBlobStore({ kind: 'fs', root });
    return {
      store,
      stagingDir: await ownStaging(root),
      async tamper(hash, bytes) {
        await writeFile(join(root, 'sha256', hash.slice(0, 2), hash.slice(2, 4), hash), bytes);
      },
      async everything() {
        const entries = await readdir(root, { recursive: true, withFileTypes: true });
        return entries.filter((e) => !e.isDirectory() && !join(e.parentPath, e.name).startsWith(join(root, 'tmp'))).map((e) => join(e.parentPath, e.name));
      },
    };
  },
  stop: async () => undefined,
};

function s3Backend(): Backend {
  let server: S3rverServer | undefined;
  let endpoint = '';
  let raw: S3Client | undefined;
  let stores = 0;
  return {
    name: 's3',
    async start() {
      server = new S3rver({
        address: '127.0.0.1',
        port: 0,
        directory: await scratchDir('s3rver'),
        silent: true,
        configureBuckets: [{ name: BUCKET }],
      });
      const { port } = await server.run();
      endpoint = `http://127.0.0.1:${port}`;
      // The tampering client needs the same checksum settings as the store (see s3/blob-store.ts).
      raw = new S3Client({
        endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: S3RVER_CREDENTIALS,
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      });
    },
    async open() {
      // A fresh prefix per store isolates tests that share the one server and bucket.
      const prefix = `t${++stores}/`;
      const spoolDir = await scratchDir('spool');
      const store = await createBlobStore({
        kind: 's3',
        endpoint,
        region: 'us-east-1',
        bucket: BUCKET,
        prefix,
        forcePathStyle: true,
        ...S3RVER_CREDENTIALS,
        spoolDir,
      });
      return {
        store,
        stagingDir: spoolDir,
        async tamper(hash, bytes) {
          await raw?.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${prefix}sha256/${hash}`, Body: bytes }));
        },
        async everything() {
          const keys: string[] = [];
          for await (const page of paginateListObjectsV2({ client: raw! }, { Bucket: BUCKET, Prefix: prefix })) keys.push(...(page.Contents ?? []).map((o) => o.Key ?? ''));
          return keys;
        },
      };
    },
    async stop() {
      raw?.destroy();
      await server?.close();
    },
  };
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Deterministic pseudo-random bytes, generated a chunk at a time so no test holds them all. */
async function* generated(totalBytes: number, seed: number): AsyncGenerator<Uint8Array> {
  let state = seed | 1; // xorshift32 must not start at 0
  for (let offset = 0; offset < totalBytes; offset += MiB) {
    const words = new Uint32Array(MiB / 4);
    for (let i = 0; i < words.length; i++) {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      words[i] = state >>> 0;
    }
    yield new Uint8Array(words.buffer, 0, Math.min(MiB, totalBytes - offset));
  }
}

/** SHA-256 and length of a stream, read to the end without buffering it. */
async function digestOf(stream: AsyncIterable<Uint8Array>): Promise<{ hash: string; size: number }> {
  const digest = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    digest.update(chunk);
    size += chunk.byteLength;
  }
  return { hash: digest.digest('hex'), size };
}

/** A file of `size` generated bytes in `dir`, and its SHA-256 and size as its writer computed them. */
async function writtenFile(dir: string, size: number, seed: number): Promise<{ path: string; ref: { hash: string; size: number } }> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of generated(size, seed)) chunks.push(chunk);
  const bytes = Buffer.concat(chunks);
  const path = join(dir, `file-${seed}-${Math.random().toString(36).slice(2)}`);
  await writeFile(path, bytes);
  return { path, ref: { hash: sha256(bytes), size } };
}

async function listed(store: BlobStore): Promise<string[]> {
  const hashes: string[] = [];
  for await (const hash of store.list()) hashes.push(hash);
  return hashes.sort();
}

/** A source that yields `goodBytes` and then fails, like an upload cut off mid-way. */
async function* failingAfter(goodBytes: number, error: Error): AsyncGenerator<Uint8Array> {
  yield* generated(goodBytes, 0xc07);
  throw error;
}

const MALFORMED = [
  '../etc/passwd',
  '../../../../etc/passwd',
  'a'.repeat(63),
  'a'.repeat(65),
  'A'.repeat(64),
  'abc',
  '',
  `${'a'.repeat(62)}/x`,
  `${'a'.repeat(63)}\n`,
  `sha256:${'a'.repeat(64)}`,
];

/** The contract every backend must honour; called once per backend. */
function contract(backend: Backend): void {
  describe(`blob store contract [${backend.name}]`, () => {
    let h: Harness | undefined;

    beforeAll(() => backend.start());
    afterAll(async () => {
      await backend.stop();
      await Promise.all(scratch.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
    });
    // Each test gets its own empty store, so `list` can be compared exactly.
    const fresh = async (): Promise<Harness> => {
      h = await backend.open();
      return h;
    };
    afterEach(async () => {
      await h?.store.close();
      h = undefined;
    });

    it('round-trips an empty blob under the SHA-256 of no bytes', async () => {
      const { store } = await fresh();
      const ref = await store.put(new Uint8Array(0));
      expect(ref).toEqual({ hash: sha256(new Uint8Array(0)), size: 0 });
      expect((await store.getBytes(ref.hash)).length).toBe(0);
      expect(await digestOf(await store.get(ref.hash))).toEqual(ref);
    });

    it('round-trips a small blob from a buffer and from a Readable', async () => {
      const { store } = await fresh();
      const bytes = Buffer.from('governed data, certified models\n');
      const fromBuffer = await store.put(bytes);
      expect(fromBuffer).toEqual({ hash: sha256(bytes), size: bytes.length });
      expect(await store.getBytes(fromBuffer.hash)).toEqual(bytes);
      const fromStream = await store.put(Readable.from([bytes.subarray(0, 7), bytes.subarray(7)]));
      expect(fromStream).toEqual(fromBuffer);
    });

    it('round-trips a 20 MB streamed blob without buffering it', async () => {
      const { store } = await fresh();
      const size = 20 * MiB + 12_345; // not a multiple of any part or chunk size
      const expected = await digestOf(generated(size, 0xb16));
      const ref = await store.put(Readable.from(generated(size, 0xb16)));
      expect(ref).toEqual(expected);
      expect(await digestOf(await store.get(ref.hash))).toEqual(expected);
      expect(await listed(store)).toEqual([ref.hash]);
    });

    it('accepts a plain async iterable as the source', async () => {
      const { store } = await fresh();
      const expected = await digestOf(generated(3 * MiB, 0x17e));
      expect(await store.put(generated(3 * MiB, 0x17e))).toEqual(expected);
      expect(await store.has(expected.hash)).toBe(true);
    });

    it('is idempotent: the same bytes put again, even concurrently, give one blob', async () => {
      const { store, stagingDir } = await fresh();
      const bytes = Buffer.from('same bytes, same address');
      const first = await store.put(bytes);
      const again = await Promise.all([store.put(bytes), store.put(Buffer.from(bytes)), store.put(Readable.from([bytes]))]);
      for (const ref of again) expect(ref).toEqual(first);
      expect(await listed(store)).toEqual([first.hash]);
      expect(await store.getBytes(first.hash)).toEqual(bytes);
      expect(await staged(stagingDir)).toEqual([]);
    });

    it('probeWritable resolves, leaving nothing staged, even many at once; rejects naming the staging directory when no file can be made there', async () => {
      const { store, stagingDir, everything } = await fresh();
      await Promise.all(Array.from({ length: 8 }, () => store.probeWritable()));
      expect(await staged(stagingDir)).toEqual([]);
      // Nothing is stored either: on S3 a probe writes no object (cost; a versioned bucket keeps them all).
      expect(await everything()).toEqual([]);
      // Run as root, permission bits stop nothing: a file where the staging directory should be (ENOTDIR) stands in for a read-only or full disk.
      await rename(stagingDir, `${stagingDir}.aside`);
      await writeFile(stagingDir, 'not a directory');
      try {
        await expect(store.probeWritable()).rejects.toThrow(`cannot write in ${stagingDir}: ENOTDIR`);
      } finally {
        await rm(stagingDir);
        await rename(`${stagingDir}.aside`, stagingDir);
      }
      await store.probeWritable();
      expect(await staged(stagingDir)).toEqual([]);
    });

    it('has reports stored and absent blobs', async () => {
      const { store } = await fresh();
      const ref = await store.put(Buffer.from('present'));
      expect(await store.has(ref.hash)).toBe(true);
      expect(await store.has(sha256(Buffer.from('absent')))).toBe(false);
    });

    it('size reports a stored blob\'s length, and undefined for an absent one', async () => {
      const { store } = await fresh();
      const ref = await store.put(Buffer.from('seven b'));
      expect(await store.size(ref.hash)).toBe(7);
      expect(await store.size(sha256(Buffer.from('absent')))).toBeUndefined();
      await expect(store.size('../x')).rejects.toBeInstanceOf(ValidationFailed);
    });

    it('lists exactly what was put', async () => {
      const { store } = await fresh();
      expect(await listed(store)).toEqual([]);
      const refs = await Promise.all(['one', 'two', 'three', ''].map((s) => store.put(Buffer.from(s))));
      expect(await listed(store)).toEqual(refs.map((r) => r.hash).sort());
    });

    it('reports an absent blob as NotFound', async () => {
      const { store } = await fresh();
      const missing = sha256(Buffer.from('never stored'));
      await expect(store.get(missing)).rejects.toBeInstanceOf(NotFound);
      await expect(store.getBytes(missing)).rejects.toThrow(NotFound);
      await expect(store.get(missing)).rejects.toMatchObject({ resourceType: 'blob', resourceId: missing });
    });

    it.each(MALFORMED)('rejects the malformed hash %j with ValidationFailed', async (bad) => {
      const { store } = await fresh();
      await expect(store.get(bad)).rejects.toBeInstanceOf(ValidationFailed);
      await expect(store.getBytes(bad)).rejects.toBeInstanceOf(ValidationFailed);
      await expect(store.has(bad)).rejects.toBeInstanceOf(ValidationFailed);
      await expect(store.delete(bad)).rejects.toBeInstanceOf(ValidationFailed);
      await expect(store.adopt(join(tmpdir(), 'never-read'), { hash: bad, size: 0 })).rejects.toBeInstanceOf(ValidationFailed);
    });

    it.each([
      ['an async iterable that throws', () => failingAfter(3 * MiB, new Error('connection reset'))],
      ['a Readable that errors', () => Readable.from(failingAfter(3 * MiB, new Error('connection reset')))],
    ])('leaves nothing behind when the source fails halfway (%s)', async (_label, source) => {
      const { store, stagingDir } = await fresh();
      const kept = await store.put(Buffer.from('stored before the failed upload'));
      await expect(store.put(source())).rejects.toThrow('connection reset');
      expect(await staged(stagingDir)).toEqual([]);
      expect(await listed(store)).toEqual([kept.hash]);
      const partial = await digestOf(generated(3 * MiB, 0xc07));
      expect(await store.has(partial.hash)).toBe(false);
    });

    it("adopts a file under its writer's hash; the file stays the caller's to delete", async () => {
      const { store, stagingDir } = await fresh();
      const { path, ref } = await writtenFile(await scratchDir('adopt'), 5 * MiB + 3, 0xad0);
      expect(await store.adopt(path, ref)).toEqual(ref);
      expect(await staged(stagingDir)).toEqual([]);
      expect((await stat(path)).size).toBe(ref.size);
      await rm(path);
      expect(await digestOf(await store.get(ref.hash))).toEqual(ref);
      expect(await listed(store)).toEqual([ref.hash]);
    });

    it('is idempotent on adopt: bytes already stored, by put or adopt, even concurrently, stay one blob', async () => {
      const { store } = await fresh();
      const dir = await scratchDir('adopt');
      const { path, ref } = await writtenFile(dir, MiB, 0xad1);
      const { path: second } = await writtenFile(dir, MiB, 0xad1);
      expect(await store.put(await readFile(path))).toEqual(ref);
      const again = await Promise.all([store.adopt(path, ref), store.adopt(second, ref), store.adopt(path, ref)]);
      for (const r of again) expect(r).toEqual(ref);
      expect(await listed(store)).toEqual([ref.hash]);
      expect(await digestOf(await store.get(ref.hash))).toEqual(ref);
    });

    it.each([
      ['another hash', (ref: { hash: string; size: number }) => ({ hash: sha256(Buffer.from('other bytes')), size: ref.size })],
      ['another size', (ref: { hash: string; size: number }) => ({ hash: ref.hash, size: ref.size + 1 })],
    ])('never serves an adopted file that does not match what its writer claims (%s)', async (_label, claim) => {
      const { store, stagingDir } = await fresh();
      const { path, ref } = await writtenFile(await scratchDir('adopt'), 2 * MiB, 0xad2);
      const wrong = claim(ref);
      const adopted = await store.adopt(path, wrong).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(await staged(stagingDir)).toEqual([]);
      if (adopted !== undefined) {
        expect(adopted).toBeInstanceOf(BlobCorrupt);
        expect(await store.has(wrong.hash)).toBe(false);
      } else {
        await expect(store.getBytes(wrong.hash)).rejects.toBeInstanceOf(BlobCorrupt);
      }
    });

    it('deletes one blob for good, leaves the others, and reports whether it was there', async () => {
      const { store } = await fresh();
      const gone = await store.put(Buffer.from('erase me'));
      const kept = await store.put(Buffer.from('keep me'));
      expect(await store.delete(gone.hash)).toBe(true);
      expect(await store.has(gone.hash)).toBe(false);
      await expect(store.get(gone.hash)).rejects.toBeInstanceOf(NotFound);
      await expect(store.getBytes(gone.hash)).rejects.toBeInstanceOf(NotFound);
      expect(await listed(store)).toEqual([kept.hash]);
      expect(await store.getBytes(kept.hash)).toEqual(Buffer.from('keep me'));
    });

    it('is idempotent on delete: an absent or already deleted blob resolves false', async () => {
      const { store } = await fresh();
      expect(await store.delete(sha256(Buffer.from('never stored')))).toBe(false);
      const ref = await store.put(Buffer.from('twice'));
      const [a, b] = await Promise.all([store.delete(ref.hash), store.delete(ref.hash)]);
      // Concurrent deletes may both see the blob, but at least one did and it is gone afterwards.
      expect(a || b).toBe(true);
      expect(await store.delete(ref.hash)).toBe(false);
      expect(await listed(store)).toEqual([]);
    });

    it('stores the same bytes again after a delete', async () => {
      const { store } = await fresh();
      const bytes = Buffer.from('collected again later');
      const ref = await store.put(bytes);
      await store.delete(ref.hash);
      expect(await store.put(bytes)).toEqual(ref);
      expect(await store.getBytes(ref.hash)).toEqual(bytes);
    });

    it('repairs a blob damaged in place at the same size when the same bytes are put or adopted again, instead of keeping it', async () => {
      const { store, tamper } = await fresh();
      const chunks: Uint8Array[] = [];
      for await (const chunk of generated(MiB + 9, 0xad7)) chunks.push(chunk);
      const good = Buffer.concat(chunks);
      const damage = async (hash: string) => {
        const bytes = Buffer.from(good);
        bytes[4242] = bytes[4242]! ^ 0x10;
        await tamper(hash, bytes);
        await expect(store.getBytes(hash)).rejects.toBeInstanceOf(BlobCorrupt);
      };
      const ref = await store.put(good);
      await damage(ref.hash);
      expect(await store.put(good)).toEqual(ref);
      expect(await digestOf(await store.get(ref.hash))).toEqual(ref);
      await damage(ref.hash);
      // A file of its own, written after the damage (a file system store may link what it adopts).
      const path = join(await scratchDir('rot'), 'good.bin');
      await writeFile(path, good);
      expect(await store.adopt(path, ref)).toEqual(ref);
      expect(await digestOf(await store.get(ref.hash))).toEqual(ref);
      expect(await listed(store)).toEqual([ref.hash]);
    });

    it('detects a corrupted blob on get (stream fails, never ends cleanly) and on getBytes', async () => {
      const { store, tamper } = await fresh();
      const chunks: Uint8Array[] = [];
      for await (const chunk of generated(2 * MiB + 7, 0x71c)) chunks.push(chunk);
      const bytes = Buffer.concat(chunks);
      const ref = await store.put(bytes);
      const flipped = Buffer.from(bytes);
      flipped[1_000_000] = flipped[1_000_000]! ^ 0x01;
      await tamper(ref.hash, flipped);

      const stream = await store.get(ref.hash);
      let ended = false;
      stream.on('end', () => (ended = true));
      const failure = await digestOf(stream).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(failure).toBeInstanceOf(BlobCorrupt);
      expect(failure).toMatchObject({ hash: ref.hash, actualHash: sha256(flipped), code: 'integrity_violation' });
      expect(ended).toBe(false);

      const bytesFailure = await store.getBytes(ref.hash).catch((err: unknown) => err);
      expect(bytesFailure).toBeInstanceOf(BlobCorrupt);
      expect((bytesFailure as BlobCorrupt).message).toContain(ref.hash);
    });
  });
}

contract(fsBackend);
contract(s3Backend());

describe('fs blob store layout', () => {
  it('removes at opening what a killed process staged (its directory, and loose files of the old layout older than a day); keeps a live one’s', async () => {
    const root = await mkdtemp(join(tmpdir(), 'assay-blob-staged-'));
    try {
      const child = spawn(process.execPath, ['-e', '']);
      await new Promise((resolve) => child.on('exit', resolve));
      const staged = async (pid: number): Promise<string> => {
        const dir = join(root, 'tmp', `proc-${pid}-0123456789ab`);
        await mkdir(dir, { recursive: true });
        await writeFile(join(dir, 'owner.json'), JSON.stringify({ host: hostname(), pid, startedAt: new Date().toISOString() }));
        await writeFile(join(dir, 'a.part'), 'fsynced bytes a crash kept from their rename');
        return dir;
      };
      const dead = await staged(child.pid!);
      const live = await staged(process.pid);
      const loose = join(root, 'tmp', 'b.part');
      await writeFile(loose, 'old layout');
      await utimes(loose, new Date(Date.now() - 25 * 3600_000), new Date(Date.now() - 25 * 3600_000));
      const store = await createBlobStore({ kind: 'fs', root });
      expect(existsSync(dead)).toBe(false);
      expect(existsSync(loose)).toBe(false);
      expect(existsSync(live)).toBe(true);
      await store.close();
      expect(await readdir(join(root, 'tmp'))).toEqual([live.slice(join(root, 'tmp').length + 1)]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('publishes blobs at root/sha256/ab/cd/<hash>, owner-only, with nothing left staged under tmp/', async () => {
    const root = await mkdtemp(join(tmpdir(), 'assay-blob-layout-'));
    try {
      const store = await createBlobStore({ kind: 'fs', root });
      const bytes = Buffer.from('layout');
      const { hash } = await store.put(bytes);
      const path = join(root, 'sha256', hash.slice(0, 2), hash.slice(2, 4), hash);
      expect(await readFile(path)).toEqual(bytes);
      expect((await stat(path)).mode & 0o777).toBe(0o600);
      expect((await stat(join(root, 'sha256', hash.slice(0, 2)))).mode & 0o777).toBe(0o700);
      expect(await staged(await ownStaging(root))).toEqual([]);
      await store.close();
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('fs blob store adoption', () => {
  const roots: string[] = [];
  afterAll(async () => Promise.all(roots.map((dir) => rm(dir, { recursive: true, force: true }))));
  const fsStore = async (parent = tmpdir()): Promise<{ store: BlobStore; root: string }> => {
    const root = await mkdtemp(join(parent, 'assay-blob-adopt-'));
    roots.push(root);
    return { store: await createBlobStore({ kind: 'fs', root }), root };
  };
  const blobPath = (root: string, hash: string): string => join(root, 'sha256', hash.slice(0, 2), hash.slice(2, 4), hash);

  it('links the file into place on one filesystem (no copy), owner-only', async () => {
    const { store, root } = await fsStore();
    const { path, ref } = await writtenFile(root, MiB, 0xad3);
    await store.adopt(path, ref);
    const blob = await stat(blobPath(root, ref.hash));
    expect(blob.ino).toBe((await stat(path)).ino);
    expect(blob.mode & 0o777).toBe(0o600);
    expect(await staged(await ownStaging(root))).toEqual([]);
  });

  it('repairs a blob that rotted in place at the same size when the same bytes are put or adopted again, instead of keeping it', async () => {
    const { store, root } = await fsStore();
    const { path, ref } = await writtenFile(root, MiB + 3, 0xad6);
    const good = await readFile(path);
    const rot = async () => {
      const bytes = Buffer.from(good);
      bytes[4242] = bytes[4242]! ^ 0x10;
      // The adopted blob is a hard link of the caller's file: break the link, as a disk fault would not share it.
      await rm(blobPath(root, ref.hash));
      await writeFile(blobPath(root, ref.hash), bytes, { mode: 0o600 });
      await expect(store.getBytes(ref.hash)).rejects.toBeInstanceOf(BlobCorrupt);
    };
    expect(await store.put(good)).toEqual(ref);
    await rot();
    expect(await store.put(good)).toEqual(ref);
    expect(await digestOf(await store.get(ref.hash))).toEqual(ref);
    await rot();
    expect(await store.adopt(path, ref)).toEqual(ref);
    expect(await digestOf(await store.get(ref.hash))).toEqual(ref);
    expect(await staged(await ownStaging(root))).toEqual([]);
    expect(await listed(store)).toEqual([ref.hash]);
  });

  // /dev/shm is a tmpfs on Linux: a link from there into a store on disk fails with EXDEV.
  const otherDevice = existsSync('/dev/shm') && statSync('/dev/shm').dev !== statSync(tmpdir()).dev;
  it.skipIf(!otherDevice)('copies and verifies a file from another filesystem', async () => {
    const { store, root } = await fsStore();
    const shm = await mkdtemp(join('/dev/shm', 'assay-adopt-'));
    roots.push(shm);
    const { path, ref } = await writtenFile(shm, MiB + 5, 0xad4);
    expect(await store.adopt(path, ref)).toEqual(ref);
    expect((await stat(blobPath(root, ref.hash))).ino).not.toBe((await stat(path)).ino);
    expect(await digestOf(await store.get(ref.hash))).toEqual(ref);
    const { path: liar } = await writtenFile(shm, MiB + 5, 0xad5);
    await expect(store.adopt(liar, { hash: sha256(Buffer.from('claimed')), size: MiB + 5 })).rejects.toBeInstanceOf(BlobCorrupt);
    expect(await staged(await ownStaging(root))).toEqual([]);
    expect(await listed(store)).toEqual([ref.hash]);
  });
});
