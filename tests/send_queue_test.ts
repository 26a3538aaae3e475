import assert from "node:assert/strict";
import FakeTimers from "@sinonjs/fake-timers";
import {
  chatLine,
  MAX_LINE,
  type SendClock,
  type SendLimits,
  type SendOutcome,
  SendQueue,
} from "../core/send_queue.ts";
import { ClankError } from "../core/errors.ts";
import type { ChatEvent } from "../core/events.ts";
import { memoryLogger } from "../core/log.ts";
import { Metrics } from "../core/metrics.ts";
import { startIrcSendRig } from "./fakes/irc_send_rig.ts";

const T0 = 1_000_000;

/** A chat event without its time (the fake clock supplies it). */
type Untimed<E> = E extends ChatEvent ? Omit<E, "time"> : never;

/** A transport stand-in that records what was said and when (by the fake clock). */
class StubTransport {
  readOnly = false;
  connected = true;
  sent: Array<{ channel: string; text: string; time: number }> = [];
  failWith: Error | undefined;
  constructor(private clock: { now: number }) {}
  say(channel: string, text: string): Promise<void> {
    if (this.failWith) {
      const err = this.failWith;
      this.failWith = undefined;
      return Promise.reject(err);
    }
    if (!this.connected) return Promise.reject(new ClankError("TWITCH_NOT_CONNECTED", "Not connected"));
    this.sent.push({ channel, text, time: this.clock.now - T0 });
    return Promise.resolve();
  }
}

function setup(limits: Partial<SendLimits> = {}, botLogin = "clankbot") {
  const clock = FakeTimers.createClock(T0);
  const sendClock: SendClock = {
    now: () => clock.now,
    setTimeout: (fn, ms) => clock.setTimeout(fn, ms),
    clearTimeout: (id) => clock.clearTimeout(id),
  };
  const transport = new StubTransport(clock);
  const { log, lines } = memoryLogger("debug");
  const metrics = new Metrics();
  const queue = new SendQueue({ transport, log, metrics, clock: sendClock, botLogin, limits });
  const outcomes: Array<{ text: string; outcome: SendOutcome; at: number }> = [];
  const send = (
    channel: string,
    text: string,
    extra: { kind?: "mention" | "spontaneous" | "command"; floorSeconds?: number; maxAgeMs?: number } = {},
  ) => {
    const p = queue.enqueue({ channel, text, kind: extra.kind ?? "mention", ...extra });
    p.then((outcome) => outcomes.push({ text, outcome, at: clock.now - T0 }));
    return p;
  };
  const event = (e: Untimed<ChatEvent>) => queue.onEvent({ ...e, time: clock.now } as ChatEvent);
  const mod = (channel: string) => event({ type: "userstate", channel, moderator: true, broadcaster: false });
  /** Runs every pending timer (the queue's wake-ups) until none is left. */
  const settle = async () => {
    await clock.runAllAsync();
  };
  const sentAt = (channel?: string) =>
    transport.sent.filter((s) => channel === undefined || s.channel === channel).map((s) => s.time);
  return { clock, transport, queue, metrics, lines, outcomes, send, event, mod, settle, sentAt };
}

async function counter(
  c: {
    get(): Promise<{ values: Array<{ value: number; labels: Partial<Record<string, string | number>> }> }>;
  },
  labels: Record<string, string> = {},
): Promise<number> {
  const v = (await c.get()).values.find((x) => Object.entries(labels).every(([k, l]) => x.labels[k] === l));
  return v?.value ?? 0;
}

