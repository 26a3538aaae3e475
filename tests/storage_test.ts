/**
 * One shared suite for both storage backends: SQLite (temp file) and MariaDB (a fresh database on
 * the local server per run, dropped at the end).
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { ConfigSchema } from "../core/config_schema.ts";
import { type ClankError, isClankError } from "../core/errors.ts";
import { memoryLogger } from "../core/log.ts";
import {
  KV_KEY_MAX_CHARS,
  KV_NAMESPACE_MAX_CHARS,
  LATEST_SCHEMA_VERSION,
  MESSAGE_ID_MAX_CHARS,
  MIGRATIONS,
  pendingMigrations,
} from "../core/migrations.ts";
import { MAX_STORE_KEY_LENGTH } from "../core/inprocess_plugin.ts";
import { PLUGIN_NAME_PATTERN } from "../core/plugin_validation.ts";
import type { Storage } from "../core/storage.ts";
import { MysqlStorage, parseMysqlUrl } from "../core/storage_mysql.ts";
import { openStorage, sqlitePath } from "../core/storage_open.ts";
import { SqliteStorage } from "../core/storage_sqlite.ts";
import { createTestDatabase, line, MARIADB } from "./fakes/storage_fixtures.ts";

type Backend = SqliteStorage | MysqlStorage;

interface Fixture {
  /** A new, not yet initialised backend on the suite's database. */
  open(): Backend;
  /** Rows in `schema_migrations`. */
  migrationRows(): Promise<number>;
  cleanup(): Promise<void>;
}

const EMOJI_TEXT = "PogChamp 🎉 Kappa 👍🏽 ñandú 日本語 \u{1F600} <3 \u{1F3F3}\u{FE0F}\u200D\u{1F308}";
const LONG_TEXT = "🎉".repeat(250) + "ab".repeat(125); // 500 characters, 4-byte and 1-byte ones

async function expectCode(p: Promise<unknown>, code: string): Promise<ClankError> {
  try {
    await p;
  } catch (err) {
    assert.ok(isClankError(err), `expected a ClankError, got ${err}`);
    assert.equal(err.code, code);
    return err;
  }
  assert.fail(`expected ${code}`);
}

