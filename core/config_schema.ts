/**
 * The one zod schema for every setting: defaults, ranges and the environment variable that overrides
 * each key. `docs/CONFIGURATION.md` is generated from this file (`deno task docs:config`), and a test
 * checks that the two agree.
 * @module
 */
import { z } from "zod";
import { CONTROL_TOKEN_MIN_LENGTH, controlTokenProblem } from "./http_auth.ts";
import { isLoopbackHost, parseHostPort } from "./loopback.ts";

/** An integer setting whose errors read `is out of range MIN..MAX`. */
export function intRange(min: number, max: number): z.ZodNumber {
  const msg = `is out of range ${min}..${max}`;
  return z.number({ error: `must be a whole number in ${min}..${max}` })
    .int({ error: `must be a whole number in ${min}..${max}` })
    .min(min, { error: msg })
    .max(max, { error: msg });
}

/** A number setting (fractions allowed) whose errors read `is out of range MIN..MAX`. */
export function numberRange(min: number, max: number): z.ZodNumber {
  const msg = `is out of range ${min}..${max}`;
  return z.number({ error: `must be a number in ${min}..${max}` }).min(min, { error: msg }).max(max, {
    error: msg,
  });
}

/** A Twitch login after trimming, removing one leading `prefix` and lower-casing. */
function twitchLogin(prefix: RegExp) {
  return z.string().transform((s) => s.trim().replace(prefix, "").toLowerCase()).pipe(
    z.string().regex(/^[a-z0-9_]{1,25}$/, {
      error: "must be a Twitch login: 1-25 letters, digits or underscores",
    }),
  );
}

