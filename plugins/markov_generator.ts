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

/** Channels with a cached chain, oldest dropped first. */
const MAX_CHANNELS = 64;
/** Lines per chain; older ones are forgotten. */
const MAX_LINES = 1000;
const ATTEMPTS = 20;

interface ChannelChain {
  chain: MarkovChain;
  /** Learned lines, oldest first. */
  lines: Array<{ seq: number; tokens: string[] }>;
  lastSeq: number;
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
  if (!entry || newest < entry.lastSeq) entry = { chain: new MarkovChain(), lines: [], lastSeq: -1 };
  chains.delete(channel);
  chains.set(channel, entry);
  if (chains.size > MAX_CHANNELS) chains.delete(chains.keys().next().value!);

  // Forget lines that left the window or were deleted (timeouts, bans, removed messages).
  const present = new Set(lines.map((l) => l.seq));
  const kept: ChannelChain["lines"] = [];
  for (const l of entry.lines) {
    if (present.has(l.seq)) kept.push(l);
    else entry.chain.remove(l.tokens);
  }
  entry.lines = kept;
  for (const l of lines) {
    if (l.seq! <= entry.lastSeq) continue;
    const tokens = tokenize(l.text);
    entry.chain.add(tokens);
    entry.lines.push({ seq: l.seq!, tokens });
  }
  while (entry.lines.length > MAX_LINES) entry.chain.remove(entry.lines.shift()!.tokens);
  entry.lastSeq = Math.max(entry.lastSeq, newest);
  return entry;
}

/** A chain for a history without `seq`: built from scratch, not cached. */
function chainOnce(history: readonly HistoryLine[]): ChannelChain {
  const entry: ChannelChain = { chain: new MarkovChain(), lines: [], lastSeq: -1 };
  for (const l of history.filter(usable).slice(-MAX_LINES)) {
    const tokens = tokenize(l.text);
    entry.chain.add(tokens);
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
  const { chain, lines } = withSeq ? chainFor(req.channel, req.history) : chainOnce(req.history);
  const minWords = Math.min(opts.min_words, opts.max_words);
  if (chain.lines < opts.min_lines || chain.words < opts.min_lines * 2) return null;

  const random: Random = opts.seed === undefined ? Math.random : seededRandom(
    hash(`${opts.seed}|${req.channel}|${req.history.at(-1)?.seq}|${req.mention?.text}|${req.attempt}`),
  );
  const seeds = seedWords(req, chain);
  const sources = new Set(lines.map((l) => l.tokens.join(" ")));
  let fallback: string | undefined;
  for (let i = 0; i < ATTEMPTS; i++) {
    const seed = seeds.length > 0 && i < ATTEMPTS / 2
      ? seeds[Math.floor(random() * seeds.length)]
      : undefined;
    const words = chain.walk(random, opts.max_words, seed);
    if (words.length < minWords) continue;
    const text = words.join(" ");
    // A verbatim copy of a chat line would be dropped as parroting; prefer a new combination.
    if (!sources.has(text)) return { text };
    fallback ??= text;
  }
  return fallback === undefined ? null : { text: fallback };
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
