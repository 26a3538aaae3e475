import assert from "node:assert/strict";
import { startHttpServer } from "../core/http_server.ts";
import { memoryLogger } from "../core/log.ts";
import { BoundedLabel, Metrics, MIDDLEWARE_TIMING_SAMPLE } from "../core/metrics.ts";
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

/** Every panel of the Grafana dashboard (rows included), by title. */
async function grafanaPanels(): Promise<Map<string, { expr: string; fieldConfig: Record<string, unknown> }>> {
  const dashboard = JSON.parse(
    await Deno.readTextFile(new URL("../deploy/grafana/clank-dashboard.json", import.meta.url)),
  ) as { panels: Array<{ title: string; targets?: Array<{ expr: string }>; fieldConfig?: object }> };
  return new Map(dashboard.panels.map((p) => [p.title, {
    expr: p.targets?.[0]?.expr ?? "",
    fieldConfig: (p.fieldConfig ?? {}) as Record<string, unknown>,
  }]));
}

/** A panel query as Prometheus would get it from Grafana (all instances, a 5 m rate window). */
function asPromQL(expr: string): string {
  return expr.replaceAll("$instance", ".*").replaceAll("$__rate_interval", "5m").replaceAll(
    "$__interval",
    "1m",
  );
}

/**
 * Runs `promtool test rules` on one unit-test file (YAML is a superset of JSON, so JSON it is);
 * fails, never skips, without promtool.
 */
async function promtoolTestRules(tests: unknown): Promise<{ code: number; report: string }> {
  const dir = await Deno.makeTempDir({ prefix: "clank-promql-" });
  try {
    const file = `${dir}/tests.yml`;
    await Deno.writeTextFile(file, JSON.stringify({ rule_files: [], evaluation_interval: "1m", tests }));
    let output: Deno.CommandOutput;
    try {
      output = await new Deno.Command("promtool", { args: ["test", "rules", file] }).output();
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) assert.fail("promtool is not installed (CI must install it)");
      throw err;
    }
    const dec = new TextDecoder();
    return { code: output.code, report: dec.decode(output.stdout) + dec.decode(output.stderr) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("Grafana panels read sampled and sentinel metrics correctly", async (t) => {
  const panels = await grafanaPanels();
  const H10 = 36_000; // eval_time 10h, in seconds

  await t.step("token time left ignores the 0 of a token that never expires, and says so", async () => {
    for (const title of ["Token expires in", "Token time left"]) {
      const panel = panels.get(title);
      assert.ok(panel, `no panel ${title}`);
      const expr = asPromQL(panel.expr);
      const { code, report } = await promtoolTestRules([
        {
          interval: "1m",
          input_series: [{
            series: 'clank_twitch_token_expiry_timestamp_seconds{instance="a"}',
            values: "0x1000",
          }],
          promql_expr_test: [{ expr, eval_time: "10h", exp_samples: [] }],
        },
        {
          interval: "1m",
          input_series: [
            { series: 'clank_twitch_token_expiry_timestamp_seconds{instance="a"}', values: "0x1000" },
            {
              series: 'clank_twitch_token_expiry_timestamp_seconds{instance="b"}',
              values: `${H10 + 86_400}x1000`,
            },
          ],
          promql_expr_test: [{ expr, eval_time: "10h", exp_samples: [{ labels: "{}", value: 86_400 }] }],
        },
      ]);
      assert.equal(code, 0, `${title}: ${panel.expr}\n${report}`);
      assert.match(
        String(panel.fieldConfig.defaults && (panel.fieldConfig.defaults as { noValue?: string }).noValue),
        /never expires/,
      );
    }
  });

  await t.step("pipeline calls per second scales the 1-in-N timing sample back up", async () => {
    const panel = [...panels.entries()].find(([title]) => title.startsWith("Pipeline calls per second"));
    assert.ok(panel, "no pipeline calls panel");
    assert.match(panel[1].expr, new RegExp(`^${MIDDLEWARE_TIMING_SAMPLE} \\* `));
    // 75 sampled calls a minute are 1.25 a second timed, 1.25 × N made.
    const { code, report } = await promtoolTestRules([{
      interval: "1m",
      input_series: [{
        series: 'clank_middleware_duration_seconds_count{instance="a",plugin="chat_history",stage="observe"}',
        values: "0+75x1000",
      }],
      promql_expr_test: [{
        expr: asPromQL(panel[1].expr),
        eval_time: "10h",
        exp_samples: [{ labels: '{stage="observe"}', value: 1.25 * MIDDLEWARE_TIMING_SAMPLE }],
      }],
    }]);
    assert.equal(code, 0, report);
  });
});

/** Rows of the metrics table in docs/API.md: name → type and labels, as written there. */
async function documentedMetrics(): Promise<
  Map<string, { type: string; labels: string[]; meaning: string }>
> {
  const doc = await Deno.readTextFile(new URL("../docs/API.md", import.meta.url));
  const rows = new Map<string, { type: string; labels: string[]; meaning: string }>();
  for (const line of doc.split("\n")) {
    const m = /^\| `(clank_[a-z0-9_]+)` +\| (\w+) +\|([^|]*)\|[^|]*\|([^|]*)\|$/.exec(line);
    if (m === null) continue;
    assert.ok(!rows.has(m[1]!), `${m[1]} is in the table twice`);
    const labels = [...m[3]!.matchAll(/`([a-z_]+)`/g)].map((l) => l[1]!);
    rows.set(m[1]!, { type: m[2]!, labels, meaning: m[4]!.trim() });
  }
  return rows;
}

Deno.test("docs/API.md documents every metric the bot registers, and nothing else", async (t) => {
  const registered = new Map(
    new Metrics().registry.getMetricsAsArray().map((m) => {
      const labels = (m as unknown as { labelNames?: string[] }).labelNames ?? [];
      return [m.name, { type: String(m.type), labels: [...labels] }];
    }),
  );
  const documented = await documentedMetrics();

  await t.step("the same metric names", () => {
    assert.deepEqual([...documented.keys()].sort(), [...registered.keys()].sort());
  });

  await t.step("the same type and labels for each", () => {
    for (const [name, { type, labels }] of registered) {
      const doc = documented.get(name);
      assert.deepEqual({ type: doc?.type, labels: doc?.labels }, { type, labels }, name);
    }
  });

  await t.step("the documented sample rate of the middleware histogram is the one in use", () => {
    assert.match(
      documented.get("clank_middleware_duration_seconds")?.meaning ?? "",
      new RegExp(
        `1-in-${MIDDLEWARE_TIMING_SAMPLE}\\b.*× ${MIDDLEWARE_TIMING_SAMPLE}\\b`,
      ),
    );
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
