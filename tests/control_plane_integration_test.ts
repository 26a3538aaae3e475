/**
 * The HTTP control plane over the real host: readiness, settings shared with `!clank`, join/part,
 * recent lines, metrics with per-channel labels, and no secret in any response or log line.
 */
import { assert, assertEquals, assertMatch } from "./assert.ts";
import { startHarness } from "./fakes/bot_harness.ts";
import { promtoolCheck } from "./promtool.ts";

const TOKEN = "control-token-for-tests-0123456789";

Deno.test("control plane over the running bot", async (t) => {
  const h = await startHarness({
    config: { http: { listen: "127.0.0.1:0", control_token: TOKEN }, twitch: { command_cooldown: 0 } },
  });
  const base = h.bot.httpUrl!;
  const api = (path: string, init: RequestInit = {}) =>
    fetch(new URL(path, base), { ...init, headers: { authorization: `Bearer ${TOKEN}`, ...init.headers } });
  const bodies: string[] = [];
  const json = async (r: Response) => {
    const text = await r.text();
    bodies.push(text);
    return JSON.parse(text);
  };
  try {
    await t.step("/readyz is 200 once IRC is joined and the database is writable", async () => {
      const r = await fetch(new URL("readyz", base));
      const body = await json(r);
      assertEquals(r.status, 200, JSON.stringify(body));
      assertEquals(body.irc.joined, 2);
    });

    await t.step("a setting changed over HTTP is the one !clank shows, and the reverse", async () => {
      const r = await api("api/channels/alpha/settings", {
        method: "PATCH",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ threshold: 77 }),
      });
      assertEquals(r.status, 200, JSON.stringify(await json(r.clone())));
      await r.body?.cancel();
      h.twitch.sendPrivmsg("alpha", { login: "moddy", badges: { moderator: 1 }, text: "!clank threshold" });
      await h.twitch.waitFor(() => h.twitch.privmsgs.some((p) => p.text.includes("threshold is 77")));
      h.twitch.sendPrivmsg("alpha", { login: "moddy", badges: { moderator: 1 }, text: "!clank context 300" });
      await h.twitch.waitFor(() => h.twitch.privmsgs.some((p) => p.text.includes("context set to 300")));
      const view = await json(await api("api/channels/alpha"));
      const settings = view.settings ?? view.channel?.settings;
      assertEquals([settings.threshold, settings.context], [77, 300]);
    });

    await t.step("out-of-range values get 400 naming the field and the range", async () => {
      const r = await api("api/channels/alpha/settings", {
        method: "PATCH",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ response: 5 }),
      });
      assertEquals(r.status, 400);
      assertMatch(JSON.stringify(await json(r)), /response.*is out of range 10\.\.1800/);
    });

    await t.step("join and part", async () => {
      assertEquals(
        (await api("api/channels/gamma/join", { method: "POST" }).then((r) => (r.body?.cancel(), r))).status <
          300,
        true,
      );
      await h.twitch.waitFor(() => h.twitch.joinedChannels().includes("gamma"));
      assertEquals(
        (await api("api/channels/gamma/part", { method: "POST" }).then((r) => (r.body?.cancel(), r))).status <
          300,
        true,
      );
      await h.twitch.waitFor(() => !h.twitch.joinedChannels().includes("gamma"));
    });

    await t.step("recent lines and per-channel metrics", async () => {
      const recent = await json(await api("api/recent?channel=alpha&limit=5"));
      assert(JSON.stringify(recent).includes("!clank context 300"));
      const metrics = await (await api("metrics")).text();
      bodies.push(metrics);
      assertMatch(metrics, /clank_chat_lines_received_total\{channel="alpha"\} \d+/);
      assertMatch(metrics, /clank_lines_sent_total\{channel="alpha",kind="command"\} \d+/);
      assert(
        !/user|login/.test(
          metrics.split("\n").filter((l) => l.startsWith("clank_") && l.includes("{")).join("\n"),
        ),
        "a user label",
      );
    });

    await t.step(
      "the running bot's /metrics passes promtool and reports each channel's context",
      async () => {
        await h.say("alpha", "viewer", "what a run this is");
        await h.say("alpha", "viewer2", "that skip was clean");
        const metrics = await (await api("metrics")).text();
        bodies.push(metrics);
        const { code, report } = await promtoolCheck(metrics);
        assertEquals(code, 0, `promtool check metrics failed:\n${report}`);
        assertEquals(report.trim(), "", `promtool reported lint problems:\n${report}`);
        const context = Number(/^clank_context_lines\{channel="alpha"\} (\d+)$/m.exec(metrics)?.[1] ?? NaN);
        assert(context >= 2, `clank_context_lines for alpha: ${context}`);
        // Families a dashboard needs, each with a sample from this bot (not a hand-filled registry).
        for (
          const family of ["clank_chat_lines_received_total", "clank_lines_sent_total", "clank_irc_connected"]
        ) {
          assertMatch(metrics, new RegExp(`^${family}(\\{[^}]*\\})? \\d`, "m"));
        }
      },
    );

    await t.step("no secret in any response or log line", () => {
      for (const text of [...bodies, ...h.logs]) {
        assert(!text.includes(TOKEN), "the control token leaked");
        assert(!text.includes(h.token), "the OAuth token leaked");
      }
    });
    await t.step("hourly per-channel counters reach metrics_rows when the bot stops", async () => {
      await h.bot.stop();
      const { DatabaseSync } = await import("node:sqlite");
      const db = new DatabaseSync(`${h.dir}/chatbot.db`);
      try {
        const rows = db.prepare(
          "SELECT metric, SUM(value) AS n FROM metrics_rows WHERE channel = 'alpha' GROUP BY metric",
        )
          .all() as Array<{ metric: string; n: number }>;
        const byMetric = Object.fromEntries(rows.map((r) => [r.metric, Number(r.n)]));
        assert((byMetric.chat_lines ?? 0) >= 2, JSON.stringify(byMetric));
        assert((byMetric.sent_command ?? 0) >= 2, JSON.stringify(byMetric));
      } finally {
        db.close();
      }
    });
  } finally {
    await h.stop();
  }
});
