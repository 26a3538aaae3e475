/**
 * The process `bench/memory.ts` measures: a bot on an existing database, joined to the fake Twitch of
 * the parent. It restores every channel's context from the database, prints `READY`, handles the
 * lines the parent then sends, collects garbage and prints its memory as `LOADED {json}`; then it
 * idles for `settleMs` (a running bot's allocator hands freed memory back to the system only after a
 * while), collects garbage again and prints `MEMORY {json}`.
 *
 * Run by `bench/memory.ts` as `deno run --v8-flags=--expose-gc … memory_child.ts '<json args>'`.
 * @module
 */
import { historySize } from "../plugins/chat_history.ts";
import { benchConfig, launchBot } from "./bench_bot.ts";
import { sleep, waitUntil } from "./suite.ts";

/** What the parent passes as the one argument (JSON). */
export interface MemoryChildArgs {
  ircUrl: string;
  ollamaUrl: string;
  dir: string;
  databaseUrl: string;
  channels: string[];
  /** Lines the parent sends after READY (through the pipeline). */
  lines: number;
  context: number;
  /** Milliseconds to idle between the two measurements. */
  settleMs: number;
}

/** What the child prints after `MEMORY `. */
export interface MemoryChildResult {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  /** Lines held by `chat_history`, summed over channels. */
  contextLines: number;
  gc: boolean;
}

async function collectGarbage(): Promise<boolean> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) return false;
  for (let i = 0; i < 3; i++) {
    gc();
    await sleep(50);
  }
  return true;
}

if (import.meta.main) {
  const args = JSON.parse(Deno.args[0] ?? "{}") as MemoryChildArgs;
  const config = benchConfig({
    channels: args.channels,
    ircUrl: args.ircUrl,
    ollamaUrl: args.ollamaUrl,
    dir: args.dir,
    databaseUrl: args.databaseUrl,
    defaults: { context: args.context, threshold: 200, spontaneous: 3600 },
  });
  const launched = await launchBot(config);
  await waitUntil(() => launched.transport.joined().length === args.channels.length, "the JOINs", 60_000, 5);
  console.log("READY");
  await launched.arrivals(args.lines);
  await launched.bot.host.settled();
  await launched.bot.storage.flush();
  const contextLines = () => args.channels.reduce((n, c) => n + historySize(c), 0);
  const loadedGc = await collectGarbage();
  const loaded: MemoryChildResult = { ...Deno.memoryUsage(), contextLines: contextLines(), gc: loadedGc };
  console.log(`LOADED ${JSON.stringify(loaded)}`);
  await sleep(args.settleMs);
  const gc = await collectGarbage();
  const settled: MemoryChildResult = { ...Deno.memoryUsage(), contextLines: contextLines(), gc };
  console.log(`MEMORY ${JSON.stringify(settled)}`);
  await launched.bot.stop();
  Deno.exit(0);
}
