import assert from "node:assert/strict";
import plugin, { MarkovOptions, resetMarkovCache } from "../plugins/markov_generator.ts";
import { MarkovChain, seededRandom, tokenize } from "../plugins/markov_chain.ts";
import { ChannelSettingsSchema } from "../core/config_schema.ts";
import type { GenerateRequest, HistoryLine, PluginApi } from "../plugins/sdk.ts";

const CORPUS = [
  "the boss fight in this game is really hard today",
  "i think the boss has a second phase after the bridge",
  "that jump was so clean honestly",
  "the music in this level is really good",
  "did you see that jump over the bridge",
  "this game has the best music of the year",
  "i think the second phase is easier with the sword",
  "the sword is really good against the boss",
  "honestly the level design here is so clean",
  "that was a really good run of the level",
  "the bridge part is always hard for me",
  "i love the music when the boss shows up",
];

function lines(texts: string[], firstSeq = 1): HistoryLine[] {
  return texts.map((text, i) => ({
    seq: firstSeq + i,
    user: `viewer${i % 4}`,
    displayName: `Viewer${i % 4}`,
    text,
    time: 1_700_000_000_000 + i,
    bot: false,
  }));
}

function request(history: HistoryLine[], extra: Partial<GenerateRequest> = {}): GenerateRequest {
  return {
    channel: "chan",
    trigger: "spontaneous",
    bot: "clankbot",
    settings: ChannelSettingsSchema.parse({}),
    model: "",
    history,
    notes: [],
    attempt: 1,
    time: 0,
    ...extra,
  };
}

function api(options: Partial<MarkovOptions> = {}): PluginApi<MarkovOptions> {
  const noop = () => {};
  return {
    name: "markov",
    options: MarkovOptions.parse(options),
    log: { debug: noop, info: noop, warn: noop, error: noop },
    store: {
      get: () => Promise.resolve(undefined),
      set: () => Promise.resolve(),
      delete: () => Promise.resolve(),
    },
  };
}

function generate(req: GenerateRequest, options: Partial<MarkovOptions> = {}): string | null {
  const out = plugin.generate(req, api(options));
  assert.ok(!(out instanceof Promise));
  return out?.text ?? null;
}

const vocabulary = new Set(CORPUS.flatMap((l) => l.split(" ")));

Deno.test("tokenize drops mentions, links and empty words", () => {
  assert.deepEqual(tokenize("hi  @bob look https://x.io www.y.com ok"), ["hi", "look", "ok"]);
});

Deno.test("MarkovChain forgets removed lines", () => {
  const chain = new MarkovChain();
  chain.add(["alpha", "beta", "gamma"]);
  chain.add(["one", "two", "three", "four"]);
  chain.remove(["alpha", "beta", "gamma"]);
  assert.equal(chain.lines, 1);
  assert.equal(chain.words, 4);
  assert.equal(chain.findWord("ALPHA"), undefined);
  const random = seededRandom(1);
  for (let i = 0; i < 20; i++) assert.deepEqual(chain.walk(random, 25), ["one", "two", "three", "four"]);
});

Deno.test("markov generator writes lines from the chat", async (t) => {
  resetMarkovCache();

  await t.step("returns null when the history is too small", () => {
    assert.equal(generate(request(lines(CORPUS.slice(0, 3)))), null);
  });

  await t.step("writes 4 to 25 words learned from viewers only", () => {
    const history = [
      ...lines(CORPUS),
      {
        seq: 99,
        user: "clankbot",
        displayName: "clankbot",
        text: "xylophone quartz zeppelin wombat",
        time: 0,
        bot: true,
      },
      { seq: 100, user: "viewer1", displayName: "Viewer1", text: "!uptime please tell", time: 0, bot: false },
    ];
    for (let seed = 0; seed < 40; seed++) {
      const text = generate(request(history), { seed });
      assert.ok(text !== null);
      const words = text.split(" ");
      assert.ok(words.length >= 4 && words.length <= 25, text);
      for (const w of words) assert.ok(vocabulary.has(w), `unexpected word ${w} in ${text}`);
    }
  });

  await t.step("is deterministic with a seed", () => {
    const a = generate(request(lines(CORPUS)), { seed: 7 });
    const b = generate(request(lines(CORPUS)), { seed: 7 });
    assert.equal(a, b);
    const others = new Set(
      Array.from({ length: 10 }, (_, s) => generate(request(lines(CORPUS)), { seed: s })),
    );
    assert.ok(others.size > 1, "different seeds give different lines");
  });

  await t.step("starts from a word of the mention when it can", () => {
    let seeded = 0;
    for (let seed = 0; seed < 20; seed++) {
      const text = generate(
        request(lines(CORPUS), {
          trigger: "mention",
          mention: {
            id: "m",
            user: "viewer1",
            displayName: "Viewer1",
            text: "@clankbot what about the MUSIC?",
          },
        }),
        { seed },
      );
      const first = text?.split(" ")[0]?.toLowerCase();
      if (first === "music" || first === "the") seeded++;
    }
    assert.ok(seeded >= 18, `seeded ${seeded} of 20`);
  });

  await t.step("follows a sliding window and forgets lines that left it", () => {
    resetMarkovCache();
    const old = lines(Array.from({ length: 10 }, () => "zebra zebra zebra zebra zebra"), 1);
    assert.match(generate(request(old), { seed: 1 }) ?? "", /zebra/);
    const slid = lines(CORPUS, 11);
    for (let seed = 0; seed < 30; seed++) {
      const text = generate(request(slid), { seed }) ?? "";
      assert.ok(!text.includes("zebra"), text);
    }
  });

  await t.step("works without seq by building a chain for the call", () => {
    const noSeq = lines(CORPUS).map(({ seq: _s, ...rest }) => rest);
    const text = generate(request(noSeq), { seed: 3 });
    assert.ok(text !== null && text.split(" ").every((w) => vocabulary.has(w)));
  });
});

Deno.test("markov generator options are validated", () => {
  assert.equal(MarkovOptions.safeParse({ min_lines: 0 }).success, false);
  assert.equal(MarkovOptions.safeParse({ nope: 1 }).success, false);
  assert.deepEqual(MarkovOptions.parse({}), { min_lines: 8, min_words: 4, max_words: 25 });
});
