/**
 * Test helpers for the storage tests: chat line builders and a throw-away MariaDB database on the
 * local server (127.0.0.1:3306, root without password). Tests run against the real server, never a
 * mock of MySQL.
 * @module
 */
import mysql from "mysql2/promise";
import type { ChatRecord } from "../../core/storage.ts";

/** The local MariaDB server the tests use. */
export const MARIADB = { host: "127.0.0.1", port: 3306, user: "root" } as const;

/** A chat line with sensible defaults; `n` makes the id and time unique. */
export function line(n: number, over: Partial<ChatRecord> = {}): ChatRecord {
  return {
    channel: "chan",
    id: `msg-${n}`,
    userId: `${1000 + (n % 7)}`,
    user: `user${n % 7}`,
    displayName: `User${n % 7}`,
    text: `line ${n}`,
    time: 1_700_000_000_000 + n * 1000,
    bot: false,
    ...over,
  };
}

/** A fresh database on the local MariaDB, dropped by `drop()`. */
export interface TestDatabase {
  name: string;
  /** `mysql://root@127.0.0.1:3306/<name>` */
  url: string;
  /** An admin connection (for checks and for killing the bot's connections). */
  admin: mysql.Connection;
  drop(): Promise<void>;
}

/** Creates `clank_test_<random>` on the local MariaDB. */
export async function createTestDatabase(options: { create?: boolean } = {}): Promise<TestDatabase> {
  const name = `clank_test_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  let admin: mysql.Connection;
  try {
    admin = await mysql.createConnection({ ...MARIADB, charset: "UTF8MB4_UNICODE_CI" });
  } catch (err) {
    throw new Error(
      `MariaDB is not reachable at ${MARIADB.host}:${MARIADB.port} (${(err as Error).message}); ` +
        "start it with: start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd",
    );
  }
  if (options.create !== false) {
    await admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  }
  return {
    name,
    url: `mysql://${MARIADB.user}@${MARIADB.host}:${MARIADB.port}/${name}`,
    admin,
    async drop() {
      try {
        await admin.query(`DROP DATABASE IF EXISTS \`${name}\``);
      } finally {
        await admin.end();
      }
    },
  };
}

/** Ids of the server connections using `database`, except the admin's own. */
export async function connectionIds(admin: mysql.Connection, database: string): Promise<number[]> {
  const [rows] = await admin.query<mysql.RowDataPacket[]>(
    "SELECT ID AS id FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID()",
    [database],
  );
  return rows.map((r) => Number(r.id));
}
