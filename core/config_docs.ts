/**
 * Generates `docs/CONFIGURATION.md` from `ConfigSchema` and `ENV_BINDINGS`: every key with its type,
 * default, allowed values, environment variable and description. The schema is the single source of
 * truth, so the page is rebuilt (`deno task docs:config`) rather than edited, and
 * `tests/config_docs_test.ts` fails when the committed page has drifted.
 * @module
 */
import type { z } from "zod";
import {
  ConfigSchema,
  ENV_BINDINGS,
  type EnvBinding,
  LIVE_SETTING_KEYS,
  SECRET_PATHS,
} from "./config_schema.ts";
import { MIN_PASSPHRASE_LENGTH, SECRET_KEY_ENV } from "./secret_key.ts";

/** One documented setting. */
export interface ConfigKeyDoc {
  /** Dotted path as written in TOML; `[]` marks an array of tables, `<name>` any key of a table. */
  path: string;
  /** Human type name such as `integer` or `list of strings`. */
  type: string;
  /** Default as a TOML value, or null when the key is unset by default. */
  default: string | null;
  /** Range or allowed values, or "" when any value of the type is accepted. */
  allowed: string;
  /** Environment variable that overrides the key, if any. */
  env: EnvBinding | null;
  /** The schema's `.describe()` text, or "" when the key has none. */
  description: string;
  /** True for per-channel settings moderators may change while the bot runs. */
  live: boolean;
  /** True when the value is a secret (never logged or echoed). */
  secret: boolean;
}

// zod 4 keeps a schema's structure in `_zod.def`; this is the documented way for tools to walk it.
type AnySchema = z.core.$ZodType;
interface Def {
  type: string;
  [key: string]: unknown;
}

function defOf(schema: AnySchema): Def {
  return schema._zod.def as unknown as Def;
}

function descriptionOf(schema: AnySchema): string {
  return (schema as { description?: string }).description ?? "";
}

/** Wrappers that do not change what a user writes: defaults, optional, readonly. */
interface Unwrapped {
  core: AnySchema;
  defaultValue: unknown;
  hasDefault: boolean;
  description: string;
}

function unwrap(schema: AnySchema): Unwrapped {
  let node = schema;
  let description = descriptionOf(node);
  let defaultValue: unknown;
  let hasDefault = false;
  for (;;) {
    const def = defOf(node);
    if (def.type === "default" || def.type === "prefault") {
      if (!hasDefault) {
        defaultValue = def.defaultValue;
        hasDefault = true;
      }
    } else if (def.type !== "optional" && def.type !== "readonly" && def.type !== "nullable") break;
    node = def.innerType as AnySchema;
    description ||= descriptionOf(node);
  }
  return { core: node, defaultValue, hasDefault, description };
}

/** The schema the user's value is checked against first, and every later stage of a pipe. */
function pipeStages(schema: AnySchema): AnySchema[] {
  const def = defOf(schema);
  if (def.type === "pipe") return [...pipeStages(def.in as AnySchema), ...pipeStages(def.out as AnySchema)];
  if (def.type === "transform") return [];
  return [schema];
}

/** The checks of a schema, including the schema itself when it is a format such as `z.url()`. */
function checksOf(schema: AnySchema): Def[] {
  const def = defOf(schema);
  const checks = (def.checks ?? []) as { _zod: { def: Def } }[];
  return [...(typeof def.check === "string" ? [def] : []), ...checks.map((c) => c._zod.def)];
}

/** The message of a check's custom `{ error }`, which already says what is allowed. */
function customMessage(check: Def): string | null {
  if (typeof check.error !== "function") return null;
  try {
    const out = (check.error as (issue: unknown) => unknown)({ code: "custom", input: undefined });
    if (typeof out === "string") return out;
    if (out && typeof out === "object" && typeof (out as { message?: unknown }).message === "string") {
      return (out as { message: string }).message;
    }
  } catch {
    // A message builder that needs a real issue: fall back to describing the check ourselves.
  }
  return null;
}

function typeName(schema: AnySchema): string {
  const stages = pipeStages(schema);
  const first = stages[0] ?? schema;
  const def = defOf(first);
  switch (def.type) {
    case "number":
      return checksOf(first).some((c) => c.check === "number_format" && String(c.format).includes("int"))
        ? "integer"
        : "number";
    case "string":
      return checksOf(first).some((c) => c.format === "url") ? "URL" : "string";
    case "enum":
      return "string";
    case "array": {
      const element = unwrap(def.element as AnySchema).core;
      const inner = typeName(element);
      return inner === "table" ? "array of tables" : `list of ${inner}s`;
    }
    case "record":
    case "object":
      return "table";
    default:
      return def.type;
  }
}

