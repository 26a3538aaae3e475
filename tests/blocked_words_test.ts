import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import plugin, {
  BlockedWordsOptionsSchema,
  createBlockedWordsFilter,
  dropReason,
  LIST_SOURCES,
} from "../filters/blocked_words.ts";
import { filterInput, testApi, testSettings } from "../core/testing.ts";
import type { FilterInput, FilterVerdict } from "../plugins/sdk.ts";

type Options = Parameters<typeof BlockedWordsOptionsSchema.parse>[0];

function apiWith(options: Options = {}) {
  return testApi(BlockedWordsOptionsSchema.parse(options), "blocked_words");
}

function reasonOf(verdict: FilterVerdict): string {
  assert.equal(verdict.action, "drop");
  return verdict.action === "drop" ? verdict.reason : "";
}

const CORPUS = (await Deno.readTextFile(new URL("./data/ordinary_chat.txt", import.meta.url)))
  .split("\n")
  .filter((line) => line.trim() !== "");

Deno.test("blocked_words declares a filter for both directions with a zod options schema", () => {
  assert.equal(plugin.name, "blocked_words");
  assert.equal(plugin.kind, "filter");
  assert.equal(plugin.apiVersion, 1);
  assert.deepEqual(plugin.directions, ["in", "out"]);
  assert.deepEqual(BlockedWordsOptionsSchema.parse({}), { file: "", words: [], use_default_list: true });
  const bad = plugin.options?.["~standard"].validate({ use_default_list: "yes", colour: 1 });
  assert.ok(bad && "issues" in bad && bad.issues && bad.issues.length >= 2);
});

Deno.test("blocked_words drops lines with a default-list word in both directions", async (t) => {
  const filter = createBlockedWordsFilter();
  const api = apiWith();
  await filter.setup?.(api);
  for (const direction of ["in", "out"] as const) {
    await t.step(`direction ${direction}`, async () => {
      const text = "you are a f.a.g.g.0.t lol";
      const reason = reasonOf(await filter.check(filterInput({ direction, text }), api));
      assert.match(reason, /^Blocked word \(homophobic or transphobic slur, default list line \d+\)$/);
      assert.ok(!/fag/i.test(reason), "the reason never echoes the blocked word");
    });
  }
  await t.step("ordinary chat passes", async () => {
    const blocked: string[] = [];
    for (const text of CORPUS) {
      const verdict = await filter.check(filterInput({ text }), api);
      if (verdict.action !== "pass") blocked.push(text);
    }
    assert.deepEqual(blocked, []);
  });
  await filter.teardown?.(api);
});

Deno.test("blocked_words skips the default list when use_default_list is false", async () => {
  const filter = createBlockedWordsFilter();
  const api = apiWith({ use_default_list: false, words: ["zorblax"] });
  assert.equal((await filter.check(filterInput({ text: "rapist" }), api)).action, "pass");
  assert.equal(
    reasonOf(await filter.check(filterInput({ text: "a ZORBLAX appears" }), api)),
    "Blocked word (configured words entry 1)",
  );
});

Deno.test("blocked_words logs bad configured entries with their position and keeps the rest", async () => {
  const filter = createBlockedWordsFilter();
  const api = apiWith({ use_default_list: false, words: ["fine entry", "re:(", "x"] });
  await filter.setup?.(api);
  const warnings = api.logs.filter((l) => l.level === "warn");
  assert.deepEqual(warnings.map((w) => [w.fields?.list, w.fields?.line]), [
    [LIST_SOURCES.words, 2],
    [LIST_SOURCES.words, 3],
  ]);
  assert.match(String(warnings[0]?.fields?.problem), /^Invalid regular expression/);
  assert.equal((await filter.check(filterInput({ text: "a fine-entry" }), api)).action, "drop");
});

Deno.test("blocked_words applies a channel's extra words to that channel only", async (t) => {
  const filter = createBlockedWordsFilter();
  const api = apiWith({ use_default_list: false });
  const settings = testSettings({ blocked_words: ["spoiler", "re:boss dies", "!"] });
  const input = (channel: string, text: string, withWords: boolean): FilterInput =>
    filterInput({ channel, text, settings: withWords ? settings : testSettings() });

  await t.step("the channel with the words drops", async () => {
    assert.equal(
      reasonOf(await filter.check(input("one", "SPOILERS ahead", true), api)),
      "Blocked word (channel list entry 1)",
    );
    assert.equal(
      reasonOf(await filter.check(input("one", "the boss dies at the end", true), api)),
      "Blocked pattern (channel list entry 2)",
    );
  });
  await t.step("a channel without them passes", async () => {
    assert.equal((await filter.check(input("two", "SPOILERS ahead", false), api)).action, "pass");
  });
  await t.step("the compiled list is cached by content, so a bad entry is logged once", async () => {
    for (let i = 0; i < 3; i++) await filter.check(input("one", "hello", true), api);
    const copy = testSettings({ blocked_words: [...settings.blocked_words] });
    await filter.check(filterInput({ channel: "one", text: "hello", settings: copy }), api);
    const warnings = api.logs.filter((l) => l.level === "warn");
    assert.equal(warnings.length, 1);
    assert.deepEqual([warnings[0]?.fields?.channel, warnings[0]?.fields?.line], ["one", 3]);
  });
  await t.step("changed words take effect at once", async () => {
    const changed = testSettings({ blocked_words: ["cliffhanger"] });
    const text = "what a cliffhanger";
    assert.equal(
      (await filter.check(filterInput({ channel: "one", text, settings: changed }), api)).action,
      "drop",
    );
    assert.equal((await filter.check(input("one", "SPOILERS", false), api)).action, "pass");
  });
});

