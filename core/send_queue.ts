/**
 * The send queue: the only path from the bot to `transport.say`.
 *
 * It keeps the bot inside Twitch's limits instead of finding them by getting muted: the account
 * window (20 or 100 lines per 30 s, {@link RateWindow}), 1.2 s between lines in a channel where the bot
 * is not a moderator, the channel's own floor, slow mode, emote-only, followers-/subs-only, and the
 * NOTICEs Twitch answers with (`msg_ratelimit`, `msg_duplicate`, `msg_banned`, `msg_timedout`, …).
 * Lines wait in order per channel, channels take turns, and a line that waited too long is dropped:
 * a late reply is worse than none. While the transport is disconnected lines wait (bounded) and go
 * out after the reconnect.
 *
 * Every time-based decision goes through the injectable {@link SendClock}, so tests run it with fake
 * timers.
 *
 * @example
 * ```ts
 * const queue = new SendQueue({ transport, log, metrics, botLogin: "clankbot" });
 * transport.onEvent((e) => { queue.onEvent(e); host.dispatch(e); });
 * const outcome = await queue.enqueue({ channel: "somechan", text: "hi!", kind: "mention", floorSeconds: 3 });
 * // "sent", or "dropped:expired", "dropped:emote_only", …
 * ```
 * @module
 */
import type { ChatEvent } from "./events.ts";
import type { Transport } from "./transport.ts";
import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics.ts";
import { describeError, isClankError } from "./errors.ts";
import { type RateLimits, RateWindow, TWITCH_RATE_LIMITS } from "./rate_window.ts";
import { channelName, noticeSeconds } from "./twitch_tags.ts";

/** Why a line is sent. */
export type SendKind = "mention" | "spontaneous" | "command";

/** Why a line was not sent. */
export type DropReason =
  | "observe"
  | "expired"
  | "full"
  | "closed"
  | "duplicate"
  | "emote_only"
  | "followers_only"
  | "subs_only"
  | "restricted"
  | "banned"
  | "suspended"
  | "send_failed"
  | "withdrawn";

/** What became of a line. */
export type SendOutcome = "sent" | `dropped:${DropReason}`;

/** One line to send. */
export interface SendRequest {
  channel: string;
  text: string;
  kind: SendKind;
  /** Drop the line when it waited longer than this (default: 30 s for mentions and commands, 60 s spontaneous). */
  maxAgeMs?: number;
  /** The channel's floor: seconds between any two bot lines there (setting `floor`). */
  floorSeconds?: number;
  /**
   * Asked right before sending: `false` withdraws the line (e.g. the user it addresses was banned
   * while it waited).
   */
  stillValid?: () => boolean;
}

/** The clock and timers the queue uses; `@sinonjs/fake-timers`' `createClock()` fits. */
export interface SendClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

/** Limits and bounds of the queue. */
export interface SendLimits extends RateLimits {
  /** Milliseconds between two lines in a channel where the bot is not a moderator (Twitch: 1 s). */
  channelIntervalMs: number;
  /** Extra milliseconds waited on top of a slow-mode delay. */
  slowMarginMs: number;
  /** Pause of all sends after `msg_ratelimit`; doubles while Twitch keeps answering it. */
  rateLimitPauseMs: number;
  /** Longest rate-limit pause. */
  rateLimitPauseMaxMs: number;
  /** Lines waiting in all channels together. */
  maxQueued: number;
  /** Lines waiting in one channel. */
  maxPerChannel: number;
  /** Identical lines to one channel within this window are dropped (Twitch refuses them). */
  duplicateWindowMs: number;
  /** After `msg_banned`/`msg_channel_suspended`, try the channel again after this long. */
  blockedRetryMs: number;
  /**
   * After Twitch refused a line for the room's mode (followers-/subs-only, verified email/phone), try
   * one line again after this long unless a ROOMSTATE ended the mode first: following, a gifted sub or
   * verifying a phone lifts the refusal without any event.
   */
  roomBlockRetryMs: number;
  /** Default maximum age per kind. */
  maxAgeMs: Record<SendKind, number>;
}

