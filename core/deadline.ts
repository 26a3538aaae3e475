/**
 * Bounding a wait: {@link raceDeadline} resolves with the awaited value, or with a marker once the
 * time is up, and always clears its timer (tests run with sanitizers and fake clocks).
 * @module
 */

const TIMED_OUT = Symbol("timed out");

/** The two timer functions a deadline needs. */
export interface DeadlineTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

const GLOBAL_TIMERS: DeadlineTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id as number),
};

/**
 * Resolves `promise`, or `TIMED_OUT` after `ms`. The timer is cleared either way so tests with
 * sanitizers stay clean; a late rejection of the abandoned promise is swallowed.
 */
export function raceDeadline<T>(
  promise: PromiseLike<T>,
  ms: number,
  timers: DeadlineTimers = GLOBAL_TIMERS,
): Promise<T | typeof TIMED_OUT> {
  let timer: unknown;
  const deadline = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = timers.setTimeout(() => resolve(TIMED_OUT), ms);
  });
  const p = Promise.resolve(promise);
  p.catch(() => {});
  return Promise.race([p, deadline]).finally(() => timers.clearTimeout(timer));
}

/** True for the value `raceDeadline` resolves with when time ran out. */
export function isTimedOut(v: unknown): v is typeof TIMED_OUT {
  return v === TIMED_OUT;
}
