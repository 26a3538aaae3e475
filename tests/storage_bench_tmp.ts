import { SqliteStorage } from "../core/storage_sqlite.ts";
import { BufferedStorage } from "../core/write_buffer.ts";
import { memoryLogger } from "../core/log.ts";
import { Metrics } from "../core/metrics.ts";
const dir = await Deno.makeTempDir();
const backend = new SqliteStorage(`${dir}/b.db`);
const { log } = memoryLogger("info");
const buf = new BufferedStorage(backend, { log, metrics: new Metrics(), maxBuffered: 1_000_000 });
await buf.init();
const N = Number(Deno.args[0] ?? 300000);
const t0 = performance.now();
const chans = ["a", "b", "c", "d"];
// feed in chunks of 1000 per macrotask, like a socket would
for (let i = 0; i < N; i += 1000) {
  for (let j = i; j < i + 1000 && j < N; j++) {
    void buf.saveMessage({
      channel: chans[j % 4]!,
      id: crypto.randomUUID(),
      userId: `${j % 500}`,
      user: `user${j % 500}`,
      displayName: `User${j % 500}`,
      text: `hello world this is line ${j} Kappa 🎉 some more text`,
      time: 1_700_000_000_000 + j,
      bot: false,
    });
  }
  await new Promise((r) => setTimeout(r, 0));
}
await buf.flush();
const dt = (performance.now() - t0) / 1000;
console.log(
  `${N} lines in ${dt.toFixed(2)} s = ${Math.round(N / dt)} lines/s; count=${await backend.countRows(
    "messages",
  )}`,
);
await buf.close();
await Deno.remove(dir, { recursive: true });
