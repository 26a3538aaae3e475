/**
 * Builds a running bot from a validated config: storage, token, transport, send queue, plugins,
 * host, control plane, maintenance, signals. Each missing piece (no token, no channels, no
 * Ollama) is said once, plainly, with what the bot does instead.
 * @module
 */
import { resolve } from "node:path";
import type { Config } from "./config_schema.ts";
import { describeError } from "./errors.ts";
import { invalidConfig } from "./config_load.ts";
import { decodeUrlPart } from "./url_escape.ts";
import { Host, OBSERVE_NAME } from "./host.ts";
import type { Logger } from "./log.ts";
import { Metrics } from "./metrics.ts";
import { clientOptionsFromConfig, OllamaClient } from "./ollama_client.ts";
import { loadPlugins, resolvePluginPath } from "./plugin_loader.ts";
import { PluginSet } from "./plugin_set.ts";
import { pluginStore } from "./plugin_store.ts";
import { openStorage } from "./storage_open.ts";
import { BufferedStorage } from "./write_buffer.ts";
import { startMaintenance } from "./maintenance.ts";
import type { MetricRowWriter } from "./hourly_counters.ts";
import { startHttpServer } from "./http_server.ts";
import { SendQueue } from "./send_queue.ts";
import { TwitchTransport } from "./twitch_transport.ts";
import type { Transport } from "./transport.ts";
import { createTokenManager, type TokenManager } from "./token_manager.ts";
import { watchPluginsDir } from "./plugin_watcher.ts";

/** What `startBot` needs besides the config. */
export interface BotOptions {
  config: Config;
  /** The config file, for reloads (`null` when running from env and defaults). */
  configFile: string | null;
  /** Reloads the config from the same sources (file + env). */
  reloadConfig: () => Promise<Config>;
  log: Logger;
  metrics?: Metrics;
  /** A transport to use instead of Twitch (replay, tests). */
  transport?: Transport & { now?: () => number };
  /** Whether to install SIGINT/SIGTERM/SIGHUP handlers (off in tests). */
  signals?: boolean;
  version?: string;
}

/** A running bot. */
export interface RunningBot {
  host: Host;
  metrics: Metrics;
  storage: BufferedStorage;
  /** The control plane URL, when it listens. */
  httpUrl: string | null;
  /** Resolves when the bot has stopped. */
  stopped: Promise<void>;
  /** Graceful stop: finish in-flight lines, flush storage, part, close. */
  stop(): Promise<void>;
}

/**
 * The config's generators that no loaded plugin provides. Only when every plugin loaded: a drop-in
 * that failed to load may be the generator, and a failure (an API down at setup) is not a typo.
 */
function unknownGenerators(
  config: Config,
  plugins: PluginSet,
  problems: readonly string[],
  unmatched: readonly string[],
): string[] {
  if (problems.length > unmatched.length) return [];
  const loaded = [...plugins.generators.keys()];
  const wanted: Array<[string, string]> = [["defaults.generator", config.defaults.generator]];
  for (const [channel, table] of Object.entries(config.channels)) {
    if (table.generator !== undefined) wanted.push([`channels.${channel}.generator`, table.generator]);
  }
  return wanted.filter(([, name]) => !plugins.generators.has(name)).map(([key, name]) =>
    `${key}: "${name}" is not a loaded generator; loaded: ${loaded.length ? loaded.join(", ") : "(none)"}`
  );
}

