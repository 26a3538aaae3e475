import { SqliteStorage } from "../core/storage_sqlite.ts";
import { BufferedStorage } from "../core/write_buffer.ts";
import { memoryLogger } from "../core/log.ts";
import { Metrics } from "../core/metrics.ts";
const mode = Deno.args[0] ?? "sqlite";
const N = 300000;
const dir = await Deno.makeTempDir();
const sqlite = new SqliteStorage(`${dir}/b.db`);
if (mode === "null") sqlite.saveMessages = () => Promise.resolve();
const backend = sqlite;
const { log } = memoryLogger("info");
const buf = new BufferedStorage(backend as SqliteStorage, {
  log,
  metrics: new Metrics(),
  maxBuffered: 1_000_000,
  batchSize: Number(Deno.args[1] ?? 500),
});
await buf.init();
const ids = Array.from({ length: N }, () => crypto.randomUUID());
const chans = ["a", "b", "c", "d"];
const t0 = performance.now();
let sizes = 0, groups = 0;
for (let i = 0; i < N; i += 1000) {
  for (let j = i; j < i + 1000 && j < N; j++) {
    void buf.saveMessage({
      channel: chans[j % 4]!,
      id: ids[j]!,
      userId: `${j % 500}`,
      user: `user${j % 500}`,
      displayName: `User${j % 500}`,
      text: `hello world this is line ${j} Kappa 🎉 some more text`,
      time: 1_700_000_000_000 + j,
      bot: false,
    });
  }
  sizes += buf.buffered;
  groups++;
  await new Promise((r) => setTimeout(r, 0));
}
await buf.flush();
const dt = (performance.now() - t0) / 1000;
console.log(
  mode,
  `${N} lines in ${dt.toFixed(2)} s = ${Math.round(N / dt)} lines/s; avg buffered ${
    Math.round(sizes / groups)
  }`,
);
await buf.close();
await Deno.remove(dir, { recursive: true });
