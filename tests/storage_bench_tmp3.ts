import { DatabaseSync } from "node:sqlite";
import { MIGRATIONS } from "../core/migrations.ts";
const [B, cache, ckpt, dropIdx] = Deno.args;
const dir = await Deno.makeTempDir();
const db = new DatabaseSync(`${dir}/b.db`);
db.exec("PRAGMA auto_vacuum=INCREMENTAL; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL");
if (cache) db.exec(`PRAGMA cache_size=${cache}`);
if (ckpt) db.exec(`PRAGMA wal_autocheckpoint=${ckpt}`);
for (const s of MIGRATIONS[0]!.up.sqlite) db.exec(s);
for (const i of (dropIdx ?? "").split(",").filter(Boolean)) db.exec(`DROP INDEX ${i}`);
const N = 200000;
const ids = Array.from({ length: N }, () => crypto.randomUUID());
const ins = db.prepare(
  "INSERT OR IGNORE INTO messages (channel, msg_id, user_id, login, display_name, text, time_ms, bot, kind) VALUES (?,?,?,?,?,?,?,?,?)",
);
const t0 = performance.now();
const b = Number(B);
for (let i = 0; i < N; i += b) {
  db.exec("BEGIN IMMEDIATE");
  for (let j = i; j < i + b && j < N; j++) {
    ins.run(
      ["a", "b", "c", "d"][j % 4]!,
      ids[j]!,
      `${j % 500}`,
      `user${j % 500}`,
      `User${j % 500}`,
      `hello world this is line ${j} Kappa 🎉 some more text`,
      1_700_000_000_000 + j,
      0,
      null,
    );
  }
  db.exec("COMMIT");
}
const dt = (performance.now() - t0) / 1000;
console.log(Deno.args.join(" "), `${Math.round(N / dt)} rows/s`);
db.close();
await Deno.remove(dir, { recursive: true });
