/**
 * Memory: resident set size of a bot in 500 channels with 500 lines of context each.
 *
 * The database is filled once with 500 × 500 chat lines. Each run starts a separate bot process
 * (`bench/memory_child.ts`) on it: the bot restores every channel's context at start (the restore
 * path), joins the 500 channels on its own fake Twitch, handles 10 more lines per channel sent
 * through the whole pipeline, collects garbage (`--expose-gc`) and reports `Deno.memoryUsage()`
 * twice: right after loading, and after idling {@link SETTLE_MS} — freed memory goes back to the
 * system only some seconds after the start-up peak, and a bot runs for hours, so the settled figure
 * is the one with the target. The runs' processes run side by side to keep the suite short; the
 * figure is per process.
 * @module
 */
import { fileURLToPath } from "node:url";
import { SqliteStorage } from "../core/storage_sqlite.ts";
import type { ChatRecord } from "../core/storage.ts";
import { startFakeOllama } from "../tests/fakes/fake_ollama.ts";
import { type FakeTwitch, startFakeTwitch } from "../tests/fakes/fake_twitch.ts";
import { BENCH_TOKEN, channelNames, moderatorBadges, seedSpontaneousCooldown } from "./bench_bot.ts";
import { chatText, seededRandom, viewerName } from "./chat_lines.ts";
import type { MemoryChildArgs, MemoryChildResult } from "./memory_child.ts";
import type { Figure } from "./report.ts";
import type { BenchOptions } from "./suite.ts";
import { benchMain } from "./suite.ts";

const CHANNELS = 500;
const CONTEXT = 500;
/** Lines per channel sent through the pipeline after the restore. */
const LIVE_LINES = 10;
/** Idle time between the two measurements. */
const SETTLE_MS = 20_000;
/** Bot processes measured at the same time (each holds a few hundred MB). */
const SIDE_BY_SIDE = 5;
const CHILD = fileURLToPath(new URL("./memory_child.ts", import.meta.url));
const MB = 1024 * 1024;

/** Fills the database with `perChannel` lines in each channel, oldest first. */
async function fillDatabase(path: string, channels: string[], perChannel: number): Promise<void> {
  const storage = new SqliteStorage(path);
  await storage.init();
  const rand = seededRandom(42);
  const start = Date.now() - perChannel * 5_000;
  for (const channel of channels) {
    const records: ChatRecord[] = [];
    for (let i = 0; i < perChannel; i++) {
      const user = viewerName(Math.floor(rand() * 3000));
      records.push({
        channel,
        id: `${channel}-${i}`,
        userId: String(1000 + Math.floor(rand() * 3000)),
        user,
        displayName: user,
        text: chatText(rand),
        time: start + i * 5_000,
        bot: false,
      });
    }
    await storage.saveMessages(records);
  }
  await storage.close();
  await seedSpontaneousCooldown(path, channels);
}

/** Reads the child's stdout line by line, handing each line to `onLine`. */
async function readLines(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void): Promise<void> {
  let buffer = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    let nl: number;
    while ((nl = buffer.indexOf("\n")) !== -1) {
      onLine(buffer.slice(0, nl));
      buffer = buffer.slice(nl + 1);
    }
  }
  if (buffer !== "") onLine(buffer);
}

async function measureOnce(
  twitch: FakeTwitch,
  args: MemoryChildArgs,
  seed: number,
): Promise<{ loaded: MemoryChildResult; settled: MemoryChildResult }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--unstable-worker-options", "--v8-flags=--expose-gc", "-A", CHILD, JSON.stringify(args)],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let loaded: MemoryChildResult | undefined;
  let settled: MemoryChildResult | undefined;
  const rand = seededRandom(seed);
  const reading = readLines(child.stdout, (line) => {
    if (line === "READY") {
      for (const channel of args.channels) {
        const lines = Array.from({ length: LIVE_LINES }, () => ({
          login: viewerName(Math.floor(rand() * 3000)),
          text: chatText(rand),
        }));
        twitch.blast(channel, lines, LIVE_LINES);
      }
    } else if (line.startsWith("LOADED ")) {
      loaded = JSON.parse(line.slice("LOADED ".length)) as MemoryChildResult;
    } else if (line.startsWith("MEMORY ")) {
      settled = JSON.parse(line.slice("MEMORY ".length)) as MemoryChildResult;
    }
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), 180_000);
  const status = await child.status;
  clearTimeout(timer);
  await reading;
  if (!status.success || loaded === undefined || settled === undefined) {
    throw new Error(`The memory child exited with code ${status.code} before reporting its memory`);
  }
  return { loaded, settled };
}

