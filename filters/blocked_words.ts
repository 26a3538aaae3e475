/**
 * The `blocked_words` filter: drops chat lines (direction `in`) and generated lines (`out`) that
 * contain a blocked word. Entries come from the shipped default list, the plugin's `words` option,
 * the file at `file` (the host passes `BLOCKED_WORDS_FILE`) and each channel's
 * `settings.blocked_words`. The file is checked for changes lazily, at most every two seconds, so it
 * works the same in-process and in a Worker. Bad entries are logged with their line and skipped.
 *
 * @example
 * ```toml
 * [[plugins]]
 * name = "blocked_words"
 * options = { file = "blocked_words.txt", words = ["re:\\bfree v-?bucks\\b"], use_default_list = true }
 * ```
 * @module
 */
import { z } from "zod";
import {
  definePlugin,
  type FilterInput,
  type FilterPlugin,
  type FilterVerdict,
  type PluginApi,
} from "../plugins/sdk.ts";
import { type BlockEntry, parseWordList, type WordList, wordListFromArray } from "./word_list.ts";
import { WordMatcher } from "./word_matcher.ts";

/** Options of the `blocked_words` filter. */
export const BlockedWordsOptionsSchema = z.object({
  /** Path of a blocked-words file (see docs/FILTERS.md); empty for none. */
  file: z.string().default(""),
  /** Extra entries for every channel, in the file's line format. */
  words: z.array(z.string().max(200, { error: "must be at most 200 characters" })).max(10000).default([]),
  /** Load the shipped `filters/default_blocked_words.txt`. */
  use_default_list: z.boolean({ error: "must be true or false" }).default(true),
}).strict();

/** Validated options of the `blocked_words` filter. */
export type BlockedWordsOptions = z.infer<typeof BlockedWordsOptionsSchema>;

/** Names of the lists, as drop reasons and logs show them. */
export const LIST_SOURCES = {
  default: "default list",
  file: "blocked words file",
  words: "configured words",
  channel: "channel list",
} as const;

/** Seams for tests; production uses the defaults. */
export interface BlockedWordsDeps {
  /** Clock for the file check interval, in milliseconds. */
  now?: () => number;
  /** Milliseconds between two checks of the file's modification time (default 2000). */
  reloadIntervalMs?: number;
  /** Where the default list is read from. */
  defaultListUrl?: URL;
}

const DEFAULT_LIST_URL = new URL("./default_blocked_words.txt", import.meta.url);
const CHANNEL_CACHE_LIMIT = 256;

type Api = PluginApi<BlockedWordsOptions>;

/** The reason of a drop: which list, category and line, never the matched text. */
export function dropReason(entry: BlockEntry): string {
  const unit = entry.source === LIST_SOURCES.default || entry.source === LIST_SOURCES.file ? "line" : "entry";
  const what = entry.kind === "regex" ? "Blocked pattern" : "Blocked word";
  const category = entry.category ? `${entry.category}, ` : "";
  return `${what} (${category}${entry.source} ${unit} ${entry.line})`;
}

function logProblems(api: Api, list: WordList, fields: Record<string, unknown> = {}): void {
  for (const problem of list.problems) {
    api.log.warn("Skipped a blocked-words entry", {
      ...fields,
      list: problem.source,
      line: problem.line,
      entry: problem.entry.slice(0, 80),
      problem: problem.message,
    });
  }
}

