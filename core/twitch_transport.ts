/**
 * The Twitch IRC transport: tmi.js over WebSocket, mapped to clank's chat events.
 *
 * tmi.js speaks the protocol (CAP, PASS/NICK, PING, parsing); this class owns the connection
 * lifecycle around it: one tmi client per connection, JOINs paced per account across connections,
 * reconnects with backoff that rejoin every channel, Twitch's `RECONNECT`, and a login failure that is
 * reported once instead of looping. PRIVMSG rate limits are not handled here — that is
 * `send_queue.ts`; `say()` only makes each line safe to send ({@link chatLine}).
 *
 * @example
 * ```ts
 * const transport = new TwitchTransport({
 *   ircUrl: "wss://irc-ws.chat.twitch.tv:443", username: "clankbot", token: "oauth:…",
 *   log, metrics, joinIntervalMs: 500,
 * });
 * transport.onEvent((event) => host.dispatch(event));
 * await transport.connect(["somechannel"]);
 * ```
 * @module
 */
// Before tmi.js, whose dependencies make Node print a deprecation warning users cannot act on.
import "./node_warnings.ts";
import tmi from "tmi.js";
import type { ChatEvent } from "./events.ts";
import type { Transport } from "./transport.ts";
import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics.ts";
import { ClankError, describeError } from "./errors.ts";
import { RateWindow } from "./rate_window.ts";
import { chatLine, monotonicClock, type SendClock } from "./send_queue.ts";
import {
  channelName,
  isAuthFailure,
  JOIN_REFUSALS,
  messageFromTags,
  roomStateFromTags,
  sentTime,
  tagString,
  type TmiTags,
  userStateFromTags,
} from "./twitch_tags.ts";

/** Options of {@link TwitchTransport}. */
export interface TwitchTransportOptions {
  /** `ws://host:port` or `wss://host:port` (Twitch: `wss://irc-ws.chat.twitch.tv:443`). */
  ircUrl: string;
  /** Bot login; empty means anonymous. */
  username: string;
  /** OAuth token (with or without `oauth:`), or a function read at every login; none means anonymous. */
  token: string | (() => Promise<string>) | undefined;
  log: Logger;
  metrics: Metrics;
  /** Milliseconds between two JOINs (Twitch allows 20 per 10 s for normal accounts, so ≥ 500). */
  joinIntervalMs: number;
  /** Called once when Twitch refuses the token; true when `token` now yields a refreshed one. */
  onAuthFailure?: () => Promise<boolean>;
  /** First reconnect delay in milliseconds (doubles per failed attempt, ±20 % jitter). Default 1000. */
  reconnectBaseMs?: number;
  /** Longest reconnect delay in milliseconds. Default 30000. */
  reconnectMaxMs?: number;
  /** How long `join()` waits for Twitch to confirm before it resolves anyway. Default 10000. */
  joinTimeoutMs?: number;
  /**
   * JOINs allowed in any window of `windowMs`, on top of `joinIntervalMs`. Default: the rate of
   * `joinIntervalMs` kept across connections ({@link joinLimitFor}).
   */
  joinLimit?: JoinLimit;
  /** The monotonic clock and timers that pace JOINs (tests pass a fake one). Default: the real ones. */
  joinClock?: SendClock;
}

/** A sliding-window limit on JOINs. */
export interface JoinLimit {
  windowMs: number;
  joins: number;
}

/** Twitch's limit of channels joined at once for accounts that are not moderators (since 2024). */
export const TWITCH_CHANNEL_LIMIT = 100;
/**
 * The window that keeps the rate of one JOIN per `intervalMs` across connections: Twitch counts JOINs
 * per account, so a RECONNECT in the middle of joining must not start the count over. A tenth of the
 * JOINs and 500 ms are kept in reserve for network jitter. The interval sets the rate, so an operator
 * who lowered it (an account with a higher limit, a local server) is not held to Twitch's default.
 */
export function joinLimitFor(intervalMs: number): JoinLimit {
  return { windowMs: 10_500, joins: Math.max(1, Math.floor((0.9 * 10_000) / Math.max(1, intervalMs))) };
}

