/**
 * Logging: `console` (readable, coloured only on a TTY) or `json` (one object per line with level,
 * time, channel and event). Every line passes through redaction, so a registered secret never
 * reaches the output even when it hides inside an error message.
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

/** Shared state of a logger tree. */
interface LogRoot {
  level: number;
  format: "console" | "json";
  colour: boolean;
  sink: LogSink;
  secrets: Set<string>;
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
    };
    this.#fields = fields;
  }

  /** A logger that adds `fields` to every line. */
  child(fields: Fields): Logger {
    return new Logger({}, this.#root, { ...this.#fields, ...fields });
  }

  /** Registers a secret; every later line has it replaced by `[redacted]`. */
  addSecret(secret: string | undefined): void {
    if (!secret || secret.length < 4) return;
    this.#root.secrets.add(secret);
    // A token is often printed with its `oauth:` prefix stripped or added.
    if (secret.startsWith("oauth:")) this.#root.secrets.add(secret.slice(6));
    // JSON lines and API bodies escape `"` and `\`: the escaped form must be caught too.
    const escaped = JSON.stringify(secret).slice(1, -1);
    if (escaped !== secret) this.#root.secrets.add(escaped);
  }

  /** Changes the level at run time (config reload). */
  setLevel(level: LogLevel): void {
    this.#root.level = LEVELS[level];
  }

  /** True when lines of this level are written. */
  enabled(level: LogLevel): boolean {
    return LEVELS[level] >= this.#root.level;
  }

  /** Replaces every registered secret in `text`. */
  redact(text: string): string {
    let out = text;
    for (const s of this.#root.secrets) if (out.includes(s)) out = out.split(s).join("[redacted]");
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
      line = JSON.stringify({ level, time: new Date().toISOString(), channel, event, msg, ...rest });
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
