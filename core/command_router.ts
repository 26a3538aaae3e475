/**
 * `!clank <command> …`: finds the command plugin (first match wins), checks who may run it and the
 * declared cooldowns (data on the plugin, enforced here, Sopel-style), runs it and applies what it
 * returns. Viewers without permission are ignored silently: no chat noise.
 * @module
 */
import { stripInvisible } from "../plugins/output_shaping.ts";
import type { MessageEvent } from "./events.ts";
import type { PluginHandle } from "./plugin_handle.ts";
import type { ChannelStatus, CommandInvocation, CommandResult } from "../plugins/sdk.ts";
import type { ChannelSettings } from "./config_schema.ts";
import type { PluginSet } from "./plugin_set.ts";
import { authorName } from "../plugins/prompt_builder.ts";

/** What the router needs from the host. */
export interface CommandHost {
  /** Read on every command, so a reload's new prefix, admins and cooldown apply at once. */
  commandConfig(): { prefix: string; admins: ReadonlySet<string>; channelCooldown: number };
  settings(channel: string): { settings: ChannelSettings; configured: ChannelSettings } | undefined;
  status(channel: string): ChannelStatus;
  /** Applies a change; returns an error line for chat when it was refused. */
  applySettings(channel: string, patch: Record<string, unknown>): Promise<string | null>;
  resetSettings(channel: string): Promise<void>;
  reply(channel: string, text: string): Promise<void>;
  /** A command a viewer may run asked to change settings; the change was not applied. */
  refusedChange(channel: string, user: string, plugin: string): void;
}

/** Most per-user cooldown entries kept; expired ones are pruned first. */
const MAX_COOLDOWN_ENTRIES = 5000;

/** Routes `!clank` commands. */
export class CommandRouter {
  #plugins: PluginSet;
  #host: CommandHost;
  /**
   * key → time the cooldown ends (ms). Keys: `c:<channel>` (moderators' commands), `v:<channel>`
   * (viewers' commands), `c:<channel>:<cmd>`, `u:<channel>:<cmd>:<user>`.
   */
  #until = new Map<string, number>();

  constructor(plugins: PluginSet, host: CommandHost) {
    this.#plugins = plugins;
    this.#host = host;
  }

  /** Swaps the plugin set after a reload. */
  setPlugins(plugins: PluginSet): void {
    this.#plugins = plugins;
  }

  /** True when the user counts as a moderator for commands. */
  isPrivileged(event: MessageEvent): boolean {
    return event.badges.moderator || event.badges.broadcaster ||
      this.#host.commandConfig().admins.has(event.user);
  }

  /** Handles one `!clank …` line. Returns what happened, for logs and tests. */
  async handle(event: MessageEvent): Promise<"ran" | "ignored" | "cooldown" | "failed"> {
    // Invisible characters are never arguments: chat clients append one (" \u034f") to a repeated
    // message so Twitch takes it for a new one, and "!clank threshold 41 \u034f" must still set 41.
    const words = stripInvisible(event.text).trim().split(/\s+/).slice(1);
    const word = (words[0] ?? "help").toLowerCase();
    const plugin = this.#plugins.commands.get(word) ?? this.#plugins.commands.get("help");
    if (plugin === undefined) return "ignored";
    const privileged = this.isPrivileged(event);
    if (plugin.meta.permission !== "everyone" && !privileged) return "ignored";
    const now = event.time;
    if (!this.#cooldownPassed(event, plugin, now, privileged)) return "cooldown";
    const state = this.#host.settings(event.channel);
    if (state === undefined) return "ignored";
    const known = plugin === this.#plugins.commands.get(word);
    const invocation: CommandInvocation = {
      channel: event.channel,
      user: event.user,
      // What commands address the user by: a localized display name would not ping them.
      displayName: authorName(event),
      args: known ? words.slice(1) : words,
      text: event.text,
      prefix: this.#host.commandConfig().prefix,
      settings: state.settings,
      defaults: state.configured,
      status: this.#host.status(event.channel),
      commands: this.#visibleCommands(privileged),
      time: now,
    };
    const outcome = await this.#plugins.call<CommandResult>(plugin, "run", invocation);
    if (!outcome.ok) return "failed";
    const result = outcome.value;
    let reply = result.reply;
    const changes = result.reset === true || (result.set !== undefined && Object.keys(result.set).length > 0);
    if (changes && !privileged) {
      // A command open to everyone (a dice roll, say) must never become a viewer's way to change
      // settings: only moderators, the broadcaster and admins may, whatever the plugin returns.
      this.#host.refusedChange(event.channel, event.user, plugin.meta.name);
      return "ran";
    }
    if (result.reset) await this.#host.resetSettings(event.channel);
    if (result.set !== undefined && Object.keys(result.set).length > 0) {
      const refused = await this.#host.applySettings(event.channel, result.set);
      if (refused !== null) reply = `@${authorName(event)} ${refused}`;
    }
    if (reply !== undefined && reply.trim() !== "") await this.#host.reply(event.channel, reply);
    return "ran";
  }

  #visibleCommands(privileged: boolean): Array<{ command: string; usage: string }> {
    const seen = new Set<PluginHandle>();
    const out: Array<{ command: string; usage: string }> = [];
    for (const p of this.#plugins.commands.values()) {
      if (seen.has(p)) continue;
      seen.add(p);
      if (p.meta.permission !== "everyone" && !privileged) continue;
      out.push({ command: p.meta.command!, usage: p.meta.usage ?? p.meta.command! });
    }
    return out;
  }

  #cooldownPassed(event: MessageEvent, plugin: PluginHandle, now: number, privileged: boolean): boolean {
    const cmd = plugin.meta.command!;
    // Viewers' commands have a channel bucket of their own, so viewers taking turns cannot keep the
    // moderators' commands in cooldown.
    const keys: Array<[string, number]> = [[
      `${privileged ? "c" : "v"}:${event.channel}`,
      this.#host.commandConfig().channelCooldown,
    ]];
    if (plugin.meta.cooldown?.channel) keys.push([`c:${event.channel}:${cmd}`, plugin.meta.cooldown.channel]);
    if (plugin.meta.cooldown?.user) {
      keys.push([`u:${event.channel}:${cmd}:${event.user}`, plugin.meta.cooldown.user]);
    }
    for (const [key] of keys) {
      const end = this.#until.get(key);
      if (end !== undefined && end > now) return false;
    }
    for (const [key, seconds] of keys) {
      if (seconds <= 0) continue;
      this.#until.delete(key);
      this.#until.set(key, now + seconds * 1000);
    }
    if (this.#until.size > MAX_COOLDOWN_ENTRIES) {
      for (const [key, end] of this.#until) {
        if (end <= now || this.#until.size > MAX_COOLDOWN_ENTRIES) this.#until.delete(key);
        else break;
      }
    }
    return true;
  }
}
