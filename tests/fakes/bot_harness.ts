/**
 * Starts the whole bot against fake Twitch IRC, fake Ollama and fake Twitch OAuth servers on
 * 127.0.0.1, through the real tmi.js and ollama clients. Integration tests build on it.
 * @module
 */
import { type Config, ConfigSchema } from "../../core/config_schema.ts";
import { type RunningBot, startBot } from "../../core/bootstrap.ts";
import { Logger } from "../../core/log.ts";
import { type FakeTwitch, type FakeTwitchOptions, startFakeTwitch } from "./fake_twitch.ts";
import { type FakeOllama, type FakeOllamaOptions, startFakeOllama } from "./fake_ollama.ts";
import { type FakeTwitchOAuth, startFakeTwitchOAuth } from "./fake_twitch_oauth.ts";

/** A running bot and its fakes. */
export interface Harness {
  bot: RunningBot;
  twitch: FakeTwitch;
  ollama: FakeOllama;
  oauth: FakeTwitchOAuth;
  config: Config;
  /** Every log line the bot wrote (JSON format). */
  logs: string[];
  dir: string;
  token: string;
  /** Sends a chat line and waits until the bot has handled it (and everything it triggered). */
  say(channel: string, login: string, text: string, extra?: Record<string, unknown>): Promise<void>;
  /**
   * Waits until the fake server has received every line the bot counts as sent: a line leaves the
   * bot's queue before it crosses the socket, and a test counting the server's PRIVMSGs must not race it.
   */
  delivered(): Promise<void>;
  /** Restarts the bot on the same database and fakes (restart tests). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** Options: config overrides (deep-merged per section) and fake server options. */
export interface HarnessOptions {
  config?: Record<string, unknown>;
  twitch?: FakeTwitchOptions;
  ollama?: FakeOllamaOptions;
  /** Run without a token (observe mode). */
  anonymous?: boolean;
  /** Start the bot while the fake Ollama refuses connections. */
  ollamaDown?: boolean;
}

/** Starts fakes and the bot; the bot has joined its channels when this resolves. */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const dir = await Deno.makeTempDir({ prefix: "clank-harness-" });
  const oauth = await startFakeTwitchOAuth();
  const { accessToken } = oauth.issue({ login: "clankbot", expiresIn: 0 });
  const twitch = await startFakeTwitch({ tokens: [accessToken], ...options.twitch });
  const ollama = await startFakeOllama(options.ollama);
  if (options.ollamaDown) await ollama.setDown(true);
  const overrides = options.config ?? {};
  const section = (name: string) => (overrides[name] as Record<string, unknown> | undefined) ?? {};
  const raw = {
    ...overrides,
    twitch: {
      username: options.anonymous ? "" : "clankbot",
      oauth_token: options.anonymous ? "" : `oauth:${accessToken}`,
      channels: ["alpha", "beta"],
      irc_url: twitch.url,
      auth_url: oauth.url,
      join_interval_ms: 500,
      ...section("twitch"),
    },
    ollama: { url: ollama.url, timeout: 5, first_token_timeout: 5, ...section("ollama") },
    database: { url: `${dir}/chatbot.db`, ...section("database") },
    http: { listen: "", ...section("http") },
    // The harness logs at debug; a reload applies the config's level, so keep them the same.
    log: { level: "debug", ...section("log") },
    auth: { key_file: `${dir}/secret.key`, ...section("auth") },
    plugins_dir: (overrides.plugins_dir as string | undefined) ?? `${dir}/plugins.d`,
    defaults: { floor: 0, ...section("defaults") },
  };
  const config = ConfigSchema.parse(raw);
  const logs: string[] = [];
  /** PRIVMSGs the server had when the running bot started (its sent counter starts at zero). */
  let privmsgBase = 0;
  const start = async () => {
    privmsgBase = twitch.privmsgs.filter((p) => p.login === config.twitch.username).length;
    const log = new Logger({ level: "debug", format: "json", sink: (l) => logs.push(l) });
    const bot = await startBot({
      config,
      configFile: null,
      reloadConfig: () => Promise.resolve(config),
      log,
    });
    await twitch.waitFor(
      () => config.twitch.channels.every((c) => twitch.joinedChannels().includes(c)),
      10_000,
      "the bot to join its channels",
    );
    return bot;
  };
  const harness: Harness = {
    bot: await start(),
    twitch,
    ollama,
    oauth,
    config,
    logs,
    dir,
    token: accessToken,
    async say(channel, login, text, extra = {}) {
      const seen = () =>
        harness.bot.host.recent(channel, 1000).filter((l) => l.user === login && l.text === text).length;
      const blocked = () => harness.logs.filter((l) => l.includes("Chat line blocked")).length;
      const [seenBefore, blockedBefore] = [seen(), blocked()];
      twitch.sendPrivmsg(channel, { login, text, ...extra });
      await twitch.waitFor(
        () => seen() > seenBefore || blocked() > blockedBefore,
        10_000,
        `the bot to receive "${text}"`,
      );
      await harness.bot.host.settled();
      await harness.delivered();
    },
    async delivered() {
      const counted = (await harness.bot.metrics.linesSent.get()).values.reduce((n, v) => n + v.value, 0);
      const arrived = () =>
        twitch.privmsgs.filter((p) => p.login === config.twitch.username).length - privmsgBase;
      await twitch.waitFor(() => arrived() >= counted, 10_000, `${counted} bot lines to reach the server`);
    },
    async restart() {
      await harness.bot.stop();
      harness.bot = await start();
    },
    async stop() {
      await harness.bot.stop();
      await Promise.all([twitch.close(), ollama.close(), oauth.close()]);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
  return harness;
}
