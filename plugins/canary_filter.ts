/**
 * The `canary` filter: drops an outgoing line that leaks the prompt. That is a line containing one of
 * `item.forbidden` (the generator's canary, compared ignoring case, and also with the spaces and
 * punctuation a model may put inside it), quoting a run of `chunk_words` consecutive words
 * (default 6) of the fixed system rules from `prompt_builder.ts`, or quoting a run of the channel's
 * persona of at least {@link PERSONA_RUN_WORDS} words and {@link PERSONA_RUN_CHARS} characters.
 * @module
 */
import { z } from "zod";
import { BoundedMemo } from "./bounded_memo.ts";
import { personaFor, PROMPT_RULES } from "./prompt_builder.ts";
import { definePlugin, type FilterInput, type FilterVerdict, type PluginApi } from "./sdk.ts";

/** Options of the `canary` filter. */
export const CanaryOptions = z.object({
  /** Consecutive words of the rules that count as a leak. */
  chunk_words: z.number().int().min(4, { error: "is out of range 4..20" }).max(20, {
    error: "is out of range 4..20",
  }).default(6),
}).strict();

/** Validated options of the `canary` filter. */
export type CanaryOptions = z.infer<typeof CanaryOptions>;

function words(text: string): string[] {
  return text.toLowerCase().replace(/[^\p{L}\p{N}\s]/gu, " ").split(/\s+/).filter(Boolean);
}

const shingleCache = new Map<number, Set<string>>();

/** Every run of `n` consecutive words of the rules, normalized. */
function ruleShingles(n: number): Set<string> {
  let set = shingleCache.get(n);
  if (!set) {
    set = new Set();
    for (const rule of PROMPT_RULES) {
      const w = words(rule);
      for (let i = 0; i + n <= w.length; i++) set.add(w.slice(i, i + n).join(" "));
    }
    shingleCache.set(n, set);
  }
  return set;
}

/** True when `text` quotes `n` consecutive words of the system rules. */
export function quotesRules(text: string, n = 6): boolean {
  const shingles = ruleShingles(n);
  const w = words(text);
  for (let i = 0; i + n <= w.length; i++) if (shingles.has(w.slice(i, i + n).join(" "))) return true;
  return false;
}

/**
 * A run of the persona must have at least this many words and {@link PERSONA_RUN_CHARS} characters
 * to count as a leak: a persona is ordinary prose, and a short phrase of it ("a friendly bot") is
 * what a normal reply may say too.
 */
export const PERSONA_RUN_WORDS = 8;
/** See {@link PERSONA_RUN_WORDS}; counted on the normalized words with one space between them. */
export const PERSONA_RUN_CHARS = 40;

/**
 * A forbidden string this long or longer is also looked for with everything but letters and digits
 * removed from both sides (`zx12 ab-cd…`): the canary is random, so its letters in a row are no
 * accident, while a short string would match across the words of ordinary text.
 */
const MIN_COMPACT_SECRET = 8;

function compact(text: string): string {
  return text.toLowerCase().replace(/[^\p{L}\p{N}]/gu, "");
}

/** True when `text` contains `secret`, ignoring case, and for a long one also spaces and punctuation. */
export function containsSecret(text: string, secret: string): boolean {
  if (secret.trim() === "") return false;
  if (text.toLowerCase().includes(secret.toLowerCase())) return true;
  const packed = compact(secret);
  return packed.length >= MIN_COMPACT_SECRET && compact(text).includes(packed);
}

/** Personas kept: a few per process (one per channel at most), bounded against growth. */
const MAX_CACHED_PERSONAS = 256;

/** The shortest runs of the persona's words, one per start, that are long enough to be a leak. */
const personaRuns = new BoundedMemo(MAX_CACHED_PERSONAS, (persona: string): string[] => {
  const runs: string[] = [];
  const w = words(persona);
  for (let i = 0; i < w.length; i++) {
    let run = "";
    for (let j = i; j < w.length; j++) {
      run = run === "" ? w[j]! : `${run} ${w[j]}`;
      if (j - i + 1 >= PERSONA_RUN_WORDS && run.length >= PERSONA_RUN_CHARS) {
        runs.push(run);
        break;
      }
    }
  }
  return runs;
});

/**
 * True when `text` quotes a run of `persona` (with `{bot}` and `{channel}` filled in as the model saw
 * them) of at least {@link PERSONA_RUN_WORDS} words and {@link PERSONA_RUN_CHARS} characters,
 * ignoring case, punctuation and spacing.
 */
export function quotesPersona(text: string, persona: string): boolean {
  const runs = personaRuns.get(persona);
  if (runs.length === 0) return false;
  const padded = ` ${words(text).join(" ")} `;
  return runs.some((run) => padded.includes(` ${run} `));
}

/** Drops lines containing a forbidden string, a chunk of the rules or a run of the persona. */
export function checkCanary(item: FilterInput, api: PluginApi<CanaryOptions>): FilterVerdict {
  for (const secret of item.forbidden ?? []) {
    if (containsSecret(item.text, secret)) return { action: "drop", reason: "canary" };
  }
  if (quotesRules(item.text, api.options.chunk_words)) return { action: "drop", reason: "prompt_leak" };
  const persona = item.settings?.persona;
  if (persona && quotesPersona(item.text, personaFor(persona, item.bot, item.channel))) {
    return { action: "drop", reason: "persona_leak" };
  }
  return { action: "pass" };
}

export default definePlugin({
  name: "canary",
  kind: "filter",
  apiVersion: 1,
  description: "Drops lines that leak the prompt (its canary, its rules or the persona)",
  directions: ["out"],
  options: CanaryOptions,
  check: checkCanary,
});
