/**
 * The storage interface. SQLite (`storage_sqlite.ts`) and MySQL (`storage_mysql.ts`) implement it;
 * the host reaches it through `write_buffer.ts`, which batches writes and survives outages.
 * @module
 */
import type { ChannelSettings } from "./config_schema.ts";

/** A stored chat or bot line. */
export interface ChatRecord {
  channel: string;
  /** Twitch message id (or a synthetic one for bot lines and replay). */
  id: string;
  userId: string;
  user: string;
  displayName: string;
  text: string;
  /** Milliseconds since the epoch. */
  time: number;
  /** True for the bot's own lines. */
  bot: boolean;
  /** For bot lines: why it was sent. */
  kind?: "mention" | "spontaneous" | "command";
}

/** One storage backend. All methods may throw `ClankError("STORAGE_UNAVAILABLE")` when unreachable. */
export interface Storage {
  readonly kind: "sqlite" | "mysql";
  /** Connects and applies pending migrations. */
  init(): Promise<void>;
  /** The highest applied migration version. */
  schemaVersion(): Promise<number>;
  /** Inserts lines; a line whose (channel, id) exists is ignored, so retries are idempotent. */
  saveMessages(records: ChatRecord[]): Promise<void>;
  /** The newest `limit` lines of a channel, oldest first. */
  recentMessages(channel: string, limit: number): Promise<ChatRecord[]>;
  deleteMessage(channel: string, id: string): Promise<void>;
  /** Deletes every line a user wrote in a channel; returns how many. */
  deleteUserMessages(channel: string, user: string): Promise<number>;
  /** Stored per-channel overrides (only keys that were changed). */
  getSettings(channel: string): Promise<Partial<ChannelSettings>>;
  /** Replaces a channel's overrides; `null` deletes them (reset). */
  setSettings(channel: string, overrides: Partial<ChannelSettings> | null): Promise<void>;
  allSettings(): Promise<Record<string, Partial<ChannelSettings>>>;
  /** Small values by namespace and key (plugin state, counters, encrypted secrets). */
  kvGet(namespace: string, key: string): Promise<string | undefined>;
  /** `null` deletes. */
  kvSet(namespace: string, key: string, value: string | null): Promise<void>;
  /** Deletes chat lines older than `before` (ms); returns how many. */
  prune(before: number): Promise<number>;
  /** Backend housekeeping: checkpoint/optimize/vacuum (SQLite), ANALYZE (MySQL). */
  maintain(): Promise<void>;
  /** Cheap round trip; throws when the database is unavailable. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
