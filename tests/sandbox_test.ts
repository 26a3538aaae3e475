import assert from "node:assert/strict";
import { isClankError } from "../core/errors.ts";
import { createInProcessPlugin } from "../core/inprocess_plugin.ts";
import type { CallOutcome, PluginHandle } from "../core/plugin_handle.ts";
import {
  createSandboxedPlugin,
  restartDelay,
  type SandboxedPluginOptions,
  type SandboxEvent,
} from "../core/sandbox_host.ts";
import type { PluginPermissions } from "../plugins/sdk.ts";
import { filterInput, fixtureUrl, metricValue, SETTINGS, testDeps } from "./fixtures/plugins/_deps.ts";

type Deps = ReturnType<typeof testDeps>;

/** Deadlines for the tests that hang a Worker on purpose. */
const SHORT = { timeoutMs: 500, hangGraceMs: 300 };

/** Starts a fixture in a Worker with short deadlines, recording lifecycle events. */
async function sandboxed(
  fixture: string,
  extra: Partial<SandboxedPluginOptions> = {},
  deps: Deps = testDeps(),
): Promise<
  {
    handle: PluginHandle;
    deps: Deps;
    events: SandboxEvent[];
    next: (type: SandboxEvent["type"]) => Promise<void>;
  }
> {
  const events: SandboxEvent[] = [];
  const waiters: Array<{ type: string; resolve: () => void }> = [];
  const handle = await createSandboxedPlugin({
    url: fixtureUrl(fixture),
    source: `fixtures/${fixture}`,
    ...deps,
    // Generous so a loaded machine does not fail healthy calls; hang tests pass shorter ones.
    timeoutMs: 1000,
    hangGraceMs: 1000,
    restartBackoffMs: 10,
    onEvent: (e) => {
      events.push(e);
      for (const w of waiters.splice(0)) {
        if (w.type === e.type) w.resolve();
        else waiters.push(w);
      }
    },
    ...extra,
  });
  const next = (type: SandboxEvent["type"]) =>
    new Promise<void>((resolve) => waiters.push({ type, resolve }));
  return { handle, deps, events, next };
}

function failure(out: CallOutcome<unknown>): { reason: string; error: string } {
  if (out.ok) assert.fail(`expected a failure, got ${JSON.stringify(out)}`);
  return { reason: out.reason, error: out.error };
}

Deno.test("sandboxed plugin runs a well-behaved plugin like in-process", async (t) => {
  await t.step("the same fixture answers the same in a Worker and in-process", async () => {
    const { handle } = await sandboxed("echo_filter.ts");
    const inproc = await createInProcessPlugin((await import(fixtureUrl("echo_filter.ts").href)).default, {
      source: "t",
      ...testDeps(),
      timeoutMs: 300,
    });
    assert.equal(handle.meta.sandboxed, true);
    assert.equal(handle.meta.name, "echo_filter");
    for (const text of ["bad", "shout hey", "hello"]) {
      assert.deepEqual(
        await handle.call("check", filterInput(text)),
        await inproc.call("check", filterInput(text)),
      );
    }
    await handle.close();
    await inproc.close();
  });

  await t.step("options, store and log cross the Worker boundary", async () => {
    const deps = testDeps();
    const { handle } = await sandboxed("counter.ts", { options: { label: "lines" } }, deps);
    const msg = { type: "message", channel: "c", text: "hi" };
    // Calls in flight together are pipelined; each still gets its own answer.
    const outs = await Promise.all([
      handle.call("observe", msg),
      handle.call("observe", msg),
      handle.call("observe", msg),
    ]);
    assert.ok(outs.every((o) => o.ok));
    const req = { channel: "c", trigger: "mention", settings: SETTINGS, time: 0 };
    assert.deepEqual(await handle.call("provide", req), { ok: true, value: { notes: ["lines=3"] } });
    assert.equal(deps.store.data.get("counter/count"), "3");
    assert.ok(deps.lines.some((l) => JSON.parse(l).plugin === "counter" && l.includes("counter ready")));
    await handle.close();
  });

  await t.step("invalid options are reported as PLUGIN_INVALID from inside the Worker", async () => {
    await assert.rejects(
      () => sandboxed("counter.ts", { options: { start: "many" } }),
      (err: unknown) => isClankError(err, "PLUGIN_INVALID") && /options\.start: /.test(err.message),
    );
  });

  await t.step("many pipelined calls all come back in order of their ids", async () => {
    const { handle } = await sandboxed("echo_filter.ts");
    const texts = Array.from({ length: 1000 }, (_, i) => (i % 3 === 0 ? "bad" : `line ${i}`));
    const outs = await Promise.all(texts.map((text) => handle.call("check", filterInput(text))));
    outs.forEach((o, i) =>
      assert.deepEqual(o, {
        ok: true,
        value: i % 3 === 0 ? { action: "drop", reason: "bad word" } : { action: "pass" },
      })
    );
    await handle.close();
  });
});

