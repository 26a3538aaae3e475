/**
 * The `repetition` filter: drops an outgoing line that is (nearly) one of the bot's recent lines in
 * the channel, or a near-copy of a recent chat line (parroting). "Nearly" is a similarity of at least
 * `threshold` (default 0.8) by word Jaccard or by edit distance, after normalizing case, punctuation,
 * mentions and spacing. A line that is mostly one verbatim run of a chat line ({@link COPY_MIN_WORDS}
 * words or more, {@link COPY_MIN_SHARE} of its words) is parroting too, however different the rest.
 * @module
 */
import { z } from "zod";
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

/** Jaccard similarity of the word sets of two normalized lines. */
export function wordJaccard(a: string, b: string): number {
  const wa = new Set(a.split(" ").filter(Boolean));
  const wb = new Set(b.split(" ").filter(Boolean));
  if (wa.size === 0 && wb.size === 0) return 1;
  let shared = 0;
  for (const w of wa) if (wb.has(w)) shared++;
  return shared / (wa.size + wb.size - shared);
}

/** Words of the longest run that two normalized lines share verbatim (longest common substring of words). */
export function longestSharedRun(a: string, b: string): number {
  const wa = a.split(" ").filter(Boolean);
  const wb = b.split(" ").filter(Boolean);
  let best = 0;
  let prev = new Array<number>(wb.length + 1).fill(0);
  let cur = new Array<number>(wb.length + 1).fill(0);
  for (let i = 1; i <= wa.length; i++) {
    for (let j = 1; j <= wb.length; j++) {
      cur[j] = wa[i - 1] === wb[j - 1] ? prev[j - 1]! + 1 : 0;
      if (cur[j]! > best) best = cur[j]!;
    }
    [prev, cur] = [cur, prev];
  }
  return best;
}

/**
 * True when most of `line` is one verbatim run of `source`: a copy with a word or two around it
 * (such as the @address) that similarity alone rates below the threshold.
 */
export function copiesRun(line: string, source: string): boolean {
  const nl = normalizeLine(line);
  const words = nl.split(" ").filter(Boolean).length;
  if (words < COPY_MIN_WORDS) return false;
  const run = longestSharedRun(nl, normalizeLine(source));
  return run >= COPY_MIN_WORDS && run >= COPY_MIN_SHARE * words;
}

/** Levenshtein distance, two rows. */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  let cur = new Array<number>(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1;
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
    }
    [prev, cur] = [cur, prev];
  }
  return prev[b.length]!;
}

/**
 * Similarity of two lines in 0..1: the larger of word Jaccard and `1 - edit distance / length`.
 * The edit distance is skipped when the lengths alone rule out reaching `atLeast`.
 */
export function similarity(a: string, b: string, atLeast = 0): number {
  const na = normalizeLine(a);
  const nb = normalizeLine(b);
  if (na === nb) return 1;
  const jaccard = wordJaccard(na, nb);
  if (jaccard >= atLeast && atLeast > 0) return jaccard;
  const longest = Math.max(na.length, nb.length);
  if (longest === 0) return 1;
  // The distance is at least the length difference.
  if (1 - Math.abs(na.length - nb.length) / longest < atLeast) return jaccard;
  return Math.max(jaccard, 1 - editDistance(na, nb) / longest);
}

/** Drops repeats of the bot's recent lines and near-copies of recent chat. */
export function checkRepetition(item: FilterInput, api: PluginApi<RepetitionOptions>): FilterVerdict {
  const opts = RepetitionOptions.parse(api.options ?? {});
  const recent = item.recent;
  if (!recent) return { action: "pass" };
  for (const line of recent.bot) {
    if (similarity(item.text, line, opts.threshold) >= opts.threshold) {
      return { action: "drop", reason: "repeat" };
    }
  }
  if (opts.parroting) {
    for (const line of recent.chat) {
      if (similarity(item.text, line, opts.threshold) >= opts.threshold || copiesRun(item.text, line)) {
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
