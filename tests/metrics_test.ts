import assert from "node:assert/strict";
import { startHttpServer } from "../core/http_server.ts";
import { memoryLogger } from "../core/log.ts";
import { BoundedLabel, Metrics } from "../core/metrics.ts";
import client from "prom-client";
import { FakeControl } from "./fakes/fake_control.ts";
import { promtoolCheck } from "./promtool.ts";

/** Gives every metric realistic labelled samples, as a bot an hour into two channels would have. */
function populate(m: Metrics): void {
  for (const channel of ["alpha", "beta_2"]) {
    m.chatLinesReceived.inc({ channel }, 1200);
    m.linesSent.inc({ channel, kind: "mention" }, 14);
    m.linesSent.inc({ channel, kind: "spontaneous" }, 5);
    m.linesSent.inc({ channel, kind: "command" }, 3);
    m.linesObserved.inc({ channel, kind: "mention" }, 2);
    m.cooldownSkips.inc({ channel, trigger: "mention", reason: "response_cooldown" }, 4);
    m.cooldownSkips.inc({ channel, trigger: "spontaneous", reason: "threshold" }, 30);
    m.mentionsDropped.inc({ channel }, 1);
    m.generationsEmpty.inc({ channel, reason: "filtered" }, 2);
    m.contextSize.set({ channel }, 200);
  }
  m.linesBlocked.inc({ filter: "blocked_words", direction: "in" }, 7);
  m.linesBlocked.inc({ filter: "repetition_filter", direction: "out" }, 3);
  for (const v of [0.4, 0.9, 1.7, 3.2]) {
    m.generationDuration.observe({ generator: "ollama", outcome: "ok" }, v);
  }
  m.generationDuration.observe({ generator: "ollama", outcome: "timeout" }, 30);
  m.generationDuration.observe({ generator: "markov", outcome: "ok" }, 0.002);
  m.ollamaErrors.inc({ kind: "timeout" }, 1);
  m.ollamaErrors.inc({ kind: "unreachable" }, 2);
  for (const v of [0.00004, 0.0002, 0.0011]) {
    m.middlewareDuration.observe({ plugin: "chat_history", stage: "observe" }, v);
  }
  m.middlewareDuration.observe({ plugin: "blocked_words", stage: "filter_in" }, 0.00008);
  m.pluginFailures.inc({ plugin: "weather", reason: "timeout" }, 3);
  m.pluginsDisabled.set({ plugin: "weather" }, 1);
  m.pluginsDisabled.set({ plugin: "chat_history" }, 0);
  m.sendQueueDepth.set(2);
  m.sendDropped.inc({ reason: "too_old" }, 1);
  m.sendDropped.inc({ reason: "room_mode" }, 1);
  m.notices.inc({ msg_id: "msg_ratelimit" }, 1);
  m.ircReconnects.inc(2);
  m.ircConnected.set(1);
  m.channelsJoined.set(2);
  m.storageErrors.inc({ op: "insert_lines" }, 3);
  m.storageBuffered.set(0);
  m.storageUp.set(1);
  m.httpRequests.inc({ route: "/api/channels", method: "GET", status: "200" }, 12);
  fillRest(m);
}

/**
 * Gives a sample to every metric `populate` does not know by name (metrics other modules add later),
 * so the promtool check still covers each one with its labels.
 */
function fillRest(m: Metrics): void {
  for (const metric of m.registry.getMetricsAsArray()) {
    const labelNames = (metric as unknown as { labelNames?: string[] }).labelNames ?? [];
    const labels = Object.fromEntries(labelNames.map((l) => [l, l === "channel" ? "alpha" : "example"]));
    const hasSamples = (metric as unknown as { hashMap?: Record<string, unknown> }).hashMap;
    if (hasSamples !== undefined && Object.keys(hasSamples).length > 0) continue;
    if (metric instanceof client.Counter) metric.inc(labels, 1);
    else if (metric instanceof client.Gauge) metric.set(labels, 1);
    else if (metric instanceof client.Histogram) metric.observe(labels, 0.25);
    else if (metric instanceof client.Summary) metric.observe(labels, 0.25);
  }
}

/** Metric family names defined in a registry. */
function familyNames(m: Metrics): string[] {
  return m.registry.getMetricsAsArray().map((x) => x.name);
}

