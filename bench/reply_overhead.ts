/**
 * Reply overhead: from the moment the fake Twitch sends a mention to the moment the bot's reply
 * PRIVMSG reaches it, minus the fake Ollama's own time for that generation (request received to
 * response finished). What is left is the bot: tmi.js, the pipeline, cooldown gates, the reply queue,
 * context, prompt building, the HTTP round trip through the `ollama` client, output filters, the send
 * queue and tmi.js again. Measured idle and with 1,000 lines/s of background chat in the same channel.
 *
 * Each run is a fresh bot, because the send queue rightly keeps Twitch's account window (at most 99
 * lines per 30 s even as a moderator): 5 warm-up mentions and 90 measured ones fit in one window.
 * Every mention comes from a distinct viewer and carries a tag (`qNx`) that the fake Ollama echoes
 * in its reply (`rNx`), so each reply is matched to its mention and its generation.
 * @module
 */
import { startFakeOllama } from "../tests/fakes/fake_ollama.ts";
import { startFakeTwitch } from "../tests/fakes/fake_twitch.ts";
import {
  BENCH_BOT,
  BENCH_TOKEN,
  benchConfig,
  launchBot,
  seedSpontaneousCooldown,
  startBenchBot,
} from "./bench_bot.ts";
import type { FakesReport, FakesRequest } from "./reply_fakes_worker.ts";
import { chatText, randomWords, seededRandom, viewerName } from "./chat_lines.ts";
import { type Figure, percentile } from "./report.ts";
import { benchMain, type BenchOptions, sleep } from "./suite.ts";

const CHANNEL = "benchchan";
const WARMUP = 5;
const MENTIONS = 90;
/** Run number of the uncounted warm-up run (its own seed and viewer names). */
const WARMUP_RUN = 99;
/** Background chat rate of the loaded scenario. */
const BACKGROUND_PER_SECOND = 1000;
/** Longest wait for one reply before the run fails. */
const REPLY_TIMEOUT_MS = 10_000;

interface Stamps {
  sent?: number;
  ollamaIn?: number;
  ollamaOut?: number;
  replied?: number;
}

/** Channel settings of every run: replies only, no floor, no spontaneous lines. */
const DEFAULTS = { floor: 0, response: 10, threshold: 200, spontaneous: 3600, mention_queue: 3 };

/**
 * Overheads (ms) of the measured mentions of one fresh bot, with the fakes on a thread of their own
 * (`reply_fakes_worker.ts`), as Twitch and Ollama are in production.
 */
