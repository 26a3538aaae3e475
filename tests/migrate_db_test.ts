import assert from "node:assert/strict";
import { ConfigSchema } from "../core/config_schema.ts";
import { memoryLogger } from "../core/log.ts";
import { copySqliteToMysql, runMigrateDbCommand } from "../core/migrate_db.ts";
import { COPIED_TABLES } from "../core/migrations.ts";
import { MysqlStorage } from "../core/storage_mysql.ts";
import { SqliteStorage } from "../core/storage_sqlite.ts";
import { createTestDatabase, line, MARIADB } from "./fakes/storage_fixtures.ts";

const LINES = 2345;

/** A SQLite database with rows in every table. */
async function sourceDatabase(path: string): Promise<void> {
  const s = new SqliteStorage(path);
  await s.init();
  const recs = Array.from(
    { length: LINES },
    (_, i) => line(i, { channel: i % 3 ? "alpha" : "beta", text: `line ${i} 🎉 Kappa ñ`, bot: i % 10 === 0 }),
  );
  recs[5] = { ...recs[5]!, kind: "mention", bot: true };
  await s.saveMessages(recs);
  await s.setSettings("alpha", { threshold: 44, persona: "Persona 😀" });
  await s.setSettings("beta", { blocked_words: ["x"] });
  await s.kvSet("plugin:x", "state", JSON.stringify({ n: 1 }));
  await s.kvSet("host", "cleared:alpha", "123");
  await s.kvSet("secrets", "twitch", "v1:abc==");
  await s.addMetricRows([
    { channel: "alpha", metric: "lines", hourMs: 3_600_000, value: 5 },
    { channel: "beta", metric: "lines", hourMs: 7_200_000, value: 2.5 },
  ]);
  await s.close();
}

