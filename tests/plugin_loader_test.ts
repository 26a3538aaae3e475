import assert from "node:assert/strict";
import { join } from "node:path";
import type { BuiltinPlugin } from "../core/builtin_plugins.ts";
import { BUILTIN_PLUGINS } from "../core/builtin_plugins.ts";
import { type Config, ConfigSchema } from "../core/config_schema.ts";
import type { PluginHandle } from "../core/plugin_handle.ts";
import { isDropInFile, loadPlugins, resolvePluginPath } from "../core/plugin_loader.ts";
import { fixtureUrl, SETTINGS, testDeps } from "./fixtures/plugins/_deps.ts";

const BUILTINS: BuiltinPlugin[] = [
  {
    name: "counter",
    kind: "context",
    module: () => import("./fixtures/plugins/counter.ts"),
    url: fixtureUrl("counter.ts"),
    defaultEnabled: (config) => config.filter.enabled,
    options: () => ({ label: "builtin", start: 1 }),
  },
  {
    name: "echo_filter",
    kind: "filter",
    module: () => import("./fixtures/plugins/echo_filter.ts"),
    url: fixtureUrl("echo_filter.ts"),
    defaultEnabled: () => true,
    options: () => ({}),
  },
];

const BROKEN: BuiltinPlugin = {
  name: "broken",
  kind: "filter",
  module: () => Promise.reject(new TypeError('Module not found "file:///nowhere/broken.ts"')),
  url: new URL("file:///nowhere/broken.ts"),
  defaultEnabled: () => true,
  options: () => ({}),
};

/** A drop-in plugin source without imports, so it works from any directory. */
function dropIn(name: string, extra = ""): string {
  return `export default { name: "${name}", kind: "filter", apiVersion: 1, ${extra}
  check(item) { return item.text === "${name}" ? { action: "drop", reason: "${name}" } : { action: "pass" }; } };\n`;
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "clank_loader_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function load(raw: Record<string, unknown>, baseDir: string, builtins: BuiltinPlugin[] = BUILTINS) {
  const config: Config = ConfigSchema.parse(raw);
  const deps = testDeps();
  const result = await loadPlugins(config, { ...deps, baseDir, builtins });
  return { ...result, deps };
}

async function closeAll(plugins: PluginHandle[]): Promise<void> {
  await Promise.all(plugins.map((p) => p.close()));
}

const names = (plugins: PluginHandle[]) => plugins.map((p) => `${p.meta.name}${p.meta.sandboxed ? "*" : ""}`);

Deno.test("loadPlugins loads built-ins with their config", async (t) => {
  await withDir(async (dir) => {
    await t.step("built-ins run in-process, with defaults merged under the entry's options", async () => {
      const { plugins, problems } = await load(
        { plugins: [{ name: "counter", options: { label: "mine" } }] },
        dir,
      );
      assert.deepEqual(problems, []);
      assert.deepEqual(names(plugins), ["counter", "echo_filter"]);
      assert.equal(plugins[0]!.meta.source, "builtin:counter");
      const req = { channel: "c", trigger: "mention", settings: SETTINGS, time: 0 };
      assert.deepEqual(await plugins[0]!.call("provide", req), { ok: true, value: { notes: ["mine=1"] } });
      await closeAll(plugins);
    });

    await t.step("enabled = false or a false default leaves a built-in out", async () => {
      const off = await load({ plugins: [{ name: "echo_filter", enabled: false }] }, dir);
      assert.deepEqual(names(off.plugins), ["counter"]);
      await closeAll(off.plugins);
      const noFilter = await load({ filter: { enabled: false } }, dir);
      assert.deepEqual(names(noFilter.plugins), ["echo_filter"]);
      await closeAll(noFilter.plugins);
    });

    await t.step("a built-in that cannot be imported is a problem and the rest load", async () => {
      const { plugins, problems } = await load({}, dir, [BROKEN, ...BUILTINS]);
      assert.deepEqual(names(plugins), ["counter", "echo_filter"]);
      assert.equal(problems.length, 1);
      assert.match(
        problems[0]!,
        /^Built-in plugin "broken" could not be imported from \/nowhere\/broken\.ts: TypeError/,
      );
      await closeAll(plugins);
    });

    await t.step("a built-in registered under another name than it declares is refused", async () => {
      const misnamed = { ...BUILTINS[1]!, name: "echo" };
      const { plugins, problems } = await load({}, dir, [misnamed]);
      assert.deepEqual(plugins, []);
      assert.deepEqual(problems, [
        'Built-in plugin "echo" declares the name "echo_filter"; the registry in core/builtin_plugins.ts and the ' +
        "plugin must use the same name",
      ]);
    });

    await t.step("a built-in may be sandboxed on request", async () => {
      const { plugins, problems } = await load({ plugins: [{ name: "echo_filter", sandbox: true }] }, dir);
      assert.deepEqual(problems, []);
      assert.deepEqual(names(plugins), ["counter", "echo_filter*"]);
      await closeAll(plugins);
    });
  });
});

