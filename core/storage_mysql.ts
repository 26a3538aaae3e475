/**
 * MySQL / MariaDB storage over a `mysql2` connection pool. Everything is utf8mb4 (connection and
 * tables), so emotes and emoji round-trip; keys use a binary NO PAD collation so lookups are exact
 * (case, accents and trailing spaces count). Errors never
 * carry the password or the URL: mysql2 messages are rewritten before they leave this file.
 * @module
 */
import mysql from "mysql2/promise";
import type { ChannelSettings } from "./config_schema.ts";
import { ClankError, type ErrorCode } from "./errors.ts";
import { decodeUrlPart } from "./url_escape.ts";
import {
  checkChannel,
  checkKvKey,
  checkRecord,
  COPIED_TABLES,
  copiedTable,
  METRIC_ROWS_QUERY,
  type MetricRow,
  metricRowOf,
  MIGRATIONS_TABLE_SQL,
  NOPAD_BIN,
  parseSettings,
  pendingMigrations,
  recordFromRow,
  type StoredRow,
} from "./migrations.ts";
import type { ChatRecord, Storage } from "./storage.ts";

/** Connection settings parsed from `DATABASE_URL`. */
export interface MysqlTarget {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  /** TLS on (`?ssl=true`), verifying the server certificate. */
  ssl: boolean;
}

/** Options of {@link MysqlStorage}. */
export interface MysqlOptions {
  /** Pool size (default 4). */
  connections?: number;
  /** Milliseconds to wait for a TCP connection (default 5000). */
  connectTimeoutMs?: number;
}

const URL_HELP = "expected mysql://user:password@host:3306/database";
const ROWS_PER_INSERT = 500;
const PRUNE_BATCH = 5000;

/**
 * Parses `mysql://user:password@host:port/database[?ssl=true]`. Errors name `name` (where the URL came
 * from: `DATABASE_URL`, `--to`, `MIGRATE_TO_URL`) and never echo the URL, which holds the password.
 */
