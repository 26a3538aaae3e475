/**
 * The host: receives chat events from the transport and runs them through the pipeline, owns the
 * per-channel state, and implements the control API used by `!clank` commands and HTTP.
 *
 * One chat line, top to bottom (stages in `#stages`):
 * error boundary → facts (mention? command? bot?) → input filters → in-order section (per channel) →
 * moderation bookkeeping and storage → observers (context plugins) → command router → cooldown gates
 * → reply queue → generation (`generation.ts`) → output filters → send queue → transport.
 * @module
 */
import type { ChatEvent, MessageEvent } from "./events.ts";
import type { ChannelSettings, Config } from "./config_schema.ts";
import type { ChannelView, ControlApi, Readiness, RecentLine, SettingsChange } from "./control.ts";
import type {
  ChannelStatus,
  FilterVerdict,
  GateVerdict,
  ObservedEvent,
  SentEvent,
  TriggerKind,
} from "../plugins/sdk.ts";
import type { Transport } from "./transport.ts";
import type { ChatRecord } from "./storage.ts";
import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics.ts";
import type { StorageStatus } from "./write_buffer.ts";
import { compose, type Stage } from "./compose.ts";
import { ChannelState } from "./channel_state.ts";
import { CommandRouter } from "./command_router.ts";
import { isTimedOut, raceDeadline } from "./deadline.ts";
import { describeError } from "./errors.ts";
import { runGeneration, runOutputFilters } from "./generation.ts";
import { mentionMatcher, type MessageFacts, messageFacts } from "./message_facts.ts";
import type { Outcome, PluginSet } from "./plugin_set.ts";
import type { PluginHandle } from "./plugin_handle.ts";
import { type ReplyJob, ReplyQueue } from "./reply_queue.ts";
import { RingBuffer } from "./ring_buffer.ts";
import { HourlyCounters, type MetricRowWriter } from "./hourly_counters.ts";
import { safeUrl, sameModel } from "./ollama_client.ts";
import { JOIN_REFUSALS } from "./twitch_tags.ts";
import { TWITCH_MAX_LENGTH } from "../plugins/output_shaping.ts";
import { configuredSettings, describeProblems, resolveSettings, validatePatch } from "./settings_resolver.ts";

/** The storage the host writes through (`BufferedStorage`). */
export interface HostStorage {
  saveMessage(record: ChatRecord): Promise<unknown>;
  deleteMessage(channel: string, id: string): Promise<void>;
  deleteUserMessages(channel: string, user: string): Promise<number>;
  recentMessages(channel: string, limit: number): Promise<ChatRecord[]>;
  setSettings(channel: string, overrides: Partial<ChannelSettings> | null): Promise<void>;
  allSettings(): Promise<Record<string, Partial<ChannelSettings>>>;
  getSettings(channel: string): Promise<Partial<ChannelSettings>>;
  kvGet(namespace: string, key: string): Promise<string | undefined>;
  kvSet(namespace: string, key: string, value: string | null): Promise<void>;
  status(): StorageStatus;
  /** A cheap round trip; throws when the database is unavailable. */
  ping(): Promise<void>;
  /** Writes everything buffered (a reload restores history from the database). */
  flush?(): Promise<void>;
}

/** The send queue the host sends through (`send_queue.ts`). */
export interface HostSendQueue {
  enqueue(line: {
    channel: string;
    text: string;
    kind: "mention" | "spontaneous" | "command";
    maxAgeMs?: number;
    floorSeconds?: number;
    stillValid?: () => boolean;
  }): Promise<string>;
  onEvent(event: ChatEvent): void;
  readonly depth: number;
}

/** What Ollama looks like to the host: health and model checks (generation goes through plugins). */
export interface HostOllama {
  tags(): Promise<string[]>;
  ping(): Promise<boolean>;
  /** Loads a model into memory; resolves with the milliseconds it took. */
  load(model: string, signal?: AbortSignal): Promise<number>;
}

/** Everything the host is built from. */
export interface HostDeps {
  config: Config;
  log: Logger;
  metrics: Metrics;
  storage: HostStorage;
  transport: Transport;
  sendQueue: HostSendQueue;
  plugins: PluginSet;
  ollama?: HostOllama;
  /** Reloads config and plugins; returns the new plugin set and the new config. */
  reload?: () => Promise<{ config: Config; plugins: PluginSet; warnings: string[] }>;
  version?: string;
  /** The clock (replay uses the log's time). */
  clock?: () => number;
  /** Send a tick event every second (default true; tests drive ticks themselves). */
  ticks?: boolean;
  /** Stores hourly per-channel counters (`metrics_rows`); absent, they are not kept. */
  metricRows?: MetricRowWriter;
}

/** Why the bot did or did not speak, for replay output and debugging. */
export interface Decision {
  channel: string;
  trigger: TriggerKind | "command";
  /** `queued`, `skipped`, `said`, `would_say`, `not_sent`, or a generation outcome. */
  outcome: string;
  reason?: string;
  user?: string;
  text?: string;
  time: number;
}

/** The pipeline context of one event. */
interface IngestContext {
  event: ChatEvent;
  state?: ChannelState;
  ticket?: number;
  facts?: MessageFacts;
}

/** What the next stage returns: `undefined` when the rest of the chain finished synchronously. */
type Next = () => Promise<void> | void;

/** The cooldown plugins' combined answer for one trigger. */
type GateResult = { allow: true } | { allow: false; reason: string };

const ALLOWED: GateResult = Object.freeze({ allow: true });

/** One event in this many is timed per stage (clank_middleware_duration_seconds is a sample). */
const TIMING_SAMPLE = 8;

/** kv namespace of the host's own small records. */
const HOST_KV = "host";

/** Channels whose history is restored at the same time. */
const RESTORE_CONCURRENCY = 8;

/** Characters of a command reply the list of installed models may take (the rest says how many more). */
const MODEL_LIST_CHARS = 380;

/** `a, b, c… and N more` within `max` characters, or `(none)`. */
function listWithin(items: readonly string[], max: number): string {
  if (items.length === 0) return "(none)";
  let out = "";
  for (let i = 0; i < items.length; i++) {
    const next = out === "" ? items[i]! : `${out}, ${items[i]}`;
    const rest = items.length - i - 1;
    // Room for the " … and N more" this item would otherwise need.
    if (next.length + (rest > 0 ? ` … and ${rest} more`.length : 0) > max && out !== "") {
      return `${out} … and ${items.length - i} more`;
    }
    out = next;
  }
  return out;
}

/** Retries of reading stored settings that failed at start: 2 s, doubling up to a minute. */
const SETTINGS_RETRY_FIRST_MS = 2_000;
const SETTINGS_RETRY_MAX_MS = 60_000;

