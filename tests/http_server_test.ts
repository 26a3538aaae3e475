import assert from "node:assert/strict";
import { ClankError, isClankError } from "../core/errors.ts";
import { type HttpServer, parseListen, startHttpServer } from "../core/http_server.ts";
import { memoryLogger } from "../core/log.ts";
import { Metrics } from "../core/metrics.ts";
import { FakeControl } from "./fakes/fake_control.ts";

/** A parsed JSON body; tests check it field by field, so a schema type per route would only repeat them. */
// deno-lint-ignore no-explicit-any
type Body = any;

const TOKEN = "ctl-token-6f1d9a0c2b7e4f58";
const OAUTH = "oauth:fakeoauth0123456789abcdef";

/** A started server with its fake bot, the log lines and every response text seen. */
interface Harness {
  server: HttpServer;
  control: FakeControl;
  metrics: Metrics;
  lines: string[];
  seen: string[];
  req(
    path: string,
    init?: RequestInit & { token?: string | null },
  ): Promise<{ res: Response; text: string; json: Body }>;
}

async function harness(options: { token?: string; maxBodyBytes?: number } = {}): Promise<Harness> {
  const control = new FakeControl(["alpha", "beta_2"]);
  const metrics = new Metrics();
  const { log, lines } = memoryLogger("debug");
  log.addSecret(OAUTH);
  const token = options.token ?? TOKEN;
  const server = await startHttpServer({
    listen: "127.0.0.1:0",
    controlToken: token,
    control,
    metrics,
    log,
    maxBodyBytes: options.maxBodyBytes,
  });
  assert.ok(server);
  const seen: string[] = [];
  return {
    server,
    control,
    metrics,
    lines,
    seen,
    async req(path, init = {}) {
      const headers = new Headers(init.headers);
      const useToken = init.token === undefined ? token : init.token;
      if (useToken) headers.set("authorization", `Bearer ${useToken}`);
      const res = await fetch(new URL(path, server.url), { ...init, headers });
      const text = await res.text();
      seen.push(text, JSON.stringify([...res.headers]));
      let json: Body = null;
      try {
        json = JSON.parse(text);
      } catch {
        // Not JSON (metrics, dashboard files).
      }
      return { res, text, json };
    },
  };
}

/** Sends raw bytes over TCP and returns the raw response (the server closes after answering). */
async function rawRequest(server: HttpServer, head: string, chunks: Uint8Array[]): Promise<string> {
  const conn = await Deno.connect({ hostname: server.addr.hostname, port: server.addr.port });
  try {
    const enc = new TextEncoder();
    await conn.write(enc.encode(head));
    for (const c of chunks) {
      try {
        await conn.write(c);
      } catch {
        break; // The server may close as soon as the limit is crossed.
      }
    }
    const buf = new Uint8Array(65536);
    let out = "";
    const dec = new TextDecoder();
    for (;;) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) break;
      out += dec.decode(buf.subarray(0, n));
      if (/\r\n\r\n[\s\S]*\}$/.test(out)) break;
    }
    return out;
  } finally {
    conn.close();
  }
}

function assertNoSecrets(h: Harness): void {
  for (const text of [...h.seen, ...h.lines]) {
    assert.ok(!text.includes(TOKEN), `control token leaked: ${text.slice(0, 200)}`);
    assert.ok(!text.includes(OAUTH.slice(6)), `OAuth token leaked: ${text.slice(0, 200)}`);
  }
}

Deno.test("parseListen splits host and port and rejects malformed addresses", () => {
  assert.deepEqual(parseListen("127.0.0.1:8080"), { hostname: "127.0.0.1", port: 8080 });
  assert.deepEqual(parseListen("[::1]:0"), { hostname: "::1", port: 0 });
  assert.deepEqual(parseListen("localhost:9"), { hostname: "localhost", port: 9 });
  for (const bad of ["8080", "host:", "host:99999", "a b:1"]) {
    assert.throws(() => parseListen(bad), (e) => isClankError(e, "HTTP_BIND_REFUSED"));
  }
});