/** The suite every backend must pass. */
function storageSuite(name: string, setup: () => Promise<Fixture>): void {
  Deno.test(`Storage (${name})`, async (t) => {
    const fx = await setup();
    const s = fx.open();
    try {
      await t.step("init brings a fresh database to the latest schema version", async () => {
        await s.init();
        assert.equal(await s.schemaVersion(), LATEST_SCHEMA_VERSION);
        assert.equal(await fx.migrationRows(), MIGRATIONS.length);
      });

      await t.step("init on an already migrated database changes nothing", async () => {
        const again = fx.open();
        await again.init();
        await again.init();
        assert.equal(await again.schemaVersion(), LATEST_SCHEMA_VERSION);
        assert.equal(await fx.migrationRows(), MIGRATIONS.length);
        await again.close();
      });

      await t.step("saveMessages round-trips emoji, emotes, 500-char lines and bot lines", async () => {
        const recs = [
          line(1, { channel: "rt", text: EMOJI_TEXT, displayName: "Ünïcødé_名前" }),
          line(2, { channel: "rt", text: LONG_TEXT }),
          line(3, { channel: "rt", bot: true, kind: "mention", user: "clank", text: "@user1 hi 😀" }),
        ];
        await s.saveMessages(recs);
        const got = await s.recentMessages("rt", 10);
        assert.deepEqual(got, recs);
        assert.equal([...got[1]!.text].length, 500);
      });

      await t.step("saveMessages ignores a re-inserted batch (same channel and id)", async () => {
        const batch = [line(10, { channel: "dup" }), line(11, { channel: "dup" })];
        await s.saveMessages(batch);
        await s.saveMessages(batch);
        await s.saveMessages([{ ...batch[0]!, text: "changed" }, line(12, { channel: "dup" })]);
        const got = await s.recentMessages("dup", 10);
        assert.deepEqual(got.map((r) => r.text), ["line 10", "line 11", "line 12"]);
        // The same id in another channel is a different line.
        await s.saveMessages([line(10, { channel: "dup2" })]);
        assert.equal((await s.recentMessages("dup2", 10)).length, 1);
      });

      await t.step("recentMessages returns the newest lines oldest first, up to the limit", async () => {
        const recs = [5, 1, 4, 2, 3].map((n) => line(n, { channel: "order" }));
        await s.saveMessages(recs);
        await s.saveMessages([line(99, { channel: "other" })]);
        assert.deepEqual((await s.recentMessages("order", 3)).map((r) => r.id), ["msg-3", "msg-4", "msg-5"]);
        assert.deepEqual((await s.recentMessages("order", 100)).map((r) => r.id), [
          "msg-1",
          "msg-2",
          "msg-3",
          "msg-4",
          "msg-5",
        ]);
        assert.deepEqual(await s.recentMessages("order", 0), []);
        assert.deepEqual(await s.recentMessages("nobody", 5), []);
        // Lines with the same time keep insertion order.
        const same = [line(1, { channel: "tie", id: "b" }), line(1, { channel: "tie", id: "a" })];
        await s.saveMessages(same);
        assert.deepEqual((await s.recentMessages("tie", 5)).map((r) => r.id), ["b", "a"]);
      });

      await t.step("deleteMessage and deleteUserMessages remove only the matching lines", async () => {
        const recs = [0, 1, 2, 3, 4, 5, 6, 7].map((n) =>
          line(n, { channel: "del", user: n % 2 ? "odd" : "even" })
        );
        await s.saveMessages(recs);
        await s.saveMessages([line(1, { channel: "del2", user: "odd" })]);
        await s.deleteMessage("del", "msg-0");
        await s.deleteMessage("del", "no-such-id");
        assert.equal(await s.deleteUserMessages("del", "odd"), 4);
        assert.equal(await s.deleteUserMessages("del", "odd"), 0);
        assert.deepEqual((await s.recentMessages("del", 10)).map((r) => r.id), ["msg-2", "msg-4", "msg-6"]);
        assert.equal((await s.recentMessages("del2", 10)).length, 1);
      });

      await t.step("setSettings stores, replaces and resets a channel's overrides", async () => {
        assert.deepEqual(await s.getSettings("set"), {});
        await s.setSettings("set", { threshold: 40, persona: "Be nice 😀" });
        await s.setSettings("set2", { blocked_words: ["a", "re:b+"] });
        assert.deepEqual(await s.getSettings("set"), { threshold: 40, persona: "Be nice 😀" });
        await s.setSettings("set", { floor: 5 });
        assert.deepEqual(await s.getSettings("set"), { floor: 5 });
        assert.deepEqual(await s.allSettings(), {
          set: { floor: 5 },
          set2: { blocked_words: ["a", "re:b+"] },
        });
        await s.setSettings("set", null);
        assert.deepEqual(await s.getSettings("set"), {});
        assert.deepEqual(Object.keys(await s.allSettings()), ["set2"]);
      });

      await t.step("kvSet and kvGet store exact values and delete with null", async () => {
        assert.equal(await s.kvGet("ns", "k"), undefined);
        await s.kvSet("ns", "k", "v1 🎉");
        await s.kvSet("ns", "K", "upper");
        await s.kvSet("ns2", "k", "other namespace");
        assert.equal(await s.kvGet("ns", "k"), "v1 🎉");
        assert.equal(await s.kvGet("ns", "K"), "upper");
        await s.kvSet("ns", "k", "v2");
        assert.equal(await s.kvGet("ns", "k"), "v2");
        await s.kvSet("ns", "k", null);
        assert.equal(await s.kvGet("ns", "k"), undefined);
        assert.equal(await s.kvGet("ns2", "k"), "other namespace");
      });

      await t.step("keys that differ only by trailing spaces or case are different keys", async () => {
        await s.kvSet("plugin:quotes", "foo", "A");
        await s.kvSet("plugin:quotes", "foo ", "B");
        await s.kvSet("plugin:quotes", "Foo", "C");
        await s.kvSet("plugin:quotes ", "foo", "D");
        assert.equal(await s.kvGet("plugin:quotes", "foo"), "A");
        assert.equal(await s.kvGet("plugin:quotes", "foo "), "B");
        assert.equal(await s.kvGet("plugin:quotes", "Foo"), "C");
        assert.equal(await s.kvGet("plugin:quotes ", "foo"), "D");
        await s.kvSet("plugin:quotes", "foo ", null);
        assert.equal(await s.kvGet("plugin:quotes", "foo"), "A");
        assert.equal(await s.kvGet("plugin:quotes", "foo "), undefined);

        await s.saveMessages([line(1, { channel: "pad", id: "m1" }), line(2, { channel: "pad", id: "m1 " })]);
        assert.deepEqual((await s.recentMessages("pad", 10)).map((r) => r.id), ["m1", "m1 "]);
        await s.deleteMessage("pad", "m1 ");
        assert.deepEqual((await s.recentMessages("pad", 10)).map((r) => r.id), ["m1"]);
        await s.deleteMessage("pad", "m1"); // later steps count the lines
        await s.setSettings("pad", { floor: 1 });
        assert.deepEqual(await s.getSettings("pad "), {});
      });

      await t.step("the longest plugin name and store key the plugin API accepts fit", async () => {
        const longName = "a" + "b".repeat(63);
        assert.ok(PLUGIN_NAME_PATTERN.test(longName));
        const namespace = `plugin:${longName}`;
        const fullKey = "🎉".repeat(MAX_STORE_KEY_LENGTH / 2); // 200 UTF-16 units, 100 emoji
        await s.kvSet(namespace, fullKey, "v2");
        await s.kvSet(namespace, "k".repeat(MAX_STORE_KEY_LENGTH), "v3");
        assert.equal(await s.kvGet(namespace, fullKey), "v2");
        assert.equal(await s.kvGet(namespace, "k".repeat(MAX_STORE_KEY_LENGTH)), "v3");
        // Over the columns' limit both backends refuse the same way, never cut a key short.
        await expectCode(s.kvSet("ns", "k".repeat(KV_KEY_MAX_CHARS + 1), "x"), "STORAGE_FAILED");
        await expectCode(s.kvSet("n".repeat(KV_NAMESPACE_MAX_CHARS + 1), "k", "x"), "STORAGE_FAILED");
        assert.equal(await s.kvGet("ns", "k".repeat(KV_KEY_MAX_CHARS)), undefined);
      });

      await t.step("an id too long for its column is refused, never cut short", async () => {
        const a = "x".repeat(MESSAGE_ID_MAX_CHARS) + "-A";
        const b = "x".repeat(MESSAGE_ID_MAX_CHARS) + "-B";
        await expectCode(s.saveMessages([line(1, { channel: "long", id: a })]), "STORAGE_FAILED");
        await expectCode(s.saveMessages([line(2, { channel: "long", id: b })]), "STORAGE_FAILED");
        assert.deepEqual(await s.recentMessages("long", 10), []);
        const max = "x".repeat(MESSAGE_ID_MAX_CHARS);
        await s.saveMessages([line(3, { channel: "long", id: max })]);
        assert.deepEqual((await s.recentMessages("long", 10)).map((r) => r.id), [max]);
        await s.deleteMessage("long", max);
      });

      await t.step("a counter write replayed with the same flush id is counted once", async () => {
        const hourMs = 1_700_000_000_000 - (1_700_000_000_000 % 3_600_000);
        const rows = [{ channel: "replay", metric: "lines", hourMs, value: 10, flushId: "f1" }];
        await s.addMetricRows(rows);
        // The acknowledgement of the first write was lost; the caller sends the same rows again.
        await s.addMetricRows(rows);
        await s.addMetricRows([{ channel: "replay", metric: "lines", hourMs, value: 3, flushId: "f2" }]);
        assert.deepEqual((await s.metricRows("replay")).map((r) => r.value), [13]);
      });

      await t.step("prune deletes lines and metric rows older than the cut-off", async () => {
        const base = 1_800_000_000_000;
        const old = [1, 2, 3].map((n) => line(n, { channel: "prune", time: base - n * 60_000 }));
        const fresh = [4, 5].map((n) => line(n, { channel: "prune", time: base + n * 60_000 }));
        await s.saveMessages([...old, ...fresh]);
        await s.addMetricRows([
          { channel: "prune", metric: "lines", hourMs: base - 7_200_000, value: 3 },
          { channel: "prune", metric: "lines", hourMs: base, value: 2 },
        ]);
        await s.addMetricRows([{ channel: "prune", metric: "lines", hourMs: base, value: 5 }]);
        // 19 lines are left from the earlier steps, all older than `base`.
        assert.equal(await s.countRows("messages"), 19 + 5);
        assert.equal(await s.prune(base), 19 + 3);
        assert.equal(await s.countRows("messages"), 2);
        assert.deepEqual((await s.recentMessages("prune", 10)).map((r) => r.id), ["msg-4", "msg-5"]);
        assert.deepEqual(await s.metricRows("prune"), [
          { channel: "prune", metric: "lines", hourMs: base, value: 7 },
        ]);
        assert.equal(await s.prune(base), 0);
      });

      await t.step("maintain and ping succeed and leave the data readable", async () => {
        await s.maintain();
        await s.ping();
        assert.equal((await s.recentMessages("prune", 10)).length, 2);
      });

      await t.step("a closed backend reports STORAGE_UNAVAILABLE", async () => {
        await s.close();
        await expectCode(s.ping(), "STORAGE_UNAVAILABLE");
        await expectCode(s.saveMessages([line(1)]), "STORAGE_UNAVAILABLE");
      });
    } finally {
      await s.close();
      await fx.cleanup();
    }
  });
}