/** Runs `fn` over `items` with at most `limit` calls in flight. */
async function eachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** The running bot. */
export class Host implements ControlApi {
  #config: Config;
  readonly #log: Logger;
  readonly #metrics: Metrics;
  readonly #storage: HostStorage;
  readonly #transport: Transport;
  readonly #sendQueue: HostSendQueue;
  readonly #ollama: HostOllama | undefined;
  readonly #reload: HostDeps["reload"];
  readonly #version: string;
  #plugins: PluginSet;
  readonly #channels = new Map<string, ChannelState>();
  readonly #router: CommandRouter;
  readonly #recent = new RingBuffer<RecentLine>(1000);
  readonly #listeners = new Set<(line: RecentLine) => void>();
  readonly #started = performance.now();
  readonly #run: (ctx: IngestContext) => Promise<void> | void;
  /** The same pipeline with per-stage timing; every TIMING_SAMPLE-th event takes it. */
  readonly #runTimed: (ctx: IngestContext) => Promise<void> | void;
  /** The last command task per channel, so a channel's commands apply in the order they were sent. */
  readonly #commandChains = new Map<string, Promise<void>>();
  #isMention: (text: string) => boolean;
  #bots: Set<string>;
  #admins: Set<string>;
  #ollamaReachable: boolean | null = null;
  #ollamaError: string | null = null;
  /** The last error of each failing generator, so an outage is warned about once. */
  readonly #lastGeneratorError = new Map<string, string>();
  #tick: ReturnType<typeof setInterval> | undefined;
  #inflight = new Set<Promise<void>>();
  #stopping = false;
  readonly #now: () => number;
  readonly #ticks: boolean;
  readonly #hourly = new HourlyCounters();
  readonly #metricRows: MetricRowWriter | undefined;
  #hourlyTimer: ReturnType<typeof setInterval> | undefined;
  readonly #decisions = new Set<(d: Decision) => void>();
  /**
   * Channels whose stored settings could not be read (the database was down at start or join). Their
   * settings changes wait to be written until the stored ones are read and merged under them: writing
   * the row then would replace every override a moderator stored before.
   */
  readonly #settingsUnread = new Set<string>();
  /** Cancels the model preload when the bot stops. */
  readonly #preload = new AbortController();
  #settingsRetry: ReturnType<typeof setTimeout> | undefined;
  #settingsRetryMs = SETTINGS_RETRY_FIRST_MS;

