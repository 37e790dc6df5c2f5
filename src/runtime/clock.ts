/**
 * The one place Failsafe reads the wall clock. Components take a Clock, so that tests and replays
 * can set the time; the composition root (`serve`, the CLI) hands them `systemClock`.
 * Durations (timeouts, deadlines) are measured with `performance.now()`, which never jumps.
 */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** A clock that stands still until moved: for tests. */
export const fixedClock = (at: Date | string): Clock & { set(at: Date | string): void } => {
  let current = new Date(at);
  return {
    now: () => new Date(current),
    set: (next) => {
      current = new Date(next);
    },
  };
};
