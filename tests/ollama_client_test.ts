import assert from "node:assert/strict";
import FakeTimers from "@sinonjs/fake-timers";
import {
  type ChatMessage,
  clientOptionsFromConfig,
  OllamaClient,
  type OllamaClientOptions,
  sameModel,
} from "../core/ollama_client.ts";
import { type ClankError, isClankError } from "../core/errors.ts";
import { memoryLogger } from "../core/log.ts";
import { type FakeOllama, type FakeReply, type FakeRequest, startFakeOllama } from "./fakes/fake_ollama.ts";

const MESSAGES: ChatMessage[] = [
  { role: "system", content: "You are a bot" },
  { role: "user", content: "say something" },
];

function client(url: string, extra: Partial<OllamaClientOptions> = {}): OllamaClient {
  return new OllamaClient({
    url,
    timeoutMs: 20_000,
    firstTokenTimeoutMs: 20_000,
    keepAlive: "30m",
    numCtx: 4096,
    numPredict: 80,
    temperature: 0.7,
    ...extra,
  });
}

async function withFake(
  reply: (req: FakeRequest) => FakeReply,
  fn: (fake: FakeOllama) => Promise<void>,
  models?: string[],
): Promise<void> {
  const fake = await startFakeOllama({ reply, models });
  try {
    await fn(fake);
  } finally {
    await fake.close();
  }
}

