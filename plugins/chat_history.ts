/**
 * Context plugin `chat_history`: one bounded history per channel (a ring buffer sized by the
 * channel's context window), fed by chat lines that passed the input filters and by the bot's own
 * lines, trimmed by moderation events, restored from the database at start.
 * @module
 */
import { z } from "zod";
import { BoundedMemo } from "./bounded_memo.ts";
import { definePlugin, type HistoryLine, type ObservedEvent } from "./sdk.ts";
import { RingBuffer } from "../core/ring_buffer.ts";

/** The largest context window the settings allow; rings start at this size until the channel's own is known. */
const MAX_WINDOW = 500;

/** Accounts whose lines are Twitch system notices, not chat. */
const SYSTEM_USERS = new Set(["jtv", "twitch", "tmi"]);

const options = z.object({
  /** The bot's login, used as the author of its own lines. */
  bot: z.string().default("clank"),
  /** Most channels kept at once; the least recently active channel is forgotten beyond it. */
  max_channels: z.number().int().min(1).max(100000).default(5000),
}).strict();

interface ChannelHistory {
  ring: RingBuffer<HistoryLine>;
  seq: number;
}

const histories = new Map<string, ChannelHistory>();

/**
 * Loaded instances sharing this module's state. A reload loads the new instance before the old one
 * is torn down, so state is kept across reloads and only a first load starts empty.
 */
let instances = 0;

function historyOf(channel: string, maxChannels: number): ChannelHistory {
  let h = histories.get(channel);
  if (h === undefined) {
    h = { ring: new RingBuffer<HistoryLine>(MAX_WINDOW), seq: 0 };
    if (histories.size >= maxChannels) {
      const oldest = histories.keys().next().value;
      if (oldest !== undefined) histories.delete(oldest);
    }
  } else {
    histories.delete(channel);
  }
  // Re-inserting keeps the Map in least-recently-used order for the eviction above.
  histories.set(channel, h);
  return h;
}

/**
 * One string per distinct login and display name: a busy channel repeats a few hundred names across
 * its whole history, and lines restored from the database would otherwise each carry their own copy.
 */
const MAX_NAMES = 100_000;
const names = new BoundedMemo(MAX_NAMES, (name: string) => name);

function intern(name: string): string {
  return names.get(name);
}

function push(h: ChannelHistory, line: HistoryLine): void {
  h.seq++;
  const user = intern(line.user);
  const displayName = line.displayName === line.user ? user : intern(line.displayName);
  h.ring.push({ ...line, user, displayName, seq: h.seq });
}

export default definePlugin({
  name: "chat_history",
  kind: "context",
  apiVersion: 1,
  description: "Keeps each channel's recent chat and the bot's own lines as prompt context",
  options,
  setup() {
    if (instances++ === 0) histories.clear();
  },
  teardown() {
    instances = Math.max(0, instances - 1);
  },
  observe(event: ObservedEvent, api) {
    const maxChannels = api.options.max_channels;
    switch (event.type) {
      case "restore": {
        const h = historyOf(event.channel, maxChannels);
        h.ring.clear();
        for (const line of event.lines) if (line.bot || !SYSTEM_USERS.has(line.user)) push(h, line);
        return;
      }
      case "message": {
        if (event.self || SYSTEM_USERS.has(event.user)) return;
        if (event.flags?.command || event.flags?.fromBot) return;
        if (event.text.trimStart().startsWith("!")) return;
        push(historyOf(event.channel, maxChannels), {
          id: event.id,
          user: event.user,
          displayName: event.displayName,
          text: event.text,
          time: event.time,
          bot: false,
        });
        return;
      }
      case "sent":
        push(historyOf(event.channel, maxChannels), {
          user: api.options.bot,
          displayName: api.options.bot,
          text: event.text,
          time: event.time,
          bot: true,
        });
        return;
      case "ban":
      case "timeout":
        histories.get(event.channel)?.ring.retain((l) => l.user !== event.user);
        return;
      case "deletion":
        histories.get(event.channel)?.ring.retain((l) => l.id !== event.messageId);
        return;
      case "clear":
        histories.get(event.channel)?.ring.clear();
        return;
      case "part":
        if (event.self) histories.delete(event.channel);
        return;
    }
  },
  provide(req) {
    const h = histories.get(req.channel);
    if (h === undefined) return { history: [] };
    h.ring.resize(req.settings.context);
    return { history: h.ring.toArray() };
  },
});

/** Lines currently held for a channel (for tests and the status command). */
export function historySize(channel: string): number {
  return histories.get(channel)?.ring.length ?? 0;
}
