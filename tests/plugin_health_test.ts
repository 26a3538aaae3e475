import assert from "node:assert/strict";
import { memoryLogger } from "../core/log.ts";
import { Metrics } from "../core/metrics.ts";
import { PluginHealth } from "../core/plugin_health.ts";
import type { PluginHandle } from "../core/plugin_handle.ts";
import { PluginSet } from "../core/plugin_set.ts";
import { metricValue } from "./fixtures/plugins/_deps.ts";

Deno.test("PluginHealth counts failures and disables once", async (t) => {
  await t.step("consecutive failures disable; collateral ones only count in the metric", async () => {
    const { log, lines } = memoryLogger();
    const metrics = new Metrics();
    let disabledCalls = 0;
    const h = new PluginHealth("p", log, metrics, 2, () => disabledCalls++);
    h.failed("timeout", "slow");
    h.collateral("timeout", "queued behind");
    h.collateral("timeout", "queued behind");
    assert.equal(h.disabled, false);
    assert.deepEqual(h.failed("threw", "boom"), { ok: false, reason: "threw", error: "boom" });
    assert.equal(h.disabled, true);
    assert.equal(disabledCalls, 1);
    assert.deepEqual(h.failed("threw", "again"), { ok: false, reason: "disabled", error: "again" });
    h.disable("manual");
    assert.equal(disabledCalls, 1);
    assert.equal(
      lines.filter((l) => l.includes('Plugin \\"p\\" disabled after 2 consecutive failed calls')).length,
      1,
    );
    assert.equal(
      await metricValue(metrics, "clank_plugin_failures_total", { plugin: "p", reason: "timeout" }),
      3,
    );
    assert.equal(await metricValue(metrics, "clank_plugin_disabled", { plugin: "p" }), 1);
  });

  await t.step("a new health for the same plugin resets the disabled gauge", async () => {
    const metrics = new Metrics();
    const { log } = memoryLogger();
    new PluginHealth("p", log, metrics, 1).failed("threw", "x");
    assert.equal(await metricValue(metrics, "clank_plugin_disabled", { plugin: "p" }), 1);
    new PluginHealth("p", log, metrics, 1);
    assert.equal(await metricValue(metrics, "clank_plugin_disabled", { plugin: "p" }), 0);
  });
});

Deno.test("PluginHealth never disables a plugin for an outage of its upstream service", async (t) => {
  const { PluginHealth } = await import("../core/plugin_health.ts");
  const { Metrics } = await import("../core/metrics.ts");
  const { memoryLogger } = await import("../core/log.ts");
  await t.step("Ollama errors and UPSTREAM_UNAVAILABLE are counted but do not disable", async () => {
    const metrics = new Metrics();
    const health = new PluginHealth("ollama", memoryLogger().log, metrics, 3);
    for (let i = 0; i < 10; i++) {
      health.failed("threw", "generate() threw OLLAMA_UNREACHABLE: Cannot reach Ollama");
    }
    health.failed("threw", "UPSTREAM_UNAVAILABLE: weather API timed out");
    health.failed("threw", "check() threw Error: UPSTREAM_UNAVAILABLE: weather API timed out");
    if (health.disabled) throw new Error("disabled by an upstream outage");
    const text = await metrics.text();
    if (!text.includes('clank_plugin_failures_total{plugin="ollama",reason="upstream"} 12')) {
      throw new Error(text);
    }
  });
  await t.step("real faults still disable it", () => {
    const health = new PluginHealth("buggy", memoryLogger().log, new Metrics(), 3);
    for (let i = 0; i < 3; i++) health.failed("threw", "TypeError: x is undefined");
    if (!health.disabled) throw new Error("not disabled");
  });
  await t.step("a fault that only mentions the code somewhere in its text still disables it", () => {
    const health = new PluginHealth("sly", memoryLogger().log, new Metrics(), 3);
    for (let i = 0; i < 3; i++) {
      health.failed("threw", "check() threw TypeError: bad input (not UPSTREAM_UNAVAILABLE: honest)");
    }
    if (!health.disabled) throw new Error("a fault mentioning UPSTREAM_UNAVAILABLE escaped disabling");
  });
});

/** A loaded plugin as a set sees it: only its name and teardown matter here. */
function handle(name: string, health: PluginHealth): PluginHandle {
  return {
    meta: { name, kind: "filter", methods: ["check"], source: `test:${name}`, sandboxed: false },
    get disabled() {
      return health.disabled;
    },
    call: () => Promise.resolve(health.disabledOutcome()),
    close: () => Promise.resolve(),
  };
}

/** The `clank_plugin_disabled` samples as `plugin=value`, sorted. */
async function disabledSeries(metrics: Metrics): Promise<string[]> {
  const { values } = await metrics.pluginsDisabled.get();
  return values.map((v) => `${v.labels.plugin}=${v.value}`).sort();
}

Deno.test("clank_plugin_disabled follows the loaded plugins across a reload", async (t) => {
  // A reload loads the new set (new healths reset their gauges) and only then closes the old one.
  const load = (metrics: Metrics, names: string[], disable: string[] = []) => {
    const handles = names.map((name) => {
      const health = new PluginHealth(name, memoryLogger().log, metrics, 1);
      if (disable.includes(name)) health.failed("threw", "boom");
      return handle(name, health);
    });
    return new PluginSet(handles, metrics);
  };

  await t.step("a disabled plugin removed by the reload leaves no series behind", async () => {
    const metrics = new Metrics();
    const old = load(metrics, ["boom", "keep"], ["boom"]);
    assert.deepEqual(await disabledSeries(metrics), ["boom=1", "keep=0"]);
    load(metrics, ["keep"]);
    await old.close();
    assert.deepEqual(await disabledSeries(metrics), ["keep=0"]);
  });

  await t.step("a plugin the new set loads again keeps its fresh series, disabled or not", async () => {
    const metrics = new Metrics();
    const old = load(metrics, ["boom", "keep"], ["boom", "keep"]);
    load(metrics, ["boom", "keep"], ["boom"]);
    await old.close();
    assert.deepEqual(await disabledSeries(metrics), ["boom=1", "keep=0"]);
  });

  await t.step("closing the last set (shutdown, or a refused first start) drops every series", async () => {
    const metrics = new Metrics();
    await load(metrics, ["boom"], ["boom"]).close();
    assert.deepEqual(await disabledSeries(metrics), []);
  });
});