async function measureIsolatedRun(run: number, background: boolean): Promise<number[]> {
  const worker = new Worker(new URL("./reply_fakes_worker.ts", import.meta.url), { type: "module" });
  const waiters = new Map<string, (report: FakesReport) => void>();
  const results = new Map<number, number>();
  let failure: string | undefined;
  worker.onmessage = (e: MessageEvent<FakesReport>) => {
    const report = e.data;
    if (report.t === "error") failure = report.message;
    if (report.t === "result") results.set(report.k, report.overheadMs);
    const key = report.t === "result" ? `result:${report.k}` : report.t;
    waiters.get(key)?.(report);
    waiters.delete(key);
  };
  const send = (req: FakesRequest) => worker.postMessage(req);
  /** Resolves with the next report `key`, or rejects after `ms` (or when the Worker failed). */
  const next = (key: string, ms = REPLY_TIMEOUT_MS) =>
    new Promise<FakesReport>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(key);
        reject(new Error(`Fakes thread: no ${key} within ${ms} ms${failure ? ` (${failure})` : ""}`));
      }, ms);
      waiters.set(key, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
    });
  const dir = await Deno.makeTempDir({ prefix: "clank-bench-reply-" });
  let bot: Awaited<ReturnType<typeof launchBot>> | undefined;
  try {
    const ready = next("ready");
    send({ t: "start", channel: CHANNEL, bot: BENCH_BOT, token: BENCH_TOKEN, seed: 7919 * (run + 1) + 2 });
    const urls = await ready as Extract<FakesReport, { t: "ready" }>;
    const config = benchConfig({
      channels: [CHANNEL],
      ircUrl: urls.ircUrl,
      ollamaUrl: urls.ollamaUrl,
      dir,
      defaults: DEFAULTS,
    });
    await seedSpontaneousCooldown(config.database.url, config.twitch.channels);
    const joined = next("joined", 30_000);
    bot = await launchBot(config);
    await joined;
    if (background) {
      send({ t: "background", perSecond: BACKGROUND_PER_SECOND });
      await sleep(500);
    }
    const overheads: number[] = [];
    for (let k = 0; k < WARMUP + MENTIONS; k++) {
      const result = next(`result:${k}`);
      send({ t: "mention", k, login: `asker_${run}_${k}` });
      await result;
      if (k >= WARMUP) overheads.push(results.get(k)!);
      await sleep(10 + Math.floor(Math.random() * 10));
    }
    return overheads;
  } finally {
    await bot?.bot.stop();
    const closed = next("closed", 10_000).catch(() => {});
    send({ t: "close" });
    await closed;
    worker.terminate();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/**
 * Overheads (ms) of the measured mentions of one fresh bot, with the fakes on the bot's own thread:
 * the first method, kept for comparison (their work counts as the bot's).
 */
async function measureRun(run: number, background: boolean): Promise<number[]> {
  const stamps = new Map<number, Stamps>();
  const replyWaiters = new Map<number, () => void>();
  const stamp = (k: number) => {
    let s = stamps.get(k);
    if (!s) stamps.set(k, s = {});
    return s;
  };
  const rand = seededRandom(7919 * (run + 1) + (background ? 1 : 0));
  const twitch = await startFakeTwitch({
    tokens: [BENCH_TOKEN],
    // A moderator: no 1.2 s gap between two lines in the channel, and the 100-line account window.
    badges: { [CHANNEL]: "moderator/1" },
    onPrivmsg: (msg) => {
      const now = performance.now();
      if (msg.login !== BENCH_BOT) return;
      const k = Number(/\br(\d+)x\b/.exec(msg.text)?.[1] ?? NaN);
      if (!Number.isInteger(k)) return;
      stamp(k).replied = now;
      replyWaiters.get(k)?.();
    },
  });
  const ollama = await startFakeOllama();
  ollama.setReply((req) => {
    const now = performance.now();
    const messages = (req.body?.messages ?? []) as Array<{ content?: string }>;
    const k = Number(/\bq(\d+)x\b/.exec(messages.at(-1)?.content ?? "")?.[1] ?? NaN);
    if (!Number.isInteger(k)) return randomWords(8, rand);
    stamp(k).ollamaIn = now;
    void ollama.waitForEnd(req).then(() => (stamp(k).ollamaOut = performance.now()));
    return `r${k}x ${randomWords(10, rand)}`;
  });
  const bench = await startBenchBot({
    channels: [CHANNEL],
    twitch,
    ollama,
    spontaneousCooldown: true,
    defaults: DEFAULTS,
  });
  let chatter: ReturnType<typeof setInterval> | undefined;
  try {
    if (background) {
      const started = performance.now();
      let sentLines = 0;
      chatter = setInterval(() => {
        const due = Math.floor(((performance.now() - started) / 1000) * BACKGROUND_PER_SECOND) - sentLines;
        if (due <= 0) return;
        const lines = Array.from({ length: due }, () => ({
          login: viewerName(Math.floor(rand() * 500)),
          text: chatText(rand),
        }));
        twitch.blast(CHANNEL, lines, due);
        sentLines += due;
      }, 10);
      await sleep(500);
    }
    const overheads: number[] = [];
    for (let k = 0; k < WARMUP + MENTIONS; k++) {
      const replied = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`No reply to mention ${k} within ${REPLY_TIMEOUT_MS} ms`)),
          REPLY_TIMEOUT_MS,
        );
        replyWaiters.set(k, () => {
          clearTimeout(timer);
          resolve();
        });
      });
      stamp(k).sent = performance.now();
      twitch.sendPrivmsg(CHANNEL, {
        login: `asker_${run}_${k}`,
        text: `@${BENCH_BOT} q${k}x ${chatText(rand)}`,
      });
      await replied;
      replyWaiters.delete(k);
      // The fake marks the generation finished right after its last chunk; give it that moment.
      for (let i = 0; i < 100 && stamp(k).ollamaOut === undefined; i++) await sleep(1);
      const s = stamp(k);
      if (s.ollamaIn === undefined || s.ollamaOut === undefined) {
        throw new Error(`Mention ${k} has no generation`);
      }
      if (k >= WARMUP) overheads.push(s.replied! - s.sent! - (s.ollamaOut - s.ollamaIn));
      await sleep(10 + Math.floor(rand() * 10));
    }
    return overheads;
  } finally {
    clearInterval(chatter);
    await bench.stop();
    await twitch.close();
    await ollama.close();
  }
}

