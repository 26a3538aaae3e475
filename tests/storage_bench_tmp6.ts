import { SqliteStorage } from "../core/storage_sqlite.ts";
import { BufferedStorage } from "../core/write_buffer.ts";
import { memoryLogger } from "../core/log.ts";
import { Metrics } from "../core/metrics.ts";
const rate = Number(Deno.args[0] ?? 60000);
const seconds = Number(Deno.args[1] ?? 10);
const dir = await Deno.makeTempDir();
const backend = new SqliteStorage(`${dir}/b.db`);
const { log } = memoryLogger("info");
const buf = new BufferedStorage(backend, { log, metrics: new Metrics(), maxBuffered: 5_000_000 });
await buf.init();
const chans = Array.from({ length: 20 }, (_, i) => `chan${i}`);
let produced = 0, maxBuf = 0;
const t0 = performance.now();
while (performance.now() - t0 < seconds * 1000) {
  const due = Math.floor(((performance.now() - t0) / 1000) * rate);
  for (; produced < due; produced++) {
    const j = produced;
    void buf.saveMessage({
      channel: chans[j % 20]!,
      id: crypto.randomUUID(),
      userId: `${(j * 7919) % 5000}`,
      user: `user${(j * 7919) % 5000}`,
      displayName: `User${(j * 7919) % 5000}`,
      text: `hello world this is line ${j} Kappa 🎉 some more text here`,
      time: Date.now(),
      bot: false,
    });
  }
  maxBuf = Math.max(maxBuf, buf.buffered);
  await new Promise((r) => setTimeout(r, 0));
}
const tProduce = (performance.now() - t0) / 1000;
await buf.flush();
const dt = (performance.now() - t0) / 1000;
console.log(
  `target ${rate}/s for ${seconds}s: produced ${produced} (${
    Math.round(produced / tProduce)
  }/s), all stored after ${dt.toFixed(2)} s => ${
    Math.round(produced / dt)
  } lines/s; max backlog ${maxBuf}; rows=${await backend.countRows("messages")}`,
);
await buf.close();
await Deno.remove(dir, { recursive: true });
