import assert from "node:assert/strict";
import { isLoopbackHost, parseHostPort } from "../core/loopback.ts";

Deno.test("parseHostPort reads host[:port] strictly", async (t) => {
  await t.step("accepts names, IPv4 and bracketed IPv6, with or without a port", () => {
    const cases: Array<[string, { hostname: string; port: number | null }]> = [
      ["localhost", { hostname: "localhost", port: null }],
      ["localhost:8080", { hostname: "localhost", port: 8080 }],
      ["LOCALHOST:080", { hostname: "LOCALHOST", port: 80 }],
      ["127.0.0.1:80", { hostname: "127.0.0.1", port: 80 }],
      ["bot.example.com:443", { hostname: "bot.example.com", port: 443 }],
      ["my_host-1.lan", { hostname: "my_host-1.lan", port: null }],
      ["[::1]", { hostname: "::1", port: null }],
      ["[::1]:8080", { hostname: "::1", port: 8080 }],
      ["[::ffff:127.0.0.1]:80", { hostname: "::ffff:127.0.0.1", port: 80 }],
      ["0.0.0.0:65535", { hostname: "0.0.0.0", port: 65535 }],
    ];
    for (const [text, want] of cases) assert.deepEqual(parseHostPort(text), want, text);
  });

  await t.step("rejects userinfo, junk after the host, bad ports and bad addresses", () => {
    for (
      const bad of [
        "localhost:80@evil.com",
        "127.0.0.1:80@x",
        "user@localhost",
        "[::1].evil.com",
        "[::1]x",
        "[::1]:80x",
        "localhost:99999",
        "localhost:abc",
        "localhost:",
        "localhost:80:80",
        "[zz]",
        "[:::]",
        "[::1",
        "::1",
        "1.2.3.999",
        "",
        " ",
        "a b",
        "localhost/evil",
        "evil.com#localhost",
        "evil.com?x=localhost",
        "%6cocalhost",
        "local\\host",
      ]
    ) {
      assert.equal(parseHostPort(bad), null, JSON.stringify(bad));
    }
  });
});

Deno.test("a malformed address is never read as loopback", async (t) => {
  await t.step("the parsed host of a loopback address is loopback", () => {
    for (const ok of ["127.0.0.1:80", "[::1]:1", "localhost", "app.localhost:3000"]) {
      assert.equal(isLoopbackHost(parseHostPort(ok)!.hostname), true, ok);
    }
  });

  await t.step("a Host that merely starts like loopback does not parse", () => {
    for (const bad of ["localhost:80@evil.com", "127.0.0.1:80@x", "[::1].evil.com", "[::1]x"]) {
      assert.equal(parseHostPort(bad), null, bad);
    }
  });
});
