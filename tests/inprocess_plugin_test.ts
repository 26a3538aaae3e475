import assert from "node:assert/strict";
import FakeTimers from "@sinonjs/fake-timers";
import { isClankError } from "../core/errors.ts";
import { createInProcessPlugin } from "../core/inprocess_plugin.ts";
import type { Plugin } from "../plugins/sdk.ts";
import counter from "./fixtures/plugins/counter.ts";
import echoFilter from "./fixtures/plugins/echo_filter.ts";
import oddValues from "./fixtures/plugins/hostile_odd_values.ts";
import { filterInput, metricValue, SETTINGS, testDeps } from "./fixtures/plugins/_deps.ts";

const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;

function filter(check: (text: string) => unknown, extra: Record<string, unknown> = {}): Plugin {
  return { name: "f", kind: "filter", apiVersion: 1, check: (item) => check(item.text), ...extra } as Plugin;
}

Deno.test("createInProcessPlugin calls handlers and validates their replies", async (t) => {
  await t.step("a well-behaved filter answers with validated verdicts", async () => {
    const deps = testDeps();
    const h = await createInProcessPlugin(echoFilter, { source: "builtin:echo", ...deps, timeoutMs: 100 });
    assert.equal(h.meta.name, "echo_filter");
    assert.equal(h.meta.sandboxed, false);
    assert.deepEqual(await h.call("check", filterInput("bad")), {
      ok: true,
      value: { action: "drop", reason: "bad word" },
    });
    assert.deepEqual(await h.call("check", filterInput("shout hi")), {
      ok: true,
      value: { action: "rewrite", text: "HI" },
    });
    assert.deepEqual(await h.call("check", filterInput("fine")), { ok: true, value: { action: "pass" } });
    await h.close();
  });

  await t.step("a malformed reply fails the call with reason malformed and is counted", async () => {
    const deps = testDeps();
    const h = await createInProcessPlugin(filter(() => ({ action: "explode" })), {
      source: "t",
      ...deps,
      timeoutMs: 100,
    });
    const out = await h.call("check", filterInput("x"));
    assert.equal(out.ok, false);
    assert.equal(!out.ok && out.reason, "malformed");
    assert.match(!out.ok ? out.error : "", /check\(\) returned malformed data/);
    assert.equal(
      await metricValue(deps.metrics, "clank_plugin_failures_total", { plugin: "f", reason: "malformed" }),
      1,
    );
    await h.close();
  });

  await t.step("a throw fails the call with reason threw and the log names the plugin", async () => {
    const deps = testDeps();
    const h = await createInProcessPlugin(
      filter(() => {
        throw new TypeError("nope");
      }),
      { source: "t", ...deps, timeoutMs: 100 },
    );
    const out = await h.call("check", filterInput("x"));
    assert.deepEqual(out, { ok: false, reason: "threw", error: "check() threw TypeError: nope" });
    assert.ok(deps.lines.some((l) => JSON.parse(l).plugin === "f" && l.includes("TypeError: nope")));
    await h.close();
  });

  await t.step("a throw with no string form fails that call, sync or async, and never throws", async () => {
    const h = await createInProcessPlugin(oddValues, { source: "t", ...testDeps(), timeoutMs: 100 });
    for (const text of ["poison", "poison async", "bad then"]) {
      const now = h.callNow!("check", filterInput(text));
      const outcome = now instanceof Promise ? await now : now;
      assert.equal(outcome.ok ? "ok" : outcome.reason, "threw", text);
      const called = await h.call("check", filterInput(text));
      assert.equal(called.ok ? "ok" : called.reason, "threw", text);
      // A success between the texts, or five failures in a row would disable the plugin.
      assert.equal((await h.call("check", filterInput("fine"))).ok, true);
    }
    assert.deepEqual(await h.call("check", filterInput("bad")), {
      ok: true,
      value: { action: "drop", reason: "bad word" },
    });
    await h.close();
  });

  await t.step("observe without a handler is a no-op; another missing handler is an error", async () => {
    const deps = testDeps();
    const h = await createInProcessPlugin(echoFilter, { source: "t", ...deps, timeoutMs: 100 });
    assert.deepEqual(await h.call("observe", { type: "tick", time: 1 }), { ok: true, value: undefined });
    const out = await h.call("gate", {});
    assert.equal(out.ok, false);
    assert.match(!out.ok ? out.error : "", /has no gate\(\) handler/);
    await h.close();
  });
});

