/**
 * `--replay FILE`: runs the whole pipeline over a chat log with no network and prints what the bot
 * would have said and why. Uses an in-memory database so a replay never touches the real one, and
 * the Markov generator when Ollama cannot be reached, so it works on any machine. The Markov
 * generator is seeded from the log, so replaying the same log prints the same lines every time.
 * @module
 */
import { createHash } from "node:crypto";
import { type Config, PluginEntrySchema } from "./config_schema.ts";
import { describeError } from "./errors.ts";
import { type Decision, OBSERVE_NAME } from "./host.ts";
import type { Logger } from "./log.ts";
import { clientOptionsFromConfig, OllamaClient, safeUrl } from "./ollama_client.ts";
import { parseReplayLog } from "./replay_log.ts";
import { ReplayTransport } from "./replay_transport.ts";
import { startBot } from "./bootstrap.ts";

/** Options of a replay. */
export interface ReplayOptions {
  file: string;
  config: Config;
  log: Logger;
  /** 0 = as fast as the bot answers; N = N times the recorded pace. */
  speed: number;
  /** Channel for lines that name none. */
  channel: string;
  /** Where the report goes (default stdout). */
  out?: (line: string) => void;
}

/** Replays a log; returns the process exit code. */
export async function runReplay(options: ReplayOptions): Promise<number> {
  const out = options.out ?? ((line: string) => console.log(line));
  const log = options.log;
  let text: string;
  try {
    text = await Deno.readTextFile(options.file);
  } catch (err) {
    log.error(`Cannot read replay file ${options.file}: ${describeError(err)}`, { event: "replay" });
    return 2;
  }
  const { events, problems } = parseReplayLog(text, { channel: options.channel });
  for (const p of problems) {
    log.warn(`${options.file}:${p.line}: ${p.message} (line skipped)`, { event: "replay" });
  }
  if (events.length === 0) {
    log.error(`${options.file} has no chat lines to replay`, { event: "replay" });
    return 2;
  }
  const channels = [...new Set(events.map((e) => ("channel" in e ? e.channel : options.channel)))];
  const config: Config = structuredClone(options.config);
  config.twitch.channels = channels;
  config.twitch.username ||= OBSERVE_NAME;
  config.twitch.oauth_token = "";
  config.database = { ...config.database, type: "sqlite", url: ":memory:" };
  config.http.listen = "";
  seedMarkov(config, JSON.stringify(events));

  const ollama = new OllamaClient(clientOptionsFromConfig(config.ollama));
  const reachable = await ollama.ping().catch(() => false);
  if (!reachable && config.defaults.generator === "ollama") {
    out(
      `Ollama is not reachable at ${
        safeUrl(config.ollama.url)
      }: replaying with the offline Markov generator instead.`,
    );
    config.defaults.generator = "markov";
    for (const c of Object.values(config.channels)) if (c.generator === "ollama") c.generator = "markov";
  }

  const transport = new ReplayTransport(events);
  const bot = await startBot({
    config,
    configFile: null,
    reloadConfig: () => Promise.resolve(config),
    log,
    transport,
  });
  const stamp = (t: number) => new Date(t).toISOString().slice(11, 19);
  const counts = { said: 0, skipped: 0 };
  bot.host.onDecision((d: Decision) => {
    const who = d.user ? ` from ${d.user}` : "";
    const head = `[${stamp(d.time)}] #${d.channel} ${d.trigger}${who}`;
    switch (d.outcome) {
      case "would_say":
      case "said":
        counts.said++;
        out(`${head} → would say: ${d.text}`);
        break;
      case "skipped":
      case "dropped":
        counts.skipped++;
        out(`${head} → skipped (${d.reason})`);
        break;
      case "queued":
        break;
      default:
        counts.skipped++;
        out(`${head} → nothing said (${d.outcome}${d.reason ? `: ${d.reason}` : ""})`);
    }
  });
  out(
    `Replaying ${events.length} events from ${options.file} as ${config.twitch.username} (observe mode, nothing is sent)`,
  );
  await transport.play({ speed: options.speed, settle: () => bot.host.settled() });
  await bot.host.settled();
  await bot.stop();
  out(`Replay done: ${counts.said} line(s) the bot would have said, ${counts.skipped} skipped.`);
  return 0;
}

/**
 * Gives the Markov generator a seed taken from the log's events (comments do not count) unless the
 * config sets one: an unseeded demo now and then wrote nothing sendable for a mention, and a replay
 * should be repeatable anyway.
 */
function seedMarkov(config: Config, events: string): void {
  const seed = parseInt(createHash("sha256").update(events).digest("hex").slice(0, 8), 16);
  const entry = config.plugins.find((p) => p.name === "markov" && p.path === undefined);
  if (entry) entry.options = { seed, ...entry.options };
  else config.plugins.push(PluginEntrySchema.parse({ name: "markov", options: { seed } }));
}
