/**
 * The fake Twitch and fake Ollama of the reply-overhead benchmark, with the time stamps of every
 * mention taken on the fakes' own clock: the mention written, the generation request in, the last
 * chunk out, the reply in. `reply_overhead.ts` runs them on the bot's thread or, through
 * `reply_fakes_worker.ts`, on a thread of their own.
 *
 * Every mention carries a tag (`qNx`) that the fake Ollama echoes in its reply (`rNx`), so each reply
 * is matched to its mention and its generation.
 * @module
 */
import { startFakeOllama } from "../tests/fakes/fake_ollama.ts";
import { startFakeTwitch } from "../tests/fakes/fake_twitch.ts";
import { chatText, randomWords, seededRandom, viewerName } from "./chat_lines.ts";

/** What the fakes need to know. */
export interface ReplyFakesOptions {
  channel: string;
  bot: string;
  token: string;
  seed: number;
  /** Called once per mention when its reply and its generation are both complete. */
  onResult(k: number, overheadMs: number): void;
}

/** Running fakes. */
export interface ReplyFakes {
  ircUrl: string;
  ollamaUrl: string;
  /** True once the bot has joined the channel. */
  joined(): boolean;
  /** Writes mention `k` from `login` into the channel. */
  mention(k: number, login: string): void;
  /** Starts background chat at `perSecond` lines per second (written every 10 ms). */
  background(perSecond: number): void;
  close(): Promise<void>;
}

interface Stamps {
  sent?: number;
  ollamaIn?: number;
  ollamaOut?: number;
  replied?: number;
}

/** Starts the fakes on the calling thread. */
export async function startReplyFakes(options: ReplyFakesOptions): Promise<ReplyFakes> {
  const rand = seededRandom(options.seed);
  const stamps = new Map<number, Stamps>();
  const stamp = (k: number) => {
    let s = stamps.get(k);
    if (!s) stamps.set(k, s = {});
    return s;
  };
  const maybeReport = (k: number) => {
    const s = stamps.get(k);
    if (!s || s.sent === undefined || s.ollamaIn === undefined) return;
    if (s.ollamaOut === undefined || s.replied === undefined) return;
    stamps.delete(k);
    options.onResult(k, s.replied - s.sent - (s.ollamaOut - s.ollamaIn));
  };
  const twitch = await startFakeTwitch({
    tokens: [options.token],
    // A moderator: no 1.2 s gap between two lines in the channel, and the 100-line account window.
    badges: { [options.channel]: "moderator/1" },
    onPrivmsg: (msg) => {
      const now = performance.now();
      if (msg.login !== options.bot) return;
      const k = Number(/\br(\d+)x\b/.exec(msg.text)?.[1] ?? NaN);
      if (!Number.isInteger(k)) return;
      stamp(k).replied = now;
      maybeReport(k);
    },
  });
  const ollama = await startFakeOllama();
  ollama.setReply((req) => {
    const now = performance.now();
    const messages = (req.body?.messages ?? []) as Array<{ content?: string }>;
    const k = Number(/\bq(\d+)x\b/.exec(messages.at(-1)?.content ?? "")?.[1] ?? NaN);
    if (!Number.isInteger(k)) return randomWords(8, rand);
    stamp(k).ollamaIn = now;
    void ollama.waitForEnd(req).then(() => {
      stamp(k).ollamaOut = performance.now();
      maybeReport(k);
    });
    return `r${k}x ${randomWords(10, rand)}`;
  });
  let chatter: ReturnType<typeof setInterval> | undefined;
  return {
    ircUrl: twitch.url,
    ollamaUrl: ollama.url,
    joined: () => twitch.joinedChannels(options.bot).includes(options.channel),
    mention(k, login) {
      stamp(k).sent = performance.now();
      twitch.sendPrivmsg(options.channel, { login, text: `@${options.bot} q${k}x ${chatText(rand)}` });
    },
    background(perSecond) {
      const started = performance.now();
      let sentLines = 0;
      chatter = setInterval(() => {
        const due = Math.floor(((performance.now() - started) / 1000) * perSecond) - sentLines;
        if (due <= 0) return;
        const lines = Array.from({ length: due }, () => ({
          login: viewerName(Math.floor(rand() * 500)),
          text: chatText(rand),
        }));
        twitch.blast(options.channel, lines, due);
        sentLines += due;
      }, 10);
    },
    async close() {
      clearInterval(chatter);
      await twitch.close();
      await ollama.close();
    },
  };
}
