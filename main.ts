/**
 * clank's entry point: flags, config, start. Subcommands: `auth`, `backup`, `migrate-db`,
 * `healthcheck`. A bad config exits with code 2 and one line per problem, never a stack trace.
 * @module
 */
import { COMMANDS, parseCliArgs, usage } from "./core/cli_args.ts";
import { loadConfig } from "./core/config_load.ts";
import type { Config } from "./core/config_schema.ts";
import { describeError, isClankError } from "./core/errors.ts";
import { Logger } from "./core/log.ts";
import { registerSecrets, registerUrlSecret, startBot } from "./core/bootstrap.ts";
import { runReplay } from "./core/replay_run.ts";
import { runAuthCommand } from "./core/auth_cli.ts";
import { runBackupCommand } from "./core/backup.ts";
import { MIGRATE_TO_ENV, runMigrateDbCommand } from "./core/migrate_db.ts";
import { openStorage } from "./core/storage_open.ts";
import { runHealthcheck } from "./core/healthcheck.ts";
import { loadDotEnv } from "./core/dotenv.ts";

/** The version printed by `--version` and `/api/info`. */
export const VERSION = "0.1.0";

/** The sample log a fresh install replays when no channel is configured. */
const SAMPLE_LOG = new URL("./examples/sample_chat.log", import.meta.url);

async function main(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseCliArgs(argv);
  } catch (err) {
    const command = argv[0] !== undefined && Object.hasOwn(COMMANDS, argv[0]) ? argv[0] : "run";
    console.error(`${(err as Error).message}\n\n${usage(command)}`);
    return 2;
  }
  if (args.flags.help) {
    console.log(usage(args.command));
    return 0;
  }
  if (args.flags.version) {
    console.log(`clank ${VERSION} (deno ${Deno.version.deno})`);
    return 0;
  }
  // `.env` first: its variables count as environment (the real environment still wins).
  const dotenv = await loadDotEnv(".env");
  for (const problem of dotenv.problems) console.error(`${problem} (skipped)`);
  const configPath = typeof args.flags.config === "string" ? args.flags.config : undefined;
  const load = async () => (await loadConfig({ path: configPath })).config;
  let loaded;
  try {
    loaded = await loadConfig({ path: configPath });
  } catch (err) {
    if (isClankError(err)) {
      console.error(err.message);
      return 2;
    }
    throw err;
  }
  const { config } = loaded;
  const log = new Logger({ level: config.log.level, format: config.log.format });
  mainLog = log;
  try {
    // Before any subcommand runs: backup and migrate-db log too, and must mask URL passwords.
    registerSecrets(config, log);
    if (args.command === "migrate-db") {
      const to = typeof args.flags.to === "string" ? args.flags.to : Deno.env.get(MIGRATE_TO_ENV);
      if (to) registerUrlSecret(to, typeof args.flags.to === "string" ? "--to" : MIGRATE_TO_ENV, log);
    }
  } catch (err) {
    if (isClankError(err)) {
      console.error(log.redact(err.message));
      return 2;
    }
    throw err;
  }
  if (loaded.file) log.debug(`Config read from ${loaded.file}`, { event: "startup" });
  if (dotenv.set.length > 0) log.debug(`Read ${dotenv.set.join(", ")} from .env`, { event: "startup" });

  switch (args.command) {
    case "auth": {
      const storage = openStorage(config.database, log);
      try {
        await storage.init();
        return await runAuthCommand(args.positionals, config, { log, storage });
      } finally {
        await storage.close();
      }
    }
    case "backup":
      return await runBackupCommand([...flagArgs(args.flags), ...args.positionals], config, log);
    case "migrate-db":
      return await runMigrateDbCommand(flagArgs(args.flags), config, log);
    case "healthcheck":
      return await runHealthcheck(config);
  }
  return await runBot(config, loaded.file, args.flags, load, log);
}

function flagArgs(flags: Record<string, string | true>): string[] {
  return Object.entries(flags).flatMap(([k, v]) => (v === true ? [`--${k}`] : [`--${k}`, v]));
}

async function runBot(
  config: Config,
  file: string | null,
  flags: Record<string, string | true>,
  reloadConfig: () => Promise<Config>,
  log: Logger,
): Promise<number> {
  const speed = Number(flags.speed ?? 0);
  if (!Number.isFinite(speed) || speed < 0) {
    console.error(`--speed: ${JSON.stringify(flags.speed)} must be a number >= 0 (0 = as fast as possible)`);
    return 2;
  }
  let channel = "replay";
  if (typeof flags.channel === "string") {
    // The rule of channel names in the config: replayed lines become stored rows keyed by it.
    channel = flags.channel.trim().replace(/^#/, "").toLowerCase();
    if (!/^[a-z0-9_]{1,25}$/.test(channel)) {
      const given = JSON.stringify(flags.channel);
      console.error(
        `--channel: ${given} must be a Twitch login: 1-25 letters, digits or underscores ` +
          "(a leading # is ignored)",
      );
      return 2;
    }
  }
  // A replay prints its own report; info lines would bury it, so the default level is quieted to
  // warn. A LOG_LEVEL the operator set, or debug from any source, is asked for and kept.
  const explicitLevel = Deno.env.get("LOG_LEVEL") !== undefined || config.log.level === "debug";
  const replayLog = (level: Config["log"]["level"]) =>
    new Logger({ level: level === "info" && !explicitLevel ? "warn" : level, format: config.log.format });
  if (typeof flags.replay === "string") {
    return await runReplay({ file: flags.replay, config, log: replayLog(config.log.level), speed, channel });
  }
  if (config.twitch.channels.length === 0) {
    console.log(
      "No channels configured (set TWITCH_CHANNELS or [twitch] channels in config.toml).\n" +
        "Falling back to a demo: replaying examples/sample_chat.log through the whole bot, offline.\n",
    );
    return await runReplay({
      file: SAMPLE_LOG.pathname,
      config,
      log: replayLog(config.log.level),
      speed,
      channel,
    });
  }
  const bot = await startBot({
    config,
    configFile: file,
    reloadConfig,
    log,
    signals: true,
    version: VERSION,
  });
  await bot.stopped;
  return 0;
}

/** The running bot's logger, once there is one: its secrets are masked in a fatal error too. */
let mainLog: Logger | undefined;

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (err) {
    // Known failures get their message; nothing reaches the user as a stack trace.
    const message = isClankError(err) ? err.message : `clank stopped: ${describeError(err)}`;
    console.error(mainLog ? mainLog.redact(message) : message);
    Deno.exit(isClankError(err) && err.code.startsWith("CONFIG") ? 2 : 1);
  }
}

export { COMMANDS };
