/**
 * The host with everything real except the network and the clock: real built-in plugins, real
 * send queue and storage (SQLite in a temp file), a memory transport and fake time. Behaviour tests
 * drive chat and time exactly and assert what the bot says and when.
 * @module
 */
import FakeTimers from "@sinonjs/fake-timers";
import { type Config, ConfigSchema } from "../../core/config_schema.ts";
import type { ChatEvent, MessageEvent } from "../../core/events.ts";
import { Host } from "../../core/host.ts";
import { Logger } from "../../core/log.ts";
import { Metrics } from "../../core/metrics.ts";
import { BUILTIN_PLUGINS, type BuiltinPlugin } from "../../core/builtin_plugins.ts";
import type { DeadlineTimers } from "../../core/deadline.ts";
import { loadPlugins } from "../../core/plugin_loader.ts";
import { PluginSet } from "../../core/plugin_set.ts";
import { pluginStore } from "../../core/plugin_store.ts";
import { SendQueue } from "../../core/send_queue.ts";
import type { Storage } from "../../core/storage.ts";
import { openStorage } from "../../core/storage_open.ts";
import type { Transport } from "../../core/transport.ts";
import { BufferedStorage } from "../../core/write_buffer.ts";
import type { GenerateRequest } from "../../plugins/sdk.ts";

/** A line the bot sent. */
export interface SentLine {
  channel: string;
  text: string;
  time: number;
}

