/**
 * The `canary` filter: drops an outgoing line that leaks the prompt. That is a line containing one of
 * `item.forbidden` (the generator's canary, compared ignoring case), or quoting a run of
 * `chunk_words` consecutive words (default 6) of the fixed system rules from `prompt_builder.ts`.
 * @module
 */
import { z } from "zod";
import { PROMPT_RULES } from "./prompt_builder.ts";
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

/** Drops lines containing a forbidden string or a chunk of the rules. */
export function checkCanary(item: FilterInput, api: PluginApi<CanaryOptions>): FilterVerdict {
  const lower = item.text.toLowerCase();
  for (const secret of item.forbidden ?? []) {
    if (secret.trim() !== "" && lower.includes(secret.toLowerCase())) {
      return { action: "drop", reason: "canary" };
    }
  }
  if (quotesRules(item.text, api.options.chunk_words)) return { action: "drop", reason: "prompt_leak" };
  return { action: "pass" };
}

export default definePlugin({
  name: "canary",
  kind: "filter",
  apiVersion: 1,
  description: "Drops lines that leak the prompt (its canary or its rules)",
  directions: ["out"],
  options: CanaryOptions,
  check: checkCanary,
});
