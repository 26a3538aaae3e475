import assert from "node:assert/strict";
import fc from "fast-check";
import { getEncoding } from "js-tiktoken";
import { estimateTokens } from "../plugins/token_estimate.ts";
import { quoteLine } from "../plugins/prompt_builder.ts";

/** The oracle: a byte-pair tokenizer of the GPT-4 / llama-3 kind. */
const cl100k = getEncoding("cl100k_base");
const realTokens = (text: string) => cl100k.encode(text).length;

/** Pieces chat is made of, by kind, so generated lines look like chat of many channels. */
const PIECES: Record<string, readonly string[]> = {
  english: [
    "honestly",
    "the",
    "boss",
    "fight",
    "was",
    "way",
    "harder",
    "than",
    "last",
    "time",
    "gg",
    "wp",
    "lol",
  ],
  emotes: ["PogChamp", "KEKW", "LUL", "Kappa", "monkaS", "OMEGALUL", "PepeHands", "catJAM", "Sadge", "5Head"],
  handles: ["@xX_g4mer42_Xx", "@Zz_qq_99", "@n1ghtbot", "@StreamElements", "@viewer_3071"],
  numbers: ["2024", "1337", "99.5%", "3:42", "#1", "x10", "100k"],
  punctuation: ["!!!", "???", "...", ":)", ";)", ":D", "<3", "^^", "xD", "-_-"],
  japanese: ["今日の配信", "めっちゃ面白い", "草生える", "次のボス頑張って", "www"],
  chinese: ["主播", "今天的操作", "太厉害了", "哈哈哈哈", "加油"],
  korean: ["안녕하세요", "여러분", "방송", "재밌어요", "ㅋㅋㅋㅋ"],
  cyrillic: ["Привет", "всем", "какой", "классный", "стрим"],
  spanish: ["¿Qué", "tal", "está", "muy", "bien", "olé", "niño"],
  emoji: ["😂", "🔥", "💀", "❤️", "👨‍👩‍👧‍👦", "🏳️‍🌈", "✨", "😭😭"],
  art: ["▬▬▬▬", "░░▄▄▀▀", "████", "⣿⣿⣿⣿", "━━━━"],
};

const chatLine = fc.record({
  user: fc.constantFrom("viewer1", "xX_g4mer_Xx", "NightOwl_77", "モデレーター", "Ромашка"),
  words: fc.array(fc.constantFrom(...Object.values(PIECES).flat()), { minLength: 1, maxLength: 25 }),
}).map(({ user, words }) => quoteLine({ user, text: words.join(" ") }));

Deno.test("estimateTokens", async (t) => {
  await t.step("counts nothing for nothing and something for anything but a space", () => {
    assert.equal(estimateTokens(""), 0);
    for (const text of ["a", "1", "!", "é", "草", "😂"]) assert.ok(estimateTokens(text) >= 1, text);
  });

  await t.step("reads an emoji (a surrogate pair) as one piece", () => {
    assert.equal(estimateTokens("😂"), 3);
    assert.equal(estimateTokens("😂😂"), 6);
  });

  await t.step("never below the oracle for a prompt's worth of chat of any kind, nor far above", () => {
    fc.assert(
      fc.property(fc.array(chatLine, { minLength: 20, maxLength: 60 }), (lines) => {
        const text = lines.join("\n");
        const ratio = estimateTokens(text) / realTokens(text);
        return ratio >= 1 && ratio <= 2;
      }),
      { numRuns: 150 },
    );
  });

  await t.step("for each kind of chat alone, too", () => {
    for (const [kind, pieces] of Object.entries(PIECES)) {
      const text = Array.from(
        { length: 40 },
        (_, i) => quoteLine({ user: `viewer${i}`, text: pieces.join(" ") }),
      ).join("\n");
      const ratio = estimateTokens(text) / realTokens(text);
      assert.ok(ratio >= 1 && ratio <= 2, `${kind}: ${ratio.toFixed(2)} of the real count`);
    }
  });
});