/** A transport that records what the bot says. */
export class MemoryTransport implements Transport {
  readonly sent: SentLine[] = [];
  readOnly = false;
  connected = false;
  #joined = new Set<string>();
  #sink: (e: ChatEvent) => void = () => {};
  constructor(private readonly now: () => number) {}
  joined(): string[] {
    return [...this.#joined];
  }
  onEvent(sink: (e: ChatEvent) => void): void {
    this.#sink = sink;
  }
  emit(event: ChatEvent): void {
    this.#sink(event);
  }
  connect(channels: string[]): Promise<void> {
    this.connected = true;
    for (const c of channels) void this.join(c);
    return Promise.resolve();
  }
  disconnect(): Promise<void> {
    this.connected = false;
    return Promise.resolve();
  }
  join(channel: string): Promise<void> {
    this.#joined.add(channel);
    this.#sink({ type: "join", channel, user: "clankbot", self: true, time: this.now() });
    return Promise.resolve();
  }
  part(channel: string): Promise<void> {
    this.#joined.delete(channel);
    this.#sink({ type: "part", channel, user: "clankbot", self: true, time: this.now() });
    return Promise.resolve();
  }
  say(channel: string, text: string): Promise<void> {
    this.sent.push({ channel, text, time: this.now() });
    return Promise.resolve();
  }
}

/** The requests the test generator received. */
export const generatorRequests: GenerateRequest[] = [];

const PHRASES = [
  "that jump was clean",
  "chat is buzzing tonight",
  "who else is hyped for the boss",
  "the music in this part slaps",
  "somebody clip that please",
  "wait how did he skip that",
  "this run is looking good",
  "hydrate everyone",
  "that was a risky strat",
  "big brain movement right there",
  "the crowd goes wild",
  "never seen that route before",
];

/** Distinct lines, so the repetition filter does not take them for repeats. */
function defaultReply(_req: GenerateRequest): string {
  const n = generatorRequests.length;
  return `${PHRASES[n % PHRASES.length]} ${"!".repeat(Math.floor(n / PHRASES.length))}`.trim();
}

let generatorReply: (req: GenerateRequest) => string | null = defaultReply;

/** A generator plugin for behaviour tests, registered as `testgen`. */
const TEST_GENERATOR: BuiltinPlugin = {
  name: "testgen",
  kind: "generator",
  module: () =>
    Promise.resolve({
      default: {
        name: "testgen",
        kind: "generator",
        apiVersion: 1,
        generate(req: GenerateRequest) {
          generatorRequests.push(structuredClone(req));
          const text = generatorReply(req);
          return text === null ? null : { text };
        },
      },
    }),
  url: new URL(import.meta.url),
  defaultEnabled: () => true,
  options: () => ({}),
};

/** A running host harness. */
export interface HostHarness {
  host: Host;
  transport: MemoryTransport;
  clock: FakeTimers.InstalledClock;
  storage: BufferedStorage;
  metrics: Metrics;
  config: Config;
  logs: string[];
  dbPath: string;
  /** Sets the config the next `reload()` reads (same overrides format as the options). */
  setReloadConfig(o: Record<string, unknown>): void;
  /** Reloads config and plugins (driving fake time while it waits). */
  reload(): Promise<void>;
  /** Sets what the test generator answers. */
  reply(fn: (req: GenerateRequest) => string | null): void;
  /** A chat line from `user` in `channel`, at the fake clock's time. */
  chat(channel: string, user: string, text: string, extra?: Partial<MessageEvent>): MessageEvent;
  /** Any event. */
  emit(event: ChatEvent): void;
  /** Advances fake time in small steps, sending a tick per second, until the bot is idle. */
  settle(maxMs?: number): Promise<void>;
  /** Advances fake time by `ms`, sending ticks each second. */
  advance(ms: number): Promise<void>;
  /** Stops the host and opens a new one on the same database (restart). */
  restart(): Promise<void>;
  close(): Promise<void>;
}

let msgCounter = 0;

const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;

/**
 * Creates the harness. Fake timers are installed globally (Date, setTimeout, setInterval…) until
 * `close()`.
 */
export async function createHostHarness(
  options: {
    config?: Record<string, unknown>;
    dbPath?: string;
    /** Wraps the database under the write buffer (outages, slow calls), on every (re)start. */
    storage?: (inner: Storage) => Storage;
  } = {},
): Promise<HostHarness> {
  generatorRequests.length = 0;
  generatorReply = defaultReply;
  // Captured before fake time is installed: plugin setup reads files, which fake time would outrun.
  const realTimers: DeadlineTimers = {
    setTimeout: (fn, ms) => realSetTimeout(fn, ms),
    clearTimeout: (id) => realClearTimeout(id as number),
  };
  const clock = FakeTimers.install({
    now: Date.UTC(2026, 10, 25, 20, 0, 0),
    toFake: ["Date", "setTimeout", "clearTimeout", "setInterval", "clearInterval", "performance"],
  });
  const dir = options.dbPath === undefined ? await Deno.makeTempDir({ prefix: "clank-host-" }) : undefined;
  const dbPath = options.dbPath ?? `${dir}/chatbot.db`;
  const build = (o: Record<string, unknown>) => {
    const section = (name: string) => (o[name] as Record<string, unknown> | undefined) ?? {};
    return ConfigSchema.parse({
      ...o,
      twitch: { username: "clankbot", channels: ["alpha", "beta"], ...section("twitch") },
      database: { url: dbPath },
      http: { listen: "" },
      log: { level: "debug" },
      plugins_dir: "/nonexistent-plugins-dir",
      defaults: { generator: "testgen", floor: 0, ...section("defaults") },
    });
  };
  const config = build(options.config ?? {});
  /** What the next `host.reload()` reads as the config file. */
  let nextConfig = config;
  const logs: string[] = [];
  const log = new Logger({ level: "debug", format: "json", sink: (l) => logs.push(l) });

  const open = async () => {
    const metrics = new Metrics();
    const inner = openStorage(config.database, log);
    const storage = new BufferedStorage(options.storage?.(inner) ?? inner, { log, metrics });
    await storage.init();
    const transport = new MemoryTransport(() => Date.now());
    const sendQueue = new SendQueue({ transport, log, metrics, botLogin: "clankbot" });
    const load = async (cfg: Config) => {
      const { plugins, problems } = await loadPlugins(cfg, {
        log,
        metrics,
        store: pluginStore(storage),
        baseDir: Deno.cwd(),
        builtins: [...BUILTIN_PLUGINS, TEST_GENERATOR],
        lifecycleTimers: realTimers,
      });
      if (problems.length > 0) throw new Error(`Plugins failed to load: ${problems.join("; ")}`);
      return plugins;
    };
    const plugins = await load(config);
    const host = new Host({
      config,
      log,
      metrics,
      storage,
      transport,
      sendQueue,
      plugins: new PluginSet(plugins, metrics),
      ticks: false,
      reload: async () => ({
        config: nextConfig,
        plugins: new PluginSet(await load(nextConfig), metrics),
        warnings: [],
      }),
    });
    await host.start();
    await clock.tickAsync(0);
    return { host, transport, storage, metrics, sendQueue };
  };

  /** Awaits `promise` while advancing fake time, for work that waits on timers (flushes, grace periods). */
  const drive = async <T>(promise: Promise<T>): Promise<T> => {
    let done = false;
    promise.then(() => (done = true), () => (done = true));
    for (let i = 0; i < 10_000 && !done; i++) await clock.tickAsync(50);
    return await promise;
  };
  const shutdown = async () => {
    await drive(parts.host.stop(0));
    parts.sendQueue.close();
    await drive(parts.host.plugins.close());
    await drive(parts.storage.close());
  };

  let parts: Awaited<ReturnType<typeof open>>;
  try {
    parts = await drive(open());
  } catch (err) {
    // Left installed, fake time would fail every later test in the file with "installed twice".
    clock.uninstall();
    throw err;
  }
  const harness: HostHarness = {
    get host() {
      return parts.host;
    },
    get transport() {
      return parts.transport;
    },
    get storage() {
      return parts.storage;
    },
    get metrics() {
      return parts.metrics;
    },
    clock,
    config,
    logs,
    dbPath,
    reply(fn) {
      generatorReply = fn;
    },
    setReloadConfig(o) {
      nextConfig = build(o);
    },
    async reload() {
      await drive(parts.host.reload());
    },
    chat(channel, user, text, extra = {}) {
      const event: MessageEvent = {
        type: "message",
        channel,
        id: `m${++msgCounter}`,
        userId: `id-${user}`,
        user,
        displayName: user,
        text,
        badges: { broadcaster: false, moderator: false, vip: false, subscriber: false },
        action: false,
        time: Date.now(),
        self: false,
        ...extra,
      };
      parts.transport.emit(event);
      return event;
    },
    emit(event) {
      parts.transport.emit(event);
    },
    async settle(maxMs = 120_000) {
      for (let waited = 0; waited < maxMs; waited += 100) {
        await clock.tickAsync(0);
        if (parts.host.idle && parts.sendQueue.depth === 0) return;
        await harness.advance(100);
      }
      throw new Error(`The bot did not settle within ${maxMs} ms of fake time`);
    },
    async advance(ms) {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        const step = Math.min(1000 - (Date.now() % 1000) || 1000, end - Date.now());
        await clock.tickAsync(step);
        parts.host.dispatch({ type: "tick", time: Date.now() });
      }
      await clock.tickAsync(0);
    },
    async restart() {
      await shutdown();
      parts = await drive(open());
    },
    async close() {
      try {
        await shutdown();
      } finally {
        clock.uninstall();
      }
      if (dir) await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
  return harness;
}
