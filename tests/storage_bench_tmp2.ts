import { SqliteStorage } from "../core/storage_sqlite.ts";
const dir = await Deno.makeTempDir();
const backend = new SqliteStorage(`${dir}/b.db`);
await backend.init();
const N = 200000;
const recs = Array.from(
  { length: N },
  (_, j) => ({
    channel: ["a", "b", "c", "d"][j % 4]!,
    id: `m${j}`,
    userId: `${j % 500}`,
    user: `user${j % 500}`,
    displayName: `User${j % 500}`,
    text: `hello world this is line ${j} Kappa 🎉 some more text`,
    time: 1_700_000_000_000 + j,
    bot: false,
  }),
);
const B = Number(Deno.args[0] ?? 500);
const t0 = performance.now();
for (let i = 0; i < N; i += B) await backend.saveMessages(recs.slice(i, i + B));
const dt = (performance.now() - t0) / 1000;
console.log(`batch ${B}: ${Math.round(N / dt)} rows/s`);
await backend.close();
await Deno.remove(dir, { recursive: true });
