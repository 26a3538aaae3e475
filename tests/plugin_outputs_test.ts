import assert from "node:assert/strict";
import fc from "fast-check";
import {
  checkPluginOutput,
  ContextContributionSchema,
  fastPluginOutput,
  FilterVerdictSchema,
  GateVerdictSchema,
  GenerateResultSchema,
} from "../core/plugin_outputs.ts";

Deno.test("checkPluginOutput accepts the documented shapes", async (t) => {
  await t.step("filter verdicts", () => {
    for (const v of [{ action: "pass" }, { action: "drop", reason: "r" }, { action: "rewrite", text: "t" }]) {
      assert.deepEqual(checkPluginOutput("check", v), { ok: true, value: v });
    }
  });
  await t.step("gate verdicts, command results, generator answers, context", () => {
    assert.deepEqual(checkPluginOutput("gate", { allow: false, reason: "cooldown" }).ok, true);
    assert.deepEqual(
      checkPluginOutput("run", { reply: "hi", set: { threshold: 10 }, reset: false }).ok,
      true,
    );
    assert.deepEqual(checkPluginOutput("generate", null), { ok: true, value: null });
    assert.deepEqual(checkPluginOutput("generate", undefined), { ok: true, value: null });
    assert.deepEqual(checkPluginOutput("generate", { text: "x", forbidden: ["c4n4ry"] }).ok, true);
    const history = [{ user: "a", displayName: "A", text: "hi", time: 1, bot: false, seq: 3 }];
    assert.deepEqual(checkPluginOutput("provide", { history, notes: ["n"] }), {
      ok: true,
      value: { history, notes: ["n"] },
    });
  });
  await t.step("unknown fields are dropped and observe results are ignored", () => {
    assert.deepEqual(checkPluginOutput("check", { action: "pass", extra: 1 }), {
      ok: true,
      value: { action: "pass" },
    });
    assert.deepEqual(checkPluginOutput("observe", { anything: true }), { ok: true, value: undefined });
  });
});

Deno.test("checkPluginOutput rejects malformed replies with a short reason", async (t) => {
  const bad = (method: Parameters<typeof checkPluginOutput>[0], value: unknown) => {
    const r = checkPluginOutput(method, value);
    assert.equal(r.ok, false, JSON.stringify(value));
    return r.ok ? "" : r.error;
  };
  await t.step("each method", () => {
    assert.match(bad("check", { action: "explode" }), /^check\(\) returned malformed data: action: /);
    assert.match(bad("check", { action: "drop" }), /reason/);
    assert.match(bad("check", null), /^check\(\) returned malformed data/);
    assert.match(bad("gate", { allow: "yes" }), /^gate\(\)/);
    assert.match(bad("gate", { allow: false }), /reason/);
    assert.match(bad("run", { reply: 5 }), /reply/);
    assert.match(bad("generate", { text: 5 }), /^generate\(\)/);
    assert.match(bad("generate", "plain string"), /^generate\(\)/);
    assert.match(bad("provide", { history: [{ user: "a" }] }), /history\.0\./);
    assert.match(bad("provide", { notes: "one" }), /notes/);
  });
  await t.step("oversized text is malformed", () => {
    assert.match(bad("check", { action: "rewrite", text: "x".repeat(10_001) }), /text/);
  });
});

