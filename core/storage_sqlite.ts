/**
 * SQLite storage on Deno's built-in `node:sqlite` (works in compiled binaries): WAL journal,
 * `synchronous=NORMAL`, a busy timeout, and incremental auto-vacuum so retention can hand pages
 * back to the file system.
 * @module
 */
import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { ChannelSettings } from "./config_schema.ts";
import { ClankError, type ErrorCode } from "./errors.ts";
import {
  checkChannel,
  checkKvKey,
  checkRecord,
  copiedTable,
  METRIC_ROWS_QUERY,
  type MetricRow,
  metricRowOf,
  MIGRATIONS_TABLE_SQL,
  parseSettings,
  pendingMigrations,
  recordFromRow,
  type StoredRow,
} from "./migrations.ts";
import type { ChatRecord, Storage } from "./storage.ts";

/** Options of {@link SqliteStorage}. */
export interface SqliteOptions {
  /** Milliseconds a statement waits for another connection's lock (default 250). */
  busyTimeoutMs?: number;
  /** Open without write access (backups, copies); migrations are not applied. */
  readOnly?: boolean;
  /** Page cache in KiB (default 8192: a 500-channel bot stays under 250 MB; larger inserts faster). */
  cacheKiB?: number;
  /** WAL pages before an automatic checkpoint (default 20000, about 80 MB). */
  walAutocheckpointPages?: number;
}

/** A backup or an operator's sqlite3 holding the lock stalls the bot at most this long per try. */
const DEFAULT_BUSY_TIMEOUT_MS = 250;

/** Lines per multi-row INSERT (9 parameters each, far below SQLite's limit). */
const ROWS_PER_STATEMENT = 50;

function insertSql(rows: number): string {
  return "INSERT OR IGNORE INTO messages (channel, msg_id, user_id, login, display_name, text, time_ms, bot, kind) " +
    `VALUES ${Array(rows).fill("(?, ?, ?, ?, ?, ?, ?, ?, ?)").join(", ")}`;
}

function pushRow(args: SQLInputValue[], r: ChatRecord): void {
  args.push(
    String(r.channel),
    String(r.id),
    String(r.userId ?? ""),
    String(r.user ?? ""),
    String(r.displayName ?? r.user ?? ""),
    String(r.text ?? ""),
    Math.round(Number(r.time)),
    r.bot ? 1 : 0,
    r.kind ?? null,
  );
}

/** Rows deleted per statement while pruning, so a long prune never holds the write lock for long. */
const PRUNE_BATCH = 5000;

// Result codes that come from the data itself; retrying them cannot succeed.
const DATA_ERRORS = new Set([18, /* TOOBIG */ 19, /* CONSTRAINT */ 20, /* MISMATCH */ 25 /* RANGE */]);

/** Wraps a `node:sqlite` error: data errors are STORAGE_FAILED, everything else STORAGE_UNAVAILABLE. */
export function sqliteError(op: string, err: unknown): ClankError {
  if (err instanceof ClankError) return err;
  const e = err as { code?: string; errcode?: number; message?: string };
  const primary = typeof e.errcode === "number" ? e.errcode & 0xff : undefined;
  const dataError = (primary !== undefined && DATA_ERRORS.has(primary)) || e.code === "ERR_INVALID_ARG_TYPE";
  const code: ErrorCode = dataError ? "STORAGE_FAILED" : "STORAGE_UNAVAILABLE";
  return new ClankError(code, `SQLite ${op} failed: ${e.message ?? String(err)}`, {
    details: { op, sqliteCode: e.errcode ?? e.code },
  });
}

/** The {@link Storage} backend for a SQLite file (or `:memory:` in tests). */
export class SqliteStorage implements Storage {
  readonly kind = "sqlite" as const;
  /** The database file, or `:memory:`. */
  readonly path: string;
  #options: SqliteOptions;
  #db: DatabaseSync | undefined;
  #statements = new Map<string, StatementSync>();

  /**
   * How long a statement waits for another connection's lock. node:sqlite waits on the event loop's
   * thread, so this is how long chat, replies and Twitch's PINGs stand still; a failed write is kept
   * and retried by the write buffer instead.
   */
  readonly busyTimeoutMs: number;

