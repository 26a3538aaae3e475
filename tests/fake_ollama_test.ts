import assert from "node:assert/strict";
import { Ollama } from "ollama";
import { splitIntoChunks, startFakeOllama } from "./fakes/fake_ollama.ts";

async function ndjson(res: Response): Promise<Array<Record<string, unknown>>> {
  const text = await res.text();
  return text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
}

function post(url: string, body: unknown, signal?: AbortSignal): Promise<Response> {
  return fetch(url, {
    method: "POST",
    body: JSON.stringify(body),
    headers: { "content-type": "application/json" },
    signal,
  });
}

/** One user turn: a chat with something to answer (an empty one only loads the model). */
const HI = [{ role: "user", content: "hi" }];

Deno.test("splitIntoChunks keeps spaces on words and newlines alone", () => {
  assert.deepEqual(splitIntoChunks("hi there\nyou"), ["hi", " there", "\n", "you"]);
  assert.equal(splitIntoChunks("a b\n\nc").join(""), "a b\n\nc");
  assert.deepEqual(splitIntoChunks(""), []);
});

Deno.test("startFakeOllama speaks Ollama's API", async (t) => {
  const fake = await startFakeOllama({
    models: ["llama3.1", "qwen2.5:7b"],
    reply: () => "Hello chat\nsecond",
  });
  try {
    await t.step("streams chat as NDJSON ending with done and timing fields", async () => {
      const res = await post(`${fake.url}/api/chat`, {
        model: "llama3.1",
        messages: [{ role: "user", content: "hi" }],
      });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "application/x-ndjson");
      const lines = await ndjson(res);
      const last = lines.at(-1)!;
      assert.equal(last.done, true);
      assert.equal(last.done_reason, "stop");
      for (
        const key of ["total_duration", "load_duration", "prompt_eval_count", "eval_count", "eval_duration"]
      ) {
        assert.equal(typeof last[key], "number", key);
      }
      const body = lines.slice(0, -1);
      assert.ok(
        body.every((l) => l.done === false && typeof l.created_at === "string" && l.model === "llama3.1"),
      );
      const text = body.map((l) => (l.message as { content: string }).content).join("");
      assert.equal(text, "Hello chat\nsecond");
      assert.deepEqual((body[0]!.message as { role: string }).role, "assistant");
    });

    await t.step("an empty chat or prompt only loads the model, as Ollama documents", async () => {
      const before = fake.generations().length;
      for (const [path, body] of [["/api/chat", { messages: [] }], ["/api/generate", {}]] as const) {
        const res = await post(`${fake.url}${path}`, { model: "llama3.1", ...body });
        assert.equal(res.status, 200);
        const lines = await ndjson(res);
        assert.equal(lines.length, 1, path);
        assert.equal(lines[0]!.done, true);
        assert.equal(lines[0]!.done_reason, "load");
      }
      assert.equal(fake.generations().length, before, "a load is no generation");
      assert.equal(fake.loads().length, 2);
      const missing = await post(`${fake.url}/api/chat`, { model: "nope", messages: [] });
      assert.equal(missing.status, 404);
      await missing.body?.cancel();
    });

    await t.step("answers stream:false with one object", async () => {
      const res = await post(`${fake.url}/api/chat`, {
        model: "qwen2.5:7b",
        messages: [{ role: "user", content: "hi" }],
        stream: false,
      });
      const obj = await res.json();
      assert.equal(obj.done, true);
      assert.equal(obj.message.content, "Hello chat\nsecond");
    });

    await t.step("serves /api/generate with response fields", async () => {
      const res = await post(`${fake.url}/api/generate`, { model: "llama3.1", prompt: "x" });
      const lines = await ndjson(res);
      assert.equal(lines.slice(0, -1).map((l) => l.response).join(""), "Hello chat\nsecond");
      assert.ok(Array.isArray(lines.at(-1)!.context));
    });

    await t.step("returns 404 with Ollama's message for an unknown model", async () => {
      const res = await post(`${fake.url}/api/chat`, { model: "nope", messages: HI });
      assert.equal(res.status, 404);
      assert.deepEqual(await res.json(), { error: 'model "nope" not found, try pulling it first' });
    });

    await t.step("works with the real ollama-js client for tags, version and show", async () => {
      const ollama = new Ollama({ host: fake.url });
      const list = await ollama.list();
      assert.deepEqual(list.models.map((m) => m.name), ["llama3.1:latest", "qwen2.5:7b"]);
      assert.equal((await ollama.version()).version, "0.12.6");
      const show = await ollama.show({ model: "llama3.1" });
      assert.ok(show.capabilities.includes("completion"));
      await assert.rejects(() => ollama.show({ model: "missing" }), /not found/);
    });

    await t.step("records request bodies", () => {
      const chats = fake.generations();
      assert.equal(chats.length, 4);
      assert.deepEqual(chats[0]!.body?.messages, [{ role: "user", content: "hi" }]);
      assert.equal(chats[2]!.body?.prompt, "x");
      assert.ok(chats.slice(0, 3).every((r) => r.completed && !r.aborted));
    });
  } finally {
    await fake.close();
  }
});

