/**
 * Ingest: chat lines per second through the whole pipeline (tmi.js parsing, facts, input filters,
 * in-order section, bookkeeping and batched storage, observers, cooldown checks), for 1, 50 and 500
 * channels, next to a bare tmi.js client that only counts `message` events.
 *
 * Both clients get the very same frames from the same fake Twitch in the same run, one after the
 * other (the order alternates between runs), so the ratio compares like with like on a noisy
 * machine. The bot's clock stops only when the last line has been handled (`host.settled()`) and
 * written (`storage.flush()`); the bare client's when it has counted the last line.
 * @module
 */
// Before tmi.js, as in the bot: keeps Node's punycode deprecation notice out of the output.
import "../core/node_warnings.ts";
import tmi from "tmi.js";
import { type FakeTwitch, startFakeTwitch } from "../tests/fakes/fake_twitch.ts";
import { BENCH_TOKEN, channelNames, moderatorBadges, startBenchBot } from "./bench_bot.ts";
import { chatText, seededRandom, viewerName } from "./chat_lines.ts";
import { silentTmiLogger } from "./silent_tmi_logger.ts";
import type { Figure } from "./report.ts";
import { benchMain, type BenchOptions, waitUntil } from "./suite.ts";

/** Channel counts measured. */
export const CHANNEL_COUNTS = [1, 50, 500];
/** Lines per measurement. */
const LINES = 40_000;
/** Lines packed into one WebSocket frame, as Twitch does on a busy connection. */
const LINES_PER_FRAME = 50;
/** Longest a measurement may take before it counts as failed. */
const TIMEOUT_MS = 120_000;

/** Renders `count` chat lines spread round-robin over `channels`, packed into frames. */
export function renderFrames(twitch: FakeTwitch, channels: string[], count: number, seed: number): string[] {
  const rand = seededRandom(seed);
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    lines.push(twitch.privmsgLine(channels[i % channels.length]!, {
      login: viewerName(Math.floor(rand() * 3000)),
      text: chatText(rand),
      id: `ingest-${seed}-${i}`,
    }));
  }
  const frames: string[] = [];
  for (let i = 0; i < lines.length; i += LINES_PER_FRAME) {
    frames.push(lines.slice(i, i + LINES_PER_FRAME).join("\r\n"));
  }
  return frames;
}

function send(twitch: FakeTwitch, frames: string[]): void {
  for (const frame of frames) twitch.sendRaw(frame);
}

/** Lines per second a bare tmi.js client counts. */
async function measureBare(twitch: FakeTwitch, channels: string[], frames: string[], lines: number) {
  let counted = 0;
  let done: () => void = () => {};
  const client = new tmi.Client({
    // The same options the bot's transport uses, so only what happens after parsing differs.
    options: { skipUpdatingEmotesets: true, skipMembership: false, messagesLogLevel: "debug" },
    connection: { server: "127.0.0.1", port: twitch.port, secure: false, reconnect: false },
    channels: [],
    logger: silentTmiLogger(),
  });
  client.on("message", () => {
    if (++counted === lines) done();
  });
  await client.connect();
  const login = client.getUsername();
  await Promise.all(channels.map((c) => client.join(`#${c}`).catch(() => {})));
  await waitUntil(
    () => twitch.joinedChannels(login).length === channels.length,
    "the bare client's JOINs",
    60_000,
    5,
  );
  const finished = new Promise<void>((resolve) => (done = resolve));
  const t0 = performance.now();
  send(twitch, frames);
  await withTimeout(finished, `the bare client to count ${lines} lines`);
  const seconds = (performance.now() - t0) / 1000;
  await client.disconnect().catch(() => {});
  await waitUntil(() => twitch.openConnections === 0, "the bare client to disconnect", 10_000, 5);
  // tmi.js leaves a 600 ms command timer behind on disconnect; let it run out.
  await new Promise((r) => setTimeout(r, 700));
  return lines / seconds;
}

/** Lines per second the bot handles and stores. */
async function measureBot(
  twitch: FakeTwitch,
  channels: string[],
  frames: string[],
  lines: number,
  config?: Record<string, unknown>,
) {
  const bench = await startBenchBot({ channels, twitch, spontaneousCooldown: true, config });
  try {
    const t0 = performance.now();
    send(twitch, frames);
    await withTimeout(
      (async () => {
        await bench.arrivals(lines);
        await bench.bot.host.settled();
        await bench.bot.storage.flush();
      })(),
      `the bot to handle ${lines} lines`,
    );
    const seconds = (performance.now() - t0) / 1000;
    const received = (await bench.metrics.chatLinesReceived.get()).values.reduce((n, v) => n + v.value, 0);
    if (received !== lines) throw new Error(`The bot counted ${received} chat lines, expected ${lines}`);
    if (bench.bot.storage.dropped > 0) throw new Error(`The bot dropped ${bench.bot.storage.dropped} writes`);
    return lines / seconds;
  } finally {
    await bench.stop();
    await waitUntil(() => twitch.openConnections === 0, "the bot to disconnect", 10_000, 5);
  }
}

