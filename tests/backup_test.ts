import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { ConfigSchema } from "../core/config_schema.ts";
import { isClankError } from "../core/errors.ts";
import { memoryLogger } from "../core/log.ts";
import {
  backupSqlite,
  backupStamp,
  defaultBackupPath,
  mysqldumpCommand,
  restoreSqlite,
  runBackupCommand,
} from "../core/backup.ts";
import { SqliteStorage } from "../core/storage_sqlite.ts";
import { line } from "./fakes/storage_fixtures.ts";

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function expectCode(p: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isClankError(err), String(err));
    assert.equal(err.code, code);
    assert.match(err.message, message);
    return true;
  });
}

Deno.test("backupSqlite and restoreSqlite", async (t) => {
  const dir = await Deno.makeTempDir();
  const dbPath = `${dir}/data/chatbot.db`;
  const out = `${dir}/data/backups/one.db`;
  const storage = new SqliteStorage(dbPath);
  await storage.init();
  try {
    await t.step("backupSqlite copies a database that is open and being written", async () => {
      await storage.saveMessages([line(1), line(2), line(3)]);
      await storage.setSettings("chan", { threshold: 42 });
      const { path, bytes } = await backupSqlite(dbPath, out);
      assert.equal(path, out);
      assert.ok(bytes > 0);
      const copy = new SqliteStorage(out);
      await copy.init();
      assert.deepEqual((await copy.recentMessages("chan", 10)).map((r) => r.id), ["msg-1", "msg-2", "msg-3"]);
      assert.deepEqual(await copy.getSettings("chan"), { threshold: 42 });
      await copy.close();
    });

    await t.step("backupSqlite with VACUUM INTO (all permissions) gives the same contents", async () => {
      const vacuumOut = `${dir}/data/backups/vacuum.db`;
      const { method } = await backupSqlite(dbPath, vacuumOut, { method: "vacuum" });
      assert.equal(method, "vacuum");
      assert.ok(!await exists(`${vacuumOut}-wal`), "the backup is one self-contained file");
      const copy = new SqliteStorage(vacuumOut);
      await copy.init();
      assert.deepEqual((await copy.recentMessages("chan", 10)).map((r) => r.id), ["msg-1", "msg-2", "msg-3"]);
      await copy.close();
    });

    await t.step("backupSqlite refuses to overwrite an existing file", async () => {
      const before = await Deno.readFile(out);
      await expectCode(backupSqlite(dbPath, out), "STORAGE_FAILED", /already exists/);
      assert.deepEqual(await Deno.readFile(out), before);
      await expectCode(backupSqlite(`${dir}/nope.db`, `${dir}/x.db`), "STORAGE_FAILED", /does not exist/);
    });

    await t.step("restoreSqlite refuses while the database is open", async () => {
      await storage.saveMessages([line(4), line(5)]);
      await expectCode(restoreSqlite(out, dbPath), "STORAGE_UNAVAILABLE", /in use.*stop the bot/);
      assert.equal((await storage.recentMessages("chan", 10)).length, 5);
    });

    await t.step("restoreSqlite brings back the backup's contents and keeps the old file", async () => {
      await storage.close();
      const { previous } = await restoreSqlite(out, dbPath);
      assert.ok(previous && await exists(previous));
      const reopened = new SqliteStorage(dbPath);
      await reopened.init();
      assert.deepEqual((await reopened.recentMessages("chan", 10)).map((r) => r.id), [
        "msg-1",
        "msg-2",
        "msg-3",
      ]);
      await reopened.close();
      const old = new SqliteStorage(previous);
      await old.init();
      assert.equal((await old.recentMessages("chan", 10)).length, 5);
      await old.close();
    });

    await t.step(
      "restoreSqlite refuses a damaged or foreign backup and leaves the database alone",
      async () => {
        const junk = `${dir}/junk.db`;
        await Deno.writeTextFile(junk, "this is not a database ".repeat(100));
        await expectCode(restoreSqlite(junk, dbPath), "STORAGE_FAILED", /not a readable SQLite database/);
        const foreign = `${dir}/foreign.db`;
        const f = new DatabaseSync(foreign);
        f.exec("CREATE TABLE t (x)");
        f.close();
        await expectCode(restoreSqlite(foreign, dbPath), "STORAGE_FAILED", /not a clank database/);
        await expectCode(restoreSqlite(`${dir}/missing.db`, dbPath), "STORAGE_FAILED", /does not exist/);
        const reopened = new SqliteStorage(dbPath);
        await reopened.init();
        assert.equal((await reopened.recentMessages("chan", 10)).length, 3);
        await reopened.close();
      },
    );
  } finally {
    await storage.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("backupSqlite copies under one read transaction with the deno task's permissions", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const dbPath = `${dir}/chatbot.db`;
    const s = new SqliteStorage(dbPath);
    await s.init();
    await s.saveMessages([line(1), line(2)]);
    await s.close();
    const script = `${dir}/run.ts`;
    await Deno.writeTextFile(
      script,
      `import { backupSqlite } from ${
        JSON.stringify(new URL("../core/backup.ts", import.meta.url).href)
      };\n` +
        `const r = await backupSqlite(Deno.args[0], Deno.args[1]);\nconsole.log(r.method);\n`,
    );
    // The same permission flags as `deno task start` / `deno task backup` (not --allow-all).
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--config",
        new URL("../deno.json", import.meta.url).pathname,
        "--allow-net",
        "--allow-read",
        "--allow-write",
        "--allow-env",
        script,
        dbPath,
        `${dir}/out.db`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    // VACUUM INTO needs every permission (Deno allows no attached database otherwise); the online
    // backup API restarts on every write of the running bot and never finishes.
    assert.equal(new TextDecoder().decode(out.stdout).trim(), "copy");
    const copy = new SqliteStorage(`${dir}/out.db`);
    await copy.init();
    assert.equal((await copy.recentMessages("chan", 10)).length, 2);
    await copy.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("backupSqlite while the bot keeps writing", async (t) => {
  const dir = await Deno.makeTempDir();
  const dbPath = `${dir}/chatbot.db`;
  const out = `${dir}/backups/live.db`;
  const storage = new SqliteStorage(dbPath);
  await storage.init();
  const before = Array.from({ length: 50 }, (_, i) => line(i));
  await storage.saveMessages(before);
  await storage.kvSet("plugin:q", "k", "v");
  try {
    await t.step(
      "finishes with the contents of its start though a write lands between every batch",
      async () => {
        let writes = 0;
        let sawFinalName = false;
        const { method } = await backupSqlite(dbPath, out, {
          batchRows: 7,
          onProgress: async () => {
            sawFinalName ||= await exists(out);
            await storage.saveMessages([line(1000 + writes++)]);
          },
        });
        assert.equal(method, "copy");
        assert.ok(writes >= 7, `only ${writes} writes during the copy`);
        assert.equal(sawFinalName, false, "the final name appears only once the copy is complete");
        for (const suffix of ["-wal", "-journal", "-shm"]) assert.ok(!await exists(out + suffix), suffix);
        assert.deepEqual((await Array.fromAsync(Deno.readDir(`${dir}/backups`))).map((e) => e.name), [
          "live.db",
        ]);
        const db = new DatabaseSync(out, { readOnly: true });
        try {
          assert.equal(db.prepare("PRAGMA auto_vacuum").get()?.auto_vacuum, 2);
          assert.equal(db.prepare("PRAGMA journal_mode").get()?.journal_mode, "delete");
        } finally {
          db.close();
        }
        const copy = new SqliteStorage(out);
        await copy.init();
        assert.deepEqual((await copy.recentMessages("chan", 1000)).map((r) => r.id), before.map((r) => r.id));
        assert.equal(await copy.kvGet("plugin:q", "k"), "v");
        await copy.close();
      },
    );

    await t.step("a copy that fails or runs out of time leaves nothing under the backup's name", async () => {
      const failed = `${dir}/backups/failed.db`;
      await expectCode(
        backupSqlite(dbPath, failed, {
          batchRows: 7,
          onProgress: () => {
            throw new Error("disk full");
          },
        }),
        "STORAGE_FAILED",
        /disk full/,
      );
      const slow = `${dir}/backups/slow.db`;
      await expectCode(
        backupSqlite(dbPath, slow, { batchRows: 7, timeoutMs: 0 }),
        "STORAGE_FAILED",
        /longer than/,
      );
      assert.deepEqual((await Array.fromAsync(Deno.readDir(`${dir}/backups`))).map((e) => e.name), [
        "live.db",
      ]);
      // The source was not left inside a transaction: the bot can still write and checkpoint.
      await storage.saveMessages([line(5000)]);
      await storage.maintain();
    });
  } finally {
    await storage.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("defaultBackupPath puts backups beside the database with a timestamp", () => {
  const when = new Date(2025, 0, 2, 3, 4, 5);
  assert.equal(backupStamp(when), "20250102-030405");
  assert.equal(defaultBackupPath("./data/chatbot.db", when), "data/backups/chatbot-20250102-030405.db");
});

Deno.test("runBackupCommand", async (t) => {
  const dir = await Deno.makeTempDir();
  const dbPath = `${dir}/chatbot.db`;
  const config = ConfigSchema.parse({ database: { url: dbPath } });
  const storage = new SqliteStorage(dbPath);
  await storage.init();
  await storage.saveMessages([line(1)]);
  await storage.close();
  try {
    await t.step("writes a timestamped backup by default and prints its path", async () => {
      const { log } = memoryLogger();
      const printed: string[] = [];
      assert.equal(await runBackupCommand([], config, log, (l) => printed.push(l)), 0);
      assert.equal(printed.length, 1);
      assert.match(printed[0]!, /\/backups\/chatbot-\d{8}-\d{6}\.db$/);
      assert.ok(await exists(printed[0]!));
    });

    await t.step("--out chooses the file and refuses an existing one", async () => {
      const { log, lines } = memoryLogger();
      const out = `${dir}/mine.db`;
      assert.equal(await runBackupCommand(["--out", out], config, log, () => {}), 0);
      assert.ok(await exists(out));
      assert.equal(await runBackupCommand([`--out=${out}`], config, log, () => {}), 1);
      assert.ok(lines.some((l) => l.includes("already exists")));
    });

    await t.step("--restore restores a backup when the bot is stopped", async () => {
      const { log } = memoryLogger();
      const s = new SqliteStorage(dbPath);
      await s.init();
      await s.saveMessages([line(2)]);
      await s.close();
      assert.equal(await runBackupCommand(["--restore", `${dir}/mine.db`], config, log, () => {}), 0);
      const r = new SqliteStorage(dbPath);
      await r.init();
      assert.deepEqual((await r.recentMessages("chan", 5)).map((x) => x.id), ["msg-1"]);
      await r.close();
    });

    await t.step("bad arguments exit 2 with the usage", async () => {
      const { log, lines } = memoryLogger();
      assert.equal(await runBackupCommand(["--bogus"], config, log, () => {}), 2);
      assert.equal(await runBackupCommand(["--out"], config, log, () => {}), 2);
      assert.ok(lines.some((l) => l.includes("Usage: backup")));
    });

    await t.step("a bare PATH is the destination, like --out PATH", async () => {
      const { log } = memoryLogger();
      const printed: string[] = [];
      const out = `${dir}/positional.db`;
      assert.equal(await runBackupCommand([out], config, log, (l) => printed.push(l)), 0);
      assert.deepEqual(printed, [out]);
      assert.ok(await exists(out));
      const { log: log2, lines } = memoryLogger();
      assert.equal(
        await runBackupCommand([`${dir}/a.db`, "--out", `${dir}/b.db`], config, log2, () => {}),
        2,
      );
      assert.equal(await runBackupCommand([`${dir}/a.db`, `${dir}/b.db`], config, log2, () => {}), 2);
      assert.equal(await runBackupCommand([`${dir}/a.db`, "--restore", out], config, log2, () => {}), 2);
      assert.equal(await runBackupCommand(["mysql://u:Hunter99@h/db"], config, log2, () => {}), 2);
      assert.equal(await runBackupCommand(["--out=mysql://u:Hunter99@h/db"], config, log2, () => {}), 2);
      assert.ok(!lines.join("\n").includes("Hunter99"), lines.join("\n"));
      assert.ok(!(await exists(`${dir}/a.db`)) && !(await exists(`${dir}/b.db`)));
      assert.ok(lines.some((l) => l.includes("Usage: backup")), lines.join("\n"));
    });

    await t.step(
      "a mysql:// URL with DATABASE_TYPE sqlite exits 2, hides the password and writes nothing",
      async () => {
        const cwd = Deno.cwd();
        const scratch = await Deno.makeTempDir();
        Deno.chdir(scratch);
        try {
          const wrong = ConfigSchema.parse({ database: { url: "mysql://clank:S3cretPass@db:3306/clank" } });
          for (const args of [[], ["--restore", `${dir}/mine.db`]]) {
            const { log, lines } = memoryLogger();
            assert.equal(await runBackupCommand(args, wrong, log, () => {}), 2);
            assert.match(lines.join("\n"), /DATABASE_URL is a mysql:\/\/ URL but DATABASE_TYPE is sqlite/);
            assert.ok(!lines.join("\n").includes("S3cretPass"), lines.join("\n"));
          }
          assert.deepEqual([...Deno.readDirSync(scratch)], []);
        } finally {
          Deno.chdir(cwd);
          await Deno.remove(scratch, { recursive: true });
        }
      },
    );

    await t.step("for MySQL it prints the mysqldump command, without the password, and exits 1", async () => {
      const { log, lines } = memoryLogger();
      const printed: string[] = [];
      const mysqlConfig = ConfigSchema.parse({
        database: { type: "mysql", url: "mysql://bot:hunter2hunter2@db.local:3307/clank" },
      });
      assert.equal(await runBackupCommand([], mysqlConfig, log, (l) => printed.push(l)), 1);
      assert.match(printed[0]!, /^mysqldump --single-transaction .*-h db\.local -P 3307 -u bot -p clank > /);
      assert.ok(lines.some((l) => l.includes("mysqldump")));
      assert.ok(![...lines, ...printed].join("\n").includes("hunter2hunter2"));
      assert.ok(!mysqldumpCommand("mysql://bot@db/clank").includes(" -p "));
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
