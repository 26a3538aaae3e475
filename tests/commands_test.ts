import { assert, assertEquals, assertMatch } from "./assert.ts";
import threshold from "../commands/threshold.ts";
import spontaneous from "../commands/spontaneous.ts";
import response from "../commands/response.ts";
import context from "../commands/context.ts";
import model from "../commands/model.ts";
import reset from "../commands/reset.ts";
import help from "../commands/help.ts";
import status, { formatUptime } from "../commands/status.ts";
import { testApi, testSettings } from "../core/testing.ts";
import type { CommandInvocation, CommandPlugin, CommandResult } from "../plugins/sdk.ts";

function inv(args: string[], partial: Partial<CommandInvocation> = {}): CommandInvocation {
  return {
    channel: "c",
    user: "mod",
    displayName: "Mod",
    args,
    text: `!clank x ${args.join(" ")}`,
    prefix: "!clank",
    settings: testSettings({ threshold: 40 }),
    defaults: testSettings(),
    status: {
      uptimeSeconds: 3725,
      model: "llama3.1",
      messagesSeen: 10,
      sentSpontaneous: 1,
      sentReplies: 2,
      generationAvgMs: 800,
      generationP95Ms: 1500,
      ollamaReachable: true,
      lastError: null,
      contextSize: 9,
      observeOnly: false,
    },
    commands: [{ command: "status", usage: "status" }, { command: "threshold", usage: "threshold [5-200]" }],
    time: 0,
    ...partial,
  };
}

const run = async (p: CommandPlugin, args: string[], partial?: Partial<CommandInvocation>) =>
  (await p.run(inv(args, partial), testApi())) as CommandResult;

Deno.test("setting commands show or set a value within the schema's range", async (t) => {
  await t.step("usage carries the range from the schema", () => {
    assertEquals(threshold.usage, "threshold [5-200]");
    assertEquals(spontaneous.usage, "spontaneous [60-3600]");
    assertEquals(response.usage, "response [10-1800]");
    assertEquals(context.usage, "context [50-500]");
    for (const p of [threshold, spontaneous, response, context, model, reset, help, status]) {
      assertEquals(p.permission, "moderator");
    }
  });
  await t.step("no value shows the current one", async () => {
    const r = await run(threshold, []);
    assertEquals(r.set, undefined);
    assertMatch(r.reply!, /threshold is 40 .*allowed 5-200/);
  });
  await t.step("a value asks the host to set it (the host validates)", async () => {
    assertEquals((await run(threshold, ["50"])).set, { threshold: 50 });
    assertEquals((await run(spontaneous, ["9000"])).set, { spontaneous: 9000 });
    assertEquals((await run(context, ["abc"])).set as unknown, { context: "abc" });
  });
  await t.step("extra words get the usage", async () => {
    const r = await run(response, ["1", "2"]);
    assertEquals(r.set, undefined);
    assertMatch(r.reply!, /usage: !clank response \[10-1800\]/);
  });
});

Deno.test("model, reset, help and status commands", async (t) => {
  await t.step("model shows or switches", async () => {
    assertMatch((await run(model, [])).reply!, /model is llama3\.1/);
    assertEquals((await run(model, ["qwen2.5:7b"])).set, { model: "qwen2.5:7b" });
  });
  await t.step("reset returns to the configured defaults", async () => {
    const r = await run(reset, []);
    assertEquals(r.reset, true);
    assertMatch(r.reply!, /threshold 30, spontaneous 300s, response 60s, context 200/);
  });
  await t.step("help lists the subcommands on one line", async () => {
    const r = await run(help, []);
    assertEquals(r.reply, "@Mod !clank status · threshold [5-200]");
  });
  await t.step(
    "status shows uptime, model, settings, counts, timing, Ollama and the last error",
    async () => {
      const r = await run(status, []);
      for (
        const part of [
          "up 1h2m",
          "model llama3.1",
          "threshold 40",
          "seen 10",
          "1 spontaneous / 2 replies",
          "p95 1500ms",
          "Ollama ok",
          "last error: none",
        ]
      ) {
        assert(r.reply!.includes(part), `${part} missing in ${r.reply}`);
      }
      assert(r.reply!.length <= 500);
    },
  );
  await t.step("formatUptime", () => {
    assertEquals(formatUptime(59), "0m59s");
    assertEquals(formatUptime(3600 * 27), "1d3h");
  });
});