Deno.test("SendQueue paces lines within a channel", async (t) => {
  await t.step("sends at once when nothing limits it", async () => {
    const q = setup();
    assert.equal(await q.send("chat", "hello"), "sent");
    assert.deepEqual(q.transport.sent, [{ channel: "chat", text: "hello", time: 0 }]);
    assert.equal(q.queue.depth, 0);
  });

  await t.step("1.2 s between lines where the bot is not a moderator, in order", async () => {
    const q = setup();
    void q.send("chat", "one");
    void q.send("#Chat", "two");
    void q.send("chat", "three");
    assert.equal(q.queue.depth, 2);
    await q.settle();
    assert.deepEqual(q.transport.sent.map((s) => [s.text, s.time]), [["one", 0], ["two", 1200], [
      "three",
      2400,
    ]]);
    assert.equal(await counter(q.metrics.sendQueueDepth), 0);
  });

  await t.step("the channel floor applies to moderators too", async () => {
    const q = setup();
    q.mod("chat");
    for (const text of ["a", "b", "c"]) void q.send("chat", text, { floorSeconds: 3 });
    await q.settle();
    assert.deepEqual(q.sentAt(), [0, 3000, 6000]);
    const fast = setup();
    fast.mod("chat");
    for (const text of ["a", "b", "c"]) void fast.send("chat", text, { floorSeconds: 0 });
    await fast.settle();
    assert.deepEqual(fast.sentAt(), [0, 0, 0], "a moderator has no per-channel interval");
  });

  await t.step("the bot is broadcaster in its own channel", async () => {
    const q = setup();
    for (const text of ["a", "b"]) void q.send("clankbot", text);
    await q.settle();
    assert.deepEqual(q.sentAt(), [0, 0]);
  });

  await t.step("slow mode delays lines unless the bot is a moderator", async () => {
    const q = setup();
    q.event({ type: "roomstate", channel: "slow", slow: 10 });
    q.event({ type: "roomstate", channel: "modslow", slow: 10 });
    q.mod("modslow");
    for (const text of ["a", "b", "c"]) void q.send("slow", text);
    for (const text of ["x", "y"]) void q.send("modslow", text);
    await q.settle();
    assert.deepEqual(q.sentAt("slow"), [0, 10_250, 20_500]);
    assert.deepEqual(q.sentAt("modslow"), [0, 0]);
    q.event({ type: "roomstate", channel: "slow", slow: 0 });
    void q.send("slow", "d");
    void q.send("slow", "e");
    await q.settle();
    assert.deepEqual(q.sentAt("slow").slice(3).map((x) => x - 20_500), [1200, 2400]);
  });
});

Deno.test("SendQueue keeps the account under Twitch's 30 s window", async (t) => {
  await t.step("20 per 30 s (19 with the margin) when not a moderator", async () => {
    const q = setup();
    for (let i = 0; i < 25; i++) void q.send(`c${i}`, `line ${i}`, { kind: "spontaneous" });
    await q.settle();
    const times = q.sentAt();
    assert.equal(times.length, 25);
    assert.equal(times.filter((x) => x === 0).length, 19);
    assert.ok(times.slice(19).every((x) => x === 30_500), JSON.stringify(times.slice(19)));
  });

  await t.step("100 per 30 s (99) when every line goes to moderated channels", async () => {
    const q = setup();
    for (let i = 0; i < 120; i++) q.mod(`m${i}`);
    for (let i = 0; i < 120; i++) void q.send(`m${i}`, `line ${i}`, { kind: "spontaneous" });
    await q.settle();
    const times = q.sentAt();
    assert.equal(times.filter((x) => x === 0).length, 99);
    assert.ok(times.slice(99).every((x) => x === 30_500));
  });

  await t.step("a window that mixes both kinds stays under 20", async () => {
    const q = setup();
    void q.send("plain", "not a mod here");
    for (let i = 0; i < 40; i++) q.mod(`m${i}`);
    for (let i = 0; i < 40; i++) void q.send(`m${i}`, `line ${i}`, { kind: "spontaneous" });
    await q.settle();
    const times = q.sentAt();
    assert.equal(times.filter((x) => x === 0).length, 19);
    assert.ok(times.slice(19).every((x) => x === 30_500));
  });
});

Deno.test("SendQueue shares turns fairly between channels", async () => {
  const q = setup();
  for (const c of ["a", "b", "c"]) q.mod(c);
  for (const c of ["a", "b", "c"]) for (let i = 1; i <= 3; i++) void q.send(c, `${c}${i}`);
  await q.settle();
  assert.deepEqual(q.transport.sent.map((s) => s.text), [
    "a1",
    "b1",
    "c1",
    "a2",
    "b2",
    "c2",
    "a3",
    "b3",
    "c3",
  ]);
});

