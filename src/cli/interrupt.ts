/** A run that Ctrl-C (SIGINT) or a service manager's stop (SIGTERM) may interrupt. */
export interface Interruptible {
  /** Aborted when either signal arrives, with the signal's name ("SIGINT") as its reason. */
  readonly signal: AbortSignal;
  /** The signal that interrupted the run, undefined while none did. */
  readonly by: NodeJS.Signals | undefined;
}

/**
 * Runs `fn` with SIGINT and SIGTERM caught. Either would otherwise end the process on the spot,
 * leaving whatever temporary files `fn` was writing (partial downloads, audit leaves) in hidden
 * files nobody looks for; instead it aborts `signal`, so `fn` stops, removes them and throws saying
 * so (exit 1). The handlers are removed once `fn` settles, so the signals end the process again.
 */
export async function interruptible<T>(fn: (run: Interruptible) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let by: NodeJS.Signals | undefined;
  const interrupt = (signal: NodeJS.Signals): void => {
    if (by !== undefined) return; // a second Ctrl-C while the first one's cleanup runs
    by = signal;
    controller.abort(signal);
  };
  process.on('SIGINT', interrupt);
  process.on('SIGTERM', interrupt);
  try {
    return await fn({
      signal: controller.signal,
      get by() {
        return by;
      },
    });
  } finally {
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
  }
}
