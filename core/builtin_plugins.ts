/**
 * The registry of built-in plugins. Each entry imports its module with a literal specifier, so
 * `deno compile` bundles it, and carries the URL too, so an operator may run a built-in in a Worker
 * (`[[plugins]] name = "markov" sandbox = true`).
 * @module
 */
import type { Config } from "./config_schema.ts";
import type { PluginKind } from "../plugins/sdk.ts";

/** One built-in plugin. */
export interface BuiltinPlugin {
  /** Must equal the name the plugin declares; `[[plugins]] name = "…"` refers to it. */
  name: string;
  kind: PluginKind;
  /** Imports the module; its default export is the plugin. */
  module: () => Promise<{ default?: unknown }>;
  /** The module's URL, for sandboxing a built-in. */
  url: URL;
  /** Whether it runs when no `[[plugins]]` entry says otherwise. */
  defaultEnabled: (config: Config) => boolean;
  /** Options derived from the config; a `[[plugins]]` entry's options are merged over them. */
  options: (config: Config) => Record<string, unknown>;
  /** Call deadline when the entry does not set `timeout_ms` (default 2000). */
  timeoutMs?: (config: Config) => number;
}

const always = () => true;
const none = () => ({});

/** Every built-in, in load order: context, filters, cooldowns, generators, commands. */
export const BUILTIN_PLUGINS: readonly BuiltinPlugin[] = [
  {
    name: "chat_history",
    kind: "context",
    module: () => import("../plugins/chat_history.ts"),
    url: new URL("../plugins/chat_history.ts", import.meta.url),
    defaultEnabled: always,
    options: (config) => ({ bot: config.twitch.username || "clank" }),
  },
  {
    name: "blocked_words",
    kind: "filter",
    module: () => import("../filters/blocked_words.ts"),
    url: new URL("../filters/blocked_words.ts", import.meta.url),
    defaultEnabled: (config) => config.filter.enabled,
    options: (config) => ({ file: config.filter.blocked_words_file }),
  },
  {
    name: "output_shaping",
    kind: "filter",
    module: () => import("../plugins/output_shaping.ts"),
    url: new URL("../plugins/output_shaping.ts", import.meta.url),
    defaultEnabled: always,
    options: none,
  },
  {
    name: "repetition",
    kind: "filter",
    module: () => import("../plugins/repetition_filter.ts"),
    url: new URL("../plugins/repetition_filter.ts", import.meta.url),
    defaultEnabled: always,
    options: none,
  },
  {
    name: "canary",
    kind: "filter",
    module: () => import("../plugins/canary_filter.ts"),
    url: new URL("../plugins/canary_filter.ts", import.meta.url),
    defaultEnabled: always,
    options: none,
  },
  {
    name: "response_cooldown",
    kind: "cooldown",
    module: () => import("../plugins/response_cooldown.ts"),
    url: new URL("../plugins/response_cooldown.ts", import.meta.url),
    defaultEnabled: always,
    options: none,
  },
  {
    name: "spontaneous_gate",
    kind: "cooldown",
    module: () => import("../plugins/spontaneous_gate.ts"),
    url: new URL("../plugins/spontaneous_gate.ts", import.meta.url),
    defaultEnabled: always,
    options: none,
  },
  {
    name: "ollama",
    kind: "generator",
    module: () => import("../plugins/ollama_generator.ts"),
    url: new URL("../plugins/ollama_generator.ts", import.meta.url),
    defaultEnabled: always,
    options: (config) => ({ ...config.ollama }),
    // The generator enforces Ollama's own deadlines; the handle's deadline is only a backstop.
    timeoutMs: (config) => (config.ollama.timeout + 5) * 1000,
  },
  {
    name: "markov",
    kind: "generator",
    module: () => import("../plugins/markov_generator.ts"),
    url: new URL("../plugins/markov_generator.ts", import.meta.url),
    defaultEnabled: always,
    options: none,
  },
  {
    name: "command_status",
    kind: "command",
    module: () => import("../commands/status.ts"),
    url: new URL("../commands/status.ts", import.meta.url),
    defaultEnabled: always,
    options: none,
  },
  {
    name: "command_threshold",
    kind: "command",
    module: () => import("../commands/threshold.ts"),
    url: new URL("../commands/threshold.ts", import.meta.url),
    defaultEnabled: always,
    options: none,
  },
  {
    name: "command_spontaneous",
    kind: "command",
    module: () => import("../commands/spontaneous.ts"),
    url: new URL("../commands/spontaneous.ts", import.meta.url),
    defaultEnabled: always,
    options: none,
  },
  {
    name: "command_response",
    kind: "command",
    module: () => import("../commands/response.ts"),
    url: new URL("../commands/response.ts", import.meta.url),
    defaultEnabled: always,
    options: none,
  },
  {
    name: "command_context",
    kind: "command",
    module: () => import("../commands/context.ts"),
    url: new URL("../commands/context.ts", import.meta.url),
    defaultEnabled: always,
    options: none,
  },
  {
    name: "command_model",
    kind: "command",
    module: () => import("../commands/model.ts"),
    url: new URL("../commands/model.ts", import.meta.url),
    defaultEnabled: always,
    options: none,
  },
  {
    name: "command_reset",
    kind: "command",
    module: () => import("../commands/reset.ts"),
    url: new URL("../commands/reset.ts", import.meta.url),
    defaultEnabled: always,
    options: none,
  },
  {
    name: "command_help",
    kind: "command",
    module: () => import("../commands/help.ts"),
    url: new URL("../commands/help.ts", import.meta.url),
    defaultEnabled: always,
    options: none,
  },
];

/** The built-in with this name, if any. */
export function findBuiltin(name: string): BuiltinPlugin | undefined {
  return BUILTIN_PLUGINS.find((b) => b.name === name);
}
