/**
 * Allocation: bytes the bot allocates per chat line and per reply, sampled with V8's heap profiler
 * (`node:inspector`, one sample per {@link SAMPLING_INTERVAL} bytes, garbage included). Not a speed,
 * but what sets how often the young generation fills and a scavenge pauses the bot: the reply tail.
 *
 * - Per chat line: a bot in 50 channels takes {@link LINES} lines from the fake Twitch (after a
 *   warm-up of {@link WARMUP_LINES}), everything on this thread, fakes included; the figure counts
 *   only what was allocated under the bot's own frames (`core/`, `plugins/`, `filters/`) and tmi.js.
 * - Per reply: mentions answered one at a time, the fakes on a thread of their own (another heap),
 *   as in `reply_overhead.ts`; everything this thread allocated counts.
 * @module
 */
import "../core/node_warnings.ts";
import { Session } from "node:inspector/promises";
import { startFakeTwitch } from "../tests/fakes/fake_twitch.ts";
import { BENCH_BOT, BENCH_TOKEN, channelNames, moderatorBadges, startBenchBot } from "./bench_bot.ts";
import { renderFrames } from "./ingest.ts";
import type { Figure } from "./report.ts";
import { CHANNEL, fakesInWorker, withReplyBot } from "./reply_overhead.ts";
import { benchMain, type BenchOptions, sleep } from "./suite.ts";

/** Bytes per heap-profiler sample. */
export const SAMPLING_INTERVAL = 512;
const CHANNELS = 50;
const WARMUP_LINES = 5_000;
const LINES = 20_000;
const WARMUP_MENTIONS = 10;
const MENTIONS = 60;

/** The parts of a sampling heap profile this benchmark reads. */
export interface HeapProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: HeapProfileNode[];
}

/** Whose frames an allocation happened under. */
export type Owner = "bot" | "tmi.js" | "other";