async function rejectsWith(p: Promise<unknown>, code: string, kind: string): Promise<ClankError> {
  try {
    await p;
  } catch (err) {
    assert.ok(isClankError(err), `expected a ClankError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.equal(err.details?.kind, kind);
    return err;
  }
  assert.fail(`expected ${code}`);
}

Deno.test("OllamaClient.chatLine stops at the first complete line", async (t) => {
  await t.step(
    "after a think block, returns the first line and aborts the stream while it is still open",
    async () => {
      // The fake keeps the stream open after these chunks: only an early stop can finish the call.
      await withFake(
        () => ({
          chunks: ["<think>", "plan", "</think>", "Hello", " chat", "!", "\n", "Second", " line"],
          hang: "after_chunks",
        }),
        async (fake) => {
          const result = await client(fake.url).chatLine({ model: "llama3.1", messages: MESSAGES });
          assert.equal(result.text, "Hello chat!");
          assert.equal(result.evalCount, undefined);
          const rec = fake.generations()[0]!;
          await fake.waitForEnd(rec);
          assert.equal(rec.aborted, true);
          assert.equal(rec.completed, false);
        },
      );
    },
  );

  await t.step("skips blank leading lines", async () => {
    await withFake(() => "\n\n   \n  hi there  \nnext", async (fake) => {
      const { text } = await client(fake.url).chatLine({ model: "llama3.1", messages: MESSAGES });
      assert.equal(text, "hi there");
    });
  });

  await t.step("reads past a think block before taking the first line", async () => {
    await withFake(() => "<think>\nplan\nmore plan\n</think>\n\nreal answer\nextra", async (fake) => {
      const { text } = await client(fake.url).chatLine({ model: "llama3.1", messages: MESSAGES });
      assert.equal(text, "real answer");
    });
  });

  await t.step("returns the whole text when the stream ends without a newline", async () => {
    await withFake(() => "just one line", async (fake) => {
      const result = await client(fake.url).chatLine({ model: "llama3.1", messages: MESSAGES });
      assert.equal(result.text, "just one line");
      assert.equal(result.evalCount, 3);
      assert.ok(result.firstTokenMs <= result.totalMs);
      assert.equal(fake.generations()[0]!.completed, true);
    });
  });

  await t.step("sends streaming, think false, keep_alive and constant options", async () => {
    await withFake(() => "ok", async (fake) => {
      const c = client(fake.url, { numCtx: 8192, numPredict: 60, temperature: 0.5, keepAlive: "-1" });
      await c.chatLine({ model: "llama3.1", messages: MESSAGES, stop: ["<|eot|>"] });
      await c.chatLine({ model: "llama3.1", messages: [...MESSAGES, { role: "user", content: "more" }] });
      const [a, b] = fake.generations().map((r) => r.body!);
      assert.equal(a!.stream, true);
      assert.equal(a!.think, false);
      assert.equal(a!.keep_alive, "-1");
      assert.deepEqual(a!.messages, MESSAGES);
      assert.deepEqual(a!.options, { num_ctx: 8192, num_predict: 60, temperature: 0.5, stop: ["<|eot|>"] });
      assert.deepEqual((b!.options as Record<string, unknown>).num_ctx, 8192);
    });
  });

  await t.step("logs timings at debug level", async () => {
    const { log, lines } = memoryLogger();
    await withFake(() => "hey", async (fake) => {
      await client(fake.url, { log }).chatLine({ model: "llama3.1", messages: MESSAGES });
    });
    const entry = JSON.parse(lines.find((l) => l.includes("Ollama line generated"))!);
    assert.equal(typeof entry.total_ms, "number");
    assert.equal(entry.model, "llama3.1");
  });

  await t.step("aborting one request leaves a parallel one running", async () => {
    const slow = (req: FakeRequest) => JSON.stringify(req.body?.messages).includes("slow");
    await withFake(
      (req) => slow(req) ? { chunks: ["partial"], hang: "after_chunks" } : "fast line\nmore",
      async (fake) => {
        const c = client(fake.url);
        const pending = c.chatLine({ model: "llama3.1", messages: [{ role: "user", content: "slow" }] });
        const settled = pending.then(() => "resolved", (e: unknown) => e);
        await fake.waitForRequest(1);
        const fast = await c.chatLine({ model: "llama3.1", messages: [{ role: "user", content: "fast" }] });
        assert.equal(fast.text, "fast line");
        const slowReq = fake.generations()[0]!;
        assert.equal(slowReq.aborted, false);
        await fake.close();
        const outcome = await settled;
        assert.ok(isClankError(outcome, "OLLAMA_ERROR"));
        assert.equal(outcome.details?.kind, "stream");
        assert.match(outcome.message, /ended before its last \(done\) line/);
      },
    );
  });
});

/** Runs `fn` with every console method recorded instead of printed; the library must print nothing. */
async function consoleDuring(fn: () => Promise<unknown>): Promise<string[]> {
  const printed: string[] = [];
  const methods = ["log", "info", "warn", "error", "debug"] as const;
  const saved = methods.map((m) => console[m]);
  for (const m of methods) console[m] = (...args: unknown[]) => printed.push(`${m}: ${args.join(" ")}`);
  try {
    await fn().catch(() => {});
  } finally {
    methods.forEach((m, i) => (console[m] = saved[i]!));
  }
  return printed;
}

Deno.test("OllamaClient.chatLine keeps reasoning out of the line", async (t) => {
  const line = async (reply: FakeReply) => {
    let text = "";
    await withFake(() => reply, async (fake) => {
      text = (await client(fake.url).chatLine({ model: "llama3.1", messages: MESSAGES })).text;
    });
    return text;
  };

  await t.step("a lone </think> (the template opened the block) hides everything before it", async () => {
    const reply = "The user greets me.\nI should answer briefly.\n</think>\n\nhey there, welcome!\n";
    assert.equal(await line(reply), "hey there, welcome!");
  });

  await t.step("a lone </think> arriving long after a first line still hides it", async () => {
    const reasoning = Array.from({ length: 12 }, (_, i) => `step ${i} of my plan.`).join("\n");
    assert.equal(await line(`${reasoning}\n</think>\nok chat!\nmore`), "ok chat!");
  });

  await t.step("think tags in any case", async () => {
    assert.equal(await line("<THINK>\nplan\n</THINK>\nreal answer\n"), "real answer");
    assert.equal(await line("<Think>plan</Think>real answer\nmore"), "real answer");
    assert.equal(await line("plan, then\n</THINK>\nreal answer\n"), "real answer");
  });

  await t.step("an unterminated think block is nothing to send, but the text before it is", async () => {
    assert.equal(await line("<think>\nplanning\nstill planning"), "");
    assert.equal(await line("hello there <think>and now I reason"), "hello there");
  });

  await t.step(
    "without a think tag the answer is read to its end, where a </think> could still be",
    async () => {
      await withFake(() => "first line\nsecond line", async (fake) => {
        const result = await client(fake.url).chatLine({ model: "llama3.1", messages: MESSAGES });
        assert.equal(result.text, "first line");
        assert.equal(result.evalCount, 5);
        assert.equal(fake.generations()[0]!.completed, true);
      });
    },
  );
});

Deno.test("OllamaClient.chatLine skips lines that are no reply on their own", async (t) => {
  const line = async (reply: string) => {
    let text = "";
    await withFake(() => reply, async (fake) => {
      text = (await client(fake.url).chatLine({ model: "llama3.1", messages: MESSAGES })).text;
    });
    return text;
  };

  await t.step("a label line", async () => {
    assert.equal(await line("Reply:\nhey there chat\n"), "hey there chat");
    assert.equal(await line("clankbot:\nhey there chat, welcome in\n"), "hey there chat, welcome in");
    assert.equal(await line("**My reply:**\nhey there chat\n"), "hey there chat");
    assert.equal(await line("@viewer1:\nhey\n"), "hey");
  });

  await t.step("a code fence", async () => {
    assert.equal(await line("```\nhey there chat\n```\n"), "hey there chat");
    assert.equal(await line("```text\nhey there chat\n```"), "hey there chat");
  });

  await t.step("a line of quotes, dashes or dots only", async () => {
    assert.equal(await line('"\nhey there chat\n"'), "hey there chat");
    assert.equal(await line("---\n...\nhey there chat"), "hey there chat");
  });

  await t.step("keeps lines that say something", async () => {
    assert.equal(await line("Note: bring snacks\nmore"), "Note: bring snacks");
    assert.equal(await line(":)\nmore"), ":)");
    assert.equal(await line("gg: well played\n"), "gg: well played");
  });

  await t.step("nothing but filler is an empty answer", async () => {
    assert.equal(await line("Reply:\n```\n```\n"), "");
  });
});

Deno.test("OllamaClient.chatLine fails on a broken stream and prints nothing", async (t) => {
  await t.step("an unparsable line mid-stream fails the line instead of joining the pieces", async () => {
    await withFake(
      () => ({
        chunks: ["hel", " there", "\n"],
        rawLines: { at: 1, lines: ['{"message":{"content":"lo wo', 'rld"},"done":false}'] },
      }),
      async (fake) => {
        let err: ClankError | undefined;
        const printed = await consoleDuring(async () => {
          err = await rejectsWith(
            client(fake.url).chatLine({ model: "llama3.1", messages: MESSAGES }),
            "OLLAMA_ERROR",
            "stream",
          );
        });
        assert.ok(err);
        assert.match(err.message, /line 2 .*not JSON/);
        assert.deepEqual(printed, []);
      },
    );
  });

  await t.step("a JSON line that is not an object fails with a clear message", async () => {
    await withFake(() => ({ chunks: ["hi"], rawLines: { at: 1, lines: ["null"] } }), async (fake) => {
      const err = await rejectsWith(
        client(fake.url).chatLine({ model: "llama3.1", messages: MESSAGES }),
        "OLLAMA_ERROR",
        "stream",
      );
      assert.match(err.message, /line 2 .*not a JSON object: null/);
    });
  });

  await t.step("a line cut off at the end of the answer fails the line and prints nothing", async () => {
    // Chunks are passed on as they come once their complete lines are checked: the unfinished last
    // line must still be checked before the library would parse it.
    const cut = '{"model":"llama3.1","created_at":"x","message":{"role":"assistant","content":"hello"},' +
      '"done":false}\n{"model":"llama3.1","message":{"content":"wor';
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      () => new Response(cut, { headers: { "content-type": "application/x-ndjson" } }),
    );
    try {
      let err: ClankError | undefined;
      const printed = await consoleDuring(async () => {
        err = await rejectsWith(
          client(`http://127.0.0.1:${server.addr.port}`).chatLine({ model: "llama3.1", messages: MESSAGES }),
          "OLLAMA_ERROR",
          "stream",
        );
      });
      assert.match(err!.message, /line 2 .*not JSON/);
      assert.deepEqual(printed, []);
    } finally {
      await server.shutdown();
    }
  });

  await t.step("a plain-text error response is not printed by the library", async () => {
    await withFake(() => "x", async (fake) => {
      const printed = await consoleDuring(() =>
        client(`${fake.url}/wrong`).chatLine({ model: "llama3.1", messages: MESSAGES })
      );
      assert.deepEqual(printed, []);
    });
  });
});

