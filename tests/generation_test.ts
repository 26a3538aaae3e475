/**
 * `runOutputFilters`: the output filters in order, synchronous and asynchronous ones alike, with
 * rewrites carried on, the first drop ending the run, and a failing filter either rejecting the line
 * (generated lines) or passed over (fixed command replies).
 */
import assert from "node:assert/strict";
import FakeTimers from "@sinonjs/fake-timers";
import { runOutputFilters } from "../core/generation.ts";
import { createInProcessPlugin } from "../core/inprocess_plugin.ts";
import { PluginSet } from "../core/plugin_set.ts";
import type { Plugin } from "../plugins/sdk.ts";
import { filterInput, metricValue, testDeps } from "./fixtures/plugins/_deps.ts";

type Check = (text: string) => unknown;

function outFilter(name: string, check: Check): Plugin {
  return {
    name,
    kind: "filter",
    apiVersion: 1,
    directions: ["out"],
    check: (item) => check(item.text),
  } as Plugin;
}

async function pluginSet(deps: ReturnType<typeof testDeps>, checks: Record<string, Check>, timeoutMs = 100) {
  const handles = [];
  for (const [name, check] of Object.entries(checks)) {
    handles.push(await createInProcessPlugin(outFilter(name, check), { source: name, ...deps, timeoutMs }));
  }
  return new PluginSet(handles, deps.metrics);
}

Deno.test("runOutputFilters runs the output filters in order", async (t) => {
  await t.step("rewrites carry on, synchronous and asynchronous filters alike", async () => {
    const deps = testDeps();
    const seen: string[] = [];
    const plugins = await pluginSet(deps, {
      upper: (text) => (seen.push(text), { action: "rewrite", text: text.toUpperCase() }),
      later: (text) => Promise.resolve((seen.push(text), { action: "rewrite", text: `${text}!` })),
      last: (text) => (seen.push(text), { action: "pass" }),
    });
    const out = await runOutputFilters(plugins, deps.metrics, filterInput("hi", "out"), "reject");
    assert.deepEqual(out, { ok: true, text: "HI!" });
    assert.deepEqual(seen, ["hi", "HI", "HI!"]);
    await plugins.close();
  });

  await t.step("the first drop ends the run and is counted for its filter", async () => {
    const deps = testDeps();
    let asked = false;
    const plugins = await pluginSet(deps, {
      first: () => ({ action: "drop", reason: "no" }),
      second: () => (asked = true, { action: "pass" }),
    });
    const out = await runOutputFilters(plugins, deps.metrics, filterInput("hi", "out"), "reject");
    assert.deepEqual(out, { ok: false, reason: "first: no" });
    assert.equal(asked, false);
    assert.equal(
      await metricValue(deps.metrics, "clank_lines_blocked_total", { filter: "first", direction: "out" }),
      1,
    );
    await plugins.close();
  });

  await t.step(
    "a filter that throws rejects a generated line and is passed over for a fixed one",
    async () => {
      const deps = testDeps();
      const plugins = await pluginSet(deps, {
        broken: () => {
          throw new Error("boom");
        },
        tail: (text) => ({ action: "rewrite", text: `${text}.` }),
      });
      assert.deepEqual(
        await runOutputFilters(plugins, deps.metrics, filterInput("hi", "out"), "reject"),
        { ok: false, reason: "broken: failed" },
      );
      assert.deepEqual(
        await runOutputFilters(plugins, deps.metrics, filterInput("hi", "out"), "skip"),
        { ok: true, text: "hi." },
      );
      await plugins.close();
    },
  );

  await t.step("an asynchronous filter that never answers fails at its deadline", async () => {
    const clock = FakeTimers.install({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    try {
      const deps = testDeps();
      const plugins = await pluginSet(deps, { hung: () => new Promise(() => {}) }, 2000);
      const pending = runOutputFilters(plugins, deps.metrics, filterInput("hi", "out"), "reject");
      await clock.tickAsync(2000);
      assert.deepEqual(await pending, { ok: false, reason: "hung: failed" });
      await plugins.close();
    } finally {
      clock.uninstall();
    }
  });
});
