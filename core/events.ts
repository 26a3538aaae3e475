/**
 * Chat events: the plain-data shapes that flow from a transport through the pipeline.
 *
 * Every event is structured-clone safe (no functions, no class instances) so the same value can be
 * handed to an in-process plugin or posted to a sandboxed one in a Worker.
 * @module
 */

/** Badges that matter for permissions, read from Twitch's `badges` tag. */
export interface Badges {
  broadcaster: boolean;
  moderator: boolean;
  vip: boolean;
  subscriber: boolean;
}

/** A chat line (PRIVMSG or action). */
export interface MessageEvent {
  type: "message";
  /** Channel login without `#`, lower case. */
  channel: string;
  /** Twitch message id (`id` tag); replay and tests may synthesize one. */
  id: string;
  userId: string;
  /** Login name, lower case. */
  user: string;
  displayName: string;
  text: string;
  badges: Badges;
  /** True for `/me` actions. */
  action: boolean;
  /** Milliseconds since the epoch: when the line arrived, on this machine's clock (replay: the log's). */
  time: number;
  /** True when the bot account itself wrote this line (echo from Twitch or our own send). */
  self: boolean;
  /**
   * Twitch Shared Chat: the room id of the channel the line was written in, when that is another
   * channel of the session (`source-room-id`). Such a line is context here, never a mention or a command.
   */
  sharedFrom?: string;
  /** Set by the host before plugins see the line (see `core/message_facts.ts`). */
  flags?: {
    /** Mentions the bot. */
    mention: boolean;
    /** Starts with `!` (a command for some bot). */
    command: boolean;
    /** From a known bot account (config `twitch.bots`). */
    fromBot: boolean;
  };
}

/** A user (or the bot) joined or left a channel. */
export interface MembershipEvent {
  type: "join" | "part";
  channel: string;
  user: string;
  self: boolean;
  time: number;
}

/** CLEARCHAT for one user: permanent ban. */
export interface BanEvent {
  type: "ban";
  channel: string;
  user: string;
  userId: string;
  time: number;
}

/** CLEARCHAT with `ban-duration`: a timeout. */
export interface TimeoutEvent {
  type: "timeout";
  channel: string;
  user: string;
  userId: string;
  /** Seconds. */
  duration: number;
  time: number;
}

/** CLEARMSG: one message deleted by a moderator. */
export interface DeletionEvent {
  type: "deletion";
  channel: string;
  messageId: string;
  user: string;
  time: number;
}

/** CLEARCHAT without a user: the whole chat was cleared. */
export interface ClearEvent {
  type: "clear";
  channel: string;
  time: number;
}

/** ROOMSTATE: chat modes of a channel. Missing fields were not in this update. */
export interface RoomStateEvent {
  type: "roomstate";
  channel: string;
  /** Slow mode delay in seconds, 0 when off. */
  slow?: number;
  emoteOnly?: boolean;
  /** Minutes of following required, -1 when off. */
  followersOnly?: number;
  subsOnly?: boolean;
  time: number;
}

/** USERSTATE: the bot's own badges in a channel (moderator status decides rate limits). */
export interface UserStateEvent {
  type: "userstate";
  channel: string;
  moderator: boolean;
  broadcaster: boolean;
  time: number;
}

/** NOTICE from Twitch, e.g. `msg_ratelimit`, `msg_duplicate`, `msg_banned`. */
export interface NoticeEvent {
  type: "notice";
  channel: string;
  msgId: string;
  text: string;
  time: number;
}

/** The transport lost and regained its connection, or Twitch asked us to reconnect. */
export interface ConnectionEvent {
  type: "connected" | "disconnected" | "reconnect";
  reason?: string;
  time: number;
}

/** A periodic tick (once a second) that drives time-based behaviour such as spontaneous lines. */
export interface TickEvent {
  type: "tick";
  time: number;
}

/** Every event the pipeline handles. */
export type ChatEvent =
  | MessageEvent
  | MembershipEvent
  | BanEvent
  | TimeoutEvent
  | DeletionEvent
  | ClearEvent
  | RoomStateEvent
  | UserStateEvent
  | NoticeEvent
  | ConnectionEvent
  | TickEvent;

/** The event type names. */
export type ChatEventType = ChatEvent["type"];

/** A line of chat history as generators and context plugins see it. */
export interface HistoryLine {
  /** Position in the channel's history, increasing by one per line (prompt builders trim by it). */
  seq?: number;
  /** Twitch message id, when known. */
  id?: string;
  user: string;
  displayName: string;
  text: string;
  time: number;
  /** True for the bot's own lines: they become its own turns in the prompt. */
  bot: boolean;
}

/** What triggered a generation. */
export type TriggerKind = "mention" | "spontaneous";
