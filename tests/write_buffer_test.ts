import assert from "node:assert/strict";
import FakeTimers from "@sinonjs/fake-timers";
import { isClankError } from "../core/errors.ts";
import { LATEST_SCHEMA_VERSION } from "../core/migrations.ts";
import { memoryLogger } from "../core/log.ts";
import { Metrics } from "../core/metrics.ts";
import { MysqlStorage } from "../core/storage_mysql.ts";
import { BufferedStorage, type BufferOptions } from "../core/write_buffer.ts";
import { FlakyStorage } from "./fakes/storage_flaky.ts";
import { connectionIds, createTestDatabase, line } from "./fakes/storage_fixtures.ts";

/** A buffer over a FlakyStorage, driven by a fake clock. */
async function setup<B extends FlakyStorage = FlakyStorage>(
  options: Partial<BufferOptions> = {},
  { initDown = false, backend = new FlakyStorage() as B } = {},
) {
  const clock = FakeTimers.createClock(0);
  backend.down = initDown;
  const { log, lines } = memoryLogger("debug");
  const metrics = new Metrics();
  const buf = new BufferedStorage(backend, {
    log,
    metrics,
    timers: {
      setTimeout: (fn, ms) => clock.setTimeout(fn, ms),
      clearTimeout: (id) => clock.clearTimeout(id as number),
      now: () => clock.now,
      yield: () => Promise.resolve(),
    },
    ...options,
  });
  await buf.init();
  const gauge = async (name: "storageUp" | "storageBuffered") => (await metrics[name].get()).values[0]?.value;
  const counter = async (name: "storageErrors" | "storageDropped") =>
    (await metrics[name].get()).values.reduce((sum, v) => sum + v.value, 0);
  return { clock, backend, buf, lines, gauge, counter };
}

/** Tracks when promises settle, to show what was acknowledged. */
function track<T>(p: Promise<T>): { done: boolean; value?: T; error?: unknown } {
  const state: { done: boolean; value?: T; error?: unknown } = { done: false };
  p.then((v) => {
    state.done = true;
    state.value = v;
  }, (e) => {
    state.done = true;
    state.error = e;
  });
  return state;
}

Deno.test("BufferedStorage batching", async (t) => {
  await t.step("holds writes until the flush interval, then writes them in one insert", async () => {
    const { clock, backend, buf } = await setup();
    const acks = Array.from({ length: 10 }, (_, i) => track(buf.saveMessage(line(i))));
    await clock.tickAsync(200);
    assert.deepEqual(backend.batches, []);
    assert.equal(buf.buffered, 10);
    await clock.tickAsync(50);
    assert.deepEqual(backend.batches, [10]);
    assert.ok(acks.every((a) => a.done && a.value === true));
    assert.equal(buf.buffered, 0);
    await buf.close();
  });

  await t.step("flushes as soon as batchSize writes are waiting, in groups of at most maxGroup", async () => {
    const { clock, backend, buf } = await setup({ batchSize: 500, maxGroup: 400 });
    for (let i = 0; i < 1000; i++) void buf.saveMessage(line(i));
    await clock.tickAsync(1);
    assert.deepEqual(backend.batches, [400, 400, 200]);
    const stored = await backend.inner.recentMessages("chan", 2000);
    assert.equal(stored.length, 1000);
    assert.deepEqual(stored.map((r) => r.id), Array.from({ length: 1000 }, (_, i) => `msg-${i}`));
    await buf.close();
  });

  await t.step("keeps the order of lines, deletes, settings and kv writes", async () => {
    const { clock, backend, buf } = await setup();
    void buf.saveMessage(line(1));
    void buf.saveMessage(line(2));
    void buf.deleteMessage("chan", "msg-1");
    void buf.setSettings("chan", { threshold: 50 });
    void buf.saveMessage(line(3));
    void buf.kvSet("ns", "k", "v");
    const deleted = track(buf.deleteUserMessages("chan", "user3"));
    await clock.tickAsync(250);
    assert.deepEqual(backend.committed, [
      "save:msg-1",
      "save:msg-2",
      "delete:msg-1",
      "settings:chan",
      "save:msg-3",
      "kv:k",
      "deleteUser:user3",
    ]);
    assert.deepEqual(backend.batches, [2, 1]);
    assert.equal(deleted.value, 1);
    assert.deepEqual((await buf.recentMessages("chan", 10)).map((r) => r.id), ["msg-2"]);
    await buf.close();
  });

  await t.step("kvGet and getSettings see a queued write before it is flushed", async () => {
    const { clock, backend, buf } = await setup();
    await backend.inner.kvSet("ns", "k", "old");
    void buf.kvSet("ns", "k", "new");
    void buf.setSettings("c", { floor: 9 });
    void buf.kvSet("ns", "gone", null);
    assert.equal(await buf.kvGet("ns", "k"), "new");
    assert.equal(await buf.kvGet("ns", "gone"), undefined);
    assert.deepEqual(await buf.getSettings("c"), { floor: 9 });
    assert.deepEqual(await buf.allSettings(), { c: { floor: 9 } });
    assert.deepEqual(backend.committed, []);
    await clock.tickAsync(250);
    assert.equal(await backend.inner.kvGet("ns", "k"), "new");
    assert.equal(await buf.kvGet("ns", "k"), "new");
    await buf.close();
  });

  await t.step("flush resolves once everything queued before it is committed", async () => {
    const { backend, buf } = await setup({ timers: undefined, flushIntervalMs: 60_000 });
    for (let i = 0; i < 5; i++) void buf.saveMessage(line(i));
    await buf.flush();
    assert.equal(backend.committed.length, 5);
    await buf.close();
  });
});

