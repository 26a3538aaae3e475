/**
 * The `ollama` generator: builds a cache-friendly prompt (`prompt_builder.ts`) that fits the model's
 * context (`num_ctx` less `num_predict`), asks Ollama for one line through `core/ollama_client.ts`,
 * and hands the channel's canary to the output filters.
 *
 * Options are the `[ollama]` config section (same names, ranges and defaults: the schema is taken
 * from `core/config_schema.ts`). A failure throws the client's `ClankError` (`OLLAMA_*`, with
 * `details.kind` for the metric label); the host counts it, logs it and stays silent.
 * @module
 */
import type { z } from "zod";
import { ConfigSchema } from "../core/config_schema.ts";
import { clientOptionsFromConfig, OllamaClient } from "../core/ollama_client.ts";
import { buildPrompt, canaryFor } from "./prompt_builder.ts";
import { definePlugin, type GenerateRequest, type GenerateResult, type PluginApi } from "./sdk.ts";

/** The generator's options: the `[ollama]` section of the config. */
export const OllamaGeneratorOptions = ConfigSchema.shape.ollama.unwrap();

/** Validated options of the `ollama` generator. */
export type OllamaGeneratorOptions = z.infer<typeof OllamaGeneratorOptions>;

/** Clients by options, so a config reload gets a new client and calls in between share one. */
const clients = new Map<string, OllamaClient>();
const MAX_CLIENTS = 4;

function clientFor(options: OllamaGeneratorOptions, log: PluginApi["log"]): OllamaClient {
  const key = JSON.stringify(options);
  let client = clients.get(key);
  if (!client) {
    client = new OllamaClient(clientOptionsFromConfig(options, log));
    if (clients.size >= MAX_CLIENTS) clients.delete(clients.keys().next().value!);
    clients.set(key, client);
  }
  return client;
}

/** Channels (and `num_ctx`) already warned that their history does not fit (once per process is enough). */
const warnedCut = new Set<string>();
const MAX_WARNED = 10_000;

function warnCutOnce(
  api: PluginApi<OllamaGeneratorOptions>,
  channel: string,
  numCtx: number,
  shown: number,
  eligible: number,
): void {
  // Keyed by num_ctx too: after a reload that raised it but not enough, say so again.
  const key = `${channel}\u0000${numCtx}`;
  if (warnedCut.has(key)) return;
  if (warnedCut.size >= MAX_WARNED) warnedCut.clear();
  warnedCut.add(key);
  api.log.warn(
    `The chat history of #${channel} does not fit ollama.num_ctx = ${numCtx} tokens: the prompt shows ` +
      `${shown} of ${eligible} lines. Raise num_ctx in [ollama] (the model must support it) or lower ` +
      `the channel's context setting to show them all.`,
    { channel, num_ctx: numCtx, shown, eligible },
  );
}

/** Writes one line for `req` with Ollama; `null` when the model said nothing. */
export async function generateWithOllama(
  req: GenerateRequest,
  api: PluginApi<OllamaGeneratorOptions>,
): Promise<GenerateResult> {
  const options = api.options;
  const canary = canaryFor(req.channel);
  const messages = buildPrompt({
    bot: req.bot,
    channel: req.channel,
    persona: req.settings.persona,
    history: req.history,
    window: req.settings.context,
    trigger: req.trigger,
    mention: req.mention,
    notes: req.notes,
    maxLength: req.settings.max_length,
    rejected: req.attempt > 1 ? req.rejected ?? "it was not usable" : undefined,
    canary,
    tokenBudget: options.num_ctx - options.num_predict,
    onCut: (shown, eligible) => warnCutOnce(api, req.channel, options.num_ctx, shown, eligible),
  });
  const model = req.model || options.model;
  const result = await clientFor(options, api.log).chatLine({ model, messages });
  if (result.text === "") return null;
  return { text: result.text, forbidden: [canary] };
}

export default definePlugin({
  name: "ollama",
  kind: "generator",
  apiVersion: 1,
  description: "Writes lines with a local LLM served by Ollama",
  options: OllamaGeneratorOptions,
  generate: generateWithOllama,
});
