import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  S3Client,
  S3ServiceException,
  paginateListObjectsV2,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { BlobCorrupt, NotFound } from '../../../core/index.js';
import { probeWritableDir } from '../../scratch.js';
import { discard, ensureDir, spoolToFile } from '../spool.js';
import type { BlobRef, BlobSource, BlobStore } from '../types.js';
import { assertBlobHash, isBlobHash, readAll, verifiedStream } from '../verify.js';

/** Where the S3 blob store keeps its objects, and where it stages uploads locally. */
export interface S3BlobStoreOptions {
  /** For S3-compatible servers (MinIO, Ceph, s3rver); omit for AWS. */
  endpoint?: string;
  region: string;
  bucket: string;
  /** Key prefix; a missing trailing `/` is added, so `assay` and `assay/` are the same. */
  prefix?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  /** Path-style URLs (`endpoint/bucket/key`), needed by most self-hosted servers. */
  forcePathStyle?: boolean;
  /** Local directory for spooling uploads: the key is the hash, known only after reading everything. */
  spoolDir: string;
}

/** Multipart part size: large enough to keep part counts low (S3 allows 10,000), small enough to bound memory. */
const PART_SIZE = 16 * 1024 * 1024;
/** Parts uploaded concurrently; lib-storage buffers at most PART_SIZE × QUEUE_SIZE bytes. */
const QUEUE_SIZE = 4;

/** True for the S3 errors that mean "no such object" (GetObject says NoSuchKey, HeadObject a bare 404). */
function isMissing(err: unknown): boolean {
  if (!(err instanceof S3ServiceException)) return false;
  return err.name === 'NoSuchKey' || err.name === 'NotFound' || err.$metadata.httpStatusCode === 404;
}

function normalizePrefix(prefix: string | undefined): string {
  if (!prefix) return '';
  return prefix.endsWith('/') ? prefix : `${prefix}/`;
}

/**
 * A blob store in an S3 bucket, one object per blob at `<prefix>sha256/<hash>`.
 * Uploads are spooled to `spoolDir` while hashing, then uploaded (multipart when large);
 * S3 publishes an object only once it is complete, so a blob is either absent or whole.
 */
