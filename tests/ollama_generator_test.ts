import assert from "node:assert/strict";
import plugin, { OllamaGeneratorOptions } from "../plugins/ollama_generator.ts";
import { canaryFor } from "../plugins/prompt_builder.ts";
import { ChannelSettingsSchema } from "../core/config_schema.ts";
import { isClankError } from "../core/errors.ts";
import type { GenerateRequest, HistoryLine, PluginApi } from "../plugins/sdk.ts";
import { getEncoding } from "js-tiktoken";
import { startFakeOllama } from "./fakes/fake_ollama.ts";

/** A minimal plugin api (stand-in until core/testing.ts ships one). */
function testApi<O>(options: O): PluginApi<O> & { logged: string[] } {
  const logged: string[] = [];
  const data = new Map<string, unknown>();
  const log = (level: string) => (msg: string) => void logged.push(`${level} ${msg}`);
  return {
    name: "ollama",
    options,
    logged,
    log: { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") },
    store: {
      get: <T>(key: string) => Promise.resolve(data.get(key) as T | undefined),
      set: (key: string, value: unknown) => Promise.resolve(void data.set(key, value)),
      delete: (key: string) => Promise.resolve(void data.delete(key)),
    },
  };
}

function history(n: number): HistoryLine[] {
  return Array.from({ length: n }, (_, i) => ({
    seq: i + 1,
    user: i % 4 === 3 ? "clankbot" : `viewer${i % 3}`,
    displayName: i % 4 === 3 ? "ClankBot" : `Viewer${i % 3}`,
    text: `chat line ${i + 1}`,
    time: 1_700_000_000_000 + i,
    bot: i % 4 === 3,
  }));
}

function request(extra: Partial<GenerateRequest> = {}): GenerateRequest {
  return {
    channel: "somechan",
    trigger: "spontaneous",
    bot: "clankbot",
    settings: ChannelSettingsSchema.parse({}),
    model: "llama3.1",
    history: history(6),
    notes: [],
    attempt: 1,
    time: 1_700_000_100_000,
    ...extra,
  };
}

function options(url: string, extra: Record<string, unknown> = {}): OllamaGeneratorOptions {
  return OllamaGeneratorOptions.parse({ url, keep_alive: "45m", num_ctx: 2048, ...extra });
}

Deno.test("ollama generator writes a line through the real ollama client", async (t) => {
  const fake = await startFakeOllama({
    models: ["llama3.1", "qwen2.5:7b"],
    reply: () => "sounds fun\nignored second line",
  });
  try {
    const api = testApi(options(fake.url));

    await t.step("returns the first line and the channel canary as forbidden", async () => {
      const result = await plugin.generate(request(), api);
      assert.deepEqual(result, { text: "sounds fun", forbidden: [canaryFor("somechan")] });
    });

    await t.step("sends earlier chat lines, bot turns, canary, think false and keep_alive", () => {
      const body = fake.generations()[0]!.body!;
      const messages = body.messages as Array<{ role: string; content: string }>;
      assert.equal(body.model, "llama3.1");
      assert.equal(body.think, false);
      assert.equal(body.keep_alive, "45m");
      assert.equal(messages[0]!.role, "system");
      assert.ok(messages[0]!.content.includes(canaryFor("somechan")));
      assert.ok(messages[0]!.content.includes("clankbot"));
      assert.equal(
        messages[1]!.content,
        'Viewer0: "chat line 1"\nViewer1: "chat line 2"\nViewer2: "chat line 3"',
      );
      assert.deepEqual(messages[2], { role: "assistant", content: "chat line 4" });
      assert.match(messages.at(-1)!.content, /Write one new chat line as clankbot/);
    });

    await t.step("keeps num_ctx constant while the history grows", async () => {
      await plugin.generate(request({ history: history(40) }), api);
      await plugin.generate(request({ history: history(120) }), api);
      const ctx = fake.generations().map((r) => (r.body!.options as { num_ctx: number }).num_ctx);
      assert.deepEqual(ctx, [2048, 2048, 2048]);
      const sizes = fake.generations().map((r) => (r.body!.messages as unknown[]).length);
      assert.ok(sizes[2]! > sizes[1]! && sizes[1]! > sizes[0]!);
    });

    await t.step("uses the channel's model and quotes the mention", async () => {
      await plugin.generate(
        request({
          model: "qwen2.5:7b",
          trigger: "mention",
          mention: { id: "m1", user: "viewer1", displayName: "Viewer1", text: "@clankbot hi!" },
        }),
        api,
      );
      const body = fake.generations().at(-1)!.body!;
      assert.equal(body.model, "qwen2.5:7b");
      const last = (body.messages as Array<{ content: string }>).at(-1)!.content;
      assert.ok(last.includes('Viewer1 wrote to you: "@clankbot hi!"'));
    });

    await t.step("falls back to the configured model when the request has none", async () => {
      await plugin.generate(request({ model: "" }), testApi(options(fake.url, { model: "qwen2.5:7b" })));
      assert.equal(fake.generations().at(-1)!.body!.model, "qwen2.5:7b");
    });

    await t.step("returns null when the model says nothing", async () => {
      fake.setReply(() => "\n\n");
      assert.equal(await plugin.generate(request(), api), null);
    });

    await t.step("throws a coded error with a kind for a missing model", async () => {
      await assert.rejects(
        async () => await plugin.generate(request({ model: "mistral" }), api),
        (err: unknown) => isClankError(err, "OLLAMA_MODEL_MISSING") && err.details?.kind === "model_missing",
      );
    });
  } finally {
    await fake.close();
  }
});

Deno.test("ollama generator options mirror the [ollama] section", () => {
  const parsed = OllamaGeneratorOptions.parse({});
  assert.equal(parsed.timeout, 30);
  assert.equal(parsed.first_token_timeout, undefined, "unset: half of timeout, see clientOptionsFromConfig");
  assert.equal(parsed.num_ctx, 4096);
  const bad = OllamaGeneratorOptions.safeParse({ timeout: 0, temperature: 3 });
  assert.equal(bad.success, false);
  assert.deepEqual(bad.error!.issues.map((i) => i.path.join(".")).sort(), ["temperature", "timeout"]);
  assert.equal(plugin.options, OllamaGeneratorOptions);
  assert.equal(plugin.name, "ollama");
  assert.equal(plugin.kind, "generator");
});

Deno.test("ollama generator runs inside a Worker with plain data", async () => {
  const fake = await startFakeOllama({ reply: () => "from a worker\nmore" });
  const dir = await Deno.makeTempDir();
  try {
    const script = `${dir}/worker.js`;
    const pluginUrl = new URL("../plugins/ollama_generator.ts", import.meta.url).href;
    await Deno.writeTextFile(
      script,
      `import plugin from ${JSON.stringify(pluginUrl)};
self.onmessage = async (e) => {
  const { req, options } = e.data;
  const log = { debug() {}, info() {}, warn() {}, error() {} };
  const store = { get: async () => undefined, set: async () => {}, delete: async () => {} };
  try {
    self.postMessage({ ok: await plugin.generate(req, { name: "ollama", options, log, store }) });
  } catch (err) {
    self.postMessage({ error: String(err), code: err.code, kind: err.details?.kind });
  }
};`,
    );
    const worker = new Worker(new URL(`file://${script}`).href, { type: "module" });
    try {
      const reply = new Promise<Record<string, unknown>>((resolve) => {
        worker.onmessage = (e) => resolve(e.data);
      });
      worker.postMessage({ req: request(), options: options(fake.url) });
      const data = await reply;
      assert.equal((data.ok as { text: string }).text, "from a worker");
      assert.match((data.ok as { forbidden: string[] }).forbidden[0]!, /^zx[0-9a-f]{10}$/);
    } finally {
      worker.terminate();
    }
  } finally {
    await fake.close();
    await Deno.remove(dir, { recursive: true });
  }
});

/** Long chat lines (Twitch allows 500 characters): 200 of them are far more than 4096 tokens. */
function longHistory(n: number): HistoryLine[] {
  return Array.from({ length: n }, (_, i) => ({
    seq: i + 1,
    user: `viewer_${i % 37}_xx`,
    displayName: `Viewer_${i % 37}_xx`,
    text: `line ${i + 1}: ` +
      "that play was absolutely wild, PogChamp KEKW did you see the chat go off? ".repeat(4),
    time: 1_700_000_000_000 + i,
    bot: false,
  }));
}

Deno.test("ollama generator keeps the prompt inside num_ctx", async (t) => {
  const fake = await startFakeOllama({ reply: () => "ok" });
  const cl100k = getEncoding("cl100k_base");
  const tokensOf = (messages: Array<{ content: string }>) =>
    messages.reduce((sum, m) => sum + cl100k.encode(m.content).length + 4, 0);
  try {
    const api = testApi(options(fake.url, { num_ctx: 4096, num_predict: 80 }));
    const settings = ChannelSettingsSchema.parse({ context: 200 });
    const lines = longHistory(200);

    await t.step(
      "200 long lines are cut to what fits, newest kept, system prompt and instruction whole",
      async () => {
        await plugin.generate(request({ settings, history: lines }), api);
        const messages = fake.generations().at(-1)!.body!.messages as Array<
          { role: string; content: string }
        >;
        // A BPE tokenizer of the llama-3 family's kind is the oracle, not the bot's own estimate.
        assert.ok(tokensOf(messages) <= 4096 - 80, `prompt of ${tokensOf(messages)} tokens`);
        assert.equal(messages[0]!.role, "system");
        assert.ok(messages[0]!.content.includes(canaryFor("somechan")));
        assert.match(messages.at(-1)!.content, /Write one new chat line as clankbot/);
        assert.ok(messages.at(-2)!.content.endsWith(JSON.stringify(lines.at(-1)!.text)));
        // Not cut to nothing either: at least a third of what num_ctx could hold.
        assert.ok(tokensOf(messages) > 4096 / 3, `prompt of only ${tokensOf(messages)} tokens`);
      },
    );

    await t.step("says once per channel that the history did not fit, and how to make it fit", async () => {
      await plugin.generate(request({ settings, history: lines }), api);
      const warnings = api.logged.filter((l) => l.startsWith("warn"));
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, /num_ctx/);
      assert.match(warnings[0]!, /context/);
    });

    await t.step("and once more after a reload to a num_ctx that still does not hold it", async () => {
      const reloaded = testApi(options(fake.url, { num_ctx: 6000 }));
      await plugin.generate(request({ settings, history: lines }), reloaded);
      const warned = reloaded.logged.filter((l) => l.startsWith("warn"));
      assert.equal(warned.length, 1);
      assert.match(warned[0]!, /num_ctx = 6000/);
      const again = testApi(options(fake.url, { num_ctx: 6000 }));
      await plugin.generate(request({ settings, history: lines }), again);
      assert.equal(again.logged.filter((l) => l.startsWith("warn")).length, 0);
    });

    await t.step("short lines within num_ctx are all shown", async () => {
      await plugin.generate(request({ settings, history: history(150) }), api);
      const messages = fake.generations().at(-1)!.body!.messages as Array<{ content: string }>;
      const shown = messages.slice(1, -1).flatMap((m) => m.content.split("\n")).length;
      assert.equal(shown, 150);
    });
  } finally {
    await fake.close();
  }
});