Deno.test("the fast checks agree with the schemas", async (t) => {
  // Lengths at and just past every limit, and values of the wrong type, for each field.
  const text = fc.oneof(
    fc.string({ maxLength: 6 }),
    fc.constantFrom("", "x".repeat(500), "x".repeat(501), "y".repeat(10_000), "y".repeat(10_001)),
  );
  const field = fc.oneof({ weight: 6, arbitrary: text }, fc.anything(), fc.constant(undefined));
  const extra = fc.dictionary(fc.constantFrom("extra", "toString", "__proto__", "x"), fc.anything(), {
    maxKeys: 2,
  });
  /** A record whose undefined fields are absent, with extra keys now and then. */
  const record = (fields: Record<string, fc.Arbitrary<unknown>>) =>
    fc.tuple(fc.record(fields, { requiredKeys: [] }), extra, fc.boolean()).map(([r, e, withExtra]) =>
      withExtra ? { ...e, ...r } : r
    );
  const line = fc.oneof(
    {
      weight: 8,
      arbitrary: fc.record({
        user: fc.string({ maxLength: 4 }),
        displayName: fc.string({ maxLength: 4 }),
        text,
        time: fc.oneof(
          fc.integer(),
          fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, -Infinity, 1.5, -0),
        ),
        bot: fc.boolean(),
      }).chain((l) =>
        record({
          seq: fc.oneof(fc.integer(), fc.constantFrom(1.5, 2 ** 60, Number.NaN, undefined)),
          id: field,
        }).map((o) => ({
          ...l,
          ...o,
        }))
      ),
    },
    record({ user: field, displayName: field, text: field, time: fc.anything(), bot: fc.anything() }),
    fc.anything(),
  );
  const cases: Record<string, fc.Arbitrary<unknown>> = {
    check: fc.oneof(
      record({
        action: fc.constantFrom("pass", "drop", "rewrite", "explode", 1),
        reason: field,
        text: field,
      }),
      fc.anything(),
    ),
    gate: fc.oneof(record({ allow: fc.constantFrom(true, false, "yes", 0), reason: field }), fc.anything()),
    generate: fc.oneof(
      fc.constantFrom(null, undefined),
      record({
        text: field,
        forbidden: fc.oneof(
          fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
          fc.constantFrom(Array(100).fill("a"), Array(101).fill("a")),
          fc.array(field),
        ),
      }),
      fc.anything(),
    ),
    provide: fc.oneof(
      record({
        history: fc.oneof(fc.array(line, { maxLength: 6 }), field),
        notes: fc.array(field, { maxLength: 3 }),
      }),
      fc.anything(),
    ),
  };
  const schemas: Record<string, { safeParse(v: unknown): { success: boolean; data?: unknown } }> = {
    check: FilterVerdictSchema,
    gate: GateVerdictSchema,
    generate: GenerateResultSchema,
    provide: ContextContributionSchema,
  };
  for (const [method, arb] of Object.entries(cases)) {
    await t.step(
      `${method}: whatever the fast check accepts, the schema accepts with the same output`,
      () => {
        let fastCount = 0;
        fc.assert(
          fc.property(arb, (value) => {
            const fast = fastPluginOutput(method as "check", value);
            if (fast === undefined) return;
            fastCount++;
            const parsed = schemas[method]!.safeParse(value);
            assert.equal(parsed.success, true, `the schema rejects what the fast check accepted`);
            assert.deepStrictEqual(fast.value, parsed.data);
          }),
          { numRuns: 3000 },
        );
        // A fast check that never answers would pass the property above; it must carry the usual replies.
        assert.ok(fastCount > 300, `the fast check answered only ${fastCount} of 3000`);
      },
    );
  }
  await t.step("the replies of the built-in plugins take the fast path", () => {
    const history = Array.from({ length: 200 }, (_, i) => ({
      seq: i,
      id: `m${i}`,
      user: "u",
      displayName: "U",
      text: `line ${i}`,
      time: 1_700_000_000_000 + i,
      bot: i % 7 === 0,
    }));
    const replies: [Parameters<typeof fastPluginOutput>[0], unknown][] = [
      ["check", { action: "pass" }],
      ["check", { action: "drop", reason: "blocked word" }],
      ["check", { action: "rewrite", text: "hi" }],
      ["gate", { allow: true }],
      ["gate", { allow: false, reason: "threshold" }],
      ["generate", { text: "hello", forbidden: ["c4n4ry"] }],
      ["generate", null],
      ["provide", { history }],
      ["provide", { notes: ["n"] }],
    ];
    for (const [method, value] of replies) {
      assert.notEqual(
        fastPluginOutput(method, value),
        undefined,
        `${method} ${JSON.stringify(value).slice(0, 60)}`,
      );
    }
    // A copy, so a plugin that changes its lines later cannot change what the host already checked.
    const out = fastPluginOutput("provide", { history })!.value as { history: unknown[] };
    assert.notEqual(out.history, history);
    assert.notEqual(out.history[0], history[0]);
  });
});
