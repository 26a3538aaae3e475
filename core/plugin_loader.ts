/**
 * Loads every plugin the config asks for: built-ins, `[[plugins]]` entries with a `path`, and the
 * drop-in files of `plugins_dir`. A plugin that fails to load is reported and skipped; the bot goes on.
 *
 * Order: built-ins (registry order), then `[[plugins]]` entries with a `path` (config order), then
 * `plugins_dir` files (alphabetical). Drop-ins always run in a Worker with no permissions except what
 * a `[[plugins]]` entry grants them: the entry whose `path` points at the file, or whose `name` equals
 * the file name without extension (never the name the plugin declares: any file could claim it).
 * @module
 */
import { basename, extname, isAbsolute, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { BUILTIN_PLUGINS, type BuiltinPlugin } from "./builtin_plugins.ts";
import type { Config } from "./config_schema.ts";
import { ClankError, describeError } from "./errors.ts";
import type { DeadlineTimers } from "./deadline.ts";
import { createInProcessPlugin, type PluginStoreBackend } from "./inprocess_plugin.ts";
import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics.ts";
import type { PluginHandle } from "./plugin_handle.ts";
import { checkReservedName, createSandboxedPlugin } from "./sandbox_host.ts";

/** One `[[plugins]]` entry of the config. */
type PluginEntry = Config["plugins"][number];

/** What the loader needs from the host. */
export interface PluginLoaderDeps {
  log: Logger;
  metrics: Metrics;
  store: PluginStoreBackend;
  /** Directory relative paths (`path`, `plugins_dir`, granted paths) are resolved against. */
  baseDir: string;
  /** The built-in registry (tests pass their own). */
  builtins?: readonly BuiltinPlugin[];
  /** Timers for in-process `setup`/`teardown` deadlines (tests that fake time pass real ones). */
  lifecycleTimers?: DeadlineTimers;
}

/** Loaded plugins in pipeline order, and one line per plugin or entry that was skipped. */
export interface LoadedPlugins {
  plugins: PluginHandle[];
  /** Already logged; the host may show them (`/api/status`, reload response). */
  problems: string[];
  /** The `[[plugins]]` entries among them that name nothing: typos, which stop a first start. */
  unmatched: string[];
}

/**
 * The bot's own code: a sandboxed built-in imports helper modules from these directories, so its
 * Worker may read them (they hold code, not configuration or secrets).
 */
const BOT_SOURCE_DIRS = ["../core/", "../plugins/", "../commands/", "../filters/"]
  .map((d) => fileURLToPath(new URL(d, import.meta.url)));

/** Default call deadline of the config schema (`timeout_ms`). */
const DEFAULT_TIMEOUT_MS = 2000;

/** Drop-in file names: `*.ts` or `*.js`, not declarations, not hidden or `_private` files. */
export function isDropInFile(name: string): boolean {
  return /\.(ts|js)$/.test(name) && !name.endsWith(".d.ts") && !name.startsWith(".") && !name.startsWith("_");
}

/** Resolves a `path` (relative, absolute or `file:` URL) to an absolute file path. */
export function resolvePluginPath(path: string, baseDir: string): string {
  if (path.startsWith("file:")) return fileURLToPath(path);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(path)) {
    throw new ClankError(
      "PLUGIN_LOAD_FAILED",
      `Plugin path ${path} is a remote URL; only local files are loaded: download it into plugins_dir`,
    );
  }
  return isAbsolute(path) ? path : resolve(baseDir, path);
}

/**
 * Loads all plugins of `config`. Never throws for a single bad plugin: its problem is logged and
 * returned in `problems`, and the others load.
 *
 * @example
 * ```ts
 * const { plugins, problems } = await loadPlugins(config, { log, metrics, store, baseDir: Deno.cwd() });
 * ```
 */
