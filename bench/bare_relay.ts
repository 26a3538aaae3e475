/**
 * The floor of the reply benchmark: a bare relay built from the same two clients as the bot (tmi.js
 * and ollama-js, same connection options) and nothing else. On a mention it sends the recent lines to
 * the fake Ollama as one prompt, streams the answer and says it. No pipeline, filters, cooldowns,
 * storage or send queue: what it takes is the libraries plus the four thread crossings of a reply
 * (mention in, request out, stream in, reply out) on this machine, which the bot cannot go below.
 * @module
 */
import "../core/node_warnings.ts";
import { Ollama } from "ollama";
import tmi from "tmi.js";
import { tmiConnection } from "../core/twitch_transport.ts";
import { silentTmiLogger } from "./silent_tmi_logger.ts";

/** Lines of chat the relay keeps for its prompt, like the bot's shipped `context`. */
const RELAY_CONTEXT = 200;

/** A running relay. */
export interface BareRelay {
  /** Resolves once tmi.js reports the channel joined. */
  joined: Promise<void>;
  stop(): Promise<void>;
}

/** Connects a bare relay as `bot` to `channel` on the fakes at `ircUrl` and `ollamaUrl`. */
export async function startBareRelay(options: {
  ircUrl: string;
  ollamaUrl: string;
  channel: string;
  bot: string;
  token: string;
}): Promise<BareRelay> {
  const client = new tmi.Client({
    options: { skipUpdatingEmotesets: true, skipMembership: false, messagesLogLevel: "debug" },
    connection: { ...tmiConnection(options.ircUrl), reconnect: false },
    identity: { username: options.bot, password: `oauth:${options.token}` },
    channels: [],
    logger: silentTmiLogger(),
  });
  const ollama = new Ollama({ host: options.ollamaUrl });
  const recent: string[] = [];
  const mention = `@${options.bot}`;
  client.on("message", (channel: string, tags: { username?: string }, text: string, self: boolean) => {
    if (self) return;
    recent.push(`${tags.username}: ${JSON.stringify(text)}`);
    if (recent.length > RELAY_CONTEXT) recent.shift();
    if (!text.includes(mention)) return;
    void (async () => {
      const stream = await ollama.chat({
        model: "llama3.1",
        stream: true,
        messages: [
          { role: "system", content: `You are ${options.bot}.` },
          { role: "user", content: recent.join("\n") },
          { role: "user", content: text },
        ],
      });
      let answer = "";
      for await (const part of stream) answer += part.message.content;
      await client.say(channel, answer.trim());
    })().catch(() => {});
  });
  let joined!: () => void;
  const joinedPromise = new Promise<void>((resolve) => (joined = resolve));
  client.on("join", (_channel: string, _user: string, self: boolean) => {
    if (self) joined();
  });
  await client.connect();
  await client.join(`#${options.channel}`);
  return {
    joined: joinedPromise,
    async stop() {
      await client.disconnect().catch(() => {});
      // tmi.js leaves a 600 ms command timer behind on disconnect; let it run out.
      await new Promise((r) => setTimeout(r, 700));
    },
  };
}
