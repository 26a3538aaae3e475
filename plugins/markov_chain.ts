/**
 * A word Markov chain of order 2 with an order-1 fallback, kept in step with a sliding window of chat
 * lines: lines can be added and removed, so a channel's chain is updated, not rebuilt, on each call.
 * @module
 */

const START = "\u0002";
const END = "\u0003";
/** A left context that never occurs, forcing an order-1 step (used after a seed word). */
const UNKNOWN = "\u0004";

import type { Random } from "../core/seeded_random.ts";
export { type Random, seededRandom } from "../core/seeded_random.ts";

/** Words of a chat line worth learning: no @mentions, links or control characters. */
export function tokenize(text: string): string[] {
  return text.split(/\s+/).filter((w) =>
    w !== "" && !w.startsWith("@") && !/^(https?:\/\/|www\.)/i.test(w) && !/\p{Cc}/u.test(w)
  );
}

type Counts = Map<string, Map<string, number>>;

function bump(map: Counts, key: string, next: string, by: number): void {
  let row = map.get(key);
  if (!row) {
    if (by < 0) return;
    row = new Map();
    map.set(key, row);
  }
  const n = (row.get(next) ?? 0) + by;
  if (n > 0) row.set(next, n);
  else row.delete(next);
  if (row.size === 0) map.delete(key);
}

/** Whether a walk may go on with `next` after `words` (the end of a line is always allowed). */
export type Accept = (words: readonly string[], next: string) => boolean;

function pick(
  row: Map<string, number> | undefined,
  random: Random,
  allowed?: (w: string) => boolean,
): string | undefined {
  if (!row || row.size === 0) return undefined;
  let total = 0;
  let last: string | undefined;
  for (const [word, n] of row) {
    if (allowed !== undefined && !allowed(word)) continue;
    total += n;
    last = word;
  }
  if (total === 0) return undefined;
  let r = random() * total;
  for (const [word, n] of row) {
    if (allowed !== undefined && !allowed(word)) continue;
    r -= n;
    if (r < 0) return word;
  }
  return last;
}

/** A Markov chain over whole lines, which can be added and removed again. */
export class MarkovChain {
  readonly #order2: Counts = new Map();
  readonly #order1: Counts = new Map();
  #words = 0;
  #lines = 0;

  /** Lines learned. */
  get lines(): number {
    return this.#lines;
  }

  /** Words learned. */
  get words(): number {
    return this.#words;
  }

  /** Learns a tokenized line. */
  add(tokens: readonly string[]): void {
    this.#apply(tokens, 1);
  }

  /** Forgets a line learned before with {@link add}. */
  remove(tokens: readonly string[]): void {
    this.#apply(tokens, -1);
  }

  #apply(tokens: readonly string[], by: 1 | -1): void {
    if (tokens.length === 0) return;
    const seq = [START, START, ...tokens, END];
    for (let i = 2; i < seq.length; i++) {
      bump(this.#order2, `${seq[i - 2]}\u0001${seq[i - 1]}`, seq[i]!, by);
      bump(this.#order1, seq[i - 1]!, seq[i]!, by);
    }
    this.#words += by * tokens.length;
    this.#lines += by;
  }

  /** The learned word equal to `word` ignoring case, if any. */
  findWord(word: string): string | undefined {
    const lower = word.toLowerCase();
    if (this.#order1.has(word)) return word;
    for (const key of this.#order1.keys()) if (key.toLowerCase() === lower) return key;
    return undefined;
  }

  /**
   * Walks the chain from the start of a line, or from `seed` (a learned word) when given.
   * Stops at the end of a line or after `maxWords`.
   */
  walk(random: Random, maxWords: number, seed?: string): string[] {
    return this.walkLine(random, maxWords, seed).words;
  }

  /**
   * {@link walk} where a step only takes a word `accept` allows: order 2 first, then order 1.
   * `complete` is false when the walk stopped because no allowed word was left, mid-sentence.
   */
  walkLine(
    random: Random,
    maxWords: number,
    seed?: string,
    accept?: Accept,
  ): { words: string[]; complete: boolean } {
    const out: string[] = [];
    let prev2 = START;
    let prev1 = START;
    if (seed !== undefined) {
      out.push(seed);
      prev2 = UNKNOWN;
      prev1 = seed;
    }
    const allowed = accept === undefined ? undefined : (w: string) => w === END || accept(out, w);
    while (out.length < maxWords) {
      const next = pick(this.#order2.get(`${prev2}\u0001${prev1}`), random, allowed) ??
        pick(this.#order1.get(prev1), random, allowed);
      if (next === END) return { words: out, complete: true };
      if (next === undefined) return { words: out, complete: accept === undefined };
      out.push(next);
      prev2 = prev1;
      prev1 = next;
    }
    return { words: out, complete: true };
  }
}
