/**
 * Logging: `console` (readable, coloured only on a TTY) or `json` (one object per line with level,
 * time, channel and event). Every line passes through redaction, so a registered secret never
 * reaches the output even when it hides inside an error message.
 *
 * Redaction rules:
 * - every registered secret of at least {@link MIN_SECRET_LENGTH} characters is replaced by
 *   `[redacted]` wherever it appears, longest first (so a short secret inside a long one cannot leave
 *   the rest of the long one visible), also in its JSON-escaped form;
 * - shorter secrets are not replaced as substrings — a password `info` would turn every
 *   `"level":"info"` into `[redacted]` — and a warning says once that such a secret is weak;
 * - the password of any `scheme://user:password@host` URL is masked, whatever its length;
 * - in JSON lines only values (and field names) are redacted, never the line's structure.
 * @module
 */

/** Log levels in increasing severity. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const COLOURS: Record<LogLevel, string> = {
  debug: "\x1b[90m",
  info: "\x1b[36m",
  warn: "\x1b[33m",
  error: "\x1b[31m",
};

/** Structured fields; `channel`, `plugin` and `event` are promoted in console output. */
export type Fields = Record<string, unknown>;

/** Where log lines go; tests capture them. */
export type LogSink = (line: string, level: LogLevel) => void;

/**
 * Secrets shorter than this are not masked as substrings: too many ordinary words would match.
 * Twitch tokens, client secrets, key forms and the control token are all much longer.
 */
export const MIN_SECRET_LENGTH = 8;

const REDACTED = "[redacted]";

// `scheme://userinfo@` where userinfo runs to the last `@` before the path: the password part of it
// is masked whatever its length, since a short one is not registered for substring redaction.
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#"'<>\\]*)@/gi;

/** Shared state of a logger tree. */
interface LogRoot {
  level: number;
  format: "console" | "json";
  colour: boolean;
  sink: LogSink;
  secrets: Set<string>;
  /** `secrets`, longest first; rebuilt after a change. */
  ordered: string[] | null;
  /** True once the "short secret" warning was written. */
  warnedShort: boolean;
}

/** A logger; `child` adds fixed fields. */
export class Logger {
  #root: LogRoot;
  #fields: Fields;

