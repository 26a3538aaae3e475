import assert from "node:assert/strict";
import {
  CharKind,
  charKind,
  foldCodePoint,
  foldText,
  foldTextWithOffsets,
  letterReadings,
} from "../filters/text_normalizer.ts";

Deno.test("foldText lower-cases and removes diacritics", () => {
  assert.equal(foldText("HeLLo WORLD"), "hello world");
  assert.equal(foldText("ÀÉÎÕÜ çñ"), "aeiou cn");
  // Decomposed input and stacked marks ("zalgo") fold the same way.
  assert.equal(foldText("e\u0301\u0316\u0337x"), "ex");
  assert.equal(foldText("İstanbul"), "istanbul");
});

Deno.test("foldText removes invisible and format characters", async (t) => {
  const invisible = [
    "\u200B",
    "\u200C",
    "\u200D",
    "\u200E",
    "\u200F",
    "\u2060",
    "\u2061",
    "\u2062",
    "\u2063",
    "\u2064",
    "\uFEFF",
    "\u00AD",
    "\uFE0F",
    "\u034F",
    "\u180E",
    "\u3164",
    "\u202E",
    "\u{E0041}",
    "\u{E0100}",
    "\u0000",
  ];
  for (const ch of invisible) {
    const code = ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0");
    await t.step(`U+${code}`, () => {
      assert.equal(foldText(`b${ch}a${ch}d`), "bad");
    });
  }
});

Deno.test("foldText maps look-alike letters to Latin", async (t) => {
  const cases: Array<[string, string]> = [
    ["Cyrillic", "раураl сарѕ"],
    ["Greek", "ΑΒΕΖΗΙΚΜΝΟΡΤΥΧ"],
    ["fullwidth", "ＦＵＬＬｗｉｄｔｈ"],
    ["mathematical bold", "𝐛𝐨𝐥𝐝"],
    ["mathematical script and fraktur", "𝓈𝒸𝓇𝒾𝓅𝓉 𝔣𝔯𝔞𝔨"],
    ["circled", "ⓒⓘⓡⓒⓛⓔⓓ"],
    ["negative squared", "🅱🅻🅾🅲🅺"],
    ["regional indicators", "🇫🇱🇦🇬"],
    ["small capitals", "ꜱᴍᴀʟʟ ᴄᴀᴘꜱ"],
    ["superscript", "ˢᵘᵖᵉʳ"],
  ];
  const expected: Record<string, string> = {
    Cyrillic: "paypal caps",
    Greek: "abezhikmnoptyx",
    fullwidth: "fullwidth",
    "mathematical bold": "bold",
    "mathematical script and fraktur": "script frak",
    circled: "circled",
    "negative squared": "block",
    "regional indicators": "flag",
    "small capitals": "small caps",
    superscript: "super",
  };
  for (const [name, input] of cases) {
    await t.step(name, () => assert.equal(foldText(input), expected[name]));
  }
});

Deno.test("foldText maps IPA, Latin Extended-B, Cyrillic, Greek, Armenian and Cherokee look-alikes", async (t) => {
  const cases: Array<[string, string, string]> = [
    ["open e", "ɛƐ", "ee"],
    ["r with fishhook, tail and stroke", "ɾɽɍ", "rrr"],
    ["kra", "ĸ", "k"],
    ["f with hook, f with stroke, Cyrillic ghe with stroke", "ƒꞙғҒ", "ffff"],
    ["g with stroke and hook", "ǥǤɠƓ", "gggg"],
    ["hooked and barred Latin letters", "ɓƈɗƙƥƭɦɲŋɵʂƶɨʉƴɉƚɫ", "bcdkpthnnosziuyjll"],
    ["Cyrillic pe and ghe with upturn", "пПґ", "nnr"],
    ["Greek sigma and gamma", "σγ", "oy"],
    ["Armenian", "ռքզ", "nfq"],
    ["Cherokee capitals", "ᎥᎪᏴᏟᎠᎬᏀᎻᏦᏞᎷᏢᏒᏚᎢᏙᏔᎩᏃ", "iabcdeghklmprstvwyz"],
    ["Cherokee small letters", "ꭵꮪꮃꮯ", "iswc"],
  ];
  for (const [name, input, expected] of cases) {
    await t.step(name, () => assert.equal(foldText(input), expected));
  }
});

Deno.test("foldText keeps spacing and punctuation, turning tabs and newlines into spaces", () => {
  assert.equal(foldText("b a.d-w_o*r d"), "b a.d-w_o*r d");
  assert.equal(foldText("one\ttwo\nthree\r"), "one two three ");
  assert.equal(foldText("\u3000wide\u00A0space"), " wide space");
  assert.equal(foldText(""), "");
});

Deno.test("foldText does not resolve leetspeak or collapse repeated letters", () => {
  assert.equal(foldText("H3LL000 W0rld!!"), "h3ll000 w0rld!!");
  assert.equal(foldText("cooool"), "cooool");
});

Deno.test("foldCodePoint agrees with foldText one code point at a time", () => {
  const sample = "Ａ𝐁ćĎ\u200Bß ﬁ😀";
  let joined = "";
  for (const ch of sample) joined += foldCodePoint(ch.codePointAt(0)!);
  assert.equal(joined, foldText(sample));
  assert.equal(foldCodePoint("ß".codePointAt(0)!), "ss");
  assert.equal(foldCodePoint("ﬁ".codePointAt(0)!), "fi");
});

Deno.test("foldTextWithOffsets maps every folded character back to the original line", () => {
  const raw = "x𝐀\u200Bé ß";
  const { text, offsets } = foldTextWithOffsets(raw);
  assert.equal(text, "xae ss");
  // x at 0, 𝐀 (two code units) at 1, the zero-width space at 3 folds to nothing, é at 4.
  assert.deepEqual(offsets, [0, 1, 4, 5, 6, 6, raw.length]);
  assert.equal(text, foldText(raw));
});

Deno.test("charKind classifies letters, digits, spaces and everything else", () => {
  const kind = (ch: string) => charKind(ch.charCodeAt(0));
  assert.equal(kind("a"), CharKind.Letter);
  assert.equal(kind("ж"), CharKind.Letter);
  assert.equal(kind("7"), CharKind.Digit);
  assert.equal(kind(" "), CharKind.Space);
  assert.equal(kind("\u3000"), CharKind.Space);
  assert.equal(kind("!"), CharKind.Other);
  assert.equal(kind("@"), CharKind.Other);
  // Emoji are surrogate pairs; each half is a separator, not a letter.
  assert.equal(kind("😀"), CharKind.Other);
});

Deno.test("letterReadings lists the letters a character can stand for", () => {
  assert.equal(letterReadings("a"), "a");
  assert.equal(letterReadings("4"), "4a");
  assert.equal(letterReadings("@"), "@a");
  assert.ok(letterReadings("1").includes("i") && letterReadings("1").includes("l"));
  assert.ok(letterReadings("|").includes("i") && letterReadings("|").includes("l"));
  assert.ok(letterReadings("l").includes("i"), "a lower-case l may stand for a capital I");
  assert.ok(letterReadings("$").includes("s"));
  assert.ok(letterReadings("0").includes("o"));
  assert.ok(letterReadings("3").includes("e"));
  assert.ok(letterReadings("7").includes("t"));
  // "niqqa" is listed as a spelling instead: read as a g, the q of "faq" would spell a slur.
  assert.equal(letterReadings("q"), "q");
  assert.equal(letterReadings("."), ".");
});
