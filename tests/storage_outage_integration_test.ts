/**
 * The whole bot on MySQL (the local MariaDB) while its database goes away mid-run: the bot keeps
 * chatting from memory, `/readyz` says the database is unavailable, and every chat line of the
 * outage is in the database once it is back.
 *
 * The outage is real server behaviour: the bot's own account is locked (new connections are
 * refused with "Access denied") and its open connections are killed, as when a database is
 * restarted or an operator cuts the bot off.
 */
import { assert, assertEquals, assertMatch } from "./assert.ts";
import { startHarness } from "./fakes/bot_harness.ts";
import { createTestDatabase, MARIADB } from "./fakes/storage_fixtures.ts";

/** `/readyz` status and body. */
async function readyz(base: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(new URL("readyz", base));
  return { status: res.status, body: await res.json() };
}

/** Rejects with `what` after `ms`, so a hang fails with a reason instead of a test timeout. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) =>
        timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms)
      ),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("a running bot survives a database outage and stores the outage's chat afterwards", async (t) => {
  const db = await createTestDatabase();
  // Its own account, so the outage can lock the bot out without touching anyone else's.
  const user = `clank_out_${crypto.randomUUID().replaceAll("-", "").slice(0, 8)}`;
  const account = `'${user}'@'${MARIADB.host}'`;
  await db.admin.query(`CREATE USER ${account}`);
  let h: Awaited<ReturnType<typeof startHarness>> | undefined;
  try {
    await db.admin.query(`GRANT ALL PRIVILEGES ON \`${db.name}\`.* TO ${account}`);
    h = await startHarness({
      config: {
        database: { type: "mysql", url: `mysql://${user}@${MARIADB.host}:${MARIADB.port}/${db.name}` },
        http: { listen: "127.0.0.1:0" },
      },
      ollama: { reply: () => "still here, chatting from memory" },
    });
    const harness = h;
    const base = harness.bot.httpUrl!;
    const storedTexts = async () => {
      const [rows] = await db.admin.query(`SELECT text FROM \`${db.name}\`.messages`);
      return new Set((rows as { text: string }[]).map((r) => r.text));
    };

    await t.step("ready and storing chat before the outage", async () => {
      await harness.say("alpha", "speedyfan", "before the outage");
      await within(harness.bot.storage.flush(), 10_000, "the first line to be stored");
      assert((await storedTexts()).has("before the outage"));
      assertEquals((await readyz(base)).status, 200);
    });

    const outageLines = Array.from({ length: 12 }, (_, i) => `during the outage ${i}`);
    await t.step("the database goes away: the bot keeps chatting, /readyz names the database", async () => {
      await db.admin.query(`ALTER USER ${account} ACCOUNT LOCK`);
      const [conns] = await db.admin.query(
        "SELECT ID AS id FROM information_schema.PROCESSLIST WHERE USER = ?",
        [user],
      );
      assert((conns as unknown[]).length > 0, "the bot had no connection to kill");
      for (const { id } of conns as { id: number }[]) {
        await db.admin.query(`KILL CONNECTION ${Number(id)}`).catch(() => {}); // may have closed meanwhile
      }

      const say = (i: number) => harness.say(i % 2 === 0 ? "alpha" : "beta", `viewer${i}`, outageLines[i]!);
      for (let i = 0; i < 6; i++) await say(i);
      // The buffer's flush (at most 250 ms after the first line) fails; from now on it is buffering.
      await harness.twitch.waitFor(
        () => harness.logs.some((l) => l.includes("Database unavailable; buffering writes")),
        10_000,
        "the write buffer to fail a write",
      );
      for (let i = 6; i < outageLines.length; i++) await say(i);

      const sentBefore = harness.twitch.privmsgs.length;
      await harness.say("alpha", "riverotter", "@clankbot are you still there?");
      await harness.twitch.waitFor(
        () => harness.twitch.privmsgs.length > sentBefore,
        10_000,
        "a reply during the outage",
      );
      const reply = harness.twitch.privmsgs.at(-1)!;
      assertEquals(reply.channel, "alpha");
      assertMatch(reply.text, /^@riverotter still here, chatting from memory/);
      // The prompt was built from chat held in memory, including lines the database never got.
      const prompt = JSON.stringify(harness.ollama.generations().at(-1)!.body);
      assert(prompt.includes("during the outage 10"), prompt);

      const ready = await readyz(base);
      assertEquals(ready.status, 503);
      const reasons = ready.body.reasons as string[];
      assert(
        reasons.some((r) => /^database is unavailable: .*(locked|Access denied)/.test(r)),
        reasons.join("; "),
      );
      assertEquals((ready.body.database as { writable: boolean }).writable, false);
      const status = harness.bot.storage.status();
      assertEquals(status.writable, false);
      assert(status.buffered >= outageLines.length + 2, `only ${status.buffered} writes buffered`);
      const stored = await storedTexts();
      assert(!outageLines.some((l) => stored.has(l)), "a line reached the database during the outage");
    });

    await t.step("the database is back: every line of the outage is stored, /readyz is 200", async () => {
      await db.admin.query(`ALTER USER ${account} ACCOUNT UNLOCK`);
      // flush() resolves once everything buffered is committed (after the buffer's next retry).
      await within(harness.bot.storage.flush(), 60_000, "the buffered lines to be stored");
      const stored = await storedTexts();
      for (const text of [...outageLines, "@clankbot are you still there?"]) {
        assert(stored.has(text), `"${text}" is missing from the database`);
      }
      assert(
        [...stored].some((text) => text.includes("still here, chatting from memory")),
        "the bot's own reply is missing from the database",
      );
      assertEquals(harness.bot.storage.status(), { writable: true, buffered: 0, error: null });
      assertEquals((await readyz(base)).status, 200);
      assert(harness.logs.some((l) => l.includes("Database available again")));
    });
  } finally {
    // A failed step may leave the account locked; unlocked, the bot's stop can flush instead of timing out.
    await db.admin.query(`ALTER USER ${account} ACCOUNT UNLOCK`).catch(() => {});
    await h?.stop();
    await db.admin.query(`DROP USER IF EXISTS ${account}`).catch(() => {});
    await db.drop();
  }
});