Deno.test("BufferedStorage during a database outage", async (t) => {
  await t.step("keeps every write, retries with backoff and writes them in order once back", async () => {
    const { clock, backend, buf, lines, gauge, counter } = await setup({
      backoffBaseMs: 500,
      backoffCapMs: 4000,
    });
    backend.down = true;
    const acks = [
      track(buf.saveMessage(line(1))),
      track(buf.saveMessage(line(2))),
      track(buf.setSettings("chan", { threshold: 77 })),
      track(buf.deleteMessage("chan", "msg-1")),
      track(buf.saveMessage(line(3))),
      track(buf.kvSet("ns", "k", "v")),
    ];
    await clock.tickAsync(250);
    assert.equal(backend.failures, 1);
    assert.deepEqual(buf.status(), {
      writable: false,
      buffered: 6,
      error: "STORAGE_UNAVAILABLE: Fake database is down (connection refused)",
    });
    assert.equal(await gauge("storageUp"), 0);
    assert.equal(await gauge("storageBuffered"), 6);
    assert.ok(acks.every((a) => !a.done), "nothing is acknowledged while the database is down");
    assert.ok(lines.some((l) => l.includes("Database unavailable")));

    // Backoff doubles: retries at +500, +1000, +2000, then capped at 4000.
    await clock.tickAsync(499);
    assert.equal(backend.failures, 1);
    await clock.tickAsync(1);
    assert.equal(backend.failures, 2);
    await clock.tickAsync(1000);
    assert.equal(backend.failures, 3);
    await clock.tickAsync(2000);
    assert.equal(backend.failures, 4);
    await clock.tickAsync(4000);
    assert.equal(backend.failures, 5);
    await clock.tickAsync(4000);
    assert.equal(backend.failures, 6);
    assert.equal(await counter("storageErrors"), 6);

    void buf.saveMessage(line(4)); // arrives during the outage, after the others
    backend.down = false;
    await clock.tickAsync(4000);
    assert.deepEqual(backend.committed, [
      "save:msg-1",
      "save:msg-2",
      "settings:chan",
      "delete:msg-1",
      "save:msg-3",
      "kv:k",
      "save:msg-4",
    ]);
    assert.ok(acks.every((a) => a.done && a.error === undefined));
    assert.deepEqual(buf.status(), { writable: true, buffered: 0, error: null });
    assert.equal(await gauge("storageUp"), 1);
    assert.equal(await gauge("storageBuffered"), 0);
    assert.deepEqual((await buf.recentMessages("chan", 10)).map((r) => r.id), ["msg-2", "msg-3", "msg-4"]);
    assert.deepEqual(await buf.getSettings("chan"), { threshold: 77 });
    assert.ok(lines.some((l) => l.includes("Database available again")));
    await buf.close();
  });

  await t.step("drops the oldest chat lines beyond the bound, never settings or deletes", async () => {
    const { clock, backend, buf, counter } = await setup({ maxBuffered: 100 });
    backend.down = true;
    const acks = [];
    for (let i = 0; i < 50; i++) acks.push(track(buf.saveMessage(line(i))));
    const settings = track(buf.setSettings("chan", { floor: 4 }));
    for (let i = 50; i < 150; i++) acks.push(track(buf.saveMessage(line(i))));
    const del = track(buf.deleteMessage("chan", "msg-149"));
    await clock.tickAsync(250);
    assert.equal(buf.buffered, 100);
    assert.equal(buf.dropped, 52);
    assert.equal(await counter("storageDropped"), 52);
    assert.ok(acks.slice(0, 52).every((a) => a.done && a.value === false), "dropped lines resolve false");
    assert.ok(acks.slice(52).every((a) => !a.done));

    backend.down = false;
    await clock.tickAsync(1000);
    assert.ok(acks.slice(52).every((a) => a.done && a.value === true));
    assert.ok(settings.done && del.done && settings.error === undefined && del.error === undefined);
    const stored = await buf.recentMessages("chan", 1000);
    assert.deepEqual(stored.map((r) => r.id), Array.from({ length: 97 }, (_, i) => `msg-${i + 52}`));
    assert.deepEqual(await buf.getSettings("chan"), { floor: 4 });
    await buf.close();
  });

  await t.step("settings beyond the bound are kept even though the bound is exceeded", async () => {
    const { clock, backend, buf } = await setup({ maxBuffered: 100 });
    backend.down = true;
    for (let i = 0; i < 150; i++) void buf.setSettings(`c${i}`, { floor: 1 });
    await clock.tickAsync(250);
    assert.equal(buf.buffered, 150);
    assert.equal(buf.dropped, 0);
    backend.down = false;
    await clock.tickAsync(1000);
    assert.equal(Object.keys(await buf.allSettings()).length, 150);
    await buf.close();
  });

  await t.step("starts even when the database is down at init, and catches up later", async () => {
    const { clock, backend, buf } = await setup({}, { initDown: true });
    assert.equal(buf.status().writable, false);
    const ack = track(buf.saveMessage(line(1)));
    await clock.tickAsync(250);
    assert.equal(ack.done, false);
    backend.down = false;
    await clock.tickAsync(1000);
    assert.equal(ack.value, true);
    assert.equal(await backend.schemaVersion(), LATEST_SCHEMA_VERSION);
    assert.equal(buf.status().writable, true);
    await buf.close();
  });

  await t.step("close gives up after its timeout and reports what was not stored", async () => {
    const { clock, backend, buf, lines } = await setup();
    backend.down = true;
    const ack = track(buf.saveMessage(line(1)));
    const settings = track(buf.setSettings("x", { floor: 2 }));
    await clock.tickAsync(250);
    const closing = buf.close(5000);
    await clock.tickAsync(5000);
    await closing;
    assert.equal(ack.value, false);
    assert.ok(isClankError(settings.error, "STORAGE_UNAVAILABLE"));
    assert.ok(lines.some((l) => l.includes("were not stored") && l.includes('"lost":2')));
    assert.equal(await buf.saveMessage(line(2)), false);
  });
});