Deno.test("OllamaClient.chatLine enforces its deadlines", async (t) => {
  await t.step("first-token timeout when no token arrives", async () => {
    await withFake(() => ({ chunks: [], hang: "headers" }), async (fake) => {
      const clock = FakeTimers.withGlobal(globalThis).install({ toFake: ["setTimeout", "clearTimeout"] });
      try {
        const p = client(fake.url, { firstTokenTimeoutMs: 3000, timeoutMs: 10_000 }).chatLine({
          model: "llama3.1",
          messages: MESSAGES,
        });
        const result = rejectsWith(p, "OLLAMA_TIMEOUT", "timeout");
        await fake.waitForRequest(1);
        clock.tick(2999);
        await clock.tickAsync(1);
        const err = await result;
        assert.equal(err.details?.phase, "first_token");
        assert.match(err.message, /first token within 3000 ms/);
      } finally {
        clock.uninstall();
      }
    });
  });

  await t.step("total timeout when the line never completes", async () => {
    await withFake(() => ({ chunks: ["still", " going"], hang: "after_chunks" }), async (fake) => {
      const clock = FakeTimers.withGlobal(globalThis).install({ toFake: ["setTimeout", "clearTimeout"] });
      try {
        const p = client(fake.url, { firstTokenTimeoutMs: 60_000, timeoutMs: 5000 }).chatLine({
          model: "llama3.1",
          messages: MESSAGES,
        });
        const result = rejectsWith(p, "OLLAMA_TIMEOUT", "timeout");
        await fake.waitForRequest(1);
        await clock.tickAsync(5000);
        const err = await result;
        assert.equal(err.details?.phase, "total");
        const rec = fake.generations()[0]!;
        await fake.waitForEnd(rec);
        assert.equal(rec.aborted, true);
      } finally {
        clock.uninstall();
      }
    });
  });
});

