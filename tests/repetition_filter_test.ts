import assert from "node:assert/strict";
import plugin, {
  editDistance,
  longestSharedRun,
  normalizeLine,
  RepetitionOptions,
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
