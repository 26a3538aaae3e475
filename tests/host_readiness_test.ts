/** `Host.readiness()` asks the database instead of trusting the last write. */
import { assertEquals, assertMatch } from "./assert.ts";
import { Host, type HostStorage } from "../core/host.ts";
import { ConfigSchema } from "../core/config_schema.ts";
import { type Logger, memoryLogger } from "../core/log.ts";
import { Metrics } from "../core/metrics.ts";
import { PluginSet } from "../core/plugin_set.ts";
import { MemoryTransport } from "./fakes/host_harness.ts";

function storageStub(ping: () => Promise<void>): HostStorage {
  return {
    saveMessage: () => Promise.resolve(true),
    deleteMessage: () => Promise.resolve(),
    deleteUserMessages: () => Promise.resolve(0),
    recentMessages: () => Promise.resolve([]),
    setSettings: () => Promise.resolve(),
    allSettings: () => Promise.resolve({}),
    getSettings: () => Promise.resolve({}),
    kvGet: () => Promise.resolve(undefined),
    kvSet: () => Promise.resolve(),
    status: () => ({ writable: true, buffered: 0, error: null }),
    ping,
  };
}

/** A host over `transport` with the stub storage, no plugins and no ticks. */
function stubHost(
  transport: MemoryTransport,
  channels: string[],
  log: Logger,
  metrics: Metrics,
  ping: () => Promise<void> = () => Promise.resolve(),
): Host {
  return new Host({
    config: ConfigSchema.parse({ twitch: { channels } }),
    log,
    metrics,
    storage: storageStub(ping),
    transport,
    sendQueue: { enqueue: () => Promise.resolve("sent"), onEvent: () => {}, depth: 0 },
    plugins: new PluginSet([], metrics),
    ticks: false,
  });
}

Deno.test("Host.readiness reports a database that stopped answering", async (t) => {
  const metrics = new Metrics();
  const make = (ping: () => Promise<void>) => {
    const transport = new MemoryTransport(() => Date.now());
    transport.connected = true;
    return stubHost(transport, [], memoryLogger().log, metrics, ping);
  };
  await t.step("ready while the database answers", async () => {
    const r = await make(() => Promise.resolve()).readiness();
    assertEquals([r.ready, r.database.writable], [true, true]);
  });
  await t.step("not ready when the ping fails, with the reason", async () => {
    const r = await make(() => Promise.reject(new Error("connection refused"))).readiness();
    assertEquals([r.ready, r.database.writable], [false, false]);
    assertMatch(r.reasons.join(";"), /database is unavailable: Error: connection refused/);
  });
  await t.step("not ready when the ping hangs", async () => {
    const r = await make(() => new Promise(() => {})).readiness();
    assertEquals(r.ready, false);
    assertMatch(r.reasons.join(";"), /no answer within 1000 ms/);
  });
});

Deno.test("Host.readiness: channels left at Twitch's channel limit are reported, not waited for", async () => {
  const metrics = new Metrics();
  /** Joins every channel but `c`, which it reports as left at the limit. */
  class LimitedTransport extends MemoryTransport {
    override join(channel: string): Promise<void> {
      return channel === "c" ? Promise.resolve() : super.join(channel);
    }
    parked(): string[] {
      return ["c"];
    }
  }
  const host = stubHost(new LimitedTransport(() => Date.now()), ["a", "b", "c"], memoryLogger().log, metrics);
  await host.start();
  try {
    const r = await host.readiness();
    assertEquals(r.ready, true, r.reasons.join("; "));
    assertEquals([r.irc.joined, r.irc.wanted, r.irc.parked], [2, 2, ["c"]]);
  } finally {
    await host.stop(0);
  }
});

Deno.test("Host.readiness: a channel Twitch refuses to join is reported, not waited for", async (t) => {
  const metrics = new Metrics();
  /** Joins every channel but `gone`, which Twitch answers with msg_channel_suspended. */
  class RefusingTransport extends MemoryTransport {
    override join(channel: string): Promise<void> {
      if (channel !== "gone") return super.join(channel);
      this.emit({
        type: "notice",
        channel,
        msgId: "msg_channel_suspended",
        text: "This channel does not exist or has been suspended.",
        time: Date.now(),
      });
      return Promise.resolve();
    }
  }
  const transport = new RefusingTransport(() => Date.now());
  const { log, lines } = memoryLogger();
  const host = stubHost(transport, ["a", "gone"], log, metrics);
  await host.start();
  try {
    await t.step("ready, with the refused channel and Twitch's reason", async () => {
      await host.settled();
      const r = await host.readiness();
      assertEquals(r.ready, true, r.reasons.join("; "));
      assertEquals([r.irc.joined, r.irc.wanted], [1, 1]);
      assertEquals(r.irc.refused, [{
        channel: "gone",
        reason: "This channel does not exist or has been suspended.",
      }]);
      assertMatch(lines.join("\n"), /Twitch refused to join #gone/);
    });
    await t.step("a later successful join clears it", async () => {
      transport.emit({ type: "join", channel: "gone", user: "clankbot", self: true, time: Date.now() });
      await host.settled();
      const r = await host.readiness();
      assertEquals([r.irc.joined, r.irc.wanted, r.irc.refused], [2, 2, undefined]);
    });
  } finally {
    await host.stop(0);
  }
});
