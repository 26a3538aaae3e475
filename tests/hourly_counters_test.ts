import { assert, assertEquals, rejects } from "./assert.ts";
import { HourlyCounters, MAX_PENDING } from "../core/hourly_counters.ts";
import type { MetricRow } from "../core/migrations.ts";

const H = 3_600_000;

Deno.test("HourlyCounters sums per channel, metric and hour and keeps rows a failed write did not store", async (t) => {
  const c = new HourlyCounters();
  await t.step("sums within the hour, separates hours and channels", async () => {
    c.add("a", "chat_lines", 10 * H + 5);
    c.add("a", "chat_lines", 10 * H + 60_000);
    c.add("a", "chat_lines", 11 * H);
    c.add("b", "sent_mention", 10 * H, 2);
    const written: MetricRow[] = [];
    await c.flush((rows) => (written.push(...rows), Promise.resolve()));
    assertEquals(written.map(({ flushId: _, ...r }) => r), [
      { channel: "a", metric: "chat_lines", hourMs: 10 * H, value: 2 },
      { channel: "a", metric: "chat_lines", hourMs: 11 * H, value: 1 },
      { channel: "b", metric: "sent_mention", hourMs: 10 * H, value: 2 },
    ]);
    assertEquals(new Set(written.map((r) => r.flushId)).size, 1);
    assertEquals(c.pending, 0);
  });
  await t.step("a failed write is sent again as it was, with its flush id, before new counts", async () => {
    c.add("a", "chat_lines", 12 * H);
    const failed: MetricRow[][] = [];
    const fail = (rows: MetricRow[]) => (failed.push(rows), Promise.reject(new Error("database down")));
    await rejects(() => c.flush(fail), Error, "database down");
    // The commit may have happened with only its acknowledgement lost: the same flush id lets the
    // database tell a replay from new counts, so nothing is counted twice.
    await rejects(() => c.flush(fail), Error, "database down");
    assertEquals(failed[1], failed[0]);
    c.add("a", "chat_lines", 12 * H);
    const written: MetricRow[][] = [];
    await c.flush((rows) => (written.push(rows), Promise.resolve()));
    assertEquals(written.length, 2);
    assertEquals(written[0], failed[0]);
    assertEquals(written[1]!.map(({ flushId: _, ...r }) => r), [
      { channel: "a", metric: "chat_lines", hourMs: 12 * H, value: 1 },
    ]);
    assert(written[1]![0]!.flushId !== failed[0]![0]!.flushId);
    assertEquals(c.pending, 0);
  });
});

Deno.test("HourlyCounters evicts the oldest hours first during an outage, also after a failed write", async (t) => {
  await t.step("rows counted while a failing write was in flight outlive the older failed rows", async () => {
    const c = new HourlyCounters();
    for (let i = 0; i < MAX_PENDING - 1; i++) c.add(`old${i}`, "chat_lines", 0);
    await rejects(
      () =>
        c.flush(() => {
          // A line said while the write is in flight: the newest hour of all.
          c.add("live", "chat_lines", 5 * H);
          return Promise.reject(new Error("database down"));
        }),
      Error,
      "database down",
    );
    assertEquals(c.pending, MAX_PENDING);
    c.add("next", "chat_lines", 6 * H);
    const written: MetricRow[] = [];
    await c.flush((rows) => (written.push(...rows), Promise.resolve()));
    const channels = new Set(written.map((r) => r.channel));
    assertEquals(written.length, MAX_PENDING);
    assertEquals([channels.has("old0"), channels.has("old1"), channels.has("live"), channels.has("next")], [
      false,
      true,
      true,
      true,
    ]);
  });
});