/** A FlakyStorage whose kv writes wait for `release()`, to hold one in flight. */
class GatedKvStorage extends FlakyStorage {
  #gate: Promise<void> | null = null;
  release: () => void = () => {};
  /** Holds the next kv writes until `release()`. */
  hold(): void {
    this.#gate = new Promise((resolve) => this.release = resolve);
  }
  override async kvSet(namespace: string, key: string, value: string | null): Promise<void> {
    await this.#gate;
    await super.kvSet(namespace, key, value);
  }
}

Deno.test("BufferedStorage keeps one queued settings or kv write per key", async (t) => {
  await t.step(
    "during an outage the queue stays bounded by the distinct keys; the latest value is stored",
    async () => {
      const { clock, backend, buf } = await setup({ maxBuffered: 1_000_000 });
      await backend.inner.kvSet("ns", "gone", "old");
      backend.down = true;
      const acks: { done: boolean; error?: unknown }[] = [track(buf.kvSet("ns", "k0", "first"))];
      // The first write fails in flight; it must still be replaceable afterwards.
      await clock.tickAsync(250);
      assert.equal(backend.failures, 1);
      const rounds = 2000;
      for (let r = 0; r < rounds; r++) {
        acks.push(track(buf.saveMessage(line(r))));
        // As a plugin's state, a gate counter and a channel's settings are saved over and over.
        for (let k = 0; k < 10; k++) acks.push(track(buf.kvSet("ns", `k${k}`, `v${r}`)));
        acks.push(track(buf.kvSet("ns", "gone", r === rounds - 1 ? null : `v${r}`)));
        acks.push(track(buf.setSettings(`c${r % 3}`, { floor: r })));
        if (r % 100 === 0) await clock.tickAsync(1000); // retries keep failing meanwhile
      }
      assert.equal(buf.buffered, rounds + 10 + 1 + 3, "lines plus one write per key");
      assert.ok(buf.logLength <= 2 * buf.buffered + 1024, `op log holds ${buf.logLength} entries`);
      assert.ok(acks.every((a) => !a.done), "nothing is acknowledged while the database is down");
      assert.equal(await buf.kvGet("ns", "k3"), `v${rounds - 1}`);
      assert.equal(await buf.kvGet("ns", "gone"), undefined);

      backend.down = false;
      await clock.tickAsync(30_000);
      assert.equal(buf.buffered, 0);
      assert.ok(acks.every((a) => a.done && a.error === undefined), "every replaced write is acknowledged");
      const kvCommits = backend.committed.filter((c) => c.startsWith("kv:"));
      assert.equal(kvCommits.length, 11, kvCommits.join());
      for (let k = 0; k < 10; k++) assert.equal(await backend.inner.kvGet("ns", `k${k}`), `v${rounds - 1}`);
      assert.equal(await backend.inner.kvGet("ns", "gone"), undefined);
      assert.deepEqual(await backend.inner.allSettings(), {
        c0: { floor: rounds - 2 },
        c1: { floor: rounds - 1 },
        c2: { floor: rounds - 3 },
      });
      // The surviving write keeps its place: after every line queued before it.
      assert.ok(backend.committed.indexOf("kv:k0") > backend.committed.indexOf(`save:msg-${rounds - 1}`));
      assert.equal((await backend.inner.recentMessages("chan", 5000)).length, rounds);
      await buf.close();
    },
  );

  await t.step("a write in flight is not replaced; the next queued one is", async () => {
    const { clock, backend, buf } = await setup({}, { backend: new GatedKvStorage() });
    backend.hold();
    const a = track(buf.kvSet("ns", "k", "a"));
    await clock.tickAsync(250); // "a" is now in flight, held by the gate
    const b = track(buf.kvSet("ns", "k", "b"));
    const c = track(buf.kvSet("ns", "k", "c"));
    assert.equal(buf.buffered, 2, "the write in flight and the latest queued one");
    backend.release();
    await clock.tickAsync(250);
    assert.deepEqual(backend.committed, ["kv:k", "kv:k"]);
    assert.equal(await backend.inner.kvGet("ns", "k"), "c");
    assert.ok(a.done && b.done && c.done && !a.error && !b.error && !c.error);
    await buf.close();
  });

  await t.step("flush() waits for the write that replaced one queued before it", async () => {
    const { clock, backend, buf } = await setup();
    backend.down = true;
    void buf.kvSet("ns", "k", "a");
    await clock.tickAsync(250); // fails; "a" waits for the retry, queued again
    const flushed = track(buf.flush());
    void buf.kvSet("ns", "k", "b");
    await clock.tickAsync(2000); // retries fail meanwhile
    assert.equal(flushed.done, false, "flush resolved while the value it waited for was not stored");
    backend.down = false;
    await clock.tickAsync(5000);
    assert.equal(flushed.done, true);
    assert.equal(await backend.inner.kvGet("ns", "k"), "b");
    await buf.close();
  });

  await t.step(
    "when the replacing write is refused or abandoned, the replaced callers learn it too",
    async () => {
      const { clock, backend, buf } = await setup();
      backend.refuse.add("settings:bad");
      const first = track(buf.setSettings("bad", { floor: 1 }));
      const second = track(buf.setSettings("bad", { floor: 2 }));
      await clock.tickAsync(250);
      assert.ok(isClankError(first.error, "STORAGE_FAILED"));
      assert.ok(isClankError(second.error, "STORAGE_FAILED"));

      backend.down = true;
      const x = track(buf.kvSet("ns", "x", "1"));
      const y = track(buf.kvSet("ns", "x", "2"));
      await clock.tickAsync(250);
      const closing = buf.close(1000);
      await clock.tickAsync(1000);
      await closing;
      assert.ok(isClankError(x.error, "STORAGE_UNAVAILABLE"));
      assert.ok(isClankError(y.error, "STORAGE_UNAVAILABLE"));
    },
  );

  await t.step("dropped lines behind a write that is never dropped do not pile up in memory", async () => {
    const { clock, backend, buf } = await setup({ maxBuffered: 100 });
    backend.down = true;
    void buf.deleteMessage("chan", "msg-0"); // heads the log for the whole outage
    for (let i = 0; i < 20_000; i++) void buf.saveMessage(line(i));
    await clock.tickAsync(250);
    assert.equal(buf.buffered, 100);
    assert.ok(buf.logLength <= 2 * 100 + 1024, `op log holds ${buf.logLength} entries`);
    backend.down = false;
    await clock.tickAsync(1000);
    const stored = (await backend.inner.recentMessages("chan", 1000)).map((r) => r.id);
    assert.deepEqual(stored, Array.from({ length: 99 }, (_, i) => `msg-${20_000 - 99 + i}`));
    await buf.close();
  });
});