Deno.test("SendQueue follows room modes", async (t) => {
  await t.step("emote-only drops lines unless the bot is a moderator", async () => {
    const q = setup();
    q.event({ type: "roomstate", channel: "emotes", emoteOnly: true });
    q.event({ type: "roomstate", channel: "modemotes", emoteOnly: true });
    q.mod("modemotes");
    assert.equal(await q.send("emotes", "words"), "dropped:emote_only");
    assert.equal(await q.send("modemotes", "words"), "sent");
    assert.equal(await counter(q.metrics.sendDropped, { reason: "emote_only" }), 1);
    q.event({ type: "roomstate", channel: "emotes", emoteOnly: false });
    assert.equal(await q.send("emotes", "words again"), "sent");
  });

  await t.step("followers-only: after Twitch refuses, stop until ROOMSTATE changes", async () => {
    const q = setup();
    assert.equal(await q.send("fans", "first"), "sent");
    const waiting = q.send("fans", "second");
    q.event({
      type: "notice",
      channel: "fans",
      msgId: "msg_followersonly",
      text: "This room is in followers-only mode.",
    });
    assert.equal(await waiting, "dropped:followers_only");
    await q.clock.tickAsync(60_000);
    assert.equal(await q.send("fans", "third"), "dropped:followers_only");
    q.event({ type: "roomstate", channel: "fans", slow: 0 });
    assert.equal(
      await q.send("fans", "fourth"),
      "dropped:followers_only",
      "another mode change does not count",
    );
    q.event({ type: "roomstate", channel: "fans", followersOnly: -1 });
    assert.equal(await q.send("fans", "fifth"), "sent");
    assert.deepEqual(q.transport.sent.map((s) => s.text), ["first", "fifth"]);
  });

  await t.step("subs-only: the same until subs-only changes", async () => {
    const q = setup();
    q.event({
      type: "notice",
      channel: "subs",
      msgId: "msg_subsonly",
      text: "This room is in subscribers-only mode.",
    });
    assert.equal(await q.send("subs", "hi"), "dropped:subs_only");
    q.event({ type: "roomstate", channel: "subs", subsOnly: false });
    assert.equal(await q.send("subs", "hi"), "sent");
  });

  await t.step("the full ROOMSTATE after a rejoin does not lift a mode that is still on", async () => {
    const q = setup();
    const rejoin = (channel: string, room: { followersOnly: number; subsOnly: boolean }) => {
      q.event({ type: "reconnect", reason: "twitch" });
      q.event({ type: "join", channel, user: "clankbot", self: true });
      q.event({ type: "roomstate", channel, slow: 0, emoteOnly: false, ...room });
    };
    q.event({ type: "notice", channel: "subs", msgId: "msg_subsonly", text: "subscribers-only" });
    rejoin("subs", { followersOnly: -1, subsOnly: true });
    assert.equal(await q.send("subs", "after the rejoin"), "dropped:subs_only");
    q.event({ type: "roomstate", channel: "subs", subsOnly: false });
    assert.equal(await q.send("subs", "subs-only off"), "sent");

    q.event({ type: "notice", channel: "fans", msgId: "msg_followersonly", text: "followers-only" });
    rejoin("fans", { followersOnly: 10, subsOnly: false });
    assert.equal(await q.send("fans", "after the rejoin"), "dropped:followers_only");
    q.event({ type: "roomstate", channel: "fans", followersOnly: 0 });
    assert.equal(await q.send("fans", "still followers-only"), "dropped:followers_only");
    q.event({ type: "roomstate", channel: "fans", followersOnly: -1 });
    assert.equal(await q.send("fans", "followers-only off"), "sent");
  });

  await t.step("a verified email/phone requirement is not lifted by a ROOMSTATE; it is retried", async () => {
    const q = setup({ roomBlockRetryMs: 600_000 });
    q.event({
      type: "notice",
      channel: "phone",
      msgId: "msg_requires_verified_phone_number",
      text: "verify",
    });
    assert.equal(await q.send("phone", "a"), "dropped:restricted");
    q.event({ type: "roomstate", channel: "phone", slow: 5 });
    assert.equal(await q.send("phone", "b"), "dropped:restricted");
    rejoinFull(q, "phone");
    assert.equal(await q.send("phone", "c"), "dropped:restricted");
    await q.clock.tickAsync(599_999);
    assert.equal(await q.send("phone", "d"), "dropped:restricted");
    await q.clock.tickAsync(1);
    // Twitch says nothing when the account gets verified: one line tries again, and a refusal renews it.
    assert.equal(await q.send("phone", "e"), "sent");
    q.event({ type: "notice", channel: "phone", msgId: "msg_verified_email", text: "verify" });
    assert.equal(await q.send("phone", "f"), "dropped:restricted");
  });

  await t.step("followers- and subs-only blocks are retried after the same time", async () => {
    const q = setup({ roomBlockRetryMs: 600_000 });
    q.event({ type: "notice", channel: "subs", msgId: "msg_subsonly", text: "subscribers-only" });
    await q.clock.tickAsync(599_999);
    assert.equal(await q.send("subs", "a"), "dropped:subs_only");
    await q.clock.tickAsync(1);
    assert.equal(await q.send("subs", "b"), "sent", "a gifted sub lifts it without any event");
  });
});

