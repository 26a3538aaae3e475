/**
 * The clank plugin SDK: the types of the five plugin kinds and `definePlugin`.
 *
 * A plugin file default-exports one `definePlugin({...})`. Everything a handler receives and returns is
 * plain data, so the same file runs in-process (built-ins) or in a sandboxed Worker (drop-ins).
 * This module has no runtime dependencies and can be imported by path or URL.
 *
 * @example
 * ```ts
 * import { definePlugin } from "../plugins/sdk.ts";
 * export default definePlugin({
 *   name: "no-shouting",
 *   kind: "filter",
 *   apiVersion: 1,
 *   check(item) {
 *     return item.text.length > 10 && item.text === item.text.toUpperCase()
 *       ? { action: "drop", reason: "shouting" }
 *       : { action: "pass" };
 *   },
 * });
 * ```
 * @module
 */
import type { ChatEvent, HistoryLine, TriggerKind } from "../core/events.ts";
import type { ChannelSettings } from "../core/config_schema.ts";

export type * from "../core/events.ts";
export type { ChannelSettings } from "../core/config_schema.ts";

/** The plugin API version this host speaks. */
export const PLUGIN_API_VERSION = 1;

/** The five plugin kinds. */
export type PluginKind = "context" | "generator" | "filter" | "cooldown" | "command";

/** Deno permissions a plugin asks for; each list names what it needs (hosts, paths, variables…). */
export interface PluginPermissions {
  net?: string[];
  read?: string[];
  write?: string[];
  env?: string[];
  run?: string[];
  ffi?: string[];
  sys?: string[];
}

/**
 * A validator for plugin options in the Standard Schema shape (zod 4, valibot and arktype schemas
 * implement it), so the SDK needs no validation library of its own.
 */
export interface OptionsSchema<O> {
  readonly "~standard": {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => OptionsResult<O> | Promise<OptionsResult<O>>;
    readonly types?: { readonly input: unknown; readonly output: O } | undefined;
  };
}

/** The result of validating options (Standard Schema). */
export type OptionsResult<O> =
  | { readonly value: O; readonly issues?: undefined }
  | { readonly issues: ReadonlyArray<{ readonly message: string; readonly path?: ReadonlyArray<unknown> }> };

/** Structured log fields; never put secrets here. */
export type LogFields = Record<string, unknown>;

/** What the host gives every handler call. Works the same in-process and in a Worker. */
export interface PluginApi<O = Record<string, unknown>> {
  /** This plugin's name. */
  readonly name: string;
  /** Validated options from the config. */
  readonly options: O;
  /** Logging, tagged with the plugin name. */
  readonly log: {
    debug(msg: string, fields?: LogFields): void;
    info(msg: string, fields?: LogFields): void;
    warn(msg: string, fields?: LogFields): void;
    error(msg: string, fields?: LogFields): void;
  };
  /** A small persistent key-value store private to this plugin (JSON values). */
  readonly store: {
    get<T = unknown>(key: string): Promise<T | undefined>;
    set(key: string, value: unknown): Promise<void>;
    delete(key: string): Promise<void>;
  };
}

/** Fields every plugin declares. */
export interface PluginBase<K extends PluginKind, O> {
  /** Unique name: lower case letters, digits, `_` and `-`. */
  name: string;
  kind: K;
  /** Must be {@link PLUGIN_API_VERSION}. */
  apiVersion: 1;
  description?: string;
  version?: string;
  /** Permissions the plugin needs; the operator must grant each in the config. */
  permissions?: PluginPermissions;
  /** Validator for `[[plugins]] options`. */
  options?: OptionsSchema<O>;
  /** Runs once after loading, before the first event. */
  setup?(api: PluginApi<O>): void | Promise<void>;
  /** Runs once before unloading (reload or shutdown). */
  teardown?(api: PluginApi<O>): void | Promise<void>;
  /**
   * Sees every event that passed the input filters, in arrival order, plus `sent` events for the
   * bot's own lines. Any kind may observe; a return value is ignored.
   */
  observe?(event: ObservedEvent, api: PluginApi<O>): void | Promise<void>;
}