Deno.test("Metrics exposition passes promtool check metrics", async (t) => {
  const metrics = new Metrics();
  populate(metrics);
  const control = new FakeControl(["alpha", "beta_2"]);
  const server = await startHttpServer({
    listen: "127.0.0.1:0",
    controlToken: "",
    control,
    metrics,
    log: memoryLogger().log,
  });
  assert.ok(server);
  try {
    const res = await fetch(new URL("/metrics", server.url));
    const text = await res.text();

    await t.step("every metric has at least one sample", () => {
      for (const name of familyNames(metrics)) {
        const sample = new RegExp(`^${name}(_bucket|_sum|_count)?(\\{[^}]*\\})? [0-9.e+-]+$`, "m");
        assert.match(text, sample, `${name} has no sample`);
      }
    });

    await t.step("labelled samples carry their labels", () => {
      assert.match(text, /^clank_lines_sent_total\{channel="alpha",kind="mention"\} 14$/m);
      assert.match(
        text,
        /^clank_generation_duration_seconds_bucket\{le="0.5",generator="ollama",outcome="ok"\} 1$/m,
      );
    });

    await t.step("promtool accepts the exposition", async () => {
      const { code, report } = await promtoolCheck(text);
      assert.equal(code, 0, `promtool check metrics failed:\n${report}`);
      assert.equal(report.trim(), "", `promtool reported lint problems:\n${report}`);
    });
  } finally {
    await server.shutdown();
  }
});

Deno.test("Metrics process metrics pass promtool too", async () => {
  const metrics = new Metrics();
  metrics.collectProcessMetrics();
  populate(metrics);
  const text = await metrics.text();
  assert.match(text, /^clank_process_cpu_user_seconds_total \d/m);
  const { code, report } = await promtoolCheck(text);
  assert.equal(code, 0, report);
});

Deno.test("Grafana dashboard queries only metrics clank exports", async (t) => {
  const dashboard = JSON.parse(
    await Deno.readTextFile(new URL("../deploy/grafana/clank-dashboard.json", import.meta.url)),
  );
  const metrics = new Metrics();
  metrics.collectProcessMetrics();
  const known = new Set<string>();
  for (const m of metrics.registry.getMetricsAsArray()) {
    known.add(m.name);
    if (String(m.type) === "histogram") {
      for (const s of ["_bucket", "_sum", "_count"]) known.add(m.name + s);
    }
  }
  const exprs: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node !== null && typeof node === "object") {
      for (const [k, v] of Object.entries(node)) {
        if ((k === "expr" || k === "query" || k === "definition") && typeof v === "string") exprs.push(v);
        else walk(v);
      }
    }
  };
  walk(dashboard);

  await t.step("has a datasource variable and panels", () => {
    const vars = dashboard.templating.list as Array<{ name: string; type: string }>;
    assert.ok(vars.some((v) => v.type === "datasource"), "no datasource variable");
    assert.ok(dashboard.panels.length >= 10);
    assert.ok(exprs.length >= 15);
  });

  await t.step("every clank_* name in a query is an exported metric", () => {
    const used = new Set<string>();
    for (const expr of exprs) for (const name of expr.match(/\bclank_[a-z0-9_]+/g) ?? []) used.add(name);
    const unknown = [...used].filter((n) => !known.has(n));
    assert.deepEqual(unknown, []);
  });

  await t.step("every clank metric family appears on the dashboard", () => {
    const text = exprs.join("\n");
    const missing = metrics.registry.getMetricsAsArray()
      .map((m) => m.name)
      .filter((n) => !n.startsWith("clank_process_") && !n.startsWith("clank_nodejs_"))
      .filter((n) => !text.includes(n));
    assert.deepEqual(missing, []);
  });
});

Deno.test("BoundedLabel keeps label values from plugins to a few short identifiers", async (t) => {
  await t.step("short identifiers pass, free text and user names do not", () => {
    const label = new BoundedLabel(3);
    assert.equal(label.of("user_cooldown"), "user_cooldown");
    assert.equal(label.of("cooldown for @SomeViewer, try later"), "other");
    assert.equal(label.of("x".repeat(40)), "other");
  });
  await t.step("past the limit every new value is other; known ones stay", () => {
    const label = new BoundedLabel(2);
    assert.equal(label.of("a"), "a");
    assert.equal(label.of("b"), "b");
    assert.equal(label.of("c"), "other");
    assert.equal(label.of("a"), "a");
  });
});
