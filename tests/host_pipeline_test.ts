/**
 * The host's pipeline where it answers synchronously and where it waits: a chat line that meets only
 * synchronous plugins is handled before `dispatch` returns, and a line that waits on a plugin keeps
 * its place in its channel without holding up other channels.
 */
import { assertEquals } from "./assert.ts";
import { createHostHarness } from "./fakes/host_harness.ts";
import { historySize } from "../plugins/chat_history.ts";

/**
 * Pins `Math.random`, which picks the events (1 in 8) and plugin calls (1 in 8) that are timed:
 * timed ones take the awaited path, so a test of the synchronous path must rule them out.
 */
async function withRandom<T>(value: number, fn: () => T | Promise<T>): Promise<T> {
  const original = Math.random;
  Math.random = () => value;
  try {
    return await fn();
  } finally {
    Math.random = original;
  }
}

const texts = (h: { host: { recent(c: string, n: number): { text: string }[] } }, channel: string) =>
  h.host.recent(channel, 10).map((l) => l.text);

Deno.test("the pipeline answers synchronously where every plugin does", async (t) => {
  const h = await createHostHarness();
  try {
    // The spontaneous gate loads a channel's counter from the store on its first line: that one waits.
    h.chat("alpha", "warm", "first line of the channel");
    await h.settle();
    await t.step("a chat line with the built-in plugins is handled before dispatch returns", async () => {
      await withRandom(0.99, () => {
        const before = historySize("alpha");
        h.chat("alpha", "ann", "hello there");
        // No await in between: filters, bookkeeping, observers and the cooldown gate all ran.
        assertEquals(h.host.idle, true);
        assertEquals(historySize("alpha"), before + 1);
        assertEquals(texts(h, "alpha").at(-1), "hello there");
      });
    });
    await t.step("a timed event takes the awaited path and arrives all the same", async () => {
      await withRandom(0, async () => {
        const before = historySize("alpha");
        h.chat("alpha", "bob", "timed line");
        assertEquals(h.host.idle, false);
        await h.settle();
        assertEquals(historySize("alpha"), before + 1);
        assertEquals(texts(h, "alpha").at(-1), "timed line");
      });
    });
  } finally {
    await h.close();
  }
});

Deno.test("a line dropped at once ends there; a line that waits keeps its place in its channel only", async () => {
  const h = await createHostHarness({
    config: {
      plugins: [{ path: "tests/fixtures/direct_plugins/sometimes_slow_filter.ts", sandbox: false }],
    },
  });
  try {
    await withRandom(0.99, async () => {
      h.chat("alpha", "warm", "first line of the channel");
      h.chat("beta", "warm", "first line of the channel");
      await h.settle();
      // Dropped by a synchronous verdict: gone before dispatch returns, nothing left in flight.
      h.chat("alpha", "eve", "drop this one");
      assertEquals(h.host.idle, true);
      assertEquals(texts(h, "alpha"), ["first line of the channel"]);
      h.chat("alpha", "ann", "slow first");
      h.chat("alpha", "bob", "fast second");
      h.chat("beta", "cat", "fast elsewhere");
      // Alpha's fast line waits for the slow one ahead of it; beta's line does not wait for alpha.
      assertEquals(texts(h, "alpha"), ["first line of the channel"]);
      assertEquals(texts(h, "beta"), ["first line of the channel", "fast elsewhere"]);
      await h.settle();
      assertEquals(texts(h, "alpha"), ["first line of the channel", "slow first", "fast second"]);
      assertEquals(h.host.idle, true);
    });
  } finally {
    await h.close();
  }
});
