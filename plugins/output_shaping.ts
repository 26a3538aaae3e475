/**
 * The `output_shaping` filter: turns whatever a generator wrote into one sendable Twitch line, or
 * drops it when nothing is left. Runs on every line the bot sends (`directions: ["out"]`).
 *
 * In order: `<think>` blocks go; the first non-empty line stays; control and zero-width characters
 * go; a leading speaker name (`bot:`, `[name]`, `<name>`) and surrounding quotes go; leading `/ . \ !`
 * go (tmi.js would send such a line as a command); a leading `@name` of the user being answered goes
 * (the reply's own address names them); `@everyone`-style pings go and only the first
 * two `@name`s keep their `@`; the line is cut at a word boundary to `max_length` characters and to
 * {@link TWITCH_MAX_UNITS} UTF-16 units, so the transport's own cut never has to split a word.
 * @module
 */
import { definePlugin, type FilterInput, type FilterVerdict } from "./sdk.ts";

/** Twitch's limit for one chat line, in characters. */
export const TWITCH_MAX_LENGTH = 500;
/**
 * UTF-16 units (JavaScript `.length`) of one line: tmi.js splits a line of 500 or more into two sends,
 * so the transport hard-cuts at 499. An emoji is one character but two units.
 */
export const TWITCH_MAX_UNITS = 499;
/** `@name`s that keep their `@`. */
export const MAX_MENTIONS = 2;
/** Words that ping a whole chat. */
const MASS_MENTIONS = new Set(["everyone", "here", "channel", "all", "chat", "everybody"]);

/** Removes `<think>…</think>` blocks, text before a lone `</think>`, and an unterminated `<think>`. */
export function stripThinking(text: string): string {
  let out = text.replace(/<think>[\s\S]*?<\/think>/gi, "");
  const close = out.search(/<\/think>/i);
  if (close >= 0) out = out.slice(out.toLowerCase().lastIndexOf("</think>") + "</think>".length);
  const open = out.search(/<think>/i);
  return open >= 0 ? out.slice(0, open) : out;
}

/**
 * One pass: a kept emoji piece, or a character to remove. Kept: a subdivision flag (U+1F3F4, two to
 * seven tag letters or digits, CANCEL TAG: the flags of Scotland, Wales, England), and a zero-width
 * joiner between emoji components (after a pictograph, a skin tone or VS16, before a pictograph:
 * 👩‍💻, 🧑🏽‍💻, 🏳️‍🌈). Removed: control characters, zero-width and bidi formatting, invisible fillers,
 * and tag characters anywhere else, where they only carry invisible text (the flag's bound leaves
 * seven letters at most). One pass, because a placeholder character could come from the model too.
 */
const INVISIBLE =
  /(\u{1F3F4}[\u{E0030}-\u{E0039}\u{E0061}-\u{E007A}]{2,7}\u{E007F})|((?<=[\p{Extended_Pictographic}\p{Emoji_Modifier}\uFE0F])\u200D(?=\p{Extended_Pictographic}))|[\p{Cc}\u00AD\u034F\u061C\u115F\u1160\u17B4\u17B5\u180B-\u180F\u200B-\u200F\u202A-\u202E\u2060-\u206F\u2800\u3164\uFEFF\uFFA0\u{E0000}-\u{E007F}]/gu;

/**
 * Removes control characters, zero-width and bidi formatting characters, invisible fillers and tag
 * characters, but not the ones that build an emoji (see {@link INVISIBLE}). A tab becomes a space.
 */
export function stripInvisible(text: string): string {
  return text.replace(
    INVISIBLE,
    (ch, flag: string | undefined, joiner: string | undefined) => flag ?? joiner ?? (ch === "\t" ? " " : ""),
  );
}

const QUOTE_PAIRS: Record<string, string> = {
  '"': '"',
  "'": "'",
  "“": "”",
  "„": "“",
  "«": "»",
  "‘": "’",
  "`": "`",
};

/** Strips one pair of quotes around the whole text, unescaping a JSON string. */
function stripQuotes(text: string): string {
  const first = text[0];
  const close = first === undefined ? undefined : QUOTE_PAIRS[first];
  if (close === undefined || text.length < 2 || !text.endsWith(close)) return text;
  if (first === '"') {
    try {
      const parsed = JSON.parse(text);
      if (typeof parsed === "string") return parsed;
    } catch {
      // Not JSON: strip the quotes as they are.
    }
  }
  const inner = text.slice(1, -1);
  // `"a" and "b"` is not one quoted line.
  return inner.includes(first!) && first === close ? text : inner;
}

/**
 * A name as a label carries it: a Twitch login is 3 to 25 letters, digits and `_` (ASCII, or a
 * localized display name), and it starts with a letter here. That start is what keeps a time, a
 * score or an emote out (`10:30`, `2:1`, `4Head:`), and the length a meme (`[x] doubt`).
 */
const LABEL_NAME = /^[\p{L}][\p{L}\p{N}_]{2,24}$/u;

