/**
 * Load-time validation of a plugin declaration (Fastify-style: fail fast, coded, name the plugin).
 *
 * Runs on the host for in-process plugins and inside the Worker for sandboxed ones, so it must stay
 * free of host-only imports: it only needs the SDK types and `ClankError`.
 * @module
 */
import { ClankError } from "./errors.ts";
import type { PluginMeta, PluginMethod } from "./plugin_handle.ts";
import type { Plugin, PluginKind, PluginPermissions } from "../plugins/sdk.ts";
import { PLUGIN_API_VERSION } from "../plugins/sdk.ts";

/** Plugin names: lower case letter first, then letters, digits, `_` or `-`, at most 64 characters. */
export const PLUGIN_NAME_PATTERN: RegExp = /^[a-z][a-z0-9_-]{0,63}$/;

/** Command words and aliases: what follows the prefix in chat. */
export const COMMAND_WORD_PATTERN: RegExp = /^[a-z0-9][a-z0-9_-]{0,31}$/;

/** The five plugin kinds. */
export const PLUGIN_KINDS: readonly PluginKind[] = ["context", "generator", "filter", "cooldown", "command"];

/** Permission names a plugin may ask for. */
export const PERMISSION_NAMES: readonly (keyof PluginPermissions)[] = [
  "net",
  "read",
  "write",
  "env",
  "run",
  "ffi",
  "sys",
];

const HANDLER_METHODS: readonly PluginMethod[] = ["observe", "provide", "check", "gate", "run", "generate"];

/** The handler each kind must implement (context: `provide` or `observe`, checked separately). */
const REQUIRED_HANDLER: Record<PluginKind, PluginMethod | null> = {
  context: null,
  filter: "check",
  cooldown: "gate",
  command: "run",
  generator: "generate",
};

/** A validated declaration: the plugin object and its plain-data facts. */
export interface ValidatedPlugin {
  plugin: Plugin;
  meta: PluginMeta;
  /** Permissions the plugin declares it needs (empty lists removed). */
  permissions: PluginPermissions;
}

/** `Plugin "name" (source)`, or `Plugin at source` when the name itself is unusable. */
export function pluginLabel(name: unknown, source: string): string {
  return typeof name === "string" && PLUGIN_NAME_PATTERN.test(name)
    ? `Plugin "${name}" (${source})`
    : `Plugin at ${source}`;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isFunction(v: unknown): v is (...args: unknown[]) => unknown {
  return typeof v === "function";
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((s) => typeof s === "string");
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? v.slice(0, 40) + "…" : v);
  return typeof v;
}

/**
 * Checks a plugin declaration (usually a module's default export) and returns its metadata.
 * Every problem found is listed in one `PLUGIN_INVALID` error that names the plugin and its source.
 *
 * @example
 * ```ts
 * const { meta } = validatePluginDefinition(mod.default, "plugins.d/dice.ts", true);
 * ```
 */
export function validatePluginDefinition(def: unknown, source: string, sandboxed: boolean): ValidatedPlugin {
  if (!isRecord(def)) {
    throw new ClankError(
      "PLUGIN_INVALID",
      `Plugin at ${source}: the module must default-export definePlugin({ name, kind, apiVersion: 1, … }), got ${
        describe(def)
      }`,
      { details: { source } },
    );
  }
  const problems: string[] = [];
  const { name, kind } = def;
  if (typeof name !== "string" || !PLUGIN_NAME_PATTERN.test(name)) {
    problems.push(
      `name: must be 1-64 lower case letters, digits, "_" or "-" starting with a letter, got ${
        describe(name)
      }`,
    );
  }
  const kindOk = typeof kind === "string" && (PLUGIN_KINDS as readonly string[]).includes(kind);
  if (!kindOk) problems.push(`kind: must be one of ${PLUGIN_KINDS.join(", ")}, got ${describe(kind)}`);
  if (def.apiVersion !== PLUGIN_API_VERSION) {
    problems.push(
      `apiVersion: must be ${PLUGIN_API_VERSION} (the plugin API this host speaks), got ${
        describe(def.apiVersion)
      }`,
    );
  }
  for (const key of ["description", "version"] as const) {
    if (def[key] !== undefined && typeof def[key] !== "string") {
      problems.push(`${key}: must be a string, got ${describe(def[key])}`);
    }
  }
  for (const key of ["setup", "teardown", ...HANDLER_METHODS] as const) {
    if (def[key] !== undefined && !isFunction(def[key])) {
      problems.push(`${key}: must be a function, got ${describe(def[key])}`);
    }
  }
  const permissions = checkPermissions(def.permissions, problems);
  if (def.options !== undefined) {
    const std = isRecord(def.options) || isFunction(def.options)
      ? (def.options as Record<string, unknown>)["~standard"]
      : undefined;
    if (!isRecord(std) || !isFunction(std.validate)) {
      problems.push("options: must be a Standard Schema validator such as a zod schema (z.object({…}))");
    }
  }

  const meta: PluginMeta = {
    name: typeof name === "string" ? name : "",
    kind: (kindOk ? kind : "filter") as PluginKind,
    methods: HANDLER_METHODS.filter((m) => isFunction(def[m])),
    source,
    sandboxed,
  };
  if (kindOk) {
    const required = REQUIRED_HANDLER[kind as PluginKind];
    if (required !== null && !isFunction(def[required])) {
      problems.push(`${required}: a ${kind} plugin must implement ${required}()`);
    }
    if (kind === "context" && !isFunction(def.provide) && !isFunction(def.observe)) {
      problems.push("provide: a context plugin must implement provide() or observe()");
    }
    if (kind === "filter") checkFilter(def, meta, problems);
    if (kind === "cooldown") checkCooldown(def, meta, problems);
    if (kind === "command") checkCommand(def, meta, problems);
  }

  if (problems.length > 0) {
    throw new ClankError("PLUGIN_INVALID", `${pluginLabel(name, source)}: ${problems.join("; ")}`, {
      details: { plugin: meta.name || undefined, source },
    });
  }
  return { plugin: def as unknown as Plugin, meta, permissions };
}