Deno.test("loadPlugins loads drop-ins from plugins_dir in Workers", async (t) => {
  await withDir(async (dir) => {
    const pdir = join(dir, "plugins.d");
    await Deno.mkdir(pdir);
    await Deno.writeTextFile(join(pdir, "b_second.ts"), dropIn("b_second"));
    await Deno.writeTextFile(join(pdir, "a_first.js"), dropIn("a_first"));
    await Deno.writeTextFile(join(pdir, "_helper.ts"), "export const x = 1;\n");
    await Deno.writeTextFile(join(pdir, "notes.txt"), "not a plugin\n");

    await t.step("files load sandboxed, alphabetically, after the built-ins", async () => {
      const { plugins, problems } = await load({}, dir);
      assert.deepEqual(problems, []);
      assert.deepEqual(names(plugins), ["counter", "echo_filter", "a_first*", "b_second*"]);
      assert.deepEqual(await plugins[2]!.call("check", { text: "a_first" }), {
        ok: true,
        value: { action: "drop", reason: "a_first" },
      });
      await closeAll(plugins);
    });

    await t.step("a broken drop-in and a duplicate name are problems; the bot goes on", async () => {
      await Deno.writeTextFile(join(pdir, "c_broken.ts"), 'import "./missing.ts";\n' + dropIn("c_broken"));
      await Deno.writeTextFile(join(pdir, "d_dupe.ts"), dropIn("a_first"));
      try {
        const { plugins, problems } = await load({}, dir);
        assert.deepEqual(names(plugins), ["counter", "echo_filter", "a_first*", "b_second*"]);
        assert.equal(problems.length, 2);
        assert.match(problems[0]!, /^Plugin at .*c_broken\.ts could not be imported: .*missing\.ts/);
        assert.match(
          problems[1]!,
          /^Plugin "a_first" \(.*d_dupe\.ts\) has the same name as the plugin from .*a_first\.js/,
        );
        await closeAll(plugins);
      } finally {
        await Deno.remove(join(pdir, "c_broken.ts"));
        await Deno.remove(join(pdir, "d_dupe.ts"));
      }
    });

    await t.step("a drop-in may not take a built-in's name, not even a disabled one's", async () => {
      // The store is kept per plugin name: an impostor's setup would read and write the built-in's.
      const impostor = dropIn("counter", `async setup(api) { await api.store.set("count", 999); },`);
      await Deno.writeTextFile(join(pdir, "e_impostor.ts"), impostor);
      try {
        for (const raw of [{}, { plugins: [{ name: "counter", enabled: false }] }]) {
          const { plugins, problems, deps } = await load(raw, dir);
          assert.ok(!plugins.some((p) => p.meta.source.endsWith("e_impostor.ts")), names(plugins).join());
          assert.ok(
            problems.some((p) => /e_impostor\.ts.* declares the name "counter" of a built-in plugin/.test(p)),
            problems.join("\n"),
          );
          assert.equal(deps.store.data.get("counter/count"), undefined, "the impostor's setup ran");
          await closeAll(plugins);
        }
      } finally {
        await Deno.remove(join(pdir, "e_impostor.ts"));
      }
    });

    await t.step("a missing plugins_dir is not a problem", async () => {
      const { plugins, problems } = await load({ plugins_dir: "nowhere" }, dir, []);
      assert.deepEqual(problems, []);
      assert.deepEqual(plugins, []);
    });
  });
});

