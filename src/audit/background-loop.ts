/** A loop running in the background of this process until stopped. */
export interface BackgroundLoop {
  /** Stops after the round in progress; resolves once nothing runs. */
  stop(): Promise<void>;
  /** Resolves once `rounds` full rounds have completed after this call (at once when stopped). */
  afterRounds(rounds: number): Promise<void>;
}

/** Options of `startBackgroundLoop`. */
export interface BackgroundLoopOptions {
  /** One round of work; resolves true when there may be more to do right away. */
  round: () => Promise<boolean>;
  /** Pause after a round that left nothing to do (or failed). */
  idleMs: number;
  /** Called when a round throws; the loop carries on. */
  onError?: (err: unknown) => void;
}

/**
 * Runs `round` back to back while it reports more work, and every `idleMs` otherwise. The
 * sequencer and the retention purge share it, so stopping and waking behave the same for both.
 */
export function startBackgroundLoop(options: BackgroundLoopOptions): BackgroundLoop {
  let running = true;
  let waiters: Array<() => void> = [];
  let wake: (() => void) | undefined;
  const loop = (async () => {
    while (running) {
      let busy = false;
      try {
        busy = await options.round();
      } catch (err) {
        options.onError?.(err);
      }
      const done = waiters;
      waiters = [];
      for (const w of done) w();
      // A caller still waiting for another round counts as work to do.
      if (!busy && running && waiters.length === 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, options.idleMs);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
      }
    }
  })();
  return {
    async stop() {
      running = false;
      wake?.();
      await loop;
    },
    afterRounds(rounds) {
      if (!running) return Promise.resolve();
      return new Promise<void>((resolve) => {
        let seen = 0;
        const onRound = (): void => {
          seen++;
          if (seen >= rounds || !running) resolve();
          else waiters.push(onRound);
        };
        waiters.push(onRound);
        wake?.();
      });
    },
  };
}
