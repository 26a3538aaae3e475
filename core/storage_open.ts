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

/** The SQLite file named by a `database.url` (a path, or `sqlite:`/`file:` followed by one). */
export function sqlitePath(url: string): string {
  const path = url.replace(/^(sqlite|file):(\/\/)?/, "");
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
  if (/^(mysql|mariadb):/.test(db.url)) {
    throw new ClankError(
      "CONFIG_INVALID",
      "DATABASE_URL is a mysql:// URL but DATABASE_TYPE is sqlite; set DATABASE_TYPE=mysql or give a file path",
    );
  }
  const path = sqlitePath(db.url);
  log.debug("Using SQLite storage", { path });
  return new SqliteStorage(path);
}
