import { assertEquals } from "./assert.ts";
import cooldown, { cooldownEntries } from "../plugins/response_cooldown.ts";
import { testApi, testSettings } from "../core/testing.ts";

const api = testApi({ max_users: 10 });
const settings = testSettings({ response: 60 });
const ask = (user: string, time: number, channel = "c") =>
  cooldown.gate({ trigger: "mention", channel, user, settings, contextSize: 0, time }, api);

Deno.test("response_cooldown keeps a per-user cooldown", async (t) => {
  await cooldown.setup!(api);
  await t.step("a second mention inside the cooldown is refused, after it allowed", async () => {
    assertEquals(await ask("ann", 0), { allow: true });
    assertEquals(await ask("ann", 59_999), { allow: false, reason: "user_cooldown" });
    assertEquals(await ask("ann", 60_000), { allow: true });
  });
  await t.step("other users and other channels are not affected", async () => {
    assertEquals(await ask("bob", 60_001), { allow: true });
    assertEquals(await ask("ann", 60_002, "other"), { allow: true });
  });
  await t.step("memory stays bounded: expired and oldest entries are evicted", async () => {
    for (let i = 0; i < 50; i++) assertEquals(await ask(`u${i}`, 100_000 + i), { allow: true });
    // u0 was evicted (beyond max_users), so it is allowed again even inside its cooldown.
    assertEquals(await ask("u0", 100_100), { allow: true });
    assertEquals(await ask("u49", 100_100), { allow: false, reason: "user_cooldown" });
  });
  await t.step(
    "a reload keeps cooldowns: the new instance is set up before the old is torn down",
    async () => {
      assertEquals(await ask("zed", 200_000), { allow: true });
      await cooldown.setup!(api);
      await cooldown.teardown!(api);
      assertEquals(await ask("zed", 200_001), { allow: false, reason: "user_cooldown" });
    },
  );
  await t.step("expired entries are dropped as time goes on, and parted channels forgotten", async () => {
    await ask("x1", 300_000);
    await ask("x2", 300_001);
    assertEquals(cooldownEntries("c"), 2);
    // Long after every cooldown ended, the next ask prunes the expired users and keeps only itself.
    assertEquals(await ask("late", 10_000_000), { allow: true });
    assertEquals(cooldownEntries("c"), 1);
    await cooldown.observe!({ type: "part", channel: "c", user: "clankbot", self: true, time: 0 }, api);
    assertEquals(cooldownEntries("c"), 0);
  });
  await cooldown.teardown!(api);
});
