import { DatabaseSync } from "node:sqlite";
import { MIGRATIONS } from "../core/migrations.ts";
const [B, R, N0, extra, drop] = Deno.args;
const dir = await Deno.makeTempDir();
const db = new DatabaseSync(`${dir}/b.db`);
db.exec(
  "PRAGMA auto_vacuum=INCREMENTAL; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-65536; PRAGMA wal_autocheckpoint=10000",
);
if (extra) db.exec(extra);
for (const s of MIGRATIONS[0]!.up.sqlite) db.exec(s);
for (const i of (drop ?? "").split(",").filter(Boolean)) db.exec(`DROP INDEX ${i}`);
const N = Number(N0 ?? 200000);
const ids = Array.from({ length: N }, () => crypto.randomUUID());
const rows = Number(R ?? 1);
const ins = db.prepare(
  "INSERT OR IGNORE INTO messages (channel, msg_id, user_id, login, display_name, text, time_ms, bot, kind) VALUES " +
    Array(rows).fill("(?,?,?,?,?,?,?,?,?)").join(","),
);
const t0 = performance.now();
const b = Number(B);
let last = t0;
for (let i = 0; i < N; i += b) {
  db.exec("BEGIN IMMEDIATE");
  for (let j = i; j < i + b && j < N; j += rows) {
    const args: (string | number | null)[] = [];
    for (let k = j; k < j + rows; k++) {
      args.push(
        `chan${k % 20}`,
        ids[k]!,
        `${(k * 7919) % 5000}`,
        `user${(k * 7919) % 5000}`,
        `User${(k * 7919) % 5000}`,
        `hello world this is line ${k} Kappa 🎉 some more text`,
        1_700_000_000_000 + k,
        0,
        null,
      );
    }
    ins.run(...args);
  }
  db.exec("COMMIT");
  if ((i / b) % 50 === 49) {
    const now = performance.now();
    console.log(`  at ${i + b}: ${Math.round(b * 50 / ((now - last) / 1000))} rows/s`);
    last = now;
  }
}
const dt = (performance.now() - t0) / 1000;
console.log(Deno.args.join(" "), `${Math.round(N / dt)} rows/s`);
db.close();
await Deno.remove(dir, { recursive: true });
