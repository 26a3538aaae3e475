/**
 * Maps Twitch IRC tags, as tmi.js hands them to its event listeners, to clank's chat events.
 *
 * tmi.js has already unescaped tag values, turned `"1"`/`"0"` into `true`/`false` and `badges` into an
 * object (`{ moderator: "1" }`), so every reader here accepts both the raw and the converted form.
 * @module
 */
import type { Badges, MessageEvent, RoomStateEvent, UserStateEvent } from "./events.ts";

/** Tags as tmi.js passes them (`userstate`, `tags`). */
export type TmiTags = Record<string, unknown>;

/** A tag as a string: `true` → "1", `false` → "0", missing → "". */
export function tagString(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (value === true) return "1";
  if (value === false) return "0";
  return String(value);
}

/** A tag as a finite number, or `undefined`. `true`/`false` count as 1/0 (tmi converted them). */
export function tagNumber(value: unknown): number | undefined {
  if (value === true) return 1;
  if (value === false) return 0;
  if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
  if (typeof value !== "string" || value.trim() === "") return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

/** A boolean tag (`1`, `true`). */
export function tagFlag(value: unknown): boolean {
  return value === true || value === "1" || value === 1;
}

/** Channel login without `#`, lower case. */
export function channelName(channel: string): string {
  return channel.replace(/^#/, "").toLowerCase();
}

/** The badge names in a `badges` tag: tmi's object form or the raw `a/1,b/2` string. */
export function badgeNames(badges: unknown): Set<string> {
  if (typeof badges === "string") {
    return new Set(badges.split(",").map((b) => b.split("/")[0] ?? "").filter((b) => b !== ""));
  }
  if (badges !== null && typeof badges === "object") return new Set(Object.keys(badges));
  return new Set();
}

/** Permission badges of a user from PRIVMSG/USERSTATE tags. */
export function badgesFromTags(tags: TmiTags): Badges {
  const names = badgeNames(tags["badges"]);
  const broadcaster = names.has("broadcaster");
  return {
    broadcaster,
    moderator: names.has("moderator") || tagFlag(tags["mod"]) || tags["user-type"] === "mod",
    vip: names.has("vip") || tagFlag(tags["vip"]),
    // A founder badge replaces the subscriber badge of early subscribers.
    subscriber: names.has("subscriber") || names.has("founder") || tagFlag(tags["subscriber"]),
  };
}

/** NOTICE ids with which Twitch refuses a JOIN (the channel is suspended or banned for good). */
export const JOIN_REFUSALS: ReadonlySet<string> = new Set(["msg_channel_suspended", "tos_ban"]);

/** `tmi-sent-ts` in milliseconds, or `fallback`. */
export function sentTime(tags: TmiTags | undefined, fallback: number): number {
  const ts = tagNumber(tags?.["tmi-sent-ts"]);
  return ts !== undefined && ts > 0 ? ts : fallback;
}

/** What {@link messageFromTags} needs besides the tags. */
export interface MessageContext {
  channel: string;
  text: string;
  action: boolean;
  self: boolean;
  /** The bot's login and user id, for its own lines (which carry no `user-id`). */
  bot: { login: string; userId: string };
  time: number;
  /** Id used when the line has none (the bot's own lines). */
  fallbackId: string;
}

/** A chat line event from PRIVMSG tags. */
export function messageFromTags(tags: TmiTags, ctx: MessageContext): MessageEvent {
  const user = ctx.self ? ctx.bot.login : tagString(tags["username"] ?? tags["login"]).toLowerCase();
  const displayName = tagString(tags["display-name"]) || user;
  const userId = tagString(tags["user-id"]) || (ctx.self ? ctx.bot.userId : "");
  const source = tagString(tags["source-room-id"]);
  const event: MessageEvent = {
    type: "message",
    channel: channelName(ctx.channel),
    id: tagString(tags["id"]) || ctx.fallbackId,
    userId,
    user,
    displayName,
    text: ctx.text,
    badges: badgesFromTags(tags),
    action: ctx.action,
    time: ctx.time,
    self: ctx.self,
  };
  if (source !== "" && source !== tagString(tags["room-id"])) event.sharedFrom = source;
  return event;
}

/** A ROOMSTATE event: only the modes present in this (possibly partial) update are set. */
export function roomStateFromTags(channel: string, tags: TmiTags, time: number): RoomStateEvent {
  const event: RoomStateEvent = { type: "roomstate", channel: channelName(channel), time };
  if ("slow" in tags) event.slow = Math.max(0, tagNumber(tags["slow"]) ?? 0);
  if ("emote-only" in tags) event.emoteOnly = tagFlag(tags["emote-only"]);
  if ("followers-only" in tags) {
    // "-1" is off; "0" (which tmi turns into false) means followers-only with no minimum age.
    const v = tags["followers-only"];
    event.followersOnly = v === false ? 0 : tagNumber(v) ?? -1;
  }
  if ("subs-only" in tags) event.subsOnly = tagFlag(tags["subs-only"]);
  return event;
}

/** A USERSTATE event: the bot's own moderator/broadcaster status in a channel. */
export function userStateFromTags(channel: string, tags: TmiTags, time: number): UserStateEvent {
  const badges = badgesFromTags(tags);
  return {
    type: "userstate",
    channel: channelName(channel),
    moderator: badges.moderator,
    broadcaster: badges.broadcaster,
    time,
  };
}

const AUTH_FAILURES = [
  "Login authentication failed",
  "Login unsuccessful",
  "Improperly formatted auth",
  "Error logging in",
  "Invalid NICK",
];

/** True when a disconnect reason from tmi.js means Twitch refused the login. */
export function isAuthFailure(reason: unknown): boolean {
  return typeof reason === "string" && AUTH_FAILURES.some((s) => reason.includes(s));
}

/** Seconds in a NOTICE text such as "You are timed out for 8 more seconds." (undefined if none). */
export function noticeSeconds(text: string): number | undefined {
  const m = /(\d+)\s*(?:more\s+)?seconds?/i.exec(text);
  return m ? Number(m[1]) : undefined;
}
