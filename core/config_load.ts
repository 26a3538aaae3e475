/**
 * Loads the configuration: TOML file (`--config PATH`, else `./config.toml` if present), then
 * environment variables on top, validated by `ConfigSchema`. Problems come back one per line naming
 * the key, the value and what is allowed; secrets are never echoed.
 * @module
 */
import { parse as parseToml } from "smol-toml";
import type { z } from "zod";
import { ClankError } from "./errors.ts";
import { type Config, ConfigSchema, ENV_BINDINGS, SECRET_PATHS } from "./config_schema.ts";

/** Where the config came from, for the start-up log. */
export interface LoadedConfig {
  config: Config;
  /** The TOML file read, if any. */
  file: string | null;
  /** Environment variables that overrode the file. */
  envUsed: string[];
}

/** Reads an environment variable; a function so tests can pass a map. */
export type EnvReader = (name: string) => string | undefined;

/** Reads `Deno.env` without throwing when env access is denied. */
export const denoEnv: EnvReader = (name) => {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
};

/** The error for config problems found at start: exit 2 and one indented line per problem. */
export function invalidConfig(problems: string[]): ClankError {
  return new ClankError("CONFIG_INVALID", `Invalid configuration:\n  ${problems.join("\n  ")}`, {
    details: { problems },
  });
}

/** Loads and validates the config. Throws `ClankError("CONFIG_INVALID")` listing every problem. */
export async function loadConfig(
  options: { path?: string; env?: EnvReader; cwd?: string } = {},
): Promise<LoadedConfig> {
  const env = options.env ?? denoEnv;
  const cwd = options.cwd ?? Deno.cwd();
  let file: string | null = null;
  let raw: Record<string, unknown> = {};
  const candidate = options.path ?? `${cwd}/config.toml`;
  let text: string | null = null;
  try {
    text = await Deno.readTextFile(candidate);
    file = candidate;
  } catch (err) {
    if (options.path !== undefined) {
      const why = err instanceof Deno.errors.NotFound
        ? "does not exist"
        : `cannot be read (${(err as Error).name})`;
      throw new ClankError(
        "CONFIG_NOT_FOUND",
        `Config file ${options.path} ${why}; pass an existing file to --config`,
      );
    }
    // ./config.toml is optional, but one that is there and cannot be read (permissions, a directory)
    // must not be skipped: the bot would run on defaults and say nothing about it.
    if (!(err instanceof Deno.errors.NotFound)) {
      throw new ClankError(
        "CONFIG_NOT_FOUND",
        `${candidate} cannot be read (${
          (err as Error).name
        }); fix its permissions, or pass another file to --config`,
      );
    }
  }
  if (text !== null) {
    try {
      raw = parseToml(text) as Record<string, unknown>;
    } catch (err) {
      // Only the first line: the parser's excerpt of the source below it could show a secret.
      const { line, column } = err as { line?: number; column?: number };
      const where = typeof line === "number"
        ? ` (line ${line}${typeof column === "number" ? `, column ${column}` : ""})`
        : "";
      const msg = (err as Error).message.split("\n")[0] + where;
      throw new ClankError("CONFIG_INVALID", `${file}: not valid TOML: ${msg}`, {
        details: { problems: [`${file}: not valid TOML: ${msg}`] },
      });
    }
  }
  const envUsed: string[] = [];
  const problems: string[] = [];
  for (const binding of ENV_BINDINGS) {
    const value = env(binding.env);
    if (value === undefined || value === "") continue;
    envUsed.push(binding.env);
    const converted = convertEnv(binding.kind, value);
    if (converted.ok) setPath(raw, binding.path, converted.value);
    else {
      problems.push(
        `${binding.env}: ${
          binding.secret ? "(secret value hidden)" : maskUrlPasswords(JSON.stringify(value))
        } ${converted.message}`,
      );
    }
  }
  const result = ConfigSchema.safeParse(raw);
  if (!result.success) problems.push(...formatIssues(result.error.issues, raw));
  if (problems.length > 0) throw invalidConfig(problems);
  const config = result.data!;
  return { config, file, envUsed };
}

function convertEnv(
  kind: string,
  value: string,
): { ok: true; value: unknown } | { ok: false; message: string } {
  switch (kind) {
    case "number": {
      const n = Number(value.trim());
      return Number.isFinite(n) && value.trim() !== ""
        ? { ok: true, value: n }
        : { ok: false, message: "must be a number" };
    }
    case "boolean": {
      const v = value.trim().toLowerCase();
      if (["1", "true", "yes", "on"].includes(v)) return { ok: true, value: true };
      if (["0", "false", "no", "off"].includes(v)) return { ok: true, value: false };
      return { ok: false, message: "must be true or false (also 1/0, yes/no, on/off)" };
    }
    case "list":
      return { ok: true, value: value.split(",").map((s) => s.trim()).filter((s) => s !== "") };
    default:
      return { ok: true, value };
  }
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== "object" || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
}

function getPath(source: unknown, path: readonly PropertyKey[]): unknown {
  let node = source;
  for (const key of path) {
    if (typeof node !== "object" || node === null) return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}

/** Env variable names by dotted config path, to mention them in messages. */
const ENV_BY_PATH = new Map(ENV_BINDINGS.map((b) => [b.path.join("."), b.env]));

/**
 * Formats zod issues as `key: value message` lines (e.g. `defaults.threshold: 500 is out of range
 * 5..200`). Secret values are replaced by `(secret value hidden)`.
 */
export function formatIssues(issues: readonly z.core.$ZodIssue[], input: unknown): string[] {
  return issues.map((issue) => {
    const path = issue.path.map(String).join(".");
    if (issue.code === "unrecognized_keys") {
      const keys = (issue as { keys: string[] }).keys;
      const where = path === "" ? "top level" : path;
      return `${where}: unknown key${keys.length > 1 ? "s" : ""} ${keys.map((k) => `"${k}"`).join(", ")}` +
        " (see config.example.toml for the allowed keys)";
    }
    const value = getPath(input, issue.path);
    const secret = SECRET_PATHS.some((p) => path === p || path.startsWith(p + "."));
    const shown = secret
      ? "(secret value hidden)"
      : value === undefined
      ? "(missing)"
      : maskUrlPasswords(JSON.stringify(value));
    // A list item (TWITCH_CHANNELS' second channel is twitch.channels.1) names its list's variable.
    const env = ENV_BY_PATH.get(path) ?? ENV_BY_PATH.get(issue.path.slice(0, -1).map(String).join("."));
    return `${path || "config"}${env ? ` (${env})` : ""}: ${shown} ${issue.message}`;
  });
}

/** `scheme://user:password@host` → `scheme://user:***@host`: a URL's password is a secret too. */
export function maskUrlPasswords(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/[^\s:/@"]*):[^\s@/"]*@/gi, "$1:***@");
}