/** A reconnect, the JOIN and the full ROOMSTATE Twitch sends after it (every mode off). */
function rejoinFull(q: ReturnType<typeof setup>, channel: string): void {
  q.event({ type: "reconnect", reason: "twitch" });
  q.event({ type: "join", channel, user: "clankbot", self: true });
  q.event({ type: "roomstate", channel, slow: 0, emoteOnly: false, followersOnly: -1, subsOnly: false });
}

Deno.test("SendQueue reacts to Twitch's NOTICEs", async (t) => {
  await t.step("msg_ratelimit pauses every channel, longer when it repeats", async () => {
    const q = setup();
    q.mod("b");
    q.event({ type: "notice", channel: "a", msgId: "msg_ratelimit", text: "too quickly" });
    void q.send("a", "one", { maxAgeMs: 300_000 });
    void q.send("b", "two", { maxAgeMs: 300_000 });
    await q.clock.tickAsync(29_999);
    assert.equal(q.transport.sent.length, 0);
    await q.settle();
    assert.deepEqual(q.sentAt(), [30_000, 30_000]);
    q.event({ type: "notice", channel: "a", msgId: "msg_ratelimit", text: "too quickly" });
    void q.send("b", "three", { maxAgeMs: 300_000 });
    await q.settle();
    assert.equal(q.sentAt().at(-1), 30_000 + 60_000, "a repeat within the pause doubles it");
  });

  await t.step("msg_duplicate is counted and identical lines are not retried", async () => {
    const q = setup();
    q.mod("chat");
    assert.equal(await q.send("chat", "same thing"), "sent");
    q.event({ type: "notice", channel: "chat", msgId: "msg_duplicate", text: "Your message is identical" });
    assert.equal(await q.send("chat", "same thing"), "dropped:duplicate");
    assert.equal(await q.send("chat", "something else"), "sent");
    await q.clock.tickAsync(30_000);
    assert.equal(await q.send("chat", "same thing"), "sent", "after 30 s it is no longer a duplicate");
    assert.equal(await counter(q.metrics.sendDropped, { reason: "duplicate" }), 1);
  });

  await t.step("lines that Twitch would get the same are duplicates", async () => {
    const q = setup();
    q.mod("chat");
    assert.equal(await q.send("chat", "hello there\nfriend"), "sent");
    assert.equal(
      await q.send("chat", "hello there friend"),
      "dropped:duplicate",
      "a newline becomes a space",
    );
    assert.equal(await q.send("chat", "/hello there friend "), "dropped:duplicate", "a leading / is removed");
    const long = "x".repeat(MAX_LINE);
    assert.equal(await q.send("chat", `${long} one`), "sent");
    assert.equal(await q.send("chat", `${long} two`), "dropped:duplicate", "only the first 499 units go out");
    assert.deepEqual(q.transport.sent.map((s) => s.text), ["hello there\nfriend", `${long} one`]);
  });

  await t.step("msg_banned and msg_channel_suspended stop sends to that channel", async () => {
    const q = setup({ blockedRetryMs: 600_000 });
    void q.send("banned", "first");
    const queued = q.send("banned", "queued");
    q.event({ type: "notice", channel: "banned", msgId: "msg_banned", text: "You are permanently banned" });
    assert.equal(await queued, "dropped:banned");
    assert.equal(await q.send("banned", "later"), "dropped:banned");
    assert.equal(await q.send("other", "fine"), "sent");
    q.event({ type: "notice", channel: "gone", msgId: "msg_channel_suspended", text: "suspended" });
    assert.equal(await q.send("gone", "hello?"), "dropped:suspended");
    await q.clock.tickAsync(600_000);
    assert.equal(await q.send("banned", "unbanned yet?"), "sent", "tried again after blockedRetryMs");
  });

  await t.step("the bot's own ban (CLEARCHAT) stops sends too", async () => {
    const q = setup();
    q.event({ type: "ban", channel: "strict", user: "clankbot", userId: "1" });
    q.event({ type: "ban", channel: "other", user: "someoneelse", userId: "2" });
    assert.equal(await q.send("strict", "hi"), "dropped:banned");
    assert.equal(await q.send("other", "hi"), "sent");
  });

  await t.step("msg_timedout holds the channel until the timeout ends", async () => {
    const q = setup();
    q.event({
      type: "notice",
      channel: "tchan",
      msgId: "msg_timedout",
      text: "You are timed out for 8 more seconds.",
    });
    void q.send("tchan", "after the timeout");
    void q.send("free", "elsewhere");
    await q.settle();
    assert.deepEqual(q.sentAt("tchan"), [8000]);
    assert.deepEqual(q.sentAt("free"), [0]);
  });

  await t.step("a CLEARCHAT timeout of the bot holds the channel too", async () => {
    const q = setup();
    q.event({ type: "timeout", channel: "tchan", user: "clankbot", userId: "1", duration: 5 });
    void q.send("tchan", "x");
    await q.settle();
    assert.deepEqual(q.sentAt("tchan"), [5000]);
  });

  await t.step("msg_slowmode waits the seconds Twitch names", async () => {
    const q = setup();
    q.event({
      type: "notice",
      channel: "s",
      msgId: "msg_slowmode",
      text:
        "This room is in slow mode and you are sending messages too quickly. You will be able to talk again in 4 seconds.",
    });
    void q.send("s", "x");
    await q.settle();
    assert.deepEqual(q.sentAt("s"), [4000]);
  });

  await t.step("NOTICEs it does not know change nothing", async () => {
    const q = setup();
    q.event({ type: "notice", channel: "a", msgId: "msg_rejected", text: "automod" });
    q.event({ type: "notice", channel: "a", msgId: "", text: "no id" });
    assert.equal(await q.send("a", "still fine"), "sent");
  });
});

