/**
 * The fake Twitch and fake Ollama of the reply-overhead benchmark, on a thread of their own.
 *
 * In production Twitch and Ollama are other machines or processes; on the bot's own thread the fakes'
 * work (parsing the bot's PRIVMSGs, answering HTTP, writing 1,000 lines/s of background chat) would be
 * counted as the bot's. Here they run in a Worker, and every time stamp of a mention is taken on this
 * thread's clock: the mention written, the generation request in, the last chunk out, the reply in.
 *
 * Messages in: `start`, `mention`, `background`, `close` (see {@link FakesRequest}); out: `ready`,
 * `joined`, `result`, `closed`, `error`.
 * @module
 */
import { startFakeOllama } from "../tests/fakes/fake_ollama.ts";
import { startFakeTwitch } from "../tests/fakes/fake_twitch.ts";
import { chatText, randomWords, seededRandom, viewerName } from "./chat_lines.ts";

/** What the benchmark asks of the fakes thread. */
export type FakesRequest =
  | { t: "start"; channel: string; bot: string; token: string; seed: number }
  | { t: "mention"; k: number; login: string }
  | { t: "background"; perSecond: number }
  | { t: "close" };

/** What the fakes thread reports. */
export type FakesReport =
  | { t: "ready"; ircUrl: string; ollamaUrl: string }
  | { t: "joined" }
  | { t: "result"; k: number; overheadMs: number }
  | { t: "closed" }
  | { t: "error"; message: string };

interface Stamps {
  sent?: number;
  ollamaIn?: number;
  ollamaOut?: number;
  replied?: number;
}

// Deno's Worker global; typed here so the module also checks under the main-thread lib.
const self = globalThis as unknown as {
  postMessage(message: FakesReport): void;
  onmessage: ((e: MessageEvent<FakesRequest>) => void) | null;
  close(): void;
};

const stamps = new Map<number, Stamps>();
let fakes: {
  twitch: Awaited<ReturnType<typeof startFakeTwitch>>;
  ollama: Awaited<ReturnType<typeof startFakeOllama>>;
  channel: string;
  bot: string;
  rand: () => number;
  chatter?: ReturnType<typeof setInterval>;
} | undefined;

function stamp(k: number): Stamps {
  let s = stamps.get(k);
  if (!s) stamps.set(k, s = {});
  return s;
}

/** Reports a mention once its reply and its generation are both complete. */
function maybeReport(k: number): void {
  const s = stamps.get(k);
  if (!s || [s.sent, s.ollamaIn, s.ollamaOut, s.replied].some((v) => v === undefined)) return;
  stamps.delete(k);
  self.postMessage({ t: "result", k, overheadMs: s.replied! - s.sent! - (s.ollamaOut! - s.ollamaIn!) });
}

async function start(req: Extract<FakesRequest, { t: "start" }>): Promise<void> {
  const rand = seededRandom(req.seed);
  let joinedReported = false;
  const twitch = await startFakeTwitch({
    tokens: [req.token],
    // A moderator: no 1.2 s gap between two lines in the channel, and the 100-line account window.
    badges: { [req.channel]: "moderator/1" },
    onPrivmsg: (msg) => {
      const now = performance.now();
      if (msg.login !== req.bot) return;
      const k = Number(/\br(\d+)x\b/.exec(msg.text)?.[1] ?? NaN);
      if (!Number.isInteger(k)) return;
      stamp(k).replied = now;
      maybeReport(k);
    },
  });
  const ollama = await startFakeOllama();
  ollama.setReply((r) => {
    const now = performance.now();
    const messages = (r.body?.messages ?? []) as Array<{ content?: string }>;
    const k = Number(/\bq(\d+)x\b/.exec(messages.at(-1)?.content ?? "")?.[1] ?? NaN);
    if (!Number.isInteger(k)) return randomWords(8, rand);
    stamp(k).ollamaIn = now;
    void ollama.waitForEnd(r).then(() => {
      stamp(k).ollamaOut = performance.now();
      maybeReport(k);
    });
    return `r${k}x ${randomWords(10, rand)}`;
  });
  fakes = { twitch, ollama, channel: req.channel, bot: req.bot, rand };
  self.postMessage({ t: "ready", ircUrl: twitch.url, ollamaUrl: ollama.url });
  const poll = setInterval(() => {
    if (joinedReported || !twitch.joinedChannels(req.bot).includes(req.channel)) return;
    joinedReported = true;
    clearInterval(poll);
    self.postMessage({ t: "joined" });
  }, 2);
}

function background(perSecond: number): void {
  const f = fakes!;
  const started = performance.now();
  let sentLines = 0;
  f.chatter = setInterval(() => {
    const due = Math.floor(((performance.now() - started) / 1000) * perSecond) - sentLines;
    if (due <= 0) return;
    const lines = Array.from({ length: due }, () => ({
      login: viewerName(Math.floor(f.rand() * 500)),
      text: chatText(f.rand),
    }));
    f.twitch.blast(f.channel, lines, due);
    sentLines += due;
  }, 10);
}

self.onmessage = async (e) => {
  const req = e.data;
  try {
    if (req.t === "start") await start(req);
    else if (req.t === "mention") {
      const f = fakes!;
      stamp(req.k).sent = performance.now();
      f.twitch.sendPrivmsg(f.channel, { login: req.login, text: `@${f.bot} q${req.k}x ${chatText(f.rand)}` });
    } else if (req.t === "background") background(req.perSecond);
    else if (req.t === "close") {
      clearInterval(fakes?.chatter);
      await fakes?.twitch.close();
      await fakes?.ollama.close();
      self.postMessage({ t: "closed" });
      self.close();
    }
  } catch (err) {
    self.postMessage({ t: "error", message: err instanceof Error ? err.message : String(err) });
  }
};