/** Defaults: Twitch's limits for a normal account with a small margin. */
export const DEFAULT_SEND_LIMITS: SendLimits = {
  ...TWITCH_RATE_LIMITS,
  channelIntervalMs: 1200,
  slowMarginMs: 250,
  rateLimitPauseMs: 30_000,
  rateLimitPauseMaxMs: 300_000,
  maxQueued: 500,
  maxPerChannel: 20,
  duplicateWindowMs: 30_000,
  blockedRetryMs: 3_600_000,
  roomBlockRetryMs: 600_000,
  maxAgeMs: { mention: 30_000, spontaneous: 60_000, command: 30_000 },
};

/** Options of {@link SendQueue}. */
export interface SendQueueOptions {
  transport: Pick<Transport, "say" | "readOnly" | "connected">;
  log: Logger;
  metrics: Metrics;
  /** The bot's login: its own bans/timeouts stop sends, and it is broadcaster in its own channel. */
  botLogin?: string;
  clock?: SendClock;
  limits?: Partial<SendLimits>;
}

interface Item {
  channel: string;
  text: string;
  /** The text as it reaches Twitch ({@link chatLine}): what Twitch compares for its duplicate rule. */
  line: string;
  kind: SendKind;
  enqueuedAt: number;
  expiresAt: number;
  floorMs: number;
  stillValid?: () => boolean;
  resolve: (outcome: SendOutcome) => void;
}

interface Block {
  reason: DropReason;
  /** When the block ends by itself (room modes: unless a ROOMSTATE reports the mode off first). */
  until: number;
}

interface ChannelState {
  queue: Item[];
  lastSentAt: number | undefined;
  mod: boolean;
  slowSeconds: number;
  emoteOnly: boolean;
  /** Sends wait until then (timed out, slow-mode NOTICE). */
  waitUntil: number;
  block: Block | undefined;
  /** False between a (re)connect and Twitch confirming the JOIN; undefined when never seen. */
  joined: boolean | undefined;
  recent: Array<{ text: string; time: number }>;
  /** Sequence number of this channel's last send: the least recently served channel goes first. */
  served: number;
}

/**
 * Monotonic: every time the queue keeps is compared only with other times of this clock, never with
 * event times. A wall clock that NTP steps (a Raspberry Pi without RTC at boot, a VM resume) let a
 * forward step empty the account window at once, and a backward step expire the waiting lines and
 * hold a channel's next line for as long as the step.
 */
export const monotonicClock: SendClock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id as ReturnType<typeof setTimeout>),
};

/** Wait before retrying a send that failed because the connection was gone. */
const LINK_RETRY_MS = 1000;

const ROOM_BLOCKS: Record<string, DropReason> = {
  msg_followersonly: "followers_only",
  msg_followersonly_zero: "followers_only",
  msg_followersonly_followed: "followers_only",
  msg_subsonly: "subs_only",
  msg_verified_email: "restricted",
  msg_requires_verified_phone_number: "restricted",
};

/** tmi.js sends a line of 500 UTF-16 units or more as two PRIVMSGs, the second behind the queue's back. */
export const MAX_LINE = 499;
const ACTION = "/me ";
/**
 * tmi.js sends `/me text` as `\u0001ACTION text\u0001` and only then checks the length, so the text of
 * an action may be 9 units shorter than a line.
 */
const MAX_ACTION_LINE = MAX_LINE - "\u0001ACTION \u0001".length + ACTION.length;

/** True when Twitch (and tmi.js) would run `line` as a chat command instead of showing it. */
function isChatCommand(line: string): boolean {
  return (line.startsWith(".") && !line.startsWith("..")) || line.startsWith("/") || line.startsWith("\\");
}

