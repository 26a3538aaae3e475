/**
 * Cooldown plugin `spontaneous_gate`: a spontaneous line needs at least `threshold` chat messages
 * AND at least `spontaneous` seconds since the previous one, chat that is active now, and enough
 * context to be relevant. Counters are saved in the plugin store so a restart does not forget how far
 * the bot had counted; whether chat is active is only ever judged from lines seen live.
 * @module
 */
import { z } from "zod";
import { definePlugin, type GateRequest, type GateVerdict, type PluginApi } from "./sdk.ts";

const options = z.object({
  /**
   * Save a channel's counter after this many new messages (it is always saved on a reset and at
   * shutdown). Each save is a database write between chat lines, so not too often: a crash loses at
   * most this many counted messages.
   */
  save_every: z.number().int().min(1).max(1000).default(100),
  /**
   * Also save a channel's counter when it changed and this many seconds passed since its last save,
   * so a crash in a quiet channel (fewer than `save_every` lines between spontaneous lines, as with
   * the default threshold of 30) loses at most this much counting.
   */
  save_after_seconds: z.number().int().min(1).max(3600).default(10),
}).strict();

type Options = z.infer<typeof options>;

/**
 * Live chat lines that make a chat "active". One line is no conversation: a lone "hi" or "gn" in a
 * chat that died an hour ago would otherwise wake the bot with a line about that old talk. Three
 * is a line, an answer and one more. It stays below the smallest `threshold` (5).
 */
export const ACTIVE_LINES = 3;
/**
 * The most seconds those lines may span back from the moment the bot would talk. A Twitch chat that
 * has been silent for three minutes has stopped (stream over, BRB screen, raid gone); a chat slower
 * than three lines in three minutes takes half an hour to reach the default threshold, and a bot
 * line there is noise, not company. A channel set to talk more often (`spontaneous` below 180 s)
 * judges "now" on its own shorter scale: `min(spontaneous, 180)`.
 */
export const ACTIVE_WINDOW_SECONDS = 180;

interface Counter {
  /** Messages since the last spontaneous line. */
  count: number;
  /** Time of the last spontaneous line (ms), 0 if none yet. */
  last: number;
  unsaved: number;
  /** Chat time (ms) of the last save, 0 before the first. */
  savedAt: number;
}

const counters = new Map<string, Counter>();
const loading = new Map<string, Promise<Counter>>();
/**
 * Times of the last {@link ACTIVE_LINES} counted lines per channel, seen since this process started
 * or the bot (re)joined. Never saved: the stored counter says how far chat moved on since the bot's
 * last line, not whether anybody is still talking, so restored lines alone must never fire.
 */
const live = new Map<string, number[]>();

/** Loaded instances sharing these counters: a reload keeps them (see chat_history). */
let instances = 0;

function counterOf(channel: string, api: PluginApi<Options>): Counter | Promise<Counter> {
  const c = counters.get(channel);
  if (c !== undefined) return c;
  let p = loading.get(channel);
  if (p === undefined) {
    p = api.store.get<{ count: number; last: number }>(channel).then((saved) => {
      const loaded = { count: saved?.count ?? 0, last: saved?.last ?? 0, unsaved: 0, savedAt: 0 };
      counters.set(channel, loaded);
      loading.delete(channel);
      return loaded;
    }, (err) => {
      loading.delete(channel);
      throw err;
    });
    loading.set(channel, p);
  }
  return p;
}

function save(channel: string, c: Counter, api: PluginApi<Options>, now: number): Promise<void> {
  c.unsaved = 0;
  c.savedAt = now;
  return api.store.set(channel, { count: c.count, last: c.last });
}

/**
 * Counts one chat message. The periodic save is not awaited: this runs on every chat line inside the
 * channel's ordered section, where any wait holds up the whole channel (awaiting committed writes once
 * capped each channel at about 20 lines per second, `bench/ingest.ts`). A failed save is only logged;
 * the next one retries.
 */
function countMessage(channel: string, c: Counter, api: PluginApi<Options>, now: number): void {
  c.count++;
  const times = live.get(channel) ?? [];
  times.push(now);
  if (times.length > ACTIVE_LINES) times.shift();
  live.set(channel, times);
  c.unsaved++;
  const { save_every, save_after_seconds = 10 } = api.options;
  if (c.savedAt === 0) c.savedAt = now;
  if (c.unsaved >= save_every || now - c.savedAt >= save_after_seconds * 1000) {
    save(channel, c, api, now).catch((err) =>
      api.log.warn("Could not save the spontaneous counter", { channel, error: String(err) })
    );
  }
}

/** At least {@link ACTIVE_LINES} live lines within `min(spontaneous, ACTIVE_WINDOW_SECONDS)`. */
function active(req: GateRequest): boolean {
  const times = live.get(req.channel);
  if (times === undefined || times.length < ACTIVE_LINES) return false;
  const window = Math.min(req.settings.spontaneous, ACTIVE_WINDOW_SECONDS) * 1000;
  return req.time - times[0]! <= window;
}

/** The gate's answer for a loaded counter; an allowed line resets it and waits for the save. */
function decide(req: GateRequest, c: Counter, api: PluginApi<Options>): GateVerdict | Promise<GateVerdict> {
  if (c.count < req.settings.threshold) return { allow: false, reason: "threshold" };
  if (req.time - c.last < req.settings.spontaneous * 1000) return { allow: false, reason: "cooldown" };
  // The host asks on every tick: without this, a reached threshold only delays a line into a chat
  // that went silent, and a restored counter fires on the first tick after a restart.
  if (!active(req)) return { allow: false, reason: "quiet" };
  if (req.contextSize < req.settings.min_context) return { allow: false, reason: "context" };
  c.count = 0;
  c.last = req.time;
  return save(req.channel, c, api, req.time).then(() => ({ allow: true }));
}

export default definePlugin({
  name: "spontaneous_gate",
  kind: "cooldown",
  apiVersion: 1,
  description: "Spontaneous lines need enough new messages, enough time since the last one and live chat",
  triggers: ["spontaneous"],
  options,
  setup() {
    if (instances++ > 0) return;
    counters.clear();
    loading.clear();
    live.clear();
  },
  observe(event, api) {
    // A (re)join is like a restart: the lines before it say nothing about who is talking now.
    if ((event.type === "join" || event.type === "part") && event.self) {
      live.delete(event.channel);
      return;
    }
    if (event.type !== "message" || event.self || event.flags?.command || event.flags?.fromBot) return;
    // Synchronous once the counter is loaded: the host runs observers in the channel's in-order
    // section, so every await here (and the deadline timer an async handler costs) delays chat.
    const c = counterOf(event.channel, api);
    if (c instanceof Promise) return c.then((loaded) => countMessage(event.channel, loaded, api, event.time));
    countMessage(event.channel, c, api, event.time);
  },
  gate(req, api) {
    // Asked on every chat line: answer synchronously unless the counter is still loading.
    const c = counterOf(req.channel, api);
    return c instanceof Promise ? c.then((loaded) => decide(req, loaded, api)) : decide(req, c, api);
  },
  async teardown(api) {
    instances = Math.max(0, instances - 1);
    await Promise.all(
      [...counters].filter(([, c]) => c.unsaved > 0).map(([ch, c]) => save(ch, c, api, c.savedAt)),
    );
  },
});