  constructor(path: string, options: SqliteOptions = {}) {
    this.path = path;
    this.#options = options;
    this.busyTimeoutMs = Math.max(0, Math.floor(options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS));
  }

  /** Opens the file (creating its directory), sets the pragmas and applies pending migrations. */
  init(): Promise<void> {
    if (this.#db) return Promise.resolve();
    try {
      const inMemory = this.path === ":memory:" || this.path === "";
      if (!inMemory && !this.#options.readOnly) mkdirSync(dirname(this.path), { recursive: true });
      const db = new DatabaseSync(this.path, { readOnly: this.#options.readOnly ?? false });
      try {
        db.exec(`PRAGMA busy_timeout = ${this.busyTimeoutMs}`);
        // 8 MiB: enough for ingest well above the pipeline's own rate, while a 64 MiB
        // cache pushed a 500-channel bot past its memory budget (see docs/BENCHMARKS.md).
        db.exec(`PRAGMA cache_size = -${Math.max(1024, Math.floor(this.#options.cacheKiB ?? 8192))}`);
        if (!this.#options.readOnly) {
          // auto_vacuum only takes effect when set before the first table is created.
          db.exec("PRAGMA auto_vacuum = INCREMENTAL");
          if (!inMemory) db.exec("PRAGMA journal_mode = WAL");
          db.exec("PRAGMA synchronous = NORMAL");
          // Fewer, larger checkpoints: index pages touched by many batches are copied back once.
          db.exec(
            `PRAGMA wal_autocheckpoint = ${
              Math.max(100, Math.floor(this.#options.walAutocheckpointPages ?? 20000))
            }`,
          );
          this.#migrate(db);
        }
      } catch (err) {
        db.close();
        throw err;
      }
      this.#db = db;
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(sqliteError("open", err));
    }
  }

  #migrate(db: DatabaseSync): void {
    db.exec(MIGRATIONS_TABLE_SQL.sqlite);
    const applied = db.prepare("SELECT version FROM schema_migrations").all().map((r) => Number(r.version));
    for (const m of pendingMigrations(applied)) {
      db.exec("BEGIN IMMEDIATE");
      try {
        for (const sql of m.up.sqlite) db.exec(sql);
        db.prepare("INSERT INTO schema_migrations (version, name, applied_ms) VALUES (?, ?, ?)").run(
          m.version,
          m.name,
          Date.now(),
        );
        db.exec("COMMIT");
      } catch (err) {
        db.exec("ROLLBACK");
        throw err;
      }
    }
  }

  #open(): DatabaseSync {
    if (!this.#db) {
      throw new ClankError(
        "STORAGE_UNAVAILABLE",
        `SQLite database ${this.path} is not open; call init() first`,
      );
    }
    return this.#db;
  }

  #stmt(sql: string): StatementSync {
    let s = this.#statements.get(sql);
    if (!s) {
      s = this.#open().prepare(sql);
      this.#statements.set(sql, s);
    }
    return s;
  }

  /** Runs `fn` synchronously and wraps any error, so callers always see a ClankError. */
  #run<T>(op: string, fn: () => T): Promise<T> {
    try {
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(sqliteError(op, err));
    }
  }

