import assert from "node:assert/strict";
import { join } from "node:path";
import { ConfigSchema } from "../core/config_schema.ts";
import { isClankError } from "../core/errors.ts";
import { createInProcessPlugin } from "../core/inprocess_plugin.ts";
import { loadPlugins } from "../core/plugin_loader.ts";
import { createSandboxedPlugin } from "../core/sandbox_host.ts";
import type { CommandInvocation, GenerateRequest } from "../plugins/sdk.ts";
import dice from "../examples/plugins/dice.ts";
import regexFilter from "../examples/plugins/regex_filter.ts";
import { filterInput, SETTINGS, testDeps } from "./fixtures/plugins/_deps.ts";

const EXAMPLES = new URL("../examples/plugins/", import.meta.url);

function invocation(args: string[]): CommandInvocation {
  return {
    channel: "somechannel",
    user: "viewer",
    displayName: "Viewer",
    args,
    text: `!clank roll ${args.join(" ")}`,
    prefix: "!clank",
    settings: SETTINGS,
    defaults: SETTINGS,
    status: {
      uptimeSeconds: 1,
      model: "m",
      messagesSeen: 0,
      sentSpontaneous: 0,
      sentReplies: 0,
      generationAvgMs: null,
      generationP95Ms: null,
      ollamaReachable: null,
      lastError: null,
      contextSize: 0,
      observeOnly: false,
    },
    commands: [],
    time: 0,
  };
}

Deno.test("regex_filter example drops matching lines in-process and sandboxed", async (t) => {
  const options = { patterns: ["\\bcrypto\\s+giveaway\\b", "^!gamble"], directions: ["in"] };

  await t.step("in-process", async () => {
    const h = await createInProcessPlugin(regexFilter, {
      source: "t",
      ...testDeps(),
      timeoutMs: 1000,
      options,
    });
    assert.deepEqual(await h.call("check", filterInput("Free CRYPTO   giveaway now")), {
      ok: true,
      value: { action: "drop", reason: "matched pattern 1" },
    });
    assert.deepEqual(await h.call("check", filterInput("!gamble 100")), {
      ok: true,
      value: { action: "drop", reason: "matched pattern 2" },
    });
    assert.deepEqual(await h.call("check", filterInput("hello there")), {
      ok: true,
      value: { action: "pass" },
    });
    assert.deepEqual(await h.call("check", filterInput("!gamble 100", "out")), {
      ok: true,
      value: { action: "pass" },
    });
    await h.close();
  });

  await t.step("sandboxed, with no permissions", async () => {
    const h = await createSandboxedPlugin({
      url: new URL("regex_filter.ts", EXAMPLES),
      source: "examples/plugins/regex_filter.ts",
      ...testDeps(),
      timeoutMs: 1000,
      options,
    });
    assert.deepEqual(await h.call("check", filterInput("crypto giveaway")), {
      ok: true,
      value: { action: "drop", reason: "matched pattern 1" },
    });
    await h.close();
  });

  await t.step("an invalid pattern is refused at load, naming it", async () => {
    await assert.rejects(
      () =>
        createInProcessPlugin(regexFilter, {
          source: "t",
          ...testDeps(),
          timeoutMs: 1000,
          options: { patterns: ["(unclosed"] },
        }),
      (err: unknown) =>
        isClankError(err, "PLUGIN_INVALID") &&
        /options\.patterns\.0: is not a valid regular expression/.test(err.message),
    );
  });
});