Deno.test("loadPlugins applies [[plugins]] grants and entries", async (t) => {
  await withDir(async (dir) => {
    const pdir = join(dir, "plugins.d");
    await Deno.mkdir(pdir);
    const netPlugin = dropIn("weather", 'permissions: { net: ["api.weather.example:443"] },');
    await Deno.writeTextFile(join(pdir, "weather_plugin.ts"), netPlugin);

    await t.step("a drop-in asking for an ungranted permission is not loaded", async () => {
      const { plugins, problems } = await load({}, dir, []);
      assert.deepEqual(plugins, []);
      assert.deepEqual(problems, [
        'Plugin "weather" asks for net access to api.weather.example:443 but the config does not grant it: ' +
        'add permissions = { net = ["api.weather.example:443"] } to its [[plugins]] entry',
      ]);
    });

    await t.step("an entry named only like the plugin's declared name grants nothing", async () => {
      // Any file could declare the name "weather" and take its grant: grants follow the file name or path.
      const { plugins, problems } = await load(
        {
          plugins: [{ name: "weather", permissions: { net: ["api.weather.example:443"] } }],
        },
        dir,
        [],
      );
      assert.deepEqual(plugins, []);
      assert.equal(problems.length, 2, problems.join("\n"));
      assert.match(problems.join("\n"), /Plugin "weather" asks for net access to api\.weather\.example:443/);
      assert.match(problems.join("\n"), /\[\[plugins\]\] entry "weather" names no built-in and no file/);
    });

    await t.step("an entry named like the file grants it, and enabled = false skips it", async () => {
      const granted = await load(
        {
          plugins: [{ name: "weather_plugin", permissions: { net: ["api.weather.example"] } }],
        },
        dir,
        [],
      );
      assert.deepEqual(granted.problems, []);
      assert.deepEqual(names(granted.plugins), ["weather*"]);
      await closeAll(granted.plugins);
      const off = await load({ plugins: [{ name: "weather_plugin", enabled: false }] }, dir, []);
      assert.deepEqual([off.plugins, off.problems], [[], []]);
    });

    await t.step("path entries load in config order, sandboxed unless sandbox = false", async () => {
      const other = join(dir, "elsewhere");
      await Deno.mkdir(other);
      await Deno.writeTextFile(join(other, "zeta.ts"), dropIn("zeta"));
      await Deno.writeTextFile(join(other, "alpha.ts"), dropIn("alpha"));
      const { plugins, problems } = await load({
        plugins: [
          { path: "elsewhere/zeta.ts", options: {} },
          { path: join(other, "alpha.ts"), sandbox: false },
          { name: "weather_plugin", permissions: { net: ["api.weather.example:443"] } },
        ],
      }, dir);
      assert.deepEqual(problems, []);
      assert.deepEqual(names(plugins), ["counter", "echo_filter", "zeta*", "alpha", "weather*"]);
      await closeAll(plugins);
    });

    await t.step("an entry that names nothing is reported", async () => {
      const { plugins, problems } = await load({ plugins: [{ name: "typo" }] }, dir, BUILTINS);
      assert.equal(problems.length, 2, problems.join("\n"));
      assert.match(
        problems[1]!,
        /^\[\[plugins\]\] entry "typo" names no built-in and no file in plugins_dir/,
      );
      await closeAll(plugins);
    });
  });
});

Deno.test("loadPlugins reports two commands with the same word", async () => {
  await withDir(async (dir) => {
    const pdir = join(dir, "plugins.d");
    await Deno.mkdir(pdir);
    const cmd = (name: string, word: string) =>
      `export default { name: "${name}", kind: "command", apiVersion: 1, command: "${word}", usage: "${word}",
      permission: "everyone", run() { return { reply: "${name}" }; } };\n`;
    await Deno.writeTextFile(join(pdir, "one.ts"), cmd("one", "roll"));
    await Deno.writeTextFile(join(pdir, "two.ts"), cmd("two", "roll"));
    const { plugins, problems } = await load({}, dir, []);
    assert.deepEqual(names(plugins), ["one*"]);
    assert.match(problems[0]!, /^Plugin "two" \(.*two\.ts\) uses a command word of plugin "one"/);
    await closeAll(plugins);
  });
});

