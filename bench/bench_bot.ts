/**
 * A whole bot (`startBot`) against the fake Twitch and fake Ollama on 127.0.0.1, for benchmarks.
 *
 * Unlike the test harness it joins hundreds of channels quickly: it hands `startBot` its own
 * `TwitchTransport` (real tmi.js) with a 1 ms JOIN interval, which the config schema rightly refuses
 * for a real account. It also counts the chat lines the transport hands the host, so a benchmark knows
 * when the last line of a blast has arrived.
 * @module
 */
import { type Config, ConfigSchema } from "../core/config_schema.ts";
import { type RunningBot, startBot } from "../core/bootstrap.ts";
import { Logger } from "../core/log.ts";
import { Metrics } from "../core/metrics.ts";
import { SqliteStorage } from "../core/storage_sqlite.ts";
import { TwitchTransport } from "../core/twitch_transport.ts";
import type { ChatEvent } from "../core/events.ts";
import { type FakeTwitch, type FakeTwitchOptions, startFakeTwitch } from "../tests/fakes/fake_twitch.ts";
import { type FakeOllama, type FakeOllamaOptions, startFakeOllama } from "../tests/fakes/fake_ollama.ts";
import { waitUntil } from "./suite.ts";

/** The token the fake Twitch accepts from the bench bot. */
export const BENCH_TOKEN = "benchtoken0000000000000000000";
/** The bench bot's login. */
export const BENCH_BOT = "clankbot";

/** A running bench bot and its fakes. */
export interface BenchBot {
  bot: RunningBot;
  config: Config;
  twitch: FakeTwitch;
  ollama: FakeOllama;
  metrics: Metrics;
  /** Chat lines (message events) the transport has handed the host so far. */
  readonly arrived: number;
  /** Resolves once `arrived` reaches `count`. */
  arrivals(count: number): Promise<void>;
  /** Stops the bot and, unless they were passed in, the fakes; removes the temp dir. */
  stop(): Promise<void>;
}

/** Options of {@link startBenchBot}. */
export interface BenchBotOptions {
  channels: string[];
  /** `[defaults]` channel settings. */
  defaults?: Record<string, unknown>;
  /** Extra top-level config sections (merged over the bench ones). */
  config?: Record<string, unknown>;
  /** An already running fake Twitch (kept running on stop). */
  twitch?: FakeTwitch;
  twitchOptions?: FakeTwitchOptions;
  /** An already running fake Ollama (kept running on stop). */
  ollama?: FakeOllama;
  ollamaOptions?: FakeOllamaOptions;
  /** Database file; a fresh temp dir when absent. */
  databaseUrl?: string;
  /** Log level of the bot (default `info`, discarded: logging is part of the cost, printing is not). */
  logLevel?: "debug" | "info" | "warn" | "error";
  /** Wait until every channel is joined (default true). */
  waitForJoins?: boolean;
  /**
   * Start every channel in its spontaneous cooldown, as a bot that has been running a while is, so a
   * benchmark of something else is not joined by a burst of first spontaneous lines.
   */
  spontaneousCooldown?: boolean;
}

/** Builds the bench config (defaults as shipped, except what a benchmark needs to control). */
export function benchConfig(options: {
  channels: string[];
  ircUrl: string;
  ollamaUrl: string;
  dir: string;
  databaseUrl?: string;
  defaults?: Record<string, unknown>;
  extra?: Record<string, unknown>;
}): Config {
  return ConfigSchema.parse({
    ...options.extra,
    twitch: {
      username: BENCH_BOT,
      oauth_token: `oauth:${BENCH_TOKEN}`,
      channels: options.channels,
      irc_url: options.ircUrl,
    },
    ollama: { url: options.ollamaUrl, timeout: 10, first_token_timeout: 10 },
    database: { url: options.databaseUrl ?? `${options.dir}/bench.db` },
    http: { listen: "" },
    auth: { key_file: `${options.dir}/secret.key` },
    log: { level: "info", format: "json" },
    plugins_dir: `${options.dir}/plugins.d`,
    defaults: options.defaults ?? {},
  });
}

/** A bot started by {@link launchBot}, with its arrival counter. */
export interface LaunchedBot {
  bot: RunningBot;
  metrics: Metrics;
  transport: TwitchTransport;
  /** Chat lines (message events) the transport has handed the host so far. */
  readonly arrived: number;
  /** Resolves once `arrived` reaches `count`. */
  arrivals(count: number): Promise<void>;
}