Deno.test("BufferedStorage with data the database refuses", async (t) => {
  await t.step("writes the rest of the batch and resolves the refused line false", async () => {
    const { clock, backend, buf, lines, counter } = await setup();
    backend.refuse.add("msg-3");
    const acks = Array.from({ length: 6 }, (_, i) => track(buf.saveMessage(line(i))));
    await clock.tickAsync(250);
    assert.deepEqual(acks.map((a) => a.value), [true, true, true, false, true, true]);
    assert.deepEqual((await buf.recentMessages("chan", 10)).map((r) => r.id), [
      "msg-0",
      "msg-1",
      "msg-2",
      "msg-4",
      "msg-5",
    ]);
    assert.equal(buf.status().writable, true);
    assert.equal(await counter("storageDropped"), 1);
    assert.ok(lines.some((l) => l.includes("Database refused a write")));
    await buf.close();
  });

  await t.step("rejects a refused settings write with STORAGE_FAILED and carries on", async () => {
    const { clock, backend, buf } = await setup();
    backend.refuse.add("settings:bad");
    const bad = track(buf.setSettings("bad", { floor: 1 }));
    const good = track(buf.setSettings("good", { floor: 1 }));
    await clock.tickAsync(250);
    assert.ok(isClankError(bad.error, "STORAGE_FAILED"));
    assert.equal(good.done && good.error, undefined);
    assert.deepEqual(await buf.getSettings("bad"), {});
    await buf.close();
  });
  await t.step(
    "a refused group is halved until the bad line is alone, not retried line by line",
    async () => {
      const { clock, backend, buf } = await setup();
      backend.refuse.add("msg-5");
      const acks = Array.from({ length: 8 }, (_, i) => track(buf.saveMessage(line(i))));
      await clock.tickAsync(250);
      assert.deepEqual(acks.map((a) => a.value), [true, true, true, true, true, false, true, true]);
      // 8 refused -> 4 stored, 4 refused -> 2 refused -> 1 stored, 1 refused (dropped), then the rest.
      assert.deepEqual(backend.batches, [4, 1, 1, 1]);
      await buf.close();
    },
  );

  await t.step(
    "a write that keeps failing while the database answers is given up, and later writes commit",
    async () => {
      const { clock, backend, buf, lines } = await setup({ backoffBaseMs: 100, backoffCapMs: 1000 });
      backend.failing.add("kv:huge");
      const poison = track(buf.kvSet("ns", "huge", "x"));
      const later = track(buf.setSettings("chan", { floor: 2 }));
      const lineAck = track(buf.saveMessage(line(1)));
      await clock.tickAsync(60_000);
      assert.ok(isClankError(poison.error, "STORAGE_FAILED"), String(poison.error));
      assert.equal(later.done && later.error, undefined);
      assert.equal(lineAck.value, true);
      assert.deepEqual(backend.committed, ["settings:chan", "save:msg-1"]);
      assert.deepEqual(buf.status(), { writable: true, buffered: 0, error: null });
      assert.ok(lines.some((l) => l.includes("kept failing") && l.includes('"op":"kv"')), lines.join("\n"));
      await buf.close();
    },
  );

  await t.step(
    "a write that fails while the database is down too is kept however long it takes",
    async () => {
      const { clock, backend, buf } = await setup({ backoffBaseMs: 100, backoffCapMs: 1000 });
      backend.down = true;
      const kept = track(buf.kvSet("ns", "k", "v"));
      await clock.tickAsync(60_000);
      assert.equal(kept.done, false);
      backend.down = false;
      await clock.tickAsync(1000);
      assert.equal(kept.done && kept.error, undefined);
      assert.deepEqual(backend.committed, ["kv:k"]);
      await buf.close();
    },
  );
});

