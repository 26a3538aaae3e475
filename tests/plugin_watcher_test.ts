import assert from "node:assert/strict";
import { join } from "node:path";
import { watchPluginsDir } from "../core/plugin_watcher.ts";
import { memoryLogger } from "../core/log.ts";

Deno.test("watchPluginsDir reloads after drop-in files change", async (t) => {
  await t.step("changes to .ts/.js files trigger a reload; other files do not", async () => {
    const dir = await Deno.makeTempDir({ prefix: "clank_watch_" });
    const calls: string[][] = [];
    let notify!: () => void;
    const reloaded = new Promise<void>((r) => (notify = r));
    const watcher = watchPluginsDir(dir, (paths) => {
      calls.push(paths);
      if (calls.flat().some((p) => p.endsWith("b.js"))) notify();
    }, { debounceMs: 50 });
    try {
      await Deno.writeTextFile(join(dir, "notes.txt"), "ignored");
      await Deno.writeTextFile(join(dir, "a.ts"), "export default {};");
      await Deno.writeTextFile(join(dir, "b.js"), "export default {};");
      await reloaded;
      const all = new Set(calls.flat());
      assert.deepEqual([...all].sort(), [join(dir, "a.ts"), join(dir, "b.js")]);
    } finally {
      watcher.close();
      await Deno.remove(dir, { recursive: true });
    }
  });

  await t.step("a failing reload is logged and watching goes on", async () => {
    const dir = await Deno.makeTempDir({ prefix: "clank_watch_" });
    const { log, lines } = memoryLogger();
    let count = 0;
    let notify!: () => void;
    const second = new Promise<void>((r) => (notify = r));
    const watcher = watchPluginsDir(dir, () => {
      if (++count === 2) notify();
      if (count === 1) throw new Error("bad plugin");
    }, { debounceMs: 30, log });
    try {
      await Deno.writeTextFile(join(dir, "a.ts"), "1");
      while (count === 0) await new Promise((r) => setTimeout(r, 10));
      await Deno.writeTextFile(join(dir, "a.ts"), "2");
      await second;
      assert.ok(lines.some((l) => l.includes("Plugin reload failed") && l.includes("bad plugin")));
    } finally {
      watcher.close();
      await Deno.remove(dir, { recursive: true });
    }
  });

  await t.step("a [[plugins]] path file outside plugins_dir reloads too; its neighbours do not", async () => {
    const dir = await Deno.makeTempDir({ prefix: "clank_watch_" });
    const elsewhere = await Deno.makeTempDir({ prefix: "clank_entry_" });
    const entry = join(elsewhere, "mine.ts");
    await Deno.writeTextFile(entry, "export default {};");
    const calls: string[][] = [];
    let notify!: () => void;
    const reloaded = new Promise<void>((r) => (notify = r));
    const watcher = watchPluginsDir(dir, (paths) => {
      calls.push(paths);
      notify();
    }, { debounceMs: 50, files: [entry] });
    try {
      await Deno.writeTextFile(join(elsewhere, "unrelated.ts"), "export default {};");
      await Deno.writeTextFile(entry, "export default { changed: true };");
      await reloaded;
      assert.deepEqual([...new Set(calls.flat())], [entry]);
    } finally {
      watcher.close();
      await Deno.remove(dir, { recursive: true });
      await Deno.remove(elsewhere, { recursive: true });
    }
  });

  await t.step("a missing directory gives a watcher that does nothing, and says so plainly", () => {
    const { log, lines } = memoryLogger("debug");
    const watcher = watchPluginsDir("/nonexistent/clank/plugins.d", () => assert.fail("no reload"), { log });
    watcher.close();
    assert.equal(lines.length, 1);
    assert.match(
      lines[0]!,
      /No drop-in plugins: plugins_dir \/nonexistent\/clank\/plugins\.d does not exist \(create it and restart/,
    );
    assert.doesNotMatch(lines[0]!, /NotFound|No path was found/);
  });
});