Deno.test("SendQueue drops lines that waited too long", async (t) => {
  await t.step("mentions after 30 s, spontaneous lines after 60 s, or maxAgeMs", async () => {
    const q = setup();
    q.event({ type: "roomstate", channel: "slow", slow: 120 });
    void q.send("slow", "first");
    const mention = q.send("slow", "mention", { kind: "mention" });
    const spont = q.send("slow", "spontaneous", { kind: "spontaneous" });
    const custom = q.send("slow", "custom", { kind: "command", maxAgeMs: 5000 });
    await q.settle();
    assert.equal(await mention, "dropped:expired");
    assert.equal(await spont, "dropped:expired");
    assert.equal(await custom, "dropped:expired");
    const at = Object.fromEntries(q.outcomes.map((o) => [o.text, o.at]));
    assert.deepEqual(at, { first: 0, custom: 5000, mention: 30_000, spontaneous: 60_000 });
    assert.equal(await counter(q.metrics.sendDropped, { reason: "expired" }), 3);
    assert.equal(q.queue.depth, 0);
  });

  await t.step("a full channel queue refuses new lines", async () => {
    const q = setup({ maxPerChannel: 2 });
    q.event({ type: "roomstate", channel: "c", slow: 30 });
    void q.send("c", "a");
    void q.send("c", "b");
    void q.send("c", "c");
    assert.equal(await q.send("c", "d"), "dropped:full");
    assert.equal(q.queue.depth, 2);
    q.queue.close();
  });
});

