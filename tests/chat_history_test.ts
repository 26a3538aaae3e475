import { assertEquals } from "./assert.ts";
import chatHistory, { historySize } from "../plugins/chat_history.ts";
import { messageEvent, testApi, testSettings } from "../core/testing.ts";
import type { ContextContribution } from "../plugins/sdk.ts";

const api = testApi({ bot: "clankbot", max_channels: 3 });

async function provide(channel: string, context = 50): Promise<string[]> {
  const c = await chatHistory.provide!(
    { channel, trigger: "spontaneous", settings: testSettings({ context }), time: 0 },
    api,
  ) as ContextContribution;
  return (c.history ?? []).map((l) => `${l.bot ? "*" : ""}${l.user}: ${l.text}`);
}

const observe = (e: Parameters<NonNullable<typeof chatHistory.observe>>[0]) => chatHistory.observe!(e, api);

Deno.test("chat_history keeps a bounded history per channel", async (t) => {
  await chatHistory.setup!(api);

  await t.step("chat and the bot's own lines, in order, per channel", async () => {
    await observe(messageEvent({ channel: "a", user: "ann", text: "hi" }));
    await observe(messageEvent({ channel: "b", user: "bob", text: "other channel" }));
    await observe({
      type: "sent",
      channel: "a",
      text: "hello ann",
      trigger: "mention",
      user: "ann",
      time: 1,
    });
    assertEquals(await provide("a"), ["ann: hi", "*clankbot: hello ann"]);
    assertEquals(await provide("b"), ["bob: other channel"]);
  });

  await t.step("leaves out commands, known bots, self and system notices", async () => {
    await observe(messageEvent({ channel: "a", user: "cmd", text: "!uptime" }));
    await observe(
      messageEvent({
        channel: "a",
        user: "nightbot",
        text: "follow!",
        flags: { mention: false, command: false, fromBot: true },
      }),
    );
    await observe(messageEvent({ channel: "a", user: "clankbot", text: "echo", self: true }));
    await observe(messageEvent({ channel: "a", user: "jtv", text: "system" }));
    assertEquals(await provide("a"), ["ann: hi", "*clankbot: hello ann"]);
  });

  await t.step("bounded by the channel's context window", async () => {
    for (let i = 0; i < 120; i++) await observe(messageEvent({ channel: "c", user: "u", text: `line ${i}` }));
    const lines = await provide("c", 50);
    assertEquals(lines.length, 50);
    assertEquals(lines[0], "u: line 70");
    assertEquals(historySize("c"), 50);
  });

  await t.step("sequence numbers increase by one per line", async () => {
    const c = await chatHistory.provide!({
      channel: "c",
      trigger: "spontaneous",
      settings: testSettings({ context: 50 }),
      time: 0,
    }, api) as ContextContribution;
    const seqs = c.history!.map((l) => l.seq!);
    assertEquals(seqs[seqs.length - 1]! - seqs[0]!, 49);
  });

  await t.step(
    "moderation: ban and timeout remove a user's lines, deletion one line, clear all",
    async () => {
      await chatHistory.teardown!(api);
      await chatHistory.setup!(api);
      const keep = messageEvent({ channel: "m", user: "good", text: "keep me" });
      const del = messageEvent({ channel: "m", user: "good", text: "delete me" });
      await observe(keep);
      await observe(del);
      await observe(messageEvent({ channel: "m", user: "troll", text: "bad" }));
      await observe(messageEvent({ channel: "m", user: "spammer", text: "spam" }));
      await observe({ type: "ban", channel: "m", user: "troll", userId: "1", time: 0 });
      await observe({ type: "timeout", channel: "m", user: "spammer", userId: "2", duration: 600, time: 0 });
      await observe({ type: "deletion", channel: "m", user: "good", messageId: del.id, time: 0 });
      assertEquals(await provide("m"), ["good: keep me"]);
      await observe({ type: "clear", channel: "m", time: 0 });
      assertEquals(await provide("m"), []);
    },
  );

  await t.step("restore replaces the history with the stored lines", async () => {
    await observe({
      type: "restore",
      channel: "r",
      time: 0,
      lines: [
        { user: "old", displayName: "old", text: "from before the restart", time: 1, bot: false },
        // Stored before they were left out live: restored lines follow the same rules.
        { user: "jtv", displayName: "jtv", text: "a system notice", time: 2, bot: false },
        { user: "clankbot", displayName: "clankbot", text: "my old line", time: 3, bot: true },
      ],
    });
    assertEquals(await provide("r"), ["old: from before the restart", "*clankbot: my old line"]);
  });

  await t.step("at most max_channels channels are kept (least recently active forgotten)", async () => {
    await chatHistory.teardown!(api);
    await chatHistory.setup!(api);
    for (const ch of ["c1", "c2", "c3", "c4"]) await observe(messageEvent({ channel: ch, text: ch }));
    assertEquals(historySize("c1"), 0);
    assertEquals(historySize("c4"), 1);
  });
  await chatHistory.teardown!(api);
});

Deno.test("chat_history keeps its state across a reload (new instance set up before the old is torn down)", async () => {
  await chatHistory.setup!(api);
  await observe(messageEvent({ channel: "keep", user: "ann", text: "before the reload" }));
  await chatHistory.setup!(api); // the reloaded instance
  await chatHistory.teardown!(api); // the old one goes
  assertEquals(await provide("keep"), ["ann: before the reload"]);
  await chatHistory.teardown!(api);
});
