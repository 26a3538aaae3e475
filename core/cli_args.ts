/**
 * Command-line parsing for `main.ts`: a subcommand, `--flag value` / `--flag=value` options,
 * boolean switches (`-h` and `-v` short for `--help` and `--version`) and the few arguments a
 * subcommand takes. Anything else is an error that lists what is allowed: a mistyped option must
 * never fall through to starting the bot.
 * @module
 */

/** Parsed arguments. */
export interface CliArgs {
  command: string;
  flags: Record<string, string | true>;
  positionals: string[];
}

/** What a subcommand accepts. */
export interface CommandSpec {
  summary: string;
  /** Each flag: `true` = switch, or the placeholder of its value (`PATH`, `URL`, …). */
  flags: Record<string, true | string>;
  /** The argument it takes besides options, e.g. `[PATH]`; absent = none. */
  args?: { max: 1; shape: string };
  /** Its own usage lines, for `<command> --help`. */
  usage: string[];
}

/** Subcommands and what each accepts. */
export const COMMANDS: Record<string, CommandSpec> = {
  run: {
    summary: "Run the bot (default)",
    flags: { config: "PATH", replay: "FILE", speed: "N", channel: "NAME", help: true, version: true },
    usage: [], // the global usage
  },
  auth: {
    summary: "Get a Twitch token with the device code flow; `auth status` shows it",
    flags: { config: "PATH", help: true },
    args: { max: 1, shape: "[login|status|logout]" },
    usage: [
      "Usage: deno task auth [login|status|logout] [--config PATH]",
      "  login   (default) get a token with Twitch's device code flow and store it encrypted",
      "  status  show owner, scopes and expiry of the token in use",
      "  logout  revoke the stored token at Twitch and delete it",
    ],
  },
  backup: {
    summary: "Back up the SQLite database (--out PATH); --restore PATH puts a backup back (bot stopped)",
    flags: { config: "PATH", out: "PATH", restore: "PATH", help: true },
    args: { max: 1, shape: "[PATH] (the same as --out PATH)" },
    usage: [
      "Usage: deno task backup [--out PATH | PATH]   online backup of the SQLite database",
      "                                              (default ./data/backups/<db>-YYYYmmdd-HHMMSS.db)",
      "       deno task backup --restore PATH        put a backup back (stop the bot first)",
      "  --config PATH   TOML config (default ./config.toml if present)",
      "MySQL: the command prints the mysqldump invocation to use instead.",
    ],
  },
  "migrate-db": {
    summary: "Copy the SQLite database into MySQL",
    flags: { config: "PATH", to: "URL", help: true },
    usage: [
      "Usage: deno task migrate-db --to mysql://user:password@host:3306/database   (stop the bot first)",
      "  or set MIGRATE_TO_URL instead of --to, so the password stays out of the shell history",
      "  --config PATH   TOML config (default ./config.toml if present)",
    ],
  },
  healthcheck: {
    summary: "Exit 0 when the running bot's /healthz answers",
    flags: { config: "PATH", help: true },
    usage: [
      "Usage: clank healthcheck [--config PATH]",
      "  exits 0 when the running bot's /healthz answers on [http] listen, 1 otherwise",
    ],
  },
};

/** Single-dash short forms. */
const SHORT: Record<string, string> = { "-h": "help", "-v": "version" };

/** An argument as it may appear in a message: a URL may hold a password, so it is never echoed. */
function shown(arg: string): string {
  return arg.includes("://") ? "" : ` ${JSON.stringify(arg)}`;
}

/** Parses `Deno.args`. Throws an Error whose message says what was wrong and what is allowed. */
export function parseCliArgs(argv: readonly string[]): CliArgs {
  let command = "run";
  let rest = [...argv];
  if (rest[0] !== undefined && !rest[0].startsWith("-")) {
    if (!Object.hasOwn(COMMANDS, rest[0])) {
      throw new Error(`Unknown command${shown(rest[0])}; allowed: ${Object.keys(COMMANDS).join(", ")}`);
    }
    command = rest[0];
    rest = rest.slice(1);
  }
  const cmd = COMMANDS[command]!;
  const spec = cmd.flags;
  const short = (long: string) => Object.keys(SHORT).find((s) => SHORT[s] === long);
  const allowed = () => Object.keys(spec).map((f) => `--${f}${short(f) ? ` (${short(f)})` : ""}`).join(", ");
  const flags: Record<string, string | true> = {};
  const positionals: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    if (arg.startsWith("-") && !arg.startsWith("--") && arg !== "-") {
      const long = SHORT[arg];
      if (long === undefined || !Object.hasOwn(spec, long)) {
        throw new Error(`Unknown option ${arg} for "${command}"; allowed: ${allowed()}`);
      }
      flags[long] = true;
      continue;
    }
    if (!arg.startsWith("--")) {
      const max = cmd.args?.max ?? 0;
      if (positionals.length >= max) {
        const takes = cmd.args ? `takes at most one argument, ${cmd.args.shape}` : "takes no arguments";
        throw new Error(
          `Unexpected argument${shown(arg)} for "${command}": it ${takes}; options: ${allowed()}`,
        );
      }
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    if (!Object.hasOwn(spec, name)) {
      throw new Error(`Unknown option --${name} for "${command}"; allowed: ${allowed()}`);
    }
    const placeholder = spec[name]!;
    if (placeholder === true) {
      if (eq !== -1) throw new Error(`Option --${name} takes no value`);
      flags[name] = true;
      continue;
    }
    const value = eq !== -1 ? arg.slice(eq + 1) : rest[++i];
    if (value === undefined || value === "" || (eq === -1 && value.startsWith("--"))) {
      throw new Error(`Option --${name} needs a value (--${name} ${placeholder})`);
    }
    flags[name] = value;
  }
  return { command, flags, positionals };
}

/** The help text: the global one, or a subcommand's own. */
export function usage(command = "run"): string {
  const own = COMMANDS[command]?.usage ?? [];
  if (own.length > 0) return own.join("\n");
  const lines = [
    "clank — a Twitch chat bot that talks through a local LLM (Ollama)",
    "",
    "Usage: deno task start [options]          run the bot",
    "       deno task start --replay FILE       replay a chat log offline and print what the bot would say",
    "       deno task <command> [options]       (<command> --help for its own options)",
    "",
    "Commands:",
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(12)} ${c.summary}`),
    "",
    "Options (run):",
    "  --config PATH     TOML config (default ./config.toml if present)",
    "  --replay FILE     feed a chat log through the pipeline, no network (see docs/REPLAY.md)",
    "  --speed N         replay at N times the recorded pace (default 0: as fast as the bot answers)",
    "  --channel NAME    channel name for replayed lines that do not name one (default: replay)",
    "  -h, --help        this help",
    "  -v, --version     the version",
    "",
    "Environment: TWITCH_BOT_USERNAME, TWITCH_OAUTH_TOKEN, TWITCH_CHANNELS, OLLAMA_URL, OLLAMA_MODEL, …",
    "(every variable and key: docs/CONFIGURATION.md)",
  ];
  return lines.join("\n");
}
