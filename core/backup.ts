/**
 * SQLite backup and restore, and the `backup` subcommand. A backup copies every table inside one read
 * transaction into a new file: online (the bot keeps running), consistent, and bounded in time.
 * Restoring needs the bot stopped; it is refused while any connection holds the database. MySQL is
 * backed up with `mysqldump` (the command prints the invocation to use).
 * @module
 */
import { DatabaseSync, type SQLInputValue } from "node:sqlite";
import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync, statSync } from "node:fs";
import { basename, dirname, extname, join } from "node:path";
import type { Config } from "./config_schema.ts";
import { ClankError, describeError } from "./errors.ts";
import type { Logger } from "./log.ts";
import { parseMysqlUrl } from "./storage_mysql.ts";
import { sqlitePath } from "./storage_open.ts";

/** `YYYYmmdd-HHMMSS` in local time. */
export function backupStamp(date: Date = new Date()): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}${p(date.getMonth() + 1)}${p(date.getDate())}-` +
    `${p(date.getHours())}${p(date.getMinutes())}${p(date.getSeconds())}`;
}

/** The default backup file: `<db dir>/backups/<db name>-YYYYmmdd-HHMMSS.db` (`./data/backups/chatbot-…`). */
export function defaultBackupPath(dbPath: string, date: Date = new Date()): string {
  const stem = basename(dbPath, extname(dbPath)) || "chatbot";
  return join(dirname(dbPath), "backups", `${stem}-${backupStamp(date)}.db`);
}

/** Checks a backup file: exists, passes `integrity_check`, and is a clank database. */
export function verifySqliteBackup(path: string): void {
  if (!existsSync(path)) throw new ClankError("STORAGE_FAILED", `Backup file ${path} does not exist`);
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(path, { readOnly: true });
    const rows = db.prepare("PRAGMA integrity_check").all();
    const result = rows.map((r) => String(Object.values(r)[0])).join("; ");
    if (result !== "ok") {
      throw new ClankError("STORAGE_FAILED", `Backup file ${path} failed the integrity check: ${result}`);
    }
    const table = db.prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
    )
      .get();
    if (!table) throw new ClankError("STORAGE_FAILED", `Backup file ${path} is not a clank database`);
  } catch (err) {
    if (err instanceof ClankError) throw err;
    throw new ClankError(
      "STORAGE_FAILED",
      `Backup file ${path} is not a readable SQLite database: ${describeError(err)}`,
    );
  } finally {
    db?.close();
  }
}

/**
 * How a backup is taken: `copy` (the default: every table copied row by row inside one read
 * transaction of the live database) or `vacuum` (`VACUUM INTO`, which Deno allows only when the
 * process has every permission, because it attaches a database; `deno task backup` does not).
 */
export type BackupMethod = "copy" | "vacuum";

/** Options of {@link backupSqlite}. */
export interface BackupOptions {
  method?: BackupMethod;
  /** Longest a copy may take before it is abandoned (default 30 minutes). */
  timeoutMs?: number;
  /** Rows copied between two yields to the event loop (default 5000). */
  batchRows?: number;
  /** Called after each batch (progress reports; tests write to the live database here). */
  onProgress?: (progress: { table: string; rows: number }) => void | Promise<void>;
}

const DEFAULT_BACKUP_TIMEOUT_MS = 30 * 60_000;

/** Removes a file and the side files SQLite may have left beside it. */
function removeWithSideFiles(path: string): void {
  for (const suffix of ["", "-journal", "-wal", "-shm"]) rmSync(path + suffix, { force: true });
}

/**
 * Writes a consistent copy of the live database to `outPath` while the bot may keep writing. The
 * copy reads every table inside one read transaction, so it is the snapshot of its start: the bot's
 * writes (WAL mode) neither block it nor make it start over, which SQLite's online backup API does
 * on every write, so under a chatty bot that never finished. It yields to the event loop between
 * batches and is abandoned after `timeoutMs`. The copy is built under a temporary name and renamed
 * only once complete and verified: an interrupted or failed backup never leaves a partial file under
 * the backup's name. Refuses to overwrite an existing file.
 */
export async function backupSqlite(
  dbPath: string,
  outPath: string,
  options: BackupOptions = {},
): Promise<{ path: string; bytes: number; method: BackupMethod }> {
  if (!existsSync(dbPath)) {
    throw new ClankError("STORAGE_FAILED", `Database file ${dbPath} does not exist; nothing to back up`);
  }
  if (existsSync(outPath)) {
    throw new ClankError(
      "STORAGE_FAILED",
      `Backup file ${outPath} already exists; choose another --out path`,
    );
  }
  mkdirSync(dirname(outPath), { recursive: true });
  const method: BackupMethod = options.method ?? "copy";
  // A fixed name beside the target: a run that was killed is cleaned up by the next one to it.
  const tmp = `${outPath}.partial`;
  removeWithSideFiles(tmp);
  const db = new DatabaseSync(dbPath, { readOnly: true });
  try {
    db.exec("PRAGMA busy_timeout = 10000");
    if (method === "vacuum") db.prepare("VACUUM INTO ?").run(tmp);
    else await copyDatabase(db, tmp, options);
    verifySqliteBackup(tmp);
    fsyncFile(tmp);
    if (existsSync(outPath)) throw new Error(`${outPath} appeared while the backup was written`);
    renameSync(tmp, outPath);
  } catch (err) {
    removeWithSideFiles(tmp);
    const why = err instanceof ClankError ? err.message : describeError(err);
    throw new ClankError("STORAGE_FAILED", `Backup of ${dbPath} failed: ${why}`);
  } finally {
    db.close();
  }
  return { path: outPath, bytes: statSync(outPath).size, method };
}

function fsyncFile(path: string): void {
  const f = Deno.openSync(path, { read: true, write: true });
  try {
    f.syncSync();
  } finally {
    f.close();
  }
}

/** Copies schema and rows of `src` into a new file at `tmp`, inside one read transaction of `src`. */
async function copyDatabase(src: DatabaseSync, tmp: string, options: BackupOptions): Promise<void> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_BACKUP_TIMEOUT_MS;
  const batchRows = Math.max(1, options.batchRows ?? 5000);
  const started = performance.now();
  const checkTime = () => {
    if (performance.now() - started >= timeoutMs) {
      throw new ClankError(
        "STORAGE_FAILED",
        `the copy took longer than ${Math.round(timeoutMs / 1000)} s and was abandoned`,
      );
    }
  };
  src.exec("BEGIN");
  const out = new DatabaseSync(tmp);
  try {
    // The first read fixes the snapshot every later read of this transaction sees.
    const schema = src.prepare(
      "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' " +
        "ORDER BY type <> 'table', rowid",
    ).all() as { type: string; name: string; sql: string }[];
    const pragma = (name: string) => Number(Object.values(src.prepare(`PRAGMA ${name}`).get() ?? {})[0] ?? 0);
    // The file is a temporary until renamed, so no journal; it is synced before the rename.
    out.exec("PRAGMA journal_mode = OFF");
    out.exec("PRAGMA synchronous = OFF");
    // auto_vacuum only takes effect when set before the first table is created.
    out.exec(`PRAGMA auto_vacuum = ${pragma("auto_vacuum")}`);
    out.exec(`PRAGMA user_version = ${pragma("user_version")}`);
    out.exec("BEGIN");
    for (const entry of schema.filter((e) => e.type === "table")) {
      out.exec(entry.sql);
      const read = src.prepare(`SELECT * FROM ${quoteIdent(entry.name)}`);
      read.setReadBigInts(true);
      const names = read.columns().map((c) => c.name);
      const columns = names.map(quoteIdent);
      const write = out.prepare(
        `INSERT INTO ${quoteIdent(entry.name)} (${columns.join(", ")}) VALUES (${
          columns.map(() => "?").join(", ")
        })`,
      );
      let rows = 0;
      for (const row of read.iterate() as Iterable<Record<string, SQLInputValue>>) {
        write.run(...names.map((n) => row[n]!));
        if (++rows % batchRows === 0) {
          await options.onProgress?.({ table: entry.name, rows });
          checkTime();
          // Other work (signals, the caller's timers) runs between batches.
          await new Promise((resolve) => setTimeout(resolve, 0));
        }
      }
      await options.onProgress?.({ table: entry.name, rows });
      checkTime();
    }
    for (const entry of schema.filter((e) => e.type !== "table")) out.exec(entry.sql);
    out.exec("COMMIT");
    // A backup is a single self-contained file.
    out.exec("PRAGMA journal_mode = DELETE");
  } finally {
    out.close();
    src.exec("ROLLBACK");
  }
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Throws when another connection (a running bot) has the database open. */
function assertNotInUse(dbPath: string): void {
  const db = new DatabaseSync(dbPath);
  try {
    db.exec("PRAGMA busy_timeout = 0");
    // Leaving WAL mode needs the only connection; it also folds the WAL into the main file.
    const mode = String(db.prepare("PRAGMA journal_mode = DELETE").get()?.journal_mode ?? "");
    if (mode !== "delete") throw new Error(`journal mode stayed ${mode}`);
  } catch (err) {
    throw new ClankError(
      "STORAGE_UNAVAILABLE",
      `Database ${dbPath} is in use (${describeError(err)}); stop the bot before restoring`,
    );
  } finally {
    db.close();
  }
}

/**
 * Replaces the database with a verified backup. The bot must be stopped (refused otherwise). The
 * current file is kept beside it as `<db>.pre-restore-YYYYmmdd-HHMMSS`.
 */
export function restoreSqlite(backupPath: string, dbPath: string): Promise<{ previous: string | null }> {
  try {
    verifySqliteBackup(backupPath);
    let previous: string | null = null;
    mkdirSync(dirname(dbPath), { recursive: true });
    if (existsSync(dbPath)) {
      assertNotInUse(dbPath);
      previous = `${dbPath}.pre-restore-${backupStamp()}`;
      renameSync(dbPath, previous);
    }
    for (const suffix of ["-wal", "-shm", "-journal"]) rmSync(dbPath + suffix, { force: true });
    // Copy then rename, so a crash never leaves a half-written database under the real name.
    const tmp = `${dbPath}.restoring`;
    copyFileSync(backupPath, tmp);
    renameSync(tmp, dbPath);
    return Promise.resolve({ previous });
  } catch (err) {
    return Promise.reject(err);
  }
}

const USAGE =
  "Usage: backup [--out PATH | PATH] | backup --restore PATH (SQLite; stop the bot before restoring)";

function parseArgs(args: string[]): { out?: string; restore?: string; help?: boolean } | string {
  const opts: { out?: string; restore?: string; help?: boolean } = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const [flag, inline] = arg.startsWith("--") && arg.includes("=")
      ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)]
      : [arg, undefined];
    if (flag === "-h" || flag === "--help") {
      opts.help = true;
      continue;
    }
    if (flag === "--config") {
      // Handled by main.ts (which passes every flag through); skip its value.
      if (inline === undefined) i++;
      continue;
    }
    // `backup PATH` reads like `cp`: a bare path is the destination, the same as `--out PATH`.
    if (!arg.startsWith("-")) {
      // A URL would become a directory tree named after it, password included.
      if (arg.includes("://")) return "PATH must be a file path, not a URL";
      if (opts.out !== undefined) return `Give one destination, not ${arg} too; allowed: --out PATH or PATH`;
      opts.out = arg;
      continue;
    }
    if (flag !== "--out" && flag !== "--restore") {
      return `Unknown argument ${arg}; allowed: --out PATH (or just PATH), --restore PATH`;
    }
    const value = inline ?? args[++i];
    if (!value) return `${flag} needs a file path`;
    if (value.includes("://")) return `${flag} needs a file path, not a URL`;
    if (flag === "--out") {
      if (opts.out !== undefined) return "Give one destination: --out PATH or PATH, not both";
      opts.out = value;
    } else opts.restore = value;
  }
  if (opts.out && opts.restore) {
    return "Give either a destination (--out PATH or PATH) or --restore, not both";
  }
  return opts;
}

/** The mysqldump invocation for a MySQL `DATABASE_URL` (password prompted, never printed). */
export function mysqldumpCommand(url: string): string {
  const t = parseMysqlUrl(url);
  const user = t.user ? ` -u ${t.user}` : "";
  const password = t.password ? " -p" : "";
  return `mysqldump --single-transaction --routines --default-character-set=utf8mb4 -h ${t.host} -P ${t.port}` +
    `${user}${password} ${t.database} > clank-${backupStamp()}.sql`;
}

/**
 * `deno task backup [--out PATH | PATH]` and `deno task backup --restore PATH`. Returns the exit code:
 * 0 done, 1 failed (or MySQL, which uses mysqldump), 2 bad arguments or a `DATABASE_URL` that is not a
 * file. `print` receives result lines for stdout (the backup path).
 */
export async function runBackupCommand(
  args: string[],
  config: Config,
  log: Logger,
  print: (line: string) => void = console.log,
): Promise<number> {
  const opts = parseArgs(args);
  if (typeof opts === "string") {
    log.error(opts);
    log.error(USAGE);
    return 2;
  }
  if (opts.help) {
    print(USAGE);
    return 0;
  }
  if (config.database.type === "mysql") {
    let command: string;
    try {
      command = mysqldumpCommand(config.database.url);
    } catch (err) {
      log.error(describeError(err));
      return 1;
    }
    log.error(
      "The backup command only handles SQLite; back up MySQL with mysqldump (restore with mysql < file)",
      {
        command,
      },
    );
    print(command);
    return 1;
  }
  let dbPath: string;
  try {
    dbPath = sqlitePath(config.database.url);
  } catch (err) {
    // A config mistake (a server URL where a file belongs), said as `start` says it: exit 2.
    log.error(log.redact(err instanceof ClankError ? err.message : describeError(err)));
    return 2;
  }
  try {
    if (opts.restore) {
      const { previous } = await restoreSqlite(opts.restore, dbPath);
      log.info("Database restored", { from: opts.restore, to: dbPath, previous });
      return 0;
    }
    const out = opts.out ?? defaultBackupPath(dbPath);
    const { path, bytes, method } = await backupSqlite(dbPath, out);
    log.info("Backup written", { path, bytes, method });
    print(path);
    return 0;
  } catch (err) {
    log.error(opts.restore ? "Restore failed" : "Backup failed", { error: log.redact(describeError(err)) });
    return 1;
  }
}
