import assert from "node:assert/strict";
import { createAuthenticator, tokenMatcher } from "../core/http_auth.ts";
import { isLoopbackHost } from "../core/loopback.ts";
import { HttpError } from "../core/http_errors.ts";
import { startHttpServer } from "../core/http_server.ts";
import { memoryLogger } from "../core/log.ts";
import { Metrics } from "../core/metrics.ts";
import { FakeControl } from "./fakes/fake_control.ts";

const TOKEN = "ctl-7bd3e0a1c95f42e8";

function request(headers: Record<string, string> = {}): Request {
  return new Request("http://127.0.0.1/api/channels", { headers: { host: "127.0.0.1:8080", ...headers } });
}

async function rejection(p: Promise<void>): Promise<HttpError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof HttpError, `expected HttpError, got ${err}`);
    return err;
  }
  assert.fail("expected a rejection");
}

Deno.test("tokenMatcher compares tokens", async (t) => {
  const matches = await tokenMatcher(TOKEN);
  await t.step("accepts the exact token", async () => {
    assert.equal(await matches(TOKEN), true);
  });
  await t.step("rejects near misses, prefixes, longer and empty tokens", async () => {
    for (
      const wrong of [TOKEN.slice(0, -1) + "9", TOKEN.slice(0, -1), TOKEN + "x", "", TOKEN.toUpperCase()]
    ) {
      assert.equal(await matches(wrong), false, wrong);
    }
  });
});

Deno.test("isLoopbackHost recognizes loopback names and addresses", () => {
  for (
    const h of [
      "localhost",
      "LOCALHOST",
      "127.0.0.1",
      "127.1.2.3",
      "::1",
      "[::1]",
      "app.localhost",
      "::ffff:127.0.0.1",
    ]
  ) {
    assert.equal(isLoopbackHost(h), true, h);
  }
  for (
    const h of [
      "0.0.0.0",
      "10.0.0.1",
      "192.168.1.2",
      "example.com",
      "localhost.example.com",
      "::",
      "128.0.0.1",
    ]
  ) {
    assert.equal(isLoopbackHost(h), false, h);
  }
});

Deno.test("createAuthenticator with a token", async (t) => {
  const auth = await createAuthenticator(TOKEN);
  assert.equal(auth.tokenSet, true);

  await t.step("accepts the bearer token for reads and writes, scheme case-insensitive", async () => {
    await auth.check(request({ authorization: `Bearer ${TOKEN}` }), "read");
    await auth.check(request({ authorization: `bearer ${TOKEN}` }), "write");
  });

  await t.step("rejects a missing header with 401 and WWW-Authenticate", async () => {
    const err = await rejection(auth.check(request(), "read"));
    assert.equal(err.status, 401);
    assert.equal(err.code, "UNAUTHORIZED");
    assert.match(err.message, /Missing Authorization header/);
    assert.equal(err.headers["www-authenticate"], 'Bearer realm="clank"');
  });

  await t.step("rejects a wrong token without echoing either token", async () => {
    const wrong = "ctl-wrong-token-000000";
    const err = await rejection(auth.check(request({ authorization: `Bearer ${wrong}` }), "read"));
    assert.equal(err.status, 401);
    assert.equal(err.message, "Wrong control token");
    assert.ok(!JSON.stringify([err.message, err.details]).includes(wrong));
  });

  await t.step("rejects other schemes and malformed headers", async () => {
    for (
      const header of [
        `Basic ${btoa(`x:${TOKEN}`)}`,
        TOKEN,
        `Token ${TOKEN}`,
        "Bearer",
        `Bearer ${TOKEN} extra`,
      ]
    ) {
      const err = await rejection(auth.check(request({ authorization: header }), "read"));
      assert.equal(err.status, 401, header);
      assert.ok(!err.message.includes(TOKEN), header);
    }
  });

  await t.step("does not check the Host header (the token is the protection)", async () => {
    await auth.check(request({ host: "bot.example.com", authorization: `Bearer ${TOKEN}` }), "read");
  });
});

Deno.test("createAuthenticator without a token", async (t) => {
  const auth = await createAuthenticator("");
  assert.equal(auth.tokenSet, false);

  await t.step("allows reads from a loopback host", async () => {
    await auth.check(request(), "read");
    await auth.check(request({ host: "localhost:8080" }), "read");
    await auth.check(request({ host: "[::1]:8080" }), "read");
  });

  await t.step("refuses writes with TOKEN_REQUIRED, even with a header", async () => {
    const err = await rejection(auth.check(request({ authorization: "Bearer anything" }), "write"));
    assert.equal(err.status, 401);
    assert.equal(err.code, "TOKEN_REQUIRED");
    assert.match(err.message, /CONTROL_TOKEN/);
  });

  await t.step("refuses a non-loopback Host header with 403", async () => {
    const err = await rejection(auth.check(request({ host: "attacker.example:8080" }), "read"));
    assert.equal(err.status, 403);
    assert.equal(err.code, "HOST_NOT_ALLOWED");
  });
});

Deno.test("startHttpServer auth failures over HTTP", async (t) => {
  const control = new FakeControl(["alpha"]);
  const { log, lines } = memoryLogger("debug");
  const server = await startHttpServer({
    listen: "127.0.0.1:0",
    controlToken: TOKEN,
    control,
    metrics: new Metrics(),
    log,
  });
  assert.ok(server);
  const texts: string[] = [];
  const call = async (path: string, headers: Record<string, string>, method = "GET") => {
    const res = await fetch(new URL(path, server.url), { method, headers });
    const text = await res.text();
    texts.push(text, JSON.stringify([...res.headers]));
    return { res, json: JSON.parse(text) };
  };
  try {
    for (
      const [name, headers] of Object.entries({
        missing: {} as Record<string, string>,
        wrong: { authorization: "Bearer not-the-token" },
        "wrong scheme": { authorization: `Basic ${TOKEN}` },
      })
    ) {
      await t.step(`${name} token is 401 on the API, metrics and writes`, async () => {
        for (
          const [path, method] of [["/api/channels", "GET"], ["/metrics", "GET"], ["/api/reload", "POST"]]
        ) {
          const { res, json } = await call(path!, headers, method);
          assert.equal(res.status, 401, `${method} ${path}`);
          assert.equal(json.error.code, "UNAUTHORIZED");
          assert.equal(res.headers.get("www-authenticate"), 'Bearer realm="clank"');
        }
        assert.equal(control.calls.filter((c) => c.method === "reload").length, 0);
      });
    }

    await t.step("health probes and the dashboard need no token", async () => {
      for (const path of ["/healthz", "/readyz", "/", "/assets/style.css"]) {
        const res: Response = await fetch(new URL(path, server.url));
        await res.body?.cancel();
        assert.equal(res.status, 200, path);
      }
    });

    await t.step("the token never appears in a response or log line", () => {
      for (const text of [...texts, ...lines]) assert.ok(!text.includes(TOKEN), text);
    });
  } finally {
    await server.shutdown();
  }
});
