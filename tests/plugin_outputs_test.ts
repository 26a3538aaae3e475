import assert from "node:assert/strict";
import { checkPluginOutput } from "../core/plugin_outputs.ts";

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