/**
 * A bot line as it must reach Twitch: one line (a newline would end the PRIVMSG and start a raw IRC
 * command), no chat command (/ban, .timeout, … must never come out of a generated line; only a
 * lower-case `/me `, which is the one tmi.js turns into an action), and short enough that tmi.js sends
 * it as one PRIVMSG. Idempotent, so the queue's duplicate check and the transport agree; "" when
 * nothing is left to send.
 */
export function chatLine(text: string): string {
  let line = text.replace(/[\r\n]+/g, " ").trim();
  for (;;) {
    while (isChatCommand(line) && !line.startsWith(ACTION)) line = line.slice(1).trimStart();
    const max = line.startsWith(ACTION) ? MAX_ACTION_LINE : MAX_LINE;
    if (line.length <= max) return line;
    // Not between the halves of a surrogate pair; cutting may leave "/me" without its space, so the
    // command check runs again.
    const cut = /[\uD800-\uDBFF]/.test(line[max - 1]!) ? max - 1 : max;
    line = line.slice(0, cut).trimEnd();
  }
}

/** Rate-limited, room-mode-aware queue in front of `transport.say`. See the module docs. */
export class SendQueue {
  #transport: SendQueueOptions["transport"];
  #log: Logger;
  #metrics: Metrics;
  #clock: SendClock;
  #limits: SendLimits;
  #bot: string;
  #window: RateWindow;
  #channels = new Map<string, ChannelState>();
  /** Channels with waiting lines, in turn order. */
  #turns: string[] = [];
  #depth = 0;
  #timer: unknown;
  #timerAt = Infinity;
  #pumping = false;
  #closed = false;
  #pausedUntil = 0;
  #pauseMs = 0;
  #sends = 0;
  /** After a send failed for want of a connection: wait for "connected" (or this time) before retrying. */
  #linkRetryAt = 0;