/** Starts the bot. Throws only for problems the operator must fix (e.g. refusing an exposed control plane). */
export async function startBot(options: BotOptions): Promise<RunningBot> {
  let config = options.config;
  const log = options.log;
  const metrics = options.metrics ?? new Metrics();
  metrics.collectProcessMetrics();
  registerSecrets(config, log);
  // Relative paths (plugins_dir, [[plugins]] path, grants) are relative to the working directory.
  const baseDir = Deno.cwd();

  const storage = new BufferedStorage(openStorage(config.database, log), {
    log: log.child({ event: "storage" }),
    metrics,
    maxBuffered: config.database.write_buffer,
  });
  await storage.init();

  let tokens: TokenManager | undefined;
  let transport: Transport & { now?: () => number };
  if (options.transport !== undefined) {
    transport = options.transport;
  } else {
    let hasToken = false;
    if (config.twitch.username !== "") {
      try {
        tokens = await createTokenManager(config, { log, storage, metrics });
        const status = await tokens.start();
        hasToken = status.state === "valid" || status.state === "unverified";
      } catch (err) {
        // One clear message, then read-only: a wrong token must not become a reconnect loop.
        log.error(`${describeError(err)} — joining read-only instead`, { event: "twitch_auth" });
        tokens?.stop();
        tokens = undefined;
      }
    } else if (config.twitch.oauth_token !== "") {
      log.warn("TWITCH_OAUTH_TOKEN is set but TWITCH_BOT_USERNAME is not: both are needed to talk", {
        event: "startup",
      });
    }
    transport = new TwitchTransport({
      ircUrl: config.twitch.irc_url,
      username: hasToken ? config.twitch.username : "",
      token: hasToken ? () => tokens!.getToken() : undefined,
      onAuthFailure: tokens ? () => tokens!.onAuthFailure() : undefined,
      log: log.child({ event: "irc" }),
      metrics,
      joinIntervalMs: config.twitch.join_interval_ms,
    });
  }
  // A replay (or a test) joins nothing, so advice about joining Twitch would be false there.
  if (options.transport === undefined) explainMode(config, transport, log);
  // Twitch expects the chat session to end once validation finds the token invalid.
  tokens?.onChange((status) => {
    if (status.state === "invalid") void transport.disconnect();
  });

  const sendQueue = new SendQueue({
    transport,
    log: log.child({ event: "send" }),
    metrics,
    botLogin: config.twitch.username,
  });
  const store = pluginStore(storage, (err) => log.warn(`Plugin state not stored: ${describeError(err)}`));
  const load = async (cfg: Config) => {
    const { plugins, problems, unmatched } = await loadPlugins(cfg, { log, metrics, store, baseDir });
    return { plugins: new PluginSet(plugins, metrics), warnings: problems, unmatched };
  };
  const first = await load(config);
  // Names that match nothing are typos: at the first start they stop the bot (exit 2) instead of
  // leaving it running and mute. A reload only reports them and keeps the bot going.
  const typos = [
    ...first.unmatched,
    ...unknownGenerators(config, first.plugins, first.warnings, first.unmatched),
  ];
  if (typos.length > 0) {
    await first.plugins.close();
    await storage.close();
    throw invalidConfig(typos);
  }
  const ollama = new OllamaClient(clientOptionsFromConfig(config.ollama));

  const host = new Host({
    config,
    log,
    metrics,
    storage,
    transport,
    sendQueue,
    plugins: first.plugins,
    ollama,
    version: options.version,
    clock: transport.now?.bind(transport),
    metricRows: metricRowWriter(storage),
    reload: async () => {
      config = await options.reloadConfig();
      // A reloaded file may carry new secrets; they must never reach a log line either (even those
      // that only a restart applies, such as a rotated control token).
      registerSecrets(config, log);
      log.setLevel(config.log.level);
      return { config, ...(await load(config)) };
    },
  });

  const http = await startHttpServer({
    listen: config.http.listen,
    controlToken: config.http.control_token,
    control: host,
    metrics,
    log: log.child({ event: "http" }),
  }).catch(async (err) => {
    await first.plugins.close();
    await storage.close();
    throw err;
  });
  if (http) log.info(`Control plane and dashboard at ${http.url}`, { event: "http" });

  const maintenance = startMaintenance(storage, {
    retentionDays: config.database.retention_days,
    intervalMinutes: config.database.maintenance_minutes,
    log: log.child({ event: "maintenance" }),
  });
  const watcher = options.transport === undefined
    ? watchPluginsDir(resolve(baseDir, config.plugins_dir), () => host.reload().then(() => {}, () => {}), {
      log,
      files: entryFiles(config, baseDir),
    })
    : undefined;

  let resolveStopped!: () => void;
  const stopped = new Promise<void>((r) => (resolveStopped = r));
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      log.info("Shutting down: finishing in-flight lines, flushing storage", { event: "shutdown" });
      await http?.shutdown().catch(() => {});
      watcher?.close();
      await maintenance.stop();
      await host.stop();
      sendQueue.close();
      await tokens?.stop();
      await host.plugins.close();
      await storage.close();
      removeSignals();
      log.info("Stopped", { event: "shutdown" });
      resolveStopped();
    })();
    return stopping;
  };

  const signalHandlers: Array<[Deno.Signal, () => void]> = [];
  const removeSignals = () => {
    for (const [sig, fn] of signalHandlers) {
      try {
        Deno.removeSignalListener(sig, fn);
      } catch { /* already gone */ }
    }
  };
  if (options.signals) {
    const onStop = () => void stop();
    const onHup = () => {
      log.info("SIGHUP: reloading config and plugins", { event: "reload" });
      void host.reload().catch((err) =>
        log.error(`Reload failed: ${describeError(err)}`, { event: "reload" })
      );
    };
    for (const [sig, fn] of [["SIGINT", onStop], ["SIGTERM", onStop], ["SIGHUP", onHup]] as const) {
      try {
        Deno.addSignalListener(sig, fn);
        signalHandlers.push([sig, fn]);
      } catch { /* signal not supported on this platform */ }
    }
  }

  await host.start();
  return { host, metrics, storage, httpUrl: http?.url ?? null, stopped, stop };
}