/** What `observe` receives: chat events plus the host's own `sent`, `unanswered` and `restore` events. */
export type ObservedEvent = ChatEvent | SentEvent | UnansweredEvent | RestoreEvent;

/**
 * Emitted when a mention the cooldown gates let through got no line in chat after all: nothing was
 * generated, the line was rejected or withdrawn, the mention waited too long, or the send queue
 * dropped it. A gate that started a cooldown for it can release it, so the user may ask again.
 */
export interface UnansweredEvent {
  type: "unanswered";
  channel: string;
  /** Who mentioned the bot. */
  user: string;
  /** Why: a generation outcome (`no_text`, `rejected`, `stale`, …) or a send result (`dropped:…`). */
  reason: string;
  time: number;
}

/**
 * Sent once per channel at start (and after a join): the channel's recent lines from the database,
 * oldest first, so context plugins do not start deaf after a restart.
 */
export interface RestoreEvent {
  type: "restore";
  channel: string;
  lines: HistoryLine[];
  time: number;
}

/** Emitted after the bot sent a line, so plugins can keep their own state. */
export interface SentEvent {
  type: "sent";
  channel: string;
  text: string;
  trigger: TriggerKind | "command";
  /** The user addressed, for replies. */
  user?: string;
  time: number;
}

/** A request for context before a generation. */
export interface ContextRequest {
  channel: string;
  trigger: TriggerKind;
  settings: ChannelSettings;
  time: number;
}

/** What a context plugin adds to a prompt. */
export interface ContextContribution {
  /** Chat history, oldest first. */
  history?: HistoryLine[];
  /** Short facts for the system prompt (e.g. the stream title). */
  notes?: string[];
}

/** Context plugins keep and provide what the generator sees. */
export interface ContextPlugin<O = Record<string, unknown>> extends PluginBase<"context", O> {
  provide?(req: ContextRequest, api: PluginApi<O>): ContextContribution | Promise<ContextContribution>;
}

/** A line checked by filters. */
export interface FilterInput {
  direction: "in" | "out";
  channel: string;
  /** Author login for input lines; the addressed user for output lines. */
  user?: string;
  text: string;
  settings: ChannelSettings;
  /** The bot's login. */
  bot: string;
  /** For output: strings the line must not contain (the prompt canary), from the generator. */
  forbidden?: string[];
  /** For output: the bot's recent lines and recent chat lines in this channel, newest last. */
  recent?: { bot: string[]; chat: string[] };
}

/** A filter's decision. `rewrite` replaces the text for the following filters. */
export type FilterVerdict =
  | { action: "pass" }
  | { action: "drop"; reason: string }
  | { action: "rewrite"; text: string };

/** Filter plugins may drop or rewrite input and output lines. */
export interface FilterPlugin<O = Record<string, unknown>> extends PluginBase<"filter", O> {
  /** Directions this filter checks (default both). */
  directions?: Array<"in" | "out">;
  check(item: FilterInput, api: PluginApi<O>): FilterVerdict | Promise<FilterVerdict>;
}

/** Asked before a generation is started. */
export interface GateRequest {
  trigger: TriggerKind;
  channel: string;
  /** The mentioning user, for mentions. */
  user?: string;
  settings: ChannelSettings;
  /** Lines currently in the channel's context. */
  contextSize: number;
  time: number;
}

/** A cooldown's decision. */
export type GateVerdict = { allow: true } | { allow: false; reason: string };

/** Cooldown plugins decide whether a mention or a spontaneous line may happen now. */
export interface CooldownPlugin<O = Record<string, unknown>> extends PluginBase<"cooldown", O> {
  /** Triggers this gate decides on (default both). */
  triggers?: TriggerKind[];
  gate(req: GateRequest, api: PluginApi<O>): GateVerdict | Promise<GateVerdict>;
}

/** Who may run a command. `moderator` means moderators, the broadcaster and configured admins. */
export type CommandPermission = "everyone" | "moderator";