  constructor(deps: HostDeps) {
    this.#config = deps.config;
    this.#log = deps.log;
    this.#metrics = deps.metrics;
    this.#storage = deps.storage;
    this.#transport = deps.transport;
    this.#sendQueue = deps.sendQueue;
    this.#ollama = deps.ollama;
    this.#reload = deps.reload;
    this.#version = deps.version ?? "dev";
    this.#plugins = deps.plugins;
    this.#now = deps.clock ?? Date.now;
    this.#ticks = deps.ticks ?? true;
    this.#metricRows = deps.metricRows;
    this.#isMention = mentionMatcher(botName(deps.config));
    this.#bots = new Set(deps.config.twitch.bots);
    this.#admins = new Set(deps.config.twitch.admins);
    this.#metrics.reportContextSizes(() =>
      [...this.#channels.values()].map((c): [string, number] => [c.name, c.contextLines])
    );
    this.#router = new CommandRouter(this.#plugins, this.#commandHost());
    this.#runTimed = compose(this.#stages(), (stage, seconds) => {
      this.#metrics.middlewareDuration.observe({ plugin: "core", stage }, seconds);
    });
    this.#run = compose(this.#stages());
  }

  /** The bot's login. */
  get bot(): string {
    return botName(this.#config);
  }

  /** Subscribes to decisions (said, skipped and why); returns an unsubscribe function. */
  onDecision(listener: (d: Decision) => void): () => void {
    this.#decisions.add(listener);
    return () => this.#decisions.delete(listener);
  }

  #decide(d: Decision): void {
    for (const listener of this.#decisions) listener(d);
  }

  /** The plugins in use. */
  get plugins(): PluginSet {
    return this.#plugins;
  }

  // ---------------------------------------------------------------- lifecycle

  /** Loads channel state and history, connects the transport and starts the tick. */
  async start(): Promise<void> {
    const stored = await this.#storage.allSettings().catch((err) => {
      this.#log.warn(
        "Could not read stored channel settings; using the configured ones until the database answers",
        { error: describeError(err) },
      );
      for (const channel of this.#config.twitch.channels) this.#settingsUnread.add(channel);
      return {} as Record<string, Partial<ChannelSettings>>;
    });
    for (const channel of this.#config.twitch.channels) this.#ensureChannel(channel, stored[channel] ?? {});
    if (this.#settingsUnread.size > 0) this.#retrySettingsLater();
    // A few channels at a time: all at once held every channel's rows in memory together, a start-up
    // peak the process kept for good (bench/memory.ts); one at a time would wait on each MySQL round trip.
    await eachLimited(this.#config.twitch.channels, RESTORE_CONCURRENCY, (c) => this.#restoreHistory(c));
    this.#transport.onEvent((event) => this.dispatch(event));
    if (this.#ticks) this.#tick = setInterval(() => this.dispatch({ type: "tick", time: this.#now() }), 1000);
    if (this.#metricRows) this.#hourlyTimer = setInterval(() => void this.#flushHourly(), 60_000);
    void this.#checkOllama().then(() => this.#reportOllamaAtStart());
    await this.#transport.connect(this.#config.twitch.channels);
  }

  /**
   * Stops: no new events, waits for in-flight generations (up to `graceMs`), parts channels and
   * disconnects. Storage flushing is the caller's (it owns the storage).
   */
  async stop(graceMs = 10_000): Promise<void> {
    this.#stopping = true;
    this.#preload.abort();
    if (this.#tick !== undefined) clearInterval(this.#tick);
    this.#tick = undefined;
    clearTimeout(this.#settingsRetry);
    this.#settingsRetry = undefined;
    // A last try, so changes made while the stored settings were unread are not lost.
    if (this.#settingsUnread.size > 0) {
      await raceDeadline(this.#loadUnreadSettings(), Math.min(2000, graceMs));
    }
    this.#warnUnsavedSettings();
    if (this.#hourlyTimer !== undefined) clearInterval(this.#hourlyTimer);
    this.#hourlyTimer = undefined;
    const idle = Promise.all([
      ...[...this.#channels.values()].map((c) => c.queue.idle()),
      Promise.allSettled([...this.#inflight]),
    ]);
    // The grace period bounds everything: a line stuck behind slow mode must not outlast a
    // container's stop timeout and cost the storage flush that follows.
    await raceDeadline(idle, graceMs);
    // Part politely (bounded: a dead connection must not hold up the shutdown), then disconnect.
    if (this.#transport.connected) {
      await raceDeadline(
        Promise.allSettled(this.#transport.joined().map((c) => this.#transport.part(c))),
        Math.min(2000, graceMs),
      );
    }
    await this.#transport.disconnect().catch(() => {});
    await raceDeadline(this.#flushHourly(), Math.min(2000, graceMs));
  }

  async #flushHourly(): Promise<void> {
    if (this.#metricRows === undefined) return;
    try {
      await this.#hourly.flush(this.#metricRows);
    } catch (err) {
      this.#log.debug("Hourly counters not stored yet; kept for the next try", { error: describeError(err) });
    }
  }

  /** True when no event is being handled and no generation runs or waits. */
  get idle(): boolean {
    return this.#inflight.size === 0 &&
      [...this.#channels.values()].every((c) => !c.queue.busy && c.queue.waiting === 0);
  }

  /** Resolves when every event dispatched so far has been handled and every reply queue is idle. */
  async settled(): Promise<void> {
    for (let i = 0; i < 100; i++) {
      await Promise.allSettled([...this.#inflight]);
      await Promise.all([...this.#channels.values()].map((c) => c.queue.idle()));
      if (this.#inflight.size === 0 && [...this.#channels.values()].every((c) => !c.queue.busy)) return;
    }
  }

  // ---------------------------------------------------------------- pipeline

  /** Entry point of every transport event. Never throws; events of a channel keep their order. */
  dispatch(event: ChatEvent): void {
    if (this.#stopping) return;
    const ctx: IngestContext = { event };
    if ("channel" in event) {
      const state = this.#channels.get(event.channel);
      if (state !== undefined) {
        ctx.state = state;
        ctx.ticket = state.order.ticket();
      }
    }
    // Timing every stage of every line costs more than some stages themselves: sample instead.
    // Random, not every n-th: a fixed stride can line up with a fixed pattern of events.
    const run = Math.random() < 1 / TIMING_SAMPLE ? this.#runTimed : this.#run;
    const pending = run(ctx);
    // Handled synchronously (every stage and plugin answered at once): nothing is in flight.
    if (pending === undefined) return;
    const done = pending.catch(() => {});
    this.#inflight.add(done);
    void done.finally(() => this.#inflight.delete(done));
  }

  #stages(): Stage<IngestContext>[] {
    return [
      { name: "error_boundary", run: (ctx, next) => this.#errorBoundary(ctx, next) },
      { name: "facts", run: (ctx, next) => this.#facts(ctx, next) },
      { name: "input_filters", run: (ctx, next) => this.#inputFilters(ctx, next) },
      { name: "in_order", run: (ctx, next) => this.#inOrder(ctx, next) },
      { name: "bookkeeping", run: (ctx, next) => this.#bookkeeping(ctx, next) },
      { name: "observe", run: (ctx, next) => this.#observe(ctx, next) },
      { name: "commands", run: (ctx, next) => this.#commands(ctx, next) },
      { name: "triggers", run: (ctx) => this.#triggers(ctx) },
    ];
  }

  // The stages below return `next()` as it is and wait only where something is pending: most chat
  // lines meet only synchronous handlers and then cost no promise (see compose.ts).

  #errorBoundary(ctx: IngestContext, next: Next): Promise<void> | void {
    let pending: Promise<void> | void;
    try {
      pending = next();
    } catch (err) {
      this.#eventFailed(ctx, err);
      this.#leave(ctx);
      return;
    }
    if (pending === undefined) {
      this.#leave(ctx);
      return;
    }
    return pending.then(() => this.#leave(ctx), (err) => {
      this.#eventFailed(ctx, err);
      this.#leave(ctx);
    });
  }

  #eventFailed(ctx: IngestContext, err: unknown): void {
    try {
      this.#metrics.pluginFailures.inc({ plugin: "core", reason: "threw" });
      this.#log.error("Event handling failed; the bot goes on", {
        event: ctx.event.type,
        channel: "channel" in ctx.event ? ctx.event.channel : undefined,
        error: describeError(err),
      });
    } catch {
      // Reporting must never keep the channel's turnstile closed.
    }
  }

  #leave(ctx: IngestContext): void {
    if (ctx.ticket !== undefined) ctx.state?.order.leave(ctx.ticket);
  }

  #facts(ctx: IngestContext, next: Next): Promise<void> | void {
    const event = ctx.event;
    if (event.type === "message") {
      if (ctx.state === undefined) return;
      const facts = messageFacts(event, {
        // Only a configured login is the bot's own account; a viewer may be called OBSERVE_NAME.
        bot: this.#config.twitch.username,
        isMention: this.#isMention,
        prefix: this.#config.twitch.command_prefix,
        bots: this.#bots,
      });
      // Our own lines come back through `sent`; the bot never reacts to itself.
      if (facts.self) return;
      ctx.facts = facts;
      event.flags = { mention: facts.mention, command: facts.command, fromBot: facts.fromBot };
      this.#metrics.chatLinesReceived.inc({ channel: event.channel });
      this.#hourly.add(event.channel, "chat_lines", event.time);
      ctx.state.messagesSeen++;
    }
    return next();
  }

  /** Asks the input filters in turn, from `from` on; the list is the one in use when the line arrived. */
  #inputFilters(
    ctx: IngestContext,
    next: Next,
    filters: readonly PluginHandle[] = this.#plugins.filtersIn,
    from = 0,
  ): Promise<void> | void {
    const event = ctx.event;
    if (event.type === "message" && ctx.state !== undefined) {
      for (let i = from; i < filters.length; i++) {
        const filter = filters[i]!;
        const outcome = this.#plugins.callNow<FilterVerdict>(filter, "check", {
          direction: "in",
          channel: event.channel,
          user: event.user,
          text: event.text,
          settings: ctx.state.settings,
          bot: this.bot,
        });
        if (outcome instanceof Promise) {
          return outcome.then((o) =>
            this.#kept(event, filter, o) ? this.#inputFilters(ctx, next, filters, i + 1) : undefined
          );
        }
        if (!this.#kept(event, filter, outcome)) return;
      }
    }
    return next();
  }

  /** Applies one input filter's verdict to the line; false when the filter dropped it. */
  #kept(event: MessageEvent, filter: PluginHandle, outcome: Outcome<FilterVerdict>): boolean {
    if (!outcome.ok) return true;
    const verdict = outcome.value;
    if (verdict.action === "drop") {
      this.#metrics.linesBlocked.inc({ filter: filter.meta.name, direction: "in" });
      this.#log.debug("Chat line blocked", {
        channel: event.channel,
        plugin: filter.meta.name,
        event: "blocked",
        reason: verdict.reason,
      });
      return false;
    }
    if (verdict.action === "rewrite") event.text = verdict.text;
    return true;
  }

  #inOrder(ctx: IngestContext, next: Next): Promise<void> | void {
    const ticket = ctx.ticket;
    if (ticket === undefined || ctx.state!.order.isTurn(ticket)) return next();
    return ctx.state!.order.enter(ticket).then(next);
  }

  #bookkeeping(ctx: IngestContext, next: Next): Promise<void> | void {
    const event = ctx.event;
    const state = ctx.state;
    this.#sendQueue.onEvent(event);
    switch (event.type) {
      case "message":
        if (state === undefined) return;
        this.#recordChat(event, state, ctx.facts!);
        break;
      case "ban":
        state?.restrict(event.user, Number.POSITIVE_INFINITY, event.time);
        if (state) this.#saveRestrictions(state);
        state?.queue.discard((j) => j.mention?.user === event.user);
        this.#write(this.#storage.deleteUserMessages(event.channel, event.user), "ban");
        this.#log.info("User banned: their lines leave the context and the database", {
          channel: event.channel,
          event: "ban",
        });
        break;
      case "timeout":
        state?.restrict(event.user, event.time + event.duration * 1000, event.time);
        if (state) this.#saveRestrictions(state);
        state?.queue.discard((j) => j.mention?.user === event.user);
        if (!this.#config.twitch.keep_timed_out_lines) {
          this.#write(this.#storage.deleteUserMessages(event.channel, event.user), "timeout");
        }
        break;
      case "deletion":
        state?.markDeleted(event.messageId);
        state?.queue.discard((j) => j.mention?.id === event.messageId);
        this.#write(this.#storage.deleteMessage(event.channel, event.messageId), "deletion");
        break;
      case "clear":
        if (state) {
          state.contextLines = 0;
          state.clearedAt = event.time;
          state.queue.discard((j) => j.mention !== undefined);
        }
        this.#write(this.#storage.kvSet(HOST_KV, `cleared:${event.channel}`, String(event.time)), "clear");
        break;
      case "roomstate":
        if (state) {
          if (event.slow !== undefined) state.room.slow = event.slow;
          if (event.emoteOnly !== undefined) state.room.emoteOnly = event.emoteOnly;
          if (event.followersOnly !== undefined) state.room.followersOnly = event.followersOnly;
          if (event.subsOnly !== undefined) state.room.subsOnly = event.subsOnly;
        }
        break;
      case "userstate":
        if (state) state.botIsModerator = event.moderator || event.broadcaster;
        break;
      case "join":
      case "part":
        // The transport owns the channelsJoined gauge; the host only tracks per-channel state.
        if (event.self && state) {
          state.joined = event.type === "join";
          if (state.joined) state.refused = null;
        }
        break;
      case "notice":
        this.#metrics.notices.inc({ msg_id: event.msgId });
        if (state && !state.joined && JOIN_REFUSALS.has(event.msgId) && state.refused === null) {
          state.refused = event.text;
          this.#log.warn(
            `Twitch refused to join #${state.name}: ${event.text} The bot stays ready without it and tries ` +
              "again on the next connection; remove the channel if it is gone for good",
            { channel: state.name, msg_id: event.msgId },
          );
        }
        if (
          state &&
          /banned|suspended|timedout|followersonly|subsonly|emoteonly|channel_limit/.test(event.msgId)
        ) {
          state.lastError = `Twitch: ${event.msgId}`;
        }
        break;
      case "disconnected":
        for (const c of this.#channels.values()) c.joined = false;
        break;
    }
    return next();
  }

  #recordChat(event: MessageEvent, state: ChannelState, facts: MessageFacts): void {
    if (!facts.command && !facts.fromBot) {
      state.contextLines = Math.min(state.settings.context, state.contextLines + 1);
      state.recentChat.push(event.text);
    }
    this.#pushRecent({
      channel: event.channel,
      id: event.id,
      user: event.user,
      displayName: event.displayName,
      text: event.text,
      time: event.time,
      bot: false,
    });
    this.#write(
      this.#storage.saveMessage({
        channel: event.channel,
        id: event.id,
        userId: event.userId,
        user: event.user,
        displayName: event.displayName,
        text: event.text,
        time: event.time,
        bot: false,
      }),
      "save",
    );
  }

  #observe(ctx: IngestContext, next: Next): Promise<void> | void {
    const event = ctx.event;
    // Ticks and connection events reach observers too, but a line for a channel we do not track does not.
    if ("channel" in event && ctx.state === undefined) return next();
    const notified = this.#notify(event);
    return notified === undefined ? next() : notified.then(next);
  }

  /** Tells the observers a mention got no line in chat, so a cooldown started for it is released. */
  async #unanswered(state: ChannelState, user: string, reason: string): Promise<void> {
    await this.#notify({ type: "unanswered", channel: state.name, user, reason, time: this.#now() });
  }

  /** Hands an event to every observer at once; a promise only when one of them is still busy with it. */
  #notify(event: ObservedEvent): Promise<void> | void {
    let busy: Promise<unknown>[] | undefined;
    for (const observer of this.#plugins.observers) {
      const outcome = this.#plugins.callNow(observer, "observe", event);
      if (outcome instanceof Promise) (busy ??= []).push(outcome);
    }
    if (busy === undefined) return;
    return Promise.all(busy).then(() => {});
  }

  #commands(ctx: IngestContext, next: Next): Promise<void> | void {
    // Another bot's line is never a command, moderator or not: Nightbot and co. echo what viewers
    // type (`!echo`, `$(query)`), so obeying them would hand the settings to every viewer.
    if (ctx.event.type === "message" && ctx.facts?.ourCommand && !ctx.facts.fromBot) {
      // Tracked, not awaited: a reply waiting out slow mode or a model check against Ollama must not
      // hold up the channel's chat, bans and mentions behind it.
      // Chained per channel: a slow `!clank model x` (it asks Ollama) must not land after a later `reset`.
      const event = ctx.event;
      const channel = event.channel;
      const run = (this.#commandChains.get(channel) ?? Promise.resolve()).then(() =>
        this.#router.handle(event)
      );
      const chain = run.then(() => {}, () => {});
      this.#commandChains.set(channel, chain);
      void chain.finally(() => {
        if (this.#commandChains.get(channel) === chain) this.#commandChains.delete(channel);
      });
      this.#track(run.then(() => {}));
      return;
    }
    return next();
  }

  #triggers(ctx: IngestContext): Promise<void> | void {
    const event = ctx.event;
    if (event.type === "tick") {
      const busy: Promise<void>[] = [];
      for (const c of this.#channels.values()) {
        if (!c.joined && !this.#transport.readOnly) continue;
        const pending = this.#maybeSpontaneous(c, event.time);
        if (pending !== undefined) busy.push(pending);
      }
      return busy.length === 0 ? undefined : Promise.all(busy).then(() => {});
    }
    if (event.type !== "message" || ctx.state === undefined || ctx.facts === undefined) return;
    const state = ctx.state;
    const facts = ctx.facts;
    if (facts.fromBot || facts.command) return;
    if (facts.mention) {
      const who = { channel: state.name, trigger: "mention" as const, user: event.user, time: event.time };
      if (state.isRestricted(event.user, event.time)) {
        this.#decide({ ...who, outcome: "skipped", reason: "user is banned or timed out" });
        return;
      }
      const gate = this.#gate("mention", state, event.time, event.user);
      if (gate instanceof Promise) return gate.then((g) => this.#mentionGated(state, event, who, g));
      this.#mentionGated(state, event, who, gate);
      return;
    }
    return this.#maybeSpontaneous(state, event.time);
  }

  #mentionGated(
    state: ChannelState,
    event: MessageEvent,
    who: { channel: string; trigger: "mention"; user: string; time: number },
    gate: GateResult,
  ): void {
    if (!gate.allow) {
      this.#decide({ ...who, outcome: "skipped", reason: `cooldown: ${gate.reason}` });
      return;
    }
    this.#decide({ ...who, outcome: "queued", text: event.text });
    state.queue.pushMention({
      trigger: "mention",
      channel: state.name,
      time: event.time,
      mention: { id: event.id, user: event.user, displayName: event.displayName, text: event.text },
    }, state.settings.mention_queue);
  }

  #maybeSpontaneous(state: ChannelState, now: number): Promise<void> | void {
    if (state.queue.hasSpontaneous) return;
    const gate = this.#gate("spontaneous", state, now);
    if (gate instanceof Promise) return gate.then((g) => this.#spontaneousGated(state, now, g));
    this.#spontaneousGated(state, now, gate);
  }

  #spontaneousGated(state: ChannelState, now: number, gate: GateResult): void {
    if (!gate.allow) return;
    this.#decide({ channel: state.name, trigger: "spontaneous", outcome: "queued", time: now });
    state.queue.pushSpontaneous({ trigger: "spontaneous", channel: state.name, time: now });
  }

  /**
   * Asks every cooldown plugin for a trigger, from `from` on; all must allow. A failing gate counts
   * as "no". Synchronous while the gates answer synchronously.
   */
  #gate(
    trigger: TriggerKind,
    state: ChannelState,
    time: number,
    user?: string,
    gates: readonly PluginHandle[] = this.#plugins.gates(trigger),
    from = 0,
  ): GateResult | Promise<GateResult> {
    for (let i = from; i < gates.length; i++) {
      const gate = gates[i]!;
      const outcome = this.#plugins.callNow<GateVerdict>(gate, "gate", {
        trigger,
        channel: state.name,
        user,
        settings: state.settings,
        contextSize: state.contextLines,
        time,
      });
      if (outcome instanceof Promise) {
        return outcome.then((o) =>
          this.#refusal(trigger, state, gate, o) ?? this.#gate(trigger, state, time, user, gates, i + 1)
        );
      }
      const refused = this.#refusal(trigger, state, gate, outcome);
      if (refused !== undefined) return refused;
    }
    return ALLOWED;
  }

  /** One gate's answer as a refusal (counted), or `undefined` when it allows. */
  #refusal(
    trigger: TriggerKind,
    state: ChannelState,
    gate: PluginHandle,
    outcome: Outcome<GateVerdict>,
  ): GateResult | undefined {
    if (!outcome.ok) return { allow: false, reason: `${gate.meta.name} failed` };
    if (outcome.value.allow) return undefined;
    // Spontaneous checks run on every line; "not enough lines yet" is the normal state, not a skip.
    if (trigger === "mention" || outcome.value.reason !== "threshold") {
      const reason = this.#metrics.cooldownReasons.of(outcome.value.reason);
      this.#metrics.cooldownSkips.inc({ channel: state.name, trigger, reason });
    }
    return { allow: false, reason: outcome.value.reason };
  }

  // ---------------------------------------------------------------- generation and sending

  async #runJob(job: ReplyJob): Promise<void> {
    const state = this.#channels.get(job.channel);
    if (state === undefined || this.#stopping) return;
    try {
      const outcome = await runGeneration(job, state, {
        bot: this.bot,
        plugins: () => this.#plugins,
        log: this.#log,
        metrics: this.#metrics,
        now: () => this.#now(),
        generatorTimeoutMs: this.#config.ollama.timeout * 1000 + 2000,
        modelFor: (s) => this.#modelFor(s.settings),
        send: (s, text, j, stillValid) => this.#send(s, text, j.trigger, j.mention?.user, stillValid),
        generatorFailed: (s, name, error) => this.#generatorFailed(s, name, error),
        generatorSucceeded: (name) => this.#generatorSucceeded(name),
      });
      this.#log.debug("Generation finished", { channel: job.channel, event: job.trigger, outcome });
      if (outcome !== "sent" && job.mention) await this.#unanswered(state, job.mention.user, outcome);
      if (outcome !== "sent") {
        this.#decide({
          channel: job.channel,
          trigger: job.trigger,
          outcome,
          user: job.mention?.user,
          time: this.#now(),
        });
      }
    } catch (err) {
      state.lastError = describeError(err);
      this.#log.error("Generation failed", { channel: job.channel, error: state.lastError });
    }
  }

  #modelFor(settings: ChannelSettings): string {
    return settings.model || this.#config.ollama.model;
  }

  #generatorFailed(state: ChannelState, generator: string, error: string): void {
    const code = /OLLAMA_([A-Z_]+)/.exec(error)?.[1];
    if (code !== undefined) {
      const kind = code === "MODEL_MISSING"
        ? "model_missing"
        : code === "ERROR"
        ? (/stream failed/.test(error) ? "stream" : "http")
        : code.toLowerCase();
      this.#metrics.ollamaErrors.inc({ kind });
      if (code === "UNREACHABLE") this.#ollamaReachable = false;
      this.#ollamaError = error;
    }
    state.lastError = error;
    // One warning per new failure across all channels, then quiet until a generation succeeds:
    // an Ollama outage with hundreds of channels must not flood the log either.
    const first = this.#lastGeneratorError.get(generator) !== error;
    this.#lastGeneratorError.set(generator, error);
    const level = first ? "warn" : "debug";
    this.#log[level]("Generator failed; staying silent", { channel: state.name, plugin: generator, error });
  }

  #generatorSucceeded(generator: string): void {
    this.#lastGeneratorError.delete(generator);
    if (generator === "ollama") {
      if (this.#ollamaReachable === false) this.#log.info("Ollama answers again", { event: "ollama_up" });
      this.#ollamaReachable = true;
      this.#ollamaError = null;
    }
  }

  /** Sends a line through the send queue and tells observers once it went out. */
  async #send(
    state: ChannelState,
    text: string,
    kind: TriggerKind | "command",
    user?: string,
    stillValid?: () => boolean,
  ): Promise<void> {
    const result = await this.#sendQueue.enqueue({
      channel: state.name,
      text,
      kind,
      floorSeconds: state.settings.floor,
      stillValid,
    });
    const now = this.#now();
    const observe = result === "dropped:observe";
    if (result !== "sent" && !observe) {
      this.#log.info("Line not sent", { channel: state.name, event: kind, result });
      if (kind === "mention" && user !== undefined) await this.#unanswered(state, user, result);
      this.#decide({
        channel: state.name,
        trigger: kind,
        outcome: "not_sent",
        reason: result,
        user,
        text,
        time: now,
      });
      return;
    }
    this.#decide({
      channel: state.name,
      trigger: kind,
      outcome: observe ? "would_say" : "said",
      user,
      text,
      time: now,
    });
    if (observe) {
      this.#metrics.linesObserved.inc({ channel: state.name, kind });
      this.#log.info(`Would say: ${text}`, { channel: state.name, event: kind, mode: "observe" });
    } else {
      this.#metrics.linesSent.inc({ channel: state.name, kind });
      this.#hourly.add(state.name, `sent_${kind}`, now);
      this.#log.info(`Said: ${text}`, { channel: state.name, event: kind });
      this.#write(
        this.#storage.saveMessage({
          channel: state.name,
          id: `bot-${now}-${crypto.randomUUID().slice(0, 8)}`,
          userId: "",
          user: this.bot,
          displayName: this.bot,
          text,
          time: now,
          bot: true,
          kind,
        }),
        "save",
      );
    }
    if (kind === "mention") state.sentReplies++;
    else if (kind === "spontaneous") state.sentSpontaneous++;
    if (kind !== "command") state.recentBot.push(text);
    this.#pushRecent({
      channel: state.name,
      user: this.bot,
      displayName: this.bot,
      text,
      time: now,
      bot: true,
      kind: observe ? "observe" : kind,
    });
    if (kind !== "command") {
      const sent: SentEvent = { type: "sent", channel: state.name, text, trigger: kind, user, time: now };
      await this.#notify(sent);
    }
  }

  // ---------------------------------------------------------------- channels

  #ensureChannel(channel: string, overrides: Partial<ChannelSettings>): ChannelState {
    let state = this.#channels.get(channel);
    if (state !== undefined) return state;
    const configured = configuredSettings(this.#config, channel);
    const { settings } = this.#resolveStored(channel, configured, overrides);
    const queue = new ReplyQueue(
      (job) => this.#runJob(job),
      () => this.#metrics.mentionsDropped.inc({ channel }),
    );
    state = new ChannelState(channel, configured, overrides, settings, queue);
    this.#channels.set(channel, state);
    return state;
  }

  /** The settings in force over stored overrides; the overrides that fail their checks are said once. */
  #resolveStored(
    channel: string,
    configured: ChannelSettings,
    overrides: Partial<ChannelSettings>,
  ): ReturnType<typeof resolveSettings> {
    const resolved = resolveSettings(configured, overrides);
    if (resolved.skipped.length > 0) {
      this.#log.warn(`Stored settings skipped: ${describeProblems(resolved.skipped)}`, {
        channel,
        event: "settings",
      });
    }
    return resolved;
  }

  #retrySettingsLater(): void {
    if (this.#settingsRetry !== undefined || this.#stopping) return;
    this.#settingsRetry = setTimeout(async () => {
      this.#settingsRetry = undefined;
      if (await this.#loadUnreadSettings()) return;
      this.#settingsRetryMs = Math.min(this.#settingsRetryMs * 2, SETTINGS_RETRY_MAX_MS);
      this.#retrySettingsLater();
    }, this.#settingsRetryMs);
  }

  /**
   * Reads the stored settings of the channels that missed them and merges the changes made meanwhile
   * over them. True when done (or nothing was left to do).
   */
  async #loadUnreadSettings(): Promise<boolean> {
    let stored: Record<string, Partial<ChannelSettings>>;
    try {
      stored = await this.#storage.allSettings();
    } catch {
      return this.#settingsUnread.size === 0;
    }
    const channels = [...this.#settingsUnread];
    this.#settingsUnread.clear();
    this.#settingsRetryMs = SETTINGS_RETRY_FIRST_MS;
    for (const channel of channels) {
      const state = this.#channels.get(channel);
      if (state === undefined) continue;
      const changed = Object.keys(state.overrides).length > 0;
      const merged = { ...stored[channel], ...state.overrides };
      const { settings, skipped } = this.#resolveStored(channel, state.configured, merged);
      const skippedKeys = new Set(skipped.map((p) => p.field.split(".")[0]));
      state.overrides = Object.fromEntries(
        Object.entries(merged).filter(([k]) => !skippedKeys.has(k)),
      ) as Partial<ChannelSettings>;
      state.settings = settings;
      if (changed) this.#write(this.#storage.setSettings(channel, state.overrides), "settings");
    }
    this.#log.info("Loaded the stored channel settings now that the database answers", {
      channels: channels.length,
      event: "settings",
    });
    return true;
  }

  /** Says which changes are lost when the bot stops before it could read the stored settings. */
  #warnUnsavedSettings(): void {
    for (const channel of this.#settingsUnread) {
      const keys = Object.keys(this.#channels.get(channel)?.overrides ?? {});
      if (keys.length === 0) continue;
      this.#log.warn(
        "Settings changed while the database was unavailable were not stored (the stored ones could not " +
          "be read to merge them); set them again",
        { channel, keys, event: "settings" },
      );
    }
  }

  async #restoreHistory(channel: string): Promise<void> {
    const state = this.#channels.get(channel);
    if (state === undefined) return;
    try {
      const now = this.#now();
      // Bans and timeouts outlive a restart: a timed-out user stays unquoted until the timeout ends.
      const saved = await this.#storage.kvGet(HOST_KV, `restricted:${channel}`);
      for (const [user, until] of saved ? JSON.parse(saved) as Array<[string, number | null]> : []) {
        state.restrict(user, until ?? Number.POSITIVE_INFINITY, now);
      }
      const clearedAt = Number(await this.#storage.kvGet(HOST_KV, `cleared:${channel}`) ?? 0);
      // The same exclusions as live chat: no commands, no other bots, no command replies as the
      // bot's own turns, nothing from a banned or timed-out user.
      const records = (await this.#storage.recentMessages(channel, state.settings.context))
        .filter((r) => r.time > clearedAt)
        .filter((r) =>
          r.bot ? r.kind !== "command" : !r.text.trimStart().startsWith("!") && !this.#bots.has(r.user) &&
            !state.isRestricted(r.user, now)
        );
      const lines = records.map((r) => ({
        id: r.id,
        user: r.user,
        displayName: r.displayName,
        text: r.text,
        time: r.time,
        bot: r.bot,
      }));
      state.contextLines = lines.filter((l) => !l.bot).length;
      for (const r of records) {
        if (r.bot) state.recentBot.push(r.text);
        else state.recentChat.push(r.text);
      }
      await this.#notify({ type: "restore", channel, lines, time: now });
    } catch (err) {
      this.#log.warn("Could not restore chat history; starting with an empty context", {
        channel,
        error: describeError(err),
      });
    }
  }

  #saveRestrictions(state: ChannelState): void {
    const entries = state.restrictionEntries(this.#now());
    this.#write(
      this.#storage.kvSet(HOST_KV, `restricted:${state.name}`, JSON.stringify(entries)),
      "restrictions",
    );
  }

  /** Keeps a detached task in the in-flight set, so `settled()` and `stop()` wait for it. */
  #track(task: Promise<void>): void {
    const done = task.catch((err) => {
      this.#log.error("Background task failed; the bot goes on", { error: describeError(err) });
    });
    this.#inflight.add(done);
    void done.finally(() => this.#inflight.delete(done));
  }

  #write(promise: Promise<unknown>, op: string): void {
    promise.catch((err) => this.#log.warn("Storage write failed", { op, error: describeError(err) }));
  }

  #pushRecent(line: RecentLine): void {
    this.#recent.push(line);
    for (const listener of this.#listeners) {
      try {
        listener(line);
      } catch {
        // A dashboard listener must never break chat handling.
      }
    }
  }

  #status(state: ChannelState): ChannelStatus {
    const avg = state.generation.average();
    const p95 = state.generation.percentile(95);
    return {
      uptimeSeconds: Math.round((performance.now() - this.#started) / 1000),
      model: this.#modelFor(state.settings),
      messagesSeen: state.messagesSeen,
      sentSpontaneous: state.sentSpontaneous,
      sentReplies: state.sentReplies,
      generationAvgMs: avg === null ? null : Math.round(avg),
      generationP95Ms: p95 === null ? null : Math.round(p95),
      ollamaReachable: this.#ollamaReachable,
      lastError: state.lastError,
      contextSize: state.contextLines,
      observeOnly: this.#transport.readOnly,
    };
  }

  async #checkOllama(): Promise<void> {
    if (this.#ollama === undefined) return;
    try {
      this.#ollamaReachable = await this.#ollama.ping();
      this.#ollamaError = this.#ollamaReachable
        ? null
        : `Ollama did not answer at ${safeUrl(this.#config.ollama.url)}`;
    } catch (err) {
      this.#ollamaReachable = false;
      this.#ollamaError = describeError(err);
    }
  }

  /**
   * Says once at start what is wrong with Ollama for the channels that use it (unreachable, a model
   * not pulled) and what the bot does meanwhile, instead of leaving it to the first mention.
   */
  async #reportOllamaAtStart(): Promise<void> {
    if (this.#ollama === undefined || this.#stopping) return;
    const users = [...this.#channels.values()].filter((c) => c.settings.generator === "ollama");
    if (users.length === 0) return;
    const url = safeUrl(this.#config.ollama.url);
    if (this.#ollamaReachable !== true) {
      const fallback = users.every((c) => c.settings.fallback_markov)
        ? "the Markov generator speaks instead (fallback_markov)"
        : "channels using it stay silent until it answers (set fallback_markov = true to chat from the " +
          "Markov model meanwhile)";
      this.#log.warn(`Ollama is not reachable at ${url}: ${fallback}`, {
        event: "ollama_down",
        error: this.#ollamaError ?? undefined,
      });
      return;
    }
    let installed: string[];
    try {
      installed = await this.#ollama.tags();
    } catch (err) {
      this.#log.warn(`Could not list Ollama's models at ${url}`, { error: describeError(err) });
      return;
    }
    const wanted = [...new Set(users.map((c) => this.#modelFor(c.settings)))];
    const missing = wanted.filter((model) => !installed.some((m) => sameModel(m, model)));
    for (const model of missing) {
      const affected = users.filter((c) => this.#modelFor(c.settings) === model);
      const meanwhile = affected.every((c) => c.settings.fallback_markov)
        ? "the Markov generator speaks instead (fallback_markov)"
        : `${affected.length === 1 ? "its channel stays" : `its ${affected.length} channels stay`} silent`;
      this.#log.warn(
        `Model "${model}" is not installed in Ollama at ${url}: run \`ollama pull ${model}\`; until then ${meanwhile}`,
        { event: "ollama_model_missing", channels: affected.slice(0, 20).map((c) => c.name).join(", ") },
      );
    }
    if (missing.length === 0) this.#log.info(`Ollama is ready at ${url}`, { models: wanted.join(", ") });
    await this.#preloadModel(users.filter((c) => !missing.includes(this.#modelFor(c.settings))));
  }

  /**
   * Loads the model most channels use, so the first mention does not wait for the load (which on a
   * big model outlasts the first-token deadline and ends in silence). One model only: loading several
   * at once could make Ollama evict one for another on a small GPU.
   */
  async #preloadModel(users: ChannelState[]): Promise<void> {
    if (this.#ollama === undefined || users.length === 0 || this.#stopping) return;
    const count = new Map<string, number>();
    for (const c of users) {
      const model = this.#modelFor(c.settings);
      count.set(model, (count.get(model) ?? 0) + 1);
    }
    const model = [...count].sort((a, b) => b[1] - a[1])[0]![0];
    try {
      const ms = await this.#ollama.load(model, this.#preload.signal);
      this.#log.info(`Model "${model}" is loaded in Ollama (took ${(ms / 1000).toFixed(1)} s)`, {
        event: "ollama_preload",
      });
    } catch (err) {
      if (this.#stopping) return;
      this.#log.warn(`Could not load model "${model}" in advance; the first reply will load it`, {
        event: "ollama_preload",
        error: describeError(err),
      });
    }
  }

  #commandHost() {
    return {
      commandConfig: () => ({
        prefix: this.#config.twitch.command_prefix,
        admins: this.#admins,
        channelCooldown: this.#config.twitch.command_cooldown,
      }),
      settings: (channel: string) => {
        const s = this.#channels.get(channel);
        return s && { settings: s.settings, configured: s.configured };
      },
      status: (channel: string) => this.#status(this.#channels.get(channel)!),
      applySettings: async (channel: string, patch: Record<string, unknown>) => {
        const change = await this.updateSettings(channel, patch);
        return change.ok ? null : describeProblems(change.problems);
      },
      resetSettings: async (channel: string) => void await this.resetSettings(channel),
      reply: async (channel: string, text: string) => {
        const state = this.#channels.get(channel);
        if (state) await this.#sendCommandReply(state, text);
      },
      refusedChange: (channel: string, user: string, plugin: string) => {
        this.#log.warn("A viewer's command asked to change settings; not applied (moderators only)", {
          channel,
          user,
          plugin,
        });
      },
    };
  }

  /** Command replies pass the output filters too (but are not compared with the conversation). */
  async #sendCommandReply(state: ChannelState, text: string): Promise<void> {
    const filtered = await runOutputFilters(this.#plugins, this.#metrics, {
      direction: "out",
      channel: state.name,
      text,
      // max_length is for generated lines; a command reply may use all of Twitch's line (an error
      // cut at 20 characters would lose the allowed range it names).
      settings: { ...state.settings, max_length: TWITCH_MAX_LENGTH },
      bot: this.bot,
      recent: { bot: [], chat: [] },
    }, "skip");
    if (filtered.ok) await this.#send(state, filtered.text, "command");
  }

  // ---------------------------------------------------------------- ControlApi

  channels(): ChannelView[] {
    return [...this.#channels.keys()].sort().map((c) => this.channel(c)!);
  }

  channel(name: string): ChannelView | undefined {
    const s = this.#channels.get(name);
    if (s === undefined) return undefined;
    const configuredKeys = Object.keys(this.#config.channels[name] ?? {});
    return {
      channel: name,
      joined: s.joined,
      settings: s.settings,
      overrides: [...new Set([...configuredKeys, ...Object.keys(s.overrides)])].sort(),
      status: this.#status(s),
      roomState: { ...s.room },
      botIsModerator: s.botIsModerator,
      refused: s.refused,
    };
  }

  async updateSettings(channel: string, patch: Record<string, unknown>): Promise<SettingsChange> {
    const state = this.#channels.get(channel);
    if (state === undefined) {
      return {
        ok: false,
        problems: [{ field: "channel", value: channel, message: "is not a channel the bot is in" }],
      };
    }
    const checked = validatePatch(patch);
    if (!checked.ok) return checked;
    const model = checked.patch.model;
    if (model !== undefined && model !== "") {
      const problem = await this.#checkModel(model);
      if (problem !== null) {
        return { ok: false, problems: [{ field: "model", value: model, message: problem }] };
      }
    }
    const generator = checked.patch.generator;
    if (generator !== undefined && !this.#plugins.generators.has(generator)) {
      const loaded = [...this.#plugins.generators.keys()].join(", ");
      return {
        ok: false,
        problems: [{
          field: "generator",
          value: generator,
          message: `is not a loaded generator; loaded: ${loaded}`,
        }],
      };
    }
    const overrides = { ...state.overrides, ...checked.patch };
    state.overrides = overrides;
    state.settings = { ...state.configured, ...overrides };
    // Applied at once; the write is buffered, so a database outage delays storing, never the change.
    // While the stored row is unread it waits for the merge instead of replacing that row.
    if (!this.#settingsUnread.has(channel)) {
      this.#write(this.#storage.setSettings(channel, overrides), "settings");
    }
    this.#log.info("Channel settings changed", {
      channel,
      event: "settings",
      changed: Object.keys(checked.patch),
    });
    return { ok: true, settings: state.settings };
  }

  async #checkModel(model: string): Promise<string | null> {
    if (this.#ollama === undefined) return "cannot be checked: no Ollama client";
    let installed: string[];
    try {
      installed = await this.#ollama.tags();
    } catch (err) {
      // The answer goes to public chat: Ollama's address (an internal host, a home IP) stays in the log.
      this.#log.warn("Could not check a model against Ollama", {
        model,
        url: safeUrl(this.#config.ollama.url),
        error: describeError(err),
      });
      return "cannot be checked: Ollama is not reachable";
    }
    if (installed.some((m) => sameModel(m, model))) return null;
    return `is not installed in Ollama; installed: ${listWithin(installed, MODEL_LIST_CHARS)}`;
  }

  resetSettings(channel: string): Promise<ChannelSettings> {
    const state = this.#channels.get(channel);
    if (state === undefined) {
      return Promise.reject(new Error(`Channel "${channel}" is not a channel the bot is in`));
    }
    state.overrides = {};
    state.settings = { ...state.configured };
    // A reset replaces whatever is stored, read or not.
    this.#settingsUnread.delete(channel);
    this.#write(this.#storage.setSettings(channel, null), "settings");
    this.#log.info("Channel settings reset to the configured defaults", { channel, event: "settings" });
    return Promise.resolve(state.settings);
  }

  async join(channel: string): Promise<void> {
    const existed = this.#channels.has(channel);
    const stored = existed ? {} : await this.#storage.getSettings(channel).catch((err) => {
      this.#log.warn(
        "Could not read the channel's stored settings; using the configured ones until the database answers",
        {
          channel,
          error: describeError(err),
        },
      );
      this.#settingsUnread.add(channel);
      this.#retrySettingsLater();
      return {};
    });
    const state = this.#ensureChannel(channel, stored);
    state.wanted = true;
    if (!existed) await this.#restoreHistory(channel);
    await this.#transport.join(channel);
  }

  async part(channel: string): Promise<void> {
    const state = this.#channels.get(channel);
    if (state === undefined) return;
    state.wanted = false;
    // Waiting mentions are dropped; a running or waiting spontaneous job finds the channel gone and
    // stops. A line already in the send queue waits there until it expires (or is sent if the
    // channel is joined again in time).
    state.queue.discard(() => true);
    await this.#transport.part(channel);
    // Plugins forget the channel now, whether or not Twitch's PART echo arrives before the state goes.
    await this.#notify({ type: "part", channel, user: this.bot, self: true, time: this.#now() });
    this.#channels.delete(channel);
  }

  recent(channel: string | undefined, limit: number): RecentLine[] {
    const all = this.#recent.toArray();
    const lines = channel === undefined ? all : all.filter((l) => l.channel === channel);
    return lines.slice(Math.max(0, lines.length - limit));
  }

  subscribe(listener: (line: RecentLine) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async reload(): Promise<{ plugins: string[]; warnings: string[] }> {
    if (this.#reload === undefined) {
      return { plugins: this.#plugins.all.map((p) => p.meta.name), warnings: [] };
    }
    const { config, plugins, warnings } = await this.#reload();
    const old = this.#plugins;
    this.#config = config;
    this.#plugins = plugins;
    this.#router.setPlugins(plugins);
    this.#isMention = mentionMatcher(botName(config));
    this.#bots = new Set(config.twitch.bots);
    this.#admins = new Set(config.twitch.admins);
    for (const state of this.#channels.values()) {
      state.configured = configuredSettings(config, state.name);
      state.settings = resolveSettings(state.configured, state.overrides).settings;
    }
    await old.close();
    // New context plugins need the history; what is still buffered must be in the database first
    // (bounded: during an outage the restore uses what the database has).
    await raceDeadline(this.#storage.flush?.().catch(() => {}) ?? Promise.resolve(), 2000);
    await eachLimited([...this.#channels.keys()], RESTORE_CONCURRENCY, (c) => this.#restoreHistory(c));
    this.#log.info("Reloaded config and plugins", { plugins: plugins.all.length, warnings: warnings.length });
    return { plugins: plugins.all.map((p) => p.meta.name), warnings };
  }

  async readiness(): Promise<Readiness> {
    const storage = { ...this.#storage.status() };
    // The buffer only learns of an outage when a write fails; a quiet channel writes nothing, so ask.
    if (storage.writable) {
      const problem = await this.#pingStorage(1000);
      if (problem !== null) Object.assign(storage, { writable: false, error: problem });
    }
    // Channels left at Twitch's limit were said once; they do not keep the bot from being ready.
    const parked = new Set(this.#transport.parked?.() ?? []);
    // So are channels Twitch refused to let the bot join (suspended): one of them must not keep a
    // whole bot out of its load balancer.
    const isRefused = (c: ChannelState) => c.wanted && !c.joined && c.refused !== null;
    const channels = [...this.#channels.values()];
    const refused = channels.filter(isRefused).map((c) => ({ channel: c.name, reason: c.refused! }));
    const wanted = channels.filter((c) => c.wanted && !parked.has(c.name) && !isRefused(c)).length;
    const joined = channels.filter((c) => c.joined).length;
    const reasons: string[] = [];
    if (!this.#transport.connected) reasons.push("IRC is not connected");
    else if (joined < wanted) reasons.push(`joined ${joined} of ${wanted} channels`);
    if (!storage.writable) {
      reasons.push(`database is unavailable${storage.error ? `: ${storage.error}` : ""}`);
    }
    return {
      ready: reasons.length === 0,
      irc: {
        connected: this.#transport.connected,
        joined,
        wanted,
        readOnly: this.#transport.readOnly,
        ...(parked.size > 0 ? { parked: [...parked] } : {}),
        ...(refused.length > 0 ? { refused } : {}),
      },
      database: storage,
      ollama: { reachable: this.#ollamaReachable, error: this.#ollamaError },
      reasons,
    };
  }

  /** `null` when the database answers within `ms`, else why not. */
  async #pingStorage(ms: number): Promise<string | null> {
    try {
      const answered = await raceDeadline(this.#storage.ping(), ms);
      return isTimedOut(answered) ? `no answer within ${ms} ms` : null;
    } catch (err) {
      return this.#log.redact(describeError(err));
    }
  }

  info(): { version: string; uptimeSeconds: number; bot: string; observeOnly: boolean; model: string } {
    return {
      version: this.#version,
      uptimeSeconds: Math.round((performance.now() - this.#started) / 1000),
      bot: this.bot,
      observeOnly: this.#transport.readOnly,
      model: this.#config.ollama.model,
    };
  }
}

/** The name observe mode answers to when no bot login is configured (replay uses it too). */
export const OBSERVE_NAME = "clank";

/** The bot's login, or {@link OBSERVE_NAME} when none is configured (anonymous observe mode). */
export function botName(config: Config): string {
  return config.twitch.username || OBSERVE_NAME;
}