Deno.test("OllamaClient.chatLine classifies failures", async (t) => {
  await t.step("unreachable when the connection is refused", async () => {
    await withFake(() => "x", async (fake) => {
      await fake.setDown(true);
      await rejectsWith(
        client(fake.url).chatLine({ model: "llama3.1", messages: MESSAGES }),
        "OLLAMA_UNREACHABLE",
        "unreachable",
      );
    });
  });

  await t.step("never puts a URL password in the message", async () => {
    await withFake(() => "x", async (fake) => {
      await fake.setDown(true);
      const url = fake.url.replace("http://", "http://user:hunter2secret@");
      const err = await rejectsWith(
        client(url).chatLine({ model: "llama3.1", messages: MESSAGES }),
        "OLLAMA_UNREACHABLE",
        "unreachable",
      );
      assert.ok(!err.message.includes("hunter2secret"), err.message);
    });
  });

  await t.step("model missing lists the installed models", async () => {
    await withFake(() => "x", async (fake) => {
      const err = await rejectsWith(
        client(fake.url).chatLine({ model: "mistral", messages: MESSAGES }),
        "OLLAMA_MODEL_MISSING",
        "model_missing",
      );
      assert.match(err.message, /"mistral"/);
      assert.match(err.message, /llama3\.1:latest, qwen2\.5:7b/);
    }, ["llama3.1", "qwen2.5:7b"]);
  });

  await t.step("a plain 404 means a wrong URL, not a missing model", async () => {
    await withFake(() => "x", async (fake) => {
      const url = `${fake.url.replace("http://", "http://user:hunter2secret@")}/ollama`;
      const err = await rejectsWith(
        client(url).chatLine({ model: "llama3.1", messages: MESSAGES }),
        "OLLAMA_ERROR",
        "http",
      );
      assert.equal(err.details?.status, 404);
      assert.doesNotMatch(err.message, /ollama pull|no model/);
      assert.match(err.message, /URL/);
      assert.ok(err.message.includes(`${fake.url}/ollama`), err.message);
      assert.ok(!err.message.includes("hunter2secret"), err.message);
      assert.equal(fake.requests.at(-1)!.path, "/ollama/api/chat");
    });
  });

  await t.step("an error line mid-stream with HTTP 200 is a failure, never text", async () => {
    await withFake(
      () => ({ chunks: ["Partial", " answer"], errorMidStream: "model runner crashed" }),
      async (fake) => {
        const err = await rejectsWith(
          client(fake.url).chatLine({ model: "llama3.1", messages: MESSAGES }),
          "OLLAMA_ERROR",
          "stream",
        );
        assert.match(err.message, /model runner crashed/);
      },
    );
  });

  await t.step("HTTP errors carry the status", async () => {
    await withFake(() => ({ chunks: [], status: 500, error: "out of memory" }), async (fake) => {
      const err = await rejectsWith(
        client(fake.url).chatLine({ model: "llama3.1", messages: MESSAGES }),
        "OLLAMA_ERROR",
        "http",
      );
      assert.equal(err.details?.status, 500);
      assert.match(err.message, /out of memory/);
      await fake.setDown(true, "503");
      const down = await rejectsWith(
        client(fake.url).chatLine({ model: "llama3.1", messages: MESSAGES }),
        "OLLAMA_ERROR",
        "http",
      );
      assert.equal(down.details?.status, 503);
    });
  });
});