storageSuite("sqlite", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/nested/dir/chatbot.db`;
  return {
    open: () => new SqliteStorage(path),
    migrationRows() {
      const db = new DatabaseSync(path, { readOnly: true });
      try {
        return Promise.resolve(Number(db.prepare("SELECT COUNT(*) AS n FROM schema_migrations").get()?.n));
      } finally {
        db.close();
      }
    },
    cleanup: () => Deno.remove(dir, { recursive: true }),
  };
});

storageSuite("mariadb", async () => {
  const db = await createTestDatabase();
  return {
    open: () => new MysqlStorage(db.url),
    async migrationRows() {
      const [rows] = await db.admin.query(`SELECT COUNT(*) AS n FROM \`${db.name}\`.schema_migrations`);
      return Number((rows as { n: number }[])[0]?.n);
    },
    cleanup: () => db.drop(),
  };
});

Deno.test("migrations are versioned 1..n with both dialects", () => {
  MIGRATIONS.forEach((m, i) => {
    assert.equal(m.version, i + 1);
    assert.ok(m.up.sqlite.length > 0 && m.up.mysql.length > 0, `migration ${m.version} lacks a dialect`);
  });
  assert.equal(LATEST_SCHEMA_VERSION, MIGRATIONS.length);
  assert.deepEqual(pendingMigrations([]).map((m) => m.version), MIGRATIONS.map((m) => m.version));
  assert.deepEqual(pendingMigrations(MIGRATIONS.map((m) => m.version)), []);
});

