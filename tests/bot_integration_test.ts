/**
 * End to end through the real tmi.js and ollama clients against the fakes: a mention in Twitch chat
 * gets an Ollama reply in the right channel, built from the earlier chat.
 */
import { assert, assertEquals, assertMatch } from "./assert.ts";
import { startHarness } from "./fakes/bot_harness.ts";

function chatMessages(body: Record<string, unknown> | undefined): string {
  const messages = (body?.messages ?? []) as Array<{ role: string; content: string }>;
  return messages.map((m) => `${m.role}: ${m.content}`).join("\n");
}

Deno.test("bot answers a mention end to end through tmi.js and ollama", async (t) => {
  const h = await startHarness({
    ollama: { reply: () => "the wall clip is the hardest trick in the run" },
  });
  try {
    await t.step("earlier chat lines reach the prompt and the reply reaches the right channel", async () => {
      h.twitch.sendPrivmsg("alpha", { login: "speedyfan", text: "he is going for the sub 50 today" });
      h.twitch.sendPrivmsg("alpha", { login: "mossgiant", text: "the wall clip saves 40 seconds" });
      h.twitch.sendPrivmsg("beta", { login: "someone", text: "different channel chatter" });
      h.twitch.sendPrivmsg("alpha", {
        login: "riverotter",
        displayName: "RiverOtter",
        text: "@clankbot what is the hardest trick?",
      });
      await h.twitch.waitFor(() => h.twitch.privmsgs.length >= 1, 10_000, "a PRIVMSG from the bot");
      const sent = h.twitch.privmsgs[0]!;
      assertEquals(sent.channel, "alpha");
      assertEquals(sent.login, "clankbot");
      assertMatch(sent.text, /^@RiverOtter /);
      assert(sent.text.includes("the wall clip is the hardest trick in the run"), sent.text);
      const gen = h.ollama.generations();
      assertEquals(gen.length, 1);
      const prompt = chatMessages(gen[0]!.body);
      assert(prompt.includes("he is going for the sub 50 today"), prompt);
      assert(prompt.includes("the wall clip saves 40 seconds"), prompt);
      assert(prompt.includes("what is the hardest trick?"), prompt);
      assert(!prompt.includes("different channel chatter"), "another channel's chat leaked into the prompt");
      assertEquals(gen[0]!.body?.think, false);
    });

    await t.step("the bot never replies to itself", async () => {
      const before = h.ollama.generations().length;
      h.twitch.sendPrivmsg("beta", { login: "clankbot", text: "clankbot here, hello @clankbot" });
      await h.say("beta", "viewer", "just chatting");
      assertEquals(h.ollama.generations().length, before);
    });

    await t.step(
      "Ollama down: a counted error, no crash, no chat line; the next mention tries again",
      async () => {
        await h.ollama.setDown(true);
        const sentBefore = h.twitch.privmsgs.length;
        await h.say("beta", "asker", "clankbot are you there?");
        assertEquals(h.twitch.privmsgs.length, sentBefore);
        const metrics = await h.bot.metrics.text();
        assertMatch(metrics, /clank_ollama_errors_total\{kind="unreachable"\} 1/);
        assert(h.logs.some((l) => l.includes("Generator failed")), "no log line for the Ollama failure");
        await h.ollama.setDown(false);
        h.twitch.sendPrivmsg("beta", { login: "asker2", text: "clankbot hello again" });
        await h.twitch.waitFor(
          () => h.twitch.privmsgs.length > sentBefore,
          10_000,
          "a reply after Ollama came back",
        );
        assertEquals(h.twitch.privmsgs.at(-1)!.channel, "beta");
      },
    );
  } finally {
    await h.stop();
  }
});