function quote(value: string): string {
  return `\`${value}\``;
}

function allowedOf(schema: AnySchema): string {
  const parts: string[] = [];
  for (const stage of pipeStages(schema)) {
    const def = defOf(stage);
    if (def.type === "enum") {
      parts.push(Object.values(def.entries as Record<string, string>).map((v) => quote(v)).join(", "));
      continue;
    }
    if (def.type === "boolean") {
      parts.push(`${quote("true")}, ${quote("false")}`);
      continue;
    }
    if (def.type === "array") {
      const element = allowedOf(unwrap(def.element as AnySchema).core);
      const max = checksOf(stage).find((c) => c.check === "max_length");
      if (element) parts.push(`each ${element}`);
      if (max) parts.push(`at most ${max.maximum} items`);
      continue;
    }
    const checks = checksOf(stage);
    if (def.type === "number") {
      const min = checks.find((c) => c.check === "greater_than");
      const max = checks.find((c) => c.check === "less_than");
      if (min && max) parts.push(`${min.value}..${max.value}`);
      else if (min) parts.push(`at least ${min.value}`);
      else if (max) parts.push(`at most ${max.value}`);
      continue;
    }
    if (def.type === "string") {
      const min = checks.find((c) => c.check === "min_length");
      const max = checks.find((c) => c.check === "max_length");
      if (min && max) parts.push(`${min.minimum}-${max.maximum} characters`);
      else if (min) parts.push(min.minimum === 1 ? "not empty" : `at least ${min.minimum} characters`);
      else if (max) parts.push(`at most ${max.maximum} characters`);
      for (const check of checks) {
        if (check.check !== "string_format") continue;
        const message = customMessage(check);
        if (message) parts.push(message.replace(/^must be /, ""));
        else if (check.format === "url") parts.push("a URL");
        else if (check.format === "regex") parts.push(`matching ${quote(String(check.pattern))}`);
      }
    }
  }
  return parts.join("; ");
}

/** Renders a default as the TOML a user would write. */
function tomlValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(tomlValue).join(", ")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value);
    return entries.length === 0
      ? "{}"
      : `{ ${entries.map(([k, v]) => `${k} = ${tomlValue(v)}`).join(", ")} }`;
  }
  return String(value);
}

/** An environment variable clank reads directly, outside `ENV_BINDINGS`: it sets no key of the file. */
export interface OtherEnvVar {
  env: string;
  /** One or two sentences: what it does and what it accepts. */
  description: string;
  secret?: boolean;
}

/**
 * Every variable read outside the schema. `tests/config_docs_test.ts` scans the sources for
 * `Deno.env.get` so a new one cannot stay undocumented.
 */
export const OTHER_ENV_VARS: readonly OtherEnvVar[] = [
  {
    env: SECRET_KEY_ENV,
    description: "Key that encrypts the Twitch token stored by `auth`: 32 bytes as base64 or 64 hex digits " +
      `(\`openssl rand -base64 32\`), or a passphrase of at least ${MIN_PASSPHRASE_LENGTH} characters. When set, ` +
      "it is used instead of the key file [`auth.key_file`](#authkey_file); changing it later makes the stored " +
      "token unreadable until `auth` runs again.",
    secret: true,
  },
  {
    // core/migrate_db.ts MIGRATE_TO_ENV; not imported, which would load the MySQL driver into this tool.
    env: "MIGRATE_TO_URL",
    description:
      "Target of `migrate-db` when `--to` is not given: `mysql://user:password@host:3306/database`. " +
      "Read only by `migrate-db`; it keeps the password out of the shell history.",
    secret: true,
  },
];

const ENV_BY_PATH = new Map(ENV_BINDINGS.map((b) => [b.path.join("."), b]));
const LIVE = new Set<string>(LIVE_SETTING_KEYS);

/** Every documented key of `schema` (default: `ConfigSchema`), in schema order. */
export function collectConfigKeys(schema: AnySchema = ConfigSchema): ConfigKeyDoc[] {
  const out: ConfigKeyDoc[] = [];
  walk(schema, [], out);
  return out;
}

