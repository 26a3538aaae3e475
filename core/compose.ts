/**
 * Middleware composition in the style of Hono's `compose` and grammY's Composer: `(ctx, next)`
 * functions run in order, each may stop the chain by not calling `next`. Each stage's own time
 * (excluding what runs after it) is reported, so `/metrics` shows where an event spends its time.
 * @module
 */

/**
 * A pipeline stage. `next` runs the rest of the chain: it returns `undefined` when everything after
 * this stage finished synchronously, else a promise. A stage that only does synchronous work returns
 * `next()` as it is, so a chat line that meets no waiting stage costs no promise at all.
 */
export type Middleware<C> = (ctx: C, next: () => Promise<void> | void) => Promise<void> | void;

/** A named stage, so timings and errors say where they happened. */
export interface Stage<C> {
  name: string;
  run: Middleware<C>;
}

/** Receives each stage's own duration in seconds. */
export type StageTimer = (stage: string, seconds: number) => void;

/**
 * Composes stages into one function; calling `next` twice in one stage is an error. The function
 * returns `undefined` when every stage finished synchronously, else a promise; an error, thrown or
 * rejected, always arrives as a rejected promise. Without a `timer` no clock is read at all (the
 * host times a sample of events, not every one); with one, every stage is awaited.
 */
export function compose<C>(
  stages: readonly Stage<C>[],
  timer?: StageTimer,
): (ctx: C) => Promise<void> | void {
  if (timer === undefined) {
    return function runPipeline(ctx: C): Promise<void> | void {
      let last = -1;
      function dispatch(i: number): Promise<void> | void {
        if (i <= last) throw new Error(`Stage "${stages[i - 1]?.name}" called next() more than once`);
        last = i;
        const stage = stages[i];
        if (stage === undefined) return;
        return stage.run(ctx, () => dispatch(i + 1));
      }
      try {
        return dispatch(0);
      } catch (err) {
        return Promise.reject(err);
      }
    };
  }
  return function runTimedPipeline(ctx: C): Promise<void> {
    let last = -1;
    async function dispatch(i: number): Promise<void> {
      if (i <= last) throw new Error(`Stage "${stages[i - 1]?.name}" called next() more than once`);
      last = i;
      const stage = stages[i];
      if (stage === undefined) return;
      const started = performance.now();
      let downstream = 0;
      try {
        await stage.run(ctx, async () => {
          const t0 = performance.now();
          try {
            await dispatch(i + 1);
          } finally {
            downstream += performance.now() - t0;
          }
        });
      } finally {
        timer?.(stage.name, (performance.now() - started - downstream) / 1000);
      }
    }
    return dispatch(0);
  };
}
