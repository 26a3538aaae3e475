import assert from "node:assert/strict";
import process from "node:process";
import { SILENCED_WARNING_CODES } from "../core/node_warnings.ts";

/** Warnings that reach Node's `warning` event while `fn` runs. */
async function warningsDuring(fn: () => void): Promise<string[]> {
  const seen: string[] = [];
  const listener = (w: Error & { code?: string }) => seen.push(`${w.name}:${w.code ?? ""}:${w.message}`);
  process.on("warning", listener);
  try {
    fn();
    // Node emits warnings on the next tick.
    await new Promise((r) => setTimeout(r, 0));
  } finally {
    process.off("warning", listener);
  }
  return seen;
}

Deno.test("node_warnings drops only the punycode deprecation", async (t) => {
  await t.step("DEP0040 is dropped in each form emitWarning takes", async () => {
    assert(SILENCED_WARNING_CODES.has("DEP0040"));
    const seen = await warningsDuring(() => {
      process.emitWarning("punycode is deprecated", { type: "DeprecationWarning", code: "DEP0040" });
      process.emitWarning("punycode is deprecated", "DeprecationWarning", "DEP0040");
    });
    assert.deepEqual(seen, []);
  });
  await t.step("every other warning still goes through", async () => {
    const seen = await warningsDuring(() => {
      process.emitWarning("something else", { type: "DeprecationWarning", code: "DEP0005" });
      process.emitWarning("plain warning");
    });
    assert.deepEqual(seen, [
      "DeprecationWarning:DEP0005:something else",
      "Warning::plain warning",
    ]);
  });
});
