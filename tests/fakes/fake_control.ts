/**
 * An in-memory `ControlApi` for tests of the control plane (and anything else that needs a bot to
 * talk to). Settings changes are validated with the real schema (`ChannelSettingsPatchSchema`, live
 * keys only), like the host does, and every call is recorded.
 * @module
 */
import {
  ChannelSettingsPatchSchema,
  ChannelSettingsSchema,
  LIVE_SETTING_KEYS,
} from "../../core/config_schema.ts";
import type { ChannelSettings } from "../../core/config_schema.ts";
import type {
  ChannelView,
  ControlApi,
  Readiness,
  RecentLine,
  SettingProblem,
  SettingsChange,
} from "../../core/control.ts";
import type { ChannelStatus } from "../../plugins/sdk.ts";

/** One recorded call: method name and arguments. */
export interface FakeControlCall {
  method: string;
  args: unknown[];
}

/** A fresh status block with plausible numbers. */
export function fakeStatus(partial: Partial<ChannelStatus> = {}): ChannelStatus {
  return {
    uptimeSeconds: 3600,
    model: "llama3.1",
    messagesSeen: 0,
    sentSpontaneous: 0,
    sentReplies: 0,
    generationAvgMs: null,
    generationP95Ms: null,
    ollamaReachable: true,
    lastError: null,
    contextSize: 0,
    observeOnly: false,
    ...partial,
  };
}

/** Validates a patch like the host: strict schema, live keys only. */
export function validatePatch(patch: Record<string, unknown>): SettingProblem[] {
  const problems: SettingProblem[] = [];
  const live: readonly string[] = LIVE_SETTING_KEYS;
  for (const key of Object.keys(patch)) {
    if (!live.includes(key)) {
      problems.push({
        field: key,
        value: patch[key],
        message: `is not a live setting; allowed: ${live.join(", ")}`,
      });
    }
  }
  const known = Object.fromEntries(Object.entries(patch).filter(([k]) => live.includes(k)));
  const parsed = ChannelSettingsPatchSchema.safeParse(known);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const field = issue.path.map(String).join(".");
      problems.push({ field, value: patch[field], message: issue.message });
    }
  }
  return problems;
}

/** The in-memory bot. Mutate `views`, `readinessValue`, `infoValue` freely in tests. */
export class FakeControl implements ControlApi {
  /** Every call made, oldest first. */
  readonly calls: FakeControlCall[] = [];
  readonly views = new Map<string, ChannelView>();
  readonly lines: RecentLine[] = [];
  readonly defaults: ChannelSettings = ChannelSettingsSchema.parse({});
  readinessValue: Readiness = {
    ready: true,
    irc: { connected: true, joined: 0, wanted: 0, readOnly: false },
    database: { writable: true, buffered: 0, error: null },
    ollama: { reachable: true, error: null },
    reasons: [],
  };
  infoValue = {
    version: "0.1.0",
    uptimeSeconds: 3600,
    bot: "clankbot",
    observeOnly: false,
    model: "llama3.1",
  };
  /** When set, `reload` throws it. */
  reloadError: unknown = null;
  #listeners = new Set<(line: RecentLine) => void>();

  /** Channels Twitch refuses to let the bot join, with its words. */
  readonly refuse = new Map<string, string>();

  constructor(channels: string[] = []) {
    for (const c of channels) this.addChannel(c);
  }

  /** Adds a joined channel with default settings. */
  addChannel(channel: string, status: Partial<ChannelStatus> = {}): ChannelView {
    const view: ChannelView = {
      channel,
      joined: true,
      settings: { ...this.defaults },
      overrides: [],
      status: fakeStatus(status),
      roomState: { slow: 0, emoteOnly: false, followersOnly: -1, subsOnly: false },
      botIsModerator: false,
      refused: null,
    };
    this.views.set(channel, view);
    this.#syncReadiness();
    return view;
  }

  /** Live subscribers (event streams) right now. */
  get listenerCount(): number {
    return this.#listeners.size;
  }

  /** Records a line and hands it to every subscriber, like the host does for chat and bot lines. */
  emit(line: RecentLine): void {
    this.lines.push(line);
    for (const l of this.#listeners) l(line);
  }

  channels(): ChannelView[] {
    this.calls.push({ method: "channels", args: [] });
    return [...this.views.values()].map((v) => structuredClone(v));
  }

  channel(name: string): ChannelView | undefined {
    this.calls.push({ method: "channel", args: [name] });
    const v = this.views.get(name);
    return v === undefined ? undefined : structuredClone(v);
  }

  updateSettings(channel: string, patch: Record<string, unknown>): Promise<SettingsChange> {
    this.calls.push({ method: "updateSettings", args: [channel, patch] });
    const view = this.views.get(channel);
    if (view === undefined) {
      return Promise.resolve({
        ok: false,
        problems: [{ field: "channel", value: channel, message: "is not joined" }],
      });
    }
    const problems = validatePatch(patch);
    if (problems.length > 0) return Promise.resolve({ ok: false, problems });
    view.settings = { ...view.settings, ...patch } as ChannelSettings;
    view.overrides = [...new Set([...view.overrides, ...Object.keys(patch)])];
    return Promise.resolve({ ok: true, settings: { ...view.settings } });
  }

  resetSettings(channel: string): Promise<ChannelSettings> {
    this.calls.push({ method: "resetSettings", args: [channel] });
    const view = this.views.get(channel);
    if (view !== undefined) {
      view.settings = { ...this.defaults };
      view.overrides = [];
    }
    return Promise.resolve({ ...this.defaults });
  }

  join(channel: string): Promise<void> {
    this.calls.push({ method: "join", args: [channel] });
    const view = this.views.get(channel) ?? this.addChannel(channel);
    const refusal = this.refuse.get(channel);
    view.joined = refusal === undefined;
    view.refused = refusal ?? null;
    this.#syncReadiness();
    return Promise.resolve();
  }

  part(channel: string): Promise<void> {
    this.calls.push({ method: "part", args: [channel] });
    this.views.delete(channel);
    this.#syncReadiness();
    return Promise.resolve();
  }

  recent(channel: string | undefined, limit: number): RecentLine[] {
    this.calls.push({ method: "recent", args: [channel, limit] });
    const lines = this.lines.filter((l) => channel === undefined || l.channel === channel);
    return lines.slice(-limit);
  }

  subscribe(listener: (line: RecentLine) => void): () => void {
    this.calls.push({ method: "subscribe", args: [] });
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  reload(): Promise<{ plugins: string[]; warnings: string[] }> {
    this.calls.push({ method: "reload", args: [] });
    if (this.reloadError !== null) return Promise.reject(this.reloadError);
    return Promise.resolve({ plugins: ["chat_history", "ollama"], warnings: [] });
  }

  readiness(): Promise<Readiness> {
    this.calls.push({ method: "readiness", args: [] });
    return Promise.resolve(structuredClone(this.readinessValue));
  }

  info(): { version: string; uptimeSeconds: number; bot: string; observeOnly: boolean; model: string } {
    this.calls.push({ method: "info", args: [] });
    return { ...this.infoValue };
  }

  #syncReadiness(): void {
    const joined = [...this.views.values()].filter((v) => v.joined).length;
    this.readinessValue.irc.joined = joined;
    this.readinessValue.irc.wanted = this.views.size;
  }
}
