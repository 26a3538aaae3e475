/**
 * SQLite backup and restore, and the `backup` subcommand. A backup is `VACUUM INTO` a new file (or
 * SQLite's online backup API where Deno forbids that): online (the bot keeps running) and consistent.
 * Restoring needs the bot stopped; it is refused while any connection holds the database. MySQL is
 * backed up with `mysqldump` (the command prints the invocation to use).
 * @module
 */
import { backup as sqliteBackup, DatabaseSync } from "node:sqlite";
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

/** How a backup is taken: `vacuum` (VACUUM INTO, compact) or `pages` (SQLite's online backup API). */
export type BackupMethod = "vacuum" | "pages";

/**
 * Writes a consistent copy of the live database to `outPath` while the bot may keep writing.
 * `VACUUM INTO` is preferred (one read transaction, compact output); Deno forbids it (it attaches a
 * database) unless the process runs with every permission, so the `deno task backup` permissions fall
 * back to the online backup API, which is consistent too. Refuses to overwrite an existing file.
 */
export async function backupSqlite(
  dbPath: string,
  outPath: string,
  options: { method?: BackupMethod } = {},
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
  let method: BackupMethod = options.method ?? "vacuum";
  const db = new DatabaseSync(dbPath, { readOnly: true });
  try {
    db.exec("PRAGMA busy_timeout = 10000");
    if (method === "vacuum") {
      try {
        db.prepare("VACUUM INTO ?").run(outPath);
      } catch (err) {
        if (options.method === "vacuum" || !/attached databases/.test(String((err as Error).message))) {
          throw err;
        }
        rmSync(outPath, { force: true });
        method = "pages";
      }
    }
    if (method === "pages") {
      await sqliteBackup(db, outPath);
      // The copy keeps the source's WAL mode; a backup is a single self-contained file.
      const out = new DatabaseSync(outPath);
      try {
        out.exec("PRAGMA journal_mode = DELETE");
      } finally {
        out.close();
      }
    }
  } catch (err) {
    rmSync(outPath, { force: true });
    throw new ClankError("STORAGE_FAILED", `Backup of ${dbPath} failed: ${describeError(err)}`);
  } finally {
    db.close();
  }
  verifySqliteBackup(outPath);
  return { path: outPath, bytes: statSync(outPath).size, method };
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