Deno.test("OllamaClient lists models and pings", async (t) => {
  await withFake(() => "x", async (fake) => {
    const c = client(fake.url);
    await t.step("tags returns the installed names", async () => {
      assert.deepEqual(await c.tags(), ["llama3.1:latest", "qwen2.5:7b"]);
    });
    await t.step("hasModel matches an implicit :latest tag", async () => {
      assert.equal(await c.hasModel("llama3.1"), true);
      assert.equal(await c.hasModel("llama3.1:latest"), true);
      assert.equal(await c.hasModel("qwen2.5"), false);
      assert.equal(await c.hasModel("qwen2.5:7b"), true);
    });
    await t.step("load puts a model in memory without generating; a missing one is named", async () => {
      const ms = await c.load("llama3.1");
      assert.ok(ms >= 0);
      assert.equal(fake.loads().length, 1);
      assert.equal(fake.generations().length, 0);
      await rejectsWith(c.load("mistral"), "OLLAMA_MODEL_MISSING", "model_missing");
    });
    await t.step("ping is true while up and false while down", async () => {
      assert.equal(await c.ping(), true);
      await fake.setDown(true);
      assert.equal(await c.ping(), false);
      await rejectsWith(c.tags(), "OLLAMA_UNREACHABLE", "unreachable");
      await fake.setDown(false);
      assert.equal(await c.ping(), true);
    });
  }, ["llama3.1", "qwen2.5:7b"]);
});

Deno.test("sameModel treats a missing tag as latest", () => {
  assert.equal(sameModel("llama3.1", "llama3.1:latest"), true);
  assert.equal(sameModel("llama3.1:8b", "llama3.1"), false);
});

Deno.test("clientOptionsFromConfig converts seconds to milliseconds", () => {
  const opts = clientOptionsFromConfig({
    url: "http://127.0.0.1:1",
    timeout: 30,
    first_token_timeout: 2.5,
    keep_alive: "5m",
    num_ctx: 4096,
    num_predict: 80,
    temperature: 0.8,
  });
  assert.equal(opts.timeoutMs, 30_000);
  assert.equal(opts.firstTokenTimeoutMs, 2500);
  assert.equal(opts.keepAlive, "5m");
  assert.equal(opts.log, undefined);
});

Deno.test("the first-token deadline follows OLLAMA_TIMEOUT unless set on its own", () => {
  const base = {
    url: "http://127.0.0.1:1",
    keep_alive: "5m",
    num_ctx: 4096,
    num_predict: 80,
    temperature: 0.8,
  };
  assert.equal(clientOptionsFromConfig({ ...base, timeout: 30 }).firstTokenTimeoutMs, 15_000);
  // A slow model given two minutes gets a minute for its first token, not the old fixed 15 s.
  assert.equal(clientOptionsFromConfig({ ...base, timeout: 120 }).firstTokenTimeoutMs, 60_000);
  assert.equal(
    clientOptionsFromConfig({ ...base, timeout: 120, first_token_timeout: 20 }).firstTokenTimeoutMs,
    20_000,
  );
});
