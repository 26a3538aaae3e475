/**
 * Watches `plugins_dir` and the files of `[[plugins]] path` entries, and asks the host to reload
 * plugins when a drop-in file is added, changed or removed. Editors write a file in several steps, so changes are debounced into one reload; a reload
 * never overlaps the previous one. SIGHUP and `POST /api/reload` call the same reload in the host.
 * @module
 */
import { basename, dirname } from "node:path";
import { describeError } from "./errors.ts";
import type { Logger } from "./log.ts";
import { isDropInFile } from "./plugin_loader.ts";

/** A running watcher. */
export interface PluginWatcher {
  /** Stops watching and cancels a pending reload. */
  close(): void;
}

/** Options of {@link watchPluginsDir}. */
export interface PluginWatcherOptions {
  /** Quiet time after the last change before reloading (default 300 ms). */
  debounceMs?: number;
  log?: Logger;
  /**
   * Plugin files outside `plugins_dir` (`[[plugins]] path` entries, absolute). Their folders are
   * watched rather than the files: editors replace a file on save, which ends a watch on the file.
   */
  files?: readonly string[];
}

/**
 * Calls `reload` with the changed drop-in paths once changes in `dir` settle. A missing directory
 * is not an error: there is nothing to watch, and the returned watcher does nothing.
 *
 * @example
 * ```ts
 * const watcher = watchPluginsDir(resolve(baseDir, config.plugins_dir), () => host.reloadPlugins());
 * // on shutdown
 * watcher.close();
 * ```
 */
export function watchPluginsDir(
  dir: string,
  reload: (changed: string[]) => void | Promise<void>,
  options: PluginWatcherOptions = {},
): PluginWatcher {
  const debounceMs = options.debounceMs ?? 300;
  const log = options.log?.child({ event: "plugin_watch" });
  const files = new Set(options.files ?? []);
  const folders: string[] = [];
  const isFolder = (path: string) => {
    try {
      return Deno.statSync(path).isDirectory;
    } catch {
      return false;
    }
  };
  if (isFolder(dir)) folders.push(dir);
  else log?.info(`No drop-in plugins: plugins_dir ${dir} does not exist (create it and restart to add some)`);
  for (const file of files) {
    const folder = dirname(file);
    if (!folders.includes(folder) && isFolder(folder)) folders.push(folder);
  }
  /** A change that matters: a drop-in file in plugins_dir, or one of the entry files. */
  const relevant = (path: string) =>
    files.has(path) || (dirname(path) === dir && isDropInFile(basename(path)));
  if (folders.length === 0) return { close() {} };
  let fsWatcher: Deno.FsWatcher;
  try {
    fsWatcher = Deno.watchFs(folders, { recursive: false });
  } catch (err) {
    log?.warn(`Not watching plugin files for changes: ${describeError(err)}`, {
      folders: folders.join(", "),
    });
    return { close() {} };
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  let changed = new Set<string>();
  let running: Promise<void> | undefined;
  let again = false;
  let closed = false;

  const fire = async (): Promise<void> => {
    timer = undefined;
    if (running) {
      // A change arrived while reloading: reload once more afterwards.
      again = true;
      return;
    }
    const paths = [...changed].sort();
    changed = new Set();
    log?.info("Plugin files changed; reloading plugins", { files: paths.map((p) => basename(p)).join(", ") });
    running = (async () => {
      try {
        await reload(paths);
      } catch (err) {
        log?.error("Plugin reload failed", { error: describeError(err) });
      }
    })();
    await running;
    running = undefined;
    if (again && !closed) {
      again = false;
      await fire();
    }
  };

  (async () => {
    try {
      for await (const event of fsWatcher) {
        const paths = event.paths.filter(relevant);
        if (paths.length === 0 || event.kind === "access" || event.kind === "other") continue;
        for (const p of paths) changed.add(p);
        clearTimeout(timer);
        timer = setTimeout(() => void fire(), debounceMs);
      }
    } catch (err) {
      if (!closed) log?.error("Watching plugins_dir stopped", { error: describeError(err) });
    }
  })();

  return {
    close() {
      if (closed) return;
      closed = true;
      clearTimeout(timer);
      timer = undefined;
      try {
        fsWatcher.close();
      } catch {
        // Already closed.
      }
    },
  };
}