export function parseMysqlUrl(url: string, name = "DATABASE_URL"): MysqlTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ClankError("CONFIG_INVALID", `${name} is not a valid URL; ${URL_HELP}`);
  }
  if (u.protocol !== "mysql:" && u.protocol !== "mariadb:") {
    throw new ClankError("CONFIG_INVALID", `${name} must start with mysql:// for MySQL; ${URL_HELP}`);
  }
  if (!u.hostname) throw new ClankError("CONFIG_INVALID", `${name} has no host; ${URL_HELP}`);
  const decode = (part: string, what: string) => decodeUrlPart(part, name, what);
  const database = decode(u.pathname.replace(/^\//, ""), "database name");
  if (!/^[\w$-]{1,64}$/.test(database)) {
    throw new ClankError(
      "CONFIG_INVALID",
      `${name} must name a database of 1-64 letters, digits, _, $ or -; ${URL_HELP}`,
    );
  }
  let ssl = false;
  for (const [key, value] of u.searchParams) {
    if (key !== "ssl") {
      throw new ClankError("CONFIG_INVALID", `${name} has unknown parameter ${key}; allowed: ssl`);
    }
    if (!["true", "false", "1", "0"].includes(value)) {
      throw new ClankError("CONFIG_INVALID", `${name} parameter ssl must be true or false`);
    }
    ssl = value === "true" || value === "1";
  }
  return {
    host: u.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: u.port ? Number(u.port) : 3306,
    user: decode(u.username, "user name"),
    password: decode(u.password, "password"),
    database,
    ssl,
  };
}

/** The URL with its password replaced by `***`, for messages. */
export function redactMysqlUrl(target: Omit<MysqlTarget, "password"> & { password?: string }): string {
  const auth = target.user ? `${encodeURIComponent(target.user)}${target.password ? ":***" : ""}@` : "";
  const host = target.host.includes(":") ? `[${target.host}]` : target.host;
  return `mysql://${auth}${host}:${target.port}/${target.database}`;
}

// SQLSTATE classes that blame the data itself (bad value, constraint), so retrying cannot help.
// Class 42 is left out on purpose: MySQL reports a revoked grant (42000) or a table dropped by hand
// (42S02) there, and those heal once the operator fixes them — so those writes are kept and retried.
const DATA_SQLSTATE = /^(22|23)/;

// ER_NET_PACKET_TOO_LARGE: the statement is bigger than the server's max_allowed_packet. Its SQLSTATE
// (08S01) reads like a lost connection, but resending the same statement can never succeed.
const ER_NET_PACKET_TOO_LARGE = 1153;

/** True when the server will close (or has closed) the connection after `err`: never reuse it. */
function connectionBroken(err: unknown): boolean {
  const e = err as { errno?: number; fatal?: boolean };
  return e.fatal === true || e.errno === ER_NET_PACKET_TOO_LARGE;
}

/** Wraps a mysql2 error with secrets removed: data errors are STORAGE_FAILED, the rest STORAGE_UNAVAILABLE. */
export function mysqlError(op: string, err: unknown, secrets: readonly string[] = []): ClankError {
  if (err instanceof ClankError) return err;
  const e = err as { code?: string; errno?: number; sqlState?: string; message?: string; fatal?: boolean };
  let message = e.message ?? String(err);
  for (const s of secrets) if (s.length > 0) message = message.split(s).join("***");
  const code: ErrorCode = e.errno === ER_NET_PACKET_TOO_LARGE ||
      (!e.fatal && e.sqlState && DATA_SQLSTATE.test(e.sqlState))
    ? "STORAGE_FAILED"
    : "STORAGE_UNAVAILABLE";
  return new ClankError(code, `MySQL ${op} failed: ${message}`, {
    details: { op, mysqlCode: e.code ?? null, errno: e.errno ?? null },
  });
}

type Params = unknown[];

/** The server's binary NO PAD collation for utf8mb4: MariaDB and MySQL 8 name it differently. */
async function nopadCollation(conn: mysql.PoolConnection): Promise<string> {
  const [rows] = await conn.query<mysql.RowDataPacket[]>(
    "SELECT COLLATION_NAME AS name FROM information_schema.COLLATIONS " +
      "WHERE COLLATION_NAME IN ('utf8mb4_nopad_bin', 'utf8mb4_0900_bin')",
  );
  const names = rows.map((r) => String(r.name));
  const name = names.find((n) => n === "utf8mb4_nopad_bin") ?? names[0];
  if (!name) {
    throw new ClankError(
      "STORAGE_UNAVAILABLE",
      "The MySQL server has no binary NO PAD collation for utf8mb4 (utf8mb4_nopad_bin or " +
        "utf8mb4_0900_bin); clank needs MariaDB 10.2+ or MySQL 8.0.17+",
    );
  }
  return name;
}

/** The {@link Storage} backend for MySQL and MariaDB. */
export class MysqlStorage implements Storage {
  readonly kind = "mysql" as const;
  /** Where it connects (without the password, which is only in the pool config). */
  readonly target: Readonly<Omit<MysqlTarget, "password">>;
  #password: string;
  #secrets: string[];
  #options: MysqlOptions;
  #pool: mysql.Pool | undefined;
  #initialised = false;

  /** `url` is a `mysql://` URL or an already parsed target. */
  constructor(url: string | MysqlTarget, options: MysqlOptions = {}) {
    const target = typeof url === "string" ? parseMysqlUrl(url) : url;
    const { password, ...rest } = target;
    this.target = rest;
    this.#password = password;
    this.#secrets = typeof url === "string" ? [url, password] : [password];
    this.#options = options;
  }

  #poolOptions(withDatabase: boolean): mysql.PoolOptions {
    return {
      host: this.target.host,
      port: this.target.port,
      user: this.target.user,
      password: this.#password,
      database: withDatabase ? this.target.database : undefined,
      charset: "UTF8MB4_UNICODE_CI",
      connectTimeout: this.#options.connectTimeoutMs ?? 5000,
      connectionLimit: this.#options.connections ?? 4,
      maxIdle: this.#options.connections ?? 4,
      waitForConnections: true,
      enableKeepAlive: true,
      ssl: this.target.ssl ? {} : undefined,
    };
  }

  #error(op: string, err: unknown): ClankError {
    return mysqlError(op, err, this.#secrets);
  }

  #getPool(): mysql.Pool {
    if (!this.#pool) {
      throw new ClankError("STORAGE_UNAVAILABLE", "MySQL storage is not open; call init() first");
    }
    return this.#pool;
  }

  /**
   * One statement on a pooled connection. Not `pool.query`: when the pool hands out a connection the
   * server already closed, mysql2 3.15 throws a TypeError from a callback there, which crashes the
   * process; `conn.query` reports the same failure as a rejection.
   */
  async #query<T = mysql.RowDataPacket[]>(op: string, sql: string, params: Params = []): Promise<T> {
    const conn = await this.#getPool().getConnection().catch((err) => {
      throw this.#error(op, err);
    });
    let broken = false;
    try {
      const [rows] = await conn.query(sql, params);
      return rows as T;
    } catch (err) {
      broken = connectionBroken(err);
      throw this.#error(op, err);
    } finally {
      if (broken) conn.destroy();
      else conn.release();
    }
  }

  /** Connects (creating the database when missing and permitted) and applies pending migrations. */
  async init(): Promise<void> {
    if (this.#initialised) return;
    this.#pool ??= mysql.createPool(this.#poolOptions(true));
    try {
      await this.#pool.query("SELECT 1");
    } catch (err) {
      if ((err as { code?: string }).code !== "ER_BAD_DB_ERROR") throw this.#error("connect", err);
      await this.#createDatabase();
    }
    await this.#migrate();
    this.#initialised = true;
  }

  async #createDatabase(): Promise<void> {
    const conn = await mysql.createConnection(this.#poolOptions(false)).catch((err) => {
      throw this.#error("connect", err);
    });
    try {
      const name = this.target.database.replaceAll("`", "``");
      await conn.query(
        `CREATE DATABASE IF NOT EXISTS \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`,
      );
    } catch (err) {
      throw this.#error("createDatabase", err);
    } finally {
      await conn.end().catch(() => {});
    }
  }

  async #migrate(): Promise<void> {
    const conn = await this.#getPool().getConnection().catch((err) => {
      throw this.#error("migrate", err);
    });
    // A named lock keeps two bots (or a bot and migrate-db) from migrating at the same time.
    const lock = `clank_migrate_${this.target.database}`;
    try {
      const [got] = await conn.query<mysql.RowDataPacket[]>("SELECT GET_LOCK(?, 30) AS ok", [lock]);
      if (Number(got[0]?.ok) !== 1) {
        throw new ClankError(
          "STORAGE_UNAVAILABLE",
          "MySQL migration lock is held by another process; retry later",
        );
      }
      try {
        await conn.query(MIGRATIONS_TABLE_SQL.mysql);
        const [rows] = await conn.query<mysql.RowDataPacket[]>("SELECT version FROM schema_migrations");
        const pending = pendingMigrations(rows.map((r) => Number(r.version)));
        const nopad = pending.length > 0 ? await nopadCollation(conn) : "";
        for (const m of pending) {
          for (const sql of m.up.mysql) await conn.query(sql.replaceAll(NOPAD_BIN, nopad));
          await conn.query(
            "INSERT IGNORE INTO schema_migrations (version, name, applied_ms) VALUES (?, ?, ?)",
            [
              m.version,
              m.name,
              Date.now(),
            ],
          );
        }
      } finally {
        await conn.query("SELECT RELEASE_LOCK(?)", [lock]).catch(() => {});
      }
    } catch (err) {
      throw this.#error("migrate", err);
    } finally {
      conn.release();
    }
  }

  async schemaVersion(): Promise<number> {
    const rows = await this.#query("schemaVersion", "SELECT MAX(version) AS v FROM schema_migrations");
    return Number(rows[0]?.v ?? 0);
  }

  async saveMessages(records: ChatRecord[]): Promise<void> {
    if (records.length === 0) return;
    // Checked first: MySQL would cut an over-long value short (a warning, even in strict mode for
    // some statements) and two ids that differ past the limit would become one line.
    for (const r of records) checkRecord(r);
    const values = records.map((r) => [
      String(r.channel),
      String(r.id),
      String(r.userId ?? ""),
      String(r.user ?? ""),
      String(r.displayName ?? r.user ?? ""),
      String(r.text ?? ""),
      Math.round(Number(r.time)),
      r.bot ? 1 : 0,
      r.kind ?? null,
    ]);
    // Not INSERT IGNORE, which also turns "data too long" into a warning: only a duplicate line
    // (a batch retried after a lost acknowledgement) is skipped.
    const sql =
      "INSERT INTO messages (channel, msg_id, user_id, login, display_name, text, time_ms, bot, kind) " +
      "VALUES ? ON DUPLICATE KEY UPDATE seq = seq";
    // One statement is atomic on its own; more rows than fit in one get a transaction.
    if (values.length <= ROWS_PER_INSERT) {
      await this.#query("saveMessages", sql, [values]);
      return;
    }
    await this.#transaction("saveMessages", async (conn) => {
      for (let i = 0; i < values.length; i += ROWS_PER_INSERT) {
        await conn.query(sql, [values.slice(i, i + ROWS_PER_INSERT)]);
      }
    });
  }

  async #transaction(op: string, fn: (conn: mysql.PoolConnection) => Promise<void>): Promise<void> {
    const conn = await this.#getPool().getConnection().catch((err) => {
      throw this.#error(op, err);
    });
    let broken = false;
    try {
      await conn.beginTransaction();
      await fn(conn);
      await conn.commit();
    } catch (err) {
      broken = connectionBroken(err);
      if (!broken) await conn.rollback().catch(() => {});
      throw this.#error(op, err);
    } finally {
      if (broken) conn.destroy();
      else conn.release();
    }
  }

  async recentMessages(channel: string, limit: number): Promise<ChatRecord[]> {
    const rows = await this.#query<StoredRow[]>(
      "recentMessages",
      "SELECT channel, msg_id, user_id, login, display_name, text, time_ms, bot, kind FROM messages " +
        "WHERE channel = ? ORDER BY time_ms DESC, seq DESC LIMIT ?",
      [channel, Math.max(0, Math.floor(limit))],
    );
    return rows.map(recordFromRow).reverse();
  }

  async deleteMessage(channel: string, id: string): Promise<void> {
    await this.#query("deleteMessage", "DELETE FROM messages WHERE channel = ? AND msg_id = ?", [
      channel,
      id,
    ]);
  }

  async deleteUserMessages(channel: string, user: string): Promise<number> {
    const r = await this.#query<mysql.ResultSetHeader>(
      "deleteUserMessages",
      "DELETE FROM messages WHERE channel = ? AND login = ?",
      [channel, user],
    );
    return r.affectedRows;
  }

  async getSettings(channel: string): Promise<Partial<ChannelSettings>> {
    const rows = await this.#query("getSettings", "SELECT settings FROM channel_settings WHERE channel = ?", [
      channel,
    ]);
    const row = rows[0];
    return row ? parseSettings(String(row.settings)) : {};
  }

  async setSettings(channel: string, overrides: Partial<ChannelSettings> | null): Promise<void> {
    checkChannel(channel);
    if (overrides === null) {
      await this.#query("setSettings", "DELETE FROM channel_settings WHERE channel = ?", [channel]);
      return;
    }
    await this.#query(
      "setSettings",
      "INSERT INTO channel_settings (channel, settings, updated_ms) VALUES (?, ?, ?) " +
        "ON DUPLICATE KEY UPDATE settings = VALUES(settings), updated_ms = VALUES(updated_ms)",
      [channel, JSON.stringify(overrides), Date.now()],
    );
  }

  async allSettings(): Promise<Record<string, Partial<ChannelSettings>>> {
    const rows = await this.#query(
      "allSettings",
      "SELECT channel, settings FROM channel_settings ORDER BY channel",
    );
    const out: Record<string, Partial<ChannelSettings>> = {};
    for (const row of rows) out[String(row.channel)] = parseSettings(String(row.settings));
    return out;
  }

  async kvGet(namespace: string, key: string): Promise<string | undefined> {
    const rows = await this.#query("kvGet", "SELECT value FROM kv WHERE namespace = ? AND kv_key = ?", [
      namespace,
      key,
    ]);
    const row = rows[0];
    return row ? String(row.value) : undefined;
  }

  async kvSet(namespace: string, key: string, value: string | null): Promise<void> {
    checkKvKey(namespace, key);
    if (value === null) {
      await this.#query("kvSet", "DELETE FROM kv WHERE namespace = ? AND kv_key = ?", [namespace, key]);
      return;
    }
    await this.#query(
      "kvSet",
      "INSERT INTO kv (namespace, kv_key, value, updated_ms) VALUES (?, ?, ?, ?) " +
        "ON DUPLICATE KEY UPDATE value = VALUES(value), updated_ms = VALUES(updated_ms)",
      [namespace, key, value, Date.now()],
    );
  }

  /**
   * Adds `value` to each hourly counter row (creating it). Rows with a `flushId` are applied once per
   * id: a replay after a lost acknowledgement changes nothing.
   */
  async addMetricRows(rows: MetricRow[]): Promise<void> {
    if (rows.length === 0) return;
    const flushId = rows[0]!.flushId;
    await this.#transaction("addMetricRows", async (conn) => {
      if (flushId !== undefined) {
        const [r] = await conn.query<mysql.ResultSetHeader>(
          "INSERT IGNORE INTO metrics_flushes (flush_id, applied_ms) VALUES (?, ?)",
          [flushId, Date.now()],
        );
        if (r.affectedRows === 0) return;
      }
      await conn.query(
        "INSERT INTO metrics_rows (channel, metric, hour_ms, value) VALUES ? " +
          "ON DUPLICATE KEY UPDATE value = value + VALUES(value)",
        [rows.map((r) => [r.channel, r.metric, Math.floor(r.hourMs), r.value])],
      );
    });
  }

  /** Hourly counter rows of a channel, oldest first. */
  async metricRows(channel: string): Promise<MetricRow[]> {
    const rows = await this.#query(
      "metricRows",
      METRIC_ROWS_QUERY,
      [channel],
    );
    return rows.map((r) => metricRowOf(r));
  }

  async prune(before: number): Promise<number> {
    let total = 0;
    for (;;) {
      const r = await this.#query<mysql.ResultSetHeader>(
        "prune",
        "DELETE FROM messages WHERE time_ms < ? ORDER BY time_ms LIMIT ?",
        [Math.floor(before), PRUNE_BATCH],
      );
      total += r.affectedRows;
      if (r.affectedRows < PRUNE_BATCH) break;
    }
    await this.#query("prune", "DELETE FROM metrics_rows WHERE hour_ms < ?", [Math.floor(before)]);
    await this.#query("prune", "DELETE FROM metrics_flushes WHERE applied_ms < ?", [Math.floor(before)]);
    return total;
  }

  async maintain(): Promise<void> {
    await this.#query("maintain", `ANALYZE TABLE ${COPIED_TABLES.map((t) => t.name).join(", ")}`);
  }

  async ping(): Promise<void> {
    await this.#query("ping", "SELECT 1");
  }

  /** Number of rows in one of the data tables. */
  async countRows(table: string): Promise<number> {
    const t = copiedTable(table);
    const rows = await this.#query("countRows", `SELECT COUNT(*) AS n FROM ${t.name}`);
    return Number(rows[0]?.n ?? 0);
  }

  /**
   * Writes rows exported from another database: messages are matched by (channel, msg_id) and
   * skipped when present; other tables are upserted by key. Re-running never duplicates.
   */
  async importRows(table: string, rows: Record<string, unknown>[]): Promise<void> {
    if (rows.length === 0) return;
    const t = copiedTable(table);
    const values = rows.map((r) => t.columns.map((c) => r[c] ?? null));
    const cols = t.columns.join(", ");
    const updates = t.columns.filter((c) => !t.key.includes(c)).map((c) => `${c} = VALUES(${c})`).join(", ");
    // As in saveMessages: skip duplicates only, so a value that does not fit fails the copy loudly.
    const sql = t.name === "messages"
      ? `INSERT INTO ${t.name} (${cols}) VALUES ? ON DUPLICATE KEY UPDATE seq = seq`
      : `INSERT INTO ${t.name} (${cols}) VALUES ? ON DUPLICATE KEY UPDATE ${updates}`;
    await this.#transaction("importRows", async (conn) => {
      for (let i = 0; i < values.length; i += ROWS_PER_INSERT) {
        await conn.query(sql, [values.slice(i, i + ROWS_PER_INSERT)]);
      }
    });
  }

  async close(): Promise<void> {
    const pool = this.#pool;
    this.#pool = undefined;
    this.#initialised = false;
    if (pool) await pool.end().catch(() => {});
  }
}