Deno.test("sandboxed plugin is denied everything it was not granted", async (t) => {
  const denied = async (fixture: string, text: string, grant: PluginPermissions = {}) => {
    const { handle } = await sandboxed(fixture, { grant });
    const f = failure(await handle.call("check", filterInput(text)));
    await handle.close();
    assert.equal(f.reason, "threw");
    return f.error;
  };

  await t.step("reading a file", async () => {
    const file = await Deno.makeTempFile();
    await Deno.writeTextFile(file, "secret");
    try {
      assert.match(await denied("hostile_read_file.ts", file), /NotCapable: Requires read access to/);
    } finally {
      await Deno.remove(file);
    }
  });

  await t.step("reading the environment", async () => {
    assert.match(await denied("hostile_env.ts", "HOME"), /NotCapable: Requires env access to "HOME"/);
  });

  await t.step("fetching a host that was not granted (a granted one works)", async () => {
    const serve = (body: string) =>
      Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => new Response(body));
    const allowed = serve("allowed");
    const other = serve("other");
    try {
      const grant = { net: [`127.0.0.1:${allowed.addr.port}`] };
      assert.match(
        await denied("hostile_fetch.ts", `http://127.0.0.1:${other.addr.port}/`, grant),
        /NotCapable: Requires net access to "127\.0\.0\.1:\d+"/,
      );
      const { handle } = await sandboxed("hostile_fetch.ts", { grant });
      assert.deepEqual(await handle.call("check", filterInput(`http://127.0.0.1:${allowed.addr.port}/`)), {
        ok: true,
        value: { action: "rewrite", text: "allowed" },
      });
      await handle.close();
    } finally {
      await allowed.shutdown();
      await other.shutdown();
    }
  });

  await t.step("the Cache API (shared disk storage without a write grant)", async () => {
    const { handle } = await sandboxed("hostile_cache.ts");
    const out = await handle.call("check", filterInput("cache"));
    assert.deepEqual(out, { ok: true, value: { action: "rewrite", text: "refused: ReferenceError" } });
    await handle.close();
  });

  await t.step("an npm package that is not a dependency, under the flags of deno task start", async () => {
    // Deno's Worker permissions do not cover npm packages: what stops one is that the bot runs with
    // --cached-only: nothing is downloaded while it runs, so nothing new can load or enter deno.lock.
    const root = new URL("../", import.meta.url);
    const lock = await Deno.readTextFile(new URL("deno.lock", root));
    const task: string = JSON.parse(await Deno.readTextFile(new URL("deno.json", root))).tasks.start;
    const flags = task.split(" && ").at(-1)!.replace(/^deno run /, "").replace(/ main\.ts$/, "").split(" ");
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", ...flags, new URL("fixtures/sandbox_npm_probe.ts", import.meta.url).pathname],
      cwd: root.pathname,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const outcome = JSON.parse(stdout.trim().split("\n").at(-1)!);
    assert.deepEqual(outcome.ok, true, stdout);
    assert.match(outcome.value.text, /^refused: .*is-odd/, "the package must not load");
    assert.equal(await Deno.readTextFile(new URL("deno.lock", root)), lock, "deno.lock changed");
  });

  await t.step("running a subprocess", async () => {
    assert.match(await denied("hostile_run.ts", "true"), /NotCapable: Requires run access to "true"/);
  });

  await t.step("opening a native library", async () => {
    assert.match(await denied("hostile_ffi.ts", "libc.so.6"), /NotCapable: Requires ffi access/);
  });
});