Deno.test("callNow answers synchronous handlers without a promise", async (t) => {
  await t.step("a sync handler's verdict, a throw and a malformed reply come back at once", async () => {
    const deps = testDeps();
    const h = await createInProcessPlugin(echoFilter, { source: "t", ...deps, timeoutMs: 100 });
    assert.deepEqual(h.callNow!("check", filterInput("fine")), { ok: true, value: { action: "pass" } });
    assert.deepEqual(h.callNow!("observe", { type: "tick", time: 1 }), { ok: true, value: undefined });
    const throwing = await createInProcessPlugin(
      filter(() => {
        throw new TypeError("nope");
      }),
      { source: "t", ...deps, timeoutMs: 100 },
    );
    assert.deepEqual(throwing.callNow!("check", filterInput("x")), {
      ok: false,
      reason: "threw",
      error: "check() threw TypeError: nope",
    });
    const malformed = await createInProcessPlugin(filter(() => ({ action: "explode" })), {
      source: "t",
      ...deps,
      timeoutMs: 100,
    });
    const out = malformed.callNow!("check", filterInput("x"));
    assert.equal(out instanceof Promise, false);
    assert.equal(!(out as { ok: boolean }).ok && (out as { reason: string }).reason, "malformed");
    // `call` keeps its contract: always a promise, whatever the handler did.
    const viaCall = h.call("check", filterInput("fine"));
    assert.equal(viaCall instanceof Promise, true);
    assert.deepEqual(await viaCall, { ok: true, value: { action: "pass" } });
    for (const handle of [h, throwing, malformed]) await handle.close();
  });

  await t.step("an async handler still gets a promise, checked and under the deadline", async () => {
    const clock = FakeTimers.install({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    try {
      const deps = testDeps();
      const h = await createInProcessPlugin(filter(() => Promise.resolve({ action: "drop", reason: "r" })), {
        source: "t",
        ...deps,
        timeoutMs: 2000,
      });
      const pending = h.callNow!("check", filterInput("x"));
      assert.equal(pending instanceof Promise, true);
      assert.deepEqual(await pending, { ok: true, value: { action: "drop", reason: "r" } });
      const hung = await createInProcessPlugin(filter(() => new Promise(() => {})), {
        source: "t",
        ...deps,
        timeoutMs: 2000,
      });
      const late = hung.callNow!("check", filterInput("x"));
      await clock.tickAsync(2000);
      assert.deepEqual(await late, {
        ok: false,
        reason: "timeout",
        error: "check() did not answer within 2000 ms",
      });
      await h.close();
      await hung.close();
    } finally {
      clock.uninstall();
    }
  });
});

Deno.test("createInProcessPlugin disables a plugin after repeated consecutive failures", async (t) => {
  await t.step("five failures in a row disable it, with one log line and the metric", async () => {
    const deps = testDeps();
    let calls = 0;
    const h = await createInProcessPlugin(
      filter(() => {
        calls++;
        throw new Error("boom");
      }),
      { source: "t", ...deps, timeoutMs: 100 },
    );
    for (let i = 0; i < 5; i++) assert.equal((await h.call("check", filterInput("x"))).ok, false);
    assert.equal(h.disabled, true);
    const out = await h.call("check", filterInput("x"));
    assert.equal(!out.ok && out.reason, "disabled");
    assert.equal(calls, 5, "a disabled plugin is not called");
    assert.equal(deps.lines.filter((l) => l.includes("disabled after")).length, 1);
    assert.equal(await metricValue(deps.metrics, "clank_plugin_disabled", { plugin: "f" }), 1);
    assert.equal(
      await metricValue(deps.metrics, "clank_plugin_failures_total", { plugin: "f", reason: "threw" }),
      5,
    );
    await h.close();
  });

  await t.step("a success resets the count", async () => {
    const deps = testDeps();
    const h = await createInProcessPlugin(
      filter((text) => {
        if (text === "ok") return { action: "pass" };
        throw new Error("boom");
      }),
      { source: "t", ...deps, timeoutMs: 100, maxFailures: 3 },
    );
    for (const text of ["x", "x", "ok", "x", "x", "ok"]) await h.call("check", filterInput(text));
    assert.equal(h.disabled, false);
    for (const text of ["x", "x", "x"]) await h.call("check", filterInput(text));
    assert.equal(h.disabled, true);
    await h.close();
  });
});

Deno.test("createInProcessPlugin cuts an asynchronous hang at the deadline", async (t) => {
  const clock = FakeTimers.install({ toFake: ["setTimeout", "clearTimeout", "Date"] });
  try {
    await t.step("a never-settling promise fails with reason timeout after timeoutMs", async () => {
      const deps = testDeps();
      const h = await createInProcessPlugin(filter(() => new Promise(() => {})), {
        source: "t",
        ...deps,
        timeoutMs: 2000,
      });
      let settled = false;
      const pending = h.call("check", filterInput("x")).finally(() => (settled = true));
      await clock.tickAsync(1999);
      assert.equal(settled, false);
      await clock.tickAsync(1);
      const out = await pending;
      assert.deepEqual(out, { ok: false, reason: "timeout", error: "check() did not answer within 2000 ms" });
      await h.close();
    });

    await t.step("a per-call timeoutMs overrides the plugin's deadline", async () => {
      const deps = testDeps();
      const slow: Plugin = {
        name: "slow",
        kind: "generator",
        apiVersion: 1,
        generate: () => new Promise((r) => setTimeout(() => r({ text: "late" }), 5000)),
      };
      const h = await createInProcessPlugin(slow, { source: "t", ...deps, timeoutMs: 2000 });
      const pending = h.call("generate", {}, { timeoutMs: 10_000 });
      await clock.tickAsync(5000);
      assert.deepEqual(await pending, { ok: true, value: { text: "late" } });
      await h.close();
    });

    // CI failure: fake time ran 500 s ahead while blocked_words read its word list, so setup "timed out".
    await t.step("setup that waits on real I/O is measured by the lifecycle timers it is given", async () => {
      const realTimers = {
        setTimeout: (fn: () => void, ms: number) => realSetTimeout(fn, ms),
        clearTimeout: (id: unknown) => realClearTimeout(id as number),
      };
      const slowSetup = () =>
        filter(() => ({ action: "pass" }), { setup: () => new Promise((r) => realSetTimeout(r, 30)) });
      const load = (lifecycleTimers?: typeof realTimers) =>
        createInProcessPlugin(slowSetup(), {
          source: "t",
          ...testDeps(),
          timeoutMs: 100,
          setupTimeoutMs: 1000,
          lifecycleTimers,
        });
      const outrun = async <T>(p: Promise<T>) => {
        let done = false;
        p.then(() => (done = true), () => (done = true));
        while (!done) await clock.tickAsync(5000);
        return p;
      };
      const onFakeTime = await outrun(load()).then(() => "loaded", (e) => String(e));
      assert.match(onFakeTime, /setup failed: did not finish within 1000 ms/);
      const h = await outrun(load(realTimers));
      assert.equal(h.meta.name, "f");
      await h.close();
    });
  } finally {
    clock.uninstall();
  }
});

Deno.test("createInProcessPlugin runs setup with options, store and log, and teardown on close", async (t) => {
  await t.step("the counter fixture persists through the store and reads its options", async () => {
    const deps = testDeps();
    const opts = { source: "t", ...deps, timeoutMs: 100, options: { label: "seen", start: 5 } };
    const a = await createInProcessPlugin(counter, opts);
    const msg = { type: "message", channel: "c", text: "hi" };
    await a.call("observe", msg);
    await a.call("observe", msg);
    const req = { channel: "c", trigger: "mention", settings: SETTINGS, time: 0 };
    assert.deepEqual(await a.call("provide", req), { ok: true, value: { notes: ["seen=7"] } });
    await a.close();
    const b = await createInProcessPlugin(counter, opts);
    assert.deepEqual(
      await b.call("provide", req),
      { ok: true, value: { notes: ["seen=7"] } },
      "count came from the store",
    );
    assert.ok(deps.lines.some((l) => JSON.parse(l).plugin === "counter" && l.includes("counter ready")));
    await b.close();
  });

  await t.step("invalid options are a PLUGIN_INVALID error naming the option", async () => {
    await assert.rejects(
      () =>
        createInProcessPlugin(counter, {
          source: "builtin:counter",
          ...testDeps(),
          timeoutMs: 100,
          options: { start: -1 },
        }),
      (err: unknown) =>
        isClankError(err, "PLUGIN_INVALID") &&
        /^Plugin "counter" \(builtin:counter\): options\.start: /.test(err.message),
    );
  });

  await t.step("a failing setup is a PLUGIN_LOAD_FAILED error", async () => {
    const bad = filter(() => ({ action: "pass" }), {
      setup() {
        throw new Error("no database");
      },
    });
    await assert.rejects(
      () => createInProcessPlugin(bad, { source: "t", ...testDeps(), timeoutMs: 100 }),
      (err: unknown) =>
        isClankError(err, "PLUGIN_LOAD_FAILED") &&
        err.message === 'Plugin "f" (t): setup failed: Error: no database',
    );
  });

  await t.step("close runs teardown once and later calls report disabled", async () => {
    let teardowns = 0;
    const h = await createInProcessPlugin(
      filter(() => ({ action: "pass" }), { teardown: () => void teardowns++ }),
      {
        source: "t",
        ...testDeps(),
        timeoutMs: 100,
      },
    );
    await h.close();
    await h.close();
    assert.equal(teardowns, 1);
    const out = await h.call("check", filterInput("x"));
    assert.equal(!out.ok && out.reason, "disabled");
  });
});
