/**
 * Reply overhead: from the moment the fake Twitch sends a mention to the moment the bot's reply
 * PRIVMSG reaches it, minus the fake Ollama's own time for that generation (request received to
 * response finished). What is left is the bot: tmi.js, the pipeline, cooldown gates, the reply queue,
 * context, prompt building, the HTTP round trip through the `ollama` client, output filters, the send
 * queue and tmi.js again. Measured idle and with 1,000 lines/s of background chat in the same channel.
 *
 * Each run is a fresh bot, because the send queue rightly keeps Twitch's account window (at most 99
 * lines per 30 s even as a moderator): 5 warm-up mentions and 90 measured ones fit in one window.
 * Every mention comes from a distinct viewer. The fakes (`reply_fakes.ts`) take the time stamps; they
 * run on a thread of their own, and, for comparison with the first method, on the bot's thread.
 * @module
 */
import { BENCH_BOT, BENCH_TOKEN, benchConfig, launchBot, seedSpontaneousCooldown } from "./bench_bot.ts";
import { startBareRelay } from "./bare_relay.ts";
import { type ReplyFakesOptions, startReplyFakes } from "./reply_fakes.ts";
import type { FakesReport, FakesRequest } from "./reply_fakes_worker.ts";
import { type Figure, percentile } from "./report.ts";
import { benchMain, type BenchOptions, sleep, waitUntil } from "./suite.ts";

/** The one channel of every reply benchmark. */
export const CHANNEL = "benchchan";
const WARMUP = 5;
const MENTIONS = 90;
/** Run number of the uncounted warm-up run (its own seed and viewer names). */
const WARMUP_RUN = 99;
/** Background chat rate of the loaded scenario. */
const BACKGROUND_PER_SECOND = 1000;
/** Longest wait for one reply before the run fails. */
const REPLY_TIMEOUT_MS = 10_000;
/** Channel settings of every run: replies only, no floor, no spontaneous lines. */
const DEFAULTS = { floor: 0, response: 10, threshold: 200, spontaneous: 3600, mention_queue: 3 };

/** The fakes as one run drives them, wherever they run. */
export interface FakesControl {
  ircUrl: string;
  ollamaUrl: string;
  joined(): Promise<void>;
  mention(k: number, login: string): void;
  background(perSecond: number): void;
  close(): Promise<void>;
}

/** The fakes on the bot's own thread: the first method, kept for comparison. */
async function fakesHere(options: ReplyFakesOptions): Promise<FakesControl> {
  const fakes = await startReplyFakes(options);
  return {
    ...fakes,
    joined: () => waitUntil(() => fakes.joined(), "the bench bot to join", 30_000),
    mention: (k, login) => fakes.mention(k, login),
    background: (perSecond) => fakes.background(perSecond),
    close: () => fakes.close(),
  };
}

/** The fakes on a thread of their own (`reply_fakes_worker.ts`), as Twitch and Ollama are in production. */
export async function fakesInWorker(options: ReplyFakesOptions): Promise<FakesControl> {
  const worker = new Worker(new URL("./reply_fakes_worker.ts", import.meta.url), { type: "module" });
  const waiters = new Map<string, (report: FakesReport) => void>();
  let failure: string | undefined;
  worker.onmessage = (e: MessageEvent<FakesReport>) => {
    const report = e.data;
    if (report.t === "error") failure = report.message;
    if (report.t === "result") options.onResult(report.k, report.overheadMs);
    waiters.get(report.t)?.(report);
    waiters.delete(report.t);
  };
  const send = (req: FakesRequest) => worker.postMessage(req);
  /** Resolves with the next report of kind `t`, or rejects after `ms`. */
  const next = (t: FakesReport["t"], ms: number) =>
    new Promise<FakesReport>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(t);
        reject(new Error(`Fakes thread: no ${t} within ${ms} ms${failure ? ` (${failure})` : ""}`));
      }, ms);
      waiters.set(t, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
    });
  const { onResult: _local, ...start } = options;
  const ready = next("ready", 30_000);
  send({ t: "start", ...start });
  const urls = await ready.catch((err) => {
    worker.terminate();
    throw err;
  }) as Extract<FakesReport, { t: "ready" }>;
  const joined = next("joined", 30_000);
  joined.catch(() => {}); // Awaited by the run; a timeout before that must not be an unhandled rejection.
  return {
    ircUrl: urls.ircUrl,
    ollamaUrl: urls.ollamaUrl,
    joined: async () => void await joined,
    mention: (k, login) => send({ t: "mention", k, login }),
    background: (perSecond) => send({ t: "background", perSecond }),
    async close() {
      const closed = next("closed", 10_000).catch(() => {});
      send({ t: "close" });
      await closed;
      worker.terminate();
    },
  };
}

