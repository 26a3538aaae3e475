/**
 * Facts about a chat line that several stages need: is it a mention of the bot, a command, from a
 * known bot, from the bot itself. Computed once per line.
 * @module
 */
import type { MessageEvent } from "./events.ts";

/** The facts of one chat line. */
export interface MessageFacts {
  mention: boolean;
  /** Starts with `!` (any bot's command). */
  command: boolean;
  /** Starts with our command prefix (`!clank`). */
  ourCommand: boolean;
  /** From a known bot (config `twitch.bots`). */
  fromBot: boolean;
  /** From the bot's own account. */
  self: boolean;
}

/** Builds a mention matcher for a bot login: `@name` or `name` as a whole word, case-insensitive. */
export function mentionMatcher(botLogin: string): (text: string) => boolean {
  if (botLogin === "") return () => false;
  const escaped = botLogin.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  // Word boundaries for Twitch logins: letters, digits and underscores belong to the word. A name
  // inside a link or a file name (`twitch.tv/clankbot`, `clankbot.exe`) is not someone talking to it.
  const re = new RegExp(`(?:^|[^A-Za-z0-9_/.])@?${escaped}(?![A-Za-z0-9_]|\\.[A-Za-z0-9]|/)`, "i");
  return (text) => re.test(text);
}

/** Computes the facts of a line. */
export function messageFacts(
  event: MessageEvent,
  opts: { bot: string; isMention: (text: string) => boolean; prefix: string; bots: ReadonlySet<string> },
): MessageFacts {
  const self = event.self || (opts.bot !== "" && event.user === opts.bot);
  const text = event.text.trimStart();
  // A line shared from another channel of a Shared Chat session is answered there (by the bot, if it
  // is in that channel too, and Twitch shows the answer here); its badges are not this channel's.
  const local = event.sharedFrom === undefined;
  const ourCommand = local && (text.toLowerCase() === opts.prefix.toLowerCase() ||
    text.toLowerCase().startsWith(opts.prefix.toLowerCase() + " "));
  const command = text.startsWith("!");
  return {
    self,
    ourCommand,
    command,
    fromBot: opts.bots.has(event.user),
    mention: local && !self && !command && opts.isMention(event.text),
  };
}