Deno.test("SendQueue holds lines while disconnected and sends them after the reconnect", async (t) => {
  await t.step("disconnected, then connected", async () => {
    const q = setup();
    q.transport.connected = false;
    q.event({ type: "disconnected", reason: "network" });
    const a = q.send("chat", "during the outage");
    await q.clock.tickAsync(10_000);
    assert.equal(q.transport.sent.length, 0);
    assert.equal(q.queue.depth, 1);
    q.transport.connected = true;
    q.event({ type: "connected" });
    assert.equal(await a, "sent");
    assert.deepEqual(q.sentAt(), [10_000]);
  });

  await t.step("after a RECONNECT lines wait for the channel's JOIN", async () => {
    const q = setup();
    q.event({ type: "join", channel: "chat", user: "clankbot", self: true });
    q.transport.connected = false;
    q.event({ type: "reconnect", reason: "twitch" });
    const a = q.send("chat", "kept across the reconnect");
    const b = q.send("elsewhere", "not joined before");
    q.transport.connected = true;
    q.event({ type: "connected" });
    assert.equal(await b, "sent");
    await q.clock.tickAsync(2000);
    assert.equal(q.sentAt("chat").length, 0, "waits for the JOIN");
    q.event({ type: "join", channel: "chat", user: "clankbot", self: true });
    assert.equal(await a, "sent");
  });

  await t.step("a send that fails because the connection dropped keeps its place", async () => {
    const q = setup();
    q.transport.failWith = new ClankError("TWITCH_NOT_CONNECTED", "Not connected to Twitch");
    const a = q.send("chat", "first");
    const b = q.send("chat", "second");
    await q.settle();
    assert.equal(await a, "sent");
    assert.equal(await b, "sent");
    assert.deepEqual(q.transport.sent.map((s) => [s.text, s.time]), [["first", 1000], ["second", 2200]]);
  });

  await t.step("a reconnect ends the retry wait early", async () => {
    const q = setup();
    q.transport.failWith = new ClankError("TWITCH_NOT_CONNECTED", "Not connected to Twitch");
    const a = q.send("chat", "first");
    await q.clock.tickAsync(300);
    q.event({ type: "connected" });
    assert.equal(await a, "sent");
    assert.deepEqual(q.sentAt(), [300]);
  });

  await t.step("lines still expire while disconnected", async () => {
    const q = setup();
    q.transport.connected = false;
    const a = q.send("chat", "too old", { maxAgeMs: 2000 });
    await q.clock.tickAsync(2000);
    assert.equal(await a, "dropped:expired");
  });

  await t.step("other send failures drop the line", async () => {
    const q = setup();
    q.transport.failWith = new Error("boom");
    assert.equal(await q.send("chat", "x"), "dropped:send_failed");
    assert.equal(await q.send("chat", "y"), "sent");
  });
});

Deno.test("SendQueue in observe-only mode sends nothing", async () => {
  const q = setup();
  q.transport.readOnly = true;
  assert.equal(await q.send("chat", "would say this"), "dropped:observe");
  assert.equal(q.transport.sent.length, 0);
  assert.equal(await counter(q.metrics.sendDropped, { reason: "observe" }), 0, "observing is not a drop");
});

Deno.test("SendQueue close drops what waits", async () => {
  const q = setup();
  q.event({ type: "roomstate", channel: "c", slow: 30 });
  void q.send("c", "a");
  const b = q.send("c", "b");
  q.queue.close();
  assert.equal(await b, "dropped:closed");
  assert.equal(await q.send("c", "after"), "dropped:closed");
  assert.equal(q.queue.depth, 0);
  assert.equal(q.clock.countTimers(), 0, "no timer left behind");
});

