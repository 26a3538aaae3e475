import assert from "node:assert/strict";
import { type AuthCommandDeps, expiryText, runAuthCommand } from "../core/auth_cli.ts";
import { type Config, ConfigSchema } from "../core/config_schema.ts";
import { memoryLogger } from "../core/log.ts";
import { loadSecretKey } from "../core/secret_key.ts";
import { TokenManager } from "../core/token_manager.ts";
import { TokenStore } from "../core/token_store.ts";
import { type FakeTwitchOAuth, startFakeTwitchOAuth } from "./fakes/fake_twitch_oauth.ts";
import { MemoryKv } from "./fakes/memory_kv.ts";

interface Cli {
  fake: FakeTwitchOAuth;
  kv: MemoryKv;
  dir: string;
  out: string[];
  sleeps: number[];
  config(twitch?: Partial<Config["twitch"]>): Config;
  deps(extra?: Partial<AuthCommandDeps>): AuthCommandDeps;
  store(): Promise<TokenStore>;
  close(): Promise<void>;
}

async function cli(): Promise<Cli> {
  const fake = await startFakeTwitchOAuth();
  const dir = await Deno.makeTempDir();
  const kv = new MemoryKv();
  const out: string[] = [];
  const sleeps: number[] = [];
  const { log } = memoryLogger();
  const config = (twitch: Partial<Config["twitch"]> = {}) =>
    ConfigSchema.parse({
      twitch: {
        username: "clankbot",
        client_id: fake.clientId,
        client_secret: fake.clientSecret,
        auth_url: fake.url,
        ...twitch,
      },
      auth: { key_file: `${dir}/secret.key` },
    });
  return {
    fake,
    kv,
    dir,
    out,
    sleeps,
    config,
    deps: (extra = {}) => ({
      log,
      storage: kv,
      out: (l) => out.push(l),
      sleep: (ms) => {
        sleeps.push(ms);
        return Promise.resolve();
      },
      env: () => undefined,
      ...extra,
    }),
    store: async () => new TokenStore(kv, await loadSecretKey({ keyFile: `${dir}/secret.key` })),
    async close() {
      await fake.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

function assertNoSecrets(c: Cli): void {
  const secrets = [...c.fake.issued.flatMap((p) => [p.accessToken, p.refreshToken]), c.fake.clientSecret];
  for (const line of c.out) {
    for (const s of secrets) assert.ok(!line.includes(s), `output shows a secret: ${line}`);
  }
}

Deno.test("runAuthCommand login runs the device code flow", async (t) => {
  const c = await cli();
  try {
    await t.step(
      "pending, slow_down, approved: prints code and URL, honours the interval, stores the token",
      async () => {
        c.fake.device.approveAfterPolls = 2;
        c.fake.device.slowDownAtPolls = [2];
        c.fake.device.token = { login: "clankbot", userId: "1001", expiresIn: 14_400 };
        const code = await runAuthCommand([], c.config(), c.deps());
        assert.equal(code, 0, c.out.join("\n"));
        assert.deepEqual(c.sleeps, [5000, 5000, 10_000]);
        const device = c.fake.requests.find((r) => r.endpoint === "device")!;
        assert.equal(device.form.scopes, "chat:read chat:edit");
        const urlLine = c.out.find((l) => l.startsWith("Open "))!;
        assert.match(urlLine, /^Open https:\/\/www\.twitch\.tv\/activate/);
        assert.ok(
          c.out.some((l) =>
            /enter the code [A-Z0-9]{8} while logged in to Twitch as the bot account clankbot/.test(l)
          ),
        );
        assert.ok(c.out.includes("Owner: clankbot (user id 1001)"));
        assert.ok(c.out.includes("Scopes: chat:read chat:edit"));
        // 4 h lifetime: "4h 0m" when issued and printed within the same millisecond, else "3h 59m".
        assert.ok(c.out.some((l) => /^Expires: .* \(in (3h 59m|4h 0m)\)$/.test(l)));
        const stored = (await (await c.store()).load())!;
        assert.equal(stored.login, "clankbot");
        assert.ok(c.fake.isValid(stored.access_token));
        assert.ok(stored.refresh_token.length > 0);
        assert.equal(stored.client_id, c.fake.clientId);
        assert.equal((await Deno.stat(`${c.dir}/secret.key`)).mode! & 0o777, 0o600);
        assertNoSecrets(c);
      },
    );

    await t.step("an expired code: exit 1, says to run it again, stores nothing", async () => {
      c.kv.data.clear();
      c.out.length = 0;
      c.fake.device.expired = true;
      c.fake.device.expiredMessage = "expired_token";
      assert.equal(await runAuthCommand(["login"], c.config(), c.deps()), 1);
      assert.match(c.out.at(-1)!, /expired before it was approved: run deno task auth again/);
      assert.equal(c.kv.data.size, 0);
      c.fake.device.expired = false;
    });

    await t.step("the code's lifetime ends the wait even if Twitch keeps saying pending", async () => {
      c.out.length = 0;
      c.sleeps.length = 0;
      c.fake.device.approveAfterPolls = 1_000_000;
      c.fake.device.slowDownAtPolls = [];
      assert.equal(await runAuthCommand([], c.config(), c.deps()), 1);
      assert.equal(c.sleeps.reduce((a, b) => a + b, 0), 1800_000, "waited exactly the 30 minutes");
      assert.match(c.out.at(-1)!, /expired/);
      assert.equal(c.kv.data.size, 0);
      c.fake.device.approveAfterPolls = 0;
    });

    await t.step("a denied request: exit 1", async () => {
      c.fake.device.denied = true;
      assert.equal(await runAuthCommand([], c.config(), c.deps()), 1);
      assert.match(c.out.at(-1)!, /denied/);
      c.fake.device.denied = false;
    });

    await t.step("the wrong account: exit 1, the token is revoked and not stored", async () => {
      c.out.length = 0;
      c.fake.device.token = { login: "someoneelse", userId: "77" };
      const revokes = c.fake.count("revoke");
      assert.equal(await runAuthCommand([], c.config(), c.deps()), 1);
      assert.ok(c.out.some((l) => l.includes("belongs to someoneelse, but TWITCH_BOT_USERNAME is clankbot")));
      assert.equal(c.fake.count("revoke"), revokes + 1);
      assert.equal(c.fake.isValid(c.fake.issued.at(-1)!.accessToken), false);
      assert.equal(c.kv.data.size, 0);
    });

    await t.step("wrong scopes: exit 1, nothing stored", async () => {
      c.out.length = 0;
      c.fake.device.token = { login: "clankbot", scopes: ["chat:read"] };
      assert.equal(await runAuthCommand([], c.config(), c.deps()), 1);
      assert.ok(c.out.some((l) => l.includes("lacks the scope chat:edit")));
      assert.equal(c.kv.data.size, 0);
    });

    await t.step("no TWITCH_BOT_USERNAME: any account, and a hint to set it", async () => {
      c.out.length = 0;
      c.fake.device.token = { login: "someoneelse", userId: "77" };
      assert.equal(await runAuthCommand([], c.config({ username: "" }), c.deps()), 0);
      assert.ok(c.out.includes("Set TWITCH_BOT_USERNAME=someoneelse so the bot logs in as this account."));
    });

    await t.step("no client id: exit 1 with how to get one, no request", async () => {
      c.out.length = 0;
      const requests = c.fake.requests.length;
      assert.equal(await runAuthCommand([], c.config({ client_id: "" }), c.deps()), 1);
      assert.match(c.out[0]!, /TWITCH_CLIENT_ID is not set: register an application/);
      assert.equal(c.fake.requests.length, requests);
    });

    await t.step("Twitch unreachable: exit 1 with the reason", async () => {
      c.out.length = 0;
      assert.equal(await runAuthCommand([], c.config({ auth_url: "http://127.0.0.1:9" }), c.deps()), 1);
      assert.match(c.out[0]!, /Twitch OAuth device at http:\/\/127\.0\.0\.1:9\/oauth2\/device failed/);
    });
    assertNoSecrets(c);
  } finally {
    await c.close();
  }
});

Deno.test("runAuthCommand status shows owner, scopes and expiry, never the token", async (t) => {
  const c = await cli();
  try {
    await t.step("no token: exit 1 with what to do", async () => {
      assert.equal(await runAuthCommand(["status"], c.config(), c.deps()), 1);
      assert.ok(c.out.includes("Stored token: none"));
      assert.match(c.out.at(-1)!, /run deno task auth, or set TWITCH_OAUTH_TOKEN/);
    });

    await t.step("stored token: validated live", async () => {
      c.fake.device.token = { expiresIn: 7200 };
      assert.equal(await runAuthCommand(["login"], c.config(), c.deps()), 0);
      c.out.length = 0;
      assert.equal(await runAuthCommand(["status"], c.config(), c.deps()), 0);
      assert.ok(c.out.includes("Token in use: stored token"));
      assert.ok(c.out.includes("Owner: clankbot (user id 1001)"));
      assert.ok(c.out.includes("Scopes: chat:read chat:edit"));
      assert.ok(c.out.some((l) => /^Expires: .*\(in 1h 59m\)$/.test(l)));
      assert.ok(c.out.includes("Refresh: automatic (client id and refresh token present)"));
      assert.match(c.out[0]!, /^Key: key file .*secret\.key \(key id [0-9a-f]{16}\)$/);
      assertNoSecrets(c);
    });

    await t.step("env token wins and is reported as such", async () => {
      c.out.length = 0;
      const { accessToken } = c.fake.issue({ scopes: ["chat:read"] });
      assert.equal(await runAuthCommand(["status"], c.config({ oauth_token: accessToken }), c.deps()), 1);
      assert.ok(c.out.includes("Token in use: TWITCH_OAUTH_TOKEN (environment)"));
      // Same user and app as the stored token: the bot pairs its refresh token, and status says so.
      assert.ok(c.out.includes("Refresh: automatic (client id and refresh token present)"));
      assert.ok(c.out.some((l) => l.includes("lacks the scope chat:edit")));
      assertNoSecrets(c);
    });

    await t.step("a revoked stored token: stored details and exit 1", async () => {
      c.out.length = 0;
      const stored = (await (await c.store()).load())!;
      c.fake.expire(stored.access_token);
      assert.equal(await runAuthCommand(["status"], c.config(), c.deps()), 1);
      assert.ok(c.out.includes("Twitch says: invalid, expired or revoked"));
      assert.ok(c.out.includes("Owner (stored): clankbot (user id 1001)"));
    });

    await t.step(
      "the wrong key: the stored token is reported unreadable, naming the key source",
      async () => {
        c.out.length = 0;
        const code = await runAuthCommand(["status"], c.config(), c.deps({ env: () => "7".repeat(64) }));
        assert.equal(code, 1);
        const line = c.out.find((l) => l.startsWith("Stored token: unreadable"))!;
        assert.match(line, /encrypted with another key .* than CLANK_SECRET_KEY/);
        assert.ok(!line.includes("7".repeat(64)));
      },
    );
  } finally {
    await c.close();
  }
});

Deno.test("runAuthCommand logout revokes and deletes the stored token", async () => {
  const c = await cli();
  try {
    assert.equal(await runAuthCommand([], c.config(), c.deps()), 0);
    const stored = (await (await c.store()).load())!;
    assert.equal(await runAuthCommand(["logout"], c.config(), c.deps()), 0);
    assert.equal(c.fake.isValid(stored.access_token), false);
    assert.equal(c.kv.data.size, 0);
    assert.ok(c.out.includes("Deleted the stored token"));
    c.out.length = 0;
    assert.equal(await runAuthCommand(["logout"], c.config(), c.deps()), 0);
    assert.deepEqual(c.out, ["No stored token"]);
  } finally {
    await c.close();
  }
});

Deno.test("runAuthCommand rejects an unknown subcommand with usage", async () => {
  const c = await cli();
  try {
    assert.equal(await runAuthCommand(["frobnicate"], c.config(), c.deps()), 2);
    assert.match(c.out[0]!, /Unknown auth command "frobnicate"; allowed: login, status, logout/);
    assert.ok(c.out.some((l) => l.startsWith("Usage: deno task auth")));
    assert.equal(c.fake.requests.length, 0);
  } finally {
    await c.close();
  }
});

Deno.test("expiryText formats the time left", () => {
  const now = Date.UTC(2025, 0, 1);
  assert.equal(expiryText(null, now), "never");
  assert.equal(expiryText(now + 3 * 3600_000 + 5 * 60_000, now), "2025-01-01T03:05:00.000Z (in 3h 5m)");
  assert.equal(expiryText(now + 90_000, now), "2025-01-01T00:01:30.000Z (in 1m)");
  assert.equal(expiryText(now - 1, now), "2024-12-31T23:59:59.999Z (expired)");
});

Deno.test("runAuthCommand status agrees with the bot about the token in use", async (t) => {
  const c = await cli();
  try {
    const store = await c.store();
    // A stored token of an earlier grant of the same user and app.
    const earlier = c.fake.issue({});
    await store.save({
      access_token: earlier.accessToken,
      refresh_token: earlier.refreshToken,
      scopes: ["chat:edit", "chat:read"],
      login: "clankbot",
      user_id: "1001",
      expires_at: Date.now() + 3600_000,
      client_id: c.fake.clientId,
      origin: "",
      saved_at: Date.now(),
    });
    const env = c.fake.issue({});
    const config = c.config({ oauth_token: env.accessToken });
    const { log } = memoryLogger();

    await t.step("an env token paired with a stored refresh token of its grant is refreshable", async () => {
      const bot = new TokenManager({ twitch: config.twitch, log, store });
      assert.equal((await bot.start()).refreshable, true);
      c.out.length = 0;
      assert.equal(await runAuthCommand(["status"], config, c.deps()), 0, c.out.join("\n"));
      assert.ok(c.out.includes("Token in use: TWITCH_OAUTH_TOKEN (environment)"), c.out.join("\n"));
      assert.ok(c.out.includes("Refresh: automatic (client id and refresh token present)"), c.out.join("\n"));
      // The bot refreshes (its login was rejected); the env token then expires at Twitch.
      assert.equal(await bot.onAuthFailure(), true);
      await bot.stop();
      c.fake.expire(env.accessToken);
    });

    await t.step("after a refresh: the stored successor of the env token, valid", async () => {
      const bot = new TokenManager({ twitch: config.twitch, log, store });
      assert.equal((await bot.start()).state, "valid");
      await bot.stop();
      c.out.length = 0;
      assert.equal(await runAuthCommand(["status"], config, c.deps()), 0, c.out.join("\n"));
      assert.ok(
        c.out.includes("Token in use: stored token refreshed from TWITCH_OAUTH_TOKEN"),
        c.out.join("\n"),
      );
      assert.ok(!c.out.includes("Twitch says: invalid, expired or revoked"));
      assert.ok(c.out.includes("Refresh: automatic (client id and refresh token present)"));
      assertNoSecrets(c);
    });

    await t.step("a stored token of another app: refresh is off and says why", async () => {
      c.out.length = 0;
      const other = c.config({ client_id: "anotherappclientid" });
      await runAuthCommand(["status"], other, c.deps());
      assert.ok(
        c.out.some((l) => l.startsWith("Refresh: not possible") && l.includes("anotherappclientid")),
        c.out.join("\n"),
      );
    });
  } finally {
    await c.close();
  }
});

Deno.test("runAuthCommand status never prints a malformed token", async (t) => {
  const c = await cli();
  try {
    for (const bad of ["k3j4h5g6f7d8s9a0q1w2e3r4t5y6u7\nx", "k3j4h5g6f7d8s9a0q1w2\u200be3r4t5y6u7"]) {
      await t.step(JSON.stringify(bad), async () => {
        c.out.length = 0;
        const requests = c.fake.requests.length;
        assert.equal(await runAuthCommand(["status"], c.config({ oauth_token: bad }), c.deps()), 1);
        assert.ok(c.out.every((l) => !l.includes("k3j4h5g6f7d8s9a0q1w2")), c.out.join("\n"));
        assert.ok(c.out.some((l) => l.includes("characters a token never has")), c.out.join("\n"));
        assert.ok(!c.out.some((l) => l.includes("could not be reached")), c.out.join("\n"));
        assert.equal(c.fake.requests.length, requests);
      });
    }
  } finally {
    await c.close();
  }
});

Deno.test("runAuthCommand login rides out short outages while polling", async (t) => {
  const c = await cli();
  try {
    await t.step("failures are counted in a row, and each one backs off", async () => {
      c.fake.device.approveAfterPolls = 3;
      // Polls 1-4 fail, poll 5 is pending, polls 6-9 fail, then it goes through: 8 failures in all,
      // never 5 in a row.
      const down = new Set([1, 2, 3, 4, 6, 7, 8, 9]);
      let polls = 0;
      const deps = c.deps({
        sleep: (ms) => {
          c.sleeps.push(ms);
          polls++;
          c.fake.tokenEndpointDown = down.has(polls) ? 503 : null;
          return Promise.resolve();
        },
      });
      assert.equal(await runAuthCommand([], c.config(), deps), 0, c.out.join("\n"));
      c.fake.tokenEndpointDown = null;
      // 5 s interval; after each failure in a row the wait doubles (RFC 8628 section 3.5).
      assert.deepEqual(c.sleeps.slice(0, 6), [5000, 10_000, 20_000, 40_000, 60_000, 5000]);
      assertNoSecrets(c);
    });

    await t.step("five failures in a row end the flow with the reason", async () => {
      c.sleeps.length = 0;
      c.out.length = 0;
      c.fake.device.approveAfterPolls = 100;
      const deps = c.deps({
        sleep: (ms) => {
          c.sleeps.push(ms);
          c.fake.tokenEndpointDown = 503;
          return Promise.resolve();
        },
      });
      assert.equal(await runAuthCommand([], c.config(), deps), 1);
      c.fake.tokenEndpointDown = null;
      assert.equal(c.sleeps.length, 5);
      assert.match(c.out.at(-1)!, /HTTP 503/);
    });
  } finally {
    c.fake.tokenEndpointDown = null;
    await c.close();
  }
});