function walk(schema: AnySchema, path: string[], out: ConfigKeyDoc[]): void {
  const { core, defaultValue, hasDefault, description } = unwrap(schema);
  // A checked or normalised table (`z.record(…).superRefine(…).transform(…)`) is documented by what
  // the user writes: the record the pipe starts with.
  const coreDef = defOf(core);
  const def = coreDef.type === "pipe" ? defOf(pipeStages(core)[0]!) : coreDef;
  const dotted = path.join(".");
  // Objects are sections: their keys are documented, not the object itself.
  if (def.type === "object") {
    for (const [key, child] of Object.entries(def.shape as Record<string, AnySchema>)) {
      walk(child, [...path, key], out);
    }
    return;
  }
  if (def.type === "array") {
    const element = unwrap(def.element as AnySchema).core;
    if (defOf(element).type === "object") {
      walk(element, [...path.slice(0, -1), `${path[path.length - 1]}[]`], out);
      return;
    }
  }
  // A record of tables (per-channel overrides) is documented once, under a placeholder key.
  if (def.type === "record") {
    const value = unwrap(def.valueType as AnySchema).core;
    if (defOf(value).type === "object") {
      const keys = Object.keys(defOf(value).shape as Record<string, unknown>);
      out.push({
        path: `${dotted}.<name>`,
        type: "table",
        default: null,
        allowed: `any of the keys ${keys.map(quote).join(", ")}`,
        env: null,
        description,
        live: false,
        secret: false,
      });
      return;
    }
  }
  out.push({
    path: dotted,
    type: typeName(core),
    default: hasDefault ? tomlValue(defaultValue) : null,
    allowed: allowedOf(core),
    env: ENV_BY_PATH.get(dotted) ?? null,
    description,
    live: path[0] === "defaults" && path.length === 2 && LIVE.has(path[1]!),
    secret: SECRET_PATHS.includes(dotted),
  });
}

/** The section a key is documented under: its table, `plugins[]`, or "" for the top level. */
function sectionOf(key: ConfigKeyDoc): string {
  if (key.path.startsWith("plugins[].")) return "plugins[]";
  const dot = key.path.indexOf(".");
  return dot < 0 ? "" : key.path.slice(0, dot);
}

const SECTION_INTRO: Record<string, string> = {
  "": "Keys at the top level of the file, before any table.",
  twitch: "The Twitch account, the channels to join and chat commands.",
  ollama: "The Ollama server and the model's generation settings.",
  database: "Where chat history, settings and tokens are stored.",
  http: "The control plane: health, Prometheus metrics, the settings API and the dashboard.",
  filter: "The content filter applied to the bot's own lines.",
  log: "Logging.",
  defaults: "Settings of every channel. A `[channels.<login>]` table overrides any of them for one " +
    "channel. Keys marked *live* can also be changed while the bot runs, by moderators in chat or " +
    "through the HTTP API; those changes are stored in the database and win over the file.",
  "plugins[]": "One `[[plugins]]` table per plugin to configure. Built-ins and drop-ins in `plugins_dir` " +
    "are named by `name`; a plugin file elsewhere needs a `path`. Plugin files run sandboxed in a Worker " +
    "with no permissions beyond those listed under `permissions`; only a `path` entry with " +
    "`sandbox = false` runs in-process, with all of the bot's permissions (a warning is logged when it loads).",
};

function sectionTitle(section: string): string {
  if (section === "") return "Top level";
  if (section === "plugins[]") return "`[[plugins]]`";
  if (section === "channels") return "`[channels.<name>]`";
  return `\`[${section}]\``;
}

function envKindText(binding: EnvBinding): string {
  switch (binding.kind) {
    case "list":
      return "comma-separated list";
    case "boolean":
      return "`true` or `false` (also `1`/`0`, `yes`/`no`, `on`/`off`)";
    case "number":
      return "number";
    default:
      return "string";
  }
}

function keyBlock(key: ConfigKeyDoc): string[] {
  const lines = [`### \`${key.path}\``, ""];
  if (key.description) lines.push(key.description, "");
  lines.push(`- Type: ${key.type}`);
  lines.push(`- Default: ${key.default === null ? "unset" : quote(key.default)}`);
  if (key.allowed) lines.push(`- Allowed: ${key.allowed}`);
  if (key.env) lines.push(`- Environment: ${quote(key.env.env)} (${envKindText(key.env)})`);
  if (key.live) lines.push("- *Live:* moderators can change it per channel while the bot runs");
  if (key.secret) lines.push("- *Secret:* never logged, echoed in errors or returned by the API");
  lines.push("");
  return lines;
}

