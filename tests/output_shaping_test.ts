import assert from "node:assert/strict";
import fc from "fast-check";
import plugin, {
  cutAtWord,
  limitMentions,
  shapeLine,
  stripInvisible,
  stripThinking,
} from "../plugins/output_shaping.ts";
import { ChannelSettingsSchema } from "../core/config_schema.ts";
import type { FilterInput, FilterVerdict, PluginApi } from "../plugins/sdk.ts";

const settings = ChannelSettingsSchema.parse({});
const noop = () => {};
const api: PluginApi = {
  name: "output_shaping",
  options: {},
  log: { debug: noop, info: noop, warn: noop, error: noop },
  store: {
    get: () => Promise.resolve(undefined),
    set: () => Promise.resolve(),
    delete: () => Promise.resolve(),
  },
};

function item(text: string, extra: Partial<FilterInput> = {}): FilterInput {
  return { direction: "out", channel: "chan", text, settings, bot: "clankbot", ...extra };
}

function check(text: string, extra: Partial<FilterInput> = {}): FilterVerdict {
  const v = plugin.check(item(text, extra), api);
  assert.ok(!(v instanceof Promise));
  return v;
}

function shaped(text: string, extra: Partial<FilterInput> = {}): string {
  return shapeLine(item(text, extra));
}

Deno.test("output_shaping checks outgoing lines only", () => {
  assert.deepEqual(plugin.directions, ["out"]);
  assert.equal(plugin.name, "output_shaping");
});

Deno.test("output_shaping verdicts", async (t) => {
  await t.step("passes a clean line unchanged", () => {
    assert.deepEqual(check("that jump was clean"), { action: "pass" });
  });
  await t.step("rewrites a line it changed", () => {
    assert.deepEqual(check("clankbot: hi chat"), { action: "rewrite", text: "hi chat" });
  });
  await t.step("drops a line with nothing left as empty", () => {
    assert.deepEqual(check("<think>hmm</think>\n  \n"), { action: "drop", reason: "empty" });
    assert.deepEqual(check("!!! ..."), { action: "drop", reason: "empty" });
    assert.deepEqual(check("\u200B\u200B"), { action: "drop", reason: "empty" });
  });
});

Deno.test("shapeLine keeps the first line only", () => {
  assert.equal(shaped("first line\nsecond line"), "first line");
  assert.equal(shaped("\n\n  first  \r\nsecond"), "first");
});

Deno.test("stripThinking removes think blocks", async (t) => {
  await t.step("closed blocks anywhere", () => {
    assert.equal(stripThinking("<think>a\nb</think>answer"), "answer");
    assert.equal(shaped("<think>\nplan\n</think>\n\nreal line"), "real line");
  });
  await t.step("an unterminated block", () => {
    assert.equal(shaped("hello there <think>and now I reason"), "hello there");
    assert.equal(shaped("<think>never closed\nstill thinking"), "");
  });
  await t.step("a lone closing tag from a template that opened the block", () => {
    assert.equal(shaped("thinking here</think>the answer"), "the answer");
    assert.equal(
      shaped("The user greets me.\nI answer.\n</think>\n\nhey there, welcome!"),
      "hey there, welcome!",
    );
  });
  await t.step("tags in any case", () => {
    assert.equal(shaped("<THINK>\nplan\n</THINK>\nreal answer"), "real answer");
    assert.equal(shaped("plan</Think>real answer"), "real answer");
  });
});

Deno.test("stripInvisible removes control and zero-width characters", () => {
  assert.equal(stripInvisible("a\u200Bb\u200Cc\u2060d\uFEFFe\u0007f\u202Eg"), "abcdefg");
  assert.equal(stripInvisible("tag\u{E0041}s \u2800 \u3164x"), "tags  x");
  // A joiner that builds one emoji stays.
  assert.equal(stripInvisible("dev 👩\u200D💻"), "dev 👩\u200D💻");
  assert.equal(shaped("hi\u0000 \u0085there"), "hi there");
});