  /** Runs `fn` in one transaction (no await inside, so nothing interleaves). */
  #transaction<T>(db: DatabaseSync, fn: () => T): T {
    db.exec("BEGIN IMMEDIATE");
    try {
      const out = fn();
      db.exec("COMMIT");
      return out;
    } catch (err) {
      if (db.isTransaction) db.exec("ROLLBACK");
      throw err;
    }
  }

  schemaVersion(): Promise<number> {
    return this.#run("schemaVersion", () => {
      const row = this.#stmt("SELECT MAX(version) AS v FROM schema_migrations").get();
      return Number(row?.v ?? 0);
    });
  }

  saveMessages(records: ChatRecord[]): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    return this.#run("saveMessages", () => {
      // The same limits as the MySQL columns, so every line SQLite keeps also fits there (migrate-db).
      for (const r of records) checkRecord(r);
      const db = this.#open();
      const many = this.#stmt(insertSql(ROWS_PER_STATEMENT));
      const one = this.#stmt(insertSql(1));
      const args: SQLInputValue[] = [];
      this.#transaction(db, () => {
        let i = 0;
        // Multi-row statements: far fewer calls into SQLite per line.
        for (; i + ROWS_PER_STATEMENT <= records.length; i += ROWS_PER_STATEMENT) {
          args.length = 0;
          for (let j = i; j < i + ROWS_PER_STATEMENT; j++) pushRow(args, records[j]!);
          many.run(...args);
        }
        for (; i < records.length; i++) {
          args.length = 0;
          pushRow(args, records[i]!);
          one.run(...args);
        }
      });
    });
  }

  recentMessages(channel: string, limit: number): Promise<ChatRecord[]> {
    return this.#run("recentMessages", () => {
      const rows = this.#stmt(
        "SELECT channel, msg_id, user_id, login, display_name, text, time_ms, bot, kind FROM messages " +
          "WHERE channel = ? ORDER BY time_ms DESC, seq DESC LIMIT ?",
      ).all(channel, Math.max(0, Math.floor(limit))) as unknown as StoredRow[];
      return rows.map(recordFromRow).reverse();
    });
  }

  deleteMessage(channel: string, id: string): Promise<void> {
    return this.#run("deleteMessage", () => {
      this.#stmt("DELETE FROM messages WHERE channel = ? AND msg_id = ?").run(channel, id);
    });
  }

  deleteUserMessages(channel: string, user: string): Promise<number> {
    return this.#run("deleteUserMessages", () => {
      const r = this.#stmt("DELETE FROM messages WHERE channel = ? AND login = ?").run(channel, user);
      return Number(r.changes);
    });
  }

  getSettings(channel: string): Promise<Partial<ChannelSettings>> {
    return this.#run("getSettings", () => {
      const row = this.#stmt("SELECT settings FROM channel_settings WHERE channel = ?").get(channel);
      return row ? parseSettings(String(row.settings)) : {};
    });
  }

  setSettings(channel: string, overrides: Partial<ChannelSettings> | null): Promise<void> {
    return this.#run("setSettings", () => {
      checkChannel(channel);
      if (overrides === null) {
        this.#stmt("DELETE FROM channel_settings WHERE channel = ?").run(channel);
        return;
      }
      this.#stmt(
        "INSERT INTO channel_settings (channel, settings, updated_ms) VALUES (?, ?, ?) " +
          "ON CONFLICT (channel) DO UPDATE SET settings = excluded.settings, updated_ms = excluded.updated_ms",
      ).run(channel, JSON.stringify(overrides), Date.now());
    });
  }

  allSettings(): Promise<Record<string, Partial<ChannelSettings>>> {
    return this.#run("allSettings", () => {
      const out: Record<string, Partial<ChannelSettings>> = {};
      for (const row of this.#stmt("SELECT channel, settings FROM channel_settings ORDER BY channel").all()) {
        out[String(row.channel)] = parseSettings(String(row.settings));
      }
      return out;
    });
  }

  kvGet(namespace: string, key: string): Promise<string | undefined> {
    return this.#run("kvGet", () => {
      const row = this.#stmt("SELECT value FROM kv WHERE namespace = ? AND kv_key = ?").get(namespace, key);
      return row ? String(row.value) : undefined;
    });
  }

  kvSet(namespace: string, key: string, value: string | null): Promise<void> {
    return this.#run("kvSet", () => {
      checkKvKey(namespace, key);
      if (value === null) {
        this.#stmt("DELETE FROM kv WHERE namespace = ? AND kv_key = ?").run(namespace, key);
        return;
      }
      this.#stmt(
        "INSERT INTO kv (namespace, kv_key, value, updated_ms) VALUES (?, ?, ?, ?) " +
          "ON CONFLICT (namespace, kv_key) DO UPDATE SET value = excluded.value, updated_ms = excluded.updated_ms",
      ).run(namespace, key, value, Date.now());
    });
  }

  /** Adds `value` to each hourly counter row (creating it), in one transaction. */
  addMetricRows(rows: MetricRow[]): Promise<void> {
    if (rows.length === 0) return Promise.resolve();
    return this.#run("addMetricRows", () => {
      const upsert = this.#stmt(
        "INSERT INTO metrics_rows (channel, metric, hour_ms, value) VALUES (?, ?, ?, ?) " +
          "ON CONFLICT (channel, metric, hour_ms) DO UPDATE SET value = value + excluded.value",
      );
      const flushId = rows[0]!.flushId;
      this.#transaction(this.#open(), () => {
        // One flush id is applied once: a replay after a lost acknowledgement changes nothing.
        if (flushId !== undefined) {
          const r = this.#stmt("INSERT OR IGNORE INTO metrics_flushes (flush_id, applied_ms) VALUES (?, ?)")
            .run(flushId, Date.now());
          if (Number(r.changes) === 0) return;
        }
        for (const r of rows) upsert.run(r.channel, r.metric, Math.floor(r.hourMs), r.value);
      });
    });
  }

  /** Hourly counter rows of a channel, oldest first. */
  metricRows(channel: string): Promise<MetricRow[]> {
    return this.#run(
      "metricRows",
      () => this.#stmt(METRIC_ROWS_QUERY).all(channel).map((r) => metricRowOf(r)),
    );
  }

  async prune(before: number): Promise<number> {
    let total = 0;
    for (;;) {
      const deleted = await this.#run("prune", () =>
        Number(
          this.#stmt(
            "DELETE FROM messages WHERE seq IN (SELECT seq FROM messages WHERE time_ms < ? ORDER BY time_ms LIMIT ?)",
          ).run(Math.floor(before), PRUNE_BATCH).changes,
        ));
      total += deleted;
      if (deleted < PRUNE_BATCH) break;
      // Let buffered writes and I/O run between batches.
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    await this.#run("prune", () => {
      this.#stmt("DELETE FROM metrics_rows WHERE hour_ms < ?").run(Math.floor(before));
      this.#stmt("DELETE FROM metrics_flushes WHERE applied_ms < ?").run(Math.floor(before));
    });
    return total;
  }

  maintain(): Promise<void> {
    return this.#run("maintain", () => {
      const db = this.#open();
      db.exec("PRAGMA optimize");
      // Each step frees one page; all() steps until the freelist is empty (exec() stops after one).
      db.prepare("PRAGMA incremental_vacuum").all();
      // Last, so the pages the two above wrote are folded in and the WAL file shrinks to zero.
      db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    });
  }

  ping(): Promise<void> {
    return this.#run("ping", () => {
      this.#stmt("SELECT 1").get();
    });
  }

  /** Number of rows in one of the data tables. */
  countRows(table: string): Promise<number> {
    const t = copiedTable(table);
    return this.#run(
      "countRows",
      () => Number(this.#stmt(`SELECT COUNT(*) AS n FROM ${t.name}`).get()?.n ?? 0),
    );
  }

  /**
   * Up to `limit` rows of a data table after rowid `after`, in rowid order, with the columns of
   * {@link COPIED_TABLES}; `last` is the rowid to continue from.
   */
  exportRows(
    table: string,
    after: number,
    limit: number,
  ): Promise<{ rows: Record<string, SQLInputValue>[]; last: number }> {
    const t = copiedTable(table);
    return this.#run("exportRows", () => {
      const rows = this.#stmt(
        `SELECT rowid AS _rowid, ${
          t.columns.join(", ")
        } FROM ${t.name} WHERE rowid > ? ORDER BY rowid LIMIT ?`,
      ).all(after, limit) as Record<string, SQLInputValue>[];
      const lastRow = rows.at(-1);
      const last = lastRow ? Number(lastRow._rowid) : after;
      for (const r of rows) delete r._rowid;
      return { rows, last };
    });
  }

  close(): Promise<void> {
    const db = this.#db;
    this.#db = undefined;
    this.#statements.clear();
    if (db?.isOpen) db.close();
    return Promise.resolve();
  }
}
