/**
 * The `markov` generator: no LLM, a word Markov chain (order 2, falling back to order 1) learned from
 * the viewers' lines in the request's history. It is the fallback when Ollama is down and a
 * generator of its own for channels that want nonsense.
 *
 * Each channel's chain is cached and kept in step with the history by `seq` (new lines added, lines
 * that left the window removed), so it is not rebuilt on every call. Memory is bounded by the number
 * of channels cached and the lines per chain.
 * @module
 */
import { z } from "zod";
import { MarkovChain, type Random, seededRandom, tokenize } from "./markov_chain.ts";
import {
  definePlugin,
  type GenerateRequest,
  type GenerateResult,
  type HistoryLine,
  type PluginApi,
} from "./sdk.ts";

/** Options of the `markov` generator. */
export const MarkovOptions = z.object({
  /** Fixed seed for reproducible lines (tests); random when absent. */
  seed: z.number({ error: "must be a number" }).int({ error: "must be a whole number" }).optional(),
  /** Fewest usable chat lines before the generator says anything. */
  min_lines: z.number().int().min(1, { error: "is out of range 1..1000" }).max(1000, {
    error: "is out of range 1..1000",
  }).default(8),
  /** Shortest and longest line, in words. */
  min_words: z.number().int().min(1).max(25).default(4),
  max_words: z.number().int().min(4).max(60).default(25),
}).strict();

/** Validated options of the `markov` generator. */
export type MarkovOptions = z.infer<typeof MarkovOptions>;

/**
 * Consecutive words of one learned line that a line may never repeat. An order-2 chain copies three
 * words by construction, and four-word runs are the phrases everybody types ("i think the boss",
 * "what a run that"); from five on, a run is recognisably one chatter's sentence, and the
 * `repetition` filter counts a line built around one as a parrot too (`COPY_MIN_WORDS`). Lower, and
 * a channel's chain of a few dozen lines would rarely say anything at all.
 */
export const COPY_RUN = 5;
/** Channels with a cached chain, oldest dropped first. */
const MAX_CHANNELS = 64;
/** Lines per chain; older ones are forgotten. */
const MAX_LINES = 1000;
/** Walks tried per line; a walk costs microseconds and the copy rule rejects many in a small chat. */
const ATTEMPTS = 40;

interface ChannelChain {
  chain: MarkovChain;
  /** Learned lines, oldest first. */
  lines: Array<{ seq: number; tokens: string[] }>;
  /** Every run of {@link COPY_RUN} compared words of a learned line, with how many lines hold it. */
  runs: Map<string, number>;
  lastSeq: number;
}

/** A word as the copy rule compares it: the `repetition` filter ignores case and punctuation too. */
function compared(word: string): string {
  const bare = word.toLowerCase().replace(/[^\p{L}\p{N}]/gu, "");
  return bare === "" ? word : bare;
}

function learn(entry: ChannelChain, tokens: string[], by: 1 | -1): void {
  if (by > 0) entry.chain.add(tokens);
  else entry.chain.remove(tokens);
  const words = tokens.map(compared);
  for (let i = 0; i + COPY_RUN <= words.length; i++) {
    const key = words.slice(i, i + COPY_RUN).join(" ");
    const n = (entry.runs.get(key) ?? 0) + by;
    if (n > 0) entry.runs.set(key, n);
    else entry.runs.delete(key);
  }
}

function emptyChain(): ChannelChain {
  return { chain: new MarkovChain(), lines: [], runs: new Map(), lastSeq: -1 };
}

const chains = new Map<string, ChannelChain>();

function usable(line: HistoryLine): boolean {
  return !line.bot && !line.text.trimStart().startsWith("!");
}

/** Brings the cached chain of `channel` in step with `history` (lines with `seq`, oldest first). */
function chainFor(channel: string, history: readonly HistoryLine[]): ChannelChain {
  const lines = history.filter(usable);
  const newest = lines.at(-1)?.seq ?? -1;
  let entry = chains.get(channel);
  if (!entry || newest < entry.lastSeq) entry = emptyChain();
  chains.delete(channel);
  chains.set(channel, entry);
  if (chains.size > MAX_CHANNELS) chains.delete(chains.keys().next().value!);

  // Forget lines that left the window or were deleted (timeouts, bans, removed messages).
  const present = new Set(lines.map((l) => l.seq));
  const kept: ChannelChain["lines"] = [];
  for (const l of entry.lines) {
    if (present.has(l.seq)) kept.push(l);
    else learn(entry, l.tokens, -1);
  }
  entry.lines = kept;
  for (const l of lines) {
    if (l.seq! <= entry.lastSeq) continue;
    const tokens = tokenize(l.text);
    learn(entry, tokens, 1);
    entry.lines.push({ seq: l.seq!, tokens });
  }
  while (entry.lines.length > MAX_LINES) learn(entry, entry.lines.shift()!.tokens, -1);
  entry.lastSeq = Math.max(entry.lastSeq, newest);
  return entry;
}