/** The Markdown of docs/CONFIGURATION.md, before `deno fmt` wraps it. */
export function configDocsMarkdown(): string {
  const keys = collectConfigKeys();
  const sections: string[] = [];
  for (const key of keys) {
    const section = sectionOf(key);
    if (!sections.includes(section)) sections.push(section);
  }
  // Top-level keys first, then the tables in schema order.
  sections.sort((a, b) => (a === "" ? -1 : b === "" ? 1 : 0));

  const lines: string[] = [
    "# Configuration",
    "",
    "<!-- Generated from core/config_schema.ts by `deno task docs:config`. Do not edit by hand: " +
    "tests/config_docs_test.ts fails when this file and the schema disagree. -->",
    "",
    "clank reads a TOML file (`--config PATH`, otherwise `./config.toml` when it exists), then applies " +
    "the [environment variables](#environment-variables) on top of it. Every value is checked at " +
    "start-up; a wrong value stops the bot with one line per problem naming the key, the value and " +
    "what is allowed. Secrets are never printed, in those messages or anywhere else. " +
    "`config.example.toml` is a commented starting point.",
    "",
    "For each key: **Default** is the value used when the key is left out (*unset* means no value), " +
    "**Allowed** is the accepted range or values, and **Environment** is the variable that overrides " +
    "the key.",
    "",
  ];
  for (const section of sections) {
    lines.push(`## ${sectionTitle(section)}`, "");
    const intro = SECTION_INTRO[section];
    if (intro) lines.push(intro, "");
    for (const key of keys) if (sectionOf(key) === section) lines.push(...keyBlock(key));
  }
  lines.push(
    "## Environment variables",
    "",
    "Each variable overrides one key of the file. An empty variable counts as unset. With systemd they " +
      "go in `/etc/twitch-ollama-chatbot/env`; with Docker in the env files of `deploy/docker/` (for " +
      "`docker-compose.yml`, `.env` in the repository root). A `.env` file in the working directory is " +
      "read at start as well; variables already set in the environment win over it.",
    "",
    "Variables are read once, at start. A reload (`SIGHUP`, `POST /api/reload`) re-reads the config file, " +
      "but environment variables keep the values the process started with: changing one needs a restart. " +
      "[INSTALLATION.md](INSTALLATION.md#what-a-reload-applies) lists what a reload applies.",
    "",
    "| Variable | Key | Value |",
    "| --- | --- | --- |",
  );
  for (const binding of ENV_BINDINGS) {
    const secret = binding.secret ? ", secret" : "";
    lines.push(
      `| ${quote(binding.env)} | [${quote(binding.path.join("."))}](#${anchor(binding.path.join("."))}) | ` +
        `${envKindText(binding).replaceAll("|", "\\|")}${secret} |`,
    );
  }
  lines.push(
    "",
    "## Other environment variables",
    "",
    "These variables set no key of the file; clank reads them directly.",
    "",
    "| Variable | Meaning |",
    "| --- | --- |",
  );
  for (const variable of OTHER_ENV_VARS) {
    const secret = variable.secret ? " *Secret:* never logged or echoed." : "";
    lines.push(`| ${quote(variable.env)} | ${variable.description.replaceAll("|", "\\|")}${secret} |`);
  }
  lines.push("");
  return lines.join("\n");
}

/** The anchor GitHub gives a `### \`key\`` heading. */
function anchor(path: string): string {
  return path.toLowerCase().replace(/[^a-z0-9_\- ]/g, "").replaceAll(" ", "-");
}

/** Formats Markdown exactly as `deno fmt` does, so the generated file passes `deno fmt --check`. */
export async function formatMarkdown(markdown: string, configPath?: string): Promise<string> {
  const args = ["fmt", "--ext=md"];
  if (configPath) args.push(`--config=${configPath}`);
  args.push("-");
  const child = new Deno.Command(Deno.execPath(), { args, stdin: "piped", stdout: "piped", stderr: "piped" })
    .spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(markdown));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  if (code !== 0) {
    throw new Error(`Formatting the configuration docs failed: ${new TextDecoder().decode(stderr).trim()}`);
  }
  return new TextDecoder().decode(stdout);
}

/** The finished docs/CONFIGURATION.md text. */
export async function renderConfigDocs(): Promise<string> {
  const configPath = new URL("../deno.json", import.meta.url).pathname;
  return await formatMarkdown(configDocsMarkdown(), configPath);
}

if (import.meta.main) {
  const target = Deno.args[0];
  const text = await renderConfigDocs();
  if (target) {
    await Deno.writeTextFile(target, text);
    console.log(`Wrote ${target}`);
  } else {
    await Deno.stdout.write(new TextEncoder().encode(text));
  }
}
