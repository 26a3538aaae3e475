import { assertEquals } from "./assert.ts";
import gate, { ACTIVE_WINDOW_SECONDS } from "../plugins/spontaneous_gate.ts";
import { messageEvent, testApi, testSettings } from "../core/testing.ts";

const settings = testSettings({ threshold: 5, spontaneous: 60, min_context: 3 });

Deno.test("spontaneous_gate needs both enough messages and enough time", async (t) => {
  const api = testApi({ save_every: 2, save_after_seconds: 3600 });
  await gate.setup!(api);
  const ask = (time: number, contextSize = 10) =>
    gate.gate({ trigger: "spontaneous", channel: "c", settings, contextSize, time }, api);
  // Chat lines arrive just before each question: this test is about counting, not about quiet chat.
  const chat = async (n: number, time = 1_000_000) => {
    for (let i = 0; i < n; i++) {
      await gate.observe!(messageEvent({ channel: "c", text: `line ${i}`, time }), api);
    }
  };

  await t.step("threshold not reached: refused", async () => {
    await chat(4);
    assertEquals(await ask(1_000_000), { allow: false, reason: "threshold" });
  });
  await t.step("threshold reached and time passed: allowed once, counters reset", async () => {
    await chat(1);
    assertEquals(await ask(1_000_000), { allow: true });
    assertEquals(await ask(1_000_001), { allow: false, reason: "threshold" });
  });
  await t.step("threshold reached again but not enough time: refused", async () => {
    await chat(10, 1_050_000);
    assertEquals(await ask(1_000_000 + 59_999), { allow: false, reason: "cooldown" });
    assertEquals(await ask(1_000_000 + 60_000, 2), { allow: false, reason: "context" });
    assertEquals(await ask(1_000_000 + 60_000), { allow: true });
  });
  await t.step("commands, bots and the bot itself do not count", async () => {
    await gate.observe!(
      messageEvent({
        channel: "c",
        text: "!uptime",
        flags: { mention: false, command: true, fromBot: false },
      }),
      api,
    );
    await gate.observe!(
      messageEvent({ channel: "c", text: "hi", flags: { mention: false, command: false, fromBot: true } }),
      api,
    );
    await gate.observe!(messageEvent({ channel: "c", text: "me", self: true }), api);
    assertEquals(api.stored.get("c"), { count: 0, last: 1_060_000 });
  });
  await t.step("counters survive a restart through the store", async () => {
    await chat(2);
    await gate.teardown!(api);
    await gate.setup!(api);
    assertEquals(await ask(2_000_000), { allow: false, reason: "threshold" });
    // Three lines alone would stay below the threshold of 5: the two restored ones count.
    await chat(3, 2_000_000);
    assertEquals(await ask(2_000_000), { allow: true });
  });
  await gate.teardown!(api);
});

Deno.test("spontaneous_gate saves a changed counter after save_after_seconds, not only every save_every lines", async () => {
  const api = testApi({ save_every: 100, save_after_seconds: 10 });
  await gate.setup!(api);
  try {
    const line = (time: number) => gate.observe!(messageEvent({ channel: "quiet", text: "hi", time }), api);
    await line(1_000_000);
    await line(1_004_000);
    assertEquals(api.stored.get("quiet"), undefined, "saved before 10 s passed");
    await line(1_010_000);
    assertEquals(api.stored.get("quiet"), { count: 3, last: 0 });
  } finally {
    await gate.teardown!(api);
  }
});

Deno.test("spontaneous_gate: no line into a quiet chat, and a restored counter alone never fires", async (t) => {
  // spontaneous 3600 s: the activity window is then its cap, ACTIVE_WINDOW_SECONDS.
  const settings = testSettings({ threshold: 5, spontaneous: 3600, min_context: 3 });
  const api = testApi({ save_every: 1, save_after_seconds: 3600 });
  await gate.setup!(api);
  const ask = (time: number) =>
    gate.gate({ trigger: "spontaneous", channel: "q", settings, contextSize: 10, time }, api);
  const line = (time: number, channel = "q") =>
    gate.observe!(messageEvent({ channel, text: "hi", time }), api);
  const window = ACTIVE_WINDOW_SECONDS * 1000;
  const t0 = 10_000_000;
  try {
    await t.step("threshold reached, then silence: refused however long the silence", async () => {
      for (let i = 0; i < 10; i++) await line(t0 + i * 6_000);
      const last = t0 + 54_000;
      assertEquals(await ask(last + window + 1), { allow: false, reason: "quiet" });
      assertEquals(await ask(last + 3_600_000), { allow: false, reason: "quiet" });
    });
    await t.step("one stray line into the dead chat does not wake the bot", async () => {
      await line(t0 + 7_200_000);
      assertEquals(await ask(t0 + 7_200_001), { allow: false, reason: "quiet" });
    });
    await t.step("chat picks up again: the counted lines are still there, the bot may talk", async () => {
      await line(t0 + 7_230_000);
      await line(t0 + 7_260_000);
      assertEquals(await ask(t0 + 7_260_001), { allow: true });
    });
    await t.step("after a restart, the restored counter waits for live chat", async () => {
      for (let i = 0; i < 6; i++) await line(t0 + 7_300_000 + i);
      await gate.teardown!(api);
      await gate.setup!(api);
      const later = t0 + 7_300_000 + 8 * 3_600_000;
      assertEquals(await ask(later), { allow: false, reason: "quiet" });
      await line(later + 1_000);
      await line(later + 2_000);
      assertEquals(await ask(later + 2_001), { allow: false, reason: "quiet" });
      await line(later + 3_000);
      assertEquals(await ask(later + 3_001), { allow: true }, "the restored count was lost");
    });
    await t.step("a rejoin starts the activity over, like a restart", async () => {
      const at = t0 + 40 * 3_600_000;
      for (let i = 0; i < 6; i++) await line(at + i, "r");
      await gate.observe!({ type: "part", channel: "r", user: "clankbot", self: true, time: at + 10 }, api);
      await gate.observe!({ type: "join", channel: "r", user: "clankbot", self: true, time: at + 20 }, api);
      const askR = (time: number) =>
        gate.gate({ trigger: "spontaneous", channel: "r", settings, contextSize: 10, time }, api);
      assertEquals(await askR(at + 30), { allow: false, reason: "quiet" });
      // Another user joining is no reason to forget the conversation.
      for (let i = 0; i < 3; i++) await line(at + 40 + i, "r");
      await gate.observe!({ type: "join", channel: "r", user: "viewer", self: false, time: at + 50 }, api);
      assertEquals(await askR(at + 60), { allow: true });
    });
    await t.step("a short cooldown shortens the window: active means within `spontaneous` too", async () => {
      const short = testSettings({ threshold: 5, spontaneous: 60, min_context: 3 });
      const at = t0 + 50 * 3_600_000;
      for (let i = 0; i < 5; i++) await line(at + i, "s");
      const askS = (time: number) =>
        gate.gate({ trigger: "spontaneous", channel: "s", settings: short, contextSize: 10, time }, api);
      assertEquals(await askS(at + 2 + 60_001), { allow: false, reason: "quiet" });
      assertEquals(await askS(at + 2 + 60_000), { allow: true });
    });
  } finally {
    await gate.teardown!(api);
  }
});