Deno.test("runMigrateDbCommand copies SQLite to MariaDB", async (t) => {
  const dir = await Deno.makeTempDir();
  const dbPath = `${dir}/chatbot.db`;
  await sourceDatabase(dbPath);
  const config = ConfigSchema.parse({ database: { url: dbPath } });
  const target = await createTestDatabase();
  const check = new MysqlStorage(target.url);
  try {
    await t.step("copies every table and prints the counts", async () => {
      const { log } = memoryLogger();
      const printed: string[] = [];
      assert.equal(await runMigrateDbCommand(["--to", target.url], config, log, (l) => printed.push(l)), 0);
      assert.deepEqual(printed, [
        `messages: ${LINES} rows read, ${LINES} rows in target`,
        "channel_settings: 2 rows read, 2 rows in target",
        "kv: 3 rows read, 3 rows in target",
        "metrics_rows: 2 rows read, 2 rows in target",
      ]);
      await check.init();
      const src = new SqliteStorage(dbPath);
      await src.init();
      for (const channel of ["alpha", "beta"]) {
        assert.deepEqual(await check.recentMessages(channel, 5000), await src.recentMessages(channel, 5000));
      }
      assert.deepEqual(await check.allSettings(), await src.allSettings());
      assert.equal(await check.kvGet("secrets", "twitch"), "v1:abc==");
      assert.deepEqual(await check.metricRows("beta"), await src.metricRows("beta"));
      await src.close();
    });

    await t.step("running it again adds no duplicates", async () => {
      const { log } = memoryLogger();
      assert.equal(await runMigrateDbCommand([`--to=${target.url}`], config, log, () => {}), 0);
      assert.equal(await check.countRows("messages"), LINES);
      for (const table of COPIED_TABLES) {
        const [rows] = await target.admin.query(`SELECT COUNT(*) AS n FROM \`${target.name}\`.${table.name}`);
        assert.ok(Number((rows as { n: number }[])[0]?.n) > 0, table.name);
      }
      assert.equal(await check.countRows("kv"), 3);
    });

    await t.step(
      "the target URL may come from MIGRATE_TO_URL, keeping the password out of argv",
      async () => {
        const { log, lines } = memoryLogger();
        Deno.env.set("MIGRATE_TO_URL", target.url);
        try {
          assert.equal(await runMigrateDbCommand([], config, log, () => {}), 0);
        } finally {
          Deno.env.delete("MIGRATE_TO_URL");
        }
        assert.equal(await check.countRows("messages"), LINES);
        assert.ok(lines.some((l) => l.includes("Copying SQLite to MySQL")), lines.join("\n"));
      },
    );

    await t.step("copySqliteToMysql resumes in small batches without duplicates", async () => {
      const src = new SqliteStorage(dbPath);
      await src.init();
      await src.saveMessages([line(99_999, { channel: "alpha" })]);
      const { log } = memoryLogger();
      const counts = await copySqliteToMysql(src, check, log, 100);
      assert.deepEqual(counts.messages, { source: LINES + 1, target: LINES + 1 });
      await src.close();
    });
  } finally {
    await check.close();
    await target.drop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runMigrateDbCommand copies keys that differ only by trailing spaces, and the longest keys", async () => {
  const dir = await Deno.makeTempDir();
  const dbPath = `${dir}/chatbot.db`;
  const s = new SqliteStorage(dbPath);
  await s.init();
  await s.kvSet("plugin:quotes", "foo", "A");
  await s.kvSet("plugin:quotes", "foo ", "B");
  await s.kvSet(`plugin:${"p".repeat(64)}`, "k".repeat(200), "long");
  await s.saveMessages([line(1, { id: "m1" }), line(2, { id: "m1 " })]);
  await s.close();
  const target = await createTestDatabase();
  const check = new MysqlStorage(target.url);
  try {
    const { log } = memoryLogger();
    const printed: string[] = [];
    const config = ConfigSchema.parse({ database: { url: dbPath } });
    assert.equal(await runMigrateDbCommand(["--to", target.url], config, log, (l) => printed.push(l)), 0);
    assert.ok(printed.includes("kv: 3 rows read, 3 rows in target"), printed.join("\n"));
    assert.ok(printed.includes("messages: 2 rows read, 2 rows in target"), printed.join("\n"));
    await check.init();
    assert.equal(await check.kvGet("plugin:quotes", "foo"), "A");
    assert.equal(await check.kvGet("plugin:quotes", "foo "), "B");
    assert.equal(await check.kvGet(`plugin:${"p".repeat(64)}`, "k".repeat(200)), "long");
    assert.deepEqual((await check.recentMessages("chan", 10)).map((r) => r.id), ["m1", "m1 "]);
  } finally {
    await check.close();
    await target.drop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runMigrateDbCommand rejects bad input", async (t) => {
  const dir = await Deno.makeTempDir();
  const dbPath = `${dir}/chatbot.db`;
  const config = ConfigSchema.parse({ database: { url: dbPath } });
  try {
    await t.step("without --to it exits 2 with the usage", async () => {
      const { log, lines } = memoryLogger();
      assert.equal(await runMigrateDbCommand([], config, log, () => {}), 2);
      assert.ok(lines.some((l) => l.includes("Usage: migrate-db")));
      assert.equal(await runMigrateDbCommand(["--from", "x"], config, log, () => {}), 2);
    });

    await t.step("a missing SQLite file exits 1", async () => {
      const { log, lines } = memoryLogger();
      assert.equal(await runMigrateDbCommand(["--to", "mysql://root@127.0.0.1/x"], config, log, () => {}), 1);
      assert.ok(lines.some((l) => l.includes("does not exist")));
    });

    await t.step("a MySQL config exits 2", async () => {
      const { log } = memoryLogger();
      const mysqlConfig = ConfigSchema.parse({
        database: { type: "mysql", url: "mysql://root@127.0.0.1/x" },
      });
      assert.equal(
        await runMigrateDbCommand(["--to", "mysql://root@127.0.0.1/y"], mysqlConfig, log, () => {}),
        2,
      );
    });

    await t.step(
      "a mysql:// DATABASE_URL with DATABASE_TYPE sqlite exits 2 without the password",
      async () => {
        const { log, lines } = memoryLogger();
        const wrong = ConfigSchema.parse({ database: { url: "mysql://clank:S3cretPass@db:3306/clank" } });
        assert.equal(
          await runMigrateDbCommand(["--to", "mysql://root@127.0.0.1/y"], wrong, log, () => {}),
          2,
        );
        assert.match(lines.join("\n"), /DATABASE_URL is a mysql:\/\/ URL but DATABASE_TYPE is sqlite/);
        assert.ok(!lines.join("\n").includes("S3cretPass"), lines.join("\n"));
      },
    );

    await t.step("a bad target URL names --to or MIGRATE_TO_URL and hides the password", async () => {
      const { log, lines } = memoryLogger();
      assert.equal(await runMigrateDbCommand(["--to", "notaurl"], config, log, () => {}), 2);
      assert.match(lines.join("\n"), /--to is not a valid URL/);
      assert.equal(
        await runMigrateDbCommand(["--to", "mysql://u:p%zzHunter99@h/db"], config, log, () => {}),
        2,
      );
      assert.match(lines.join("\n"), /--to has a malformed %-escape/);
      Deno.env.set("MIGRATE_TO_URL", "mysql://u:p%zzHunter99@h/db");
      try {
        assert.equal(await runMigrateDbCommand([], config, log, () => {}), 2);
      } finally {
        Deno.env.delete("MIGRATE_TO_URL");
      }
      assert.match(lines.join("\n"), /MIGRATE_TO_URL has a malformed %-escape/);
      assert.ok(!lines.join("\n").includes("Hunter99"), lines.join("\n"));
      assert.ok(!lines.join("\n").includes("DATABASE_URL"), lines.join("\n"));
    });

    await t.step("a wrong password fails with exit 1 and is never logged", async () => {
      await sourceDatabase(dbPath);
      const { log, lines } = memoryLogger();
      const url = `mysql://${MARIADB.user}:Wr0ngPassw0rd@${MARIADB.host}:${MARIADB.port}/clank_never_created`;
      assert.equal(await runMigrateDbCommand(["--to", url], config, log, () => {}), 1);
      assert.ok(lines.some((l) => l.includes("Access denied")));
      assert.ok(!lines.join("\n").includes("Wr0ngPassw0rd"));
      const bad = "mysql://u:Wr0ngPassw0rd@/";
      assert.equal(await runMigrateDbCommand(["--to", bad], config, log, () => {}), 2);
      assert.ok(!lines.join("\n").includes("Wr0ngPassw0rd"));
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
