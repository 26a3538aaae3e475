/**
 * Text folding for blocked-word matching.
 *
 * Each code point of a line is folded on its own: compatibility decomposition (NFKD, which also
 * turns fullwidth forms, mathematical alphanumerics, ligatures, circled and super/subscript letters
 * into plain ones), combining marks (diacritics, variation selectors) removed, invisible and format
 * characters removed, look-alike letters from other scripts mapped to Latin, lower case. Folding one
 * code point at a time keeps word boundaries where they were and lets a match be mapped back to the
 * original line.
 *
 * Leetspeak is not resolved here: `1` may be `i` or `l`, `!` may be a letter or punctuation, so the
 * matcher asks {@link letterReadings} what a character can stand for and tries each reading.
 * Repeated letters are not collapsed either (that would merge "coon" into "con"); the matcher lets
 * every letter of an entry repeat instead.
 * @module
 */

/** What a folded UTF-16 code unit is, for word boundaries and gaps. */
export const CharKind = {
  Letter: 1,
  Digit: 2,
  Space: 3,
  /** Punctuation, symbols, emoji halves: may sit inside a word as a separator. */
  Other: 4,
} as const;

/** One of the {@link CharKind} values. */
export type CharKind = typeof CharKind[keyof typeof CharKind];

/**
 * Look-alikes that NFKD leaves alone: Cyrillic, Greek, Armenian, Cherokee and IPA letters, small
 * capitals, and Latin letters with strokes and hooks. Most come from Unicode's confusables list
 * (UTS #39 `confusables.txt`, followed through to a Latin letter); a few that list leaves out are
 * letters chat uses for a Latin one anyway (`п` for n, `ɛ` for e, `ĸ` for k). Keys are
 * case-sensitive because some capitals look like a different letter than their lower case (Greek
 * `Η` is an H, `η` an n).
 */
const LOOK_ALIKES: Record<string, string> = {
  // Cyrillic
  "А": "a",
  "а": "a",
  "В": "b",
  "в": "b",
  "Ь": "b",
  "ь": "b",
  "С": "c",
  "с": "c",
  "ԁ": "d",
  "Е": "e",
  "е": "e",
  "Н": "h",
  "н": "h",
  "һ": "h",
  "І": "i",
  "і": "i",
  "Ј": "j",
  "ј": "j",
  "К": "k",
  "к": "k",
  "Ӏ": "l",
  "ӏ": "l",
  "М": "m",
  "м": "m",
  "О": "o",
  "о": "o",
  "Р": "p",
  "р": "p",
  "ԛ": "q",
  "г": "r",
  "Ѕ": "s",
  "ѕ": "s",
  "Т": "t",
  "т": "t",
  "Ѵ": "v",
  "ѵ": "v",
  "Ԝ": "w",
  "ԝ": "w",
  "Х": "x",
  "х": "x",
  "У": "y",
  "у": "y",
  "Ү": "y",
  "ү": "y",
  // Italic and handwritten п is an n; chat uses it for one.
  "п": "n",
  "ґ": "r",
  "ғ": "f",
  "қ": "k",
  "ҽ": "e",
  "ѡ": "w",
  "Ԍ": "g",
  // Greek
  "Α": "a",
  "α": "a",
  "Β": "b",
  "β": "b",
  "Ε": "e",
  "ε": "e",
  "Ζ": "z",
  "Η": "h",
  "η": "n",
  "Ι": "i",
  "ι": "i",
  "Κ": "k",
  "κ": "k",
  "Μ": "m",
  "Ν": "n",
  "ν": "v",
  "Ο": "o",
  "ο": "o",
  "Ρ": "p",
  "ρ": "p",
  "Τ": "t",
  "τ": "t",
  "Υ": "y",
  "υ": "u",
  "Χ": "x",
  "χ": "x",
  "ω": "w",
  "ϲ": "c",
  "Ϲ": "c",
  "γ": "y",
  "σ": "o",
  "ϱ": "p",
  "ϳ": "j",
  "Ϳ": "j",
  "Ϝ": "f",
  // Armenian
  "օ": "o",
  "ս": "u",
  "ո": "n",
  "հ": "h",
  "ց": "g",
  "ռ": "n",
  "ք": "f",
  "գ": "q",
  "զ": "q",
  "ա": "w",
  "Ս": "u",
  "Տ": "s",
  "Օ": "o",
  // Latin letters without a decomposition, IPA, small capitals
  "ı": "i",
  "ȷ": "j",
  "ł": "l",
  "Ł": "l",
  "ø": "o",
  "Ø": "o",
  "đ": "d",
  "Đ": "d",
  "ħ": "h",
  "Ħ": "h",
  "ƀ": "b",
  "ĸ": "k",
  "ƒ": "f",
  "Ƒ": "f",
  "ꞙ": "f",
  "Ꞙ": "f",
  "ǥ": "g",
  "Ǥ": "g",
  "ɠ": "g",
  "Ɠ": "g",
  "ɛ": "e",
  "Ɛ": "e",
  "ɾ": "r",
  "ɽ": "r",
  "ɍ": "r",
  "Ɍ": "r",
  "ɓ": "b",
  "Ɓ": "b",
  "ƈ": "c",
  "Ƈ": "c",
  "ɗ": "d",
  "Ɗ": "d",
  "ɖ": "d",
  "ƙ": "k",
  "Ƙ": "k",
  "ƥ": "p",
  "Ƥ": "p",
  "ƭ": "t",
  "Ƭ": "t",
  "ʈ": "t",
  "ɦ": "h",
  "ɱ": "m",
  "ɲ": "n",
  "ɳ": "n",
  "ŋ": "n",
  "ƞ": "n",
  "ɵ": "o",
  "Ɵ": "o",
  "ʂ": "s",
  "ƽ": "s",
  "ƶ": "z",
  "Ƶ": "z",
  "ȥ": "z",
  "ʐ": "z",
  "ɨ": "i",
  "Ɨ": "i",
  "ʉ": "u",
  "Ʉ": "u",
  "ʋ": "u",
  "ƴ": "y",
  "Ƴ": "y",
  "ɏ": "y",
  "Ɏ": "y",
  "ɣ": "y",
  "ɉ": "j",
  "Ɉ": "j",
  "ʝ": "j",
  "ƚ": "l",
  "Ƚ": "l",
  "ɫ": "l",
  "ɬ": "l",
  "ɭ": "l",
  "ɯ": "w",
  "ʠ": "q",
  "ɋ": "q",
  "ᶃ": "g",
  "ᴦ": "r",
  "ß": "ss",
  "æ": "ae",
  "Æ": "ae",
  "œ": "oe",
  "Œ": "oe",
  "ɑ": "a",
  "ɡ": "g",
  "ɩ": "i",
  "ɪ": "i",
  "ᴀ": "a",
  "ʙ": "b",
  "ᴄ": "c",
  "ᴅ": "d",
  "ᴇ": "e",
  "ꜰ": "f",
  "ɢ": "g",
  "ʜ": "h",
  "ᴊ": "j",
  "ᴋ": "k",
  "ʟ": "l",
  "ᴍ": "m",
  "ɴ": "n",
  "ᴏ": "o",
  "ᴘ": "p",
  "ʀ": "r",
  "ꜱ": "s",
  "ᴛ": "t",
  "ᴜ": "u",
  "ᴠ": "v",
  "ᴡ": "w",
  "ʏ": "y",
  "ᴢ": "z",
  // Blank-looking symbols used as spaces
  "\u2800": " ",
};

