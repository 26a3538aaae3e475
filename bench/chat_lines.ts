/**
 * Synthetic but realistic Twitch chat for the benchmarks: a seeded generator, so every run of a
 * benchmark sees the same kind of lines (lengths, emotes, names) and runs can be compared.
 * @module
 */

export { seededRandom } from "../core/seeded_random.ts";

const WORDS = (
  "the run is going so well today chat did you see that jump what a clip no way he skipped the key " +
  "boss fight next split was clean pb pace maybe sub fifty this time water level always scary lag " +
  "stream looks great audio fine now music too loud can you turn it down hello from germany first " +
  "time here love this game speedrun any percent glitched wall clip saves forty seconds reset " +
  "incoming nice recovery insane movement how long have you been running this category world record " +
  "chat is wild tonight good luck hype train lets go gg wp that was close almost died again"
).split(" ");

const EMOTES = [
  "Kappa",
  "PogChamp",
  "LUL",
  "KEKW",
  "monkaS",
  "Pog",
  "catJAM",
  "OMEGALUL",
  "<3",
  "FeelsGoodMan",
];

/** Picks one element of `items`. */
export function pick<T>(items: readonly T[], rand: () => number): T {
  return items[Math.floor(rand() * items.length)]!;
}

/** One chat line: 2–16 words, sometimes an emote, sometimes shouting. */
export function chatText(rand: () => number): string {
  const n = 2 + Math.floor(rand() * 15);
  const words: string[] = [];
  for (let i = 0; i < n; i++) words.push(rand() < 0.12 ? pick(EMOTES, rand) : pick(WORDS, rand));
  const line = words.join(" ");
  return rand() < 0.05 ? line.toUpperCase() : line;
}

/** The login of viewer number `i`. */
export function viewerName(i: number): string {
  return `viewer_${i.toString(36)}`;
}

/** A sentence of `n` random words, for generated replies that must not look like each other. */
export function randomWords(n: number, rand: () => number): string {
  const words: string[] = [];
  for (let i = 0; i < n; i++) words.push(pick(WORDS, rand));
  return words.join(" ");
}
