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