function explainMode(config: Config, transport: Transport, log: Logger): void {
  if (transport.readOnly) {
    const name = config.twitch.username === ""
      ? ` It answers mentions of "${OBSERVE_NAME}" (no TWITCH_BOT_USERNAME set).`
      : "";
    log.warn(
      "No Twitch token: joining chat anonymously, read-only. The bot runs in observe mode: it generates " +
        `and logs what it would say but sends nothing.${name} Set TWITCH_BOT_USERNAME and TWITCH_OAUTH_TOKEN ` +
        "(or run `deno task auth`) to talk.",
      { event: "startup" },
    );
  }
  if (config.twitch.channels.length === 0) {
    log.warn("No channels configured: set TWITCH_CHANNELS (comma list) or [twitch] channels", {
      event: "startup",
    });
  }
}

/** The backend's hourly-counter writer (both SQLite and MySQL have one); undefined if it lacks it. */
function metricRowWriter(storage: BufferedStorage): MetricRowWriter | undefined {
  const backend = storage.backend as unknown as Partial<{ addMetricRows: MetricRowWriter }>;
  return backend.addMetricRows ? (rows) => backend.addMetricRows!(rows) : undefined;
}

/**
 * Tells the logger every secret in `config`, so log lines and error responses mask them. Throws
 * `CONFIG_INVALID` naming the key when a URL's password has a malformed %-escape (it could not be
 * masked in its decoded form, and the server would get a different password than the one written).
 */
export function registerSecrets(config: Config, log: Logger): void {
  for (const secret of [config.twitch.oauth_token, config.twitch.client_secret, config.http.control_token]) {
    log.addSecret(secret);
  }
  // Passwords inside URLs (MySQL, an Ollama behind a proxy with basic auth) are secrets too.
  registerUrlSecret(config.database.url, "database.url (DATABASE_URL)", log);
  registerUrlSecret(config.ollama.url, "ollama.url (OLLAMA_URL)", log);
}

/**
 * Registers the password of `scheme://user:password@host…` as a secret, as written and decoded.
 * `name` says where the URL came from, for the error a malformed %-escape gives.
 */
export function registerUrlSecret(url: string, name: string, log: Logger): void {
  const authority = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(url)?.[1] ?? "";
  const userinfo = authority.includes("@") ? authority.slice(0, authority.lastIndexOf("@")) : "";
  const colon = userinfo.indexOf(":");
  if (colon === -1) return;
  const password = userinfo.slice(colon + 1);
  log.addSecret(password, `The password in ${name}`);
  log.addSecret(decodeUrlPart(password, name, "password"), `The password in ${name}`);
}

/** The local files of `[[plugins]] path` entries (a bad path is the loader's to report). */
function entryFiles(config: Config, baseDir: string): string[] {
  const files: string[] = [];
  for (const entry of config.plugins) {
    if (entry.path === undefined) continue;
    try {
      files.push(resolvePluginPath(entry.path, baseDir));
    } catch {
      // A remote URL: never loaded, nothing to watch.
    }
  }
  return files;
}
