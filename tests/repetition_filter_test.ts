import assert from "node:assert/strict";
import fc from "fast-check";
import plugin, {
  boundedEditDistance,
  COPY_MIN_SHARE,
  COPY_MIN_WORDS,
  editDistance,
  longestSharedRun,
  normalizeLine,
  RepetitionOptions,
  SHORT_WORDS,
  similarity,
  wordJaccard,
} from "../plugins/repetition_filter.ts";
import { ChannelSettingsSchema } from "../core/config_schema.ts";
import type { FilterInput, FilterVerdict, PluginApi } from "../plugins/sdk.ts";

const settings = ChannelSettingsSchema.parse({});

function api(options: Partial<RepetitionOptions> = {}): PluginApi<RepetitionOptions> {
  const noop = () => {};
  return {
    name: "repetition",
    options: RepetitionOptions.parse(options),
    log: { debug: noop, info: noop, warn: noop, error: noop },
    store: {
      get: () => Promise.resolve(undefined),
      set: () => Promise.resolve(),
      delete: () => Promise.resolve(),
    },
  };
}

function check(
  text: string,
  recent?: FilterInput["recent"],
  options: Partial<RepetitionOptions> = {},
): FilterVerdict {
  const v = plugin.check(
    { direction: "out", channel: "chan", text, settings, bot: "clankbot", recent },
    api(options),
  );
  assert.ok(!(v instanceof Promise));
  return v;
}

const recent = {
  bot: ["that boss fight was intense", "gg everyone, nice run!"],
  chat: ["what game is this", "I can't believe he missed that jump over the lava pit"],
};

Deno.test("normalizeLine ignores case, punctuation, mentions and spacing", () => {
  assert.equal(normalizeLine("  GG,  @Bob   nice RUN!! "), "gg nice run");
  assert.equal(normalizeLine("😀 🔥"), "😀 🔥");
});

Deno.test("similarity measures", async (t) => {
  await t.step("wordJaccard", () => {
    assert.equal(wordJaccard("a b c", "a b c"), 1);
    assert.equal(wordJaccard("a b", "c d"), 0);
    assert.equal(wordJaccard("a b c", "a b d"), 2 / 4);
  });
  await t.step("editDistance", () => {
    assert.equal(editDistance("kitten", "sitting"), 3);
    assert.equal(editDistance("", "abc"), 3);
    assert.equal(editDistance("same", "same"), 0);
  });
  await t.step("longestSharedRun counts the longest verbatim run of words", () => {
    assert.equal(longestSharedRun("x the wall clip saves y", "the wall clip z saves"), 3);
    assert.equal(longestSharedRun("a b", "c d"), 0);
    assert.equal(longestSharedRun("", "a"), 0);
  });
  await t.step("similarity takes the better of both", () => {
    assert.equal(similarity("Hello there!", "hello there"), 1);
    assert.ok(similarity("that boss fight was intense", "that boss fight was intens") > 0.9);
    assert.ok(similarity("completely different words", "nothing alike here") < 0.5);
  });
});