Deno.test("sandboxed plugin contains faults and keeps answering", async (t) => {
  await t.step("a throw is a failed call; the next call works", async () => {
    const { handle, deps } = await sandboxed("hostile_throw.ts");
    assert.deepEqual(failure(await handle.call("check", filterInput("x"))), {
      reason: "threw",
      error: "check() threw Error: boom on x",
    });
    assert.deepEqual(await handle.call("check", filterInput("ok")), { ok: true, value: { action: "pass" } });
    assert.equal(
      await metricValue(deps.metrics, "clank_plugin_failures_total", {
        plugin: "hostile_throw",
        reason: "threw",
      }),
      1,
    );
    await handle.close();
  });

  await t.step("garbage replies are malformed, including values that cannot be cloned", async () => {
    const { handle } = await sandboxed("hostile_garbage.ts");
    assert.equal(failure(await handle.call("check", filterInput("shape"))).reason, "malformed");
    const fn = failure(await handle.call("check", filterInput("function")));
    assert.equal(fn.reason, "malformed");
    assert.match(fn.error, /cannot be sent to the host/);
    assert.equal(failure(await handle.call("check", filterInput("null"))).reason, "malformed");
    assert.deepEqual(await handle.call("check", filterInput("fine")), {
      ok: true,
      value: { action: "pass" },
    });
    await handle.close();
  });

  await t.step("a throw with no string form fails that call only; its batch is answered", async () => {
    const { handle } = await sandboxed("hostile_odd_values.ts");
    // Made in one tick, so the four calls travel to the Worker in one batch.
    const outs = await Promise.all(
      ["poison", "bad", "poison async", "bad then", "bad", "hello"].map((text) =>
        handle.call("check", filterInput(text))
      ),
    );
    assert.deepEqual(outs.map((o) => o.ok ? o.value : o.reason), [
      "threw",
      { action: "drop", reason: "bad word" },
      "threw",
      "threw",
      { action: "drop", reason: "bad word" },
      { action: "pass" },
    ]);
    assert.match(failure(outs[0]!).error, /check\(\) threw .*object/);
    await handle.close();
  });

  await t.step("log fields with no JSON form are left out of the line; the host runs on", async () => {
    const { handle, deps } = await sandboxed("hostile_odd_values.ts");
    assert.deepEqual(await handle.call("check", filterInput("bigint log")), {
      ok: true,
      value: { action: "pass" },
    });
    assert.deepEqual(await handle.call("check", filterInput("cyclic log")), {
      ok: true,
      value: { action: "pass" },
    });
    const logged = deps.lines.map((l) => JSON.parse(l));
    const counted = logged.find((l) => l.msg === "counted");
    const looped = logged.find((l) => l.msg === "looped");
    assert.match(String(counted?.plugin_fields), /could not be logged: .*BigInt/);
    assert.match(String(looped?.plugin_fields), /could not be logged: .*circular/);
    assert.deepEqual(await handle.call("check", filterInput("bad")), {
      ok: true,
      value: { action: "drop", reason: "bad word" },
    });
    await handle.close();
  });

  await t.step("a forged pass or empty answer for another method is checked like any reply", async () => {
    const { handle } = await sandboxed("../direct_plugins/forged_pass.ts");
    const gate = { channel: "chan", trigger: "mention", settings: SETTINGS };
    const passed = failure(await handle.call("gate", gate));
    assert.equal(passed.reason, "malformed");
    const empty = failure(await handle.call("gate", gate));
    assert.equal(empty.reason, "malformed");
    await handle.close();
  });

  await t.step("five failures in a row disable the plugin with one log line and the metric", async () => {
    const { handle, deps, events } = await sandboxed("hostile_throw.ts");
    const outs = await Promise.all(Array.from({ length: 7 }, () => handle.call("check", filterInput("x"))));
    assert.deepEqual(outs.map((o) => !o.ok && o.reason), [
      "threw",
      "threw",
      "threw",
      "threw",
      "threw",
      "disabled",
      "disabled",
    ]);
    assert.equal(handle.disabled, true);
    assert.deepEqual(events, [{ type: "disabled" }]);
    assert.equal(deps.lines.filter((l) => l.includes("disabled after")).length, 1);
    assert.equal(await metricValue(deps.metrics, "clank_plugin_disabled", { plugin: "hostile_throw" }), 1);
    assert.equal(failure(await handle.call("check", filterInput("ok"))).reason, "disabled");
    await handle.close();
  });

  await t.step("an async hang times out but the responsive Worker is kept", async () => {
    const { handle, events } = await sandboxed("hostile_hang.ts", { timeoutMs: 300 });
    const [hung, ok] = await Promise.all([
      handle.call("check", filterInput("hang")),
      handle.call("check", filterInput("fine")),
    ]);
    assert.equal(failure(hung).reason, "timeout");
    assert.deepEqual(ok, { ok: true, value: { action: "pass" } });
    // A later call proves the ping was answered and the Worker was not restarted.
    assert.deepEqual(await handle.call("check", filterInput("fine")), {
      ok: true,
      value: { action: "pass" },
    });
    assert.equal(events.length, 0);
    await handle.close();
  });

  await t.step("an import error is a load failure with a clear message", async () => {
    await assert.rejects(
      () => sandboxed("hostile_missing_import.ts"),
      (err: unknown) =>
        isClankError(err, "PLUGIN_LOAD_FAILED") &&
        /^Plugin at fixtures\/hostile_missing_import\.ts could not be imported: .*does_not_exist\.ts/.test(
          err.message,
        ),
    );
  });

  await t.step("an invalid declaration is PLUGIN_INVALID", async () => {
    await assert.rejects(
      () => sandboxed("invalid_api_version.ts"),
      (err: unknown) => isClankError(err, "PLUGIN_INVALID") && /apiVersion: must be 1/.test(err.message),
    );
  });
});

