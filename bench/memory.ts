/**
 * Memory: resident set size of a bot in 500 channels with 500 lines of context each.
 *
 * The database is filled once with 500 × 500 chat lines. Each run starts a separate bot process
 * (`bench/memory_child.ts`) on it: the bot restores every channel's context at start (the restore
 * path), joins the 500 channels on the fake Twitch, handles 10 more lines per channel sent through
 * the whole pipeline, collects garbage (`--expose-gc`) and reports `Deno.memoryUsage()`.
 * @module
 */
import { fileURLToPath } from "node:url";
import { SqliteStorage } from "../core/storage_sqlite.ts";
import type { ChatRecord } from "../core/storage.ts";
import { startFakeOllama } from "../tests/fakes/fake_ollama.ts";
import { type FakeTwitch, startFakeTwitch } from "../tests/fakes/fake_twitch.ts";
import { BENCH_TOKEN, channelNames, seedSpontaneousCooldown } from "./bench_bot.ts";
import { chatText, seededRandom, viewerName } from "./chat_lines.ts";
import type { MemoryChildArgs, MemoryChildResult } from "./memory_child.ts";
import type { Figure } from "./report.ts";
import type { BenchOptions } from "./suite.ts";
import { benchMain } from "./suite.ts";

const CHANNELS = 500;
const CONTEXT = 500;
/** Lines per channel sent through the pipeline after the restore. */
const LIVE_LINES = 10;
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

async function measureOnce(twitch: FakeTwitch, args: MemoryChildArgs, seed: number): Promise<MemoryChildResult> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--unstable-worker-options", "--v8-flags=--expose-gc", "-A", CHILD, JSON.stringify(args)],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let result: MemoryChildResult | undefined;
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
    } else if (line.startsWith("MEMORY ")) {
      result = JSON.parse(line.slice("MEMORY ".length)) as MemoryChildResult;
    }
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
  const status = await child.status;
  clearTimeout(timer);
  await reading;
  if (!status.success || result === undefined) {
    throw new Error(`The memory child exited with code ${status.code} before reporting its memory`);
  }
  return result;
}

/** Runs the memory benchmark. */
export async function benchMemory(options: BenchOptions): Promise<Figure[]> {
  const dir = await Deno.makeTempDir({ prefix: "clank-bench-memory-" });
  const twitch = await startFakeTwitch({ tokens: [BENCH_TOKEN] });
  const ollama = await startFakeOllama();
  const channels = channelNames(CHANNELS);
  const rss: number[] = [];
  const heap: number[] = [];
  let contextLines = 0;
  try {
    const databaseUrl = `${dir}/memory.db`;
    options.progress(`filling the database with ${CHANNELS} × ${CONTEXT} lines`);
    await fillDatabase(databaseUrl, channels, CONTEXT);
    for (let run = 0; run < options.runs; run++) {
      const args: MemoryChildArgs = {
        ircUrl: twitch.url,
        ollamaUrl: ollama.url,
        dir,
        databaseUrl,
        channels,
        lines: CHANNELS * LIVE_LINES,
        context: CONTEXT,
      };
      const r = await measureOnce(twitch, args, run + 1);
      if (!r.gc) throw new Error("The memory child could not collect garbage (--expose-gc)");
      rss.push(r.rss / MB);
      heap.push(r.heapUsed / MB);
      contextLines = r.contextLines;
      options.progress(
        `run ${run + 1}: RSS ${(r.rss / MB).toFixed(1)} MB, heap used ${(r.heapUsed / MB).toFixed(1)} MB, ` +
          `context ${r.contextLines} lines`,
      );
    }
  } finally {
    await twitch.close();
    await ollama.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  if (contextLines !== CHANNELS * CONTEXT) {
    throw new Error(`The bot held ${contextLines} context lines, expected ${CHANNELS * CONTEXT}`);
  }
  return [
    {
      group: "Memory",
      name: `RSS, ${CHANNELS} channels × ${CONTEXT} context lines`,
      unit: "MB",
      runs: rss,
      target: { op: "<", value: 250 },
      note: `context restored from SQLite at start, then ${LIVE_LINES} lines per channel through the pipeline; ` +
        "measured after three forced GCs; MB = 2^20 bytes",
    },
    { group: "Memory", name: "JS heap used, same process", unit: "MB", runs: heap },
  ];
}

if (import.meta.main) await benchMain("memory", benchMemory);
