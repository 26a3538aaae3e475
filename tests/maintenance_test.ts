import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import FakeTimers from "@sinonjs/fake-timers";
import { ClankError } from "../core/errors.ts";
import { memoryLogger } from "../core/log.ts";
import { startMaintenance } from "../core/maintenance.ts";
import { SqliteStorage } from "../core/storage_sqlite.ts";
import { line } from "./fakes/storage_fixtures.ts";

const DAY = 86_400_000;
const NOW = 1_800_000_000_000;

/** SQLite that counts maintain() calls and can fail its next prune. */
class CountingSqlite extends SqliteStorage {
  maintained = 0;
  pruneCalls = 0;
  failNextPrune = false;
  override async prune(before: number): Promise<number> {
    this.pruneCalls++;
    if (this.failNextPrune) {
      this.failNextPrune = false;
      throw new ClankError("STORAGE_UNAVAILABLE", "Database is down");
    }
    return await super.prune(before);
  }
  override async maintain(): Promise<void> {
    this.maintained++;
    await super.maintain();
  }
}

function fakeTimers() {
  const clock = FakeTimers.createClock(0);
  return {
    clock,
    timers: {
      setTimeout: (fn: () => void, ms: number) => clock.setTimeout(fn, ms),
      clearTimeout: (id: unknown) => clock.clearTimeout(id as number),
    },
  };
}

Deno.test("startMaintenance", async (t) => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/chatbot.db`;
  const storage = new CountingSqlite(path);
  await storage.init();
  const { log, lines } = memoryLogger();
  try {
    await t.step("runOnce deletes lines older than the retention and runs backend maintenance", async () => {
      await storage.saveMessages([
        line(1, { time: NOW - 31 * DAY }),
        line(2, { time: NOW - 30 * DAY - 1 }),
        line(3, { time: NOW - 29 * DAY }),
        line(4, { time: NOW }),
      ]);
      await storage.addMetricRows([
        { channel: "chan", metric: "lines", hourMs: NOW - 40 * DAY, value: 1 },
        { channel: "chan", metric: "lines", hourMs: NOW - DAY, value: 1 },
      ]);
      const { clock, timers } = fakeTimers();
      const m = startMaintenance(storage, {
        retentionDays: 30,
        intervalMinutes: 60,
        log,
        now: () => NOW,
        timers,
      });
      assert.deepEqual(await m.runOnce(), { pruned: 2 });
      assert.deepEqual((await storage.recentMessages("chan", 10)).map((r) => r.id), ["msg-3", "msg-4"]);
      assert.deepEqual((await storage.metricRows("chan")).map((r) => r.hourMs), [NOW - DAY]);
      assert.equal(storage.maintained, 1);
      assert.ok(lines.some((l) => l.includes("Database maintenance done") && l.includes('"pruned":2')));
      await m.stop();
      assert.equal(clock.countTimers(), 0);
    });

    await t.step("maintain checkpoints the WAL into the database file", async () => {
      await storage.saveMessages(Array.from({ length: 200 }, (_, i) => line(100 + i, { time: NOW })));
      assert.ok((await Deno.stat(`${path}-wal`)).size > 0);
      await storage.maintain();
      assert.equal((await Deno.stat(`${path}-wal`)).size, 0);
      assert.equal(await storage.countRows("messages"), 202);
    });

    await t.step("pruning many lines gives the space back to the file system", async () => {
      const old = Array.from(
        { length: 3000 },
        (_, i) => line(1000 + i, { time: NOW - 90 * DAY, text: "x".repeat(400) }),
      );
      await storage.saveMessages(old);
      await storage.maintain();
      const grown = (await Deno.stat(path)).size;
      const { timers } = fakeTimers();
      const m = startMaintenance(storage, {
        retentionDays: 30,
        intervalMinutes: 60,
        log,
        now: () => NOW,
        timers,
      });
      assert.deepEqual(await m.runOnce(), { pruned: 3000 });
      await m.stop();
      const shrunk = (await Deno.stat(path)).size;
      assert.ok(shrunk < grown / 2, `file shrank from ${grown} to ${shrunk} bytes`);
      const db = new DatabaseSync(path, { readOnly: true });
      try {
        assert.equal(db.prepare("PRAGMA freelist_count").get()?.freelist_count, 0);
      } finally {
        db.close();
      }
    });

    await t.step("runs shortly after start, then every interval, until stopped", async () => {
      const { clock, timers } = fakeTimers();
      const before = storage.pruneCalls;
      const m = startMaintenance(storage, {
        retentionDays: 30,
        intervalMinutes: 5,
        log,
        now: () => NOW,
        timers,
      });
      await clock.tickAsync(59_999);
      assert.equal(storage.pruneCalls, before);
      await clock.tickAsync(1);
      assert.equal(storage.pruneCalls, before + 1);
      await clock.tickAsync(5 * 60_000);
      assert.equal(storage.pruneCalls, before + 2);
      await m.stop();
      await clock.tickAsync(60 * 60_000);
      assert.equal(storage.pruneCalls, before + 2);
    });

    await t.step("a failed run is logged and the next run happens on schedule", async () => {
      const { clock, timers } = fakeTimers();
      const before = storage.pruneCalls;
      storage.failNextPrune = true;
      const m = startMaintenance(storage, {
        retentionDays: 30,
        intervalMinutes: 1,
        log,
        now: () => NOW,
        timers,
        firstRunMs: 10,
      });
      await clock.tickAsync(10);
      assert.ok(
        lines.some((l) => l.includes("Database maintenance failed") && l.includes("Database is down")),
      );
      await clock.tickAsync(60_000);
      assert.equal(storage.pruneCalls, before + 2);
      await m.stop();
    });

    await t.step("concurrent runOnce calls share one run", async () => {
      const { timers } = fakeTimers();
      const before = storage.pruneCalls;
      const m = startMaintenance(storage, {
        retentionDays: 1,
        intervalMinutes: 60,
        log,
        now: () => NOW,
        timers,
      });
      const [a, b] = await Promise.all([m.runOnce(), m.runOnce()]);
      assert.deepEqual(a, b);
      assert.equal(storage.pruneCalls, before + 1);
      await m.stop();
    });
  } finally {
    await storage.close();
    await Deno.remove(dir, { recursive: true });
  }
});
