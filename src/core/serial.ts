/**
 * A queue that runs the functions handed to it one at a time, in call order, each once the
 * previous one has settled (whether it resolved or threw). The returned function resolves or
 * rejects as `fn` does; a failure never blocks the ones queued after it.
 */
export function serialQueue(): <T>(fn: () => Promise<T>) => Promise<T> {
  let last: Promise<unknown> = Promise.resolve();
  return <T>(fn: () => Promise<T>): Promise<T> => {
    const run = last.then(fn);
    last = run.catch(() => undefined);
    return run;
  };
}