Deno.test("blocked_words reloads the file when it changes and keeps the last good list", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "clank_blocked_words_" });
  try {
    const path = join(dir, "blocked.txt");
    let clock = 1_000_000;
    const filter = createBlockedWordsFilter({ now: () => clock, reloadIntervalMs: 2000 });
    const api = apiWith({ file: path, use_default_list: false });
    const write = async (text: string, mtimeSeconds: number) => {
      await Deno.writeTextFile(path, text);
      await Deno.utime(path, mtimeSeconds, mtimeSeconds);
    };
    const verdict = async (text: string) => (await filter.check(filterInput({ text }), api)).action;
    const warnings = () => api.logs.filter((l) => l.level === "warn");

    await write("# first version\nalpha\nre:[\n", 1000);
    await filter.setup?.(api);

    await t.step("the first version is loaded and its bad line reported by number", async () => {
      assert.equal(await verdict("alpha!"), "drop");
      assert.equal(
        reasonOf(await filter.check(filterInput({ text: "alpha" }), api)),
        "Blocked word (blocked words file line 2)",
      );
      assert.deepEqual(warnings().map((w) => [w.fields?.line, w.fields?.file]), [[3, path]]);
    });

    await write("[new]\nbeta\n", 2000);
    await t.step("a change is not seen before the check interval has passed", async () => {
      clock += 1999;
      assert.equal(await verdict("beta"), "pass");
      assert.equal(await verdict("alpha"), "drop");
    });
    await t.step("after the interval the new version replaces the old one", async () => {
      clock += 1;
      assert.equal(
        reasonOf(await filter.check(filterInput({ text: "beta" }), api)),
        "Blocked word (new, blocked words file line 2)",
      );
      assert.equal(await verdict("alpha"), "pass");
      assert.ok(api.logs.some((l) => l.msg === "Blocked words file reloaded"));
    });

    await t.step("a missing file gives one warning and the last good list stays", async () => {
      await Deno.remove(path);
      const before = warnings().length;
      for (let i = 0; i < 3; i++) {
        clock += 2000;
        assert.equal(await verdict("beta"), "drop");
      }
      assert.equal(warnings().length, before + 1);
      assert.match(warnings().at(-1)?.msg ?? "", /could not be read; keeping the last good list/);
    });

    await t.step("the file coming back is loaded again", async () => {
      await write("gamma\n", 3000);
      clock += 2000;
      assert.equal(await verdict("gamma"), "drop");
      assert.equal(await verdict("beta"), "pass");
    });
    await filter.teardown?.(api);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("blocked_words starts without a file that does not exist yet", async () => {
  const dir = await Deno.makeTempDir({ prefix: "clank_blocked_words_" });
  try {
    let clock = 0;
    const path = join(dir, "later.txt");
    const filter = createBlockedWordsFilter({ now: () => clock });
    const api = apiWith({ file: path });
    await filter.setup?.(api);
    assert.equal(api.logs.filter((l) => l.level === "warn").length, 1);
    assert.equal(
      (await filter.check(filterInput({ text: "rapist" }), api)).action,
      "drop",
      "default list still works",
    );
    await Deno.writeTextFile(path, "later\n");
    clock += 2000;
    assert.equal((await filter.check(filterInput({ text: "see you later" }), api)).action, "drop");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("dropReason names the list, category and line but not the text", () => {
  const base = { line: 7, text: "secret", category: "" };
  assert.equal(
    dropReason({ ...base, kind: "word", pattern: "secret", source: LIST_SOURCES.file }),
    "Blocked word (blocked words file line 7)",
  );
  assert.equal(
    dropReason({ ...base, kind: "regex", regex: /secret/iu, source: LIST_SOURCES.channel, category: "spam" }),
    "Blocked pattern (spam, channel list entry 7)",
  );
});

Deno.test("blocked_words works inside a Worker with read permission only", async () => {
  const dir = await Deno.makeTempDir({ prefix: "clank_blocked_words_" });
  try {
    const file = join(dir, "blocked.txt");
    await Deno.writeTextFile(file, "workerword\n");
    const script = join(dir, "worker.js");
    const pluginUrl = new URL("../filters/blocked_words.ts", import.meta.url).href;
    await Deno.writeTextFile(
      script,
      `import { createBlockedWordsFilter } from ${JSON.stringify(pluginUrl)};
       self.onmessage = async (event) => {
         const { options, inputs } = event.data;
         const warnings = [];
         const noop = () => {};
         const api = { name: "blocked_words", options, log: { debug: noop, info: noop, error: noop,
           warn: (msg) => warnings.push(msg) }, store: {} };
         const filter = createBlockedWordsFilter();
         await filter.setup(api);
         const verdicts = [];
         for (const input of inputs) verdicts.push(await filter.check(input, api));
         self.postMessage({ verdicts, warnings });
       };`,
    );
    const repo = fileURLToPath(new URL("..", import.meta.url));
    const worker = new Worker(pathToFileURL(script), {
      type: "module",
      deno: { permissions: { read: [repo, dir], net: false, env: false, write: false, run: false } },
    });
    const reply = new Promise<{ verdicts: FilterVerdict[]; warnings: string[] }>((resolve, reject) => {
      worker.onmessage = (event) => resolve(event.data);
      worker.onerror = (event) => {
        event.preventDefault();
        reject(new Error(event.message));
      };
    });
    const options = BlockedWordsOptionsSchema.parse({ file });
    const texts = ["a WORKERWORD here", "r a p i s t", "hello there"];
    worker.postMessage({ options, inputs: texts.map((text) => filterInput({ direction: "out", text })) });
    try {
      const { verdicts, warnings } = await reply;
      assert.deepEqual(warnings, []);
      assert.deepEqual(verdicts.map((v) => v.action), ["drop", "drop", "pass"]);
    } finally {
      worker.terminate();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