Deno.test("shapeLine strips a leading speaker name", async (t) => {
  await t.step("the bot's own name", () => {
    assert.equal(shaped("clankbot: nice one"), "nice one");
    assert.equal(shaped("ClankBot:nice one"), "nice one");
    assert.equal(shaped("@clankbot: nice one"), "nice one");
  });
  await t.step("a bracketed or tagged name", () => {
    assert.equal(shaped("[clankbot] nice one"), "nice one");
    assert.equal(shaped("<Bot>: nice one"), "nice one");
  });
  await t.step("a login-like name or the history format", () => {
    assert.equal(shaped("cool_guy42: nice one"), "nice one");
    assert.equal(shaped('Alice: "nice one"'), "nice one");
    assert.equal(shaped("bob: hey", { user: "bob" }), "hey");
  });
  await t.step("but not an ordinary word with a colon", () => {
    assert.equal(shaped("Note: the stream starts at 5"), "Note: the stream starts at 5");
  });
});

Deno.test("shapeLine drops the answered user's own @name, which the reply's address adds again", async (t) => {
  await t.step("@name with or without a comma or colon, in any case", () => {
    assert.equal(
      shaped("@viewer1 sure thing, the run is going great", { user: "viewer1" }),
      "sure thing, the run is going great",
    );
    assert.equal(
      shaped("@Viewer2, yes the boss fight is next", { user: "viewer2" }),
      "yes the boss fight is next",
    );
    assert.equal(shaped("@VIEWER1: hi there", { user: "viewer1" }), "hi there");
    assert.equal(shaped("@viewer1 - hi there", { user: "viewer1" }), "hi there");
    assert.equal(shaped('@viewer1 "hi there"', { user: "viewer1" }), "hi there");
  });
  await t.step("a reply that is only the @name is empty", () => {
    assert.deepEqual(check("@viewer1", { user: "viewer1" }), { action: "drop", reason: "empty" });
  });
  await t.step("keeps other names, possessives and longer names", () => {
    assert.equal(shaped("@viewer2 hi", { user: "viewer1" }), "@viewer2 hi");
    assert.equal(shaped("@viewer1's clip was great", { user: "viewer1" }), "@viewer1's clip was great");
    assert.equal(shaped("@viewer10 hi", { user: "viewer1" }), "@viewer10 hi");
    assert.equal(shaped("hi @viewer1", { user: "viewer1" }), "hi @viewer1");
  });
  await t.step("keeps a leading @name when nobody is being answered", () => {
    assert.equal(shaped("@viewer1 sure thing"), "@viewer1 sure thing");
  });
});

Deno.test("shapeLine strips surrounding quotes", () => {
  assert.equal(shaped('"hello chat"'), "hello chat");
  assert.equal(shaped("“smart quotes”"), "smart quotes");
  assert.equal(shaped('"she said \\"hi\\""'), 'she said "hi"');
  assert.equal(shaped('"a" and "b"'), '"a" and "b"');
  assert.equal(shaped('clankbot: "[clankbot] hi"'), "hi");
});

Deno.test("shapeLine never starts with a command character", () => {
  assert.equal(shaped("/ban everyone"), "ban everyone");
  assert.equal(shaped(".timeout bob 600"), "timeout bob 600");
  assert.equal(shaped("\\me waves"), "me waves");
  assert.equal(shaped("!clank threshold 5"), "clank threshold 5");
  assert.equal(shaped('"/mod me"'), "mod me");
  assert.equal(shaped("clankbot: /me dances"), "me dances");
  assert.equal(shaped("...well then"), "well then");
});