Deno.test("BufferedStorage on MariaDB: a write over max_allowed_packet is refused alone", async (t) => {
  const db = await createTestDatabase();
  const { log, lines } = memoryLogger("debug");
  const buf = new BufferedStorage(new MysqlStorage(db.url), { log, backoffBaseMs: 10, backoffCapMs: 50 });
  try {
    await buf.init();
    const [rows] = await db.admin.query("SELECT @@max_allowed_packet AS n");
    const tooBig = "x".repeat(Number((rows as { n: number }[])[0]!.n) + 1024);

    await t.step(
      "the big kv write is rejected STORAGE_FAILED; settings, kv and chat behind it commit",
      async () => {
        const big = buf.kvSet("plugin:big", "blob", tooBig).then(() => null, (e) => e);
        const settings = buf.setSettings("chan", { floor: 3 });
        const kv = buf.kvSet("plugin:small", "k", "v");
        const saved = buf.saveMessage(line(1));
        await buf.flush();
        assert.ok(isClankError(await big, "STORAGE_FAILED"), String(await big));
        await settings;
        await kv;
        assert.equal(await saved, true);
        assert.equal(await buf.backend.kvGet("plugin:big", "blob"), undefined);
        assert.equal(await buf.backend.kvGet("plugin:small", "k"), "v");
        assert.deepEqual(await buf.backend.getSettings("chan"), { floor: 3 });
        assert.equal((await buf.recentMessages("chan", 10)).length, 1);
        assert.deepEqual(buf.status(), { writable: true, buffered: 0, error: null });
        assert.ok(lines.some((l) => l.includes("Database refused a write")));
      },
    );

    await t.step("a chat group too large for one packet is split and every line stored", async () => {
      // Each line fits its TEXT column (64 KiB); together they are over the packet limit.
      const text = "y".repeat(60_000);
      const n = Math.ceil(tooBig.length / text.length) + 2;
      const acks = Array.from(
        { length: n },
        (_, i) => buf.saveMessage(line(100 + i, { channel: "big", text })),
      );
      await buf.flush();
      assert.deepEqual(await Promise.all(acks), Array(n).fill(true));
      assert.equal((await buf.recentMessages("big", n + 10)).length, n);
      assert.deepEqual(buf.status(), { writable: true, buffered: 0, error: null });
    });
  } finally {
    await buf.close();
    await db.drop();
  }
});