Deno.test("repetition filter", async (t) => {
  await t.step("drops the same line the bot said recently", () => {
    assert.deepEqual(check("That boss fight was INTENSE.", recent), { action: "drop", reason: "repeat" });
  });
  await t.step("drops a near repeat (typo or a word changed)", () => {
    assert.deepEqual(check("gg everyone nice run", recent), { action: "drop", reason: "repeat" });
    assert.deepEqual(check("that boss fight was so intense", recent), { action: "drop", reason: "repeat" });
  });
  await t.step("drops parroting of a recent chat line", () => {
    assert.deepEqual(check("i cant believe he missed that jump over the lava pit", recent), {
      action: "drop",
      reason: "parrot",
    });
  });
  await t.step("drops a line that is mostly one verbatim run of a chat line", () => {
    // From the sample replay: similarity 0.78, under the threshold, yet a 7-word copy.
    const chat = ["any% glitched, the wall clip saves like 40 seconds"];
    assert.ok(similarity("@riverotter the wall clip saves like 40 seconds", chat[0]!) < 0.8);
    assert.deepEqual(check("@riverotter the wall clip saves like 40 seconds", { bot: [], chat }), {
      action: "drop",
      reason: "parrot",
    });
    assert.deepEqual(check("honestly the wall clip saves like 40 seconds lol", { bot: [], chat }), {
      action: "drop",
      reason: "parrot",
    });
  });
  await t.step("passes a quoted run that is only part of the line, or short", () => {
    const chat = ["any% glitched, the wall clip saves like 40 seconds"];
    // 5 of 11 words copied: a reply that builds on chat, not a copy of it.
    assert.deepEqual(
      check("yeah the wall clip saves like a ton of time there", { bot: [], chat }),
      { action: "pass" },
    );
    // 4 words: too short to call a copy.
    assert.deepEqual(check("the wall clip saves", { bot: [], chat }), { action: "pass" });
    assert.deepEqual(
      check("@riverotter the wall clip saves like 40 seconds", { bot: [], chat }, { parroting: false }),
      { action: "pass" },
    );
  });
  await t.step("passes a new line", () => {
    assert.deepEqual(check("the music in this level is great", recent), { action: "pass" });
    assert.deepEqual(check("what game is this? looks like Celeste to me", recent), { action: "pass" });
  });
  await t.step("passes when there is nothing recent", () => {
    assert.deepEqual(check("that boss fight was intense"), { action: "pass" });
    assert.deepEqual(check("that boss fight was intense", { bot: [], chat: [] }), { action: "pass" });
  });
  await t.step("respects threshold and parroting options", () => {
    assert.deepEqual(check("that boss fight was so intense", recent, { threshold: 1 }), { action: "pass" });
    assert.deepEqual(check("what game is this", recent, { parroting: false }), { action: "pass" });
  });
  await t.step("tells emote-only lines apart", () => {
    assert.deepEqual(check("🔥🔥🔥", { bot: ["😀😀😀"], chat: [] }), { action: "pass" });
    assert.deepEqual(check("😀😀😀", { bot: ["😀😀😀"], chat: [] }), { action: "drop", reason: "repeat" });
  });
});

Deno.test("repetition filter checks outgoing lines only", () => {
  assert.deepEqual(plugin.directions, ["out"]);
  assert.equal(RepetitionOptions.safeParse({ threshold: 0.2 }).success, false);
});

/** The textbook Levenshtein distance: the oracle for the banded one. */
function plainEditDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(
        d[i - 1]![j]! + 1,
        d[i]![j - 1]! + 1,
        d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
  }
  return d[a.length]![b.length]!;
}

/** The filter's rule written plainly (every line normalized anew, full edit distance): the oracle. */
/** Longest run of words two lines share, by trying every pair of starting points. */
function plainLongestRun(a: string, b: string): number {
  const wa = a.split(" ").filter(Boolean);
  const wb = b.split(" ").filter(Boolean);
  let best = 0;
  for (let i = 0; i < wa.length; i++) {
    for (let j = 0; j < wb.length; j++) {
      let k = 0;
      while (i + k < wa.length && j + k < wb.length && wa[i + k] === wb[j + k]) k++;
      best = Math.max(best, k);
    }
  }
  return best;
}

function plainVerdict(text: string, bot: string[], chat: string[], threshold: number): string {
  const similar = (a: string, b: string) => {
    const na = normalizeLine(a);
    const nb = normalizeLine(b);
    const longest = Math.max(na.length, nb.length);
    if (na === nb || longest === 0) return 1;
    return Math.max(wordJaccard(na, nb), 1 - plainEditDistance(na, nb) / longest);
  };
  const copies = (line: string, source: string) => {
    const nl = normalizeLine(line);
    const words = nl.split(" ").filter(Boolean).length;
    const run = plainLongestRun(nl, normalizeLine(source));
    return words >= COPY_MIN_WORDS && run >= COPY_MIN_WORDS && run >= COPY_MIN_SHARE * words;
  };
  // Short lines: never a parrot, a repeat only of an unaddressed line (these candidates have no user).
  const short = normalizeLine(text).split(" ").filter(Boolean).length <= SHORT_WORDS;
  if (bot.some((b) => (!short || !b.trimStart().startsWith("@")) && similar(text, b) >= threshold)) {
    return "repeat";
  }
  if (short) return "pass";
  if (chat.some((c) => similar(text, c) >= threshold || copies(text, c))) return "parrot";
  return "pass";
}