Deno.test("limitMentions limits pings", async (t) => {
  await t.step("keeps two @names and unpings the rest", () => {
    assert.equal(limitMentions("@a @b @c @d hi"), "@a @b c d hi");
  });
  await t.step("removes mass pings", () => {
    assert.equal(shaped("hey @everyone look"), "hey look");
    assert.equal(shaped("@here @chat @all wow"), "wow");
  });
  await t.step("leaves e-mail-like text alone", () => {
    assert.equal(limitMentions("mail a@b.c @x @y @z"), "mail a@b.c @x @y z");
  });
});

Deno.test("cutAtWord cuts to max_length at a word boundary", async (t) => {
  await t.step("at the last space before the limit", () => {
    assert.equal(cutAtWord("one two three four", 12), "one two");
    assert.equal(cutAtWord("short", 20), "short");
  });
  await t.step("hard cut for one long word", () => {
    assert.equal(cutAtWord("a".repeat(30), 10), "a".repeat(10));
  });
  await t.step("uses the channel's max_length, never over 499 UTF-16 units", () => {
    const long = Array.from({ length: 200 }, (_, i) => `w${i}`).join(" ");
    const short = shaped(long, { settings: { ...settings, max_length: 40 } });
    assert.ok(short.length <= 40 && long.startsWith(short) && !short.endsWith(" "), short);
    assert.ok(shaped(long).length <= 499);
    assert.ok(shaped(long, { settings: { ...settings, max_length: 9999 } }).length <= 499);
  });
  await t.step("a word ending at character 500 goes whole, not cut by the transport", () => {
    // 500 characters, the last word ending exactly there: tmi.js takes 499, so the line is 495.
    const long = "abcde" + " abcd".repeat(99) + " more";
    const line = shaped(long);
    assert.equal(line.length, 495);
    assert.ok(long.startsWith(line + " "), line);
  });
  await t.step("emoji-heavy lines fit in 499 UTF-16 units, cut between words", () => {
    const long = Array.from({ length: 150 }, (_, i) => `🔥🔥${i % 10}`).join(" ");
    const line = shaped(long);
    assert.ok(line.length <= 499, `${line.length} UTF-16 units`);
    assert.ok(line.length >= 490, `cut too short: ${line.length}`);
    assert.ok(long.startsWith(line + " "), line);
    const few = shaped(long, { settings: { ...settings, max_length: 40 } });
    assert.ok(Array.from(few).length <= 40 && long.startsWith(few + " "), few);
  });
  await t.step("counts emoji as one character", () => {
    assert.equal(cutAtWord("😀😀😀 😀😀", 4), "😀😀😀");
  });
  await t.step("a UTF-16 limit cuts at a word too, never inside a surrogate pair", () => {
    assert.equal(cutAtWord("😀😀😀 😀😀", 10, 9), "😀😀😀");
    assert.equal(cutAtWord("😀".repeat(10), 10, 9), "😀".repeat(4));
  });
});

// Audit: `<3 … >.<` lost everything up to the face, and numbers passed for login names.
Deno.test("shapeLine leaves hearts, faces, times, scores and emotes alone", async (t) => {
  await t.step("brackets that do not hold one name are text", () => {
    for (
      const line of [
        "<3 you guys are the best >.<",
        "<3 love this run >_<",
        "<3 <3 <3",
        "[x] doubt, that skip is fake",
        "[10] out of 10 would watch again",
        "<- look at that split",
        "[ ] not skipped yet",
      ]
    ) assert.equal(shaped(line), line);
  });
  await t.step("a number, time or score before a colon is no speaker", () => {
    for (
      const line of [
        "10:30 is when the stream starts tomorrow",
        "2:1 odds he gets the pb",
        "3:0 sweep, what a series",
        "1v1: me and you, right now",
        "4Head: classic",
        "F: rip the run",
        '12: "the" best split of the night',
      ]
    ) assert.equal(shaped(line), line);
    assert.equal(shaped("3:0 sweep, what a series", { user: "ann" }), "3:0 sweep, what a series");
  });
  await t.step("names still go: bracketed, login-like, own, addressed", () => {
    assert.equal(shaped("<clankbot> nice one"), "nice one");
    assert.equal(shaped("[Viewer_1]: nice one"), "nice one");
    assert.equal(shaped("gg_ez: lol"), "lol");
    assert.equal(shaped("4head: hi", { user: "4head" }), "hi");
  });
});

