/**
 * `!clank` commands through the fake Twitch server: every subcommand as moderator, broadcaster,
 * configured admin and ordinary viewer; bad values; persistence across a restart.
 */
import { assert, assertEquals, assertMatch } from "./assert.ts";
import { type Harness, startHarness } from "./fakes/bot_harness.ts";

const MOD = { moderator: 1 };
const BROADCASTER = { broadcaster: 1 };

/** Sends a command and returns the bot's reply as Twitch received it, or null when it stayed silent. */
async function command(
  h: Harness,
  text: string,
  login = "moddy",
  badges: Record<string, number> = MOD,
): Promise<string | null> {
  const before = h.twitch.privmsgs.length;
  const recentBefore = h.bot.host.recent(undefined, 1000).length;
  await h.say("alpha", login, text, { badges });
  // settled() includes the reply's trip through the send queue: a reply is in the recent lines now.
  const replied = h.bot.host.recent(undefined, 1000).slice(recentBefore).some((l) => l.bot);
  if (!replied) return null;
  await h.twitch.waitFor(() => h.twitch.privmsgs.length > before, 5000, "the reply to reach Twitch");
  return h.twitch.privmsgs.at(-1)!.text;
}

Deno.test("!clank commands for moderators, end to end", async (t) => {
  const h = await startHarness({
    config: { twitch: { admins: ["trusted"], command_cooldown: 0 } },
    // The bot moderates alpha, so Twitch's 1.2 s per-channel spacing does not slow the test down.
    twitch: { badges: { alpha: "moderator/1" } },
    ollama: { models: ["llama3.1:latest", "qwen2.5:7b"] },
  });
  try {
    await t.step("help and unknown subcommands list the subcommands on one line", async () => {
      const help = await command(h, "!clank help");
      assertMatch(
        help!,
        /status .*threshold \[5-200\].*spontaneous \[60-3600\].*response \[10-1800\].*context \[50-500\].*model \[name\].*reset/,
      );
      // Same text again within 30 s would be dropped as a duplicate (Twitch refuses those): ask as another mod.
      assertEquals(await command(h, "!clank dance", "othermod"), help!.replace("@moddy", "@othermod"));
    });

    await t.step("status", async () => {
      const s = await command(h, "!clank status");
      for (const part of ["model llama3.1", "threshold 30", "Ollama ok", "last error: none"]) {
        assert(s!.includes(part), s!);
      }
    });

    await t.step("settings show and change, as moderator, broadcaster and configured admin", async () => {
      assertMatch((await command(h, "!clank threshold"))!, /threshold is 30/);
      assertMatch((await command(h, "!clank threshold 40"))!, /threshold set to 40/);
      assertEquals(h.bot.host.channel("alpha")!.settings.threshold, 40);
      assertMatch(
        (await command(h, "!clank spontaneous 600", "streamer", BROADCASTER))!,
        /spontaneous set to 600s/,
      );
      assertMatch((await command(h, "!clank response 90", "trusted", {}))!, /response set to 90s/);
      assertMatch((await command(h, "!clank context 100"))!, /context set to 100/);
      const view = h.bot.host.channel("alpha")!;
      assertEquals([view.settings.spontaneous, view.settings.response, view.settings.context], [
        600,
        90,
        100,
      ]);
      assertEquals(h.bot.host.channel("beta")!.settings.threshold, 30, "another channel changed too");
    });

    await t.step("bad values get one short reply naming the allowed range", async () => {
      assertEquals(await command(h, "!clank threshold 500"), "@moddy threshold: 500 is out of range 5..200");
      assertEquals(
        await command(h, "!clank context abc"),
        '@moddy context: "abc" must be a whole number in 50..500',
      );
      assertEquals(
        await command(h, "!clank spontaneous 1.5"),
        "@moddy spontaneous: 1.5 must be a whole number in 60..3600",
      );
      assertEquals(h.bot.host.channel("alpha")!.settings.threshold, 40);
    });

    await t.step("model: checked against Ollama's installed models", async () => {
      assertMatch((await command(h, "!clank model"))!, /model is llama3\.1/);
      assertMatch((await command(h, "!clank model qwen2.5:7b"))!, /model set to qwen2\.5:7b/);
      assertEquals(
        await command(h, "!clank model nosuchmodel"),
        '@moddy model: "nosuchmodel" is not installed in Ollama; installed: llama3.1:latest, qwen2.5:7b',
      );
      assertEquals(h.bot.host.channel("alpha")!.settings.model, "qwen2.5:7b");
    });

    await t.step("ordinary viewers are ignored silently", async () => {
      for (const text of ["!clank threshold 10", "!clank status", "!clank reset", "!clank help"]) {
        assertEquals(await command(h, text, "viewer", {}), null, text);
      }
      assertEquals(h.bot.host.channel("alpha")!.settings.threshold, 40);
    });

    await t.step(
      "another bot's line is not obeyed, even from a moderator (Nightbot echoes viewers)",
      async () => {
        assertEquals(await command(h, "!clank threshold 7", "nightbot"), null);
        assertEquals(h.bot.host.channel("alpha")!.settings.threshold, 40);
      },
    );

    await t.step(
      "command replies are not cut to the channel's max_length (it is for generated lines)",
      async () => {
        assertEquals((await h.bot.host.updateSettings("alpha", { max_length: 20 })).ok, true);
        assertEquals(
          await command(h, "!clank threshold 300"),
          "@moddy threshold: 300 is out of range 5..200",
        );
        assertEquals((await h.bot.host.updateSettings("alpha", { max_length: 400 })).ok, true);
      },
    );

    await t.step(
      "the invisible suffix chat clients add to a repeated message is not an argument",
      async () => {
        // Chatterino appends " \u034f" (older versions " \u{E0000}") so Twitch takes a repeat for new.
        assertMatch((await command(h, "!clank threshold 41 \u034f"))!, /threshold set to 41/);
        assertMatch((await command(h, "!clank threshold 40 \u{E0000}"))!, /threshold set to 40/);
        assertMatch((await command(h, "!clank threshold \u034f", "othermod"))!, /threshold is 40/);
      },
    );

    await t.step("settings survive a restart of the bot", async () => {
      await h.restart();
      const view = h.bot.host.channel("alpha")!;
      assertEquals([view.settings.threshold, view.settings.spontaneous, view.settings.model], [
        40,
        600,
        "qwen2.5:7b",
      ]);
    });

    await t.step("reset returns to the configured defaults and that survives a restart too", async () => {
      assertMatch((await command(h, "!clank reset"))!, /settings reset: threshold 30/);
      assertEquals(h.bot.host.channel("alpha")!.settings.threshold, 30);
      await h.restart();
      assertEquals(h.bot.host.channel("alpha")!.settings.model, "");
    });
  } finally {
    await h.stop();
  }
});

