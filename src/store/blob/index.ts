/** The content-addressed blob store: one contract, a filesystem backend and an S3 backend. */
import { createFsBlobStore, type FsBlobStoreOptions } from './fs/blob-store.js';
import type { S3BlobStoreOptions } from './s3/blob-store.js';
import type { BlobStore } from './types.js';

export type { BlobRef, BlobSource, BlobStore } from './types.js';
export { createFsBlobStore, type FsBlobStoreOptions } from './fs/blob-store.js';
export type { S3BlobStoreOptions } from './s3/blob-store.js';
export { assertBlobHash, isBlobHash, verifyingStream } from './verify.js';

/** Settings for either backend, told apart by `kind` (core's `BlobStoreConfig` is assignable to it). */
export type BlobStoreOptions = ({ kind: 'fs' } & FsBlobStoreOptions) | ({ kind: 's3' } & S3BlobStoreOptions);

/** Opens the blob store backend that `options.kind` names. */
export async function createBlobStore(options: BlobStoreOptions): Promise<BlobStore> {
  switch (options.kind) {
    case 'fs':
      return createFsBlobStore(options);
    case 's3': {
      // Loaded on demand: the AWS SDK costs ~0.35 s at start and the embedded default never needs it.
      const { createS3BlobStore } = await import('./s3/blob-store.js');
      return createS3BlobStore(options);
    }
    default: {
      // A new backend kind fails to compile here until it is handled.
      const unhandled: never = options;
      throw new TypeError(`unknown blob store kind: ${String((unhandled as { kind: unknown }).kind)}`);
    }
  }
}
