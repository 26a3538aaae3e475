/**
 * The send queue on a fake clock, sending through the real `TwitchTransport` (tmi.js) to the fake
 * Twitch server, which stamps every PRIVMSG with the same clock. Every transport event reaches the
 * queue, stamped with the fake time, and is kept in `events`.
 * @module
 */
import FakeTimers from "@sinonjs/fake-timers";
import type { ChatEvent } from "../../core/events.ts";
import { memoryLogger } from "../../core/log.ts";
import { Metrics } from "../../core/metrics.ts";
import { type SendLimits, SendQueue } from "../../core/send_queue.ts";
import { TwitchTransport } from "../../core/twitch_transport.ts";
import { type FakeTwitch, type FakeTwitchOptions, startFakeTwitch } from "./fake_twitch.ts";

const TOKEN = "rigtoken";

/** A running rig; `close()` stops the queue, the transport and the server. */
export interface IrcSendRig {
  clock: ReturnType<typeof FakeTimers.createClock>;
  twitch: FakeTwitch;
  transport: TwitchTransport;
  queue: SendQueue;
  events: ChatEvent[];
  /** Log lines of the transport and the queue. */
  lines: string[];
  close(): Promise<void>;
}

/**
 * Starts the rig; `badges` are the bot's per channel (e.g. `{ chan: "moderator/1" }`), `roomStates`
 * the modes in the ROOMSTATE after each JOIN.
 */
export async function startIrcSendRig(
  options: {
    badges?: Record<string, string>;
    roomStates?: FakeTwitchOptions["roomStates"];
    limits?: Partial<SendLimits>;
    start?: number;
  } = {},
): Promise<IrcSendRig> {
  const clock = FakeTimers.createClock(options.start ?? 0);
  const twitch = await startFakeTwitch({
    tokens: [TOKEN],
    badges: options.badges,
    roomStates: options.roomStates,
    now: () => clock.now,
  });
  const { log, lines } = memoryLogger("debug");
  const metrics = new Metrics();
  const transport = new TwitchTransport({
    ircUrl: twitch.url,
    username: "clankbot",
    token: TOKEN,
    log,
    metrics,
    joinIntervalMs: 1,
    // The rig is about sending lines: joining hundreds of channels must not take Twitch's real minutes.
    joinLimit: { windowMs: 1000, joins: 10_000 },
  });
  const queue = new SendQueue({
    transport,
    log,
    metrics,
    botLogin: "clankbot",
    limits: options.limits,
    clock: {
      now: () => clock.now,
      setTimeout: (fn, ms) => clock.setTimeout(fn, ms),
      clearTimeout: (id) => clock.clearTimeout(id),
    },
  });
  const events: ChatEvent[] = [];
  transport.onEvent((e) => {
    events.push(e);
    queue.onEvent({ ...e, time: clock.now } as ChatEvent);
  });
  return {
    clock,
    twitch,
    transport,
    queue,
    events,
    lines,
    async close() {
      queue.close();
      await transport.disconnect();
      await twitch.close();
    },
  };
}