/**
 * Runs `body` against a fresh bot joined to the fakes' channel (its own SQLite file, inside its
 * spontaneous cooldown), then stops the bot and closes the fakes, whatever happens.
 */
export async function withReplyBot<T>(fakes: FakesControl, body: () => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "clank-bench-reply-" });
  let bot: Awaited<ReturnType<typeof launchBot>> | undefined;
  try {
    const config = benchConfig({
      channels: [CHANNEL],
      ircUrl: fakes.ircUrl,
      ollamaUrl: fakes.ollamaUrl,
      dir,
      defaults: DEFAULTS,
    });
    await seedSpontaneousCooldown(config.database.url, config.twitch.channels);
    bot = await launchBot(config);
    await fakes.joined();
    await waitUntil(() => bot!.transport.joined().includes(CHANNEL), "the bench bot to join", 30_000);
    return await body();
  } finally {
    await bot?.bot.stop();
    await fakes.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** Runs `body` against a bare tmi.js + ollama-js relay (`bare_relay.ts`) joined to the fakes' channel. */
async function withBareRelay<T>(fakes: FakesControl, body: () => Promise<T>): Promise<T> {
  let relay: Awaited<ReturnType<typeof startBareRelay>> | undefined;
  try {
    relay = await startBareRelay({
      ircUrl: fakes.ircUrl,
      ollamaUrl: fakes.ollamaUrl,
      channel: CHANNEL,
      bot: BENCH_BOT,
      token: BENCH_TOKEN,
    });
    await Promise.all([fakes.joined(), relay.joined]);
    return await body();
  } finally {
    await relay?.stop();
    await fakes.close();
  }
}

/** What answers the mentions: the bot, or the bare relay that gives the floor. */
type Subject = "bot" | "relay";

/** Overheads (ms) of the measured mentions of one fresh bot (or relay). */
async function measureRun(
  run: number,
  background: boolean,
  isolated: boolean,
  subject: Subject = "bot",
): Promise<number[]> {
  const results = new Map<number, number>();
  const waiters = new Map<number, () => void>();
  const onResult = (k: number, overheadMs: number) => {
    results.set(k, overheadMs);
    waiters.get(k)?.();
  };
  const seed = 7919 * (run + 1) + (background ? 1 : 0);
  const options = { channel: CHANNEL, bot: BENCH_BOT, token: BENCH_TOKEN, seed, onResult };
  const fakes = isolated ? await fakesInWorker(options) : await fakesHere(options);
  const withSubject = subject === "bot" ? withReplyBot : withBareRelay;
  return await withSubject(fakes, async () => {
    if (background) {
      fakes.background(BACKGROUND_PER_SECOND);
      await sleep(500);
    }
    const overheads: number[] = [];
    for (let k = 0; k < WARMUP + MENTIONS; k++) {
      const answered = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`No reply to mention ${k} within ${REPLY_TIMEOUT_MS} ms`)),
          REPLY_TIMEOUT_MS,
        );
        waiters.set(k, () => {
          clearTimeout(timer);
          resolve();
        });
      });
      fakes.mention(k, `asker_${run}_${k}`);
      await answered;
      waiters.delete(k);
      if (k >= WARMUP) overheads.push(results.get(k)!);
      await sleep(10 + Math.floor(Math.random() * 10));
    }
    return overheads;
  });
}