export async function loadPlugins(config: Config, deps: PluginLoaderDeps): Promise<LoadedPlugins> {
  const log = deps.log.child({ event: "plugins" });
  const builtins = deps.builtins ?? BUILTIN_PLUGINS;
  const problems: string[] = [];
  const usedEntries = new Set<PluginEntry>();
  const pathEntries = config.plugins.filter((e) => e.path !== undefined);
  const nameEntries = config.plugins.filter((e) => e.path === undefined);

  // Built-ins.
  const builtinLoads = builtins.map((b) => {
    const entry = nameEntries.find((e) => e.name === b.name);
    if (entry) usedEntries.add(entry);
    const enabled = entry ? entry.enabled : b.defaultEnabled(config);
    return settle(enabled ? loadBuiltin(b, entry, config, deps) : Promise.resolve(null));
  });

  // A plugin file may not pass for a built-in, enabled or not: the store is kept per plugin name.
  const reservedNames: ReadonlySet<string> = new Set(builtins.map((b) => b.name));

  // `[[plugins]]` entries with a path.
  const entryFiles = new Set<string>();
  const entryLoads = pathEntries.map((entry) => {
    usedEntries.add(entry);
    let file: string;
    try {
      file = resolvePluginPath(entry.path!, deps.baseDir);
    } catch (err) {
      return settle(Promise.reject(err));
    }
    entryFiles.add(file);
    if (!entry.enabled) return settle(Promise.resolve(null));
    return settle(loadFile(file, entry, entry.sandbox !== false, deps, log, reservedNames));
  });

  // Drop-ins in plugins_dir.
  const dir = resolve(deps.baseDir, config.plugins_dir);
  const files = (await listDropIns(dir, log, problems)).filter((f) => !entryFiles.has(f));
  const isBuiltinName = (name: string | undefined) => builtins.some((b) => b.name === name);
  const dirLoads = files.map((file) =>
    settle((async () => {
      const stem = basename(file, extname(file));
      // Grants go by what the operator controls — the entry's path or the file's name — never by the
      // name a plugin declares for itself: any file could declare another plugin's name and take its grant.
      const entry = nameEntries.find((e) => e.name === stem && !isBuiltinName(e.name));
      if (entry) usedEntries.add(entry);
      if (entry && !entry.enabled) return null;
      return await loadFile(file, entry, true, deps, log, reservedNames);
    })())
  );

  const settled = await Promise.all([...builtinLoads, ...entryLoads, ...dirLoads]);
  const plugins: PluginHandle[] = [];
  const byName = new Map<string, PluginHandle>();
  const byCommand = new Map<string, PluginHandle>();
  for (const s of settled) {
    if (s.status === "rejected") {
      problems.push(describeProblem(s.reason));
      continue;
    }
    const handle = s.value;
    if (handle === null) continue;
    const clash = byName.get(handle.meta.name) ?? commandClash(handle, byCommand);
    if (clash) {
      const what = clash.meta.name === handle.meta.name
        ? `has the same name as the plugin from ${clash.meta.source}`
        : `uses a command word of plugin "${clash.meta.name}" (${clash.meta.source})`;
      problems.push(`Plugin "${handle.meta.name}" (${handle.meta.source}) ${what}; rename one or disable it`);
      await handle.close();
      continue;
    }
    byName.set(handle.meta.name, handle);
    for (const word of commandWords(handle)) byCommand.set(word, handle);
    plugins.push(handle);
  }
  const unmatched: string[] = [];
  for (const entry of nameEntries) {
    if (!usedEntries.has(entry)) {
      unmatched.push(
        `[[plugins]] entry "${entry.name}" names no built-in and no file in plugins_dir (${dir}); ` +
          `built-ins: ${builtins.map((b) => b.name).join(", ")}`,
      );
    }
  }
  problems.push(...unmatched);
  for (const p of problems) log.error(p);
  log.info(`Loaded ${plugins.length} plugins`, {
    plugins: plugins.map((p) => `${p.meta.name}${p.meta.sandboxed ? " (sandboxed)" : ""}`).join(", "),
    problems: problems.length,
  });
  return { plugins, problems, unmatched };
}

/**
 * Loads start at once but are awaited later; settling each immediately keeps a failed load from
 * being an unhandled rejection in the meantime.
 */
function settle(p: Promise<PluginHandle | null>): Promise<PromiseSettledResult<PluginHandle | null>> {
  return p.then((value) => ({ status: "fulfilled", value }), (reason) => ({ status: "rejected", reason }));
}

function commandWords(handle: PluginHandle): string[] {
  return handle.meta.command ? [handle.meta.command, ...(handle.meta.aliases ?? [])] : [];
}

function commandClash(handle: PluginHandle, byCommand: Map<string, PluginHandle>): PluginHandle | undefined {
  for (const word of commandWords(handle)) {
    const other = byCommand.get(word);
    if (other) return other;
  }
  return undefined;
}

function describeProblem(err: unknown): string {
  return err instanceof ClankError ? err.message : describeError(err);
}

