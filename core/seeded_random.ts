/**
 * A small seeded pseudo-random generator (mulberry32): reproducible sequences for the Markov
 * generator's `seed` option, tests and benchmarks.
 * @module
 */

/** Random numbers in [0, 1). */
export type Random = () => number;

/** A generator of numbers in [0, 1) that repeats for the same seed. */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
