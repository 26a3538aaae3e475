/**
 * Chooses the storage backend from the `[database]` config.
 * @module
 */
import type { Config } from "./config_schema.ts";
import { ClankError } from "./errors.ts";
import type { Logger } from "./log.ts";
import type { Storage } from "./storage.ts";
import { MysqlStorage, parseMysqlUrl, redactMysqlUrl } from "./storage_mysql.ts";
import { SqliteStorage } from "./storage_sqlite.ts";

/**
 * The SQLite file named by a `database.url` (a path, or `sqlite:`/`file:` followed by one). Any other
 * `scheme://` is refused here, so no caller (bot, backup, restore, migrate-db) ever opens, creates or
 * prints a "file" that is really a server URL with its password in it.
 */
export function sqlitePath(url: string): string {
  // Two letters at least: `C://data/x.db` is a Windows drive, not a scheme.
  const scheme = (/^([a-z][a-z0-9+.-]+):\/\//i.exec(url) ?? /^(mysql|mariadb):/i.exec(url))?.[1]
    ?.toLowerCase();
  if (scheme !== undefined && scheme !== "sqlite" && scheme !== "file") {
    const fix = scheme === "mysql" || scheme === "mariadb"
      ? "set DATABASE_TYPE=mysql or give a file path"
      : "give a file path (SQLite) or a mysql:// URL with DATABASE_TYPE=mysql";
    throw new ClankError(
      "CONFIG_INVALID",
      `DATABASE_URL is a ${scheme}:// URL but DATABASE_TYPE is sqlite; ${fix}`,
    );
  }
  const path = url.replace(/^(sqlite|file):(\/\/)?/i, "");
  if (path.length === 0) {
    throw new ClankError("CONFIG_INVALID", "DATABASE_URL must be a file path for sqlite");
  }
  return path;
}

/**
 * A backend for the configured database, not yet initialised (call `init()`, usually through
 * `BufferedStorage`). A bad URL is a `CONFIG_INVALID` error naming `DATABASE_URL`; the password is
 * registered with the logger so it is redacted everywhere.
 */
export function openStorage(db: Config["database"], log: Logger): Storage {
  if (db.type === "mysql") {
    const target = parseMysqlUrl(db.url);
    log.addSecret(target.password);
    log.addSecret(db.url);
    log.debug("Using MySQL storage", { database: redactMysqlUrl(target) });
    return new MysqlStorage(target);
  }
  const path = sqlitePath(db.url);
  log.debug("Using SQLite storage", { path });
  return new SqliteStorage(path);
}
