import { assertEquals } from "./assert.ts";
import {
  configuredSettings,
  describeProblems,
  resolveSettings,
  validatePatch,
} from "../core/settings_resolver.ts";
import { ConfigSchema } from "../core/config_schema.ts";

Deno.test("settings resolve from defaults, config channels and stored overrides", async (t) => {
  const config = ConfigSchema.parse({
    defaults: { threshold: 20, spontaneous: 120 },
    channels: { loud: { threshold: 100 } },
  });
  await t.step("configured = defaults + [channels.x]", () => {
    assertEquals(configuredSettings(config, "quiet").threshold, 20);
    assertEquals(configuredSettings(config, "loud").threshold, 100);
    // A channel section sets only its own keys; the rest still come from [defaults].
    assertEquals(configuredSettings(config, "loud").spontaneous, 120);
  });
  await t.step("stored overrides win; invalid stored keys are skipped and reported", () => {
    const { settings, skipped } = resolveSettings(configuredSettings(config, "loud"), {
      threshold: 7,
      context: 9999,
    });
    assertEquals(settings.threshold, 7);
    assertEquals(settings.context, 200);
    assertEquals(skipped.map((p) => p.field), ["context"]);
  });
});

Deno.test("validatePatch names the field, the value and the allowed range", async (t) => {
  await t.step(
    "valid",
    () => assertEquals(validatePatch({ threshold: 50 }), { ok: true, patch: { threshold: 50 } }),
  );
  await t.step("out of range", () => {
    const r = validatePatch({ threshold: 500 });
    assertEquals(r.ok, false);
    if (!r.ok) assertEquals(describeProblems(r.problems), "threshold: 500 is out of range 5..200");
  });
  await t.step("wrong type and unknown key", () => {
    const r = validatePatch({ context: "abc", colour: "red" });
    assertEquals(r.ok, false);
    if (!r.ok) {
      assertEquals(r.problems.map((p) => p.field).sort(), ["colour", "context"]);
      assertEquals(
        r.problems.find((p) => p.field === "context")!.message,
        "must be a whole number in 50..500",
      );
    }
  });
  await t.step("not an object", () => assertEquals(validatePatch([1]).ok, false));
  await t.step("only live settings change from chat or HTTP; the rest is the config file's", () => {
    const r = validatePatch({ min_context: 1, blocked_words: [] });
    assertEquals(r.ok, false);
    if (!r.ok) {
      assertEquals(r.problems.map((p) => p.field).sort(), ["blocked_words", "min_context"]);
      for (const p of r.problems) {
        assertEquals(p.message.startsWith("can only be set in the config file"), true, p.message);
      }
    }
  });
});