function checkPermissions(value: unknown, problems: string[]): PluginPermissions {
  const out: PluginPermissions = {};
  if (value === undefined) return out;
  if (!isRecord(value)) {
    problems.push(`permissions: must be an object such as { net: ["api.example.com:443"] }`);
    return out;
  }
  for (const [key, list] of Object.entries(value)) {
    if (!(PERMISSION_NAMES as readonly string[]).includes(key)) {
      problems.push(`permissions.${key}: unknown permission, allowed: ${PERMISSION_NAMES.join(", ")}`);
    } else if (!isStringArray(list)) {
      problems.push(`permissions.${key}: must be a list of strings, got ${describe(list)}`);
    } else if (list.length > 0) {
      out[key as keyof PluginPermissions] = [...list];
    }
  }
  return out;
}

function checkFilter(def: Record<string, unknown>, meta: PluginMeta, problems: string[]): void {
  if (def.directions === undefined) return;
  const d = def.directions;
  if (!isStringArray(d) || d.length === 0 || !d.every((x) => x === "in" || x === "out")) {
    problems.push(`directions: must be a non-empty list of "in" and "out", got ${describe(d)}`);
  } else meta.directions = [...new Set(d)] as Array<"in" | "out">;
}

function checkCooldown(def: Record<string, unknown>, meta: PluginMeta, problems: string[]): void {
  if (def.triggers === undefined) return;
  const t = def.triggers;
  if (!isStringArray(t) || t.length === 0 || !t.every((x) => x === "mention" || x === "spontaneous")) {
    problems.push(`triggers: must be a non-empty list of "mention" and "spontaneous", got ${describe(t)}`);
  } else meta.triggers = [...new Set(t)] as Array<"mention" | "spontaneous">;
}

function checkCommand(def: Record<string, unknown>, meta: PluginMeta, problems: string[]): void {
  const wordRule = '1-32 lower case letters, digits, "_" or "-"';
  if (typeof def.command !== "string" || !COMMAND_WORD_PATTERN.test(def.command)) {
    problems.push(`command: must be ${wordRule}, got ${describe(def.command)}`);
  } else meta.command = def.command;
  if (def.aliases !== undefined) {
    if (!isStringArray(def.aliases) || !def.aliases.every((a) => COMMAND_WORD_PATTERN.test(a))) {
      problems.push(`aliases: must be a list of words of ${wordRule}`);
    } else meta.aliases = [...def.aliases];
  }
  if (typeof def.usage !== "string" || def.usage.trim() === "" || def.usage.length > 200) {
    problems.push(`usage: must be a one-line string of 1-200 characters such as "roll NdM"`);
  } else meta.usage = def.usage;
  if (def.permission !== "everyone" && def.permission !== "moderator") {
    problems.push(`permission: must be "everyone" or "moderator", got ${describe(def.permission)}`);
  } else meta.permission = def.permission;
  if (def.cooldown !== undefined) {
    const c = def.cooldown;
    const okNumber = (v: unknown) => v === undefined || (typeof v === "number" && v >= 0 && v <= 86400);
    if (
      !isRecord(c) || !okNumber(c.user) || !okNumber(c.channel) ||
      Object.keys(c).some((k) => k !== "user" && k !== "channel")
    ) {
      problems.push("cooldown: must be { user?: seconds, channel?: seconds } with seconds in 0..86400");
    } else {
      meta.cooldown = {};
      if (c.user !== undefined) meta.cooldown.user = c.user as number;
      if (c.channel !== undefined) meta.cooldown.channel = c.channel as number;
    }
  }
}

function pathText(path: ReadonlyArray<unknown> | undefined): string {
  if (!path || path.length === 0) return "options";
  const keys = path.map((p) => (isRecord(p) && "key" in p ? p.key : p)).map(String);
  return `options.${keys.join(".")}`;
}

/**
 * Validates `[[plugins]] options` through the plugin's Standard Schema and returns the parsed value
 * (with the schema's defaults applied). Without a schema the raw options are passed through.
 * Fails with `PLUGIN_INVALID` naming the plugin, its source and every offending option.
 */
export async function validatePluginOptions(plugin: Plugin, source: string, raw: unknown): Promise<unknown> {
  const schema = plugin.options;
  if (schema === undefined) return raw ?? {};
  let result: unknown;
  try {
    result = await schema["~standard"].validate(raw ?? {});
  } catch (err) {
    throw new ClankError(
      "PLUGIN_INVALID",
      `${pluginLabel(plugin.name, source)}: options could not be validated: ${
        err instanceof Error ? err.message : String(err)
      }`,
      { details: { plugin: plugin.name, source } },
    );
  }
  const r = isRecord(result) ? result : {};
  if (Array.isArray(r.issues) && r.issues.length > 0) {
    const issues = (r.issues as Array<{ message?: unknown; path?: ReadonlyArray<unknown> }>)
      .map((i) => `${pathText(i.path)}: ${String(i.message ?? "is invalid")}`);
    throw new ClankError("PLUGIN_INVALID", `${pluginLabel(plugin.name, source)}: ${issues.join("; ")}`, {
      details: { plugin: plugin.name, source },
    });
  }
  return r.value;
}