/**
 * Cherokee capitals that look like a Latin letter (from the confusables list). Their small letters
 * (U+AB70–U+ABBF, U+13F8–U+13FD) are the same shapes, smaller, so they read the same.
 */
const CHEROKEE: Record<string, string> = {
  "Ꭰ": "d",
  "Ꭱ": "r",
  "Ꭲ": "t",
  "Ꭵ": "i",
  "Ꭹ": "y",
  "Ꭺ": "a",
  "Ꭻ": "j",
  "Ꭼ": "e",
  "Ꮃ": "w",
  "Ꮇ": "m",
  "Ꮋ": "h",
  "Ꮍ": "y",
  "Ꮐ": "g",
  "Ꮒ": "h",
  "Ꮓ": "z",
  "Ꮟ": "b",
  "Ꮢ": "r",
  "Ꮤ": "w",
  "Ꮥ": "s",
  "Ꮩ": "v",
  "Ꮪ": "s",
  "Ꮮ": "l",
  "Ꮯ": "c",
  "Ꮲ": "p",
  "Ꮶ": "k",
  "Ꮷ": "d",
  "Ᏻ": "g",
  "Ᏼ": "b",
};
for (const [capital, latin] of Object.entries(CHEROKEE)) {
  LOOK_ALIKES[capital] = latin;
  LOOK_ALIKES[capital.toLowerCase()] = latin;
}

/** Letters that leetspeak and look-alike symbols can stand for, besides the character itself. */
const LEET: Record<string, string> = {
  "0": "o",
  "1": "il",
  "2": "z",
  "3": "e",
  "4": "a",
  "5": "s",
  "6": "gb",
  "7": "t",
  "8": "b",
  "9": "g",
  "@": "a",
  "$": "s",
  "!": "i",
  "|": "il",
  "+": "t",
  "(": "c",
  "<": "c",
  "#": "h",
  "€": "e",
  "£": "l",
  "¥": "y",
  "§": "s",
  "©": "c",
  "¢": "c",
  "®": "r",
  "†": "t",
  // A capital I and a lower-case l look the same in most chat fonts.
  "i": "l",
  "l": "i",
};