/** Runtime facts about the bot and a channel, for `!clank status` and the control plane. */
export interface ChannelStatus {
  uptimeSeconds: number;
  model: string;
  messagesSeen: number;
  sentSpontaneous: number;
  sentReplies: number;
  generationAvgMs: number | null;
  generationP95Ms: number | null;
  ollamaReachable: boolean | null;
  lastError: string | null;
  contextSize: number;
  observeOnly: boolean;
}

/** One `!clank <command> args…` invocation. */
export interface CommandInvocation {
  channel: string;
  user: string;
  /** The name to address the user by (`@…`): the display name, or the login when that is localized. */
  displayName: string;
  /** Words after the subcommand. */
  args: string[];
  /** The whole chat line. */
  text: string;
  /** The prefix in use, e.g. `!clank`. */
  prefix: string;
  /** Current settings of the channel, and the configured defaults `reset` returns to. */
  settings: ChannelSettings;
  defaults: ChannelSettings;
  status: ChannelStatus;
  /** Usage lines of every command the user may run, for help. */
  commands: Array<{ command: string; usage: string }>;
  time: number;
}

/**
 * A command's result. The host validates `set` against the settings schema (and checks a model
 * exists); when that fails it replies with the reason instead of `reply`.
 */
export interface CommandResult {
  reply?: string;
  set?: Partial<ChannelSettings>;
  /** Return the channel to the configured defaults. */
  reset?: boolean;
}

/** Command plugins add `!clank <command>` subcommands. */
export interface CommandPlugin<O = Record<string, unknown>> extends PluginBase<"command", O> {
  /** The subcommand word, e.g. `status`. */
  command: string;
  aliases?: string[];
  /** One-line usage, e.g. `threshold [5-200]`. */
  usage: string;
  permission: CommandPermission;
  /** Seconds between uses, enforced by the host. */
  cooldown?: { user?: number; channel?: number };
  run(inv: CommandInvocation, api: PluginApi<O>): CommandResult | Promise<CommandResult>;
}

/** Everything a generator needs to write one line. */
export interface GenerateRequest {
  channel: string;
  trigger: TriggerKind;
  /** The bot's login. */
  bot: string;
  settings: ChannelSettings;
  /** Resolved model name. */
  model: string;
  history: HistoryLine[];
  notes: string[];
  /** The line being answered, for mentions. */
  mention?: { id: string; user: string; displayName: string; text: string };
  /** 1 for the first try, 2 for the one regeneration after a rejected line. */
  attempt: number;
  /** Why the previous attempt was rejected, on attempt 2. */
  rejected?: string;
  time: number;
}

/**
 * A generator's answer; `null` means "nothing to say" and the next generator may try.
 * `forbidden` lists strings (e.g. a prompt canary) the output filters must reject if they appear.
 */
export type GenerateResult = { text: string; forbidden?: string[] } | null;

/** Generator plugins write the bot's lines. */
export interface GeneratorPlugin<O = Record<string, unknown>> extends PluginBase<"generator", O> {
  generate(req: GenerateRequest, api: PluginApi<O>): GenerateResult | Promise<GenerateResult>;
}

/** Any plugin. */
// deno-lint-ignore no-explicit-any
export type Plugin<O = any> =
  | ContextPlugin<O>
  | FilterPlugin<O>
  | CooldownPlugin<O>
  | CommandPlugin<O>
  | GeneratorPlugin<O>;

/**
 * Declares a plugin. Returns its argument unchanged; it exists so the object is typed (the options
 * type is inferred from the `options` schema) and checked. The host validates the declaration at
 * load time and names the plugin in every error.
 */
export function definePlugin<O = Record<string, unknown>>(plugin: ContextPlugin<O>): ContextPlugin<O>;
export function definePlugin<O = Record<string, unknown>>(plugin: FilterPlugin<O>): FilterPlugin<O>;
export function definePlugin<O = Record<string, unknown>>(plugin: CooldownPlugin<O>): CooldownPlugin<O>;
export function definePlugin<O = Record<string, unknown>>(plugin: CommandPlugin<O>): CommandPlugin<O>;
export function definePlugin<O = Record<string, unknown>>(plugin: GeneratorPlugin<O>): GeneratorPlugin<O>;
export function definePlugin<O>(plugin: Plugin<O>): Plugin<O> {
  return plugin;
}
