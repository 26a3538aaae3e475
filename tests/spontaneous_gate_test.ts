import { assertEquals } from "./assert.ts";
import gate from "../plugins/spontaneous_gate.ts";
import { messageEvent, testApi, testSettings } from "../core/testing.ts";

const settings = testSettings({ threshold: 5, spontaneous: 60, min_context: 3 });

Deno.test("spontaneous_gate needs both enough messages and enough time", async (t) => {
  const api = testApi({ save_every: 2, save_after_seconds: 3600 });
  await gate.setup!(api);
  const ask = (time: number, contextSize = 10) =>
    gate.gate({ trigger: "spontaneous", channel: "c", settings, contextSize, time }, api);
  const chat = async (n: number) => {
    for (let i = 0; i < n; i++) await gate.observe!(messageEvent({ channel: "c", text: `line ${i}` }), api);
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
    await chat(10);
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
    await chat(4);
    await gate.teardown!(api);
    await gate.setup!(api);
    assertEquals(await ask(2_000_000), { allow: false, reason: "threshold" });
    await chat(1);
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