/** At the default interval of 500 ms (Twitch's 20 JOINs per 10 s for normal accounts): 18 per 10.5 s. */
export const JOIN_LIMIT: JoinLimit = joinLimitFor(500);
/** A connection must last this long before the reconnect backoff starts over. */
const STABLE_CONNECTION_MS = 30_000;
/** How far this machine's clock may be from Twitch's before the transport warns about it. */
const CLOCK_SKEW_WARN_MS = 10_000;

/** A clock difference for a log line: seconds, minutes, hours or days. */
function formatSkew(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.round(s / 3600)} h`;
  const days = Math.round(s / 86_400);
  return `${days} ${days === 1 ? "day" : "days"}`;
}

/** tmi.js races each command against an untracked 600 ms timer; wait it out before reporting closed. */
const TMI_TIMER_MS = 700;

/** The parts of a tmi.js client this transport uses (tmi.js ships no types). */
interface TmiClient {
  connect(): Promise<unknown>;
  disconnect(): Promise<unknown>;
  join(channel: string): Promise<unknown>;
  part(channel: string): Promise<unknown>;
  say(channel: string, text: string): Promise<unknown>;
  on(event: string, listener: (...args: never[]) => void): unknown;
  handleMessage(message: TmiRawMessage | null): void;
  readyState(): string;
}

/** A line as tmi.js's parser returns it, before tmi converts the tags. */
interface TmiRawMessage {
  raw: string;
  tags: TmiTags;
  prefix: string | null;
  command: string | null;
  params: string[];
}

interface TmiConnection {
  server: string;
  port: number;
  secure: boolean;
}

/** Splits `ws(s)://host:port` into tmi.js's connection options. */
export function tmiConnection(ircUrl: string): TmiConnection {
  let url: URL;
  try {
    url = new URL(ircUrl);
  } catch {
    throw new ClankError(
      "CONFIG_INVALID",
      `Twitch IRC URL ${JSON.stringify(ircUrl)} is not a URL: use ws://host:port or wss://host:port`,
    );
  }
  if (url.protocol !== "ws:" && url.protocol !== "wss:") {
    throw new ClankError(
      "CONFIG_INVALID",
      `Twitch IRC URL must start with ws:// or wss://, got ${url.protocol}//`,
    );
  }
  const secure = url.protocol === "wss:";
  const port = url.port === "" ? (secure ? 443 : 80) : Number(url.port);
  return { server: url.hostname, port, secure };
}

/** A tmi.js logger that forwards everything at debug level (tmi's own errors are re-reported by us). */
function tmiLogger(log: Logger): Record<string, (msg: string) => void> {
  const fwd = (msg: string) => {
    if (log.enabled("debug")) log.debug(String(msg), { source: "tmi" });
  };
  return { trace: fwd, debug: fwd, info: fwd, warn: fwd, error: fwd, fatal: fwd, setLevel: () => {} };
}

/** Chat over Twitch IRC. See the module docs. */
export class TwitchTransport implements Transport {
  readonly readOnly: boolean;
  #opts: TwitchTransportOptions;
  #log: Logger;
  #metrics: Metrics;
  #conn: TmiConnection;
  #login: string;
  #userId = "";
  #sink: (event: ChatEvent) => void = () => {};

  #client: TmiClient | null = null;
  #connected = false;
  /** Whether any connection succeeded yet: a first failure is not a "lost" connection. */
  #everConnected = false;
  #stopped = true;
  #wanted = new Set<string>();
  #joined = new Set<string>();
  #joinQueue: string[] = [];
  #joinTimer: unknown;
  /** The JOINs sent, by `#joinClock`, across connections (see {@link joinLimitFor}). */
  readonly #joinWindow: RateWindow;
  /** When the last JOIN went out, by `#joinClock`. */
  #lastJoinAt: number | undefined;
  #joinClock: SendClock;
  #joinWaiters = new Map<string, Array<() => void>>();
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  #attempt = 0;
  /** When the current connection came up, by `performance.now()`; undefined while disconnected. */
  #connectedAt: number | undefined;
  #authRetried = false;
  #closing = new Set<Promise<unknown>>();
  /** By `performance.now()`: a wall-clock step must not make `disconnect()` wait for its length. */
  #quietAt = 0;
  #lineTime: number | undefined;
  /** The clock warning is given once per connection. */
  #clockChecked = false;
  #selfCount = 0;
  #warnedLimit = false;
  /** Channels whose USERSTATE said the bot is neither moderator nor broadcaster there. */
  #notModIn = new Set<string>();
  /** Channels left because of Twitch's limit on channels where the bot is not a moderator. */
  #parked = new Set<string>();
  #firstConnect: { resolve: () => void; reject: (err: unknown) => void } | undefined;