Deno.test("startHttpServer binding rules", async (t) => {
  const deps = () => ({ control: new FakeControl(), metrics: new Metrics(), log: memoryLogger().log });

  await t.step("empty listen disables the server", async () => {
    assert.equal(await startHttpServer({ listen: "", controlToken: "", ...deps() }), null);
  });

  await t.step("refuses a non-loopback address without a control token", async () => {
    await assert.rejects(
      () => startHttpServer({ listen: "0.0.0.0:0", controlToken: "", ...deps() }),
      (e: unknown) => {
        assert.ok(e instanceof ClankError);
        assert.equal(e.code, "HTTP_BIND_REFUSED");
        assert.match(e.message, /HTTP_LISTEN=0\.0\.0\.0:0 is not loopback; set CONTROL_TOKEN/);
        return true;
      },
    );
  });

  await t.step("binds a non-loopback address when a token is set", async () => {
    const server = await startHttpServer({ listen: "0.0.0.0:0", controlToken: TOKEN, ...deps() });
    assert.ok(server);
    assert.ok(server.addr.port > 0);
    await server.shutdown();
  });

  await t.step("an address in use is a coded error", async () => {
    const first = await startHttpServer({ listen: "127.0.0.1:0", controlToken: "", ...deps() });
    assert.ok(first);
    try {
      await assert.rejects(
        () => startHttpServer({ listen: `127.0.0.1:${first.addr.port}`, controlToken: "", ...deps() }),
        (e: unknown) =>
          isClankError(e, "HTTP_BIND_REFUSED") && /address is in use/.test((e as Error).message),
      );
    } finally {
      await first.shutdown();
    }
  });
});

