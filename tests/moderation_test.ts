/**
 * Moderation through the fake Twitch server and the real tmi.js client: CLEARCHAT, CLEARMSG,
 * ROOMSTATE and NOTICE lines change what enters the prompt, what is stored and what the bot sends.
 */
import { assert, assertEquals } from "./assert.ts";
import { startHarness } from "./fakes/bot_harness.ts";
import { createHostHarness } from "./fakes/host_harness.ts";

function promptOf(body: Record<string, unknown> | undefined): string {
  return ((body?.messages ?? []) as Array<{ content: string }>).map((m) => m.content).join("\n");
}

const WORDS = [
  "river",
  "castle",
  "pixel",
  "thunder",
  "maple",
  "rocket",
  "velvet",
  "harbor",
  "comet",
  "lantern",
];
let replies = 0;
/** Replies that differ enough that the repetition filter never takes them for repeats. */
function varied(): string {
  replies++;
  return `${WORDS[replies % 10]} ${WORDS[(replies * 3 + 1) % 10]} ${
    WORDS[(replies * 7 + 2) % 10]
  } number ${replies}`;
}

Deno.test("moderation events reach the context, the database and the output", async (t) => {
  const dir = await Deno.makeTempDir();
  const words = `${dir}/blocked.txt`;
  await Deno.writeTextFile(words, "# test list\nzorblax\n");
  const h = await startHarness({
    config: {
      filter: { blocked_words_file: words },
      defaults: { response: 10 },
      twitch: { keep_timed_out_lines: true },
    },
    ollama: { reply: () => varied() },
  });
  let asks = 0;
  const mentionAndPrompt = async (channel: string): Promise<string> => {
    const before = h.ollama.generations().length;
    h.twitch.sendPrivmsg(channel, { login: `asker${++asks}`, text: "clankbot what do you think?" });
    await h.twitch.waitFor(() => h.ollama.generations().length > before, 10_000, "a generation");
    await h.bot.host.settled();
    await h.delivered();
    return promptOf(h.ollama.generations().at(-1)!.body);
  };
  try {
    await t.step("a blocked line never enters the context or the prompt", async () => {
      h.twitch.sendPrivmsg("alpha", { login: "rude", text: "you are a z0rbl4x" });
      h.twitch.sendPrivmsg("alpha", { login: "nice", text: "what a lovely stream" });
      const prompt = await mentionAndPrompt("alpha");
      assert(prompt.includes("what a lovely stream"));
      assert(!prompt.toLowerCase().includes("z0rbl4x"), "blocked line reached the prompt");
    });

    await t.step("ban: the user's lines leave the context and the database", async () => {
      h.twitch.sendPrivmsg("alpha", { login: "troll", text: "troll line one" });
      h.twitch.sendPrivmsg("alpha", { login: "troll", text: "troll line two" });
      await h.twitch.waitFor(() => h.bot.host.recent("alpha", 10).some((l) => l.text === "troll line two"));
      h.twitch.sendClearChat("alpha", "troll");
      const prompt = await mentionAndPrompt("alpha");
      assert(!prompt.includes("troll line"), "a banned user's lines are still in the prompt");
      await h.bot.storage.flush();
      const stored = await h.bot.storage.recentMessages("alpha", 500);
      assert(!stored.some((r) => r.user === "troll"), "a banned user's lines are still in the database");
    });

    await t.step("timeout: lines leave the context but stay in the database (configured)", async () => {
      h.twitch.sendPrivmsg("alpha", { login: "spammer", text: "buy followers here" });
      await h.twitch.waitFor(() =>
        h.bot.host.recent("alpha", 10).some((l) => l.text === "buy followers here")
      );
      h.twitch.sendClearChat("alpha", "spammer", 600);
      const prompt = await mentionAndPrompt("alpha");
      assert(!prompt.includes("buy followers"), "a timed-out user's line is still in the prompt");
      await h.bot.storage.flush();
      assert((await h.bot.storage.recentMessages("alpha", 500)).some((r) => r.user === "spammer"));
    });

    await t.step("message deletion: that exact message leaves the context and the database", async () => {
      h.twitch.sendPrivmsg("alpha", { login: "oops", id: "del-1", text: "spoiler: the boss dies" });
      h.twitch.sendPrivmsg("alpha", { login: "oops", id: "keep-1", text: "sorry about that" });
      await h.twitch.waitFor(() => h.bot.host.recent("alpha", 10).some((l) => l.text === "sorry about that"));
      h.twitch.sendClearMsg("alpha", "oops", "del-1");
      const prompt = await mentionAndPrompt("alpha");
      assert(!prompt.includes("spoiler: the boss dies"));
      assert(prompt.includes("sorry about that"));
      await h.bot.storage.flush();
      const stored = await h.bot.storage.recentMessages("alpha", 500);
      assert(!stored.some((r) => r.id === "del-1") && stored.some((r) => r.id === "keep-1"));
    });

    await t.step("clear chat: the channel's context is emptied", async () => {
      h.twitch.sendPrivmsg("beta", { login: "someone", text: "beta chatter before the clear" });
      await h.twitch.waitFor(() =>
        h.bot.host.recent("beta", 10).some((l) => l.text.includes("before the clear"))
      );
      h.twitch.sendClearChat("beta");
      const prompt = await mentionAndPrompt("beta");
      assert(!prompt.includes("before the clear"));
    });

    await t.step("the bot never addresses or quotes a timed-out user", async () => {
      h.ollama.setReply(() => "@spammer has great deals");
      const sentBefore = h.twitch.privmsgs.length;
      await mentionAndPrompt("alpha");
      await h.bot.host.settled();
      assertEquals(h.twitch.privmsgs.length, sentBefore, "a line naming a timed-out user was sent");
      assert(
        (await h.bot.metrics.text()).includes(
          'clank_lines_blocked_total{filter="restricted_user",direction="out"}',
        ),
      );
      h.ollama.setReply(() => varied());
    });

    await t.step("emote-only mode: the bot stays quiet", async () => {
      h.twitch.sendRoomState("beta", { "emote-only": 1 });
      const sentBefore = h.twitch.privmsgs.length;
      await mentionAndPrompt("beta");
      await h.bot.host.settled();
      assertEquals(
        h.twitch.privmsgs.filter((p) => p.channel === "beta").length,
        h.twitch.privmsgs.slice(0, sentBefore).filter((p) => p.channel === "beta").length,
      );
      assert((await h.bot.metrics.text()).includes('clank_send_dropped_total{reason="emote_only"}'));
    });

    await t.step("msg_banned: the bot stops sending to that channel", async () => {
      h.twitch.sendNotice("alpha", "msg_banned", "You are permanently banned from talking in alpha.");
      await h.twitch.waitFor(() =>
        h.bot.host.channel("alpha")?.status.lastError?.includes("msg_banned") ?? false
      );
      const before = h.twitch.privmsgs.filter((p) => p.channel === "alpha").length;
      await mentionAndPrompt("alpha");
      await h.bot.host.settled();
      assertEquals(h.twitch.privmsgs.filter((p) => p.channel === "alpha").length, before);
    });
  } finally {
    await h.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("timeout with the default config: the user's lines leave the database too", async () => {
  const h = await createHostHarness({});
  try {
    assertEquals(h.config.twitch.keep_timed_out_lines, false);
    h.chat("alpha", "spammer", "buy followers here");
    h.chat("alpha", "viewer", "what a lovely stream");
    await h.settle();
    h.emit({
      type: "timeout",
      channel: "alpha",
      user: "spammer",
      userId: "id-spammer",
      duration: 600,
      time: Date.now(),
    });
    await h.settle();
    await h.storage.flush();
    const stored = await h.storage.recentMessages("alpha", 500);
    assert(!stored.some((r) => r.user === "spammer"), "a timed-out user's lines are still in the database");
    assert(stored.some((r) => r.user === "viewer"), "other users' lines went too");
  } finally {
    await h.close();
  }
});