/** Where a frame's code lives: the bot's own modules, tmi.js, or anything else (fakes, runtime). */
export function ownerOf(url: string): Owner | undefined {
  if (/\/(core|plugins|filters|commands)\/[^/]+\.ts$/.test(url) && !/\/tests\//.test(url)) return "bot";
  if (/tmi\.js/.test(url)) return "tmi.js";
  return undefined;
}

/**
 * Bytes per owner: each sample goes to the innermost frame on its stack that belongs to the bot or
 * tmi.js (runtime code called by the bot is the bot's), else to "other". Also the bot's top sites.
 */
export function allocationByOwner(
  head: HeapProfileNode,
): { bytes: Record<Owner, number>; sites: Map<string, number> } {
  const bytes: Record<Owner, number> = { bot: 0, "tmi.js": 0, other: 0 };
  const sites = new Map<string, number>();
  const walk = (node: HeapProfileNode, owner: Owner, site: string) => {
    const own = ownerOf(node.callFrame.url);
    if (own !== undefined) {
      owner = own;
      const file = node.callFrame.url.replace(/^.*\/(core|plugins|filters|commands)\//, "$1/");
      site = `${node.callFrame.functionName || "(anonymous)"} (${file})`;
    }
    bytes[owner] += node.selfSize;
    if (owner === "bot" && node.selfSize > 0) sites.set(site, (sites.get(site) ?? 0) + node.selfSize);
    for (const child of node.children) walk(child, owner, site);
  };
  walk(head, "other", "");
  return { bytes, sites };
}

/** Samples what `fn` allocates, garbage included. */
async function sampled(fn: () => Promise<void>): Promise<HeapProfileNode> {
  const session = new Session();
  session.connect();
  try {
    await session.post("HeapProfiler.startSampling", {
      samplingInterval: SAMPLING_INTERVAL,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
    await fn();
    const { profile } = await session.post("HeapProfiler.stopSampling");
    return profile.head as HeapProfileNode;
  } finally {
    session.disconnect();
  }
}

function topSites(sites: Map<string, number>, per: number, count: number): string {
  return [...sites].sort((a, b) => b[1] - a[1]).slice(0, count)
    .map(([site, bytes]) => `${site} ${(bytes / per / 1024).toFixed(1)} KB`).join(", ");
}

/** Bot allocation per chat line, KB, one run. */
async function perLine(run: number): Promise<{ kb: number; tmiKb: number; sites: string }> {
  const channels = channelNames(CHANNELS);
  const twitch = await startFakeTwitch({ tokens: [BENCH_TOKEN], badges: moderatorBadges(channels) });
  const bench = await startBenchBot({ channels, twitch, spontaneousCooldown: true });
  try {
    for (const frame of renderFrames(twitch, channels, WARMUP_LINES, 10 * run + 1)) twitch.sendRaw(frame);
    await bench.arrivals(WARMUP_LINES);
    await bench.bot.host.settled();
    await bench.bot.storage.flush();
    const frames = renderFrames(twitch, channels, LINES, 10 * run + 2);
    const head = await sampled(async () => {
      for (const frame of frames) twitch.sendRaw(frame);
      await bench.arrivals(WARMUP_LINES + LINES);
      await bench.bot.host.settled();
      await bench.bot.storage.flush();
    });
    const { bytes, sites } = allocationByOwner(head);
    return {
      kb: bytes.bot / LINES / 1024,
      tmiKb: bytes["tmi.js"] / LINES / 1024,
      sites: topSites(sites, LINES, 4),
    };
  } finally {
    await bench.stop();
    await twitch.close();
  }
}

/** Allocation per reply, KB, one run (a fresh bot, as in reply_overhead.ts). */
async function perReply(run: number): Promise<{ kb: number; sites: string }> {
  const waiters = new Map<number, () => void>();
  const fakes = await fakesInWorker({
    channel: CHANNEL,
    bot: BENCH_BOT,
    token: BENCH_TOKEN,
    seed: 104_729 * (run + 1),
    onResult: (k) => waiters.get(k)?.(),
  });
  return await withReplyBot(fakes, async () => {
    const mention = async (k: number) => {
      const answered = new Promise<void>((resolve) => waiters.set(k, resolve));
      fakes.mention(k, `asker_${run}_${k}`);
      await answered;
      waiters.delete(k);
      await sleep(10);
    };
    for (let k = 0; k < WARMUP_MENTIONS; k++) await mention(k);
    const head = await sampled(async () => {
      for (let k = WARMUP_MENTIONS; k < WARMUP_MENTIONS + MENTIONS; k++) await mention(k);
    });
    const { bytes, sites } = allocationByOwner(head);
    const all = bytes.bot + bytes["tmi.js"] + bytes.other;
    return { kb: all / MENTIONS / 1024, sites: topSites(sites, MENTIONS, 4) };
  });
}

/** Runs the allocation benchmark. */
export async function benchAllocation(options: BenchOptions): Promise<Figure[]> {
  const line: number[] = [];
  const tmi: number[] = [];
  const reply: number[] = [];
  let lineSites = "";
  let replySites = "";
  for (let run = 0; run < options.runs; run++) {
    const l = await perLine(run);
    const r = await perReply(run);
    line.push(l.kb);
    tmi.push(l.tmiKb);
    reply.push(r.kb);
    lineSites = l.sites;
    replySites = r.sites;
    options.progress(
      `run ${run + 1}: ${l.kb.toFixed(1)} KB per chat line (tmi.js ${l.tmiKb.toFixed(1)} KB), ` +
        `${r.kb.toFixed(1)} KB per reply`,
    );
  }
  return [
    {
      group: "Allocation",
      name: `bot, per chat line (${CHANNELS} channels)`,
      unit: "KB",
      runs: line,
      note: `sampled with V8's heap profiler, garbage included, ${LINES} lines per run; largest sites in ` +
        `the last run: ${lineSites}`,
    },
    { group: "Allocation", name: "tmi.js parsing, per chat line", unit: "KB", runs: tmi },
    {
      group: "Allocation",
      name: "bot's thread, per reply",
      unit: "KB",
      runs: reply,
      note:
        `${MENTIONS} mentions per run, fakes on their own thread; largest sites in the last run: ${replySites}`,
    },
  ];
}

if (import.meta.main) await benchMain("allocation", benchAllocation);