Deno.test("startFakeOllama follows scripts", async (t) => {
  const fake = await startFakeOllama();
  try {
    await t.step("sends an error line mid-stream with HTTP 200", async () => {
      fake.setReply(() => ({
        chunks: ["a", " b"],
        errorMidStream: "an error was encountered while running the model",
      }));
      const res = await post(`${fake.url}/api/chat`, { model: "llama3.1", messages: HI });
      assert.equal(res.status, 200);
      const lines = await ndjson(res);
      assert.equal(lines.length, 3);
      assert.deepEqual(lines[2], { error: "an error was encountered while running the model" });
    });

    await t.step("writes raw lines verbatim where the script puts them", async () => {
      fake.setReply(() => ({
        chunks: ["a", " b"],
        rawLines: { at: 1, lines: ['{"message":{"con', "null"] },
      }));
      const res = await post(`${fake.url}/api/chat`, { model: "llama3.1", messages: HI });
      const lines = (await res.text()).split("\n");
      assert.deepEqual(lines.slice(1, 3), ['{"message":{"con', "null"]);
      assert.match(lines[0]!, /"content":"a"/);
      assert.match(lines[3]!, /"content":" b"/);
    });

    await t.step("answers an unknown path with Go's plain-text 404, as Ollama does", async () => {
      for (const path of ["/v1/api/chat", "/ollama/api/tags", "/api/nope"]) {
        const res = await post(`${fake.url}${path}`, { model: "llama3.1", messages: HI });
        assert.equal(res.status, 404, path);
        assert.match(res.headers.get("content-type") ?? "", /^text\/plain/);
        assert.equal(await res.text(), "404 page not found");
      }
    });

    await t.step("answers a scripted status with an error body", async () => {
      fake.setReply(() => ({ chunks: [], status: 500, error: "boom" }));
      const res = await post(`${fake.url}/api/chat`, { model: "llama3.1", messages: HI });
      assert.equal(res.status, 500);
      assert.deepEqual(await res.json(), { error: "boom" });
    });

    await t.step("notices a client that aborts a hung stream", async () => {
      fake.setReply(() => ({ chunks: ["first"], hang: "after_chunks" }));
      const controller = new AbortController();
      const res = await post(`${fake.url}/api/chat`, { model: "llama3.1", messages: HI }, controller.signal);
      const reader = res.body!.getReader();
      const { value } = await reader.read();
      assert.match(new TextDecoder().decode(value), /"content":"first"/);
      const rec = fake.generations().at(-1)!;
      controller.abort();
      await reader.cancel().catch(() => {});
      await fake.waitForEnd(rec);
      assert.equal(rec.aborted, true);
      assert.equal(rec.completed, false);
    });

    await t.step("answers 503 when down in 503 mode and recovers", async () => {
      await fake.setDown(true, "503");
      const res = await fetch(`${fake.url}/api/version`);
      assert.equal(res.status, 503);
      await res.body?.cancel();
      await fake.setDown(false);
      const ok = await fetch(`${fake.url}/api/version`);
      assert.equal(ok.status, 200);
      await ok.body?.cancel();
    });

    await t.step("refuses connections when down and listens again on the same port", async () => {
      await fake.setDown(true);
      await assert.rejects(() => fetch(`${fake.url}/api/version`), TypeError);
      await fake.setDown(false);
      const res = await fetch(`${fake.url}/api/version`);
      assert.deepEqual(await res.json(), { version: "0.12.6" });
    });

    await t.step("waitForRequest resolves for requests still to come", async () => {
      const n = fake.requests.length + 1;
      const waiting = fake.waitForRequest(n);
      const res = await fetch(`${fake.url}/api/tags`);
      await res.body?.cancel();
      assert.equal((await waiting).path, "/api/tags");
    });
  } finally {
    await fake.close();
  }
});

Deno.test("startFakeOllama close ends a response hung before its headers", async () => {
  const fake = await startFakeOllama({ reply: () => ({ chunks: [], hang: "headers" }) });
  const pending = post(`${fake.url}/api/chat`, { model: "llama3.1", messages: HI }).then(
    (r) => r.body?.cancel(),
    () => undefined,
  );
  const rec = await fake.waitForRequest(1);
  await fake.close();
  await pending;
  assert.equal(rec.aborted, true);
});