export async function createS3BlobStore(options: S3BlobStoreOptions): Promise<BlobStore> {
  const { bucket, spoolDir } = options;
  const keyPrefix = `${normalizePrefix(options.prefix)}sha256/`;
  await ensureDir(spoolDir);
  const client = new S3Client({
    region: options.region,
    endpoint: options.endpoint,
    forcePathStyle: options.forcePathStyle,
    credentials:
      options.accessKeyId && options.secretAccessKey
        ? { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey }
        : undefined,
    // Recent SDKs checksum every request by default, and send stream bodies as aws-chunked
    // with a CRC32 trailer. S3-compatible servers that do not speak that encoding (s3rver is one)
    // store the framing as content: s3rver silently turns "hello" into "5\r\nhello\r\n0\r\n
    // x-amz-checksum-crc32:…". lib-storage happens to send buffers, but any stream body would be
    // mangled, so checksums are only sent when an operation requires them. Integrity does not
    // depend on them: every read is verified against the SHA-256 address.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const keyOf = (hash: string): string => keyPrefix + hash;

  /** Stored size of the object for `hash`, or undefined when absent. */
  async function storedSize(hash: string): Promise<number | undefined> {
    try {
      const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: keyOf(hash) }));
      return head.ContentLength ?? 0;
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  /**
   * Whether the object for `ref` holds exactly its bytes: its size, then its SHA-256 (one
   * download). Storing bytes already stored is the moment to notice an object damaged in place
   * (a self-hosted server's disk fault, an overwrite behind Assay's back), which every read
   * refuses: the same bytes arriving again replace it rather than leaving it broken.
   */
  async function holds(ref: BlobRef): Promise<boolean> {
    if ((await storedSize(ref.hash)) !== ref.size) return false;
    try {
      for await (const chunk of await get(ref.hash)) void chunk;
      return true;
    } catch (err) {
      if (err instanceof BlobCorrupt || err instanceof NotFound) return false;
      throw err;
    }
  }

  /** Uploads `body` as the object for `hash` (multipart when large). */
  async function upload(hash: string, body: Readable): Promise<void> {
    const upload = new Upload({
      client,
      params: { Bucket: bucket, Key: keyOf(hash), Body: body, ContentType: 'application/octet-stream' },
      partSize: PART_SIZE,
      queueSize: QUEUE_SIZE,
    });
    await upload.done();
  }

  async function put(source: BlobSource): Promise<BlobRef> {
    // Not fsynced: the spool file is transient and S3, not this disk, is what makes the blob durable.
    const spooled = await spoolToFile(source, spoolDir, { fsync: false });
    const body = createReadStream(spooled.path);
    try {
      const ref = { hash: spooled.hash, size: spooled.size };
      // Same content, same key: skip the upload when the object holds these bytes already.
      if (await holds(ref)) return ref;
      await upload(ref.hash, body);
      return ref;
    } finally {
      // A failed upload may stop reading midway; close the file before removing it.
      body.destroy();
      await discard(spooled);
    }
  }

  /** The hash is known up front, so the file is uploaded as it is (no spool copy), and hashed on the way to be sure. */
  async function adopt(path: string, expected: BlobRef): Promise<BlobRef> {
    assertBlobHash(expected.hash);
    const ref = { hash: expected.hash, size: expected.size };
    if (await holds(ref)) return ref;
    const file = createReadStream(path, { highWaterMark: 1024 * 1024 });
    const digest = createHash('sha256');
    let size = 0;
    const body = file.pipe(
      new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          digest.update(chunk);
          size += chunk.byteLength;
          callback(null, chunk);
        },
      }),
    );
    file.on('error', (err) => body.destroy(err));
    try {
      await upload(ref.hash, body);
    } finally {
      file.destroy();
    }
    const actual = digest.digest('hex');
    if (actual !== ref.hash || size !== ref.size) {
      // The object under this address holds other bytes: take it down before anyone reads it.
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: keyOf(ref.hash) }));
      throw new BlobCorrupt(ref.hash, actual);
    }
    return ref;
  }

  async function get(hash: string): Promise<Readable> {
    assertBlobHash(hash);
    let body: unknown;
    try {
      body = (await client.send(new GetObjectCommand({ Bucket: bucket, Key: keyOf(hash) }))).Body;
    } catch (err) {
      if (isMissing(err)) throw new NotFound('blob', hash);
      throw err;
    }
    // In Node the SDK's body is an http.IncomingMessage; anything else means a non-Node runtime.
    if (!(body instanceof Readable)) throw new TypeError('S3 GetObject returned a non-stream body');
    return verifiedStream(body, hash);
  }

  async function has(hash: string): Promise<boolean> {
    assertBlobHash(hash);
    return (await storedSize(hash)) !== undefined;
  }

  async function remove(hash: string): Promise<boolean> {
    assertBlobHash(hash);
    // DeleteObject answers 204 whether or not the key existed; the HEAD tells the caller which.
    // In a versioned bucket this only adds a delete marker: payload prefixes must not be versioned.
    const existed = (await storedSize(hash)) !== undefined;
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: keyOf(hash) }));
    return existed;
  }

  /**
   * Every put spools to `spoolDir` first, so that directory must take a file; the bucket must
   * answer a lookup (of an address that cannot hold a blob). Writing a probe object into the
   * bucket is deliberately not done: a request per probe costs money at load-balancer rates, and
   * a versioned bucket would keep every probe object for good. So a bucket that has become
   * read-only to these credentials (a changed policy, a lapsed quota) is not detected here: its
   * first put fails instead.
   */
  async function probeWritable(): Promise<void> {
    await probeWritableDir(spoolDir);
    await storedSize('0'.repeat(64));
  }

  async function* list(): AsyncGenerator<string> {
    for await (const page of paginateListObjectsV2({ client }, { Bucket: bucket, Prefix: keyPrefix })) {
      for (const object of page.Contents ?? []) {
        const name = object.Key?.slice(keyPrefix.length) ?? '';
        // Skip foreign keys under the prefix (e.g. `sha256/x/y`): only well-formed hashes are blobs.
        if (isBlobHash(name)) yield name;
      }
    }
  }

  return {
    kind: 's3',
    put,
    adopt,
    get,
    getBytes: async (hash) => readAll(await get(hash)),
    has,
    size: async (hash) => (assertBlobHash(hash), storedSize(hash)),
    list,
    delete: remove,
    probeWritable,
    close: async () => client.destroy(),
  };
}