Deno.test("SqliteStorage creates the directory and sets WAL, NORMAL sync and incremental vacuum", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/a/b/c.db`;
  const s = new SqliteStorage(path);
  try {
    await s.init();
    const db = new DatabaseSync(path);
    try {
      assert.equal(db.prepare("PRAGMA journal_mode").get()?.journal_mode, "wal");
      assert.equal(db.prepare("PRAGMA auto_vacuum").get()?.auto_vacuum, 2);
    } finally {
      db.close();
    }
  } finally {
    await s.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SqliteStorage waits briefly for another process's lock; the buffer keeps the write", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/locked.db`;
  const s = new SqliteStorage(path);
  const other = new DatabaseSync(path);
  try {
    await s.init();
    // node:sqlite waits on the event loop's thread: 5 s froze chat, replies and PONGs on every retry.
    assert.ok(s.busyTimeoutMs <= 500, `busy timeout ${s.busyTimeoutMs} ms`);
    other.exec("BEGIN IMMEDIATE");
    await assert.rejects(s.saveMessages([line(1)]), (e) => isClankError(e, "STORAGE_UNAVAILABLE"));
    other.exec("COMMIT");
    await s.saveMessages([line(1)]);
    assert.equal((await s.recentMessages("chan", 10)).length, 1);
  } finally {
    other.close();
    await s.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SqliteStorage works in memory for tests", async () => {
  const s = new SqliteStorage(":memory:");
  await s.init();
  await s.saveMessages([line(1)]);
  assert.equal((await s.recentMessages("chan", 5)).length, 1);
  await s.maintain();
  await s.close();
});

