import assert from "node:assert/strict";
import { ClankError } from "../core/errors.ts";
import {
  CONTROL_TOKEN_MIN_LENGTH,
  controlTokenProblem,
  createAuthenticator,
  tokenMatcher,
} from "../core/http_auth.ts";
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

  await t.step("says the token must be one word when Bearer is followed by several", async () => {
    const err = await rejection(
      auth.check(request({ authorization: "Bearer correct horse battery" }), "read"),
    );
    assert.equal(err.status, 401);
    assert.match(err.message, /one token without spaces/);
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

  await t.step("refuses a Host that only starts like a loopback host (userinfo, junk, empty)", async () => {
    for (const host of ["localhost:80@evil.com", "127.0.0.1:80@x", "[::1].evil.com", "localhost:abc", ""]) {
      const err = await rejection(auth.check(request({ host }), "read"));
      assert.equal(err.status, 403, host);
      assert.equal(err.code, "HOST_NOT_ALLOWED", host);
    }
  });
});

Deno.test("controlTokenProblem says why a token could never be sent", async (t) => {
  await t.step("accepts empty (no token) and long header-safe tokens", () => {
    assert.equal(controlTokenProblem(""), null);
    assert.equal(controlTokenProblem(TOKEN), null);
    assert.equal(controlTokenProblem("A".repeat(CONTROL_TOKEN_MIN_LENGTH)), null);
    assert.equal(controlTokenProblem("abc-DEF._~+/0123456789=="), null);
    assert.equal(controlTokenProblem("p4ss!#$%&*()[]{}<>?@^|"), null);
  });

  await t.step("rejects whitespace anywhere, naming what is allowed", () => {
    for (
      const bad of ["correct horse battery staple", `${TOKEN}\n`, `\t${TOKEN}`, "   ", "a\u00a0".repeat(9)]
    ) {
      const problem = controlTokenProblem(bad);
      assert.ok(problem !== null, JSON.stringify(bad));
      assert.match(problem, /must not contain whitespace \(it is sent in an Authorization header\)/);
      assert.match(problem, /letters, digits and -\._~\+\/=/);
    }
  });

  await t.step("rejects characters a header cannot carry as they are", () => {
    for (
      const bad of ["t\u00f8ken-0123456789abcdef", "token-0123456789\u0000abc", "token-\u{1F600}-0123456789"]
    ) {
      const problem = controlTokenProblem(bad);
      assert.ok(problem !== null, JSON.stringify(bad));
      assert.match(problem, /visible ASCII/);
    }
  });

  await t.step("rejects tokens shorter than the minimum", () => {
    const problem = controlTokenProblem("short-token");
    assert.ok(problem !== null);
    assert.match(problem, new RegExp(`at least ${CONTROL_TOKEN_MIN_LENGTH} characters`));
    assert.match(problem, /openssl rand -hex 32/);
  });

  await t.step("never includes the token", () => {
    for (const bad of ["correct horse battery staple", "short-token", "t\u00f8ken-0123456789abcdef"]) {
      assert.ok(!controlTokenProblem(bad)!.includes(bad), bad);
    }
  });
});

Deno.test("startHttpServer refuses a control token no client could send", async (t) => {
  for (const bad of ["correct horse battery staple", `${TOKEN}\n`, "   ", "short-token"]) {
    await t.step(JSON.stringify(bad), async () => {
      const { log, lines } = memoryLogger("debug");
      await assert.rejects(
        () =>
          startHttpServer({
            listen: "0.0.0.0:0",
            controlToken: bad,
            control: new FakeControl(),
            metrics: new Metrics(),
            log,
          }),
        (e: unknown) => {
          assert.ok(e instanceof ClankError);
          assert.equal(e.code, "HTTP_BIND_REFUSED");
          assert.match(e.message, /^CONTROL_TOKEN /);
          if (bad.trim() !== "") assert.ok(!e.message.includes(bad.trim()));
          return true;
        },
      );
      if (bad.trim() !== "") { for (const line of lines) assert.ok(!line.includes(bad.trim()), line); }
    });
  }
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