/**
 * Strips a leading speaker label: `[name]`, `<name>`, `**name**:`, the bot's own name, the addressed
 * user, or a login-like name (a letter first, then with `_` or digits) followed by `:`. A plain word
 * such as `Note:` stays, and so do numbers, times and scores (`10:30`, `3:0`) and brackets around
 * anything but one name (`<3 … >.<`, `[x] doubt`). The addressed user's `@name` goes even without a
 * colon (`@name`, `@name,`).
 */
function stripSpeaker(text: string, bot: string, user: string | undefined): string {
  // A reply goes out as "@user text": the model's own "@user" (or "@user,") would name them twice.
  if (user !== undefined) {
    const own = text.match(/^\s*@([\p{L}\p{N}_]+)(?![\p{L}\p{N}_'’])[\s,:;.!–—-]*/u);
    if (own && own[1]!.toLowerCase() === user.toLowerCase()) return text.slice(own[0].length);
  }
  // Only one name-like token inside: `<3 you guys are the best >.<` is a heart and a face, not a tag.
  const bracket = text.match(/^\s*(?:\[@?([^\]\s]{1,25})\]|<@?([^>\s]{1,25})>)\s*:?\s*/u);
  if (bracket && LABEL_NAME.test(bracket[1] ?? bracket[2]!)) return text.slice(bracket[0].length);
  const label = text.match(/^\s*(?:\*\*)?@?([\p{L}\p{N}_]{1,25})(?:\*\*)?\s*:\s*/u);
  if (!label) return text;
  const name = label[1]!.toLowerCase();
  const rest = text.slice(label[0].length);
  const known = name === bot.toLowerCase() || (user !== undefined && name === user.toLowerCase());
  if (known) return rest;
  if (!LABEL_NAME.test(name)) return text;
  const loginLike = /[_\d]/.test(name) && /^[a-z0-9_]+$/.test(name);
  const quoted = /^["“'«]/.test(rest);
  return loginLike || quoted ? rest : text;
}

/** Removes mass pings and keeps the `@` of the first {@link MAX_MENTIONS} mentions only. */
export function limitMentions(text: string): string {
  let seen = 0;
  return text.replace(/(^|[^\w@])@([\p{L}\p{N}_]+)/gu, (whole, before: string, name: string) => {
    if (MASS_MENTIONS.has(name.toLowerCase())) return before;
    seen++;
    return seen <= MAX_MENTIONS ? whole : `${before}${name}`;
  });
}

/**
 * Cuts `text` to at most `max` characters (code points) and `maxUnits` UTF-16 units, at a word
 * boundary; a hard cut (never inside a surrogate pair) only when the last word is longer than half.
 */
export function cutAtWord(text: string, max: number, maxUnits = Infinity): string {
  const chars = Array.from(text);
  let fit = 0;
  let units = 0;
  while (fit < chars.length && fit < max && units + chars[fit]!.length <= maxUnits) {
    units += chars[fit++]!.length;
  }
  if (fit === chars.length) return text;
  // A space right after the limit ends the last word that fits, so look one character further.
  let space = fit;
  while (space >= 0 && !/\s/u.test(chars[space]!)) space--;
  const cut = chars.slice(0, space > fit / 2 ? space : fit).join("");
  return cut.replace(/[\s,;:–—-]+$/u, "");
}

/** Shapes `item.text` into one sendable line; returns the new text, or `""` when nothing is left. */
export function shapeLine(item: Pick<FilterInput, "text" | "bot" | "user" | "settings">): string {
  let text = stripThinking(item.text);
  text = text.split(/\r\n|\r|\n|\u2028|\u2029/).map((l) => l.trim()).find((l) => l !== "") ?? "";
  text = stripInvisible(text).trim();
  // Labels and quotes can nest (`bot: "text"`, `"[bot] text"`); peel until nothing changes.
  for (let i = 0; i < 4; i++) {
    const before = text;
    text = stripQuotes(stripSpeaker(text, item.bot, item.user).trim()).trim();
    text = text.replace(/^[\s/.\\!]+/, "");
    if (text === before) break;
  }
  text = limitMentions(text).replace(/\s+/g, " ").trim();
  const max = Math.min(item.settings?.max_length ?? TWITCH_MAX_LENGTH, TWITCH_MAX_LENGTH);
  text = cutAtWord(text, max, TWITCH_MAX_UNITS);
  // The cut or the mention pass may have exposed a command character again.
  return text.replace(/^[\s/.\\!]+/, "").trim();
}

export default definePlugin({
  name: "output_shaping",
  kind: "filter",
  apiVersion: 1,
  description: "Makes a generated text one safe Twitch line (first line, no labels, no commands, length)",
  directions: ["out"],
  check(item: FilterInput): FilterVerdict {
    const text = shapeLine(item);
    if (text === "") return { action: "drop", reason: "empty" };
    return text === item.text ? { action: "pass" } : { action: "rewrite", text };
  },
});