Deno.test("SendQueue obeys Twitch's own lines: ROOMSTATE, USERSTATE and NOTICEs through tmi.js, on a fake clock", async (t) => {
  // The queue runs on the fake clock; the fake server stamps every PRIVMSG with the same clock.
  const { clock, twitch, transport, queue, events: seen, lines, close } = await startIrcSendRig({
    start: T0,
  });
  /** Waits (real time) until the transport has handed over an event matching `pred`. */
  const arrived = (pred: (e: ChatEvent) => boolean, what: string) =>
    twitch.waitFor(() => seen.some(pred), 5000, what);
  /** Advances fake time in 50 ms steps, letting real I/O run, until `n` more PRIVMSGs reached the server. */
  const sendsReach = async (n: number, maxMs = 120_000) => {
    const target = twitch.privmsgs.length + n;
    for (let waited = 0; twitch.privmsgs.length < target; waited += 50) {
      if (waited > maxMs) {
        throw new Error(`only ${twitch.privmsgs.length} of ${target} lines after ${maxMs} ms`);
      }
      await clock.tickAsync(50);
      await new Promise((r) => setTimeout(r, 1));
    }
  };
  const times = (texts: string[]) => texts.map((text) => twitch.privmsgs.find((p) => p.text === text)!.time);
  try {
    await transport.connect(["slowchan"]);
    await arrived((e) => e.type === "userstate" && e.channel === "slowchan", "USERSTATE after JOIN");

    await t.step("slow mode from ROOMSTATE spaces the bot's lines by its seconds", async () => {
      twitch.sendRoomState("slowchan", { slow: 10 });
      await arrived((e) => e.type === "roomstate" && e.slow === 10, "ROOMSTATE slow=10");
      void queue.enqueue({ channel: "slowchan", text: "first line", kind: "mention" });
      void queue.enqueue({ channel: "slowchan", text: "second line", kind: "mention" });
      await sendsReach(2);
      const [a, b] = times(["first line", "second line"]);
      assert.ok(b! - a! >= 10_000, `lines ${b! - a!} ms apart in 10 s slow mode`);
    });

    await t.step("a moderator badge in USERSTATE lifts slow mode and the 1.2 s gap", async () => {
      twitch.sendUserState("slowchan", "moderator/1");
      await arrived((e) => e.type === "userstate" && e.moderator, "USERSTATE moderator");
      await clock.tickAsync(30_000);
      void queue.enqueue({ channel: "slowchan", text: "mod one", kind: "mention" });
      void queue.enqueue({ channel: "slowchan", text: "mod two", kind: "mention" });
      await sendsReach(2);
      const [a, b] = times(["mod one", "mod two"]);
      assert.ok(b! - a! < 1200, `a moderator's lines waited ${b! - a!} ms`);
    });

    await t.step("NOTICE msg_ratelimit pauses every send for the configured pause", async () => {
      await clock.tickAsync(30_000);
      const noticeAt = clock.now;
      twitch.sendNotice(
        "slowchan",
        "msg_ratelimit",
        "Your message was not sent because you are sending messages too quickly.",
      );
      await arrived((e) => e.type === "notice" && e.msgId === "msg_ratelimit", "NOTICE msg_ratelimit");
      // A spontaneous line may wait 60 s; a mention (30 s) would expire during the pause, as it should.
      void queue.enqueue({ channel: "slowchan", text: "after the pause", kind: "spontaneous" });
      await sendsReach(1);
      const [sent] = times(["after the pause"]);
      assert.ok(sent! - noticeAt >= 30_000, `sent ${sent! - noticeAt} ms after msg_ratelimit`);
      assert.ok(lines.some((l) => l.includes("Twitch says the bot sends too fast; pausing all sends")));
    });

    await t.step("NOTICE msg_timedout holds the channel for the seconds Twitch names", async () => {
      await clock.tickAsync(300_000);
      const noticeAt = clock.now;
      twitch.sendNotice("slowchan", "msg_timedout", "You are timed out for 45 more seconds.");
      await arrived((e) => e.type === "notice" && e.msgId === "msg_timedout", "NOTICE msg_timedout");
      void queue.enqueue({ channel: "slowchan", text: "after the timeout", kind: "spontaneous" });
      await sendsReach(1);
      const [sent] = times(["after the timeout"]);
      assert.ok(sent! - noticeAt >= 45_000, `sent ${sent! - noticeAt} ms after a 45 s timeout`);
    });
  } finally {
    await close();
  }
});

Deno.test("chatLine makes a line safe to hand to tmi.js", async (t) => {
  await t.step("one line, no chat command, at most 499 units", () => {
    assert.equal(chatLine("  hi\r\nthere\n"), "hi there");
    assert.equal(chatLine("/ban someone"), "ban someone");
    assert.equal(chatLine("./.timeout someone 600"), "timeout someone 600");
    assert.equal(chatLine("\\\\w x"), "w x");
    assert.equal(chatLine("..."), "...", "an ellipsis is not a command");
    assert.equal(chatLine("x".repeat(600)).length, MAX_LINE);
    assert.equal(chatLine("\n/\n"), "");
  });

  await t.step("only a lower-case /me stays, as tmi.js sends only that as an action", () => {
    assert.equal(chatLine("/me waves"), "/me waves");
    assert.equal(chatLine("/ME /ban x"), "ME /ban x");
    assert.equal(chatLine("/Me .timeout x 600"), "Me .timeout x 600");
    assert.equal(chatLine(".me waves"), "me waves");
  });

  await t.step("an action stays within tmi.js's split length once wrapped in \\u0001ACTION …\\u0001", () => {
    const line = chatLine(`/me ${"y".repeat(600)}`);
    assert.ok(line.startsWith("/me "));
    assert.ok(`\u0001ACTION ${line.slice(4)}\u0001`.length < 500);
    assert.equal(line.length, 494);
    // Cut right after "/me", the line must not turn into the command "/me".
    assert.equal(chatLine(`/me ${" ".repeat(600)}x`), "me");
  });

  await t.step("a cut never splits a surrogate pair, and cleaning twice changes nothing", () => {
    const emoji = chatLine(`${"a".repeat(MAX_LINE - 1)}😀 tail`);
    assert.equal(emoji, "a".repeat(MAX_LINE - 1));
    for (
      const text of [
        `/me ${"w ".repeat(400)}`,
        `  /x\n${"é😀".repeat(300)}`,
        `/me ${" ".repeat(600)}x`,
        "/.me x",
      ]
    ) {
      assert.equal(chatLine(chatLine(text)), chatLine(text), JSON.stringify(text.slice(0, 20)));
    }
  });
});

