/**
 * Hostile drop-in plugins in the plugins directory: each is denied or contained, and the bot still
 * answers mentions afterwards.
 */
import { assert, assertMatch } from "./assert.ts";
import { startHarness } from "./fakes/bot_harness.ts";

Deno.test("hostile drop-ins are contained and the bot keeps answering mentions", async () => {
  const h = await startHarness({
    config: {
      plugins_dir: new URL("./fixtures/plugins/", import.meta.url).pathname,
      defaults: { response: 10 },
    },
    ollama: { reply: () => "still here and chatting" },
  });
  try {
    const names = h.bot.host.plugins.all.map((p) => p.meta.name);
    for (
      const hostile of [
        "hostile_loop",
        "hostile_hang",
        "hostile_throw",
        "hostile_garbage",
        "hostile_read_file",
      ]
    ) {
      assert(names.includes(hostile), `${hostile} was not loaded (${names.join(", ")})`);
    }
    assert(!names.includes("weather"), "a plugin asking for an ungranted permission was loaded");
    assert(!names.includes("hostile_missing_import"), "a plugin with a missing import was loaded");
    assert(
      h.logs.some((l) =>
        l.includes('Plugin \\"weather\\" asks for net access') && l.includes("does not grant")
      ),
      "no clear log line for the missing grant",
    );
    assert(
      h.logs.some((l) =>
        l.includes("hostile_missing_import.ts") && l.includes("does_not_exist.ts, which does not exist")
      ),
      "no clear log line for the missing import",
    );
    // Lines that make the plugins misbehave: hang forever, spin, return garbage, throw, touch the system.
    for (const text of ["loop", "hang", "shape", "function", "null", "read", "env", "fetch", "run", "ffi"]) {
      h.twitch.sendPrivmsg("alpha", { login: "chaos", text });
    }
    h.twitch.sendPrivmsg("alpha", { login: "asker", text: "@clankbot are you still alive?" });
    await h.twitch.waitFor(() => h.twitch.privmsgs.length > 0, 30_000, "a reply despite hostile plugins");
    assertMatch(h.twitch.privmsgs[0]!.text, /^@asker still here and chatting/);
    const metrics = await h.bot.metrics.text();
    assert(/clank_plugin_failures_total\{plugin="hostile_/.test(metrics), "plugin failures were not counted");
  } finally {
    await h.stop();
  }
});