Deno.test("startHttpServer routes", async (t) => {
  const h = await harness();
  try {
    await t.step("GET /healthz answers ok without a token", async () => {
      const { res, json } = await h.req("/healthz", { token: null });
      assert.equal(res.status, 200);
      assert.deepEqual(json, { status: "ok" });
    });

    await t.step("HEAD /healthz answers without a body", async () => {
      const { res, text } = await h.req("/healthz", { method: "HEAD", token: null });
      assert.equal(res.status, 200);
      assert.equal(text, "");
    });

    await t.step("GET /readyz is 200 when ready and 503 with reasons when not", async () => {
      const ok = await h.req("/readyz", { token: null });
      assert.equal(ok.res.status, 200);
      assert.equal(ok.json.ready, true);
      h.control.readinessValue = {
        ...h.control.readinessValue,
        ready: false,
        ollama: { reachable: false, error: `connect refused (key ${OAUTH})` },
        reasons: ["Ollama is unreachable at http://127.0.0.1:11434"],
      };
      const down = await h.req("/readyz", { token: null });
      assert.equal(down.res.status, 503);
      assert.deepEqual(down.json.reasons, ["Ollama is unreachable at http://127.0.0.1:11434"]);
      assert.match(down.json.ollama.error, /\[redacted\]/);
      h.control.readinessValue = { ...h.control.readinessValue, ready: true, reasons: [] };
    });

    await t.step("GET /metrics serves the registry with its content type", async () => {
      h.metrics.chatLinesReceived.inc({ channel: "alpha" }, 3);
      const { res, text } = await h.req("/metrics");
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), h.metrics.contentType);
      assert.match(text, /clank_chat_lines_received_total\{channel="alpha"\} 3/);
      assert.match(text, /clank_http_requests_total\{route="\/healthz",method="GET",status="200"\} 1/);
    });

    await t.step("GET /api/info returns the bot's info", async () => {
      const { res, json } = await h.req("/api/info");
      assert.equal(res.status, 200);
      assert.equal(json.bot, "clankbot");
      assert.equal(json.version, "0.1.0");
    });

    await t.step("GET /api/info says a request with the control token may write", async () => {
      const { json } = await h.req("/api/info");
      assert.equal(json.writable, true);
    });

    await t.step("GET /api/schema lists live settings with ranges", async () => {
      const { json } = await h.req("/api/schema");
      const { type, minimum, maximum } = json.settings.properties.threshold;
      assert.deepEqual({ type, minimum, maximum }, { type: "integer", minimum: 5, maximum: 200 });
      assert.equal(json.settings.properties.blocked_words, undefined);
      assert.ok(json.live.includes("persona"));
    });

    await t.step("GET /api/channels lists channels with settings and stats", async () => {
      const { res, json } = await h.req("/api/channels");
      assert.equal(res.status, 200);
      assert.deepEqual(json.channels.map((c: { channel: string }) => c.channel), ["alpha", "beta_2"]);
      assert.equal(json.channels[0].settings.threshold, 30);
      assert.equal(typeof json.channels[0].status.messagesSeen, "number");
    });

    await t.step("GET /api/channels/:name returns one channel, normalizing case", async () => {
      const { res, json } = await h.req("/api/channels/Alpha");
      assert.equal(res.status, 200);
      assert.equal(json.channel, "alpha");
    });

    await t.step("GET /api/channels/:name is 404 for an unknown and 400 for an invalid channel", async () => {
      const unknown = await h.req("/api/channels/nobody");
      assert.equal(unknown.res.status, 404);
      assert.equal(unknown.json.error.code, "CHANNEL_NOT_FOUND");
      const invalid = await h.req("/api/channels/bad-name!");
      assert.equal(invalid.res.status, 400);
      assert.equal(invalid.json.error.code, "CHANNEL_INVALID");
      assert.match(invalid.json.error.message, /1-25 letters, digits or underscores/);
      const long = await h.req(`/api/channels/${"a".repeat(26)}`);
      assert.equal(long.res.status, 400);
    });

    await t.step("PATCH settings applies a valid change", async () => {
      const { res, json } = await h.req("/api/channels/alpha/settings", {
        method: "PATCH",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ threshold: 40, fallback_markov: true }),
      });
      assert.equal(res.status, 200);
      assert.equal(json.settings.threshold, 40);
      assert.equal(h.control.views.get("alpha")!.settings.threshold, 40);
      assert.equal(h.control.views.get("alpha")!.settings.fallback_markov, true);
    });

    const patch = (body: string, contentType = "application/json") =>
      h.req("/api/channels/alpha/settings", {
        method: "PATCH",
        headers: { "content-type": contentType },
        body,
      });

    await t.step("PATCH settings names the field and range of an out-of-range value", async () => {
      const { res, json } = await patch(JSON.stringify({ threshold: 500 }));
      assert.equal(res.status, 400);
      assert.equal(json.error.code, "SETTING_INVALID");
      assert.deepEqual(json.error.problems, [{
        field: "threshold",
        value: 500,
        message: "is out of range 5..200",
      }]);
      assert.match(json.error.message, /threshold is out of range 5\.\.200/);
      assert.equal(h.control.views.get("alpha")!.settings.threshold, 40);
    });

    await t.step("PATCH settings rejects wrong types and unknown keys", async () => {
      const wrongType = await patch(JSON.stringify({ fallback_markov: "yes" }));
      assert.equal(wrongType.res.status, 400);
      assert.equal(wrongType.json.error.problems[0].field, "fallback_markov");
      assert.match(wrongType.json.error.problems[0].message, /true or false/);
      const unknown = await patch(JSON.stringify({ volume: 11 }));
      assert.equal(unknown.res.status, 400);
      assert.equal(unknown.json.error.problems[0].field, "volume");
      assert.match(unknown.json.error.problems[0].message, /allowed: threshold/);
    });

    await t.step("PATCH settings rejects malformed JSON naming the problem", async () => {
      const { res, json } = await patch('{"threshold": 40');
      assert.equal(res.status, 400);
      assert.equal(json.error.code, "JSON_INVALID");
      assert.match(json.error.message, /^Body is not valid JSON: /);
    });

    await t.step("PATCH settings rejects bodies that are not one non-empty object", async () => {
      for (const body of ["[1,2]", "42", "null", "{}"]) {
        const { res, json } = await patch(body);
        assert.equal(res.status, 400, body);
        assert.equal(json.error.code, "BODY_INVALID", body);
      }
      const empty = await patch("");
      assert.equal(empty.json.error.code, "BODY_INVALID");
    });

    await t.step("PATCH settings answers 415 for a non-JSON body", async () => {
      const { res, json } = await patch("threshold=40", "application/x-www-form-urlencoded");
      assert.equal(res.status, 415);
      assert.equal(json.error.code, "UNSUPPORTED_MEDIA_TYPE");
      const none = await h.req("/api/channels/alpha/settings", { method: "PATCH", body: "{}" });
      assert.equal(none.res.status, 415);
    });

    await t.step("PATCH settings answers 413 over the limit (declared length)", async () => {
      const { res, json } = await patch(JSON.stringify({ persona: "x".repeat(20_000) }));
      assert.equal(res.status, 413);
      assert.equal(json.error.code, "PAYLOAD_TOO_LARGE");
      assert.match(json.error.message, /16384-byte limit/);
    });

    await t.step("PATCH settings answers 413 for a streamed body without Content-Length", async () => {
      let pulled = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (pulled++ >= 40) return controller.close();
          controller.enqueue(new TextEncoder().encode(pulled === 1 ? '{"persona":"' : "y".repeat(1024)));
        },
      });
      const { res, json } = await h.req("/api/channels/alpha/settings", {
        method: "PATCH",
        headers: { "content-type": "application/json" },
        body,
      });
      assert.equal(res.status, 413);
      assert.equal(json.error.code, "PAYLOAD_TOO_LARGE");
    });

    await t.step("PATCH settings answers 413 for raw chunked bytes past the limit", async () => {
      const chunk = "z".repeat(4096);
      const chunks = Array.from({ length: 8 }, () => new TextEncoder().encode(`1000\r\n${chunk}\r\n`));
      chunks.push(new TextEncoder().encode("0\r\n\r\n"));
      const raw = await rawRequest(
        h.server,
        `PATCH /api/channels/alpha/settings HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\n` +
          "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        chunks,
      );
      h.seen.push(raw);
      assert.match(raw, /^HTTP\/1\.1 413/);
      assert.match(raw, /PAYLOAD_TOO_LARGE/);
    });

    await t.step("PATCH settings answers 413 when Content-Length understates a chunked body", async () => {
      const chunks = Array.from(
        { length: 6 },
        () => new TextEncoder().encode(`1000\r\n${"q".repeat(4096)}\r\n`),
      );
      chunks.push(new TextEncoder().encode("0\r\n\r\n"));
      const raw = await rawRequest(
        h.server,
        `PATCH /api/channels/alpha/settings HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\n` +
          "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nContent-Length: 10\r\nConnection: close\r\n\r\n",
        chunks,
      );
      h.seen.push(raw);
      // HTTP/1.1 says Transfer-Encoding wins; either the parser rejects the request or the limit does.
      assert.match(raw, /^HTTP\/1\.1 (413|400)/);
      assert.equal(h.control.views.get("alpha")!.settings.persona.includes("q"), false);
    });

    await t.step("DELETE settings resets to defaults", async () => {
      const { res, json } = await h.req("/api/channels/alpha/settings", { method: "DELETE" });
      assert.equal(res.status, 200);
      assert.equal(json.settings.threshold, 30);
      assert.equal(h.control.views.get("alpha")!.settings.threshold, 30);
      assert.deepEqual(h.control.views.get("alpha")!.overrides, []);
    });

    await t.step("POST join adds a channel and POST part removes it", async () => {
      const joined = await h.req("/api/channels/Gamma/join", { method: "POST" });
      assert.equal(joined.res.status, 200);
      assert.equal(joined.json.channel, "gamma");
      assert.ok(h.control.views.has("gamma"));
      const parted = await h.req("/api/channels/gamma/part", { method: "POST" });
      assert.equal(parted.res.status, 200);
      assert.equal(h.control.views.has("gamma"), false);
      const again = await h.req("/api/channels/gamma/part", { method: "POST" });
      assert.equal(again.res.status, 404);
    });

    await t.step("POST join of a channel Twitch refuses says so instead of joined: true", async () => {
      h.control.refuse.set("gone", "This channel does not exist or has been suspended.");
      const { res, json } = await h.req("/api/channels/gone/join", { method: "POST" });
      assert.equal(res.status, 200);
      assert.equal(json.joined, false);
      assert.equal(json.reason, "This channel does not exist or has been suspended.");
      assert.equal(json.view.refused, "This channel does not exist or has been suspended.");
    });

    await t.step("GET /api/recent filters by channel and limits", async () => {
      for (let i = 0; i < 5; i++) {
        h.control.lines.push({
          channel: i % 2 ? "alpha" : "beta_2",
          user: "u",
          displayName: "U",
          text: `l${i}`,
          time: i,
          bot: false,
        });
      }
      const { res, json } = await h.req("/api/recent?channel=alpha&limit=1");
      assert.equal(res.status, 200);
      assert.deepEqual(json.lines.map((l: { text: string }) => l.text), ["l3"]);
      const all = await h.req("/api/recent");
      assert.equal(all.json.lines.length, 5);
    });

    await t.step("GET /api/recent rejects a bad limit, unknown parameters and unknown channels", async () => {
      for (const q of ["limit=0", "limit=1001", "limit=abc", "limit=2.5"]) {
        const { res, json } = await h.req(`/api/recent?${q}`);
        assert.equal(res.status, 400, q);
        assert.equal(json.error.field, "limit");
        assert.match(json.error.message, /limit must be a whole number in 1\.\.1000/);
      }
      const unknownParam = await h.req("/api/recent?chanel=alpha");
      assert.equal(unknownParam.res.status, 400);
      assert.match(
        unknownParam.json.error.message,
        /Unknown query parameter chanel; allowed: channel, limit/,
      );
      const unknownChannel = await h.req("/api/recent?channel=nobody");
      assert.equal(unknownChannel.res.status, 404);
    });

    await t.step("GET /api/recent takes limit as plain decimal digits only", async () => {
      for (
        const q of ["limit=0x10", "limit=1e2", "limit=+5", "limit=%205", "limit=5%20", "limit=", "limit=0b11"]
      ) {
        const { res, json } = await h.req(`/api/recent?${q}`);
        assert.equal(res.status, 400, q);
        assert.equal(json.error.code, "QUERY_INVALID", q);
        assert.equal(json.error.field, "limit", q);
        assert.match(json.error.message, /limit must be a whole number in 1\.\.1000/, q);
      }
      assert.equal((await h.req("/api/recent?limit=007")).res.status, 200);
    });

    await t.step("a repeated query parameter is a 400 naming it, on every route", async () => {
      for (
        const [path, field] of [
          ["/api/recent?channel=alpha&channel=beta_2", "channel"],
          ["/api/recent?limit=1&limit=2", "limit"],
          ["/api/recent?channel=alpha&limit=1&channel=alpha", "channel"],
        ]
      ) {
        const { res, json } = await h.req(path!);
        assert.equal(res.status, 400, path);
        assert.equal(json.error.code, "QUERY_INVALID", path);
        assert.equal(json.error.field, field, path);
        assert.equal(
          json.error.message,
          `Query parameter ${field} is given more than once; give it once`,
          path,
        );
      }
    });

    await t.step("POST /api/reload reports plugins; a config error is 422 with its code", async () => {
      const ok = await h.req("/api/reload", { method: "POST" });
      assert.equal(ok.res.status, 200);
      assert.deepEqual(ok.json.plugins, ["chat_history", "ollama"]);
      h.control.reloadError = new ClankError(
        "CONFIG_INVALID",
        "Config key defaults.threshold is out of range 5..200",
      );
      const bad = await h.req("/api/reload", { method: "POST" });
      assert.equal(bad.res.status, 422);
      assert.equal(bad.json.error.code, "CONFIG_INVALID");
      h.control.reloadError = new Error(`db down: mysql://root:${OAUTH}@db`);
      const internal = await h.req("/api/reload", { method: "POST" });
      assert.equal(internal.res.status, 500);
      assert.equal(internal.json.error.code, "INTERNAL");
      assert.doesNotMatch(internal.text, /mysql/);
      assert.ok(h.lines.some((l) => l.includes("db down") && l.includes("[redacted]")));
      h.control.reloadError = null;
    });

    await t.step("unknown routes are 404 and wrong methods 405 with Allow", async () => {
      const missing = await h.req("/api/nope");
      assert.equal(missing.res.status, 404);
      assert.equal(missing.json.error.code, "NOT_FOUND");
      const wrong = await h.req("/api/channels", { method: "PUT" });
      assert.equal(wrong.res.status, 405);
      assert.equal(wrong.res.headers.get("allow"), "GET, HEAD");
      assert.equal(wrong.json.error.code, "METHOD_NOT_ALLOWED");
      const settings = await h.req("/api/channels/alpha/settings", { method: "GET" });
      assert.equal(settings.res.status, 405);
      assert.equal(settings.res.headers.get("allow"), "DELETE, PATCH");
      const health = await h.req("/healthz", { method: "POST", token: null });
      assert.equal(health.res.status, 405);
    });

    await t.step("GET / serves the dashboard with a strict CSP, and its assets", async () => {
      const page = await h.req("/", { token: null });
      assert.equal(page.res.status, 200);
      assert.match(page.res.headers.get("content-type")!, /text\/html/);
      assert.match(page.res.headers.get("content-security-policy")!, /script-src 'self'/);
      assert.match(page.text, /<title>clank dashboard<\/title>/);
      const app = await h.req("/assets/app.js", { token: null });
      assert.equal(app.res.status, 200);
      assert.match(app.res.headers.get("content-type")!, /javascript/);
      for (const bad of ["/assets/nope.js", "/assets/..%2Fhttp_server.ts", "/assets/app.ts"]) {
        const r = await h.req(bad, { token: null });
        assert.equal(r.res.status, 404, bad);
      }
    });

    await t.step("a malformed Host header is a counted 400, not a logged 500", async () => {
      const hosts = [
        "[::1].evil.com",
        "[::1]x",
        "localhost:99999",
        "localhost:abc",
        "[zz]",
        "localhost:80@evil.com",
      ];
      const before = h.lines.length;
      for (const host of hosts) {
        const raw = await rawRequest(
          h.server,
          `GET /api/info HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${TOKEN}\r\nConnection: close\r\n\r\n`,
          [],
        );
        assert.match(raw, /^HTTP\/1\.1 400 /, host);
        const body = JSON.parse(raw.slice(raw.indexOf("\r\n\r\n") + 4));
        assert.equal(body.error.code, "BAD_REQUEST", host);
        assert.match(body.error.message, /^Host header is not a valid host\[:port\]/, host);
        assert.equal(body.error.field, "host", host);
      }
      const errors = h.lines.slice(before).filter((l) => l.includes('"level":"error"'));
      assert.deepEqual(errors, []);
      assert.match(
        await h.metrics.text(),
        new RegExp(
          `clank_http_requests_total\\{route="unmatched",method="GET",status="400"\\} ${hosts.length}`,
        ),
      );
    });

    await t.step("an absolute request target that is no URL is a 400", async () => {
      const before = h.lines.length;
      const raw = await rawRequest(
        h.server,
        `GET http://[zz]/api/info HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\nConnection: close\r\n\r\n`,
        [],
      );
      assert.match(raw, /^HTTP\/1\.1 400 /);
      assert.match(raw, /"code":"BAD_REQUEST"/);
      assert.deepEqual(h.lines.slice(before).filter((l) => l.includes('"level":"error"')), []);
    });

    await t.step("requests are counted by route pattern, method and status", async () => {
      const text = await h.metrics.text();
      assert.match(
        text,
        /clank_http_requests_total\{route="\/api\/channels\/:name",method="GET",status="404"\} 1/,
      );
      assert.match(text, /clank_http_requests_total\{route="unmatched",method="GET",status="404"\} 1/);
    });

    await t.step("no secret appears in any response or log line", () => {
      assert.ok(h.seen.length > 50);
      assertNoSecrets(h);
    });
  } finally {
    await h.server.shutdown();
  }
});

