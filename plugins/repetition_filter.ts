/**
 * The `repetition` filter: drops an outgoing line that is (nearly) one of the bot's recent lines in
 * the channel, or a near-copy of a recent chat line (parroting). "Nearly" is a similarity of at least
 * `threshold` (default 0.8) by word Jaccard or by edit distance, after normalizing case, punctuation,
 * mentions and spacing. A line that is mostly one verbatim run of a chat line ({@link COPY_MIN_WORDS}
 * words or more, {@link COPY_MIN_SHARE} of its words) is parroting too, however different the rest.
 * A short line ({@link SHORT_WORDS} words or fewer: "gg", "lol", "hi!") is never a parrot, and a
 * repeat only of the bot's same short line to the same person (or to nobody).
 * @module
 */
import { z } from "zod";
import { BoundedMemo } from "./bounded_memo.ts";
import { definePlugin, type FilterInput, type FilterVerdict, type PluginApi } from "./sdk.ts";

/** Options of the `repetition` filter. */
export const RepetitionOptions = z.object({
  /** Similarity (0..1) from which two lines count as the same. */
  threshold: z.number().min(0.5, { error: "is out of range 0.5..1" }).max(1, {
    error: "is out of range 0.5..1",
  })
    .default(0.8),
  /** Also drop near-copies of recent chat lines. */
  parroting: z.boolean().default(true),
}).strict();

/** Validated options of the `repetition` filter. */
export type RepetitionOptions = z.infer<typeof RepetitionOptions>;

/** Characters compared at most; lines are short, this bounds the edit-distance cost. */
const MAX_COMPARED = 300;
/** A copied run this long or longer can make a line a parrot; shorter runs are common phrases. */
export const COPY_MIN_WORDS = 5;
/** Share of the line's words that one copied run must cover to make it a parrot. */
export const COPY_MIN_SHARE = 0.7;

/**
 * Words up to which a line is short. One or two words are how chat talks ("gg", "lol", "nice",
 * "hi!", "good luck"): joining in on "GG" is no parroting, and saying "hi" to a second viewer is no
 * repeat. Three words make a sentence ("that was clean") that sounds canned when it comes back.
 */
export const SHORT_WORDS = 2;

/** The login a sent line is addressed to (`@name …`), lower case; undefined when it has no address. */
function addressOf(line: string): string | undefined {
  return line.match(/^\s*@([\p{L}\p{N}_]+)/u)?.[1]?.toLowerCase();
}

/** Lower case, no mentions, no punctuation, single spaces. A line of only symbols (emotes) keeps them. */
export function normalizeLine(text: string): string {
  const spaced = text.toLowerCase().replace(/\s+/g, " ").trim();
  const words = spaced
    .replace(/@[\p{L}\p{N}_]+/gu, " ")
    .replace(/[^\p{L}\p{N}\s]/gu, "")
    .replace(/\s+/g, " ")
    .trim();
  return (words === "" ? spaced : words).slice(0, MAX_COMPARED);
}

/** A line ready for comparing: normalized once, with its words and word set. */
interface Prepared {
  norm: string;
  words: string[];
  set: Set<string>;
  /** The set's words as an array: iterating a Set allocates an iterator per comparison. */
  distinct: string[];
}

/** Entries kept; the memo starts over when it grows past this (recent lines come back at once). */
const PREPARED_MAX = 2048;
/** Prepared lines by text. The same recent lines are compared with every candidate of a channel. */
const prepared = new BoundedMemo(PREPARED_MAX, (text: string): Prepared => {
  const norm = normalizeLine(text);
  const words = norm.split(" ").filter(Boolean);
  const set = new Set(words);
  return { norm, words, set, distinct: [...set] };
});

function prepare(text: string): Prepared {
  return prepared.get(text);
}

/** Jaccard similarity of the word sets of two normalized lines. */
export function wordJaccard(a: string, b: string): number {
  const wa = new Set(a.split(" ").filter(Boolean));
  return jaccardOfSets([...wa], new Set(b.split(" ").filter(Boolean)));
}

/** Jaccard similarity of two word sets, the first given as its distinct words. */
function jaccardOfSets(wa: readonly string[], wb: Set<string>): number {
  if (wa.length === 0 && wb.size === 0) return 1;
  let shared = 0;
  for (let i = 0; i < wa.length; i++) if (wb.has(wa[i]!)) shared++;
  return shared / (wa.length + wb.size - shared);
}

/** Words of the longest run that two normalized lines share verbatim (longest common substring of words). */
export function longestSharedRun(a: string, b: string): number {
  return longestRunOfWords(a.split(" ").filter(Boolean), b.split(" ").filter(Boolean));
}

/**
 * Two rows of scratch space, grown on demand and shared by every comparison: a reply is compared
 * with 30 recent lines, and fresh typed arrays for each were a tenth of what a reply allocated.
 * The comparisons are synchronous and never nested, so one pair is enough.
 */
let scratchA = new Int32Array(64);
let scratchB = new Int32Array(64);

/** Grows the scratch rows to at least `size` cells; only the first `size` are meaningful. */
function ensureScratch(size: number): void {
  if (scratchA.length < size) {
    const grown = Math.max(size, scratchA.length * 2);
    scratchA = new Int32Array(grown);
    scratchB = new Int32Array(grown);
  }
}