Deno.test("isDropInFile and resolvePluginPath", async (t) => {
  await t.step("only .ts and .js files that are not private or declarations", () => {
    assert.deepEqual(
      ["a.ts", "b.js", "c.d.ts", "_d.ts", ".e.ts", "f.ts~", "g.json"].filter(isDropInFile),
      ["a.ts", "b.js"],
    );
  });
  await t.step("relative, absolute and file: paths resolve; remote URLs are refused", () => {
    assert.equal(resolvePluginPath("p/x.ts", "/srv/clank"), "/srv/clank/p/x.ts");
    assert.equal(resolvePluginPath("/opt/x.ts", "/srv/clank"), "/opt/x.ts");
    assert.equal(resolvePluginPath("file:///opt/x.ts", "/srv/clank"), "/opt/x.ts");
    assert.throws(() => resolvePluginPath("https://example.com/x.ts", "/srv"), /only local files are loaded/);
  });
});

Deno.test("BUILTIN_PLUGINS lists every built-in once, each with a module URL", () => {
  const seen = new Set(BUILTIN_PLUGINS.map((b) => b.name));
  assert.equal(seen.size, BUILTIN_PLUGINS.length);
  for (
    const name of [
      "chat_history",
      "blocked_words",
      "output_shaping",
      "repetition",
      "canary",
      "response_cooldown",
      "spontaneous_gate",
      "ollama",
      "markov",
      "command_status",
      "command_threshold",
      "command_spontaneous",
      "command_response",
      "command_context",
      "command_model",
      "command_reset",
      "command_help",
    ]
  ) assert.ok(seen.has(name), name);
  const config = ConfigSchema.parse({ filter: { enabled: false, blocked_words_file: "words.txt" } });
  const blocked = BUILTIN_PLUGINS.find((b) => b.name === "blocked_words")!;
  assert.equal(blocked.defaultEnabled(config), false);
  assert.deepEqual(blocked.options(config), { file: "words.txt" });
});

Deno.test("loadPlugins honours an explicit timeout_ms, even the schema's usual 2000", async () => {
  const { loadPlugins } = await import("../core/plugin_loader.ts");
  const { ConfigSchema } = await import("../core/config_schema.ts");
  const { Metrics } = await import("../core/metrics.ts");
  const { memoryLogger } = await import("../core/log.ts");
  const { BUILTIN_PLUGINS } = await import("../core/builtin_plugins.ts");
  const seen: number[] = [];
  const ollama = BUILTIN_PLUGINS.find((b) => b.name === "ollama")!;
  const probe = {
    ...ollama,
    timeoutMs: (config: Parameters<NonNullable<typeof ollama.timeoutMs>>[0]) => {
      const ms = ollama.timeoutMs!(config);
      seen.push(ms);
      return ms;
    },
  };
  const store = {
    get: () => Promise.resolve(undefined),
    set: () => Promise.resolve(),
    delete: () => Promise.resolve(),
  };
  for (const entry of [{ name: "ollama" }, { name: "ollama", timeout_ms: 2000 }]) {
    const config = ConfigSchema.parse({ plugins: [entry], plugins_dir: "/nonexistent" });
    assert.equal(config.plugins[0]!.timeout_ms, "timeout_ms" in entry ? 2000 : undefined);
    const { plugins } = await loadPlugins(config, {
      log: memoryLogger().log,
      metrics: new Metrics(),
      store,
      baseDir: Deno.cwd(),
      builtins: [probe],
    });
    await Promise.all(plugins.map((p) => p.close()));
  }
  // The fallback (Ollama timeout + 5 s) is only asked for when the entry sets nothing.
  assert.deepEqual(seen, [35_000]);
});
