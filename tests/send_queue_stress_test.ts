/**
 * Stress: hundreds of channels ask for replies at once. The send queue runs on a fake clock, the lines go
 * through the real TwitchTransport (tmi.js) to the fake Twitch server, which stamps each PRIVMSG
 * with the same fake clock; the windows are then checked over those recorded times.
 */
import assert from "node:assert/strict";
import type { SendOutcome } from "../core/send_queue.ts";
import { startIrcSendRig } from "./fakes/irc_send_rig.ts";

const WINDOW = 30_000;

interface StressResult {
  times: Array<{ channel: string; time: number; mod: boolean }>;
  outcomes: SendOutcome[];
}

async function runStress(
  channels: string[],
  modChannels: Set<string>,
  linesPerChannel: number,
): Promise<StressResult> {
  const badges = Object.fromEntries([...modChannels].map((c) => [c, "moderator/1"]));
  // Room for 600 waiting lines (the default bound of 500 would drop the last ones as "full").
  const { clock, twitch, transport, queue, events, close } = await startIrcSendRig({
    badges,
    limits: { maxQueued: 1000 },
  });
  const userstates = () => events.filter((e) => e.type === "userstate").length;
  try {
    await transport.connect(channels);
    await twitch.waitFor(
      () => transport.joined().length === channels.length && userstates() >= channels.length,
      20_000,
      "joins",
    );

    const outcomes: SendOutcome[] = [];
    let sent = 0;
    for (let line = 0; line < linesPerChannel; line++) {
      for (const c of channels) {
        // Long enough that every line waits its turn instead of expiring: this is about the windows.
        queue.enqueue({ channel: c, text: `reply ${line} in ${c}`, kind: "mention", maxAgeMs: 3_600_000 })
          .then((o) => {
            outcomes.push(o);
            if (o === "sent") sent++;
          });
      }
    }
    const total = channels.length * linesPerChannel;
    for (;;) {
      await clock.tickAsync(0);
      // Every line the queue handed to tmi must reach the fake before fake time moves on.
      await twitch.waitFor(() => twitch.privmsgs.length === sent, 10_000, `${sent} PRIVMSGs`);
      if (outcomes.length === total) break;
      assert.ok(clock.countTimers() > 0, "the queue waits for a timer while lines are pending");
      await clock.nextAsync();
    }
    return {
      times: twitch.privmsgs.map((p) => ({
        channel: p.channel,
        time: p.time,
        mod: modChannels.has(p.channel),
      })),
      outcomes,
    };
  } finally {
    await close();
  }
}

/** The most lines in any window [t, t + 30 s) that starts at a send, split by whether it held a non-mod line. */
function windowPeaks(times: StressResult["times"]): { mixed: number; modOnly: number } {
  const sorted = [...times].sort((a, b) => a.time - b.time);
  let mixed = 0;
  let modOnly = 0;
  for (let i = 0; i < sorted.length; i++) {
    let n = 0;
    let user = false;
    for (let j = i; j < sorted.length && sorted[j]!.time < sorted[i]!.time + WINDOW; j++) {
      n++;
      if (!sorted[j]!.mod) user = true;
    }
    if (user) mixed = Math.max(mixed, n);
    else modOnly = Math.max(modOnly, n);
  }
  return { mixed, modOnly };
}

/** The shortest gap between two lines in one channel. */
function minChannelGap(times: StressResult["times"]): number {
  const last = new Map<string, number>();
  let min = Infinity;
  for (const t of [...times].sort((a, b) => a.time - b.time)) {
    const prev = last.get(t.channel);
    if (prev !== undefined) min = Math.min(min, t.time - prev);
    last.set(t.channel, t.time);
  }
  return min;
}

const CHANNELS = Array.from({ length: 300 }, (_, i) => `chan${String(i).padStart(3, "0")}`);

// Twitch lets the account be in at most 100 channels where it is not a moderator (the transport
// leaves the rest), so the non-moderator scenarios use 100 such channels.
Deno.test("SendQueue stress: hundreds of channels never exceed Twitch's windows", async (t) => {
  await t.step(
    "not a moderator anywhere, 100 channels, 3 lines each: at most 20 lines in any 30 s",
    async () => {
      const r = await runStress(CHANNELS.slice(0, 100), new Set(), 3);
      assert.equal(r.outcomes.filter((o) => o === "sent").length, 300);
      assert.equal(r.times.length, 300);
      const peaks = windowPeaks(r.times);
      assert.ok(peaks.mixed <= 20, `peak ${peaks.mixed} lines in 30 s`);
      assert.equal(peaks.mixed, 19, "the queue uses the window it is allowed (19 with the margin)");
      const last = Math.max(...r.times.map((x) => x.time));
      assert.ok(last <= 16 * 30_500, `last line at ${last} ms`);
      console.log(`non-mod: peak ${peaks.mixed}/30 s, 300 lines done at ${last / 1000} s fake time`);
    },
  );

  await t.step("moderator everywhere: at most 100 lines in any 30 s", async () => {
    const r = await runStress(CHANNELS, new Set(CHANNELS), 2);
    assert.equal(r.outcomes.filter((o) => o === "sent").length, 600);
    const peaks = windowPeaks(r.times);
    assert.equal(peaks.mixed, 0);
    assert.ok(peaks.modOnly <= 100, `peak ${peaks.modOnly} lines in 30 s`);
    assert.equal(peaks.modOnly, 99);
    const last = Math.max(...r.times.map((x) => x.time));
    console.log(`mod: peak ${peaks.modOnly}/30 s, 600 lines done at ${last / 1000} s fake time`);
  });

  await t.step("half and half (100 of 200): any window with a non-mod line stays at 20", async () => {
    const channels = CHANNELS.slice(0, 200);
    const mods = new Set(channels.filter((_, i) => i % 2 === 0));
    const r = await runStress(channels, mods, 2);
    assert.equal(r.outcomes.filter((o) => o === "sent").length, 400);
    const peaks = windowPeaks(r.times);
    assert.ok(peaks.mixed <= 20, `peak ${peaks.mixed} lines in a mixed window`);
    assert.ok(peaks.modOnly <= 100, `peak ${peaks.modOnly} lines in a mod-only window`);
    const userTimes = r.times.filter((x) => !x.mod);
    assert.ok(minChannelGap(userTimes) >= 1200, "1.2 s between lines where the bot is not a moderator");
    console.log(`mixed: peaks ${peaks.mixed} (mixed) / ${peaks.modOnly} (mod-only) per 30 s`);
  });
});