/** Creates an independent `blocked_words` filter (the default export is one of these). */
export function createBlockedWordsFilter(deps: BlockedWordsDeps = {}): FilterPlugin<BlockedWordsOptions> {
  const now = deps.now ?? (() => Date.now());
  const interval = deps.reloadIntervalMs ?? 2000;
  const defaultListUrl = deps.defaultListUrl ?? DEFAULT_LIST_URL;

  let ready: Promise<void> | null = null;
  let options: BlockedWordsOptions = BlockedWordsOptionsSchema.parse({});
  let fixedLists: WordList[] = [];
  let fileList: WordList | null = null;
  let matcher = new WordMatcher([]);
  const file = { stamp: "", lastCheck: -Infinity, failing: false, reloading: null as Promise<void> | null };
  const channelMatchers = new Map<string, WordMatcher>();

  function rebuild(): void {
    matcher = WordMatcher.compile(fileList ? [...fixedLists, fileList] : fixedLists);
  }

  /** Re-reads the file when its modification time or size changed; keeps the last good list on errors. */
  async function refreshFile(api: Api): Promise<void> {
    const path = options.file;
    file.lastCheck = now();
    try {
      const info = await Deno.stat(path);
      const stamp = `${info.mtime?.getTime() ?? 0}:${info.size}`;
      if (stamp === file.stamp) {
        file.failing = false;
        return;
      }
      const text = await Deno.readTextFile(path);
      const list = parseWordList(text, LIST_SOURCES.file);
      logProblems(api, list, { file: path });
      const reloaded = file.stamp !== "";
      file.stamp = stamp;
      file.failing = false;
      fileList = list;
      rebuild();
      api.log.info(reloaded ? "Blocked words file reloaded" : "Blocked words file loaded", {
        file: path,
        entries: list.entries.length,
        skipped: list.problems.length,
      });
    } catch (err) {
      if (file.failing) return;
      file.failing = true;
      api.log.warn("Blocked words file could not be read; keeping the last good list", {
        file: path,
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }

  /** True once `init` finished (reset by teardown). */
  let initialized = false;

  async function init(api: Api): Promise<void> {
    await loadLists(api);
    initialized = true;
  }

  async function loadLists(api: Api): Promise<void> {
    // The host validates options at load time; parsing again fills defaults when a caller did not.
    options = BlockedWordsOptionsSchema.parse(api.options ?? {});
    const lists: WordList[] = [];
    if (options.use_default_list) {
      try {
        const list = parseWordList(await Deno.readTextFile(defaultListUrl), LIST_SOURCES.default);
        logProblems(api, list);
        lists.push(list);
      } catch (err) {
        api.log.warn("Default blocked words list could not be read; continuing without it", {
          error: err instanceof Error ? err.message : String(err),
        });
      }
    }
    const words = wordListFromArray(options.words, LIST_SOURCES.words);
    logProblems(api, words);
    lists.push(words);
    fixedLists = lists;
    rebuild();
    if (options.file) await refreshFile(api);
  }

  async function maybeReload(api: Api): Promise<void> {
    if (!options.file) return;
    if (file.reloading) return await file.reloading;
    if (now() - file.lastCheck < interval) return;
    file.reloading = refreshFile(api).finally(() => {
      file.reloading = null;
    });
    await file.reloading;
  }

  function channelMatcher(item: FilterInput, api: Api): WordMatcher | null {
    const words = item.settings?.blocked_words ?? [];
    if (words.length === 0) return null;
    const key = words.join("\u0000");
    let compiled = channelMatchers.get(key);
    if (!compiled) {
      const list = wordListFromArray(words, LIST_SOURCES.channel);
      logProblems(api, list, { channel: item.channel });
      compiled = WordMatcher.compile([list]);
      if (channelMatchers.size >= CHANNEL_CACHE_LIMIT) {
        const oldest = channelMatchers.keys().next().value;
        if (oldest !== undefined) channelMatchers.delete(oldest);
      }
      channelMatchers.set(key, compiled);
    }
    return compiled;
  }

  return definePlugin<BlockedWordsOptions>({
    name: "blocked_words",
    kind: "filter",
    apiVersion: 1,
    description: "Drops chat and generated lines that contain a blocked word or pattern",
    directions: ["in", "out"],
    options: BlockedWordsOptionsSchema,
    setup(api) {
      ready ??= init(api);
      return ready;
    },
    teardown() {
      ready = null;
      initialized = false;
      fixedLists = [];
      fileList = null;
      matcher = new WordMatcher([]);
      Object.assign(file, { stamp: "", lastCheck: -Infinity, failing: false, reloading: null });
      channelMatchers.clear();
    },
    check(item, api): FilterVerdict | Promise<FilterVerdict> {
      const verdict = (): FilterVerdict => {
        const hit = matcher.match(item.text) ?? channelMatcher(item, api)?.match(item.text);
        return hit ? { action: "drop", reason: dropReason(hit.entry) } : { action: "pass" };
      };
      // The common case answers synchronously: no promise, so the host needs no deadline timer for
      // this call. Only the first check and a due file check wait.
      const reloadDue = options.file !== "" && options.file !== undefined &&
        (file.reloading !== null || now() - file.lastCheck >= interval);
      if (initialized && !reloadDue) return verdict();
      return (async () => {
        ready ??= init(api);
        await ready;
        await maybeReload(api);
        return verdict();
      })();
    },
  });
}

/** The built-in `blocked_words` filter. */
export default createBlockedWordsFilter();