Deno.test("dice example rolls NdM and explains bad input", async (t) => {
  const h = await createInProcessPlugin(dice, { source: "t", ...testDeps(), timeoutMs: 1000 });

  await t.step("declares its command, permission and cooldown", () => {
    assert.equal(h.meta.command, "roll");
    assert.equal(h.meta.permission, "everyone");
    assert.deepEqual(h.meta.cooldown, { user: 10 });
  });

  await t.step("2d6 shows each die and the sum", async () => {
    for (let i = 0; i < 50; i++) {
      const out = await h.call<{ reply: string }>("run", invocation(["2d6"]));
      assert.ok(out.ok);
      const m = /^@Viewer rolled 2d6: (\d) \+ (\d) = (\d+)$/.exec(out.value.reply);
      assert.ok(m, out.value.reply);
      const [a, b, sum] = [Number(m[1]), Number(m[2]), Number(m[3])];
      assert.ok(a >= 1 && a <= 6 && b >= 1 && b <= 6);
      assert.equal(a + b, sum);
    }
  });

  await t.step("every face of a small die comes up", async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const out = await h.call<{ reply: string }>("run", invocation(["d3"]));
      assert.ok(out.ok);
      seen.add(out.value.reply.replace("@Viewer rolled 1d3: ", ""));
    }
    assert.deepEqual([...seen].sort(), ["1", "2", "3"]);
  });

  await t.step("bad input gets the allowed form", async () => {
    for (const args of [["0d6"], ["21d6"], ["2d1"], ["banana"], ["2d6000"]]) {
      const out = await h.call<{ reply: string }>("run", invocation(args));
      assert.ok(out.ok);
      assert.equal(
        out.value.reply,
        "@Viewer usage: !clank roll NdM, e.g. !clank roll 2d6 (N dice 1-20, M sides 2-1000)",
        args[0],
      );
    }
  });

  await h.close();
});

Deno.test("http_generator example works only on the granted host", async (t) => {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const body = await req.json() as { channel: string; mention?: { user: string } };
    return Response.json({ text: ` hi @${body.mention?.user} from ${body.channel} ` });
  });
  const host = `127.0.0.1:${server.addr.port}`;
  const dir = await Deno.makeTempDir({ prefix: "clank_http_example_" });
  try {
    // The operator's workflow: copy the example into plugins.d and point API_HOST at their API.
    const source = (await Deno.readTextFile(new URL("http_generator.ts", EXAMPLES)))
      .replace('export const API_HOST = "api.example.com:443";', `export const API_HOST = "${host}";`)
      .replace('"../../plugins/sdk.ts"', JSON.stringify(new URL("../plugins/sdk.ts", import.meta.url).href));
    await Deno.mkdir(join(dir, "plugins.d"));
    await Deno.writeTextFile(join(dir, "plugins.d", "http_generator.ts"), source);
    const entry = { name: "http_generator", options: { url: `http://${host}/line` } };
    const request: GenerateRequest = {
      channel: "somechannel",
      trigger: "mention",
      bot: "clank",
      settings: SETTINGS,
      model: "m",
      history: [],
      notes: [],
      mention: { id: "1", user: "viewer", displayName: "Viewer", text: "@clank hi" },
      attempt: 1,
      time: 0,
    };

    await t.step("granted: it generates through the API", async () => {
      const config = ConfigSchema.parse({ plugins: [{ ...entry, permissions: { net: [host] } }] });
      const { plugins, problems } = await loadPlugins(config, { ...testDeps(), baseDir: dir, builtins: [] });
      assert.deepEqual(problems, []);
      assert.equal(plugins[0]!.meta.sandboxed, true);
      assert.deepEqual(await plugins[0]!.call("generate", request), {
        ok: true,
        value: { text: "hi @viewer from somechannel" },
      });
      await Promise.all(plugins.map((p) => p.close()));
    });

    await t.step("not granted: it is not loaded, and the problem says what to add", async () => {
      const config = ConfigSchema.parse({ plugins: [entry] });
      const { plugins, problems } = await loadPlugins(config, { ...testDeps(), baseDir: dir, builtins: [] });
      assert.deepEqual(plugins, []);
      assert.deepEqual(problems, [
        `Plugin "http_generator" asks for net access to ${host} but the config does not grant it: ` +
        `add permissions = { net = ["${host}"] } to its [[plugins]] entry`,
      ]);
    });

    await t.step("a URL on another host is refused at load", async () => {
      const config = ConfigSchema.parse({
        plugins: [{ ...entry, options: { url: "http://127.0.0.2:9/line" }, permissions: { net: [host] } }],
      });
      const { plugins, problems } = await loadPlugins(config, { ...testDeps(), baseDir: dir, builtins: [] });
      assert.deepEqual(plugins, []);
      assert.match(
        problems[0]!,
        /^Plugin "http_generator" \(.*\): options\.url: must be on 127\.0\.0\.1:\d+/,
      );
    });
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