Deno.test("MysqlStorage errors", async (t) => {
  await t.step("a wrong password is STORAGE_UNAVAILABLE and never appears in the error", async () => {
    const secret = "s3cret-Pa55word";
    const s = new MysqlStorage(`mysql://${MARIADB.user}:${secret}@${MARIADB.host}:${MARIADB.port}/test`);
    try {
      const err = await expectCode(s.init(), "STORAGE_UNAVAILABLE");
      assert.match(err.message, /Access denied/);
      assert.ok(!JSON.stringify({ m: err.message, d: err.details, s: err.stack }).includes(secret));
    } finally {
      await s.close();
    }
  });

  await t.step("an unreachable server is STORAGE_UNAVAILABLE", async () => {
    const s = new MysqlStorage("mysql://root:pw-xyz-123@127.0.0.1:1/test", { connectTimeoutMs: 2000 });
    try {
      const err = await expectCode(s.init(), "STORAGE_UNAVAILABLE");
      assert.ok(!err.message.includes("pw-xyz-123"));
    } finally {
      await s.close();
    }
  });

  await t.step("a missing database is created on init", async () => {
    const db = await createTestDatabase({ create: false });
    const s = new MysqlStorage(db.url);
    try {
      await s.init();
      assert.equal(await s.schemaVersion(), LATEST_SCHEMA_VERSION);
    } finally {
      await s.close();
      await db.drop();
    }
  });

  await t.step("a statement over max_allowed_packet is STORAGE_FAILED and the next one works", async () => {
    const db = await createTestDatabase();
    const s = new MysqlStorage(db.url, { connections: 1 });
    try {
      await s.init();
      const [rows] = await db.admin.query("SELECT @@max_allowed_packet AS n");
      const tooBig = "x".repeat(Number((rows as { n: number }[])[0]!.n) + 1024);
      const err = await expectCode(s.kvSet("ns", "big", tooBig), "STORAGE_FAILED");
      assert.equal(err.details?.errno, 1153);
      // The server drops the connection after the error: the pool must not hand it out again.
      await s.kvSet("ns", "small", "v");
      assert.equal(await s.kvGet("ns", "small"), "v");
      await expectCode(s.saveMessages([line(1, { text: tooBig })]), "STORAGE_FAILED");
      await s.saveMessages([line(2)]);
      assert.equal((await s.recentMessages("chan", 5)).length, 1);
    } finally {
      await s.close();
      await db.drop();
    }
  });

  await t.step("tables use utf8mb4_unicode_ci", async () => {
    const db = await createTestDatabase();
    const s = new MysqlStorage(db.url);
    try {
      await s.init();
      const [rows] = await db.admin.query(
        "SELECT TABLE_NAME AS t, TABLE_COLLATION AS c FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?",
        [db.name],
      );
      const collations = rows as { t: string; c: string }[];
      assert.ok(collations.length >= 5);
      for (const r of collations) assert.equal(r.c, "utf8mb4_unicode_ci", r.t);
    } finally {
      await s.close();
      await db.drop();
    }
  });
});

