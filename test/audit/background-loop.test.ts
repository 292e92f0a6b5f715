import { describe, expect, it } from 'vitest';
import { startBackgroundLoop } from '../../src/audit/background-loop.js';

// Every loop here idles for an hour: a call that only resolves after the idle pause would never
// resolve within the test timeout, so each test fails by timing out if the loop stops waking.
const HOUR = 3_600_000;

describe('background loop (sequencer and retention purge)', () => {
  it('runs rounds back to back while they report more work, then idles', async () => {
    let rounds = 0;
    const loop = startBackgroundLoop({ round: async () => ++rounds < 4, idleMs: HOUR });
    await loop.afterRounds(3);
    await loop.stop();
    expect(rounds).toBe(4);
  }, 10_000);

  it('wakes an idle loop for afterRounds, and stop ends the pause at once', async () => {
    let rounds = 0;
    const loop = startBackgroundLoop({ round: async () => (rounds++, false), idleMs: HOUR });
    await loop.afterRounds(1);
    await loop.afterRounds(2);
    expect(rounds).toBeGreaterThanOrEqual(3);
    await loop.stop();
    const after = rounds;
    await loop.afterRounds(1); // resolves at once: nothing runs any more
    expect(rounds).toBe(after);
  }, 10_000);

  it('reports a failing round and carries on', async () => {
    const errors: unknown[] = [];
    let rounds = 0;
    const loop = startBackgroundLoop({
      round: async () => {
        rounds++;
        if (rounds === 1) throw new Error('database unavailable');
        return false;
      },
      idleMs: HOUR,
      onError: (err) => errors.push(err),
    });
    await loop.afterRounds(2);
    await loop.stop();
    expect(errors).toHaveLength(1);
    expect(rounds).toBeGreaterThanOrEqual(2);
  }, 10_000);
});