Deno.test("SendQueue's own clock is monotonic: a wall-clock step changes nothing", async (t) => {
  // Date and performance are faked separately: setSystemTime steps only the wall clock, as NTP does.
  const clock = FakeTimers.install({
    now: Date.UTC(2026, 10, 25, 20, 0, 0),
    toFake: ["Date", "setTimeout", "clearTimeout", "performance"],
  });
  try {
    const transport = new StubTransport(clock);
    const { log } = memoryLogger("debug");
    const queue = new SendQueue({ transport, log, metrics: new Metrics(), botLogin: "clankbot" });
    const start = performance.now();

    await t.step("a forward step does not empty the account window", async () => {
      const burst = (tag: string) =>
        Array.from(
          { length: 19 },
          (_, i) => queue.enqueue({ channel: `c${i}`, text: `${tag} ${i}`, kind: "spontaneous" }),
        );
      await Promise.all(burst("first"));
      assert.equal(transport.sent.length, 19);
      clock.setSystemTime(Date.now() + 31_000);
      const second = burst("second");
      await clock.tickAsync(29_000);
      assert.equal(transport.sent.length, 19, "no line before the first ones left the 30 s window");
      await clock.tickAsync(2_000);
      assert.deepEqual(new Set(await Promise.all(second)), new Set(["sent"]));
      assert.ok(performance.now() - start >= 30_000);
    });

    await t.step("a backward step neither expires a line nor holds the channel", async () => {
      await clock.tickAsync(31_000);
      assert.equal(await queue.enqueue({ channel: "quiet", text: "hello", kind: "mention" }), "sent");
      clock.setSystemTime(Date.now() - 600_000);
      let outcome: SendOutcome | undefined;
      void queue.enqueue({ channel: "quiet", text: "a reply", kind: "mention", maxAgeMs: 5_000 })
        .then((o) => outcome = o);
      await clock.tickAsync(1_200);
      assert.equal(outcome, "sent", "1.2 s after the last line in the channel");
    });
    queue.close();
  } finally {
    clock.uninstall();
  }
});

Deno.test("SendQueue keeps a subs-only block across Twitch's RECONNECT, through tmi.js", async () => {
  const rig = await startIrcSendRig({
    start: T0,
    roomStates: { subchan: { "subs-only": 1 } },
    limits: { channelIntervalMs: 0 },
  });
  const { twitch, transport, queue, events } = rig;
  const roomStates = () => events.filter((e) => e.type === "roomstate" && e.channel === "subchan").length;
  const say = (text: string) => queue.enqueue({ channel: "subchan", text, kind: "mention" });
  try {
    await transport.connect(["subchan"]);
    await twitch.waitFor(() => roomStates() === 1, 5000, "ROOMSTATE after the JOIN");
    twitch.sendNotice("subchan", "msg_subsonly", "This room is in subscribers-only mode.");
    await twitch.waitFor(() => events.some((e) => e.type === "notice"), 5000, "NOTICE msg_subsonly");
    assert.equal(await say("before the reconnect"), "dropped:subs_only");
    twitch.sendReconnect();
    await twitch.waitFor(() => roomStates() === 2, 5000, "the full ROOMSTATE after the rejoin");
    assert.equal(await say("after the rejoin, subs-only still on"), "dropped:subs_only");
    twitch.sendRoomState("subchan", { "subs-only": 0 });
    await twitch.waitFor(() => roomStates() === 3, 5000, "ROOMSTATE subs-only off");
    assert.equal(await say("subs-only is off"), "sent");
    await twitch.waitFor(() => twitch.privmsgs.length > 0, 5000, "the PRIVMSG");
    assert.deepEqual(twitch.privmsgs.map((p) => p.text), ["subs-only is off"]);
  } finally {
    await rig.close();
  }
});