Deno.test("parseMysqlUrl", async (t) => {
  await t.step("reads user, password, host, port and database", () => {
    assert.deepEqual(parseMysqlUrl("mysql://bot:p%40ss@db.local:3307/clank?ssl=true"), {
      host: "db.local",
      port: 3307,
      user: "bot",
      password: "p@ss",
      database: "clank",
      ssl: true,
    });
    assert.equal(parseMysqlUrl("mysql://bot@db/clank").port, 3306);
  });
  await t.step("rejects bad URLs naming DATABASE_URL without echoing the password", () => {
    for (
      const url of [
        "not a url hunter22",
        "mysql://u:hunter22@db",
        "mysql://u:hunter22@db/",
        "http://u:hunter22@db/x",
      ]
    ) {
      assert.throws(() => parseMysqlUrl(url), (err: unknown) => {
        assert.ok(isClankError(err, "CONFIG_INVALID"), String(err));
        assert.match(err.message, /DATABASE_URL/);
        assert.ok(!err.message.includes("hunter22"), err.message);
        return true;
      });
    }
    assert.throws(() => parseMysqlUrl("mysql://u:p@db/x?sslmode=hunter22"), /unknown parameter sslmode/);
  });
  await t.step("a malformed %-escape is CONFIG_INVALID, not a URIError, and hides the password", () => {
    for (
      const url of [
        "mysql://u:p%zzhunter22@127.0.0.1:1/db",
        "mysql://u%zz:hunter22@db/x",
        "mysql://u@db/x%zz",
      ]
    ) {
      assert.throws(() => parseMysqlUrl(url), (err: unknown) => {
        assert.ok(isClankError(err, "CONFIG_INVALID"), String(err));
        assert.match(err.message, /DATABASE_URL has a malformed %-escape .*%25/);
        assert.ok(!err.message.includes("hunter22"), err.message);
        return true;
      });
    }
  });
  await t.step("errors name the setting the URL came from", () => {
    assert.throws(() => parseMysqlUrl("notaurl", "--to"), /^ClankError: --to is not a valid URL/);
    assert.throws(
      () => parseMysqlUrl("mysql://u:p%zz@db/x", "MIGRATE_TO_URL"),
      /MIGRATE_TO_URL has a malformed/,
    );
  });
});

Deno.test("sqlitePath", async (t) => {
  await t.step("reads a path, or sqlite:/file: followed by one", () => {
    assert.equal(sqlitePath("./data/x.db"), "./data/x.db");
    assert.equal(sqlitePath("sqlite:./y.db"), "./y.db");
    assert.equal(sqlitePath("file:///var/z.db"), "/var/z.db");
    assert.equal(sqlitePath(String.raw`C:\data\x.db`), String.raw`C:\data\x.db`);
  });
  await t.step("refuses a URL of another scheme without echoing it, so no caller uses it as a path", () => {
    for (
      const url of [
        "mysql://clank:S3cretPass@db:3306/clank",
        "mariadb://u:S3cretPass@h/d",
        "postgres://u:S3cretPass@h/d",
      ]
    ) {
      assert.throws(() => sqlitePath(url), (err: unknown) => {
        assert.ok(isClankError(err, "CONFIG_INVALID"), String(err));
        assert.match(err.message, /^DATABASE_URL is a [a-z]+:\/\/ URL but DATABASE_TYPE is sqlite/);
        assert.ok(!err.message.includes("S3cretPass"), err.message);
        return true;
      });
    }
    assert.throws(
      () => sqlitePath("mysql://u:S3cretPass@db/x"),
      /set DATABASE_TYPE=mysql or give a file path/,
    );
  });
});

Deno.test("openStorage", async (t) => {
  const { log, lines } = memoryLogger();
  const db = (over: Record<string, unknown>) => ConfigSchema.parse({ database: over }).database;

  await t.step("chooses SQLite for a file path", () => {
    const s = openStorage(db({ url: "./data/x.db" }), log);
    assert.ok(s instanceof SqliteStorage);
    assert.equal(s.path, "./data/x.db");
    const s2 = openStorage(db({ url: "sqlite:./y.db" }), log) as SqliteStorage;
    assert.equal(s2.path, "./y.db");
  });

  await t.step("chooses MySQL and registers the password as a secret", () => {
    const s: Storage = openStorage(db({ type: "mysql", url: "mysql://bot:topsecret1@127.0.0.1/clank" }), log);
    assert.ok(s instanceof MysqlStorage);
    log.info("leak? topsecret1");
    assert.ok(!lines.join("\n").includes("topsecret1"));
  });

  await t.step("a bad MySQL URL is CONFIG_INVALID naming DATABASE_URL", () => {
    assert.throws(
      () => openStorage(db({ type: "mysql", url: "mysql://bot:sekrit99@/" }), log),
      (err: unknown) => {
        assert.ok(isClankError(err, "CONFIG_INVALID"));
        assert.match(err.message, /DATABASE_URL/);
        assert.ok(!err.message.includes("sekrit99"));
        return true;
      },
    );
    assert.throws(
      () => openStorage(db({ type: "sqlite", url: "mysql://bot:sekrit99@db/x" }), log),
      (err: unknown) => isClankError(err, "CONFIG_INVALID") && !err.message.includes("sekrit99"),
    );
  });
});