  constructor(
    options: { level?: LogLevel; format?: "console" | "json"; sink?: LogSink; colour?: boolean } = {},
    root?: LogRoot,
    fields: Fields = {},
  ) {
    this.#root = root ?? {
      level: LEVELS[options.level ?? "info"],
      format: options.format ?? "console",
      colour: options.colour ?? (options.sink === undefined && Deno.stderr.isTerminal()),
      sink: options.sink ?? ((line) => console.error(line)),
      secrets: new Set(),
      ordered: null,
      warnedShort: false,
    };
    this.#fields = fields;
  }

  /** A logger that adds `fields` to every line. */
  child(fields: Fields): Logger {
    return new Logger({}, this.#root, { ...this.#fields, ...fields });
  }

  /**
   * Registers a secret; every later line has it replaced by `[redacted]`. A secret shorter than
   * {@link MIN_SECRET_LENGTH} is not registered (see the module doc); the first one gives a warning
   * naming `what` (e.g. `the password in DATABASE_URL`).
   */
  addSecret(secret: string | undefined, what?: string): void {
    if (!secret) return;
    if (secret.length < MIN_SECRET_LENGTH) {
      if (!this.#root.warnedShort) {
        this.#root.warnedShort = true;
        this.warn(
          `${what ?? "A configured secret (e.g. a database or proxy password)"} is shorter than ` +
            `${MIN_SECRET_LENGTH} characters: that is weak, and too short to mask in log lines without ` +
            `garbling ordinary words, so it is masked only inside URLs; use a longer one`,
          { event: "startup" },
        );
      }
      return;
    }
    const add = (s: string) => {
      if (s.length >= MIN_SECRET_LENGTH) this.#root.secrets.add(s);
    };
    add(secret);
    // A token is often printed with its `oauth:` prefix stripped or added.
    if (secret.startsWith("oauth:")) add(secret.slice(6));
    // JSON lines and API bodies escape `"` and `\`: the escaped form must be caught too.
    add(JSON.stringify(secret).slice(1, -1));
    // A secret sent in a query string or form body appears %-encoded in URLs that get logged.
    add(encodeURIComponent(secret));
    this.#root.ordered = null;
  }

  /** Changes the level at run time (config reload). */
  setLevel(level: LogLevel): void {
    this.#root.level = LEVELS[level];
  }

  /** True when lines of this level are written. */
  enabled(level: LogLevel): boolean {
    return LEVELS[level] >= this.#root.level;
  }

  /** Replaces every registered secret and every URL password in `text`. */
  redact(text: string): string {
    let out = text.includes("://") ? text.replace(URL_USERINFO, maskUserinfo) : text;
    // Longest first: a shorter secret inside a longer one must not split it and leave the rest readable.
    this.#root.ordered ??= [...this.#root.secrets].sort((a, b) => b.length - a.length);
    for (const s of this.#root.ordered) if (out.includes(s)) out = out.split(s).join(REDACTED);
    return out;
  }

  debug(msg: string, fields?: Fields): void {
    this.#write("debug", msg, fields);
  }
  info(msg: string, fields?: Fields): void {
    this.#write("info", msg, fields);
  }
  warn(msg: string, fields?: Fields): void {
    this.#write("warn", msg, fields);
  }
  error(msg: string, fields?: Fields): void {
    this.#write("error", msg, fields);
  }

  #write(level: LogLevel, msg: string, extra?: Fields): void {
    if (LEVELS[level] < this.#root.level) return;
    const fields: Fields = { ...this.#fields, ...extra };
    // The line's own keys cannot be overwritten by a field of the same name.
    for (const key of ["level", "time", "msg"]) {
      if (key in fields) {
        fields[`field_${key}`] = fields[key];
        delete fields[key];
      }
    }
    for (const [k, v] of Object.entries(fields)) {
      if (v instanceof Error) fields[k] = `${v.name}: ${v.message}`;
    }
    let line: string;
    if (this.#root.format === "json") {
      // Every line has a channel (null when it is about none) and an event, so log queries can
      // filter on them without checking whether the key exists.
      const { channel = null, event = "general", ...rest } = fields;
      // Redacting values (not the serialized line) keeps every line valid JSON with its own keys,
      // whatever a secret looks like.
      line = JSON.stringify(
        { level, time: new Date().toISOString(), channel, event, msg, ...rest },
        (_key, value) => this.#redactJson(value),
      );
      this.#root.sink(line, level);
      return;
    } else {
      const { channel, plugin, event, ...rest } = fields;
      const tags = [channel ? `#${channel}` : "", plugin ? `[${plugin}]` : "", event ? `${event}` : ""]
        .filter(Boolean).join(" ");
      const restText = Object.entries(rest).map(([k, v]) =>
        `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`
      )
        .join(" ");
      const time = new Date().toISOString().slice(11, 19);
      const lvl = level.toUpperCase().padEnd(5);
      const head = this.#root.colour ? `${COLOURS[level]}${lvl}\x1b[0m` : lvl;
      line = `${time} ${head} ${tags ? tags + " " : ""}${msg}${restText ? " " + restText : ""}`;
    }
    this.#root.sink(this.redact(line), level);
  }

  #redactJson(value: unknown): unknown {
    if (typeof value === "string") return this.redact(value);
    if (typeof value === "number" || typeof value === "bigint") {
      const text = String(value);
      const redacted = this.redact(text);
      return redacted === text ? value : redacted;
    }
    if (value !== null && typeof value === "object" && !Array.isArray(value)) {
      // Field names can carry a secret too (a map keyed by token); JSON.stringify then visits the
      // values of the returned copy.
      const entries = Object.entries(value);
      if (entries.some(([k]) => this.redact(k) !== k)) {
        return Object.fromEntries(entries.map(([k, v]) => [this.redact(k), v]));
      }
    }
    return value;
  }
}

function maskUserinfo(match: string, scheme: string, userinfo: string): string {
  const colon = userinfo.indexOf(":");
  if (colon === -1) return match;
  const password = userinfo.slice(colon + 1);
  if (password === "" || password === "***" || password === REDACTED) return match;
  return `${scheme}${userinfo.slice(0, colon)}:${REDACTED}@`;
}

/** A logger that collects lines in memory, for tests. */
export function memoryLogger(level: LogLevel = "debug", format: "console" | "json" = "json"): {
  log: Logger;
  lines: string[];
} {
  const lines: string[] = [];
  const log = new Logger({ level, format, sink: (l) => lines.push(l), colour: false });
  return { log, lines };
}
