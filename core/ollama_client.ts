/**
 * The Ollama client clank uses for generation: one chat line per call, streamed, with reasoning
 * (`<think>` blocks) and filler lines (`Reply:`, code fences) left out, its own first-token and total
 * deadlines, and failures classified as coded errors. The library never prints: error answers and
 * the NDJSON stream are checked by the client before ollama-js sees them.
 *
 * It wraps `npm:ollama`'s `Ollama` class. `Ollama.abort()` stops every stream of an instance, so each
 * request gets its own instance whose `fetch` carries that request's own AbortController: ending one
 * generation never touches another channel's.
 *
 * @example
 * ```ts
 * const client = new OllamaClient({ url: "http://127.0.0.1:11434", timeoutMs: 30_000,
 *   firstTokenTimeoutMs: 15_000, keepAlive: "30m", numCtx: 4096, numPredict: 80, temperature: 0.8 });
 * const { text } = await client.chatLine({ model: "llama3.1", messages: [{ role: "user", content: "hi" }] });
 * ```
 * @module
 */
import { Ollama } from "ollama";
import type { ChatResponse } from "ollama";
import { ClankError } from "./errors.ts";

/** Failure kinds, used as the `kind` label of `clank_ollama_errors_total`. */
export type OllamaFailureKind = "unreachable" | "timeout" | "http" | "stream" | "model_missing";

