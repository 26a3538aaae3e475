/**
 * The one versioned migration list of the database schema, shared by the SQLite and MySQL backends.
 * A migration has one statement list per dialect; both lists create the same tables and columns, so
 * `migrate-db` can copy rows between backends column by column.
 *
 * Rules for adding a migration: append (never edit a released one), give it the next version, and
 * keep every statement re-runnable (`IF NOT EXISTS`), because MySQL commits DDL immediately and a
 * crash between a statement and the version row must not leave the schema stuck.
 * @module
 */
import type { ChannelSettings } from "./config_schema.ts";
import { ClankError } from "./errors.ts";
import type { ChatRecord } from "./storage.ts";

/** The SQL dialects clank speaks. */
export type Dialect = "sqlite" | "mysql";

/** One schema change. */
export interface Migration {
  /** Strictly increasing, starting at 1. */
  readonly version: number;
  /** Short description, stored in `schema_migrations`. */
  readonly name: string;
  /** Statements per dialect, run in order. */
  readonly up: Readonly<Record<Dialect, readonly string[]>>;
}

/** The table that records applied migrations. */
export const MIGRATIONS_TABLE_SQL: Readonly<Record<Dialect, string>> = {
  sqlite: `CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_ms INTEGER NOT NULL
  )`,
  mysql: `CREATE TABLE IF NOT EXISTS schema_migrations (
    version INT NOT NULL PRIMARY KEY,
    name VARCHAR(200) NOT NULL,
    applied_ms BIGINT NOT NULL
  ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
};

// Column sizes for MySQL. Keys use utf8mb4_bin so lookups are exact (no case or accent folding);
// the unique key (channel, msg_id) stays well under InnoDB's 3072-byte index limit.
const MYSQL_TABLE = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci";

/**
 * Stands for the server's binary NO PAD collation in MySQL statements; the MySQL backend replaces it
 * with `utf8mb4_nopad_bin` (MariaDB) or `utf8mb4_0900_bin` (MySQL 8). `utf8mb4_bin` is PAD SPACE on
 * both, so `foo` and `foo ` were the same key.
 */
export const NOPAD_BIN = "{{nopad_bin}}";

/**
 * Longest values, in characters (code points), of the key columns. The one source of truth: the
 * MySQL columns are declared with them (from migration 2), and both backends refuse a longer value
 * with STORAGE_FAILED before writing, so SQLite and MySQL accept exactly the same keys and nothing
 * is ever cut short. A kv namespace holds `plugin:` plus a plugin name (at most 64), and a key the
 * plugin store allows (at most 200). InnoDB's index limit is 3072 bytes, 4 bytes a character:
 * (80 + 255) * 4 = 1340 for the kv primary key, (64 + 191) * 4 = 1020 for (channel, msg_id).
 */
export const KV_NAMESPACE_MAX_CHARS = 80;
/** See {@link KV_NAMESPACE_MAX_CHARS}. */
export const KV_KEY_MAX_CHARS = 255;
/** Longest channel name (`messages`, `channel_settings`). */
export const CHANNEL_MAX_CHARS = 64;
/** Longest chat line id. */
export const MESSAGE_ID_MAX_CHARS = 191;
/** Longest user id and login. */
export const USER_MAX_CHARS = 64;
/** Longest display name. */
export const DISPLAY_NAME_MAX_CHARS = 255;
/** Longest line kind. */
export const KIND_MAX_CHARS = 32;

/** Characters (code points) of `s`, as MySQL counts them; cheap when `s` is obviously short. */
function chars(s: string, max: number): number {
  return s.length <= max ? s.length : [...s].length;
}

function checkLength(what: string, value: string, max: number): void {
  if (chars(value, max) > max) {
    throw new ClankError(
      "STORAGE_FAILED",
      `${what} is ${[...value].length} characters; at most ${max} fit, so it is not stored`,
    );
  }
}

/** Refuses (STORAGE_FAILED) a kv namespace or key longer than its column. */
export function checkKvKey(namespace: string, key: string): void {
  checkLength("kv namespace", namespace, KV_NAMESPACE_MAX_CHARS);
  checkLength("kv key", key, KV_KEY_MAX_CHARS);
}

/** Refuses (STORAGE_FAILED) a channel name longer than its column. */
export function checkChannel(channel: string): void {
  checkLength("channel name", channel, CHANNEL_MAX_CHARS);
}

/** Refuses (STORAGE_FAILED) a chat line with a field longer than its column. */
export function checkRecord(r: ChatRecord): void {
  checkLength("channel name", String(r.channel), CHANNEL_MAX_CHARS);
  checkLength("message id", String(r.id), MESSAGE_ID_MAX_CHARS);
  checkLength("user id", String(r.userId ?? ""), USER_MAX_CHARS);
  checkLength("login", String(r.user ?? ""), USER_MAX_CHARS);
  checkLength("display name", String(r.displayName ?? r.user ?? ""), DISPLAY_NAME_MAX_CHARS);
  if (r.kind) checkLength("line kind", r.kind, KIND_MAX_CHARS);
}

/** Every migration, oldest first. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "messages, channel settings, kv, metrics rows",
    up: {
      sqlite: [
        `CREATE TABLE IF NOT EXISTS messages (
          seq INTEGER PRIMARY KEY,
          channel TEXT NOT NULL,
          msg_id TEXT NOT NULL,
          user_id TEXT NOT NULL,
          login TEXT NOT NULL,
          display_name TEXT NOT NULL,
          text TEXT NOT NULL,
          time_ms INTEGER NOT NULL,
          bot INTEGER NOT NULL DEFAULT 0,
          kind TEXT,
          UNIQUE (channel, msg_id)
        )`,
        "CREATE INDEX IF NOT EXISTS idx_messages_channel_time ON messages (channel, time_ms)",
        "CREATE INDEX IF NOT EXISTS idx_messages_channel_login ON messages (channel, login)",
        "CREATE INDEX IF NOT EXISTS idx_messages_time ON messages (time_ms)",
        `CREATE TABLE IF NOT EXISTS channel_settings (
          channel TEXT PRIMARY KEY,
          settings TEXT NOT NULL,
          updated_ms INTEGER NOT NULL
        )`,
        `CREATE TABLE IF NOT EXISTS kv (
          namespace TEXT NOT NULL,
          kv_key TEXT NOT NULL,
          value TEXT NOT NULL,
          updated_ms INTEGER NOT NULL,
          PRIMARY KEY (namespace, kv_key)
        )`,
        `CREATE TABLE IF NOT EXISTS metrics_rows (
          channel TEXT NOT NULL,
          metric TEXT NOT NULL,
          hour_ms INTEGER NOT NULL,
          value REAL NOT NULL,
          PRIMARY KEY (channel, metric, hour_ms)
        )`,
        "CREATE INDEX IF NOT EXISTS idx_metrics_rows_hour ON metrics_rows (hour_ms)",
      ],
      mysql: [
        `CREATE TABLE IF NOT EXISTS messages (
          seq BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
          channel VARCHAR(64) COLLATE utf8mb4_bin NOT NULL,
          msg_id VARCHAR(191) COLLATE utf8mb4_bin NOT NULL,
          user_id VARCHAR(64) COLLATE utf8mb4_bin NOT NULL,
          login VARCHAR(64) COLLATE utf8mb4_bin NOT NULL,
          display_name VARCHAR(255) NOT NULL,
          text TEXT COLLATE utf8mb4_bin NOT NULL,
          time_ms BIGINT NOT NULL,
          bot TINYINT(1) NOT NULL DEFAULT 0,
          kind VARCHAR(32) NULL,
          UNIQUE KEY uq_messages_channel_msg (channel, msg_id),
          KEY idx_messages_channel_time (channel, time_ms),
          KEY idx_messages_channel_login (channel, login),
          KEY idx_messages_time (time_ms)
        ) ${MYSQL_TABLE}`,
        `CREATE TABLE IF NOT EXISTS channel_settings (
          channel VARCHAR(64) COLLATE utf8mb4_bin NOT NULL PRIMARY KEY,
          settings MEDIUMTEXT COLLATE utf8mb4_bin NOT NULL,
          updated_ms BIGINT NOT NULL
        ) ${MYSQL_TABLE}`,
        `CREATE TABLE IF NOT EXISTS kv (
          namespace VARCHAR(64) COLLATE utf8mb4_bin NOT NULL,
          kv_key VARCHAR(191) COLLATE utf8mb4_bin NOT NULL,
          value MEDIUMTEXT COLLATE utf8mb4_bin NOT NULL,
          updated_ms BIGINT NOT NULL,
          PRIMARY KEY (namespace, kv_key)
        ) ${MYSQL_TABLE}`,
        `CREATE TABLE IF NOT EXISTS metrics_rows (
          channel VARCHAR(64) COLLATE utf8mb4_bin NOT NULL,
          metric VARCHAR(100) COLLATE utf8mb4_bin NOT NULL,
          hour_ms BIGINT NOT NULL,
          value DOUBLE NOT NULL,
          PRIMARY KEY (channel, metric, hour_ms),
          KEY idx_metrics_rows_hour (hour_ms)
        ) ${MYSQL_TABLE}`,
      ],
    },
  },
  {
    version: 2,
    name: "exact (NO PAD) keys, kv namespace 80 and key 255 characters, applied counter flushes",
    up: {
      // SQLite compares text byte for byte (BINARY, no padding) and has no length limits (the
      // backend's length checks give it MySQL's): only the flush table is new there.
      sqlite: [
        `CREATE TABLE IF NOT EXISTS metrics_flushes (
          flush_id TEXT NOT NULL PRIMARY KEY,
          applied_ms INTEGER NOT NULL
        )`,
        "CREATE INDEX IF NOT EXISTS idx_metrics_flushes_applied ON metrics_flushes (applied_ms)",
      ],
      // MODIFY is re-runnable. Under PAD SPACE no two stored keys differ only by trailing spaces, so
      // switching to NO PAD cannot create a duplicate key.
      mysql: [
        `ALTER TABLE messages
          MODIFY channel VARCHAR(${CHANNEL_MAX_CHARS}) COLLATE ${NOPAD_BIN} NOT NULL,
          MODIFY msg_id VARCHAR(${MESSAGE_ID_MAX_CHARS}) COLLATE ${NOPAD_BIN} NOT NULL,
          MODIFY user_id VARCHAR(${USER_MAX_CHARS}) COLLATE ${NOPAD_BIN} NOT NULL,
          MODIFY login VARCHAR(${USER_MAX_CHARS}) COLLATE ${NOPAD_BIN} NOT NULL`,
        `ALTER TABLE channel_settings
          MODIFY channel VARCHAR(${CHANNEL_MAX_CHARS}) COLLATE ${NOPAD_BIN} NOT NULL`,
        `ALTER TABLE kv
          MODIFY namespace VARCHAR(${KV_NAMESPACE_MAX_CHARS}) COLLATE ${NOPAD_BIN} NOT NULL,
          MODIFY kv_key VARCHAR(${KV_KEY_MAX_CHARS}) COLLATE ${NOPAD_BIN} NOT NULL`,
        `ALTER TABLE metrics_rows
          MODIFY channel VARCHAR(64) COLLATE ${NOPAD_BIN} NOT NULL,
          MODIFY metric VARCHAR(100) COLLATE ${NOPAD_BIN} NOT NULL`,
        `CREATE TABLE IF NOT EXISTS metrics_flushes (
          flush_id VARCHAR(64) COLLATE utf8mb4_bin NOT NULL PRIMARY KEY,
          applied_ms BIGINT NOT NULL,
          KEY idx_metrics_flushes_applied (applied_ms)
        ) ${MYSQL_TABLE}`,
      ],
    },
  },
];

/** The version a fully migrated database has. */
export const LATEST_SCHEMA_VERSION: number = MIGRATIONS.reduce((max, m) => Math.max(max, m.version), 0);

/** Migrations not yet applied, in order. */
export function pendingMigrations(applied: Iterable<number>): Migration[] {
  const done = new Set(applied);
  return MIGRATIONS.filter((m) => !done.has(m.version)).sort((a, b) => a.version - b.version);
}

/** A table `migrate-db` copies, with the columns both dialects share. */
export interface CopiedTable {
  readonly name: string;
  readonly columns: readonly string[];
  /** Columns of the primary or unique key that identifies a row across databases. */
  readonly key: readonly string[];
}

/**
 * The data tables, in copy order. `messages.seq` is local to each database (insertion order), so it
 * is not copied; rows are matched by (channel, msg_id).
 */
export const COPIED_TABLES: readonly CopiedTable[] = [
  {
    name: "messages",
    columns: ["channel", "msg_id", "user_id", "login", "display_name", "text", "time_ms", "bot", "kind"],
    key: ["channel", "msg_id"],
  },
  { name: "channel_settings", columns: ["channel", "settings", "updated_ms"], key: ["channel"] },
  { name: "kv", columns: ["namespace", "kv_key", "value", "updated_ms"], key: ["namespace", "kv_key"] },
  {
    name: "metrics_rows",
    columns: ["channel", "metric", "hour_ms", "value"],
    key: ["channel", "metric", "hour_ms"],
  },
];

/** The copied table named `name`, or a STORAGE_FAILED error naming the allowed tables. */
export function copiedTable(name: string): CopiedTable {
  const t = COPIED_TABLES.find((c) => c.name === name);
  if (!t) {
    throw new ClankError(
      "STORAGE_FAILED",
      `Unknown table ${name}; allowed: ${COPIED_TABLES.map((c) => c.name).join(", ")}`,
    );
  }
  return t;
}

/** Hourly per-channel counter value (the `metrics_rows` table). */
export interface MetricRow {
  channel: string;
  metric: string;
  /** Start of the hour, ms since the epoch. */
  hourMs: number;
  value: number;
  /**
   * The flush that carries this row (every row of one write has the same). A write whose commit
   * happened but whose acknowledgement was lost is sent again with the same id, and the database
   * applies one id once (`metrics_flushes`), so counts are never added twice.
   */
  flushId?: string;
}

/** The query both backends use to read a channel's hourly counters, oldest first. */
export const METRIC_ROWS_QUERY =
  "SELECT channel, metric, hour_ms, value FROM metrics_rows WHERE channel = ? ORDER BY hour_ms, metric";

/** A `metrics_rows` row as either driver returns it (numbers may come back as strings or bigints). */
export function metricRowOf(r: Record<string, unknown>): MetricRow {
  return {
    channel: String(r.channel),
    metric: String(r.metric),
    hourMs: Number(r.hour_ms),
    value: Number(r.value),
  };
}

/** Start of the UTC hour containing `timeMs`. */
export function hourStart(timeMs: number): number {
  return Math.floor(timeMs / 3_600_000) * 3_600_000;
}

/** A `messages` row as both backends return it. */
export interface StoredRow {
  channel: string;
  msg_id: string;
  user_id: string;
  login: string;
  display_name: string;
  text: string;
  time_ms: number | string | bigint;
  bot: number | boolean;
  kind: string | null;
}

/** Maps a `messages` row to a {@link ChatRecord}. */
export function recordFromRow(row: StoredRow): ChatRecord {
  const rec: ChatRecord = {
    channel: String(row.channel),
    id: String(row.msg_id),
    userId: String(row.user_id),
    user: String(row.login),
    displayName: String(row.display_name),
    text: String(row.text),
    time: Number(row.time_ms),
    bot: Boolean(Number(row.bot)),
  };
  if (row.kind !== null && row.kind !== undefined) {
    rec.kind = String(row.kind) as NonNullable<ChatRecord["kind"]>;
  }
  return rec;
}

/** Parses stored settings JSON; a damaged row reads as "no overrides" instead of failing every read. */
export function parseSettings(json: string): Partial<ChannelSettings> {
  try {
    const v: unknown = JSON.parse(json);
    return v !== null && typeof v === "object" && !Array.isArray(v) ? v as Partial<ChannelSettings> : {};
  } catch {
    return {};
  }
}
