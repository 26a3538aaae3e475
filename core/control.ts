/**
 * What the HTTP control plane and `!clank` commands may ask of a running bot. The host implements
 * it; `http_server.ts` only translates HTTP to these calls.
 * @module
 */
import type { ChannelSettings } from "./config_schema.ts";
import type { ChannelStatus } from "../plugins/sdk.ts";
import type { HistoryLine } from "./events.ts";

/** One problem with a settings change: the field, the rejected value and what is allowed. */
export interface SettingProblem {
  field: string;
  value: unknown;
  message: string;
}

/** The result of a settings change. */
export type SettingsChange =
  | { ok: true; settings: ChannelSettings }
  | { ok: false; problems: SettingProblem[] };

/** A channel as the control plane lists it. */
export interface ChannelView {
  channel: string;
  joined: boolean;
  settings: ChannelSettings;
  /** Keys set for this channel (in config or live), the rest are defaults. */
  overrides: string[];
  status: ChannelStatus;
  roomState: { slow: number; emoteOnly: boolean; followersOnly: number; subsOnly: boolean };
  botIsModerator: boolean;
  /** Twitch's words when it refused to let the bot join (a suspended channel); null otherwise. */
  refused: string | null;
}

/** A recent line for the dashboard. */
export interface RecentLine extends HistoryLine {
  channel: string;
  /** For bot lines: why it was sent (mention, spontaneous, command) or `observe` when not sent. */
  kind?: string;
}

/** Readiness of the bot for `/readyz`. */
export interface Readiness {
  ready: boolean;
  irc: {
    connected: boolean;
    joined: number;
    wanted: number;
    readOnly: boolean;
    /** Channels left at Twitch's limit of 100 where the bot is not a moderator (absent when none). */
    parked?: string[];
    /** Channels Twitch refused to let the bot join, with its reason (absent when none). */
    refused?: Array<{ channel: string; reason: string }>;
  };
  database: { writable: boolean; buffered: number; error: string | null };
  ollama: { reachable: boolean | null; error: string | null };
  reasons: string[];
}

/** Control operations of a running bot. */
export interface ControlApi {
  channels(): ChannelView[];
  channel(name: string): ChannelView | undefined;
  /** Validates (same schema as `!clank`) and applies a change; stores it. */
  updateSettings(channel: string, patch: Record<string, unknown>): Promise<SettingsChange>;
  resetSettings(channel: string): Promise<ChannelSettings>;
  join(channel: string): Promise<void>;
  part(channel: string): Promise<void>;
  /** Newest last; `channel` undefined means all channels. */
  recent(channel: string | undefined, limit: number): RecentLine[];
  /** Subscribes to new lines (chat and bot) as they happen; returns an unsubscribe function. */
  subscribe(listener: (line: RecentLine) => void): () => void;
  /** Reloads the config file (settings, filters, log level) and all plugins; returns what changed. */
  reload(): Promise<{ plugins: string[]; warnings: string[] }>;
  readiness(): Promise<Readiness>;
  /** Uptime, versions, model, Ollama status. */
  info(): { version: string; uptimeSeconds: number; bot: string; observeOnly: boolean; model: string };
}