  constructor(options: SendQueueOptions) {
    this.#transport = options.transport;
    this.#log = options.log.child({ component: "send_queue" });
    this.#metrics = options.metrics;
    this.#clock = options.clock ?? monotonicClock;
    this.#limits = {
      ...DEFAULT_SEND_LIMITS,
      ...options.limits,
      maxAgeMs: { ...DEFAULT_SEND_LIMITS.maxAgeMs, ...options.limits?.maxAgeMs },
    };
    this.#bot = (options.botLogin ?? "").toLowerCase();
    this.#window = new RateWindow(this.#limits);
    this.#metrics.sendQueueDepth.set(0);
  }

  /** Lines waiting. */
  get depth(): number {
    return this.#depth;
  }

  /** Queues one line; resolves once it was sent or dropped. */
  enqueue(request: SendRequest): Promise<SendOutcome> {
    const channel = channelName(request.channel);
    if (this.#closed) return Promise.resolve(this.#dropped(channel, request.kind, "closed"));
    // The host logs and counts what it would have said (clank_lines_would_send_total).
    if (this.#transport.readOnly) return Promise.resolve("dropped:observe");
    const now = this.#clock.now();
    const state = this.#state(channel);
    const refused = this.#refusal(state, now);
    if (refused) return Promise.resolve(this.#dropped(channel, request.kind, refused));
    if (this.#depth >= this.#limits.maxQueued || state.queue.length >= this.#limits.maxPerChannel) {
      return Promise.resolve(this.#dropped(channel, request.kind, "full"));
    }
    const { promise, resolve } = Promise.withResolvers<SendOutcome>();
    const maxAge = request.maxAgeMs ?? this.#limits.maxAgeMs[request.kind];
    state.queue.push({
      channel,
      text: request.text,
      line: chatLine(request.text),
      kind: request.kind,
      enqueuedAt: now,
      expiresAt: now + maxAge,
      floorMs: Math.max(0, (request.floorSeconds ?? 0) * 1000),
      stillValid: request.stillValid,
      resolve,
    });
    if (!this.#turns.includes(channel)) this.#turns.push(channel);
    this.#setDepth(this.#depth + 1);
    this.#kick();
    return promise;
  }

  /** Feeds the queue the events that change what it may send. Call it for every transport event. */
  onEvent(event: ChatEvent): void {
    if (this.#closed) return;
    const now = this.#clock.now();
    switch (event.type) {
      case "userstate": {
        this.#state(event.channel).mod = event.moderator || event.broadcaster || event.channel === this.#bot;
        break;
      }
      case "roomstate": {
        const s = this.#state(event.channel);
        if (event.slow !== undefined) s.slowSeconds = event.slow;
        if (event.emoteOnly !== undefined) s.emoteOnly = event.emoteOnly;
        if (s.block) {
          const r = s.block.reason;
          // Twitch sends the full ROOMSTATE after every JOIN, so a tag that is merely present says
          // nothing: only a mode reported off ends the block. Email/phone verification has no tag at
          // all; that block ends with roomBlockRetryMs.
          const ends =
            (r === "followers_only" && event.followersOnly !== undefined && event.followersOnly < 0) ||
            (r === "subs_only" && event.subsOnly === false);
          if (ends) {
            this.#log.info("Room mode changed; sending there again", { channel: event.channel, was: r });
            s.block = undefined;
          }
        }
        break;
      }
      case "notice":
        this.#onNotice(event.channel, event.msgId, event.text, now);
        break;
      case "timeout":
        if (this.#bot !== "" && event.user === this.#bot) this.#timedOut(event.channel, event.duration, now);
        break;
      case "ban":
        if (this.#bot !== "" && event.user === this.#bot) this.#block(event.channel, "banned", now);
        break;
      case "join":
      case "part":
        if (event.self) this.#state(event.channel).joined = event.type === "join";
        break;
      case "connected":
        this.#linkRetryAt = 0;
      // falls through
      case "disconnected":
      case "reconnect":
        // After a (re)connect a channel may only be written to once Twitch confirmed the JOIN again.
        for (const s of this.#channels.values()) if (s.joined) s.joined = false;
        break;
      default:
        return;
    }
    this.#kick();
  }

  /** Drops every waiting line (`dropped:closed`) and stops the timers. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#disarm();
    for (const s of this.#channels.values()) {
      for (const item of s.queue.splice(0)) item.resolve(this.#dropped(item.channel, item.kind, "closed"));
    }
    this.#turns = [];
    this.#setDepth(0);
  }

  // --- decisions ------------------------------------------------------------------------------------

  #state(channel: string): ChannelState {
    const c = channelName(channel);
    let s = this.#channels.get(c);
    if (!s) {
      s = {
        queue: [],
        lastSentAt: undefined,
        mod: c !== "" && c === this.#bot,
        slowSeconds: 0,
        emoteOnly: false,
        waitUntil: 0,
        block: undefined,
        joined: undefined,
        recent: [],
        served: 0,
      };
      this.#channels.set(c, s);
    }
    return s;
  }

  /** Why no line may go to this channel at all right now, if so. */
  #refusal(s: ChannelState, now: number): DropReason | undefined {
    if (s.block) {
      if (s.block.until > now) return s.block.reason;
      s.block = undefined;
    }
    if (s.emoteOnly && !s.mod) return "emote_only";
    return undefined;
  }

  /** Why the next line of this channel must be dropped, if so. */
  #dropReason(s: ChannelState, item: Item, now: number): DropReason | undefined {
    if (item.expiresAt <= now) return "expired";
    if (item.stillValid !== undefined && !item.stillValid()) return "withdrawn";
    const refused = this.#refusal(s, now);
    if (refused) return refused;
    const since = now - this.#limits.duplicateWindowMs;
    s.recent = s.recent.filter((r) => r.time > since);
    if (s.recent.some((r) => r.text === item.line)) return "duplicate";
    return undefined;
  }

  /** When the head line of a channel may go out, given the account's next free slot. */
  #readyAt(s: ChannelState, item: Item, now: number, account: { mod: number; user: number }): number {
    if (s.joined === false) return Infinity;
    let t = Math.max(now, s.waitUntil, this.#pausedUntil, this.#linkRetryAt);
    if (s.lastSentAt !== undefined) {
      let gap = item.floorMs;
      if (!s.mod) {
        gap = Math.max(gap, this.#limits.channelIntervalMs);
        if (s.slowSeconds > 0) gap = Math.max(gap, s.slowSeconds * 1000 + this.#limits.slowMarginMs);
      }
      t = Math.max(t, s.lastSentAt + gap);
    }
    return Math.max(t, s.mod ? account.mod : account.user);
  }

  #onNotice(channel: string, msgId: string, text: string, now: number): void {
    // The host counts every NOTICE (clank_twitch_notices_total); here they only change what may be sent.
    const c = channelName(channel);
    switch (msgId) {
      case "msg_ratelimit": {
        // Twitch keeps refusing while we keep trying, so back off longer each time it repeats.
        const repeated = now < this.#pausedUntil + this.#pauseMs;
        this.#pauseMs = repeated
          ? Math.min(this.#limits.rateLimitPauseMaxMs, this.#pauseMs * 2)
          : this.#limits.rateLimitPauseMs;
        this.#pausedUntil = now + this.#pauseMs;
        this.#log.warn("Twitch says the bot sends too fast; pausing all sends", {
          channel: c,
          pauseMs: this.#pauseMs,
        });
        return;
      }
      case "msg_duplicate":
        this.#log.info("Twitch refused a line as a duplicate; not retrying", { channel: c });
        return;
      case "msg_timedout":
        this.#timedOut(c, noticeSeconds(text) ?? 60, now);
        return;
      case "msg_slowmode": {
        const s = this.#state(c);
        s.waitUntil = Math.max(s.waitUntil, now + (noticeSeconds(text) ?? s.slowSeconds) * 1000);
        return;
      }
      case "msg_emoteonly":
        this.#state(c).emoteOnly = true;
        return;
      case "msg_banned":
        this.#block(c, "banned", now);
        return;
      case "msg_channel_suspended":
        this.#block(c, "suspended", now);
        return;
    }
    const roomBlock = ROOM_BLOCKS[msgId];
    if (roomBlock) {
      this.#log.info("Twitch refused the bot's line because of the room mode; waiting for it to change", {
        channel: c,
        reason: roomBlock,
      });
      this.#state(c).block = { reason: roomBlock, until: now + this.#limits.roomBlockRetryMs };
    }
  }

  #timedOut(channel: string, seconds: number, now: number): void {
    const s = this.#state(channel);
    s.waitUntil = Math.max(s.waitUntil, now + seconds * 1000);
    this.#log.warn("The bot is timed out; holding its lines", { channel: channelName(channel), seconds });
  }

  #block(channel: string, reason: "banned" | "suspended", now: number): void {
    const s = this.#state(channel);
    s.block = { reason, until: now + this.#limits.blockedRetryMs };
    this.#log.warn(
      reason === "banned"
        ? "The bot is banned in this channel; not sending there"
        : "The channel is suspended",
      { channel: channelName(channel) },
    );
  }

  // --- the pump -------------------------------------------------------------------------------------

  #kick(): void {
    if (this.#closed || this.#pumping) return;
    this.#pumping = true;
    void this.#drain();
  }

  /** Sends every line that may go now, one at a time, then sleeps until the next one may. */
  async #drain(): Promise<void> {
    try {
      while (!this.#closed) {
        const now = this.#clock.now();
        this.#dropDue(now);
        const next = this.#pick(now);
        if ("item" in next) {
          await this.#send(next.state, next.item, now);
          continue;
        }
        this.#arm(next.wakeAt, now);
        return;
      }
    } catch (err) {
      this.#log.error("Send queue failed", { err: describeError(err) });
    } finally {
      this.#pumping = false;
    }
  }

  /** Resolves lines that expired or may not go to their channel any more. */
  #dropDue(now: number): void {
    for (const channel of [...this.#turns]) {
      const s = this.#state(channel);
      for (let i = 0; i < s.queue.length;) {
        const item = s.queue[i]!;
        // Only the head is checked for duplicates: the lines behind it have their turn later.
        const reason = i === 0
          ? this.#dropReason(s, item, now)
          : item.expiresAt <= now
          ? "expired"
          : this.#refusal(s, now);
        if (!reason) {
          i++;
          continue;
        }
        s.queue.splice(i, 1);
        this.#setDepth(this.#depth - 1);
        item.resolve(this.#dropped(item.channel, item.kind, reason));
      }
      if (s.queue.length === 0) this.#turns = this.#turns.filter((c) => c !== channel);
    }
  }

  #pick(now: number): { state: ChannelState; item: Item } | { wakeAt: number } {
    let wakeAt = Infinity;
    for (const channel of this.#turns) {
      for (const item of this.#state(channel).queue) wakeAt = Math.min(wakeAt, item.expiresAt);
    }
    if (!this.#transport.connected) return { wakeAt };
    const account = { mod: this.#window.nextAllowed(now, true), user: this.#window.nextAllowed(now, false) };
    // Fair turns: of the channels that may send now, the one served least recently goes first.
    let best: ChannelState | undefined;
    for (const channel of this.#turns) {
      const s = this.#state(channel);
      const at = this.#readyAt(s, s.queue[0]!, now, account);
      if (at > now) wakeAt = Math.min(wakeAt, at);
      else if (!best || s.served < best.served) best = s;
    }
    return best ? { state: best, item: best.queue[0]! } : { wakeAt };
  }

  async #send(s: ChannelState, item: Item, now: number): Promise<void> {
    s.queue.shift();
    this.#setDepth(this.#depth - 1);
    s.served = ++this.#sends;
    try {
      await this.#transport.say(item.channel, item.text);
    } catch (err) {
      if (isClankError(err, "TWITCH_NOT_CONNECTED") && !this.#closed && item.expiresAt > this.#clock.now()) {
        // The connection dropped under us: the line keeps its place and goes out after the reconnect.
        // Until the transport reports it, retry at most once a second rather than spin.
        this.#linkRetryAt = this.#clock.now() + LINK_RETRY_MS;
        s.queue.unshift(item);
        this.#setDepth(this.#depth + 1);
        if (!this.#turns.includes(item.channel)) this.#turns.unshift(item.channel);
        this.#log.debug("Not connected; line waits for the reconnect", { channel: item.channel });
        return;
      }
      this.#log.warn("Sending a line failed", { channel: item.channel, err: describeError(err) });
      this.#finishQueue(s, item.channel);
      item.resolve(this.#dropped(item.channel, item.kind, "send_failed"));
      return;
    }
    this.#window.record(now, s.mod);
    s.lastSentAt = now;
    s.recent.push({ text: item.line, time: now });
    this.#finishQueue(s, item.channel);
    item.resolve("sent");
  }

  /** Takes a channel out of the turns once its queue is empty. */
  #finishQueue(s: ChannelState, channel: string): void {
    if (s.queue.length === 0) this.#turns = this.#turns.filter((c) => c !== channel);
  }

  #arm(wakeAt: number, now: number): void {
    if (wakeAt === this.#timerAt) return;
    this.#disarm();
    if (!Number.isFinite(wakeAt)) return;
    this.#timerAt = wakeAt;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      this.#kick();
    }, Math.max(0, wakeAt - now));
  }

  #disarm(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }

  #dropped(channel: string, kind: SendKind, reason: DropReason): SendOutcome {
    this.#metrics.sendDropped.inc({ reason });
    this.#log.debug("Line dropped", { channel, kind, reason });
    return `dropped:${reason}`;
  }

  #setDepth(depth: number): void {
    this.#depth = depth;
    this.#metrics.sendQueueDepth.set(depth);
  }
}