/** A chain for a history without `seq`: built from scratch, not cached. */
function chainOnce(history: readonly HistoryLine[]): ChannelChain {
  const entry = emptyChain();
  for (const l of history.filter(usable).slice(-MAX_LINES)) {
    const tokens = tokenize(l.text);
    learn(entry, tokens, 1);
    entry.lines.push({ seq: -1, tokens });
  }
  return entry;
}

function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Forgets every cached chain (tests, reload). */
export function resetMarkovCache(): void {
  chains.clear();
}

/** Writes one line from the channel's chat, or `null` when there is too little chat to learn from. */
export function generateWithMarkov(req: GenerateRequest, api: PluginApi<MarkovOptions>): GenerateResult {
  const opts = MarkovOptions.parse(api.options ?? {});
  const withSeq = req.history.every((l) => l.seq !== undefined);
  const entry = withSeq ? chainFor(req.channel, req.history) : chainOnce(req.history);
  const { chain } = entry;
  const minWords = Math.min(opts.min_words, opts.max_words);
  if (chain.lines < opts.min_lines || chain.words < opts.min_lines * 2) return null;

  const random: Random = opts.seed === undefined ? Math.random : seededRandom(
    hash(`${opts.seed}|${req.channel}|${req.history.at(-1)?.seq}|${req.mention?.text}|${req.attempt}`),
  );
  const seeds = seedWords(req, chain);
  // Steering each step away from a copied run keeps most walks usable in a small chat, where an
  // order-2 chain mostly has one way on and would otherwise retell one chatter's line.
  const accept = (words: readonly string[], next: string) => {
    if (words.length < COPY_RUN - 1) return true;
    const key = [...words.slice(-(COPY_RUN - 1)), next].map(compared).join(" ");
    return !entry.runs.has(key);
  };
  let cutShort: string | undefined;
  for (let i = 0; i < ATTEMPTS; i++) {
    const seed = seeds.length > 0 && i < ATTEMPTS / 2
      ? seeds[Math.floor(random() * seeds.length)]
      : undefined;
    const { words, complete } = chain.walkLine(random, opts.max_words, seed, accept);
    if (words.length < minWords || copiesLearned(words, entry)) continue;
    // A walk the copy rule stopped mid-sentence ("he always chokes on") is the last resort.
    if (complete) return { text: words.join(" ") };
    cutShort ??= words.join(" ");
  }
  // Never a copy: when every walk retold someone's line, silence beats repeating a chatter.
  return cutShort === undefined ? null : { text: cutShort };
}

/**
 * True when `words` hold a run of {@link COPY_RUN} words of one learned line, or, shorter than that,
 * lie wholly inside one (a suffix, a middle or all of a short line is that chatter's words too).
 */
function copiesLearned(words: readonly string[], entry: Pick<ChannelChain, "lines" | "runs">): boolean {
  const cmp = words.map(compared);
  if (cmp.length >= COPY_RUN) {
    for (let i = 0; i + COPY_RUN <= cmp.length; i++) {
      if (entry.runs.has(cmp.slice(i, i + COPY_RUN).join(" "))) return true;
    }
    return false;
  }
  const needle = ` ${cmp.join(" ")} `;
  return entry.lines.some((l) => ` ${l.tokens.map(compared).join(" ")} `.includes(needle));
}

/** Learned words of the mention (not the bot's name), to start the line from. */
function seedWords(req: GenerateRequest, chain: MarkovChain): string[] {
  if (!req.mention) return [];
  const out: string[] = [];
  for (const raw of tokenize(req.mention.text)) {
    const word = raw.replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu, "");
    if (word.length < 3 || word.toLowerCase() === req.bot.toLowerCase()) continue;
    const learned = chain.findWord(word) ?? chain.findWord(raw);
    if (learned !== undefined) out.push(learned);
  }
  return out;
}

export default definePlugin({
  name: "markov",
  kind: "generator",
  apiVersion: 1,
  description: "Writes lines from a word Markov chain of the channel's chat (no LLM)",
  options: MarkovOptions,
  generate: generateWithMarkov,
});