function longestRunOfWords(wa: readonly string[], wb: readonly string[]): number {
  let best = 0;
  ensureScratch(wb.length + 1);
  let prev = scratchA;
  let cur = scratchB;
  prev.fill(0, 0, wb.length + 1);
  cur.fill(0, 0, wb.length + 1);
  for (let i = 1; i <= wa.length; i++) {
    for (let j = 1; j <= wb.length; j++) {
      cur[j] = wa[i - 1] === wb[j - 1] ? prev[j - 1]! + 1 : 0;
      if (cur[j]! > best) best = cur[j]!;
    }
    // A temporary, not `[prev, cur] = [cur, prev]`: that allocates an array per row.
    const row = prev;
    prev = cur;
    cur = row;
  }
  return best;
}

/**
 * True when most of `line` is one verbatim run of `source`: a copy with a word or two around it
 * (such as the @address) that similarity alone rates below the threshold.
 */
export function copiesRun(line: string, source: string): boolean {
  return copiesPrepared(prepare(line), prepare(source));
}

function copiesPrepared(line: Prepared, source: Prepared): boolean {
  const words = line.words.length;
  if (words < COPY_MIN_WORDS) return false;
  const run = longestRunOfWords(line.words, source.words);
  return run >= COPY_MIN_WORDS && run >= COPY_MIN_SHARE * words;
}

/** Levenshtein distance, two rows. */
export function editDistance(a: string, b: string): number {
  return boundedEditDistance(a, b, Math.max(a.length, b.length));
}

/**
 * Levenshtein distance when it is at most `limit`, otherwise `limit + 1`. Only the diagonal band of
 * width `2 × limit + 1` can hold a distance within the limit, so only that band is computed, and the
 * rows stop as soon as every cell in the band is past the limit.
 */
export function boundedEditDistance(a: string, b: string, limit: number): number {
  if (a === b) return 0;
  const over = limit + 1;
  if (Math.abs(a.length - b.length) > limit) return over;
  const n = b.length;
  // Every cell read below is written first in this call, so the rows need no clearing.
  ensureScratch(n + 1);
  let prev = scratchA;
  let cur = scratchB;
  for (let j = 0; j <= n; j++) prev[j] = j <= limit ? j : over;
  for (let i = 1; i <= a.length; i++) {
    const from = Math.max(1, i - limit);
    const to = Math.min(n, i + limit);
    cur[0] = i <= limit ? i : over;
    if (from > 1) cur[from - 1] = over;
    let rowMin = cur[0]!;
    const ca = a.charCodeAt(i - 1);
    for (let j = from; j <= to; j++) {
      const cost = ca === b.charCodeAt(j - 1) ? 0 : 1;
      let v = prev[j - 1]! + cost;
      const up = prev[j]! + 1;
      if (up < v) v = up;
      const left = cur[j - 1]! + 1;
      if (left < v) v = left;
      if (v > over) v = over;
      cur[j] = v;
      if (v < rowMin) rowMin = v;
    }
    if (to < n) cur[to + 1] = over;
    if (rowMin > limit) return over;
    // A temporary, not `[prev, cur] = [cur, prev]`: that allocates an array per row.
    const row = prev;
    prev = cur;
    cur = row;
  }
  return Math.min(prev[n]!, over);
}

/**
 * Similarity of two lines in 0..1: the larger of word Jaccard and `1 - edit distance / length`.
 * Exact at or above `atLeast`; below it, the result is only known to be below `atLeast` (the edit
 * distance is cut short once it cannot reach it).
 */
export function similarity(a: string, b: string, atLeast = 0): number {
  return similarityPrepared(prepare(a), prepare(b), atLeast);
}

function similarityPrepared(pa: Prepared, pb: Prepared, atLeast: number): number {
  const na = pa.norm;
  const nb = pb.norm;
  if (na === nb) return 1;
  const jaccard = jaccardOfSets(pa.distinct, pb.set);
  if (jaccard >= atLeast && atLeast > 0) return jaccard;
  const longest = Math.max(na.length, nb.length);
  if (longest === 0) return 1;
  // The largest distance that still reaches `atLeast`, found with the very comparison used below.
  let limit = Math.min(longest, Math.floor((1 - atLeast) * longest) + 1);
  while (limit > 0 && 1 - limit / longest < atLeast) limit--;
  if (1 - limit / longest < atLeast) return jaccard;
  const distance = boundedEditDistance(na, nb, limit);
  return Math.max(jaccard, 1 - distance / longest);
}

/** Drops repeats of the bot's recent lines and near-copies of recent chat. */
export function checkRepetition(item: FilterInput, api: PluginApi<RepetitionOptions>): FilterVerdict {
  const opts = api.options;
  const recent = item.recent;
  if (!recent) return { action: "pass" };
  const candidate = prepare(item.text);
  const short = candidate.words.length <= SHORT_WORDS;
  // A reply goes out as "@user text", so a short line compares only with the same person's.
  const to = item.user?.toLowerCase();
  for (const line of recent.bot) {
    if (short && addressOf(line) !== to) continue;
    if (similarityPrepared(candidate, prepare(line), opts.threshold) >= opts.threshold) {
      return { action: "drop", reason: "repeat" };
    }
  }
  if (opts.parroting && !short) {
    for (const line of recent.chat) {
      const source = prepare(line);
      if (
        similarityPrepared(candidate, source, opts.threshold) >= opts.threshold ||
        copiesPrepared(candidate, source)
      ) {
        return { action: "drop", reason: "parrot" };
      }
    }
  }
  return { action: "pass" };
}

export default definePlugin({
  name: "repetition",
  kind: "filter",
  apiVersion: 1,
  description: "Drops lines the bot said recently and near-copies of recent chat",
  directions: ["out"],
  options: RepetitionOptions,
  check: checkRepetition,
});