Deno.test("BufferedStorage on MariaDB keeps every acknowledged line when connections are killed", async () => {
  const db = await createTestDatabase();
  const { log, lines } = memoryLogger("debug");
  const metrics = new Metrics();
  const buf = new BufferedStorage(new MysqlStorage(db.url), {
    log,
    metrics,
    flushIntervalMs: 5,
    batchSize: 50,
    maxGroup: 200,
    backoffBaseMs: 10,
    backoffCapMs: 100,
  });
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  try {
    await buf.init();
    const acked: string[] = [];
    const all: Promise<boolean>[] = [];
    let writing = true;
    const writer = (async () => {
      for (let i = 0; writing || i < 500; i++) {
        const rec = line(i, { text: `line ${i} 🎉` });
        all.push(
          buf.saveMessage(rec).then((ok) => {
            if (ok) acked.push(rec.id);
            return ok;
          }),
        );
        if (i % 20 === 19) await sleep(2);
      }
    })();

    // Kill the bot's connection while its INSERT is in flight: a table lock holds the INSERT on
    // the server, so the kill always lands mid-statement.
    let kills = 0;
    const table = `\`${db.name}\`.messages`;
    for (let round = 0; round < 3; round++) {
      await sleep(50);
      await db.admin.query(`LOCK TABLES ${table} WRITE`);
      try {
        let victims: number[] = [];
        for (let i = 0; i < 500 && victims.length === 0; i++) {
          const [rows] = await db.admin.query(
            "SELECT ID AS id FROM information_schema.PROCESSLIST WHERE DB = ? AND COMMAND = 'Query' " +
              "AND ID <> CONNECTION_ID()",
            [db.name],
          );
          victims = (rows as { id: number }[]).map((r) => Number(r.id));
          if (victims.length === 0) await sleep(5);
        }
        for (const id of victims) {
          await db.admin.query(`KILL CONNECTION ${id}`);
          kills++;
        }
      } finally {
        await db.admin.query("UNLOCK TABLES");
      }
    }
    // And the idle ones too, which the pool must notice and replace.
    for (const id of await connectionIds(db.admin, db.name)) {
      await db.admin.query(`KILL CONNECTION ${id}`).catch(() => {}); // may have ended meanwhile
    }
    writing = false;
    await writer;
    await buf.flush();
    const results = await Promise.all(all);

    assert.ok(kills >= 3, `killed ${kills} in-flight connections`);
    assert.ok(
      (await metrics.storageErrors.get()).values.some((v) => v.value > 0),
      "the kills caused failures",
    );
    assert.ok(lines.some((l) => l.includes("Database unavailable")));
    const [rows] = await db.admin.query(`SELECT msg_id FROM ${table}`);
    const stored = new Set((rows as { msg_id: string }[]).map((r) => r.msg_id));
    for (const id of acked) assert.ok(stored.has(id), `acknowledged line ${id} is missing`);
    // The buffer bound was never reached, so every line is acknowledged and stored exactly once.
    assert.ok(results.every(Boolean));
    assert.equal(stored.size, all.length);
    assert.equal((rows as unknown[]).length, all.length);
    assert.deepEqual(buf.status(), { writable: true, buffered: 0, error: null });
  } finally {
    await buf.close();
    await db.drop();
  }
});
