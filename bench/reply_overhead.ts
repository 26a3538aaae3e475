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
import { BENCH_BOT, BENCH_TOKEN, startBenchBot } from "./bench_bot.ts";
import { chatText, randomWords, seededRandom, viewerName } from "./chat_lines.ts";
import { type Figure, percentile } from "./report.ts";
import { benchMain, type BenchOptions, sleep } from "./suite.ts";

const CHANNEL = "benchchan";
const WARMUP = 5;
const MENTIONS = 90;
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

/** Overheads (ms) of the measured mentions of one fresh bot. */
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
    defaults: { floor: 0, response: 10, threshold: 200, spontaneous: 3600, mention_queue: 3 },
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
  for (const background of [false, true]) {
    const p50: number[] = [];
    const p99: number[] = [];
    const all: number[] = [];
    for (let run = 0; run < options.runs; run++) {
      const overheads = await measureRun(run, background);
      all.push(...overheads);
      p50.push(percentile(overheads, 50));
      p99.push(percentile(overheads, 99));
      options.progress(
        `${background ? "1,000 lines/s" : "idle"}, run ${run + 1}: p50 ${p50.at(-1)!.toFixed(2)} ms, ` +
          `p99 ${p99.at(-1)!.toFixed(2)} ms over ${overheads.length} mentions`,
      );
    }
    const label = background ? "with 1,000 lines/s chat" : "idle";
    const pooled = `pooled over all ${all.length} mentions: p50 ${percentile(all, 50).toFixed(2)} ms, ` +
      `p99 ${percentile(all, 99).toFixed(2)} ms, max ${percentile(all, 100).toFixed(2)} ms`;
    figures.push(
      { group: "Reply overhead", name: `${label}: p50`, unit: "ms", runs: p50 },
      {
        group: "Reply overhead",
        name: `${label}: p99`,
        unit: "ms",
        runs: p99,
        target: { op: "<", value: 5 },
        note: `${MENTIONS} mentions per run; ${pooled}`,
      },
    );
  }
  return figures;
}

if (import.meta.main) await benchMain("reply_overhead", benchReplyOverhead);
