/**
 * Command-line parsing for `main.ts`: a subcommand, `--flag value` / `--flag=value` options and
 * boolean switches. Unknown flags are errors that list the allowed ones.
 * @module
 */

/** Parsed arguments. */
export interface CliArgs {
  command: string;
  flags: Record<string, string | true>;
  positionals: string[];
}

/** Subcommands and the flags each accepts (`true` = switch, `false` = takes a value). */
export const COMMANDS: Record<string, { summary: string; flags: Record<string, boolean> }> = {
  run: {
    summary: "Run the bot (default)",
    flags: { config: false, replay: false, speed: false, channel: false, help: true, version: true },
  },
  auth: {
    summary: "Get a Twitch token with the device code flow; `auth status` shows it",
    flags: { config: false, help: true },
  },
  backup: {
    summary: "Back up the SQLite database (--out PATH); --restore PATH puts a backup back (bot stopped)",
    flags: { config: false, out: false, restore: false, help: true },
  },
  "migrate-db": {
    summary: "Copy the SQLite database into MySQL",
    flags: { config: false, to: false, help: true },
  },
  healthcheck: {
    summary: "Exit 0 when the running bot's /healthz answers",
    flags: { config: false, help: true },
  },
};

/** Parses `Deno.args`. Throws an Error whose message says what was wrong and what is allowed. */
export function parseCliArgs(argv: readonly string[]): CliArgs {
  let command = "run";
  let rest = [...argv];
  if (rest[0] !== undefined && !rest[0].startsWith("-")) {
    if (!(rest[0] in COMMANDS)) {
      throw new Error(`Unknown command "${rest[0]}"; allowed: ${Object.keys(COMMANDS).join(", ")}`);
    }
    command = rest[0];
    rest = rest.slice(1);
  }
  const spec = COMMANDS[command]!.flags;
  const flags: Record<string, string | true> = {};
  const positionals: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    if (!arg.startsWith("--")) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    if (!(name in spec)) {
      const allowed = Object.keys(spec).map((f) => `--${f}`).join(", ");
      throw new Error(`Unknown option --${name} for "${command}"; allowed: ${allowed}`);
    }
    if (spec[name]) {
      if (eq !== -1) throw new Error(`Option --${name} takes no value`);
      flags[name] = true;
      continue;
    }
    const value = eq !== -1 ? arg.slice(eq + 1) : rest[++i];
    if (value === undefined || (eq === -1 && value.startsWith("--"))) {
      throw new Error(`Option --${name} needs a value`);
    }
    flags[name] = value;
  }
  return { command, flags, positionals };
}

/** The help text. */
export function usage(): string {
  const lines = [
    "clank — a Twitch chat bot that talks through a local LLM (Ollama)",
    "",
    "Usage: deno task start [options]          run the bot",
    "       deno task start --replay FILE       replay a chat log offline and print what the bot would say",
    "       deno task <command> [options]",
    "",
    "Commands:",
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(12)} ${c.summary}`),
    "",
    "Options (run):",
    "  --config PATH     TOML config (default ./config.toml if present)",
    "  --replay FILE     feed a chat log through the pipeline, no network (see docs/REPLAY.md)",
    "  --speed N         replay at N times the recorded pace (default 0: as fast as the bot answers)",
    "  --channel NAME    channel name for replayed lines that do not name one (default: replay)",
    "",
    "Environment: TWITCH_BOT_USERNAME, TWITCH_OAUTH_TOKEN, TWITCH_CHANNELS, OLLAMA_URL, OLLAMA_MODEL, …",
    "(every variable and key: docs/CONFIGURATION.md)",
  ];
  return lines.join("\n");
}