async function listDropIns(dir: string, log: Logger, problems: string[]): Promise<string[]> {
  const files: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if ((e.isFile || e.isSymlink) && isDropInFile(e.name)) files.push(resolve(dir, e.name));
    }
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      log.debug(`No plugins_dir at ${dir}; no drop-in plugins`);
    } else {
      problems.push(`Cannot list plugins_dir ${dir}: ${describeError(err)}`);
    }
    return [];
  }
  return files.sort();
}

async function loadBuiltin(
  b: BuiltinPlugin,
  entry: PluginEntry | undefined,
  config: Config,
  deps: PluginLoaderDeps,
): Promise<PluginHandle> {
  const options = { ...b.options(config), ...entry?.options };
  const timeoutMs = entry?.timeout_ms ?? b.timeoutMs?.(config) ?? DEFAULT_TIMEOUT_MS;
  const source = `builtin:${b.name}`;
  if (entry?.sandbox === true) {
    return checkBuiltinName(
      b,
      await createSandboxedPlugin({
        url: b.url,
        source,
        options,
        grant: entry.permissions,
        implicitRead: BOT_SOURCE_DIRS,
        baseDir: deps.baseDir,
        log: deps.log,
        metrics: deps.metrics,
        store: deps.store,
        timeoutMs,
      }),
    );
  }
  let mod: { default?: unknown };
  try {
    mod = await b.module();
  } catch (err) {
    throw new ClankError(
      "PLUGIN_LOAD_FAILED",
      `Built-in plugin "${b.name}" could not be imported from ${b.url.pathname}: ${describeError(err)}`,
      { cause: err, details: { plugin: b.name } },
    );
  }
  return checkBuiltinName(b, await runInProcess(mod.default, source, options, timeoutMs, deps));
}

/** The in-process handle of an imported plugin, with the loader's log, metrics, store and timers. */
function runInProcess(
  plugin: unknown,
  source: string,
  options: Record<string, unknown>,
  timeoutMs: number,
  deps: PluginLoaderDeps,
): Promise<PluginHandle> {
  return createInProcessPlugin(plugin, {
    source,
    options,
    log: deps.log,
    metrics: deps.metrics,
    store: deps.store,
    timeoutMs,
    lifecycleTimers: deps.lifecycleTimers,
  });
}

/** A built-in must declare the name it is registered under, or `[[plugins]] name = …` would miss it. */
async function checkBuiltinName(b: BuiltinPlugin, handle: PluginHandle): Promise<PluginHandle> {
  if (handle.meta.name === b.name) return handle;
  await handle.close();
  throw new ClankError(
    "PLUGIN_INVALID",
    `Built-in plugin "${b.name}" declares the name "${handle.meta.name}"; the registry in core/builtin_plugins.ts ` +
      "and the plugin must use the same name",
    { details: { plugin: b.name } },
  );
}

async function loadFile(
  file: string,
  entry: PluginEntry | undefined,
  sandbox: boolean,
  deps: PluginLoaderDeps,
  log: Logger,
  reservedNames: ReadonlySet<string>,
): Promise<PluginHandle> {
  const url = pathToFileURL(file);
  const source = file;
  const options = entry?.options ?? {};
  const timeoutMs = entry?.timeout_ms ?? DEFAULT_TIMEOUT_MS;
  if (sandbox) {
    return await createSandboxedPlugin({
      url,
      source,
      options,
      grant: entry?.permissions ?? {},
      reservedNames,
      baseDir: deps.baseDir,
      log: deps.log,
      metrics: deps.metrics,
      store: deps.store,
      timeoutMs,
    });
  }
  log.warn(`Plugin file ${file} runs in-process (sandbox = false): it has all of the bot's permissions`);
  let mod: { default?: unknown };
  try {
    // A module is cached by URL for the life of the process; a changed file needs a new URL to reload.
    const stamp = (await Deno.stat(file)).mtime?.getTime() ?? Date.now();
    mod = await import(`${url.href}?v=${stamp}`);
  } catch (err) {
    throw new ClankError(
      "PLUGIN_LOAD_FAILED",
      `Plugin at ${file} could not be imported: ${describeError(err)}`,
      {
        cause: err,
      },
    );
  }
  const declared = (mod.default as { name?: unknown } | undefined)?.name;
  if (typeof declared === "string") checkReservedName(declared, source, reservedNames);
  return await runInProcess(mod.default, source, options, timeoutMs, deps);
}