/** Percentiles of one scenario, run after run. */
interface Series {
  p50: number[];
  p99: number[];
  all: number[];
}

function describe(isolated: boolean, background: boolean, subject: Subject): string {
  return `${subject === "relay" ? "bare relay" : "bot"}, ` +
    `${isolated ? "fakes on their own thread" : "fakes on the bot's thread"}, ` +
    `${background ? "1,000 lines/s" : "idle"}`;
}

function pooledOf(series: Series): string {
  const all = series.all;
  return `pooled over all ${all.length} mentions: p50 ${percentile(all, 50).toFixed(2)} ms, ` +
    `p99 ${percentile(all, 99).toFixed(2)} ms, max ${percentile(all, 100).toFixed(2)} ms`;
}

/** Runs the reply-overhead benchmark. */
export async function benchReplyOverhead(options: BenchOptions): Promise<Figure[]> {
  const figures: Figure[] = [];
  for (const isolated of [true, false]) {
    for (const background of [false, true]) {
      // The bare relay (the floor) runs only with the fakes on their own thread, alternating with the
      // bot run by run so both see the same state of the machine.
      const subjects: Subject[] = isolated ? ["bot", "relay"] : ["bot"];
      const series = new Map<Subject, Series>(subjects.map((s) => [s, { p50: [], p99: [], all: [] }]));
      // One whole run first, not counted: V8 compiles the hot paths over the first few hundred
      // calls, and a bot that has run for an hour is what the figure is about.
      for (const subject of subjects) {
        const warm = await measureRun(WARMUP_RUN, background, isolated, subject);
        options.progress(
          `${describe(isolated, background, subject)}, warm-up run (not counted): p50 ` +
            `${percentile(warm, 50).toFixed(2)} ms, p99 ${percentile(warm, 99).toFixed(2)} ms`,
        );
      }
      for (let run = 0; run < options.runs; run++) {
        for (const subject of subjects) {
          const overheads = await measureRun(run, background, isolated, subject);
          const s = series.get(subject)!;
          s.all.push(...overheads);
          s.p50.push(percentile(overheads, 50));
          s.p99.push(percentile(overheads, 99));
          options.progress(
            `${describe(isolated, background, subject)}, run ${run + 1}: p50 ${
              s.p50.at(-1)!.toFixed(2)
            } ms, ` +
              `p99 ${s.p99.at(-1)!.toFixed(2)} ms over ${overheads.length} mentions`,
          );
        }
      }
      const label = (background ? "with 1,000 lines/s chat" : "idle") +
        (isolated ? "" : ", fakes on the bot's thread");
      const bot = series.get("bot")!;
      figures.push(
        { group: "Reply overhead", name: `${label}: p50`, unit: "ms", runs: bot.p50 },
        {
          group: "Reply overhead",
          name: `${label}: p99`,
          unit: "ms",
          runs: bot.p99,
          target: isolated ? { op: "<", value: 5 } : undefined,
          note: isolated
            ? `${MENTIONS} mentions per run after a warm-up run, fake Twitch and Ollama in a Worker; ${
              pooledOf(bot)
            }`
            : `the first method: fakes share the bot's thread and their work counts as the bot's; ${
              pooledOf(bot)
            }`,
        },
      );
      const relay = series.get("relay");
      if (relay) {
        figures.push(
          { group: "Reply overhead", name: `${label}, bare relay (floor): p50`, unit: "ms", runs: relay.p50 },
          {
            group: "Reply overhead",
            name: `${label}, bare relay (floor): p99`,
            unit: "ms",
            runs: relay.p99,
            note: `tmi.js and ollama-js alone (bench/bare_relay.ts), same fakes, run after each bot run; ${
              pooledOf(relay)
            }`,
          },
          {
            group: "Reply overhead",
            name: `${label}: bot − bare relay, p50`,
            unit: "ms",
            runs: bot.p50.map((p, i) => p - relay.p50[i]!),
          },
        );
      }
    }
  }
  return figures;
}

if (import.meta.main) await benchMain("reply_overhead", benchReplyOverhead);