Deno.test("!clank model never posts Ollama's address in chat, and names how many models it leaves out", async (t) => {
  await t.step("Ollama down: the reply says so without the URL", async () => {
    const h = await startHarness({ ollamaDown: true, twitch: { badges: { alpha: "moderator/1" } } });
    try {
      const reply = await command(h, "!clank model qwen2.5:7b");
      assertEquals(reply, '@moddy model: "qwen2.5:7b" cannot be checked: Ollama is not reachable');
      assert(h.logs.some((l) => l.includes("127.0.0.1")), "the log keeps the address for the operator");
    } finally {
      await h.stop();
    }
  });

  await t.step("25 installed models: the reply fits Twitch and says how many more there are", async () => {
    const models = Array.from({ length: 25 }, (_, i) => `some-rather-long-model-name-${i}:latest`);
    const h = await startHarness({ ollama: { models }, twitch: { badges: { alpha: "moderator/1" } } });
    try {
      const reply = (await command(h, "!clank model nosuchmodel"))!;
      assert(reply.length <= 500, `${reply.length} characters`);
      const more = reply.match(/… and (\d+) more$/);
      assert(more, reply);
      const listed = reply.split("installed: ")[1]!.split(", ").length;
      assertEquals(listed + Number(more[1]), 25, reply);
    } finally {
      await h.stop();
    }
  });
});

Deno.test("command cooldown and prefix are configurable", async () => {
  const h = await startHarness({ config: { twitch: { command_prefix: "!bot", command_cooldown: 600 } } });
  try {
    assertMatch((await command(h, "!bot threshold"))!, /threshold is 30/);
    // Inside the channel's command cooldown the next command is ignored.
    assertEquals(await command(h, "!bot threshold"), null);
    // The old prefix is now an ordinary line.
    h.twitch.sendPrivmsg("beta", { login: "moddy", badges: MOD, text: "!clank status" });
    await h.bot.host.settled();
    assert(!h.twitch.privmsgs.some((p) => p.channel === "beta"));
  } finally {
    await h.stop();
  }
});

Deno.test("every subcommand for every role, and a drop-in subcommand open to viewers", async (t) => {
  const h = await startHarness({
    config: {
      twitch: { admins: ["trusted"], command_cooldown: 0 },
      plugins: [{ path: "examples/plugins/dice.ts" }],
    },
    twitch: { badges: { alpha: "moderator/1" } },
  });
  const roles: Array<[string, string, Record<string, number>]> = [
    ["moderator", "moddy", MOD],
    ["broadcaster", "streamer", BROADCASTER],
    ["configured admin", "trusted", {}],
  ];
  const shows: Array<[string, RegExp]> = [
    ["!clank status", /model llama3\.1.*threshold 30/],
    ["!clank threshold", /threshold is 30/],
    ["!clank spontaneous", /spontaneous is 300s/],
    ["!clank response", /response is 60s/],
    ["!clank context", /context is 200/],
    ["!clank model", /model is llama3\.1/],
    ["!clank help", /status .*threshold .*reset/],
    ["!clank reset", /settings reset: threshold 30/],
  ];
  try {
    for (const [role, login, badges] of roles) {
      await t.step(`${role}: every subcommand answers`, async () => {
        for (const [text, expected] of shows) {
          const reply = await command(h, text, login, badges);
          assert(reply !== null, `${role} got no reply to ${text}`);
          assertMatch(reply, expected);
          assert(reply.startsWith(`@${login} `), reply);
        }
      });
    }
    await t.step("viewer: every subcommand, with and without a value, is ignored silently", async () => {
      for (const [text] of shows) assertEquals(await command(h, text, "viewer", {}), null, text);
      for (
        const text of ["!clank spontaneous 600", "!clank response 90", "!clank context 100", "!clank model x"]
      ) {
        assertEquals(await command(h, text, "viewer", {}), null, text);
      }
      const s = h.bot.host.channel("alpha")!.settings;
      assertEquals([s.spontaneous, s.response, s.context, s.model], [300, 60, 200, ""]);
    });
    await t.step("a sandboxed drop-in subcommand (the dice example) answers a viewer", async () => {
      const reply = await command(h, "!clank roll 2d6", "viewer", {});
      assert(reply !== null, "no reply to !clank roll from a viewer");
      assertMatch(reply, /^@viewer rolled 2d6: \d \+ \d = \d+$/);
      // Its declared per-user cooldown (10 s) is enforced by the host.
      assertEquals(await command(h, "!clank roll 1d6", "viewer", {}), null);
      assertMatch((await command(h, "!clank roll 1d6", "viewer2", {}))!, /^@viewer2 rolled 1d6/);
    });
  } finally {
    await h.stop();
  }
});
