/**
 * Chat logs for replay. Three line formats, mixed freely; `#` lines and blank lines are skipped:
 *
 * - JSON: `{"time":"2026-11-25T20:00:00Z","channel":"somechannel","user":"alice","text":"hi","mod":false}`
 *   (`time` ISO or epoch ms; optional `display`, `id`, `mod`, `broadcaster`, and `type` of
 *   `message` (default), `ban`, `timeout` (with `duration` seconds), `deletion` (with `id`), `clear`)
 * - timestamped: `[20:01:05] alice: hello there` (or `[2026-11-25 20:01:05] …`)
 * - plain: `alice: hello there` (lines are spaced `gap` seconds apart)
 * @module
 */
import type { Badges, ChatEvent } from "./events.ts";

/** One problem with a log line. */
export interface ReplayProblem {
  line: number;
  message: string;
}

const NO_BADGES: Badges = { broadcaster: false, moderator: false, vip: false, subscriber: false };

/** Twitch refuses chat messages longer than this many characters, so no real log holds one. */
export const MAX_TEXT_CHARS = 500;

/**
 * The times a line may carry: 1970 to the end of 9999. Later lines add gaps to the last time, and the
 * report prints `hh:mm:ss` out of the ISO form, which needs a four-digit year; past ±8.64e15 ms there
 * is no Date at all, and the pipeline failed with "Invalid time value".
 */
const MIN_TIME = 0;
const MAX_TIME = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** Parses a chat log into events; bad lines are reported and skipped. */
export function parseReplayLog(
  text: string,
  options: { channel: string; start?: number; gapSeconds?: number },
): { events: ChatEvent[]; problems: ReplayProblem[] } {
  const events: ChatEvent[] = [];
  const problems: ReplayProblem[] = [];
  const gap = (options.gapSeconds ?? 5) * 1000;
  const start = options.start ?? Date.UTC(2026, 0, 1, 20, 0, 0);
  let last = start - gap;
  let n = 0;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.trim();
    if (raw === "" || raw.startsWith("#")) continue;
    n++;
    const lineNo = i + 1;
    try {
      const event = raw.startsWith("{")
        ? fromJson(raw, options.channel, last + gap)
        : fromText(raw, options.channel, last + gap, start);
      if (event.time < last) event.time = last;
      last = event.time;
      if (event.type === "message" && event.id === "") event.id = `replay-${n}`;
      events.push(event);
    } catch (err) {
      problems.push({ line: lineNo, message: (err as Error).message });
    }
  }
  return { events, problems };
}

function login(name: string): string {
  const l = name.trim().replace(/^@/, "").toLowerCase();
  if (!/^[a-z0-9_]{1,25}$/.test(l)) {
    throw new Error(`"${name}" is not a Twitch login (1-25 letters, digits, _)`);
  }
  return l;
}

/** Refuses text Twitch would never have delivered: it would fail downstream instead of here. */
function checkText(text: string): void {
  if (text.length <= MAX_TEXT_CHARS) return;
  const chars = [...text].length;
  if (chars > MAX_TEXT_CHARS) {
    throw new Error(`Chat text is ${chars} characters; Twitch allows at most ${MAX_TEXT_CHARS}`);
  }
}

function fromText(raw: string, channel: string, fallbackTime: number, start: number): ChatEvent {
  let time = fallbackTime;
  let rest = raw;
  const stamp = /^\[(?:(\d{4}-\d{2}-\d{2})[ T])?(\d{1,2}):(\d{2})(?::(\d{2}))?\]\s*/.exec(raw);
  if (stamp) {
    const day = stamp[1] ? Date.parse(`${stamp[1]}T00:00:00Z`) : Math.floor(start / 86_400_000) * 86_400_000;
    time = day + (Number(stamp[2]) * 3600 + Number(stamp[3]) * 60 + Number(stamp[4] ?? 0)) * 1000;
    rest = raw.slice(stamp[0].length);
    if (!(time >= MIN_TIME && time <= MAX_TIME)) {
      throw new Error(`${stamp[0].trim()} is not a time between 1970 and 9999`);
    }
  }
  const m = /^<?([^\s:>]+)>?:\s?(.*)$/.exec(rest);
  if (!m) throw new Error('Expected "user: text", "[hh:mm:ss] user: text" or a JSON object');
  const user = login(m[1]!);
  const text = m[2]!;
  if (text.trim() === "") throw new Error("Empty chat text");
  checkText(text);
  return message(channel, user, m[1]!.replace(/^@/, ""), text, time, "", NO_BADGES);
}

function message(
  channel: string,
  user: string,
  displayName: string,
  text: string,
  time: number,
  id: string,
  badges: Badges,
): ChatEvent {
  return {
    type: "message",
    channel,
    id,
    userId: `replay-${user}`,
    user,
    displayName,
    text,
    badges,
    action: false,
    time,
    self: false,
  };
}

function fromJson(raw: string, defaultChannel: string, fallbackTime: number): ChatEvent {
  let obj: Record<string, unknown>;
  try {
    obj = JSON.parse(raw);
  } catch (err) {
    throw new Error(`Not valid JSON: ${(err as Error).message}`);
  }
  const time = typeof obj.time === "number"
    ? obj.time
    : typeof obj.time === "string"
    ? Date.parse(obj.time)
    : fallbackTime;
  if (!Number.isFinite(time) || time < MIN_TIME || time > MAX_TIME) {
    throw new Error(
      `"time" must be an ISO date or epoch milliseconds between 1970 and 9999, got ${
        JSON.stringify(obj.time).slice(0, 40)
      }`,
    );
  }
  const channel = typeof obj.channel === "string" ? login(obj.channel.replace(/^#/, "")) : defaultChannel;
  const type = obj.type ?? "message";
  const user = typeof obj.user === "string" ? login(obj.user) : undefined;
  const need = (v: string | undefined, field: string) => {
    if (v === undefined) throw new Error(`"${field}" is required for type "${type}"`);
    return v;
  };
  switch (type) {
    case "message": {
      if (typeof obj.text !== "string" || obj.text.trim() === "") {
        throw new Error('"text" must be a non-empty string');
      }
      checkText(obj.text);
      const badges = { ...NO_BADGES, moderator: obj.mod === true, broadcaster: obj.broadcaster === true };
      const display = typeof obj.display === "string" ? obj.display : need(user, "user");
      return message(
        channel,
        need(user, "user"),
        display,
        obj.text,
        time,
        typeof obj.id === "string" ? obj.id : "",
        badges,
      );
    }
    case "ban":
      return { type: "ban", channel, user: need(user, "user"), userId: "", time };
    case "timeout":
      return {
        type: "timeout",
        channel,
        user: need(user, "user"),
        userId: "",
        duration: Number(obj.duration ?? 600),
        time,
      };
    case "deletion":
      return {
        type: "deletion",
        channel,
        user: user ?? "",
        messageId: need(obj.id as string | undefined, "id"),
        time,
      };
    case "clear":
      return { type: "clear", channel, time };
    default:
      throw new Error(`"type" must be message, ban, timeout, deletion or clear, got ${JSON.stringify(type)}`);
  }
}
