/**
 * A fake Ollama server on 127.0.0.1 for integration tests: it speaks the parts of Ollama's HTTP API
 * that clank uses (`/api/chat`, `/api/generate`, `/api/tags`, `/api/version`, `/api/show`), with the
 * real response shapes (NDJSON streaming, `done_reason` and timing fields on the last chunk, `error`
 * bodies), records every request, and can be scripted to be slow, hang, fail mid-stream, send broken
 * NDJSON lines or be down. Unknown paths get the plain-text `404 page not found` of Ollama's Go router.
 *
 * @example
 * ```ts
 * const fake = await startFakeOllama({ reply: () => "hello chat\nsecond line" });
 * // ... point the client at fake.url ...
 * await fake.close();
 * ```
 * @module
 */

/** A scripted answer to one `/api/chat` or `/api/generate` request. */
export interface FakeReplyScript {
  /** Content pieces streamed one per NDJSON line (joined for `stream: false`). */
  chunks: string[];
  /** Milliseconds between two chunks. */
  delayMs?: number;
  /** Milliseconds before the first chunk (after the response headers were sent). */
  firstTokenDelayMs?: number;
  /** Sends `{"error": …}` as an NDJSON line after the chunks, with HTTP 200 (as Ollama does). */
  errorMidStream?: string;
  /** Answers with this HTTP status and `{"error": error}` instead of generating. */
  status?: number;
  /** Error text for `status` (default a generic one). */
  error?: string;
  /**
   * Never finishes: `"headers"` hangs before sending the response headers, `"after_chunks"` sends
   * the chunks and then keeps the stream open. Released when the client disconnects or on `close()`.
   */
  hang?: "headers" | "after_chunks";
  /** `done_reason` of the last chunk (default `stop`). */
  doneReason?: string;
  /**
   * Lines written verbatim into the NDJSON stream before chunk `at` (0-based; the chunk count puts
   * them after the last chunk). Ollama never sends them itself: they stand for a stream broken on the
   * way, by a proxy or a half-written line, which a client must not read as text.
   */
  rawLines?: { at: number; lines: string[] };
}

/** What a reply function may return: plain text (split into word chunks) or a script. */
export type FakeReply = string | FakeReplyScript;

/** One request the fake received. */
export interface FakeRequest {
  method: string;
  path: string;
  /** Parsed JSON body, or `undefined` for GET and unparsable bodies. */
  body: Record<string, unknown> | undefined;
  /** True when the client went away before the response was complete (e.g. it aborted). */
  aborted: boolean;
  /** True when the whole response was sent. */
  completed: boolean;
  /** An empty chat or prompt: Ollama only loads the model (see {@link FakeOllama.loads}). */
  load?: true;
}

/** Options for {@link startFakeOllama}. */
export interface FakeOllamaOptions {
  /** Installed models; a name without a tag gets `:latest`. Default `["llama3.1:latest"]`. */
  models?: string[];
  /** Answers generation requests; default `"Hello from the fake"`. */
  reply?: (req: FakeRequest) => FakeReply | Promise<FakeReply>;
  /** Reported by `/api/version`. */
  version?: string;
}

/** A running fake Ollama. */
export interface FakeOllama {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  readonly port: number;
  /** Every request received, in order. */
  readonly requests: FakeRequest[];
  /** Generation requests only (`/api/chat` and `/api/generate` with something to answer). */
  generations(): FakeRequest[];
  /** Requests that only loaded a model: an empty `messages` list or no `prompt`. */
  loads(): FakeRequest[];
  /** Resolves with the `n`-th request (1-based) once it has arrived. */
  waitForRequest(n: number): Promise<FakeRequest>;
  /** Resolves once request `req` is complete or aborted. */
  waitForEnd(req: FakeRequest): Promise<void>;
  /** Replaces the reply function. */
  setReply(reply: (req: FakeRequest) => FakeReply | Promise<FakeReply>): void;
  /** Replaces the installed models. */
  setModels(models: string[]): void;
  /**
   * Takes the server down or back up. `refuse` closes the listener (connections are refused; the
   * same port is reused when it comes back); `503` keeps listening and answers every request with 503.
   */
  setDown(down: boolean, mode?: "refuse" | "503"): Promise<void>;
  /** Stops the server, ending hung and delayed responses. */
  close(): Promise<void>;
}