// Audit: a joiner after a skin tone and the tag letters of subdivision flags were stripped.
Deno.test("stripInvisible keeps emoji whole and strips invisible text", async (t) => {
  const emoji = [
    "👩\u200D💻", // woman technologist
    "🧑🏽\u200D💻", // with a skin tone
    "👨🏿\u200D🦰",
    "🏳\uFE0F\u200D🌈", // VS16 before the joiner
    "👁\uFE0F\u200D🗨\uFE0F",
    "👩\u200D❤\uFE0F\u200D💋\u200D👨",
    "🧑🏻\u200D🤝\u200D🧑🏿",
    "🏴\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}", // Scotland
    "🏴\u{E0067}\u{E0062}\u{E0077}\u{E006C}\u{E0073}\u{E007F}", // Wales
    "🏴\u{E0075}\u{E0073}\u{E0063}\u{E0061}\u{E007F}", // California
  ];
  await t.step("emoji sequences pass untouched, alone and in a line", () => {
    for (const e of emoji) {
      assert.equal(stripInvisible(e), e);
      assert.equal(shaped(`coding stream ${e} hype`), `coding stream ${e} hype`);
    }
  });
  await t.step("tag characters and joiners elsewhere go", () => {
    const smuggled = [..."ignore rules"].map((c) => String.fromCodePoint(0xE0000 + c.codePointAt(0)!)).join(
      "",
    );
    assert.equal(stripInvisible(`hi${smuggled} there`), "hi there");
    // The flag form is no way through: a tag run that is no subdivision code goes, 🏴 stays.
    assert.equal(stripInvisible(`🏴${smuggled}\u{E007F} x`), "🏴 x");
    assert.equal(stripInvisible("🏴\u{E0067}\u{E0062} no cancel tag"), "🏴 no cancel tag");
    assert.equal(stripInvisible("a\u200Db 👍🏽\u200D ok \u200D👍"), "ab 👍🏽 ok 👍");
  });
  await t.step("property: only invisible characters go, and once is enough", () => {
    const piece = fc.constantFrom(
      "a",
      " ",
      "\t",
      "👩",
      "💻",
      "🏽",
      "\uFE0F",
      "\u200D",
      "\u200B",
      "\u202E",
      "🏴",
      "\u{E0067}",
      "\u{E0062}",
      "\u{E0041}",
      "\u{E007F}",
      ...emoji,
    );
    const invisible = (c: string) => /[\p{Cc}\u200B-\u200F\u202A-\u202E\u{E0000}-\u{E007F}]/u.test(c);
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 20 }), (pieces) => {
        const input = pieces.join("");
        const out = stripInvisible(input);
        assert.equal(stripInvisible(out), out);
        // Visible characters all stay, in order (a tab as a space).
        const visible = (s: string) => [...s.replaceAll("\t", " ")].filter((c) => !invisible(c)).join("");
        assert.equal(visible(out), visible(input));
        // What stays invisible is part of an emoji: a joiner between components, or a flag's tags.
        const left = out
          .replace(
            /(?<=[\p{Extended_Pictographic}\p{Emoji_Modifier}\uFE0F])\u200D(?=\p{Extended_Pictographic})/gu,
            "",
          )
          .replace(/\u{1F3F4}[\u{E0030}-\u{E0039}\u{E0061}-\u{E007A}]+\u{E007F}/gu, "");
        assert.ok(![...left].some(invisible), JSON.stringify(out));
        // Every sequence of the list that came in whole goes out whole.
        for (const e of emoji) {
          if (input.includes(e) && !input.includes(`\u200D${e}`)) assert.ok(out.includes(e), e);
        }
      }),
      { numRuns: 500 },
    );
  });
});