/** Runs the memory benchmark. */
export async function benchMemory(options: BenchOptions): Promise<Figure[]> {
  const dir = await Deno.makeTempDir({ prefix: "clank-bench-memory-" });
  const ollama = await startFakeOllama();
  const twitches: FakeTwitch[] = [];
  const channels = channelNames(CHANNELS);
  const settledRss: number[] = [];
  const loadedRss: number[] = [];
  const heap: number[] = [];
  try {
    const databaseUrl = `${dir}/memory.db`;
    options.progress(`filling the database with ${CHANNELS} × ${CONTEXT} lines`);
    await fillDatabase(databaseUrl, channels, CONTEXT);
    for (let run = 0; run < options.runs; run++) {
      // Moderator everywhere: Twitch allows 100 channels where the bot is not one.
      twitches.push(await startFakeTwitch({ tokens: [BENCH_TOKEN], badges: moderatorBadges(channels) }));
    }
    options.progress(
      `starting ${options.runs} bots side by side, each idles ${SETTLE_MS / 1000} s after loading`,
    );
    const measure = (twitch: FakeTwitch, run: number) =>
      measureOnce(twitch, {
        ircUrl: twitch.url,
        ollamaUrl: ollama.url,
        dir,
        databaseUrl,
        channels,
        lines: CHANNELS * LIVE_LINES,
        context: CONTEXT,
        settleMs: SETTLE_MS,
      }, run + 1);
    const results: Array<Awaited<ReturnType<typeof measureOnce>>> = [];
    for (let first = 0; first < twitches.length; first += SIDE_BY_SIDE) {
      const wave = twitches.slice(first, first + SIDE_BY_SIDE);
      results.push(...await Promise.all(wave.map((twitch, i) => measure(twitch, first + i))));
    }
    for (const [run, { loaded, settled }] of results.entries()) {
      for (const r of [loaded, settled]) {
        if (!r.gc) throw new Error("The memory child could not collect garbage (--expose-gc)");
        if (r.contextLines !== CHANNELS * CONTEXT) {
          throw new Error(`The bot held ${r.contextLines} context lines, expected ${CHANNELS * CONTEXT}`);
        }
      }
      loadedRss.push(loaded.rss / MB);
      settledRss.push(settled.rss / MB);
      heap.push(settled.heapUsed / MB);
      options.progress(
        `run ${run + 1}: RSS ${(loaded.rss / MB).toFixed(1)} MB after loading, ${
          (settled.rss / MB).toFixed(1)
        } MB ` +
          `settled; heap used ${(settled.heapUsed / MB).toFixed(1)} MB of ${
            (settled.heapTotal / MB).toFixed(1)
          } MB`,
      );
    }
  } finally {
    await Promise.all(twitches.map((t) => t.close()));
    await ollama.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  const what = `${CHANNELS} channels × ${CONTEXT} context lines`;
  return [
    {
      group: "Memory",
      name: `RSS, ${what}, settled`,
      unit: "MB",
      runs: settledRss,
      target: { op: "<", value: 250 },
      note:
        `context restored from SQLite at start, then ${LIVE_LINES} lines per channel through the pipeline; ` +
        `measured after three forced GCs, ${SETTLE_MS / 1000} s after loading; MB = 2^20 bytes`,
    },
    { group: "Memory", name: `RSS, ${what}, right after loading`, unit: "MB", runs: loadedRss },
    { group: "Memory", name: "JS heap used, settled", unit: "MB", runs: heap },
  ];
}

if (import.meta.main) await benchMain("memory", benchMemory);