Deno.test("startHttpServer event stream", async (t) => {
  const h = await harness();
  try {
    const open = async (query = "") => {
      const res = await fetch(new URL(`/api/events${query}`, h.server.url), {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type")!, /application\/x-ndjson/);
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      const next = async (): Promise<Body> => {
        for (;;) {
          const nl = buffer.indexOf("\n");
          if (nl >= 0) {
            const line = buffer.slice(0, nl);
            buffer = buffer.slice(nl + 1);
            h.seen.push(line);
            return JSON.parse(line);
          }
          const { done, value } = await reader.read();
          if (done) return null;
          buffer += value;
        }
      };
      return { reader, next };
    };

    await t.step("streams hello then new lines as NDJSON, redacting secrets", async () => {
      const s = await open();
      const hello = await s.next();
      assert.equal(hello.type, "hello");
      // Clients size their stall watchdog from it.
      assert.equal(hello.heartbeatMs, 20_000);
      h.control.emit({
        channel: "alpha",
        user: "bob",
        displayName: "Bob",
        text: `hi ${OAUTH}`,
        time: 1,
        bot: false,
      });
      const ev = await s.next();
      assert.equal(ev.type, "line");
      assert.equal(ev.line.user, "bob");
      assert.equal(ev.line.text, "hi [redacted]");
      await s.reader.cancel();
    });

    await t.step("a channel filter passes only that channel's lines", async () => {
      const s = await open("?channel=beta_2");
      assert.equal((await s.next()).type, "hello");
      h.control.emit({ channel: "alpha", user: "a", displayName: "A", text: "skip", time: 2, bot: false });
      h.control.emit({
        channel: "beta_2",
        user: "clankbot",
        displayName: "clankbot",
        text: "yo",
        time: 3,
        bot: true,
        kind: "mention",
      });
      const ev = await s.next();
      assert.equal(ev.line.text, "yo");
      assert.equal(ev.line.kind, "mention");
      await s.reader.cancel();
    });

    await t.step("a client that goes away is unsubscribed", async () => {
      const s = await open();
      await s.next();
      assert.equal(h.control.listenerCount, 1);
      await s.reader.cancel();
      h.control.emit({ channel: "alpha", user: "x", displayName: "X", text: "after", time: 4, bot: false });
      for (let i = 0; i < 50 && h.control.listenerCount > 0; i++) await new Promise((r) => setTimeout(r, 5));
      assert.equal(h.control.listenerCount, 0);
    });

    await t.step("rejects unknown parameters and invalid channels", async () => {
      const bad = await h.req("/api/events?channel=no-way!");
      assert.equal(bad.res.status, 400);
      const unknown = await h.req("/api/events?since=1");
      assert.equal(unknown.res.status, 400);
      const twice = await h.req("/api/events?channel=alpha&channel=beta_2");
      assert.equal(twice.res.status, 400);
      assert.equal(twice.json.error.field, "channel");
      assert.match(twice.json.error.message, /channel is given more than once/);
    });

    await t.step("shutdown ends open streams", async () => {
      const s = await open();
      await s.next();
      await h.server.shutdown();
      assert.equal(await s.next(), null);
      assert.equal(h.control.listenerCount, 0);
    });
    assertNoSecrets(h);
  } finally {
    await h.server.shutdown();
  }
});

Deno.test("startHttpServer without a control token", async (t) => {
  const h = await harness({ token: "" });
  try {
    await t.step("read-only routes work without a token", async () => {
      const { res, json } = await h.req("/api/channels");
      assert.equal(res.status, 200);
      assert.equal(json.channels.length, 2);
      assert.equal((await h.req("/metrics")).res.status, 200);
    });

    await t.step("GET /api/info says writes are refused, whatever token the client still sends", async () => {
      assert.equal((await h.req("/api/info")).json.writable, false);
      // A dashboard tab that kept the token of a bot since restarted without CONTROL_TOKEN.
      assert.equal((await h.req("/api/info", { token: "old-token-from-before-1234" })).json.writable, false);
    });

    await t.step("mutating routes answer 401 saying CONTROL_TOKEN must be set", async () => {
      const { res, json } = await h.req("/api/channels/alpha/settings", {
        method: "PATCH",
        headers: { "content-type": "application/json" },
        body: '{"threshold": 40}',
      });
      assert.equal(res.status, 401);
      assert.equal(json.error.code, "TOKEN_REQUIRED");
      assert.match(json.error.message, /needs CONTROL_TOKEN to be set/);
      assert.equal(h.control.views.get("alpha")!.settings.threshold, 30);
      for (const path of ["/api/reload", "/api/channels/alpha/join", "/api/channels/alpha/part"]) {
        assert.equal((await h.req(path, { method: "POST" })).res.status, 401, path);
      }
    });

    await t.step("a non-loopback Host header is refused (DNS rebinding)", async () => {
      const raw = await rawRequest(
        h.server,
        "GET /api/channels HTTP/1.1\r\nHost: evil.example:80\r\nConnection: close\r\n\r\n",
        [],
      );
      assert.match(raw, /^HTTP\/1\.1 403/);
      assert.match(raw, /HOST_NOT_ALLOWED/);
    });

    await t.step("a Host that only starts like loopback (userinfo) is refused", async () => {
      for (const host of ["localhost:80@evil.com", "127.0.0.1:80@x"]) {
        const raw = await rawRequest(
          h.server,
          `GET /api/info HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
          [],
        );
        assert.match(raw, /^HTTP\/1\.1 400 /, host);
        assert.ok(!raw.includes('"bot"'), host);
      }
    });
  } finally {
    await h.server.shutdown();
  }
});
