/**
 * What the host knows about one channel: its resolved settings, room state, counters for
 * `!clank status`, recent lines for output checks and the dashboard, and who is banned or timed
 * out. Everything is bounded.
 * @module
 */
import type { ChannelSettings } from "./config_schema.ts";
import { LatencyWindow } from "./latency_window.ts";
import { RingBuffer } from "./ring_buffer.ts";
import type { ReplyQueue } from "./reply_queue.ts";
import { Turnstile } from "./turnstile.ts";

/** Most restricted (banned/timed-out) users remembered per channel. */
const MAX_RESTRICTED = 2000;
/** Deleted line ids remembered per channel. */
const MAX_DELETED = 500;

/** Runtime state of one channel. */
export class ChannelState {
  readonly name: string;
  /** Configured settings (defaults + config file), what `reset` returns to. */
  configured: ChannelSettings;
  /** Live overrides stored in the database. */
  overrides: Partial<ChannelSettings>;
  /** Resolved settings in force. */
  settings: ChannelSettings;
  joined = false;
  /** Wanted: configured or joined via the API/command (rejoined after reconnects). */
  wanted = true;
  botIsModerator = false;
  /** Twitch's words when it refused to let the bot join (suspended channel), until a join succeeds. */
  refused: string | null = null;
  room = { slow: 0, emoteOnly: false, followersOnly: -1, subsOnly: false };
  messagesSeen = 0;
  sentSpontaneous = 0;
  sentReplies = 0;
  lastError: string | null = null;
  readonly generation = new LatencyWindow(200);
  /** Approximate lines in the context (chat lines observed since the last clear, capped at the window). */
  contextLines = 0;
  readonly recentChat = new RingBuffer<string>(30);
  readonly recentBot = new RingBuffer<string>(30);
  readonly order = new Turnstile();
  readonly queue: ReplyQueue;
  /** login → time the restriction ends (ms); Infinity for bans. */
  readonly #restricted = new Map<string, number>();
  /** Ids of lines a moderator deleted, newest last (bounded: a reply waits seconds, not hours). */
  readonly #deleted = new Set<string>();
  /** When a moderator last cleared the chat (ms); mentions from before it are not answered. */
  clearedAt = 0;

  constructor(
    name: string,
    configured: ChannelSettings,
    overrides: Partial<ChannelSettings>,
    settings: ChannelSettings,
    queue: ReplyQueue,
  ) {
    this.name = name;
    this.configured = configured;
    this.overrides = overrides;
    this.settings = settings;
    this.queue = queue;
  }

  /** Marks a user banned (`until` = Infinity) or timed out until `until` (ms). */
  restrict(user: string, until: number, now: number): void {
    this.#restricted.delete(user);
    this.#restricted.set(user, until);
    if (this.#restricted.size <= MAX_RESTRICTED) return;
    // Over the bound: forget expired timeouts first, then the oldest timeout, a ban only last.
    for (const [u, t] of this.#restricted) if (t <= now) this.#restricted.delete(u);
    if (this.#restricted.size <= MAX_RESTRICTED) return;
    const victim = [...this.#restricted].find(([, t]) => t !== Number.POSITIVE_INFINITY)?.[0] ??
      this.#restricted.keys().next().value;
    if (victim !== undefined) this.#restricted.delete(victim);
  }

  /** Restrictions in force, for storing (`null` = banned). */
  restrictionEntries(now: number): Array<[string, number | null]> {
    const out: Array<[string, number | null]> = [];
    for (const [user, until] of this.#restricted) {
      if (until > now) out.push([user, until === Number.POSITIVE_INFINITY ? null : until]);
    }
    return out;
  }

  /** True while a user is banned or timed out. */
  isRestricted(user: string, now: number): boolean {
    const until = this.#restricted.get(user);
    if (until === undefined) return false;
    if (until > now) return true;
    this.#restricted.delete(user);
    return false;
  }

  /** Remembers a deleted line, so a reply to it that is already on its way is withdrawn. */
  markDeleted(id: string): void {
    this.#deleted.add(id);
    if (this.#deleted.size > MAX_DELETED) this.#deleted.delete(this.#deleted.values().next().value!);
  }

  /** True when a moderator deleted the line. */
  wasDeleted(id: string): boolean {
    return this.#deleted.has(id);
  }

  /** Users restricted now (for the output guard). */
  restrictedUsers(now: number): string[] {
    const out: string[] = [];
    for (const [user, until] of this.#restricted) {
      if (until > now) out.push(user);
    }
    return out;
  }
}