  constructor(options: TwitchTransportOptions) {
    this.#opts = options;
    this.#log = options.log.child({ component: "twitch" });
    this.#metrics = options.metrics;
    this.#conn = tmiConnection(options.ircUrl);
    this.#joinClock = options.joinClock ?? monotonicClock;
    // The same sliding window as the account's PRIVMSG limit, with JOINs for lines: one kind only.
    const { windowMs, joins } = options.joinLimit ?? joinLimitFor(options.joinIntervalMs);
    this.#joinWindow = new RateWindow({
      windowMs,
      windowSlackMs: 0,
      lines: joins,
      modLines: joins,
      safetyLines: 0,
    });
    const anonymous = !options.username || options.token === undefined || options.token === "";
    this.readOnly = anonymous;
    this.#login = anonymous
      ? `justinfan${10000 + Math.floor(Math.random() * 80000)}`
      : options.username.toLowerCase();
    if (typeof options.token === "string") this.#addSecret(options.token);
    if (this.#conn.secure && this.#conn.port !== 443) {
      this.#log.warn("tmi.js always uses port 443 for wss://; the port in the IRC URL is ignored", {
        port: this.#conn.port,
      });
    }
    if (options.joinIntervalMs < 500) {
      this.#log.warn("JOIN interval is below 500 ms: Twitch allows normal accounts 20 JOINs per 10 s", {
        joinIntervalMs: options.joinIntervalMs,
      });
    }
  }

  /** Registers a token for log redaction, also as tmi.js sends it (lower case). */
  #addSecret(token: string): void {
    this.#log.addSecret(token);
    this.#log.addSecret(token.toLowerCase());
  }

  /** The login the transport uses (`justinfanNNNNN` when anonymous). */
  get login(): string {
    return this.#login;
  }

  get connected(): boolean {
    return this.#connected;
  }

  joined(): string[] {
    return [...this.#joined];
  }

  parked(): string[] {
    return [...this.#parked];
  }

  onEvent(sink: (event: ChatEvent) => void): void {
    this.#sink = sink;
  }

  /**
   * Connects and joins `channels` (added to those already wanted). Resolves once connected — it keeps
   * retrying while Twitch is unreachable — or when `disconnect()` is called first. Rejects with
   * `TWITCH_AUTH_FAILED` when Twitch refuses the token for good.
   */
  connect(channels: string[]): Promise<void> {
    for (const c of channels) this.#want(c);
    if (this.#connected) return Promise.resolve();
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    const previous = this.#firstConnect;
    this.#firstConnect = {
      resolve: () => {
        previous?.resolve();
        resolve();
      },
      reject: (err) => {
        previous?.reject(err);
        reject(err);
      },
    };
    if (this.#stopped) {
      this.#stopped = false;
      this.#authRetried = false;
      this.#attempt = 0;
      this.#log.info(
        this.readOnly ? "Connecting to Twitch anonymously (observe-only)" : "Connecting to Twitch",
        {
          user: this.#login,
          server: this.#conn.server,
          channels: this.#wanted.size,
        },
      );
      this.#open();
    }
    return promise;
  }

  async disconnect(): Promise<void> {
    const wasRunning = !this.#stopped;
    this.#stopped = true;
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    this.#stopJoins();
    const client = this.#client;
    this.#client = null;
    if (client) this.#close(client);
    await Promise.all([...this.#closing]);
    const wait = this.#quietAt - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    // A pending connect() ends quietly: shutting down while Twitch is unreachable is not an error.
    this.#firstConnect?.resolve();
    this.#firstConnect = undefined;
    this.#markDisconnected();
    if (wasRunning) this.#emit({ type: "disconnected", reason: "disconnect", time: Date.now() });
  }

  join(channel: string): Promise<void> {
    const c = this.#want(channel);
    if (this.#joined.has(c)) return Promise.resolve();
    if (!this.#connected) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    const timer = setTimeout(() => {
      this.#log.warn("Twitch did not confirm the JOIN in time; will retry on the next connection", {
        channel: c,
      });
      done();
    }, this.#opts.joinTimeoutMs ?? 10_000);
    const done = () => {
      clearTimeout(timer);
      const list = this.#joinWaiters.get(c);
      if (list) {
        const i = list.indexOf(done);
        if (i !== -1) list.splice(i, 1);
        if (list.length === 0) this.#joinWaiters.delete(c);
      }
      resolve();
    };
    const list = this.#joinWaiters.get(c) ?? [];
    list.push(done);
    this.#joinWaiters.set(c, list);
    this.#queueJoin(c);
    return promise;
  }

  async part(channel: string): Promise<void> {
    const c = channelName(channel);
    this.#wanted.delete(c);
    this.#parked.delete(c);
    this.#joinQueue = this.#joinQueue.filter((x) => x !== c);
    this.#resolveJoinWaiters(c);
    const client = this.#client;
    if (!this.#joined.has(c)) return;
    this.#joined.delete(c);
    this.#metrics.channelsJoined.set(this.#joined.size);
    if (client && this.#connected) {
      this.#touchTmi();
      await client.part(`#${c}`).catch((err) =>
        this.#log.debug("PART not confirmed", { channel: c, err: String(err) })
      );
    }
  }

  async say(channel: string, text: string): Promise<void> {
    const c = channelName(channel);
    if (this.readOnly) {
      throw new ClankError(
        "TWITCH_SEND_REFUSED",
        "Cannot send to Twitch without a token: the bot is observe-only",
        {
          details: { channel: c },
        },
      );
    }
    const client = this.#client;
    if (!client || !this.#connected) {
      throw new ClankError("TWITCH_NOT_CONNECTED", "Not connected to Twitch: the line was not sent", {
        details: { channel: c },
      });
    }
    const line = chatLine(text);
    if (line === "") {
      throw new ClankError("TWITCH_SEND_REFUSED", "Refusing to send an empty line", {
        details: { channel: c },
      });
    }
    this.#touchTmi();
    try {
      await client.say(`#${c}`, line);
    } catch (err) {
      throw new ClankError("TWITCH_NOT_CONNECTED", `Twitch did not take the line: ${String(err)}`, {
        cause: err,
        details: { channel: c },
      });
    }
  }

  // --- connection lifecycle -------------------------------------------------------------------------

  #open(): void {
    const anonymous = this.readOnly;
    const token = this.#opts.token;
    const client = new tmi.Client({
      options: {
        skipUpdatingEmotesets: true,
        skipMembership: false,
        joinInterval: Math.max(300, this.#opts.joinIntervalMs),
        messagesLogLevel: "debug",
      },
      connection: { ...this.#conn, reconnect: false },
      identity: anonymous ? { username: this.#login } : {
        username: this.#login,
        password: async () => {
          const t = typeof token === "function" ? await token() : token ?? "";
          this.#addSecret(t);
          return t;
        },
      },
      channels: [],
      logger: tmiLogger(this.#log),
    }) as TmiClient;
    this.#client = client;
    this.#listen(client);
    client.connect().catch(() => {
      // tmi also emits "disconnected" with the reason; that is where failures are handled.
    });
  }

  /** Closes a retired client and remembers the promise so `disconnect()` can wait for it. */
  #close(client: TmiClient): void {
    if (client.readyState() === "CLOSED") return;
    const p = client.disconnect().catch(() => {}).finally(() => this.#closing.delete(p));
    this.#closing.add(p);
  }

  #markDisconnected(): void {
    this.#connected = false;
    this.#joined.clear();
    this.#metrics.ircConnected.set(0);
    this.#metrics.channelsJoined.set(0);
  }

  #onConnected(): void {
    this.#connected = true;
    this.#everConnected = true;
    this.#connectedAt = performance.now();
    this.#authRetried = false;
    this.#clockChecked = false;
    this.#metrics.ircConnected.set(1);
    this.#log.info("Connected to Twitch", { user: this.#login, channels: this.#wanted.size });
    this.#emit({ type: "connected", time: Date.now() });
    this.#firstConnect?.resolve();
    this.#firstConnect = undefined;
    for (const c of this.#wanted) this.#queueJoin(c);
  }

  #onDisconnected(reason: string): void {
    this.#stopJoins();
    this.#markDisconnected();
    // The backoff starts over only after a connection that held: one that drops right after it opens
    // (a server that accepts and then closes) must not be retried once a second forever.
    if (this.#connectedAt !== undefined && performance.now() - this.#connectedAt >= STABLE_CONNECTION_MS) {
      this.#attempt = 0;
    }
    this.#connectedAt = undefined;
    if (this.#stopped) return;
    if (isAuthFailure(reason)) {
      void this.#onAuthFailure();
      return;
    }
    this.#emit({ type: "disconnected", reason: reason || "connection closed", time: Date.now() });
    this.#scheduleReconnect(reason || "connection closed");
  }

  #scheduleReconnect(reason: string): void {
    this.#attempt++;
    const base = this.#opts.reconnectBaseMs ?? 1000;
    const max = this.#opts.reconnectMaxMs ?? 30_000;
    const delay = Math.round(Math.min(max, base * 2 ** (this.#attempt - 1)) * (0.8 + Math.random() * 0.4));
    this.#metrics.ircReconnects.inc();
    const message = this.#everConnected
      ? "Lost the connection to Twitch; reconnecting"
      : `Cannot connect to Twitch at ${this.#conn.server}:${this.#conn.port}; retrying`;
    // A long outage retries every 30 s: warn for the first attempts and then every tenth, not twice a
    // minute for hours; the rest go to debug (and clank_irc_reconnects_total counts them all).
    const level = this.#attempt <= 3 || this.#attempt % 10 === 0 ? "warn" : "debug";
    this.#log[level](message, { reason, attempt: this.#attempt, delayMs: delay });
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      if (!this.#stopped) this.#open();
    }, delay);
  }

  async #onAuthFailure(): Promise<void> {
    // When the token manager answered "no new token" it has already said why, once: do not repeat it.
    let explained = false;
    if (this.#opts.onAuthFailure && !this.#authRetried) {
      this.#authRetried = true;
      let refreshed = false;
      try {
        refreshed = await this.#opts.onAuthFailure();
        explained = !refreshed;
      } catch (err) {
        this.#log.warn("Refreshing the Twitch token failed", { err: describeError(err) });
      }
      if (refreshed && !this.#stopped) {
        this.#log.info("Twitch token refreshed; logging in again", { user: this.#login });
        this.#metrics.ircReconnects.inc();
        this.#open();
        return;
      }
    }
    if (this.#stopped) return;
    const message = `Twitch rejected the OAuth token for ${this.#login}: run \`deno task auth\` or set ` +
      "TWITCH_OAUTH_TOKEN to a valid token with the chat:read and chat:edit scopes";
    if (explained) this.#log.debug(message, { code: "TWITCH_AUTH_FAILED" });
    else this.#log.error(message, { code: "TWITCH_AUTH_FAILED" });
    this.#stopped = true;
    this.#client = null;
    this.#emit({ type: "disconnected", reason: "auth_failed", time: Date.now() });
    this.#firstConnect?.reject(
      new ClankError("TWITCH_AUTH_FAILED", message, { details: { user: this.#login } }),
    );
    this.#firstConnect = undefined;
  }

  /** Twitch asked us to move: drop this connection now and open a new one at once. */
  #onTwitchReconnect(client: TmiClient): void {
    this.#log.info("Twitch asked to reconnect; reconnecting now");
    this.#stopJoins();
    this.#markDisconnected();
    this.#client = null;
    this.#close(client);
    this.#metrics.ircReconnects.inc();
    this.#emit({ type: "reconnect", reason: "twitch", time: Date.now() });
    if (!this.#stopped) this.#open();
  }

  // --- joins ----------------------------------------------------------------------------------------

  #want(channel: string): string {
    const c = channelName(channel);
    this.#wanted.add(c);
    this.#parked.delete(c);
    if (this.#wanted.size > TWITCH_CHANNEL_LIMIT && !this.#warnedLimit) {
      this.#warnedLimit = true;
      this.#log.warn(
        `Asked to join ${this.#wanted.size} channels: Twitch lets an account be in at most ` +
          `${TWITCH_CHANNEL_LIMIT} channels where it is not a moderator, so the bot leaves any channel beyond ` +
          "that where it turns out not to be one",
        { channels: this.#wanted.size },
      );
    }
    return c;
  }

  /**
   * Twitch lets an account be in at most {@link TWITCH_CHANNEL_LIMIT} channels where it is not a
   * moderator. Whether it is one is only known from the USERSTATE after the JOIN, so a channel that
   * turns out to be one too many is left again, said once, and not rejoined after a reconnect.
   */
  #enforceChannelLimit(c: string): void {
    if (!this.#joined.has(c) || !this.#notModIn.has(c)) return;
    let notMod = 0;
    for (const j of this.#joined) if (this.#notModIn.has(j)) notMod++;
    if (notMod <= TWITCH_CHANNEL_LIMIT) return;
    this.#parked.add(c);
    this.#wanted.delete(c);
    this.#joined.delete(c);
    this.#metrics.channelsJoined.set(this.#joined.size);
    const text = `Left #${c}: the bot is not a moderator there and is already in ${TWITCH_CHANNEL_LIMIT} ` +
      "channels where it is not (Twitch's limit). Make it a moderator in that channel, or configure fewer channels";
    this.#log.warn(text, { channel: c, code: "TWITCH_CHANNEL_LIMIT" });
    this.#emit({ type: "notice", channel: c, msgId: "channel_limit", text, time: this.#time() });
    this.#client?.part(`#${c}`).catch((err) =>
      this.#log.debug("PART not confirmed", { channel: c, err: String(err) })
    );
  }

  #queueJoin(channel: string): void {
    if (this.#joinQueue.includes(channel) || this.#joined.has(channel)) return;
    this.#joinQueue.push(channel);
    this.#pumpJoins();
  }

  /** Sends queued JOINs while the pacing allows, then waits for the next free slot. */
  #pumpJoins(): void {
    while (this.#joinTimer === undefined && this.#joinQueue.length > 0 && this.#client && this.#connected) {
      const now = this.#joinClock.now();
      const at = this.#nextJoinAt(now);
      if (at > now) {
        this.#joinTimer = this.#joinClock.setTimeout(() => {
          this.#joinTimer = undefined;
          this.#pumpJoins();
        }, at - now);
        return;
      }
      const channel = this.#joinQueue.shift()!;
      this.#joinWindow.record(now, false);
      this.#lastJoinAt = now;
      this.#touchTmi();
      this.#client.join(`#${channel}`).catch((err) => {
        // tmi gives up after 600 ms ("No response from Twitch") even when the JOIN later succeeds.
        this.#log.debug("JOIN not confirmed yet", { channel, err: String(err) });
      });
    }
  }

  /** The earliest time ≥ `now` at which the next JOIN keeps both the interval and the window. */
  #nextJoinAt(now: number): number {
    const at = this.#joinWindow.nextAllowed(now, false);
    const last = this.#lastJoinAt;
    return last === undefined ? at : Math.max(at, last + this.#opts.joinIntervalMs);
  }

  /** Forgets the queued JOINs of a connection; the times sent stay, as Twitch counts per account. */
  #stopJoins(): void {
    if (this.#joinTimer !== undefined) this.#joinClock.clearTimeout(this.#joinTimer);
    this.#joinTimer = undefined;
    this.#joinQueue = [];
    for (const c of [...this.#joinWaiters.keys()]) this.#resolveJoinWaiters(c);
  }

  #resolveJoinWaiters(channel: string): void {
    for (const done of [...(this.#joinWaiters.get(channel) ?? [])]) done();
    this.#joinWaiters.delete(channel);
  }

  /** tmi.js starts an untracked 600 ms timer per command; remember when the last one ends. */
  #touchTmi(): void {
    this.#quietAt = Math.max(this.#quietAt, performance.now() + TMI_TIMER_MS);
  }

  // --- events ---------------------------------------------------------------------------------------

  #emit(event: ChatEvent): void {
    try {
      this.#sink(event);
    } catch (err) {
      this.#log.error("Event handler failed", { event: event.type, err: describeError(err) });
    }
  }

  /** Warns when this machine's clock is far from Twitch's (more than network delay explains). */
  #checkClock(sent: number, now: number): void {
    this.#clockChecked = true;
    const skew = now - sent;
    if (Math.abs(skew) < CLOCK_SKEW_WARN_MS) return;
    this.#log.warn(
      `This machine's clock is ${formatSkew(Math.abs(skew))} ${skew > 0 ? "ahead of" : "behind"} Twitch's: ` +
        "the bot keeps to its own clock, but logs, stored lines and the dashboard will show times off by " +
        "as much; synchronise the clock (NTP, e.g. systemd-timesyncd or chrony)",
      { skew_ms: skew },
    );
  }

  #time(): number {
    return this.#lineTime ?? Date.now();
  }

  /** Wires one tmi client; events of a client that was replaced are ignored. */
  #listen(client: TmiClient): void {
    const current = () => this.#client === client;
    const original = client.handleMessage.bind(client);
    // Wrapping the handler lets us read raw tags (for times), see USERSTATE and RECONNECT, and keep
    // a malformed line from throwing out of the socket handler.
    client.handleMessage = (message: TmiRawMessage | null) => {
      if (!message || !current()) return;
      if (message.command === "RECONNECT" && message.prefix === "tmi.twitch.tv") {
        this.#onTwitchReconnect(client);
        return;
      }
      // Every time in the bot is this machine's: a line is stamped on arrival. Twitch's tmi-sent-ts
      // only checks the clock; mixed with local times it made a skewed machine drop every mention as
      // stale and restore replies before the lines they answered.
      this.#lineTime = Date.now();
      if (!this.#clockChecked && message.tags?.["tmi-sent-ts"] !== undefined) {
        this.#checkClock(sentTime(message.tags, this.#lineTime), this.#lineTime);
      }
      try {
        original(message);
        if (message.prefix === "tmi.twitch.tv") this.#afterServerLine(message);
      } catch (err) {
        this.#log.debug("Ignored a malformed IRC line", {
          line: message.raw?.slice(0, 300),
          err: describeError(err),
        });
      } finally {
        this.#lineTime = undefined;
      }
    };

    client.on("connected", () => {
      if (current()) this.#onConnected();
    });
    let closed = false;
    client.on("disconnected", (reason: string) => {
      if (closed || !current()) return;
      closed = true;
      this.#client = null;
      // tmi also reports a failed token lookup this way while its socket is still open.
      this.#close(client);
      this.#onDisconnected(String(reason ?? ""));
    });

    client.on("message", (channel: string, tags: TmiTags, text: string, self: boolean) => {
      if (!current() || tags["message-type"] === "whisper") return;
      this.#emitMessage(channel, tags, String(text ?? ""), tags["message-type"] === "action", self);
    });
    client.on("cheer", (channel: string, tags: TmiTags, text: string) => {
      if (current()) this.#emitMessage(channel, tags, String(text ?? ""), false, false);
    });
    client.on("join", (channel: string, user: string, self: boolean) => {
      if (!current()) return;
      const c = channelName(channel);
      if (self) {
        if (!this.#wanted.has(c)) return;
        this.#joined.add(c);
        this.#metrics.channelsJoined.set(this.#joined.size);
        this.#log.debug("Joined", { channel: c });
        this.#resolveJoinWaiters(c);
        this.#enforceChannelLimit(c);
      }
      this.#emit({ type: "join", channel: c, user: String(user).toLowerCase(), self, time: this.#time() });
    });
    client.on("part", (channel: string, user: string, self: boolean) => {
      if (!current()) return;
      const c = channelName(channel);
      if (self) {
        this.#joined.delete(c);
        this.#metrics.channelsJoined.set(this.#joined.size);
      }
      this.#emit({ type: "part", channel: c, user: String(user).toLowerCase(), self, time: this.#time() });
    });
    client.on("ban", (channel: string, user: string, _reason: unknown, tags: TmiTags) => {
      if (!current()) return;
      this.#emit({
        type: "ban",
        channel: channelName(channel),
        user: String(user).toLowerCase(),
        userId: tagString(tags?.["target-user-id"]),
        time: this.#time(),
      });
    });
    client.on(
      "timeout",
      (channel: string, user: string, _reason: unknown, duration: number, tags: TmiTags) => {
        if (!current()) return;
        this.#emit({
          type: "timeout",
          channel: channelName(channel),
          user: String(user).toLowerCase(),
          userId: tagString(tags?.["target-user-id"]),
          duration: Number(duration) || 0,
          time: this.#time(),
        });
      },
    );
    client.on("messagedeleted", (channel: string, user: string, _text: string, tags: TmiTags) => {
      if (!current()) return;
      this.#emit({
        type: "deletion",
        channel: channelName(channel),
        messageId: tagString(tags?.["target-msg-id"]),
        user: String(user ?? "").toLowerCase(),
        time: this.#time(),
      });
    });
    client.on("clearchat", (channel: string) => {
      if (current()) this.#emit({ type: "clear", channel: channelName(channel), time: this.#time() });
    });
    client.on("roomstate", (channel: string, tags: TmiTags) => {
      if (current()) this.#emit(roomStateFromTags(channel, tags ?? {}, this.#time()));
    });
    const notice = (channel: string, msgId: string, text: string) => {
      if (!current()) return;
      const c = channel === "#*" || !channel ? "*" : channelName(channel);
      // Twitch answers a JOIN it refuses with a NOTICE, never a JOIN: waiting for one would hold
      // the caller (an API request, say) for the whole join timeout.
      if (JOIN_REFUSALS.has(String(msgId))) this.#resolveJoinWaiters(c);
      this.#emit({
        type: "notice",
        channel: c,
        msgId: String(msgId ?? ""),
        text: String(text ?? ""),
        time: this.#time(),
      });
    };
    client.on("notice", notice);
    client.on("automod", notice);
  }

  /** USERSTATE and GLOBALUSERSTATE have no tmi event of their own. */
  #afterServerLine(message: TmiRawMessage): void {
    if (message.command === "USERSTATE") {
      const channel = message.params[0];
      if (!channel) return;
      const state = userStateFromTags(channel, message.tags, this.#time());
      if (state.moderator || state.broadcaster) this.#notModIn.delete(state.channel);
      else this.#notModIn.add(state.channel);
      this.#emit(state);
      this.#enforceChannelLimit(state.channel);
    } else if (message.command === "GLOBALUSERSTATE") {
      this.#userId = tagString(message.tags["user-id"]);
    }
  }

  #emitMessage(channel: string, tags: TmiTags, text: string, action: boolean, self: boolean): void {
    const time = self ? Date.now() : this.#time();
    // Our own lines reuse the channel's USERSTATE tags, whose `id` belongs to an earlier line.
    const lineTags = self ? { ...tags, id: undefined } : tags ?? {};
    this.#emit(messageFromTags(lineTags, {
      channel,
      text,
      action,
      self,
      bot: { login: this.#login, userId: this.#userId },
      time,
      fallbackId: `self-${++this.#selfCount}-${time}`,
    }));
  }
}