/** Runs the reply-overhead benchmark. */
export async function benchReplyOverhead(options: BenchOptions): Promise<Figure[]> {
  const figures: Figure[] = [];
  for (const isolated of [true, false]) {
    for (const background of [false, true]) {
      const p50: number[] = [];
      const p99: number[] = [];
      const all: number[] = [];
      // One whole run first, not counted: V8 compiles the hot paths over the first few hundred
      // calls, and a bot that has run for an hour is what the figure is about.
      const warm = isolated
        ? await measureIsolatedRun(WARMUP_RUN, background)
        : await measureRun(WARMUP_RUN, background);
      options.progress(
        `${isolated ? "fakes on their own thread" : "fakes on the bot's thread"}, ` +
          `${background ? "1,000 lines/s" : "idle"}, warm-up run (not counted): p50 ` +
          `${percentile(warm, 50).toFixed(2)} ms, p99 ${percentile(warm, 99).toFixed(2)} ms`,
      );
      for (let run = 0; run < options.runs; run++) {
        const overheads = isolated
          ? await measureIsolatedRun(run, background)
          : await measureRun(run, background);
        all.push(...overheads);
        p50.push(percentile(overheads, 50));
        p99.push(percentile(overheads, 99));
        options.progress(
          `${isolated ? "fakes on their own thread" : "fakes on the bot's thread"}, ` +
            `${background ? "1,000 lines/s" : "idle"}, run ${run + 1}: p50 ${p50.at(-1)!.toFixed(2)} ms, ` +
            `p99 ${p99.at(-1)!.toFixed(2)} ms over ${overheads.length} mentions`,
        );
      }
      const label = (background ? "with 1,000 lines/s chat" : "idle") +
        (isolated ? "" : ", fakes on the bot's thread");
      const pooled = `pooled over all ${all.length} mentions: p50 ${percentile(all, 50).toFixed(2)} ms, ` +
        `p99 ${percentile(all, 99).toFixed(2)} ms, max ${percentile(all, 100).toFixed(2)} ms`;
      figures.push(
        { group: "Reply overhead", name: `${label}: p50`, unit: "ms", runs: p50 },
        {
          group: "Reply overhead",
          name: `${label}: p99`,
          unit: "ms",
          runs: p99,
          target: isolated ? { op: "<", value: 5 } : undefined,
          note: isolated
            ? `${MENTIONS} mentions per run after a warm-up run, fake Twitch and Ollama in a Worker; ${pooled}`
            : `the first method: fakes share the bot's thread and their work counts as the bot's; ${pooled}`,
        },
      );
    }
  }
  return figures;
}

if (import.meta.main) await benchMain("reply_overhead", benchReplyOverhead);
