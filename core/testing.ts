/**
 * Test helpers for plugin authors and for clank's own tests: build events, settings and a plugin
 * API without a running bot, then call a plugin's handlers directly.
 *
 * @example
 * ```ts
 * import plugin from "./my_filter.ts";
 * import { filterInput, testApi } from "../core/testing.ts";
 * const verdict = await plugin.check(filterInput({ text: "hello" }), testApi());
 * ```
 * @module
 */
import type { MessageEvent } from "./events.ts";
import { type ChannelSettings, ChannelSettingsSchema } from "./config_schema.ts";
import type { FilterInput, GenerateRequest, LogFields, PluginApi } from "../plugins/sdk.ts";

let counter = 0;

/** A chat line event with sensible defaults. */
export function messageEvent(partial: Partial<MessageEvent> = {}): MessageEvent {
  counter++;
  const user = partial.user ?? "viewer";
  return {
    type: "message",
    channel: "test",
    id: `msg-${counter}`,
    userId: `uid-${user}`,
    user,
    displayName: partial.displayName ?? user,
    text: "hello",
    badges: { broadcaster: false, moderator: false, vip: false, subscriber: false },
    action: false,
    time: Date.now(),
    self: false,
    ...partial,
  };
}

/** Default channel settings with overrides, validated like the config. */
export function testSettings(overrides: Partial<ChannelSettings> = {}): ChannelSettings {
  return ChannelSettingsSchema.parse(overrides);
}

/** A filter input with defaults. */
export function filterInput(partial: Partial<FilterInput> = {}): FilterInput {
  return {
    direction: "in",
    channel: "test",
    text: "hello",
    bot: "clankbot",
    settings: testSettings(),
    ...partial,
  };
}

/** A generate request with defaults. */
export function generateRequest(partial: Partial<GenerateRequest> = {}): GenerateRequest {
  const settings = partial.settings ?? testSettings();
  return {
    channel: "test",
    trigger: "spontaneous",
    bot: "clankbot",
    settings,
    model: settings.model || "llama3.1",
    history: [],
    notes: [],
    attempt: 1,
    time: Date.now(),
    ...partial,
  };
}

/** A log line captured by {@link testApi}. */
export interface CapturedLog {
  level: "debug" | "info" | "warn" | "error";
  msg: string;
  fields?: LogFields;
}

/** A plugin API backed by memory; `logs` and `stored` let tests look inside. */
export function testApi<O = Record<string, unknown>>(
  options: O = {} as O,
  name = "test-plugin",
): PluginApi<O> & { logs: CapturedLog[]; stored: Map<string, unknown> } {
  const logs: CapturedLog[] = [];
  const stored = new Map<string, unknown>();
  const at = (level: CapturedLog["level"]) => (msg: string, fields?: LogFields) =>
    void logs.push({ level, msg, fields });
  return {
    name,
    options,
    logs,
    stored,
    log: { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") },
    store: {
      get: <T>(key: string) => Promise.resolve(structuredClone(stored.get(key)) as T | undefined),
      set: (key: string, value: unknown) => {
        stored.set(key, structuredClone(value));
        return Promise.resolve();
      },
      delete: (key: string) => {
        stored.delete(key);
        return Promise.resolve();
      },
    },
  };
}