/** The logging the client needs; both `Logger` and a plugin's `api.log` fit. */
export interface OllamaClientLog {
  debug(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
}

/** Settings of an {@link OllamaClient}; they mirror the `[ollama]` config section. */
export interface OllamaClientOptions {
  /** Base URL, e.g. `http://localhost:11434`. */
  url: string;
  /** Total deadline of one generation, in milliseconds. */
  timeoutMs: number;
  /** Deadline for the first streamed token, in milliseconds. */
  firstTokenTimeoutMs: number;
  /** How long Ollama keeps the model loaded after a request (`30m`, `-1`, …). */
  keepAlive: string;
  /** Context window; constant for every request so Ollama never reloads the model. */
  numCtx: number;
  /** Most tokens generated per request. */
  numPredict: number;
  temperature: number;
  log?: OllamaClientLog;
  /** Deadline of `tags()` and `ping()`, in milliseconds (default 5000). */
  metaTimeoutMs?: number;
}

/** One chat message as Ollama takes it. */
export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

/** Input of {@link OllamaClient.chatLine}. */
export interface ChatLineRequest {
  model: string;
  messages: ChatMessage[];
  /** Extra stop sequences. */
  stop?: string[];
}

/** The result of {@link OllamaClient.chatLine}. */
export interface ChatLineResult {
  /**
   * The first line of the answer that is a reply (outside `<think>` blocks, not a label or a fence),
   * trimmed; empty when the model said nothing usable.
   */
  text: string;
  /** Milliseconds from the request to the first token. */
  firstTokenMs: number;
  /** Milliseconds from the request to the end of the line. */
  totalMs: number;
  /** Tokens generated, when the stream ran to its end (an early stop has none). */
  evalCount?: number;
}

/** Client options from the `[ollama]` config section (seconds become milliseconds). */
export function clientOptionsFromConfig(
  section: {
    url: string;
    timeout: number;
    /** Default: half of `timeout`. */
    first_token_timeout?: number;
    keep_alive: string;
    num_ctx: number;
    num_predict: number;
    temperature: number;
  },
  log?: OllamaClientLog,
): OllamaClientOptions {
  return {
    url: section.url,
    timeoutMs: section.timeout * 1000,
    firstTokenTimeoutMs: (section.first_token_timeout ?? section.timeout / 2) * 1000,
    keepAlive: section.keep_alive,
    numCtx: section.num_ctx,
    numPredict: section.num_predict,
    temperature: section.temperature,
    ...(log ? { log } : {}),
  };
}

/** True when `a` and `b` name the same model (`llama3.1` is `llama3.1:latest`). */
export function sameModel(a: string, b: string): boolean {
  const tag = (n: string) => (n.includes(":") ? n : `${n}:latest`);
  return tag(a.trim()) === tag(b.trim());
}

/** How long a model may take to load: big models from a slow disk take minutes. */
const LOAD_TIMEOUT_MS = 300_000;

/** `<think>` or `</think>`, in any case: some models write the tags in capitals. */
const THINK_TAG = /<\/?think>/i;

/** The visible part of streamed text: `<think>` blocks removed; `open` when one is still unterminated. */
function visibleText(raw: string): { text: string; open: boolean } {
  let text = raw.replace(/<think>[\s\S]*?<\/think>/gi, "");
  // Some templates open the think block themselves, so only the closing tag shows up.
  const close = text.toLowerCase().lastIndexOf("</think>");
  if (close >= 0) text = text.slice(close + "</think>".length);
  const open = text.search(/<think>/i);
  return open >= 0 ? { text: text.slice(0, open), open: true } : { text, open: false };
}

/**
 * True for a line that is no reply on its own, so the line after it is the answer: a label of one
 * to three words ending in `:` (`Reply:`, `clankbot:`, `**My reply:**`), a code fence, or a line of
 * only quotes, dashes, dots and markdown marks. A line that says something after its label
 * (`Note: bring snacks`) and an emoticon such as `:)` are replies.
 */
export function isFillerLine(line: string): boolean {
  const t = line.trim();
  if (t === "") return true;
  if (/^(?:`{3,}|~{3,})[\w+#.-]*$/.test(t)) return true;
  if (/^["'“”„«»‘’‚‹›`*_~=#>|.…\s–—-]+$/u.test(t)) return true;
  const bare = t.replace(/\*\*|__/g, "").trim();
  return /^@?[\p{L}\p{N}_'’.-]+(?:\s+[\p{L}\p{N}_'’.-]+){0,2}\s*:$/u.test(bare);
}

/**
 * The first line of `text` that is a reply ({@link isFillerLine}), trimmed. With `complete`, only a
 * line that a newline already follows counts: the last piece of a stream may still grow.
 */
function firstReplyLine(text: string, complete: boolean): string | undefined {
  const lines = text.split("\n");
  const end = complete ? lines.length - 1 : lines.length;
  for (let i = 0; i < end; i++) {
    const line = lines[i]!.trim();
    if (!isFillerLine(line)) return line;
  }
  return undefined;
}

/** Thrown from inside the response body when the NDJSON stream is broken; classified as `stream`. */
class StreamLineError extends Error {
  override name = "StreamLineError";
}

/** An HTTP error answer, read by the client itself so that ollama-js never prints about it. */
class HttpAnswerError extends Error {
  override name = "HttpAnswerError";
  constructor(
    /** Same name as ollama-js's `ResponseError`. */
    readonly status_code: number,
    /** Path of the request, for a wrong-URL message. */
    readonly path: string,
    /** The `error` field of a JSON body: only then did Ollama itself answer. */
    readonly apiError: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

/** A short, one-line excerpt of a body or stream line for an error message. */
function excerpt(text: string, max = 120): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

/**
 * Reads an error answer into an {@link HttpAnswerError}. ollama-js would read it itself and print
 * "Getting text from response" on stdout for a non-JSON body, past the bot's logger.
 */
async function httpAnswerError(res: Response, url: string): Promise<HttpAnswerError> {
  let path = "";
  try {
    path = new URL(url).pathname;
  } catch {
    // Only a hint for the message.
  }
  let body = "";
  try {
    body = await res.text();
  } catch {
    // The status alone still says what happened.
  }
  let apiError: string | undefined;
  if ((res.headers.get("content-type") ?? "").includes("application/json")) {
    try {
      const parsed = JSON.parse(body);
      if (parsed && typeof parsed.error === "string") apiError = parsed.error;
    } catch {
      // A JSON content type with a broken body is not Ollama's own answer.
    }
  }
  const message = apiError ?? (excerpt(body) || `${res.status} ${res.statusText}`.trim());
  return new HttpAnswerError(res.status, path, apiError, message);
}

/**
 * Passes an NDJSON body through line by line, failing the stream at the first line that is not a
 * JSON object. ollama-js skips such a line with a `console.warn` and goes on, which would join the
 * pieces around a lost line into one reply and print past the bot's logger.
 */
function checkedNdjson(body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  const decoder = new TextDecoder();
  let buffer = "";
  let count = 0;
  const check = (line: string) => {
    count++;
    if (line.trim() === "") return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      throw new StreamLineError(`line ${count} of the answer is not JSON: ${excerpt(line, 80)}`);
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      throw new StreamLineError(`line ${count} of the answer is not a JSON object: ${excerpt(line, 80)}`);
    }
  };
  // Each chunk goes on as it came once the lines it completes are checked, so the library never
  // parses a bad line; passing the bytes on (not re-encoding each line) and pulling from the body's
  // reader (not a TransformStream) cost ~20 KB less per reply (bench/allocation.ts).
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) {
        buffer += decoder.decode();
        if (buffer !== "") check(buffer);
        controller.close();
        return;
      }
      const text = decoder.decode(value, { stream: true });
      let start = 0;
      for (let nl = text.indexOf("\n"); nl !== -1; nl = text.indexOf("\n", start)) {
        check(buffer + text.slice(start, nl));
        buffer = "";
        start = nl + 1;
      }
      buffer += text.slice(start);
      controller.enqueue(value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}

/** The URL without user info, for messages (a `user:password@` part is a secret). */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = "";
    u.password = "";
    return u.origin + (u.pathname === "/" ? "" : u.pathname);
  } catch {
    return "(invalid URL)";
  }
}

/**
 * The model named by Ollama's own "model … not found" answer (a JSON `error`), if `err` is one. A
 * 404 without it (a wrong URL, a proxy) says nothing about the model.
 */
function modelMissing(err: unknown): string | undefined {
  if (!(err instanceof HttpAnswerError) || err.status_code !== 404 || err.apiError === undefined) {
    return undefined;
  }
  return err.apiError.match(/^model ["'](.*)["'] not found/i)?.[1];
}

/** Talks to one Ollama server. Stateless apart from a short-lived cache of installed models. */
export class OllamaClient {
  readonly #opts: OllamaClientOptions;
  #knownModels: string[] | undefined;

  constructor(options: OllamaClientOptions) {
    this.#opts = options;
  }

  /** The base URL this client talks to. */
  get url(): string {
    return this.#opts.url;
  }

  /**
   * An `Ollama` whose every request is bound to `signal`. Error answers never reach ollama-js, and
   * with `ndjson` the streamed body is checked line by line: the library prints to the console in
   * both cases, and goes on past a broken line.
   */
  #ollama(signal: AbortSignal, ndjson = false): Ollama {
    // `signal` replaces the library's own: it aborts that one only from `Ollama.abort()` and
    // `AbortableAsyncIterator.abort()`, which this client never calls, and combining the two
    // (`AbortSignal.any`) was a dependent signal and its bookkeeping per reply.
    const boundFetch: typeof fetch = async (input, init) => {
      const res = await fetch(input, { ...init, signal });
      if (!res.ok) throw await httpAnswerError(res, res.url || String(input));
      if (!ndjson || !res.body) return res;
      return new Response(checkedNdjson(res.body), {
        status: res.status,
        statusText: res.statusText,
        headers: res.headers,
      });
    };
    return new Ollama({ host: this.#opts.url, fetch: boundFetch });
  }

  /**
   * Streams one chat answer and returns its first line that is a reply (not blank, not a label, a
   * fence or only quotes), outside any `<think>` block. Throws a {@link ClankError} (`OLLAMA_*`,
   * `details.kind`) on failure.
   *
   * The answer is read to its end (bounded by `num_predict` and the deadline) unless a `</think>`
   * has already been seen: a template may open the think block itself, so only `</think>` ever
   * shows, and until it does, any line may be reasoning. After it, the first reply line is final and
   * the request is aborted at once.
   */
  async chatLine(req: ChatLineRequest): Promise<ChatLineResult> {
    const controller = new AbortController();
    const started = performance.now();
    let timedOut: "first_token" | "total" | undefined;
    let firstTokenMs: number | undefined;
    const expire = (phase: "first_token" | "total") => {
      timedOut ??= phase;
      controller.abort();
    };
    const totalTimer = setTimeout(() => expire("total"), this.#opts.timeoutMs);
    let firstTimer: ReturnType<typeof setTimeout> | undefined = setTimeout(
      () => expire("first_token"),
      this.#opts.firstTokenTimeoutMs,
    );
    const stopFirstTimer = () => {
      if (firstTimer !== undefined) clearTimeout(firstTimer);
      firstTimer = undefined;
    };

    let raw = "";
    let evalCount: number | undefined;
    let line: string | undefined;
    let streaming = false;
    try {
      const stream = await this.#ollama(controller.signal, true).chat({
        model: req.model,
        messages: req.messages,
        stream: true,
        think: false,
        keep_alive: this.#opts.keepAlive,
        options: {
          num_ctx: this.#opts.numCtx,
          num_predict: this.#opts.numPredict,
          temperature: this.#opts.temperature,
          ...(req.stop && req.stop.length > 0 ? { stop: req.stop } : {}),
        },
      });
      streaming = true;
      for await (const part of stream as AsyncIterable<ChatResponse>) {
        const piece = part.message?.content ?? "";
        if (firstTokenMs === undefined && (piece !== "" || part.message?.thinking || part.done)) {
          firstTokenMs = performance.now() - started;
          stopFirstTimer();
        }
        raw += piece;
        if (part.done) {
          evalCount = part.eval_count;
          break;
        }
        // Before any think tag, a line may still turn out to be reasoning that a lone </think> ends.
        if (!THINK_TAG.test(raw)) continue;
        const visible = visibleText(raw);
        if (!visible.open) line = firstReplyLine(visible.text, true);
        if (line !== undefined) break;
      }
    } catch (err) {
      if (timedOut === undefined && modelMissing(err) !== undefined) await this.refreshModels();
      throw this.#classify(err, { model: req.model, timedOut, streaming });
    } finally {
      clearTimeout(totalTimer);
      stopFirstTimer();
      // Closes the connection, so Ollama stops generating the lines we do not want.
      controller.abort();
    }
    const totalMs = performance.now() - started;
    const text = line ?? firstReplyLine(visibleText(raw).text, false) ?? "";
    this.#opts.log?.debug("Ollama line generated", {
      model: req.model,
      first_token_ms: Math.round(firstTokenMs ?? totalMs),
      total_ms: Math.round(totalMs),
      eval_count: evalCount,
      chars: text.length,
    });
    return {
      text,
      firstTokenMs: firstTokenMs ?? totalMs,
      totalMs,
      ...(evalCount !== undefined ? { evalCount } : {}),
    };
  }

  /** Names of the installed models (`GET /api/tags`). */
  async tags(): Promise<string[]> {
    const list = await this.#meta("tags", (o) => o.list());
    this.#knownModels = list.models.map((m) => m.name);
    return this.#knownModels;
  }

  /** True when `name` is installed; `llama3.1` matches `llama3.1:latest`. */
  async hasModel(name: string): Promise<boolean> {
    const names = await this.tags();
    return names.some((n) => sameModel(n, name));
  }

  /**
   * Loads `model` into Ollama's memory with an empty chat (Ollama's documented way to preload one),
   * so the first reply does not wait for the load, which on a big model outlasts the first-token
   * deadline. Resolves with the milliseconds it took; `signal` cancels it.
   */
  async load(model: string, signal?: AbortSignal): Promise<number> {
    const started = performance.now();
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, LOAD_TIMEOUT_MS);
    const cancel = () => controller.abort();
    signal?.addEventListener("abort", cancel, { once: true });
    try {
      await this.#ollama(controller.signal).chat({
        model,
        messages: [],
        stream: false,
        keep_alive: this.#opts.keepAlive,
      });
      return performance.now() - started;
    } catch (err) {
      if (timedOut) {
        throw new ClankError(
          "OLLAMA_TIMEOUT",
          `Ollama at ${safeUrl(this.#opts.url)} did not load model "${model}" within ${
            LOAD_TIMEOUT_MS / 1000
          } s`,
          { cause: err, details: { kind: "timeout", phase: "load", limitMs: LOAD_TIMEOUT_MS, model } },
        );
      }
      throw this.#classify(err, { model, what: "load" });
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", cancel);
    }
  }

  /** True when the server answers `GET /api/version`; never throws. */
  async ping(): Promise<boolean> {
    try {
      await this.#meta("version", (o) => o.version());
      return true;
    } catch {
      return false;
    }
  }

  async #meta<T>(what: string, call: (o: Ollama) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    let timedOut: "total" | undefined;
    const timer = setTimeout(() => {
      timedOut = "total";
      controller.abort();
    }, this.#opts.metaTimeoutMs ?? 5000);
    try {
      return await call(this.#ollama(controller.signal));
    } catch (err) {
      throw this.#classify(err, { timedOut, what });
    } finally {
      clearTimeout(timer);
    }
  }

  /** Turns anything thrown by fetch or ollama-js into a coded error. */
  #classify(
    err: unknown,
    at: { model?: string; timedOut?: "first_token" | "total"; streaming?: boolean; what?: string },
  ): ClankError {
    if (err instanceof ClankError) return err;
    const { model, timedOut, streaming = false, what = "chat" } = at;
    const url = safeUrl(this.#opts.url);
    const message = this.#redact(err instanceof Error ? err.message : String(err));
    if (timedOut !== undefined) {
      const limit = timedOut === "first_token" ? this.#opts.firstTokenTimeoutMs : this.#opts.timeoutMs;
      const label = timedOut === "first_token" ? "first token" : "answer";
      return new ClankError("OLLAMA_TIMEOUT", `Ollama at ${url} sent no ${label} within ${limit} ms`, {
        cause: err,
        details: { kind: "timeout", phase: timedOut, limitMs: limit, ...(model ? { model } : {}) },
      });
    }
    const status = (err as { status_code?: unknown }).status_code;
    if (typeof status === "number") {
      if (model !== undefined && modelMissing(err) !== undefined) {
        const installed = this.#knownModels;
        const list = installed && installed.length > 0 ? installed.join(", ") : "unknown";
        return new ClankError(
          "OLLAMA_MODEL_MISSING",
          `Ollama has no model "${model}"; installed models: ${list}. Pull it with "ollama pull ${model}"`,
          { cause: err, details: { kind: "model_missing", model, status, installed: installed ?? null } },
        );
      }
      // Ollama answers its own 404s in JSON; a plain one comes from its router (Go's "404 page not
      // found") or a proxy, for a path with no API: the URL is wrong, not the model.
      if (status === 404 && err instanceof HttpAnswerError && err.apiError === undefined) {
        return new ClankError(
          "OLLAMA_ERROR",
          `Ollama ${what} failed with HTTP 404 (${message}) at ${url}: there is no Ollama API at this ` +
            `URL. Set the [ollama] url (OLLAMA_URL) to the server's base URL, such as ` +
            `http://localhost:11434, without a path like /api`,
          { cause: err, details: { kind: "http", status, path: err.path, ...(model ? { model } : {}) } },
        );
      }
      return new ClankError("OLLAMA_ERROR", `Ollama ${what} failed with HTTP ${status}: ${message}`, {
        cause: err,
        details: { kind: "http", status, ...(model ? { model } : {}) },
      });
    }
    // Before the response headers, fetch rejects with a TypeError when no connection could be made.
    if (!streaming && err instanceof TypeError) {
      return new ClankError("OLLAMA_UNREACHABLE", `Cannot reach Ollama at ${url}: ${message}`, {
        cause: err,
        details: { kind: "unreachable" },
      });
    }
    // Everything else happened after a 200: an `error` line in the NDJSON stream, a cut-off or
    // malformed stream. Never text.
    const reason = /did not receive done/i.test(message)
      ? "the answer ended before its last (done) line, the connection was cut"
      : message;
    return new ClankError("OLLAMA_ERROR", `Ollama ${what} stream failed: ${reason}`, {
      cause: err,
      details: { kind: "stream", ...(model ? { model } : {}) },
    });
  }

  /** Removes a password given in the URL from `text` (fetch errors may quote the URL). */
  #redact(text: string): string {
    try {
      const { password } = new URL(this.#opts.url);
      const secret = decodeURIComponent(password);
      return secret && secret.length > 0
        ? text.split(password).join("[redacted]").split(secret).join("[redacted]")
        : text;
    } catch {
      return text;
    }
  }

  /** Refreshes the cached list of installed models, for error messages; never throws. */
  async refreshModels(): Promise<void> {
    try {
      await this.tags();
    } catch {
      // The list is only a hint in messages.
    }
  }
}