async function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`Timed out after ${TIMEOUT_MS} ms waiting for ${what}`)),
      TIMEOUT_MS,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs the ingest benchmark. */
export async function benchIngest(options: BenchOptions): Promise<Figure[]> {
  const figures: Figure[] = [];
  // A bot in 500 channels is a moderator in (nearly) all of them: Twitch allows 100 where it is not.
  const twitch = await startFakeTwitch({
    tokens: [BENCH_TOKEN],
    badges: moderatorBadges(channelNames(Math.max(...CHANNEL_COUNTS))),
  });
  try {
    for (const n of CHANNEL_COUNTS) {
      const channels = channelNames(n);
      const bot: number[] = [];
      const bare: number[] = [];
      const ratio: number[] = [];
      for (let run = 0; run < options.runs; run++) {
        const frames = renderFrames(twitch, channels, LINES, 1000 * n + run);
        let botRate: number;
        let bareRate: number;
        if (run % 2 === 0) {
          bareRate = await measureBare(twitch, channels, frames, LINES);
          botRate = await measureBot(twitch, channels, frames, LINES);
        } else {
          botRate = await measureBot(twitch, channels, frames, LINES);
          bareRate = await measureBare(twitch, channels, frames, LINES);
        }
        bot.push(botRate);
        bare.push(bareRate);
        ratio.push(botRate / bareRate);
        options.progress(
          `${n} channel${n === 1 ? "" : "s"}, run ${run + 1}: bot ${
            Math.round(botRate)
          } lines/s, bare tmi.js ${Math.round(bareRate)} ` +
            `lines/s, ratio ${(botRate / bareRate).toFixed(3)}`,
        );
      }
      const label = `${n} channel${n === 1 ? "" : "s"}`;
      figures.push(
        { group: "Ingest", name: `${label}: bot`, unit: "lines/s", runs: bot },
        { group: "Ingest", name: `${label}: bare tmi.js`, unit: "lines/s", runs: bare },
        {
          group: "Ingest",
          name: `${label}: bot ÷ bare tmi.js`,
          unit: "ratio",
          runs: ratio,
          target: { op: ">=", value: 0.8 },
          note:
            `${LINES} lines per run, ${LINES_PER_FRAME} per WebSocket frame; the bot with shipped defaults ` +
            "and SQLite, timed until every line is handled and stored",
        },
      );
    }
  } finally {
    await twitch.close();
  }
  return figures;
}

/** The example regex filter as an extra input filter, in-process or in a Worker. */
function regexFilter(sandbox: boolean): Record<string, unknown> {
  return {
    plugins: [{
      path: new URL("../examples/plugins/regex_filter.ts", import.meta.url).pathname,
      sandbox,
      options: { patterns: ["\\bcrypto\\s+giveaway\\b", "^!gamble"], flags: "i" },
    }],
  };
}

/**
 * Sandbox cost where it matters: the bot's whole-pipeline ingest with one extra filter plugin,
 * sandboxed vs in-process, same lines, same run (issue 7: one sandboxed filter may cost at most half).
 */
export async function benchSandboxedIngest(options: BenchOptions): Promise<Figure[]> {
  const twitch = await startFakeTwitch({ tokens: [BENCH_TOKEN] });
  const inProcess: number[] = [];
  const worker: number[] = [];
  const ratio: number[] = [];
  try {
    const channels = channelNames(1);
    for (let run = 0; run < options.runs; run++) {
      const frames = renderFrames(twitch, channels, LINES, 7000 + run);
      const a = await measureBot(twitch, channels, frames, LINES, regexFilter(false));
      const b = await measureBot(twitch, channels, frames, LINES, regexFilter(true));
      inProcess.push(a);
      worker.push(b);
      ratio.push(b / a);
      options.progress(
        `sandboxed filter, run ${run + 1}: in-process ${Math.round(a)}, Worker ${Math.round(b)} lines/s`,
      );
    }
  } finally {
    await twitch.close();
  }
  return [
    {
      group: "Sandbox cost",
      name: "bot ingest with the regex filter in-process",
      unit: "lines/s",
      runs: inProcess,
    },
    {
      group: "Sandbox cost",
      name: "bot ingest with the regex filter in a Worker",
      unit: "lines/s",
      runs: worker,
    },
    {
      group: "Sandbox cost",
      name: "bot ingest, Worker ÷ in-process filter",
      unit: "ratio",
      runs: ratio,
      target: { op: ">=", value: 0.5 },
      note:
        `${LINES} lines through the whole pipeline, 1 channel; the same examples/plugins/regex_filter.ts both ways`,
    },
  ];
}

if (import.meta.main) await benchMain("ingest", benchIngest);
