/**
 * Hostile drop-in plugins in the plugins directory: each is denied or contained, and the bot still
 * answers mentions afterwards.
 */
import { assert, assertEquals, assertMatch } from "./assert.ts";
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
        "hostile_env",
        "hostile_fetch",
        "hostile_run",
        "hostile_ffi",
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
    // First a URL the host itself can reach (the fake Ollama): only the Worker's permissions stop the
    // fetch. Plugins fail on every line, so this one must come before repeated failures disable them.
    const reachable = new URL("/api/version", h.ollama.url).href;
    const lines = [reachable, "loop", "hang", "shape", "function", "null", "read", "env", "run", "ffi"];
    for (const text of lines) h.twitch.sendPrivmsg("alpha", { login: "chaos", text });
    // While a hung Worker is being restarted, an output filter cannot vouch for a line and the bot
    // stays silent (fail closed); once the plugins are contained, mentions are answered again.
    let asked = 0;
    let lastAsk = 0;
    await h.twitch.waitFor(
      () => {
        if (h.twitch.privmsgs.length === 0 && h.bot.host.idle && Date.now() - lastAsk > 2000) {
          lastAsk = Date.now();
          h.twitch.sendPrivmsg("alpha", { login: `asker${++asked}`, text: "@clankbot are you still alive?" });
        }
        return h.twitch.privmsgs.length > 0;
      },
      40_000,
      "a reply despite hostile plugins",
    );
    assertMatch(h.twitch.privmsgs[0]!.text, /^@asker\d+ still here and chatting/);
    // Each system access was refused by Deno's permissions inside the Worker, not by an accident.
    const denied = (plugin: string, what: RegExp) =>
      h.logs.some((l) => l.includes(`"plugin":"${plugin}"`) && l.includes("NotCapable") && what.test(l));
    assert(
      denied("hostile_fetch", /net access to \\"127\.0\.0\.1/),
      "the fetch was not refused by permissions",
    );
    assert(denied("hostile_env", /env access/), "the env read was not refused by permissions");
    assert(denied("hostile_run", /run access/), "the command was not refused by permissions");
    assert(denied("hostile_ffi", /ffi access/), "the library load was not refused by permissions");
    assert(denied("hostile_read_file", /read access/), "the file read was not refused by permissions");
    const metrics = await h.bot.metrics.text();
    assert(/clank_plugin_failures_total\{plugin="hostile_/.test(metrics), "plugin failures were not counted");
  } finally {
    await h.stop();
  }
});

Deno.test("hot reload: a new drop-in file and POST /api/reload keep the IRC connection", async (t) => {
  const dir = await Deno.makeTempDir();
  const token = "reload-test-control-token-123456";
  const h = await startHarness({
    config: { plugins_dir: dir, http: { listen: "127.0.0.1:0", control_token: token } },
  });
  const sdk = new URL("../plugins/sdk.ts", import.meta.url).href;
  try {
    const connections = h.twitch.connectionCount;
    await t.step("a file dropped into plugins_dir is loaded without reconnecting", async () => {
      await Deno.writeTextFile(
        `${dir}/shout_filter.ts`,
        `import { definePlugin } from "${sdk}";
export default definePlugin({ name: "shout_filter", kind: "filter", apiVersion: 1,
  check: (item) => item.text === item.text.toUpperCase() && item.text.length > 8
    ? { action: "drop", reason: "shouting" } : { action: "pass" } });
`,
      );
      await h.twitch.waitFor(
        () => h.bot.host.plugins.all.some((p) => p.meta.name === "shout_filter"),
        15_000,
        "the watcher to load the new drop-in",
      );
      assertEquals(h.twitch.connectionCount, connections);
      assert(h.twitch.openConnections >= 1);
    });
    await t.step("the reloaded plugin acts on chat", async () => {
      await h.say("alpha", "loud", "WHY IS EVERYONE SO QUIET");
      assert(h.logs.some((l) => l.includes("shout_filter") && l.includes("Chat line blocked")));
    });
    await t.step("POST /api/reload reloads too, still on the same connection", async () => {
      const r = await fetch(new URL("api/reload", h.bot.httpUrl!), {
        method: "POST",
        headers: { authorization: `Bearer ${token}` },
      });
      const body = await r.text();
      assertEquals(r.status, 200, body);
      assert(body.includes("shout_filter"), body);
      assertEquals(h.twitch.connectionCount, connections);
    });
  } finally {
    await h.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