Deno.test("the fast comparison gives the plain rule's answers", async (t) => {
  // Few letters and words, so near-repeats and shared runs are common.
  const word = fc.constantFrom(
    "gg",
    "nice",
    "run",
    "the",
    "wall",
    "clip",
    "lol",
    "boss",
    "@bob",
    "Kappa",
    "😀",
  );
  const line = fc.array(word, { maxLength: 12 }).map((w) => w.join(" "));

  await t.step("the banded edit distance is exact up to its limit", () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 40, unit: fc.constantFrom("a", "b", "c", " ") }),
        fc.string({
          maxLength: 40,
          unit: fc.constantFrom("a", "b", "c", " "),
        }),
        fc.nat(45),
        (a, b, limit) => {
          const exact = plainEditDistance(a, b);
          assert.equal(boundedEditDistance(a, b, limit), Math.min(exact, limit + 1));
          assert.equal(editDistance(a, b), exact);
        },
      ),
      { numRuns: 500 },
    );
  });

  await t.step("rows reused across calls: long, short and long again", () => {
    // The rows are shared scratch space that grows on demand; a stale cell from a longer call must
    // never leak into a shorter one, nor a grown row lose what a comparison needs.
    const text = (max: number) => fc.string({ maxLength: max, unit: fc.constantFrom("a", "b", " ") });
    const pair = fc.oneof(fc.tuple(text(8), text(8)), fc.tuple(text(300), text(300)));
    const words = fc.array(fc.constantFrom("a", "b", "c"), { maxLength: 150 }).map((w) => w.join(" "));
    fc.assert(
      fc.property(fc.array(fc.tuple(pair, fc.nat(320)), { maxLength: 6 }), words, words, (pairs, x, y) => {
        for (const [[a, b], limit] of pairs) {
          assert.equal(boundedEditDistance(a, b, limit), Math.min(plainEditDistance(a, b), limit + 1));
        }
        assert.equal(longestSharedRun(x, y), plainLongestRun(x, y));
      }),
      { numRuns: 150 },
    );
  });

  await t.step("verdicts match the plain rule at every threshold", () => {
    fc.assert(
      fc.property(
        line,
        fc.array(line, { maxLength: 4 }),
        fc.array(line, { maxLength: 6 }),
        fc.constantFrom(0.5, 0.7, 0.8, 0.9, 1),
        (text, bot, chat, threshold) => {
          // A variant of a recent line, so the drop branches are reached too.
          const candidates = [text, bot[0] ? `${bot[0]} x` : text, chat[0] ? `lol ${chat[0]}` : text];
          for (const candidate of candidates) {
            const v = check(candidate, { bot, chat }, { threshold });
            const expected = plainVerdict(candidate, bot, chat, threshold);
            assert.equal(
              v.action === "drop" ? v.reason : v.action,
              expected,
              JSON.stringify({ candidate, bot, chat }),
            );
          }
        },
      ),
      { numRuns: 400 },
    );
  });
});

// Audit: "gg" after a chatter's "GG" was dropped as a parrot, and "hi!" to bob as a repeat of the
// bot's "@ann hi". One or two words are how chat talks.
Deno.test("repetition filter lets short lines be chat", async (t) => {
  const reply = (text: string, user: string | undefined, recent: FilterInput["recent"]) => {
    const v = plugin.check(
      { direction: "out", channel: "chan", text, user, settings, bot: "clankbot", recent },
      api(),
    );
    assert.ok(!(v instanceof Promise));
    return v;
  };
  await t.step("joining in on a short chat line is no parroting", () => {
    for (
      const [line, chat] of [["gg", "GG"], ["lol", "lol"], ["nice", "nice!"], ["good luck", "Good luck!"]]
    ) {
      assert.deepEqual(check(line!, { bot: [], chat: [chat!] }), { action: "pass" }, line);
    }
  });
  await t.step("the same short reply to another viewer is no repeat", () => {
    assert.deepEqual(reply("hi!", "bob", { bot: ["@ann hi"], chat: [] }), { action: "pass" });
    assert.deepEqual(reply("yes", "bob", { bot: ["@Ann yes"], chat: [] }), { action: "pass" });
    assert.deepEqual(reply("gg", "bob", { bot: ["@ann gg"], chat: [] }), { action: "pass" });
    assert.deepEqual(reply("gg", undefined, { bot: ["@ann gg"], chat: [] }), { action: "pass" });
  });
  await t.step("but to the same viewer, or unaddressed twice, it is", () => {
    assert.deepEqual(reply("hi!", "ann", { bot: ["@Ann hi"], chat: [] }), {
      action: "drop",
      reason: "repeat",
    });
    assert.deepEqual(reply("gg", undefined, { bot: ["GG"], chat: [] }), { action: "drop", reason: "repeat" });
  });
  await t.step("three words and more keep every near-copy protection", () => {
    assert.deepEqual(check("that was clean", { bot: [], chat: ["That was CLEAN"] }), {
      action: "drop",
      reason: "parrot",
    });
    assert.deepEqual(reply("that was clean", "bob", { bot: ["@ann that was clean"], chat: [] }), {
      action: "drop",
      reason: "repeat",
    });
  });
});
