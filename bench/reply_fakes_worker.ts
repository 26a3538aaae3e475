/**
 * The reply-overhead fakes (`reply_fakes.ts`) on a thread of their own. In production Twitch and
 * Ollama are other machines or processes; on the bot's thread the fakes' work (parsing the bot's
 * PRIVMSGs, answering HTTP, writing 1,000 lines/s of background chat) would be counted as the bot's.
 *
 * Messages in: {@link FakesRequest}; out: {@link FakesReport}.
 * @module
 */
import { type ReplyFakes, startReplyFakes } from "./reply_fakes.ts";

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

// Deno's Worker global; typed here so the module also checks under the main-thread lib.
const self = globalThis as unknown as {
  postMessage(message: FakesReport): void;
  onmessage: ((e: MessageEvent<FakesRequest>) => void) | null;
  close(): void;
};

let fakes: ReplyFakes | undefined;

self.onmessage = async (e) => {
  const req = e.data;
  try {
    if (req.t === "start") {
      fakes = await startReplyFakes({
        ...req,
        onResult: (k, overheadMs) => self.postMessage({ t: "result", k, overheadMs }),
      });
      self.postMessage({ t: "ready", ircUrl: fakes.ircUrl, ollamaUrl: fakes.ollamaUrl });
      const f = fakes;
      const poll = setInterval(() => {
        if (!f.joined()) return;
        clearInterval(poll);
        self.postMessage({ t: "joined" });
      }, 2);
    } else if (req.t === "mention") fakes!.mention(req.k, req.login);
    else if (req.t === "background") fakes!.background(req.perSecond);
    else if (req.t === "close") {
      await fakes?.close();
      self.postMessage({ t: "closed" });
      self.close();
    }
  } catch (err) {
    self.postMessage({ t: "error", message: err instanceof Error ? err.message : String(err) });
  }
};
