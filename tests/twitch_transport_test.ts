import assert from "node:assert/strict";
import FakeTimers from "@sinonjs/fake-timers";
import tmi from "tmi.js";
import { fakeUserId, startFakeTwitch } from "./fakes/fake_twitch.ts";
import {
  JOIN_LIMIT,
  joinLimitFor,
  tmiConnection,
  TwitchTransport,
  type TwitchTransportOptions,
} from "../core/twitch_transport.ts";
import type { ChatEvent } from "../core/events.ts";
import { memoryLogger } from "../core/log.ts";
import { Metrics } from "../core/metrics.ts";
import { isClankError } from "../core/errors.ts";

const TOKEN = "goodtoken123";

/** A transport wired to an event list, with fast reconnects for tests. */
function makeTransport(url: string, over: Partial<TwitchTransportOptions> = {}) {
  const { log, lines } = memoryLogger("debug");
  const metrics = new Metrics();
  const events: ChatEvent[] = [];
  const transport = new TwitchTransport({
    ircUrl: url,
    username: "ClankBot",
    token: `oauth:${TOKEN}`,
    log,
    metrics,
    joinIntervalMs: 20,
    reconnectBaseMs: 20,
    reconnectMaxMs: 100,
    ...over,
  });
  transport.onEvent((e) => events.push(e));
  const waitEvent = async <T extends ChatEvent>(pred: (e: ChatEvent) => e is T, what: string, from = 0) => {
    const deadline = Date.now() + 5000;
    for (;;) {
      const hit = events.slice(from).find(pred);
      if (hit) return hit;
      if (Date.now() > deadline) {
        throw new Error(
          `Timed out waiting for ${what}; events: ${JSON.stringify(events.map((e) => e.type))}`,
        );
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  return { transport, events, lines, metrics, waitEvent };
}

async function gauge(g: { get(): Promise<{ values: Array<{ value: number }> }> }): Promise<number> {
  return (await g.get()).values[0]?.value ?? 0;
}

async function until(pred: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

type EventOf<K extends ChatEvent["type"]> = ChatEvent & { type: K };
const is =
  <K extends ChatEvent["type"]>(type: K, pred: (e: EventOf<K>) => boolean = () => true) =>
  (e: ChatEvent): e is EventOf<K> => e.type === type && pred(e as EventOf<K>);

Deno.test("tmiConnection splits the IRC URL into tmi options", () => {
  assert.deepEqual(tmiConnection("ws://127.0.0.1:4567"), { server: "127.0.0.1", port: 4567, secure: false });
  assert.deepEqual(tmiConnection("wss://irc-ws.chat.twitch.tv:443"), {
    server: "irc-ws.chat.twitch.tv",
    port: 443,
    secure: true,
  });
  assert.deepEqual(tmiConnection("wss://irc-ws.chat.twitch.tv"), {
    server: "irc-ws.chat.twitch.tv",
    port: 443,
    secure: true,
  });
  assert.throws(() => tmiConnection("not a url"), (e) => isClankError(e, "CONFIG_INVALID"));
  assert.throws(() => tmiConnection("http://x:1"), (e) => isClankError(e, "CONFIG_INVALID"));
});

Deno.test("TwitchTransport joins anonymously and is read-only", async () => {
  const twitch = await startFakeTwitch({ tokens: [TOKEN] });
  const { transport, events, metrics, waitEvent } = makeTransport(twitch.url, { token: undefined });
  try {
    assert.equal(transport.readOnly, true);
    assert.match(transport.login, /^justinfan\d+$/);
    await transport.connect(["#Alpha", "beta"]);
    assert.equal(transport.connected, true);
    await waitEvent(is("join", (e) => e.self && e.channel === "beta"), "join beta");
    assert.deepEqual(transport.joined().sort(), ["alpha", "beta"]);
    assert.deepEqual(twitch.joins.map((j) => j.channel), ["alpha", "beta"]);
    assert.ok(twitch.joins.every((j) => j.login === transport.login));
    assert.equal(await gauge(metrics.ircConnected), 1);
    assert.equal(await gauge(metrics.channelsJoined), 2);
    assert.ok(events.some((e) => e.type === "connected"));
    await assert.rejects(transport.say("alpha", "hi"), (e) => isClankError(e, "TWITCH_SEND_REFUSED"));
    assert.equal(twitch.privmsgs.length, 0);
  } finally {
    await transport.disconnect();
    await twitch.close();
  }
  assert.equal(transport.connected, false);
  assert.equal(events.at(-1)?.type, "disconnected");
});

Deno.test("TwitchTransport: join() of a channel Twitch refuses ends at the refusal", async () => {
  const twitch = await startFakeTwitch({ tokens: [TOKEN], suspended: ["gone"] });
  // A join timeout far beyond the test's own: only the refusal can end the wait in time.
  const { transport, events, waitEvent } = makeTransport(twitch.url, { joinTimeoutMs: 60_000 });
  try {
    await transport.connect(["chat"]);
    const joining = transport.join("gone");
    const refused = await waitEvent(
      is("notice", (e) => e.channel === "gone" && e.msgId === "msg_channel_suspended"),
      "Twitch's refusal",
    );
    assert.equal(refused.text, "This channel has been suspended.");
    const ended = await Promise.race([
      joining.then(() => "ended"),
      new Promise((r) => setTimeout(r, 5000, "waiting")),
    ]);
    assert.equal(ended, "ended", "join() kept waiting after Twitch refused the channel");
    assert.equal(transport.joined().includes("gone"), false);
    assert.equal(events.some(is("join", (e) => e.channel === "gone" && e.self)), false);
  } finally {
    await transport.disconnect();
    await twitch.close();
  }
});

Deno.test("TwitchTransport logs in, sends and maps every Twitch line to events", async (t) => {
  const twitch = await startFakeTwitch({
    tokens: [TOKEN],
    badges: { modchan: "moderator/1" },
    roomStates: { chat: { slow: 10, "followers-only": 30 } },
  });
  const { transport, events, lines, waitEvent } = makeTransport(twitch.url);
  try {
    await transport.connect(["chat", "modchan", "clankbot"]);
    assert.equal(transport.readOnly, false);

    await t.step("JOIN brings USERSTATE and a full ROOMSTATE", async () => {
      await waitEvent(is("userstate", (e) => e.channel === "clankbot"), "userstate clankbot");
      const us = events.filter(is("userstate"));
      assert.deepEqual(
        us.find((e) => e.channel === "modchan") && { ...us.find((e) => e.channel === "modchan")!, time: 0 },
        {
          type: "userstate",
          channel: "modchan",
          moderator: true,
          broadcaster: false,
          time: 0,
        },
      );
      assert.equal(us.find((e) => e.channel === "chat")?.moderator, false);
      assert.equal(us.find((e) => e.channel === "clankbot")?.broadcaster, true);
      const room = events.find(is("roomstate", (e) => e.channel === "chat"))!;
      assert.deepEqual({ ...room, time: 0 }, {
        type: "roomstate",
        channel: "chat",
        slow: 10,
        emoteOnly: false,
        followersOnly: 30,
        subsOnly: false,
        time: 0,
      });
      assert.deepEqual(transport.joined().sort(), ["chat", "clankbot", "modchan"]);
      assert.ok(events.some(is("join", (e) => e.self && e.user === "clankbot" && e.channel === "chat")));
    });

    await t.step("say arrives as PRIVMSG and echoes a self message", async () => {
      await transport.say("#chat", "hello chat");
      await transport.say("chat", "/me waves");
      await transport.say("chat", "/ban someone");
      await transport.say("chat", "line one\r\nJOIN #evil");
      await twitch.waitFor(() => twitch.privmsgs.length === 4, 3000, "4 PRIVMSGs");
      assert.deepEqual(twitch.privmsgs.map((p) => [p.channel, p.login, p.text, p.action]), [
        ["chat", "clankbot", "hello chat", false],
        ["chat", "clankbot", "waves", true],
        ["chat", "clankbot", "ban someone", false],
        ["chat", "clankbot", "line one JOIN #evil", false],
      ]);
      assert.ok(!twitch.joins.some((j) => j.channel === "evil"));
      const self = events.filter(is("message", (e) => e.self));
      assert.equal(self.length, 4);
      assert.deepEqual(self.map((e) => [e.user, e.text, e.action]), [
        ["clankbot", "hello chat", false],
        ["clankbot", "waves", true],
        ["clankbot", "ban someone", false],
        ["clankbot", "line one JOIN #evil", false],
      ]);
      assert.equal(new Set(self.map((e) => e.id)).size, 4, "self lines get distinct ids");
      assert.equal(self[0]!.userId, fakeUserId("clankbot"), "user id from GLOBALUSERSTATE");
      await assert.rejects(transport.say("chat", "   "), (e) => isClankError(e, "TWITCH_SEND_REFUSED"));
      await transport.say("chat", "x".repeat(600));
      await twitch.waitFor(() => twitch.privmsgs.length === 5, 3000, "long line");
      assert.equal(twitch.privmsgs[4]!.text.length, 499, "one line, cut below tmi's split length");
    });

    await t.step("PRIVMSG tags become a message event", async () => {
      const before = Date.now();
      const id = twitch.sendPrivmsg("chat", {
        login: "ronni",
        displayName: "Ronni_B",
        userId: "4242",
        badges: "broadcaster/1,subscriber/12,vip/1",
        text: "hey @clankbot; what's up",
        sentTs: 1_700_000_000_123,
      });
      const m = await waitEvent(is("message", (e) => e.id === id), "ronni's line");
      // One clock for the whole bot: the time of arrival on this machine, not Twitch's tmi-sent-ts
      // (years off here), which cooldowns, staleness and stored rows would otherwise mix with it.
      assert.ok(m.time >= before && m.time <= Date.now(), `arrival time, got ${m.time}`);
      assert.deepEqual({ ...m, time: 0 }, {
        type: "message",
        channel: "chat",
        id,
        userId: "4242",
        user: "ronni",
        displayName: "Ronni_B",
        text: "hey @clankbot; what's up",
        badges: { broadcaster: true, moderator: false, vip: true, subscriber: true },
        action: false,
        time: 0,
        self: false,
      });
      const skew = lines.filter((l) => l.includes("clock"));
      assert.equal(skew.length, 1, `one warning about the clock: ${skew.join("\n")}`);
      assert.match(skew[0]!, /clock is \d+ days? ahead of Twitch's/);
      twitch.sendPrivmsg("chat", { login: "ronni", text: "again", sentTs: 1_700_000_000_999 });
      await waitEvent(is("message", (e) => e.text === "again"), "second line");
      assert.equal(lines.filter((l) => l.includes("clock")).length, 1, "warned once per connection");
      const a = twitch.sendPrivmsg("chat", {
        login: "modguy",
        badges: { moderator: 1 },
        text: "dances",
        action: true,
      });
      const ma = await waitEvent(is("message", (e) => e.id === a), "action");
      assert.equal(ma.action, true);
      assert.equal(ma.text, "dances");
      assert.equal(ma.badges.moderator, true);
      assert.equal(ma.displayName, "modguy");
      const c = twitch.sendPrivmsg("chat", { login: "cheerer", text: "cheer100 nice", tags: { bits: 100 } });
      const mc = await waitEvent(is("message", (e) => e.id === c), "cheer");
      assert.equal(mc.text, "cheer100 nice");
    });

    await t.step("CLEARCHAT, CLEARMSG, ROOMSTATE, USERSTATE and NOTICE become events", async () => {
      const from = events.length;
      twitch.sendClearChat("chat", "ronni");
      twitch.sendClearChat("chat", "spammer", 600);
      twitch.sendClearChat("chat");
      twitch.sendClearMsg("chat", "ronni", "abc-123");
      twitch.sendRoomState("chat", { "emote-only": true });
      twitch.sendRoomState("chat", { slow: 0, "followers-only": 0 });
      twitch.sendRoomState("chat", { "followers-only": -1, "subs-only": 1 });
      twitch.sendUserState("chat", "moderator/1");
      twitch.sendNotice(
        "chat",
        "msg_ratelimit",
        "Your message was not sent because you are sending messages too quickly.",
      );
      twitch.sendNotice("chat", "some_new_id", "Something Twitch added later.");
      await waitEvent(is("notice", (e) => e.msgId === "some_new_id"), "second notice", from);
      const got = events.slice(from).map((e) => ({ ...e, time: 0 }));
      assert.deepEqual(got, [
        { type: "ban", channel: "chat", user: "ronni", userId: fakeUserId("ronni"), time: 0 },
        {
          type: "timeout",
          channel: "chat",
          user: "spammer",
          userId: fakeUserId("spammer"),
          duration: 600,
          time: 0,
        },
        { type: "clear", channel: "chat", time: 0 },
        { type: "deletion", channel: "chat", messageId: "abc-123", user: "ronni", time: 0 },
        { type: "roomstate", channel: "chat", emoteOnly: true, time: 0 },
        { type: "roomstate", channel: "chat", slow: 0, followersOnly: 0, time: 0 },
        { type: "roomstate", channel: "chat", followersOnly: -1, subsOnly: true, time: 0 },
        { type: "userstate", channel: "chat", moderator: true, broadcaster: false, time: 0 },
        {
          type: "notice",
          channel: "chat",
          msgId: "msg_ratelimit",
          text: "Your message was not sent because you are sending messages too quickly.",
          time: 0,
        },
        {
          type: "notice",
          channel: "chat",
          msgId: "some_new_id",
          text: "Something Twitch added later.",
          time: 0,
        },
      ]);
      const timeout = events.slice(from).find(is("timeout"))!;
      assert.ok(timeout.time > 1_600_000_000_000, "a time of arrival");
    });

    await t.step("other users' JOIN and PART become membership events", async () => {
      twitch.sendJoin("chat", "lurker");
      twitch.sendPart("chat", "lurker");
      await waitEvent(is("part", (e) => e.user === "lurker"), "part");
      assert.ok(events.some(is("join", (e) => e.user === "lurker" && !e.self && e.channel === "chat")));
    });

    await t.step("malformed lines are ignored and the connection survives", async () => {
      for (
        const raw of [
          "@",
          "@a=b",
          ":tmi.twitch.tv",
          ":tmi.twitch.tv NOTICE",
          ":tmi.twitch.tv NOTICE #chat",
          ":x!x@x.tmi.twitch.tv PRIVMSG #chat",
          ":tmi.twitch.tv HOSTTARGET #chat",
          ":tmi.twitch.tv CLEARCHAT",
          ":someone.tmi.twitch.tv 353",
          ":tmi.twitch.tv USERNOTICE #chat",
          "\u0000\u0001\u0002 garbage \uFFFF",
          ":jtv MODE #chat",
          "PING",
          ":x!x@x.tmi.twitch.tv JOIN",
          "@badges=;;;= :x!x@x.tmi.twitch.tv PRIVMSG #chat :still ok?",
        ]
      ) twitch.sendRaw(raw);
      const id = twitch.sendPrivmsg("chat", { login: "after", text: "after the garbage" });
      await waitEvent(is("message", (e) => e.id === id), "line after garbage");
      assert.equal(transport.connected, true);
      assert.ok(!events.some((e) => e.type === "disconnected"));
      // Some of these throw inside tmi.js; the transport catches them instead of crashing.
      assert.ok(lines.some((l) => l.includes("Ignored a malformed IRC line")));
    });

    await t.step("the token never reaches the log", () => {
      assert.ok(lines.length > 0);
      assert.ok(!lines.some((l) => l.includes(TOKEN)));
    });
  } finally {
    await transport.disconnect();
    await twitch.close();
  }
});

Deno.test("TwitchTransport reconnects after a dropped connection and rejoins every channel", async () => {
  const twitch = await startFakeTwitch({ tokens: [TOKEN] });
  const { transport, events, metrics, waitEvent, lines } = makeTransport(twitch.url);
  try {
    await transport.connect(["one", "two"]);
    await transport.join("three");
    assert.deepEqual(transport.joined().sort(), ["one", "three", "two"]);
    const from = events.length;
    await twitch.dropConnections();
    await waitEvent(is("disconnected"), "disconnected", from);
    await waitEvent(is("connected"), "connected again", from);
    await until(() => transport.joined().length === 3, "rejoin of three channels");
    assert.deepEqual(transport.joined().sort(), ["one", "three", "two"]);
    for (const c of ["one", "two", "three"]) {
      assert.equal(twitch.joins.filter((j) => j.channel === c).length, 2, c);
    }
    assert.equal(await gauge(metrics.ircReconnects), 1);
    assert.equal(lines.filter((l) => l.includes("Lost the connection to Twitch; reconnecting")).length, 1);
    assert(!lines.some((l) => l.includes("Cannot connect to Twitch")), lines.join("\n"));
    assert.equal(await gauge(metrics.ircConnected), 1);
    assert.equal(await gauge(metrics.channelsJoined), 3);
    await transport.say("two", "back");
    await twitch.waitFor(
      () => twitch.privmsgs.some((p) => p.text === "back"),
      3000,
      "PRIVMSG after reconnect",
    );
  } finally {
    await transport.disconnect();
    await twitch.close();
  }
});

Deno.test("TwitchTransport backs off a connection that drops right after it opens", async () => {
  const twitch = await startFakeTwitch({ tokens: [TOKEN] });
  const { transport, events, lines } = makeTransport(twitch.url, {
    reconnectBaseMs: 20,
    reconnectMaxMs: 2000,
  });
  // Every time the bot gets in, the server drops it again at once.
  transport.onEvent((e) => {
    events.push(e);
    if (e.type === "connected") void twitch.dropConnections();
  });
  try {
    await transport.connect(["chat"]).catch(() => {});
    await until(() => events.filter((e) => e.type === "disconnected").length >= 5, "five drops");
    const delays = lines.filter((l) => l.includes("Lost the connection to Twitch")).map((l) =>
      JSON.parse(l).delayMs
    );
    assert.ok(delays.length >= 4, lines.join("\n"));
    // Doubling with ±20 % jitter: each wait is longer than the one before, not a fixed ~20 ms.
    for (let i = 1; i < 4; i++) assert.ok(delays[i]! > delays[i - 1]!, `delays ${delays.join(", ")}`);
    // Jitter alone stays within 1.5x; three doublings are at least 5x.
    assert.ok(delays[3]! > 3 * delays[0]!, `delays ${delays.join(", ")}`);
  } finally {
    await transport.disconnect();
    await twitch.close();
  }
});

Deno.test("TwitchTransport keeps trying when Twitch is down at start", async () => {
  const probe = await startFakeTwitch();
  const port = probe.port;
  await probe.close();
  const { transport, events, metrics, lines } = makeTransport(`ws://127.0.0.1:${port}`);
  const connected = transport.connect(["chat"]);
  await until(() => events.filter((e) => e.type === "disconnected").length >= 5, "five failed attempts");
  // Never connected yet: nothing was "lost", and the line says where it tried.
  assert(
    lines.some((l) => l.includes(`Cannot connect to Twitch at 127.0.0.1:${port}; retrying`)),
    lines.join("\n"),
  );
  assert(!lines.some((l) => l.includes("Lost the connection")), lines.join("\n"));
  const twitch = await startFakeTwitch({ tokens: [TOKEN], port });
  try {
    await connected;
    // Every failed attempt is logged, but only the first three (and every tenth) as warnings.
    const attempts = lines.filter((l) => l.includes("Cannot connect to Twitch")).map((l) => JSON.parse(l));
    assert.ok(attempts.length >= 5, `${attempts.length} attempts logged`);
    assert.deepEqual(attempts.slice(0, 5).map((l) => l.level), ["warn", "warn", "warn", "debug", "debug"]);
    assert.ok(attempts.every((l) => l.level === (l.attempt <= 3 || l.attempt % 10 === 0 ? "warn" : "debug")));
    await until(() => transport.joined().includes("chat"), "join");
    assert.ok(await gauge(metrics.ircReconnects) >= 2);
  } finally {
    await transport.disconnect();
    await twitch.close();
  }
});

Deno.test("TwitchTransport disconnect ends a connect that never got through", async () => {
  const probe = await startFakeTwitch();
  const port = probe.port;
  await probe.close();
  const { transport, events } = makeTransport(`ws://127.0.0.1:${port}`);
  const connecting = transport.connect(["chat"]);
  await until(() => events.some((e) => e.type === "disconnected"), "a failed attempt");
  await transport.disconnect();
  await connecting;
  assert.equal(transport.connected, false);
  const attempts = events.filter((e) => e.type === "disconnected").length;
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(events.filter((e) => e.type === "disconnected").length, attempts, "no retry after disconnect");
});

Deno.test("TwitchTransport follows Twitch's RECONNECT", async () => {
  const twitch = await startFakeTwitch({ tokens: [TOKEN] });
  const { transport, events, metrics, waitEvent } = makeTransport(twitch.url);
  try {
    await transport.connect(["one", "two"]);
    await until(() => transport.joined().length === 2, "joins");
    const from = events.length;
    twitch.sendReconnect();
    await waitEvent(is("reconnect"), "reconnect", from);
    await waitEvent(is("connected"), "connected again", from);
    await until(() => transport.joined().length === 2, "rejoin");
    await twitch.waitFor(() => twitch.openConnections === 1, 3000, "old connection closed");
    assert.equal(twitch.connectionCount, 2);
    assert.equal(await gauge(metrics.ircReconnects), 1);
    assert.ok(
      !events.slice(from).some((e) => e.type === "disconnected"),
      "a RECONNECT is not reported as a loss",
    );
  } finally {
    await transport.disconnect();
    await twitch.close();
  }
});

Deno.test("TwitchTransport reports a rejected token once and does not loop", async (t) => {
  await t.step("without a refresh: one clear error, connect rejects", async () => {
    const twitch = await startFakeTwitch({ tokens: [TOKEN] });
    const { transport, events, lines } = makeTransport(twitch.url, { token: "oauth:badtoken" });
    try {
      await assert.rejects(transport.connect(["chat"]), (e) => isClankError(e, "TWITCH_AUTH_FAILED"));
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(twitch.connectionCount, 1, "no reconnect loop");
      const errors = lines.filter((l) => JSON.parse(l).level === "error");
      assert.equal(errors.length, 1);
      assert.match(
        JSON.parse(errors[0]!).msg,
        /^Twitch rejected the OAuth token for clankbot: run `deno task auth` or set TWITCH_OAUTH_TOKEN/,
      );
      assert.ok(!lines.some((l) => l.includes("badtoken")), "token not logged");
      assert.ok(events.some(is("disconnected", (e) => e.reason === "auth_failed")));
      assert.equal(transport.connected, false);
    } finally {
      await transport.disconnect();
      await twitch.close();
    }
  });

  await t.step("with a refresh that works: logs in with the new token", async () => {
    const twitch = await startFakeTwitch({ tokens: [TOKEN] });
    let current = "oauth:expired";
    let calls = 0;
    const { transport } = makeTransport(twitch.url, {
      token: () => Promise.resolve(current),
      onAuthFailure: () => {
        calls++;
        current = `oauth:${TOKEN}`;
        return Promise.resolve(true);
      },
    });
    try {
      await transport.connect(["chat"]);
      assert.equal(calls, 1);
      assert.equal(twitch.authFailures.length, 1);
      await until(() => transport.joined().includes("chat"), "join");
    } finally {
      await transport.disconnect();
      await twitch.close();
    }
  });

  await t.step("with a refresh that does not help: asks once, then stops", async () => {
    const twitch = await startFakeTwitch({ tokens: [TOKEN] });
    let calls = 0;
    const { transport, lines } = makeTransport(twitch.url, {
      token: () => Promise.resolve("oauth:stillbad"),
      onAuthFailure: () => {
        calls++;
        return Promise.resolve(true);
      },
    });
    try {
      await assert.rejects(transport.connect(["chat"]), (e) => isClankError(e, "TWITCH_AUTH_FAILED"));
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(calls, 1);
      assert.equal(twitch.connectionCount, 2);
      assert.equal(lines.filter((l) => JSON.parse(l).level === "error").length, 1);
      assert.ok(!lines.some((l) => l.includes("stillbad")));
    } finally {
      await transport.disconnect();
      await twitch.close();
    }
  });
});

Deno.test("joinLimitFor keeps the rate of the JOIN interval across reconnects, with a reserve", () => {
  // Twitch's 20 per 10 s at the default 500 ms: 18 per 10.5 s.
  assert.deepEqual(joinLimitFor(500), JOIN_LIMIT);
  assert.deepEqual(JOIN_LIMIT, { windowMs: 10_500, joins: 18 });
  // An interval lowered on purpose (a higher limit, a local server) is not capped at 18 per window.
  assert.equal(joinLimitFor(50).joins, 180);
  assert.ok(joinLimitFor(1).joins >= 9000);
  // Slower than Twitch asks: never below one JOIN per window.
  assert.equal(joinLimitFor(60_000).joins, 1);
});

Deno.test("TwitchTransport paces JOINs and warns above Twitch's channel limit", async (t) => {
  await t.step("JOINs are at least joinIntervalMs apart", async () => {
    const twitch = await startFakeTwitch({ tokens: [TOKEN] });
    const { transport } = makeTransport(twitch.url, { joinIntervalMs: 60 });
    try {
      await transport.connect(["a", "b", "c", "d"]);
      await until(() => transport.joined().length === 4, "4 joins");
      const times = twitch.joins.map((j) => j.time);
      for (let i = 1; i < times.length; i++) assert.ok(times[i]! - times[i - 1]! >= 55, `gap ${i}`);
    } finally {
      await transport.disconnect();
      await twitch.close();
    }
  });

  await t.step("more than 100 channels: one clear warning", async () => {
    const { transport, lines } = makeTransport("ws://127.0.0.1:9", {});
    for (let i = 0; i < 105; i++) await transport.join(`chan${i}`);
    const warns = lines.filter((l) => l.includes("at most 100 channels where it is not a moderator"));
    assert.equal(warns.length, 1);
    assert.match(JSON.parse(warns[0]!).msg, /^Asked to join 101 channels/);
  });

  await t.step(
    "at most 100 joined channels where the bot is not a moderator; the rest are left",
    async () => {
      const names = Array.from({ length: 104 }, (_, i) => `chan${String(i).padStart(3, "0")}`);
      // The bot moderates two of them: those do not count towards the limit.
      const twitch = await startFakeTwitch({
        tokens: [TOKEN],
        badges: { chan010: "moderator/1", chan020: "broadcaster/1" },
      });
      const { transport, events, lines } = makeTransport(twitch.url, {
        joinIntervalMs: 1,
        joinLimit: { windowMs: 1000, joins: 1000 },
      });
      try {
        await transport.connect(names);
        await until(() => transport.joined().length + transport.parked().length === 104, "joins and parks");
        assert.equal(transport.joined().length, 102, "100 channels without moderator status plus 2 with");
        assert.equal(transport.parked().length, 2);
        for (const c of transport.parked()) {
          assert.ok(!transport.joined().includes(c));
          assert.ok(
            events.some((e) => e.type === "notice" && e.channel === c && e.msgId === "channel_limit"),
          );
          assert.ok(lines.some((l) => l.includes(`Left #${c}: the bot is not a moderator there`)), c);
        }
        await until(() => twitch.parts.length === 2, "two PARTs");
        // A reconnect rejoins only what the account may be in.
        const joinsBefore = twitch.joins.length;
        await twitch.dropConnections();
        await until(() => twitch.joins.length >= joinsBefore + 102, "rejoins");
        await until(() => transport.joined().length === 102, "102 channels joined again");
        assert.equal(twitch.joins.length, joinsBefore + 102, "a parked channel was joined again");
      } finally {
        await transport.disconnect();
        await twitch.close();
      }
    },
  );

  await t.step("a RECONNECT while joining does not start the JOIN count over", async () => {
    // The pacing runs on a fake clock; tmi.js and the sockets run in real time. Each JOIN is stamped
    // with the fake time at which the transport handed it to tmi.js, so socket delays cannot blur it.
    const clock = FakeTimers.createClock(0);
    const sentAt: number[] = [];
    const tmiJoin = tmi.Client.prototype.join;
    tmi.Client.prototype.join = function (this: unknown, ...args: unknown[]) {
      sentAt.push(clock.now);
      return tmiJoin.apply(this, args);
    };
    const twitch = await startFakeTwitch({ tokens: [TOKEN] });
    const { transport, events, waitEvent } = makeTransport(twitch.url, {
      joinIntervalMs: 500,
      joinClock: {
        now: () => clock.now,
        setTimeout: (fn, ms) => clock.setTimeout(fn, ms),
        clearTimeout: (id) => clock.clearTimeout(id as number),
      },
    });
    const channels = Array.from({ length: 40 }, (_, i) => `chan${i}`);
    const advance = async (ms: number) => {
      for (let t = 0; t < ms; t += 100) {
        await clock.tickAsync(100);
        await new Promise((r) => setTimeout(r, 1));
      }
    };
    try {
      await transport.connect(channels);
      // Twitch asks to reconnect 5 s into joining, e.g. during a server restart wave.
      await advance(5_000);
      const from = events.length;
      twitch.sendReconnect();
      await waitEvent(is("connected"), "connected again", from);
      for (let waited = 0; transport.joined().length < channels.length; waited += 1000) {
        assert.ok(waited < 120_000, `only ${transport.joined().length} channels joined`);
        await advance(1000);
      }
      assert.equal(twitch.connectionCount, 2);
      await until(() => twitch.joins.length === sentAt.length, "every JOIN at the server");
      let most = 0;
      for (const from of sentAt) {
        most = Math.max(
          most,
          sentAt.filter((x) => x >= from && x < from + 10_000).length,
        );
      }
      assert.ok(most <= JOIN_LIMIT.joins, `${most} JOINs within 10 s (Twitch allows 20)`);
      for (let i = 1; i < sentAt.length; i++) {
        assert.ok(sentAt[i]! - sentAt[i - 1]! >= 500, `gap before JOIN ${i}`);
      }
    } finally {
      tmi.Client.prototype.join = tmiJoin;
      await transport.disconnect();
      await twitch.close();
    }
  });

  await t.step("a fast JOIN interval is warned about", () => {
    const { lines } = makeTransport("ws://127.0.0.1:9", { joinIntervalMs: 300 });
    assert.ok(lines.some((l) => l.includes("JOIN interval is below 500 ms")));
  });
});

Deno.test("TwitchTransport hands tmi.js each line so that it goes out as one safe PRIVMSG", async (t) => {
  const twitch = await startFakeTwitch({ tokens: [TOKEN] });
  const { transport } = makeTransport(twitch.url);
  /** Says `text` and returns the PRIVMSG that reached the fake Twitch for it. */
  const sayOne = async (text: string) => {
    const n = twitch.privmsgs.length;
    await transport.say("chat", text);
    await twitch.waitFor(() => twitch.privmsgs.length > n, 3000, `PRIVMSG for ${text.slice(0, 20)}`);
    return twitch.privmsgs[n]!;
  };
  try {
    await transport.connect(["chat"]);
    await until(() => transport.joined().includes("chat"), "join");

    await t.step("a /me line near the limit is one whole action, not split by tmi.js", async () => {
      const words = Array.from({ length: 99 }, (_, i) => `w${String(i).padStart(3, "0")}`).join(" ");
      const line = `/me ${words}x`;
      assert.equal(line.length, 499);
      const got = await sayOne(line);
      // tmi.js splits at 500 units after wrapping; the first half of a split would lack the closing \u0001.
      assert.equal(got.action, true);
      assert.ok(got.raw.endsWith("\u0001"), "the action is closed in the same PRIVMSG");
      assert.ok(got.raw.length - "PRIVMSG #chat :".length < 500);
      assert.equal(got.text, words.slice(0, 490).trimEnd());
    });

    await t.step("upper-case /ME is neither an action nor a command", async () => {
      const ban = await sayOne("/ME /ban somebody");
      assert.equal(ban.raw, "PRIVMSG #chat :ME /ban somebody");
      assert.equal(ban.action, false);
      const timeout = await sayOne("/Me .timeout somebody 600");
      assert.equal(timeout.raw, "PRIVMSG #chat :Me .timeout somebody 600");
      const me = await sayOne("/me waves");
      assert.deepEqual([me.text, me.action], ["waves", true]);
    });
  } finally {
    await transport.disconnect();
    await twitch.close();
  }
});

Deno.test("TwitchTransport part leaves a channel and it is not rejoined", async () => {
  const twitch = await startFakeTwitch({ tokens: [TOKEN] });
  const { transport, waitEvent } = makeTransport(twitch.url);
  try {
    await transport.connect(["one", "two"]);
    await until(() => transport.joined().length === 2, "joins");
    await transport.part("one");
    await waitEvent(is("part", (e) => e.self && e.channel === "one"), "self part");
    assert.deepEqual(transport.joined(), ["two"]);
    assert.deepEqual(twitch.joinedChannels("clankbot"), ["two"]);
    await twitch.dropConnections();
    await until(() => twitch.joins.length === 3, "rejoin");
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(twitch.joins.map((j) => j.channel), ["one", "two", "two"]);
  } finally {
    await transport.disconnect();
    await twitch.close();
  }
});