const channelName = twitchLogin(/^#/);

/** A channel as written in a config key: trimmed, one leading `#` off, lower case. */
function normalLogin(s: string): string {
  return s.trim().replace(/^#/, "").toLowerCase();
}
// People write users as they appear in chat (`@Name`) or copy them from a channel list (`#name`);
// a list of logins compared as typed would never match those.
const userLogin = twitchLogin(/^[@#]/);

/** Twitch logins of well-known bots whose lines never enter the context. */
export const DEFAULT_BOTS = [
  "nightbot",
  "streamelements",
  "streamlabs",
  "moobot",
  "fossabot",
  "sery_bot",
  "soundalerts",
  "wizebot",
  "botrixoficial",
  "commanderroot",
  "kofistreambot",
  "pokemoncommunitygame",
];

/** Default persona (system prompt) of the bot. */
export const DEFAULT_PERSONA =
  "You are {bot}, a friendly regular in the Twitch chat of {channel}. You write short, casual chat " +
  "lines (one sentence, no hashtags, no emoji spam), stay on topic, and never pretend to be a moderator.";

/**
 * Per-channel settings: the same schema validates the config file, `!clank` commands and the HTTP
 * API, so the ranges are written once.
 */
export const ChannelSettingsSchema = z.object({
  /** Chat messages since the last spontaneous line before another may be posted. */
  threshold: intRange(5, 200).default(30).describe(
    "Chat messages since the bot's last spontaneous line before it may post another.",
  ),
  /** Seconds since the last spontaneous line before another may be posted. */
  spontaneous: intRange(60, 3600).default(300).describe(
    "Seconds since the bot's last spontaneous line before it may post another.",
  ),
  /** Seconds a user must wait between two replies to their mentions. */
  response: intRange(10, 1800).default(60).describe(
    "Seconds a user must wait between two replies to their mentions.",
  ),
  /** Chat lines of history kept and shown to the model. */
  context: intRange(50, 500).default(200).describe(
    "Chat lines of history kept per channel and shown to the model at most. The prompt's history " +
      "starts at a multiple of half of it, so it shows between half and all of it and Ollama can reuse " +
      "its prompt cache; fewer when they do not fit `ollama.num_ctx` (docs/GENERATION.md).",
  ),
  /** Ollama model; empty means the global `ollama.model`. */
  model: z.string().max(200, { error: "must be at most 200 characters" }).regex(/^[\w.:/-]*$/, {
    error: "must be an Ollama model name such as llama3.1 or qwen2.5:7b",
  }).default("").describe("Ollama model for this channel; empty uses `ollama.model`."),
  /** System persona; `{bot}` and `{channel}` are replaced. */
  persona: z.string().min(1, { error: "must not be empty" }).max(4000, {
    error: "must be at most 4000 characters",
  }).default(DEFAULT_PERSONA).describe(
    "System prompt of the bot; `{bot}` and `{channel}` are replaced by the bot's and the channel's names.",
  ),
  /** Maximum characters of one bot line (Twitch allows 500; every line also stops at 499 UTF-16 units). */
  max_length: intRange(20, 500).default(500).describe(
    "Most characters in one bot line (Twitch allows 500). Every line also stays within 499 UTF-16 units, what tmi.js sends as one line (an emoji counts as two), so 500 acts as 499.",
  ),
  /** Generator plugin that writes this channel's lines. */
  generator: z.string().regex(/^[a-z][a-z0-9_-]*$/, { error: "must be a generator plugin name" }).default(
    "ollama",
  ).describe("Generator plugin that writes this channel's lines."),
  /** Use the Markov generator when the chosen generator fails (e.g. Ollama is down). */
  fallback_markov: z.boolean({ error: "must be true or false" }).default(false).describe(
    "Use the Markov generator when the chosen generator fails, e.g. while Ollama is down.",
  ),
  /** Seconds between any two bot lines in this channel. */
  floor: numberRange(0, 60).default(3).describe("Seconds between any two bot lines in this channel."),
  /** Pending mentions kept per channel while a reply is generated; oldest dropped first. */
  mention_queue: intRange(0, 20).default(3).describe(
    "Pending mentions kept per channel while a reply is generated; the oldest is dropped first.",
  ),
  /** Spontaneous lines need at least this many context lines. */
  min_context: intRange(1, 100).default(10).describe(
    "Context lines the channel needs before the bot posts a spontaneous line.",
  ),
  /** Extra blocked words or `re:` patterns for this channel only. */
  blocked_words: z.array(z.string().max(200)).max(1000).default([]).describe(
    "Extra blocked words or `re:` patterns for this channel only.",
  ),
});

/** Fully resolved per-channel settings. */
export type ChannelSettings = z.infer<typeof ChannelSettingsSchema>;

/** Settings that moderators may change live (chat or API). */
export const LIVE_SETTING_KEYS = [
  "threshold",
  "spontaneous",
  "response",
  "context",
  "model",
  "persona",
  "max_length",
  "generator",
  "fallback_markov",
  "floor",
  "mention_queue",
] as const;

/** A partial, validated settings change. */
// Built from the unwrapped fields: `.partial()` would keep each field's default and turn a one-key
// patch into a full set of defaults that overrides everything.
export const ChannelSettingsPatchSchema = z.object(
  Object.fromEntries(
    Object.entries(ChannelSettingsSchema.shape).map(([key, field]) => [key, field.unwrap().optional()]),
  ) as {
    [K in keyof typeof ChannelSettingsSchema.shape]: z.ZodOptional<
      ReturnType<(typeof ChannelSettingsSchema.shape)[K]["unwrap"]>
    >;
  },
).strict();

/**
 * A settings change from chat or the HTTP API: the live settings only. The others (word lists,
 * `min_context`, …) belong to the config file, where a reload applies them.
 */
export const LiveSettingsPatchSchema = ChannelSettingsPatchSchema.pick(
  Object.fromEntries(LIVE_SETTING_KEYS.map((k) => [k, true])) as {
    [K in (typeof LIVE_SETTING_KEYS)[number]]: true;
  },
).strict();

/** Permissions a sandboxed plugin may be granted. Each list narrows Deno's matching permission. */
export const PluginPermissionsSchema = z.object({
  net: z.array(z.string()).optional().describe("Hosts (`host` or `host:port`) the plugin may connect to."),
  read: z.array(z.string()).optional().describe("Paths the plugin may read."),
  write: z.array(z.string()).optional().describe("Paths the plugin may write."),
  env: z.array(z.string()).optional().describe("Environment variables the plugin may read."),
  run: z.array(z.string()).optional().describe("Programs the plugin may run."),
  ffi: z.array(z.string()).optional().describe("Native libraries the plugin may load."),
  sys: z.array(z.string()).optional().describe("System information the plugin may read, e.g. `hostname`."),
}).strict();

/** One `[[plugins]]` entry. */
export const PluginEntrySchema = z.object({
  /** Built-in plugin name, or a name for a drop-in (defaults to the plugin's own). */
  name: z.string().optional().describe(
    "Built-in plugin name, or a name for a drop-in (defaults to the plugin's own).",
  ),
  /** Path or URL of a plugin file; absent for built-ins. */
  path: z.string().optional().describe("Path or URL of a drop-in plugin file; absent for built-ins."),
  enabled: z.boolean().default(true).describe("Load this plugin; `false` turns a built-in off."),
  /** Run in a Worker: default for `path` entries (false runs in-process, warned); built-ins may opt in. */
  sandbox: z.boolean().optional().describe(
    "Run in a Worker. Files in plugins_dir always are and `path` entries are by default (`false` runs one " +
      "in-process with all of the bot's permissions, warned at load); built-ins may opt in.",
  ),
  options: z.record(z.string(), z.unknown()).default({}).describe(
    "Options of the plugin, checked by the plugin's own schema.",
  ),
  permissions: PluginPermissionsSchema.default({}),
  /** Milliseconds one call may take. */
  // No schema default: the loader must tell "not set" (the plugin's own default, e.g. the Ollama
  // deadline for the ollama generator, else 2000) from an explicit value.
  timeout_ms: intRange(10, 60000).optional().describe(
    "Milliseconds one call into the plugin may take before it counts as failed (default 2000; the ollama generator's default is the Ollama timeout plus 5 s).",
  ),
}).strict().refine((p) => p.name !== undefined || p.path !== undefined, {
  error: "needs a name (built-in) or a path (drop-in)",
});

/** The whole configuration. */
export const ConfigSchema = z.object({
  twitch: z.object({
    username: z.string().regex(/^[a-zA-Z0-9_]{0,25}$/, { error: "must be a Twitch login" }).transform((s) =>
      s.toLowerCase()
    ).default("").describe("Twitch login of the bot account."),
    oauth_token: z.string().default("").describe(
      "OAuth token of the bot account with the chat:read and chat:edit scopes; the `oauth:` prefix is optional.",
    ),
    channels: z.array(channelName).max(1000).default([]).describe(
      "Channels to join, by login; a leading `#` is ignored.",
    ),
    irc_url: z.url({ protocol: /^wss?$/, error: "must be a ws:// or wss:// URL" }).default(
      "wss://irc-ws.chat.twitch.tv:443",
    ).describe("Twitch chat server (IRC over WebSocket); tests point it at a fake."),
    client_id: z.string().default("").describe(
      "Client ID of your Twitch application; with the client secret it lets the bot refresh its token.",
    ),
    client_secret: z.string().default("").describe("Client secret of your Twitch application."),
    /** Base URL of Twitch's OAuth endpoints (tests point it at a fake). */
    auth_url: z.url({ error: "must be an http(s) URL" }).default("https://id.twitch.tv").describe(
      "Base URL of Twitch's OAuth endpoints; tests point it at a fake.",
    ),
    /** Milliseconds between two JOINs (Twitch allows 20 per 10 s). */
    join_interval_ms: intRange(500, 10000).default(500).describe(
      "Milliseconds between two channel JOINs (Twitch allows 20 per 10 seconds).",
    ),
    /** Logins whose lines never enter the context. */
    bots: z.array(userLogin).default(DEFAULT_BOTS).describe(
      "Logins of other bots whose lines never enter the context; a leading `@` or `#` is ignored.",
    ),
    /** Users besides moderators and broadcasters who may change settings in chat. */
    admins: z.array(userLogin).default([]).describe(
      "Logins of users besides moderators and the broadcaster who may change settings in chat; a " +
        "leading `@` or `#` is ignored.",
    ),
    command_prefix: z.string().min(1).max(32).regex(/^\S+$/, { error: "must be one word such as !clank" })
      .default("!clank").describe("Word that starts a bot command in chat."),
    /** Seconds between two commands in a channel. */
    command_cooldown: numberRange(0, 600).default(3).describe("Seconds between two commands in one channel."),
    /** Keep a timed-out user's lines in the database (they always leave the context). */
    keep_timed_out_lines: z.boolean().default(false).describe(
      "Keep a timed-out user's lines in the database; they always leave the context. By default a timeout deletes them, as a ban does.",
    ),
  }).strict().prefault({}),
  ollama: z.object({
    url: z.url({ protocol: /^https?$/, error: "must be an http:// or https:// URL" }).default(
      "http://localhost:11434",
    ).describe("Base URL of the Ollama server."),
    model: z.string().min(1).default("llama3.1").describe(
      "Model used when a channel sets none; pull it first with `ollama pull`.",
    ),
    /** Seconds: total deadline of one generation. */
    timeout: numberRange(1, 600).default(30).describe("Seconds one generation may take in total."),
    /** Seconds: deadline for the first streamed token (default half of `timeout`, so it follows OLLAMA_TIMEOUT). */
    first_token_timeout: numberRange(1, 600).optional().describe(
      "Seconds to wait for the first streamed token; default half of `timeout` (15 with the default 30), so " +
        "raising OLLAMA_TIMEOUT for a slow model also gives its first token more time.",
    ),
    keep_alive: z.string().regex(/^-?\d+(ms|s|m|h)?$/, { error: "must be a duration such as 5m or -1" })
      .default("30m").describe(
        "How long Ollama keeps the model loaded after a request; `-1` keeps it loaded.",
      ),
    num_ctx: intRange(512, 131072).default(4096).describe(
      "Context window of the model, in tokens. A prompt's history is cut to fit it, less `num_predict` " +
        "(by an estimate that errs on the safe side), and a warning says when; raise it, with a model " +
        "that supports it, to show a channel's whole `context` when its lines are long.",
    ),
    num_predict: intRange(8, 1024).default(80).describe("Most tokens generated for one line."),
    temperature: numberRange(0, 2).default(0.8).describe(
      "Sampling temperature: higher is more varied, lower more predictable.",
    ),
  }).strict().prefault({}),
  database: z.object({
    type: z.enum(["sqlite", "mysql"], { error: "must be sqlite or mysql" }).default("sqlite").describe(
      "Storage backend.",
    ),
    url: z.string().min(1).default("./data/chatbot.db").describe(
      "SQLite: path of the database file. MySQL: `mysql://user:password@host:3306/database`.",
    ),
    /** Days chat lines are kept. */
    retention_days: intRange(1, 3650).default(30).describe("Days chat lines are kept."),
    /** Minutes between retention and maintenance runs. */
    maintenance_minutes: intRange(1, 10080).default(60).describe(
      "Minutes between two retention and maintenance runs.",
    ),
    /** Buffered writes kept while the database is unavailable. */
    write_buffer: intRange(100, 1000000).default(50000).describe(
      "Writes kept in memory while the database is unavailable, retried in order when it is back.",
    ),
  }).strict().prefault({}),
  http: z.object({
    /** host:port of the control plane; empty disables it. */
    listen: z.string().regex(/^(\[[0-9a-fA-F:]+\]|[\w.-]+):\d{1,5}$|^$/, {
      error: "must be host:port such as 127.0.0.1:8080, or empty to disable",
      abort: true,
    }).refine((s) => s === "" || parseHostPort(s) !== null, {
      // The pattern lets a port over 65535 or an address like 1.2.3.999 through to a failed bind.
      error: "must be host:port with a valid address and a port in 0..65535, such as 127.0.0.1:8080, " +
        "or empty to disable",
      abort: true,
    }).default("127.0.0.1:8080").describe(
      "`host:port` of the control plane (health, metrics, settings API, dashboard); empty disables it. An address other than loopback needs a control token.",
    ),
    control_token: z.string()
      .refine((s) => s === "" || s.trim() !== "", {
        error: "is only whitespace; leave CONTROL_TOKEN empty for no token, or set a token",
        abort: true,
      })
      // A secrets file or `echo` leaves a trailing newline that no client sends back.
      .transform((s) => s.trim())
      .pipe(
        z.string().superRefine((token, ctx) => {
          const problem = controlTokenProblem(token);
          if (problem !== null) ctx.addIssue({ code: "custom", message: problem });
        }),
      )
      .default("").describe(
        "Bearer token of the control plane (`Authorization: Bearer <token>`); routes that change the bot " +
          `need it. At least ${CONTROL_TOKEN_MIN_LENGTH} visible ASCII characters without whitespace ` +
          "(surrounding whitespace, such as a secrets file's trailing newline, is trimmed); generate one with " +
          "`openssl rand -hex 32`.",
      ),
  }).strict().superRefine((http, ctx) => {
    // Checked with the rest of the config (exit 2 at start), not after storage and plugins are up.
    // A malformed address already has its own problem; calling it "not loopback" too would mislead.
    const parsed = parseHostPort(http.listen);
    if (
      parsed !== null && parsed.port !== null && http.control_token === "" && !isLoopbackHost(parsed.hostname)
    ) {
      ctx.addIssue({
        code: "custom",
        path: ["listen"],
        input: http.listen,
        message: "is not a loopback address: set CONTROL_TOKEN (http.control_token) to expose the control " +
          "plane, or listen on 127.0.0.1",
      });
    }
  }).prefault({}),
  filter: z.object({
    enabled: z.boolean().default(true).describe(
      "Check chat lines (before they enter the context) and the bot's own lines (before they are sent) against the blocked-words list.",
    ),
    blocked_words_file: z.string().default("").describe(
      "File of extra blocked words or phrases, one per line (`#` comments, `re:` starts a regular expression), reloaded when it changes; empty uses the built-in list only.",
    ),
  }).strict().prefault({}),
  log: z.object({
    level: z.enum(["debug", "info", "warn", "error"], { error: "must be debug, info, warn or error" })
      .default("info").describe("Lowest level written."),
    format: z.enum(["console", "json"], { error: "must be console or json" }).default("console").describe(
      "`console`: readable lines, coloured on a terminal. `json`: one JSON object per line with level, time, channel and event.",
    ),
  }).strict().prefault({}),
  auth: z.object({
    /** Key file that encrypts stored tokens, created with mode 0600 on first use; `CLANK_SECRET_KEY` wins. */
    key_file: z.string().min(1, { error: "must be a file path" }).default("./data/secret.key").describe(
      "Key file that encrypts stored tokens, created with mode 0600 on first use; the `CLANK_SECRET_KEY` environment variable wins over it.",
    ),
  }).strict().prefault({}),
  /** Directory scanned for drop-in plugins (`*.ts`, `*.js`). */
  plugins_dir: z.string().default("plugins.d").describe(
    "Directory scanned for drop-in plugins (`*.ts`, `*.js`), relative to the working directory.",
  ),
  plugins: z.array(PluginEntrySchema).default([]),
  /** Defaults for every channel. */
  defaults: ChannelSettingsSchema.strict().prefault({}),
  /** Per-channel overrides, keyed by channel login. */
  channels: z.record(z.string(), ChannelSettingsPatchSchema).superRefine((tables, ctx) => {
    // The host looks a channel up by its login: `[channels.SomeStreamer]` was never applied.
    const seen = new Map<string, string>();
    for (const key of Object.keys(tables)) {
      const login = normalLogin(key);
      if (!/^[a-z0-9_]{1,25}$/.test(login)) {
        ctx.addIssue({
          code: "custom",
          path: [key],
          message: "is not a Twitch login: 1-25 letters, digits or underscores (a leading # is fine)",
        });
      } else if (seen.has(login)) {
        ctx.addIssue({
          code: "custom",
          path: [key],
          message: `names the same channel as [channels.${seen.get(login)}]; merge the two tables`,
        });
      } else seen.set(login, key);
    }
  }).transform((tables) => Object.fromEntries(Object.entries(tables).map(([k, v]) => [normalLogin(k), v])))
    .default({}).describe(
      "Per-channel overrides of `[defaults]`, one table per channel login (any case; a leading `#` is fine).",
    ),
}).strict();

/** The validated configuration. */
export type Config = z.infer<typeof ConfigSchema>;

/** How one environment variable maps onto the config. */
export interface EnvBinding {
  env: string;
  path: readonly string[];
  kind: "string" | "number" | "boolean" | "list";
  secret?: boolean;
}

/** The public environment interface: these names never change. */
export const ENV_BINDINGS: readonly EnvBinding[] = [
  { env: "TWITCH_BOT_USERNAME", path: ["twitch", "username"], kind: "string" },
  { env: "TWITCH_OAUTH_TOKEN", path: ["twitch", "oauth_token"], kind: "string", secret: true },
  { env: "TWITCH_CHANNELS", path: ["twitch", "channels"], kind: "list" },
  { env: "TWITCH_IRC_URL", path: ["twitch", "irc_url"], kind: "string" },
  { env: "TWITCH_CLIENT_ID", path: ["twitch", "client_id"], kind: "string" },
  { env: "TWITCH_CLIENT_SECRET", path: ["twitch", "client_secret"], kind: "string", secret: true },
  { env: "TWITCH_AUTH_URL", path: ["twitch", "auth_url"], kind: "string" },
  { env: "OLLAMA_URL", path: ["ollama", "url"], kind: "string" },
  { env: "OLLAMA_MODEL", path: ["ollama", "model"], kind: "string" },
  { env: "OLLAMA_TIMEOUT", path: ["ollama", "timeout"], kind: "number" },
  { env: "DATABASE_TYPE", path: ["database", "type"], kind: "string" },
  { env: "DATABASE_URL", path: ["database", "url"], kind: "string", secret: true },
  { env: "HTTP_LISTEN", path: ["http", "listen"], kind: "string" },
  { env: "CONTROL_TOKEN", path: ["http", "control_token"], kind: "string", secret: true },
  { env: "CONTENT_FILTER_ENABLED", path: ["filter", "enabled"], kind: "boolean" },
  { env: "BLOCKED_WORDS_FILE", path: ["filter", "blocked_words_file"], kind: "string" },
  { env: "LOG_LEVEL", path: ["log", "level"], kind: "string" },
  { env: "LOG_FORMAT", path: ["log", "format"], kind: "string" },
];

/** Config paths whose values are secrets: never logged, never echoed in errors or API responses. */
export const SECRET_PATHS: readonly string[] = [
  "twitch.oauth_token",
  "twitch.client_secret",
  "http.control_token",
  "database.url",
];
