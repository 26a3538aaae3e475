/**
 * The host's view of a loaded plugin, the same whether it runs in-process or in a Worker.
 * The pipeline only ever calls `call` (or `callNow`); the handle applies the deadline, validates the reply and
 * counts failures.
 * @module
 */
import type { CommandPermission, PluginKind, TriggerKind } from "../plugins/sdk.ts";

/** Handler methods the host may call, by name. */
export type PluginMethod = "observe" | "provide" | "check" | "gate" | "run" | "generate";

/** Static facts about a plugin, read at load time (plain data, so a Worker can report them). */
export interface PluginMeta {
  name: string;
  kind: PluginKind;
  /** Methods the plugin implements. */
  methods: PluginMethod[];
  /** filter: directions checked. */
  directions?: Array<"in" | "out">;
  /** cooldown: triggers gated. */
  triggers?: TriggerKind[];
  /** command: word, aliases, usage, permission, declared cooldowns. */
  command?: string;
  aliases?: string[];
  usage?: string;
  permission?: CommandPermission;
  cooldown?: { user?: number; channel?: number };
  /** Where it came from: `builtin:<name>` or a file path/URL. */
  source: string;
  sandboxed: boolean;
}

/** The outcome of one call: a value, or a failure the host already logged and counted. */
export type CallOutcome<T> = { ok: true; value: T } | {
  ok: false;
  reason: "threw" | "timeout" | "malformed" | "disabled";
  error: string;
};

/** A loaded plugin. */
export interface PluginHandle {
  readonly meta: PluginMeta;
  /** True once disabled after repeated failures. */
  readonly disabled: boolean;
  /**
   * Calls a handler method with a structured-clone-safe input. `timeoutMs` overrides the plugin's
   * deadline for this call (generators get the generation deadline, not the 2 s default).
   */
  call<T = unknown>(
    method: PluginMethod,
    input: unknown,
    options?: { timeoutMs?: number },
  ): Promise<CallOutcome<T>>;
  /**
   * Like `call`, but answers without a promise when the handler answered synchronously (an
   * in-process plugin whose handler is not async). The pipeline calls plugins this way, so a chat
   * line that meets only synchronous handlers allocates no promise on its way through. Optional:
   * handles without it (a Worker's) are called through `call`.
   */
  callNow?<T = unknown>(method: PluginMethod, input: unknown): CallOutcome<T> | Promise<CallOutcome<T>>;
  /** Runs the plugin's teardown and releases its resources (a Worker is terminated). */
  close(): Promise<void>;
}
