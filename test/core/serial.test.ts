import { describe, expect, it } from 'vitest';
import { serialQueue } from '../../src/core/index.js';

describe('serialQueue', () => {
  it('runs functions one at a time in call order, and a failure does not stop the next', async () => {
    const inTurn = serialQueue();
    const log: string[] = [];
    let running = 0;
    const step = (name: string, fail = false) =>
      inTurn(async () => {
        running++;
        expect(running).toBe(1);
        log.push(`start ${name}`);
        await new Promise((r) => setTimeout(r, 5));
        log.push(`end ${name}`);
        running--;
        if (fail) throw new Error(name);
        return name;
      });
    const results = await Promise.allSettled([step('a'), step('b', true), step('c')]);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual(['a', 'b', 'c']);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  });
});
