/** Source of time, injectable so tests can fix it. All times are UTC. */
export interface Clock {
  now(): Date;
}

/** The real wall clock. */
export const systemClock: Clock = { now: () => new Date() };

/** UTC ISO-8601 with milliseconds, e.g. `2026-11-23T15:28:15.123Z`. */
export function isoNow(clock: Clock = systemClock): string {
  return clock.now().toISOString();
}
