/**
 * `deno task migrate-db --to mysql://…`: copies every data table of the configured SQLite database to
 * MySQL/MariaDB (migrations applied there first), in batches. Idempotent: chat lines are matched by
 * (channel, msg_id) and skipped when present, other rows are upserted by key, so a re-run after an
 * interruption finishes the copy without duplicates.
 * @module
 */
import { existsSync } from "node:fs";
import type { Config } from "./config_schema.ts";
import { ClankError, describeError } from "./errors.ts";
import type { Logger } from "./log.ts";
import { COPIED_TABLES } from "./migrations.ts";
import { MysqlStorage, type MysqlTarget, parseMysqlUrl, redactMysqlUrl } from "./storage_mysql.ts";
import { sqlitePath } from "./storage_open.ts";
import { SqliteStorage } from "./storage_sqlite.ts";

/** Rows read and written per batch. */
const BATCH = 2000;

const USAGE = "Usage: migrate-db --to mysql://user:password@host:3306/database (stop the bot first); " +
  "or set MIGRATE_TO_URL instead of --to, so the password stays out of the shell history";

/** The environment variable that may hold the target URL instead of `--to`. */
export const MIGRATE_TO_ENV = "MIGRATE_TO_URL";

/** Rows copied per table. */
export type CopyCounts = Record<string, { source: number; target: number }>;

/** Copies all data tables from `source` to `target` (both initialised); returns row counts. */
export async function copySqliteToMysql(
  source: SqliteStorage,
  target: MysqlStorage,
  log: Logger,
  batch = BATCH,
): Promise<CopyCounts> {
  const counts: CopyCounts = {};
  for (const table of COPIED_TABLES) {
    const total = await source.countRows(table.name);
    let after = 0;
    let copied = 0;
    for (;;) {
      const { rows, last } = await source.exportRows(table.name, after, batch);
      if (rows.length === 0) break;
      await target.importRows(table.name, rows);
      copied += rows.length;
      after = last;
      if (copied % (batch * 25) === 0) log.info("Copying", { table: table.name, copied, of: total });
    }
    counts[table.name] = { source: copied, target: await target.countRows(table.name) };
  }
  return counts;
}

/**
 * Runs the `migrate-db` subcommand; returns the exit code (0 done, 1 failed, 2 bad arguments).
 * `print` receives one summary line per table for stdout.
 */
export async function runMigrateDbCommand(
  args: string[],
  config: Config,
  log: Logger,
  print: (line: string) => void = console.log,
): Promise<number> {
  let to: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "-h" || arg === "--help") {
      print(USAGE);
      return 0;
    }
    if (arg === "--config") i++; // handled by main.ts, which passes every flag through
    else if (arg.startsWith("--config=")) continue;
    else if (arg === "--to") to = args[++i];
    else if (arg.startsWith("--to=")) to = arg.slice(5);
    else {
      log.error(`Unknown argument ${arg.includes("://") ? "(a URL)" : arg}; allowed: --to URL`);
      log.error(USAGE);
      return 2;
    }
  }
  // Errors about the target name where the URL came from, never DATABASE_URL (the source).
  const toName = to !== undefined ? "--to" : MIGRATE_TO_ENV;
  to ??= Deno.env.get(MIGRATE_TO_ENV) || undefined;
  if (!to) {
    log.error(`--to (or ${MIGRATE_TO_ENV}) needs the MySQL URL to copy into`);
    log.error(USAGE);
    return 2;
  }
  if (config.database.type !== "sqlite") {
    log.error(
      "migrate-db copies from SQLite; the configured database type is mysql (DATABASE_TYPE=sqlite needed)",
    );
    return 2;
  }
  let sourcePath: string;
  let target: MysqlStorage;
  let parsed: MysqlTarget;
  try {
    log.addSecret(to);
    sourcePath = sqlitePath(config.database.url);
    parsed = parseMysqlUrl(to, toName);
    log.addSecret(parsed.password);
    target = new MysqlStorage(parsed);
  } catch (err) {
    log.error(log.redact(err instanceof ClankError ? err.message : describeError(err)));
    return 2;
  }
  if (!existsSync(sourcePath)) {
    log.error(`SQLite database ${sourcePath} does not exist; set DATABASE_URL to the file to copy`);
    return 1;
  }
  const source = new SqliteStorage(sourcePath);
  try {
    await source.init();
    await target.init();
    log.info("Copying SQLite to MySQL", { from: sourcePath, to: redactMysqlUrl(parsed) });
    const counts = await copySqliteToMysql(source, target, log);
    let short = false;
    for (const [table, c] of Object.entries(counts)) {
      print(`${table}: ${c.source} rows read, ${c.target} rows in target`);
      if (c.target < c.source) short = true;
    }
    if (short) {
      log.error("The target has fewer rows than the source; check the log and run again");
      return 1;
    }
    log.info("Migration done; set DATABASE_TYPE=mysql and DATABASE_URL to the target, then start the bot");
    return 0;
  } catch (err) {
    log.error("migrate-db failed", { error: log.redact(describeError(err)) });
    return 1;
  } finally {
    await source.close();
    await target.close();
  }
}