/**
 * Starts the bot for `config` on its own `TwitchTransport` (real tmi.js, 1 ms between JOINs) and
 * counts the chat lines the transport hands the host. Does not wait for the JOINs.
 */
export async function launchBot(
  config: Config,
  logLevel: BenchBotOptions["logLevel"] = "info",
): Promise<LaunchedBot> {
  const log = new Logger({ level: logLevel, format: "json", sink: () => {} });
  const metrics = new Metrics();
  const transport = new TwitchTransport({
    ircUrl: config.twitch.irc_url,
    username: BENCH_BOT,
    token: `oauth:${BENCH_TOKEN}`,
    log: log.child({ event: "irc" }),
    metrics,
    joinIntervalMs: 1,
  });
  let arrived = 0;
  let waiter: { count: number; resolve: () => void } | undefined;
  const onEvent = transport.onEvent.bind(transport);
  transport.onEvent = (sink: (event: ChatEvent) => void) =>
    onEvent((event) => {
      sink(event);
      if (event.type === "message" && !event.self) {
        arrived++;
        if (waiter !== undefined && arrived >= waiter.count) {
          waiter.resolve();
          waiter = undefined;
        }
      }
    });
  const bot = await startBot({
    config,
    configFile: null,
    reloadConfig: () => Promise.resolve(config),
    log,
    metrics,
    transport,
  });
  return {
    bot,
    metrics,
    transport,
    get arrived() {
      return arrived;
    },
    arrivals(count) {
      if (arrived >= count) return Promise.resolve();
      const { promise, resolve } = Promise.withResolvers<void>();
      waiter = { count, resolve };
      return promise;
    },
  };
}

/** Starts fakes (unless given) and the bot; resolves once the bot joined every channel. */
export async function startBenchBot(options: BenchBotOptions): Promise<BenchBot> {
  const dir = await Deno.makeTempDir({ prefix: "clank-bench-" });
  const twitch = options.twitch ??
    await startFakeTwitch({ tokens: [BENCH_TOKEN], ...options.twitchOptions });
  const ollama = options.ollama ?? await startFakeOllama(options.ollamaOptions);
  const config = benchConfig({
    channels: options.channels,
    ircUrl: twitch.url,
    ollamaUrl: ollama.url,
    dir,
    databaseUrl: options.databaseUrl,
    defaults: options.defaults,
    extra: options.config,
  });
  if (options.spontaneousCooldown) await seedSpontaneousCooldown(config.database.url, config.twitch.channels);
  const launched = await launchBot(config, options.logLevel);
  if (options.waitForJoins !== false) {
    const wanted = new Set(config.twitch.channels);
    await waitUntil(
      () =>
        twitch.joinedChannels(BENCH_BOT).filter((c) => wanted.has(c)).length === wanted.size &&
        launched.transport.joined().length >= wanted.size,
      `the bench bot to join ${wanted.size} channels`,
      60_000,
      5,
    );
  }
  return {
    bot: launched.bot,
    config,
    twitch,
    ollama,
    metrics: launched.metrics,
    get arrived() {
      return launched.arrived;
    },
    arrivals: (count) => launched.arrivals(count),
    async stop() {
      await launched.bot.stop();
      if (!options.twitch) await twitch.close();
      if (!options.ollama) await ollama.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** Writes each channel's `spontaneous_gate` counter as "a spontaneous line was just posted". */
export async function seedSpontaneousCooldown(
  databaseUrl: string,
  channels: readonly string[],
): Promise<void> {
  const storage = new SqliteStorage(databaseUrl);
  await storage.init();
  const now = Date.now();
  for (const channel of channels) {
    await storage.kvSet("plugin:spontaneous_gate", channel, JSON.stringify({ count: 0, last: now }));
  }
  await storage.close();
}

/**
 * USERSTATE badges that make the bot a moderator in every one of `channels`: Twitch lets an account be
 * in at most 100 channels where it is not one, and the bot leaves the rest.
 */
export function moderatorBadges(channels: readonly string[]): Record<string, string> {
  return Object.fromEntries(channels.map((c) => [c, "moderator/1"]));
}

/** `n` channel logins `chan_0000`…, sorted as the fake lists them. */
export function channelNames(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `chan_${i.toString().padStart(4, "0")}`);
}