const DEFAULT_REPLY = "Hello from the fake";

function withTag(name: string): string {
  return name.includes(":") ? name : `${name}:latest`;
}

/** Splits text into word-sized chunks the way a tokenizer streams them (spaces lead, newlines alone). */
export function splitIntoChunks(text: string): string[] {
  return text.match(/\n|[^\S\n]*[^\s]+/g) ?? (text === "" ? [] : [text]);
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8" },
  });
}

function digestOf(name: string): string {
  let h = 0x811c9dc5;
  for (const ch of name) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, "0").repeat(8);
}

/** The `details` Ollama reports for a model, in `/api/tags` and `/api/show` alike. */
const MODEL_DETAILS = {
  parent_model: "",
  format: "gguf",
  family: "llama",
  families: ["llama"],
  parameter_size: "8.0B",
  quantization_level: "Q4_K_M",
};

/** Starts a fake Ollama on 127.0.0.1 at a free port. */
export async function startFakeOllama(options: FakeOllamaOptions = {}): Promise<FakeOllama> {
  let models = (options.models ?? ["llama3.1:latest"]).map(withTag);
  let reply = options.reply ?? (() => DEFAULT_REPLY);
  const version = options.version ?? "0.12.6";
  const requests: FakeRequest[] = [];
  const waiters: Array<{ n: number; resolve: (r: FakeRequest) => void }> = [];
  const endWaiters = new Map<FakeRequest, Array<() => void>>();
  /** Aborted on close so every pending delay and hang ends. */
  const closing = new AbortController();
  let down: false | "refuse" | "503" = false;
  let server: Deno.HttpServer<Deno.NetAddr> | undefined;
  const inflight = new Set<Promise<unknown>>();

  function markEnd(req: FakeRequest, how: "completed" | "aborted"): void {
    if (req.completed || req.aborted) return;
    req[how] = true;
    for (const w of endWaiters.get(req) ?? []) w();
    endWaiters.delete(req);
  }

  /** Resolves after `ms`, or early (false) when `signal` aborts. */
  function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
    if (signal.aborted) return Promise.resolve(false);
    if (ms <= 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const onAbort = () => {
        clearTimeout(timer);
        resolve(false);
      };
      const timer = setTimeout(() => {
        signal.removeEventListener("abort", onAbort);
        resolve(true);
      }, ms);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  function untilAborted(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
  }

  function findModel(name: unknown): string | undefined {
    if (typeof name !== "string" || name === "") return undefined;
    const wanted = withTag(name);
    return models.find((m) => m === wanted);
  }

  /**
   * Answers a generation request. `stop` ends the work when the fake closes or the client cancels
   * the stream; `clientGone` also covers a client leaving before the response headers.
   */
  async function generation(
    req: FakeRequest,
    stop: AbortController,
    clientGone: () => AbortSignal,
    endpoint: "chat" | "generate",
  ) {
    const signal = stop.signal;
    const body = req.body ?? {};
    const model = body.model;
    if (endpoint === "chat" && !Array.isArray(body.messages)) {
      markEnd(req, "completed");
      return json(400, { error: "messages is required" });
    }
    // As Ollama does: nothing to answer only loads the model, and says so in one JSON object.
    if (endpoint === "chat" ? (body.messages as unknown[]).length === 0 : !body.prompt) req.load = true;
    if (!findModel(model)) {
      markEnd(req, "completed");
      return json(404, { error: `model "${String(model)}" not found, try pulling it first` });
    }
    if (req.load) {
      markEnd(req, "completed");
      const loaded = {
        model: String(model),
        created_at: new Date().toISOString(),
        done: true,
        done_reason: "load",
      };
      return json(
        200,
        endpoint === "chat"
          ? { ...loaded, message: { role: "assistant", content: "" } }
          : { ...loaded, response: "" },
      );
    }
    const answer = await reply(req);
    const script: FakeReplyScript = typeof answer === "string" ? { chunks: splitIntoChunks(answer) } : answer;
    if (script.status !== undefined && script.status !== 200) {
      markEnd(req, "completed");
      return json(script.status, { error: script.error ?? "the model failed to generate a response" });
    }
    if (script.hang === "headers") {
      await untilAborted(AbortSignal.any([signal, clientGone()]));
      markEnd(req, "aborted");
      return json(500, { error: "aborted" });
    }
    const started = performance.now();
    const modelName = String(model);
    const piece = (content: string, done: boolean) => {
      const base = { model: modelName, created_at: new Date().toISOString() };
      return endpoint === "chat"
        ? { ...base, message: { role: "assistant", content }, done }
        : { ...base, response: content, done };
    };
    const final = () => {
      const total = Math.round((performance.now() - started) * 1e6);
      return {
        ...piece("", true),
        done_reason: script.doneReason ?? "stop",
        ...(endpoint === "generate" ? { context: [1, 2, 3] } : {}),
        total_duration: total,
        load_duration: 1000,
        prompt_eval_count: 10,
        prompt_eval_duration: 1000,
        eval_count: script.chunks.length,
        eval_duration: total,
      };
    };

    if (body.stream === false) {
      const delay = script.firstTokenDelayMs ?? 0;
      if (delay > 0 && !(await sleep(delay, AbortSignal.any([signal, clientGone()])))) {
        markEnd(req, "aborted");
        return json(500, { error: "aborted" });
      }
      if (script.errorMidStream !== undefined) {
        markEnd(req, "completed");
        return json(500, { error: script.errorMidStream });
      }
      const text = script.chunks.join("");
      const whole = {
        ...final(),
        ...(endpoint === "chat" ? { message: { role: "assistant", content: text } } : { response: text }),
      };
      markEnd(req, "completed");
      return json(200, whole);
    }

    const encoder = new TextEncoder();
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        const send = (obj: unknown) => controller.enqueue(encoder.encode(JSON.stringify(obj) + "\n"));
        const sendRaw = (at: number) => {
          if (script.rawLines?.at !== at) return;
          for (const line of script.rawLines.lines) controller.enqueue(encoder.encode(line + "\n"));
        };
        const work = (async () => {
          if (!(await sleep(script.firstTokenDelayMs ?? 0, signal))) return;
          for (const [i, chunk] of script.chunks.entries()) {
            if (i > 0 && !(await sleep(script.delayMs ?? 0, signal))) return;
            if (signal.aborted) return;
            sendRaw(i);
            send(piece(chunk, false));
          }
          sendRaw(script.chunks.length);
          if (script.hang === "after_chunks") {
            await untilAborted(signal);
            return;
          }
          if (script.errorMidStream !== undefined) send({ error: script.errorMidStream });
          else send(final());
          markEnd(req, "completed");
          controller.close();
        })().catch(() => {}).finally(() => {
          inflight.delete(work);
          if (!req.completed) {
            markEnd(req, "aborted");
            try {
              controller.close();
            } catch { /* already cancelled by the client */ }
          }
        });
        inflight.add(work);
      },
      cancel() {
        markEnd(req, "aborted");
        stop.abort();
      },
    });
    // Headers go out before the first chunk, as with Ollama.
    return new Response(stream, { headers: { "content-type": "application/x-ndjson" } });
  }

  async function handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    let body: Record<string, unknown> | undefined;
    if (request.method === "POST") {
      try {
        const parsed = await request.json();
        if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) body = parsed;
      } catch {
        body = undefined;
      }
    }
    const rec: FakeRequest = {
      method: request.method,
      path: url.pathname,
      body,
      aborted: false,
      completed: false,
    };
    requests.push(rec);
    for (const w of waiters.filter((w) => w.n <= requests.length)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(requests[w.n - 1]!);
    }
    const stop = new AbortController();
    const onClose = () => stop.abort();
    closing.signal.addEventListener("abort", onClose, { once: true });
    const forget = () => closing.signal.removeEventListener("abort", onClose);
    endWaiters.set(rec, [forget]);

    if (down === "503") {
      markEnd(rec, "completed");
      return json(503, { error: "service unavailable" });
    }
    const route = `${request.method} ${url.pathname}`;
    if (route === "POST /api/chat" || route === "POST /api/generate") {
      if (body === undefined) {
        markEnd(rec, "completed");
        return json(400, { error: "invalid request body" });
      }
      // request.signal is only watched while no response exists: Deno also aborts it after a
      // successful response, which is not a client leaving.
      return await generation(
        rec,
        stop,
        () => request.signal,
        route === "POST /api/chat" ? "chat" : "generate",
      );
    }
    markEnd(rec, "completed");
    switch (route) {
      case "GET /":
      case "HEAD /":
        return new Response("Ollama is running", {
          headers: { "content-type": "text/plain; charset=utf-8" },
        });
      case "GET /api/version":
        return json(200, { version });
      case "GET /api/tags":
        return json(200, {
          models: models.map((name) => ({
            name,
            model: name,
            modified_at: "2025-10-03T23:34:03.409490317-07:00",
            size: 4_920_753_328,
            digest: digestOf(name),
            details: MODEL_DETAILS,
          })),
        });
      case "POST /api/show": {
        const name = body?.model ?? body?.name;
        if (!findModel(name)) return json(404, { error: `model '${String(name)}' not found` });
        return json(200, {
          modelfile: `FROM ${String(name)}`,
          parameters: 'stop "<|eot_id|>"',
          template: "{{ .Prompt }}",
          details: MODEL_DETAILS,
          model_info: { "general.architecture": "llama", "llama.context_length": 131072 },
          capabilities: ["completion", "tools"],
          modified_at: "2025-10-03T23:34:03.409490317-07:00",
        });
      }
      default:
        return new Response("404 page not found", { status: 404, headers: { "content-type": "text/plain" } });
    }
  }

  /** Serves on `port` (0 picks a free one) and resolves once the listener is up. */
  function listen(port: number): Promise<Deno.HttpServer<Deno.NetAddr>> {
    return new Promise((resolve) => {
      const s: Deno.HttpServer<Deno.NetAddr> = Deno.serve(
        { hostname: "127.0.0.1", port, onListen: () => queueMicrotask(() => resolve(s)) },
        handle,
      );
    });
  }

  server = await listen(0);
  const port = server.addr.port;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    generations: () =>
      requests.filter((r) => (r.path === "/api/chat" || r.path === "/api/generate") && r.load !== true),
    loads: () => requests.filter((r) => r.load === true),
    waitForRequest(n) {
      const have = requests[n - 1];
      if (have) return Promise.resolve(have);
      return new Promise((resolve) => waiters.push({ n, resolve }));
    },
    waitForEnd(req) {
      if (req.completed || req.aborted) return Promise.resolve();
      return new Promise((resolve) => {
        const list = endWaiters.get(req) ?? [];
        list.push(resolve);
        endWaiters.set(req, list);
      });
    },
    setReply(next) {
      reply = next;
    },
    setModels(next) {
      models = next.map(withTag);
    },
    async setDown(isDown, mode = "refuse") {
      if (!isDown) {
        if (down === "refuse") server = await listen(port);
        down = false;
        return;
      }
      if (down === "refuse") return;
      down = mode;
      if (mode === "refuse" && server) {
        const s = server;
        server = undefined;
        await s.shutdown();
      }
    },
    async close() {
      closing.abort();
      await Promise.allSettled([...inflight]);
      if (server) await server.shutdown();
      server = undefined;
    },
  };
}