const MARK = /\p{M}/u;
const INVISIBLE = /[\p{Cf}\p{Cc}\u115F\u1160\u3164\uFFA0]/u;
const LETTER = /\p{L}/u;
const NUMBER = /\p{N}/u;
const SPACE = /\s/u;

/** Folded forms of non-ASCII code points, filled on first use. */
const foldCache = new Map<number, string>();
const FOLD_CACHE_LIMIT = 50_000;

/** Letters in emoji-style ranges that have no decomposition: negative circled/squared, regional indicators. */
function foldEnclosedLetter(cp: number): string | undefined {
  if (cp >= 0x1f150 && cp <= 0x1f169) return String.fromCharCode(97 + cp - 0x1f150);
  if (cp >= 0x1f170 && cp <= 0x1f189) return String.fromCharCode(97 + cp - 0x1f170);
  if (cp >= 0x1f1e6 && cp <= 0x1f1ff) return String.fromCharCode(97 + cp - 0x1f1e6);
  return undefined;
}

function foldChar(ch: string): string {
  if (MARK.test(ch) || INVISIBLE.test(ch)) return "";
  if (ch === "\t" || ch === "\n" || ch === "\r") return " ";
  const direct = LOOK_ALIKES[ch];
  if (direct !== undefined) return direct;
  const lower = ch.toLowerCase();
  const mapped = LOOK_ALIKES[lower] ?? lower;
  if (mapped === ch) return ch;
  // Lower-casing may add marks again (`İ` becomes `i` plus a dot above).
  let out = "";
  for (const c of mapped.normalize("NFKD")) if (!MARK.test(c) && !INVISIBLE.test(c)) out += c;
  return out;
}

/**
 * The folded form of one code point: what it contributes to the text the matcher sees. Empty for
 * invisible characters and combining marks.
 */
export function foldCodePoint(cp: number): string {
  if (cp < 0x80) {
    if (cp >= 0x41 && cp <= 0x5a) return String.fromCharCode(cp + 32);
    if (cp === 0x09 || cp === 0x0a || cp === 0x0d) return " ";
    if (cp < 0x20 || cp === 0x7f) return "";
    return String.fromCharCode(cp);
  }
  const cached = foldCache.get(cp);
  if (cached !== undefined) return cached;
  let out = foldEnclosedLetter(cp);
  if (out === undefined) {
    const ch = String.fromCodePoint(cp);
    const direct = LOOK_ALIKES[ch];
    if (direct !== undefined) {
      out = direct;
    } else {
      out = "";
      for (const part of ch.normalize("NFKD")) out += foldChar(part);
    }
  }
  if (foldCache.size >= FOLD_CACHE_LIMIT) foldCache.clear();
  foldCache.set(cp, out);
  return out;
}

/** Folds a whole line for matching (see the module description). */
export function foldText(text: string): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) {
      if (code >= 0x41 && code <= 0x5a) out += String.fromCharCode(code + 32);
      else if (code >= 0x20 && code !== 0x7f) out += text[i];
      else if (code === 0x09 || code === 0x0a || code === 0x0d) out += " ";
      continue;
    }
    const cp = text.codePointAt(i) ?? code;
    if (cp > 0xffff) i++;
    out += foldCodePoint(cp);
  }
  return out;
}

/** A folded line plus, for each of its UTF-16 code units, the index in the original line it came from. */
export interface FoldedText {
  text: string;
  /** `offsets[i]` is where `text[i]` came from; `offsets[text.length]` is the original length. */
  offsets: number[];
}

/** Like {@link foldText}, and keeps where each folded character came from. */
export function foldTextWithOffsets(text: string): FoldedText {
  let out = "";
  const offsets: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const start = i;
    const cp = text.codePointAt(i) ?? 0;
    if (cp > 0xffff) i++;
    const folded = foldCodePoint(cp);
    out += folded;
    for (let k = 0; k < folded.length; k++) offsets.push(start);
  }
  offsets.push(text.length);
  return { text: out, offsets };
}

const kindCache = new Uint8Array(0x10000);

/** What a folded code unit is; lone surrogate halves (emoji) count as {@link CharKind.Other}. */
export function charKind(code: number): CharKind {
  const known = kindCache[code];
  if (known) return known as CharKind;
  const ch = String.fromCharCode(code);
  const kind = LETTER.test(ch)
    ? CharKind.Letter
    : NUMBER.test(ch)
    ? CharKind.Digit
    : SPACE.test(ch)
    ? CharKind.Space
    : CharKind.Other;
  kindCache[code] = kind;
  return kind;
}

const READINGS = new Map(Object.entries(LEET).map(([ch, letters]) => [ch, ch + letters]));

/**
 * What a folded character can stand for in a blocked entry: itself, plus the letters it is used for
 * in leetspeak (`4` → a, `1` → i or l, `$` → s) and the other of `i`/`l`.
 */
export function letterReadings(ch: string): string {
  return READINGS.get(ch) ?? ch;
}
