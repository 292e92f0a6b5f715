import { Transform } from 'node:stream';

/** A stream that withholds the last chunk until its release condition holds; see `lastChunkWithheld`. */
export interface WithheldStream {
  stream: Transform;
  /** Bytes released downstream so far. */
  bytes: () => number;
}

/**
 * A pass-through that emits each chunk only once the next one has arrived, and the last only at
 * a clean end and after `beforeLast` resolves (a rejection fails the stream instead). An error
 * upstream thus never lets the final byte out: a receiver that counts on a length sees the
 * transfer as cut off rather than complete. Used where the last byte is the point of no return:
 * a download whose bytes are still being verified, an upload whose file must not have changed.
 */
export function lastChunkWithheld(beforeLast?: () => Promise<void>): WithheldStream {
  let held: Buffer | undefined;
  let released = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      const previous = held;
      held = chunk;
      released += previous?.length ?? 0;
      callback(null, previous);
    },
    flush(callback) {
      (beforeLast ?? (() => Promise.resolve()))().then(
        () => {
          released += held?.length ?? 0;
          callback(null, held);
        },
        (err: unknown) => callback(err as Error),
      );
    },
  });
  return { stream, bytes: () => released };
}