Deno.test("closing a sandboxed plugin lets the calls already made finish", async (t) => {
  await t.step("a line in flight during a reload is still checked; a later call is refused", async () => {
    const { handle } = await sandboxed("slow_filter.ts");
    const inFlight = handle.call("check", filterInput("bad"));
    const closing = handle.close();
    assert.equal(failure(await handle.call("check", filterInput("bad"))).reason, "disabled");
    // Before, the call in flight came back "disabled" and the host kept the line: a reload let a
    // blocked word through the filters.
    assert.deepEqual(await inFlight, { ok: true, value: { action: "drop", reason: "bad word" } });
    await closing;
  });
});

Deno.test("sandboxed plugin terminates and restarts a Worker stuck in a synchronous loop", async (t) => {
  await t.step("the stuck call and the calls behind it fail, the Worker restarts, then answers", async () => {
    const { handle, events, next, deps } = await sandboxed("hostile_loop.ts", {
      ...SHORT,
      maxRestartsPerMinute: 2,
    });
    const restarted = next("restarted");
    const outs = await Promise.all([
      handle.call("check", filterInput("loop")),
      handle.call("check", filterInput("behind")),
      handle.call("check", filterInput("behind")),
    ]);
    assert.deepEqual(outs.map((o) => !o.ok && o.reason), ["timeout", "timeout", "timeout"]);
    await restarted;
    assert.deepEqual(events.map((e) => e.type), ["hung", "restarting", "restarted"]);
    assert.deepEqual(await handle.call("check", filterInput("fine")), {
      ok: true,
      value: { action: "pass" },
    });
    assert.equal(handle.disabled, false, "calls queued behind the stuck one do not count towards disabling");

    // A second hang restarts again; the third within a minute disables the plugin.
    const again = next("restarted");
    await handle.call("check", filterInput("loop"));
    await again;
    const disabled = next("disabled");
    await handle.call("check", filterInput("loop"));
    await disabled;
    assert.equal(handle.disabled, true);
    assert.equal(failure(await handle.call("check", filterInput("fine"))).reason, "disabled");
    assert.equal(
      deps.lines.filter((l) => l.includes("disabled after 2 worker restarts within a minute")).length,
      1,
    );
    assert.equal(await metricValue(deps.metrics, "clank_plugin_disabled", { plugin: "hostile_loop" }), 1);
    await handle.close();
  });

  await t.step("calls during the restart fail fast instead of queueing", async () => {
    const { handle, next } = await sandboxed("hostile_loop.ts", { ...SHORT, restartBackoffMs: 200 });
    const restarting = next("restarting");
    const restarted = next("restarted");
    await handle.call("check", filterInput("loop"));
    await restarting;
    const out = failure(await handle.call("check", filterInput("fine")));
    assert.match(out.error, /restarting/);
    await restarted;
    assert.deepEqual(await handle.call("check", filterInput("fine")), {
      ok: true,
      value: { action: "pass" },
    });
    await handle.close();
  });

  await t.step("a well-behaved plugin next to the hostile ones still answers", async () => {
    const good = await sandboxed("echo_filter.ts");
    const bad = await sandboxed("hostile_loop.ts", SHORT);
    const stuck = bad.handle.call("check", filterInput("loop"));
    assert.deepEqual(await good.handle.call("check", filterInput("bad")), {
      ok: true,
      value: { action: "drop", reason: "bad word" },
    });
    assert.equal(failure(await stuck).reason, "timeout");
    assert.deepEqual(await good.handle.call("check", filterInput("fine")), {
      ok: true,
      value: { action: "pass" },
    });
    await bad.handle.close();
    await good.handle.close();
  });
});

Deno.test("sandboxed plugin checks permissions before it runs", async (t) => {
  await t.step("a declared permission the config does not grant stops the load", async () => {
    await assert.rejects(
      () => sandboxed("needs_net.ts"),
      (err: unknown) =>
        isClankError(err, "PLUGIN_PERMISSION_MISSING") &&
        err.message ===
          'Plugin "weather" asks for net access to api.weather.example:443 but the config does not grant it: ' +
            'add permissions = { net = ["api.weather.example:443"] } to its [[plugins]] entry',
    );
  });

  await t.step("with the grant it loads", async () => {
    const { handle } = await sandboxed("needs_net.ts", { grant: { net: ["api.weather.example:443"] } });
    assert.deepEqual(await handle.call("generate", {}), { ok: true, value: null });
    await handle.close();
  });
});

Deno.test("restartDelay doubles from the base up to the cap", () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6].map((n) => restartDelay(n, 1000, 30_000)), [
    1000,
    2000,
    4000,
    8000,
    16000,
    30000,
    30000,
  ]);
});
