import assert from "node:assert/strict";
import FakeTimers from "@sinonjs/fake-timers";
import { runAuthCommand } from "../core/auth_cli.ts";
import { type Config, ConfigSchema } from "../core/config_schema.ts";
import { type ClankError, isClankError } from "../core/errors.ts";
import { memoryLogger } from "../core/log.ts";
import { Metrics } from "../core/metrics.ts";
import { decodeKeyText, keyTextForms, loadSecretKey, type SecretKey } from "../core/secret_key.ts";
import { SqliteStorage } from "../core/storage_sqlite.ts";
import { type Clock, createTokenManager, TokenManager } from "../core/token_manager.ts";
import { type StoredToken, TokenStore } from "../core/token_store.ts";
import { TwitchTransport } from "../core/twitch_transport.ts";
import { startFakeTwitch } from "./fakes/fake_twitch.ts";
import { type FakeTwitchOAuth, startFakeTwitchOAuth } from "./fakes/fake_twitch_oauth.ts";
import { MemoryKv } from "./fakes/memory_kv.ts";

const MIN = 60_000;
const HOUR = 60 * MIN;

type FakeClock = ReturnType<typeof FakeTimers.createClock>;

function clockOf(c: FakeClock): Clock {
  return {
    now: () => c.now,
    setTimeout: (fn, ms) => c.setTimeout(fn, ms),
    clearTimeout: (id) => c.clearTimeout(id as ReturnType<typeof c.setTimeout>),
  };
}

function envKey(hex: string): Promise<SecretKey> {
  return loadSecretKey({ envValue: hex, keyFile: "/nonexistent/never-created.key" });
}

interface Rig {
  fake: FakeTwitchOAuth;
  c: FakeClock;
  kv: MemoryKv;
  store: TokenStore;
  metrics: Metrics;
  lines: string[];
  make(
    twitch?: Partial<Config["twitch"]>,
    extra?: { store?: TokenStore | null; retryDelaysMs?: number[] },
  ): TokenManager;
  storedToken(spec?: Parameters<FakeTwitchOAuth["issue"]>[0]): Promise<StoredToken>;
  managers: TokenManager[];
  close(): Promise<void>;
}

async function rig(): Promise<Rig> {
  const c = FakeTimers.createClock(Date.UTC(2025, 0, 1));
  const fake = await startFakeTwitchOAuth({ now: () => c.now });
  const { log, lines } = memoryLogger("debug");
  const kv = new MemoryKv();
  const store = new TokenStore(kv, await envKey("5".repeat(64)), log);
  const metrics = new Metrics();
  const managers: TokenManager[] = [];
  return {
    fake,
    c,
    kv,
    store,
    metrics,
    lines,
    managers,
    make(twitch = {}, extra = {}) {
      const tm = new TokenManager({
        twitch: {
          username: "clankbot",
          oauth_token: "",
          client_id: fake.clientId,
          client_secret: fake.clientSecret,
          auth_url: fake.url,
          ...twitch,
        },
        log,
        store: extra.store === null ? undefined : (extra.store ?? store),
        clock: clockOf(c),
        metrics,
        retryDelaysMs: extra.retryDelaysMs ?? [],
      });
      managers.push(tm);
      return tm;
    },
    async storedToken(spec = {}) {
      const { accessToken, refreshToken } = fake.issue(spec);
      const record: StoredToken = {
        access_token: accessToken,
        refresh_token: refreshToken,
        scopes: spec.scopes ?? ["chat:edit", "chat:read"],
        login: spec.login ?? "clankbot",
        user_id: spec.userId ?? "1001",
        expires_at: c.now + (spec.expiresIn ?? 14_400) * 1000,
        client_id: fake.clientId,
        origin: "",
        saved_at: c.now,
      };
      await store.save(record);
      return record;
    },
    async close() {
      for (const m of managers) await m.stop();
      await fake.close();
    },
  };
}

async function tokenError(p: Promise<unknown>, ...fragments: string[]): Promise<ClankError> {
  try {
    await p;
  } catch (err) {
    assert.ok(isClankError(err, "TWITCH_TOKEN_INVALID"), `expected TWITCH_TOKEN_INVALID, got ${err}`);
    for (const f of fragments) {
      assert.ok(err.message.includes(f), `message lacks ${JSON.stringify(f)}: ${err.message}`);
    }
    return err;
  }
  throw new Error("Expected TWITCH_TOKEN_INVALID");
}

/** Advances fake time and waits for the validation/refresh it started (real HTTP to the fake). */
async function advance(r: Rig, tm: TokenManager, ms: number): Promise<void> {
  await r.c.tickAsync(ms);
  await tm.idle();
}

/** The value of one sample line in a Prometheus text exposition (0 when absent). */
function metricValue(text: string, sample: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${sample} `));
  return line ? Number(line.slice(sample.length + 1)) : 0;
}

function errorLines(lines: string[]): string[] {
  return lines.filter((l) => JSON.parse(l).level === "error");
}

Deno.test("TokenManager.start validates the token it picks", async (t) => {
  const r = await rig();
  try {
    await t.step("env token: valid, with owner, scopes and expiry, never the token", async () => {
      const { accessToken } = r.fake.issue({ expiresIn: 14_400 });
      const tm = r.make({ oauth_token: `oauth:${accessToken}` });
      const status = await tm.start();
      assert.equal(status.state, "valid");
      assert.equal(status.source, "env");
      assert.equal(status.login, "clankbot");
      assert.equal(status.userId, "1001");
      assert.deepEqual(status.scopes, ["chat:edit", "chat:read"]);
      assert.equal(status.expiresAt, r.c.now + 14_400_000);
      assert.equal(status.refreshable, false);
      assert.equal(r.fake.count("validate"), 1);
      assert.ok(!JSON.stringify(status).includes(accessToken));
      assert.equal(await tm.getToken(), accessToken);
    });

    await t.step("no token at all: absent, read-only, getToken says what to do", async () => {
      const tm = r.make({}, { store: null });
      const status = await tm.start();
      assert.equal(status.state, "absent");
      assert.equal(status.source, "none");
      assert.ok(r.lines.some((l) => l.includes("deno task auth")));
      await tokenError(tm.getToken(), "TWITCH_OAUTH_TOKEN");
      assert.equal(await tm.onAuthFailure(), false);
    });

    await t.step("stored token: used when no env token is set", async () => {
      const stored = await r.storedToken();
      const tm = r.make();
      const status = await tm.start();
      assert.equal(status.source, "storage");
      assert.equal(status.refreshable, true);
      assert.equal(await tm.getToken(), stored.access_token);
    });

    await t.step("env token wins over a stored token of another grant", async () => {
      await r.storedToken({ login: "clankbot", userId: "1001" });
      const { accessToken } = r.fake.issue({ login: "clankbot", userId: "1001", clientId: "otherclient" });
      const tm = r.make({ oauth_token: accessToken });
      const status = await tm.start();
      assert.equal(await tm.getToken(), accessToken);
      assert.equal(status.refreshable, false, "stored refresh token belongs to another client");
    });

    await t.step(
      "an unreachable Twitch leaves the token usable and unverified, retried in 5 minutes",
      async () => {
        const { accessToken } = r.fake.issue();
        const tm = new TokenManager({
          twitch: {
            username: "clankbot",
            oauth_token: accessToken,
            client_id: "",
            client_secret: "",
            auth_url: "http://127.0.0.1:9",
          },
          log: memoryLogger().log,
          clock: clockOf(r.c),
        });
        r.managers.push(tm);
        const status = await tm.start();
        assert.equal(status.state, "unverified");
        assert.match(status.message ?? "", /Could not reach Twitch/);
        assert.equal(await tm.getToken(), accessToken);
        await advance(r, tm, 5 * MIN);
        assert.equal(tm.status().state, "unverified", "validated again (still unreachable)");
      },
    );
  } finally {
    await r.close();
  }
});

Deno.test("TokenManager.start refuses a wrong token with one clear message", async (t) => {
  const r = await rig();
  try {
    await t.step("wrong scopes", async () => {
      const { accessToken } = r.fake.issue({ scopes: ["chat:read"] });
      const tm = r.make({ oauth_token: accessToken });
      const err = await tokenError(tm.start(), "chat:edit", "it has chat:read", "deno task auth");
      assert.ok(!err.message.includes(accessToken));
      assert.equal(tm.status().state, "invalid");
      assert.equal(await tm.onAuthFailure(), false);
    });

    await t.step("wrong owner", async () => {
      const { accessToken } = r.fake.issue({ login: "someoneelse", userId: "77" });
      const tm = r.make({ oauth_token: accessToken });
      await tokenError(
        tm.start(),
        "belongs to someoneelse",
        "TWITCH_BOT_USERNAME is clankbot",
        "deno task auth",
      );
    });

    await t.step("any owner when TWITCH_BOT_USERNAME is empty", async () => {
      const { accessToken } = r.fake.issue({ login: "someoneelse", userId: "77" });
      const status = await r.make({ oauth_token: accessToken, username: "" }).start();
      assert.equal(status.login, "someoneelse");
    });

    await t.step("an app access token", async () => {
      const { accessToken } = r.fake.issue({ login: "", userId: "" });
      await tokenError(r.make({ oauth_token: accessToken }).start(), "app access token");
    });

    await t.step("an expired env token without refresh: no refresh attempt, no retry", async () => {
      const { accessToken } = r.fake.issue();
      r.fake.expire(accessToken);
      const validates = r.fake.count("validate");
      const tm = r.make({ oauth_token: accessToken }, { store: null });
      await tokenError(tm.start(), "TWITCH_OAUTH_TOKEN", "expired or revoked", "deno task auth");
      assert.equal(r.fake.count("validate"), validates + 1);
      assert.equal(r.fake.count("token"), 0);
      assert.equal(await tm.onAuthFailure(), false);
      await advance(r, tm, 3 * HOUR);
      assert.equal(r.fake.count("validate"), validates + 1, "no timers after giving up");
    });

    await t.step("a stored token whose refresh token was revoked", async () => {
      const stored = await r.storedToken();
      r.fake.expire(stored.access_token);
      r.fake.revokeRefresh(stored.refresh_token);
      const tm = r.make();
      const err = await tokenError(tm.start(), "no longer accepts the refresh token", "deno task auth");
      assert.equal(err.details?.reason, "invalid_refresh_token");
      assert.equal(r.fake.count("token", "refresh_token"), 1);
    });
  } finally {
    await r.close();
  }
});

Deno.test("TokenManager refreshes", async (t) => {
  const r = await rig();
  try {
    await t.step("an expired stored token at start, storing the new one", async () => {
      const stored = await r.storedToken();
      r.fake.expire(stored.access_token);
      const tm = r.make();
      const status = await tm.start();
      assert.equal(status.state, "valid");
      const token = await tm.getToken();
      assert.notEqual(token, stored.access_token);
      assert.ok(r.fake.isValid(token));
      await tm.idle(); // the refreshed token is stored in the background
      const saved = (await r.store.load())!;
      assert.equal(saved.access_token, token);
      assert.notEqual(saved.refresh_token, stored.refresh_token);
      assert.equal(status.lastRefreshedAt, r.c.now);
      const metrics = await r.metrics.text();
      assert.match(metrics, /clank_twitch_token_refreshes_total\{trigger="expired",outcome="ok"\} 1/);
      await tm.stop();
    });

    await t.step("before expiry on fake time: 10 minutes early for a 1-hour token", async () => {
      const stored = await r.storedToken({ expiresIn: 3600 });
      const tm = r.make();
      await tm.start();
      const refreshes = r.fake.count("token");
      await advance(r, tm, 49 * MIN);
      assert.equal(r.fake.count("token"), refreshes, "not yet");
      assert.equal(await tm.getToken(), stored.access_token);
      await advance(r, tm, 1 * MIN + 1);
      assert.equal(r.fake.count("token"), refreshes + 1);
      const fresh = await tm.getToken();
      assert.notEqual(fresh, stored.access_token);
      assert.equal(tm.status().expiresAt, r.c.now + 3600_000);
      assert.equal((await r.store.load())!.access_token, fresh);
      await advance(r, tm, 50 * MIN + 1);
      assert.equal(r.fake.count("token"), refreshes + 2, "the next refresh follows the new expiry");
      await tm.stop();
    });

    await t.step("at 90 % of the remaining life when that is earlier", async () => {
      await r.storedToken({ expiresIn: 1000 }); // 90 % = 900 s, 10 min early = 400 s
      const tm = r.make();
      await tm.start();
      const refreshes = r.fake.count("token");
      await advance(r, tm, 399_000);
      assert.equal(r.fake.count("token"), refreshes);
      await advance(r, tm, 1000);
      assert.equal(r.fake.count("token"), refreshes + 1);
      await tm.stop();
    });

    await t.step("getToken refreshes a token about to expire when a timer was missed", async () => {
      const stored = await r.storedToken({ expiresIn: 30 });
      const tm = r.make();
      await tm.start(); // refresh timer due at once, but not run: fake time does not move
      const token = await tm.getToken();
      assert.notEqual(token, stored.access_token);
      await tm.stop();
    });

    await t.step("a transient failure is retried after the configured delay", async () => {
      await r.storedToken();
      const tm = r.make({}, { retryDelaysMs: [5000] });
      await tm.start();
      const before = r.fake.count("token");
      r.fake.failNextRefresh = 503;
      const result = tm.onAuthFailure();
      for (let i = 0; i < 500 && r.fake.count("token") < before + 2; i++) {
        // Real I/O to the fake must finish before the retry timer exists; yield, then move fake time.
        await new Promise((res) => setTimeout(res, 2));
        await r.c.tickAsync(5000);
      }
      assert.equal(await result, true);
      assert.equal(r.fake.count("token"), before + 2);
      assert.ok(r.lines.some((l) => l.includes("retrying")));
      await tm.stop();
    });
  } finally {
    await r.close();
  }
});

Deno.test("TokenManager validates every hour", async (t) => {
  const r = await rig();
  try {
    await t.step(
      "a non-expiring env token is validated hourly, then given up once when revoked",
      async () => {
        const { accessToken } = r.fake.issue({ expiresIn: 0 });
        const tm = r.make({ oauth_token: accessToken }, { store: null });
        const changes: string[] = [];
        tm.onChange((s) => changes.push(s.state));
        await tm.start();
        assert.equal(tm.status().expiresAt, null);
        await advance(r, tm, HOUR - 1);
        assert.equal(r.fake.count("validate"), 1);
        await advance(r, tm, 1);
        assert.equal(r.fake.count("validate"), 2);
        await advance(r, tm, HOUR);
        assert.equal(r.fake.count("validate"), 3);
        r.fake.expire(accessToken);
        await advance(r, tm, HOUR);
        assert.equal(tm.status().state, "invalid");
        assert.match(tm.status().message ?? "", /TWITCH_OAUTH_TOKEN of clankbot is expired or revoked/);
        assert.deepEqual(changes, ["invalid"]);
        assert.equal(errorLines(r.lines).length, 1);
        await advance(r, tm, 5 * HOUR);
        assert.equal(r.fake.count("validate"), 4, "no more validation after giving up");
        assert.equal(errorLines(r.lines).length, 1, "one message, no loop");
        await tokenError(tm.getToken(), "expired or revoked");
        await tm.stop();
      },
    );

    await t.step("a refreshable token that Twitch invalidated is refreshed at the hourly check", async () => {
      const stored = await r.storedToken({ expiresIn: 14_400 });
      const tm = r.make();
      await tm.start();
      const invalidBefore = metricValue(
        await r.metrics.text(),
        'clank_twitch_token_validations_total{outcome="invalid"}',
      );
      r.fake.expire(stored.access_token);
      await advance(r, tm, HOUR);
      assert.equal(tm.status().state, "valid");
      assert.notEqual(await tm.getToken(), stored.access_token);
      const metrics = await r.metrics.text();
      assert.equal(
        metricValue(metrics, 'clank_twitch_token_refreshes_total{trigger="validation",outcome="ok"}'),
        1,
      );
      assert.equal(
        metricValue(metrics, 'clank_twitch_token_validations_total{outcome="invalid"}'),
        invalidBefore + 1,
      );
      await tm.stop();
    });
  } finally {
    await r.close();
  }
});

Deno.test("TokenManager.onAuthFailure", async (t) => {
  const r = await rig();
  try {
    let tm: TokenManager | undefined;
    let before = 0;
    await t.step("refreshes once and returns true with a new token", async () => {
      const stored = await r.storedToken();
      tm = r.make();
      await tm.start();
      assert.equal(await tm.getToken(), stored.access_token);
      before = r.fake.count("token");
      assert.equal(await tm.onAuthFailure(), true);
      assert.equal(r.fake.count("token"), before + 1);
      const fresh = await tm.getToken();
      assert.notEqual(fresh, stored.access_token);
      assert.ok(r.fake.isValid(fresh));
      await tm.idle(); // stored in the background
      assert.equal((await r.store.load())!.access_token, fresh);
    });

    await t.step("a second rejection right after the refresh gives up with one message", async () => {
      const errors = errorLines(r.lines).length;
      assert.equal(await tm!.onAuthFailure(), false);
      assert.equal(r.fake.count("token"), before + 1, "no second refresh");
      assert.equal(errorLines(r.lines).length, errors + 1);
      assert.match(errorLines(r.lines).at(-1)!, /rejected the login again after a token refresh/);
      const requests = r.fake.requests.length;
      assert.equal(await tm!.onAuthFailure(), false);
      assert.equal(r.fake.requests.length, requests, "no request once given up");
      assert.equal(errorLines(r.lines).length, errors + 1, "still one message");
      await tm!.stop();
    });

    await t.step("concurrent failures share one refresh", async () => {
      await r.storedToken();
      const tm = r.make();
      await tm.start();
      await tm.getToken();
      const before = r.fake.count("token");
      assert.deepEqual(await Promise.all([tm.onAuthFailure(), tm.onAuthFailure(), tm.onAuthFailure()]), [
        true,
        true,
        true,
      ]);
      assert.equal(r.fake.count("token"), before + 1);
      await tm.stop();
    });

    await t.step("a rejected older token needs no refresh when a newer one exists", async () => {
      await r.storedToken({ expiresIn: 3600 });
      const tm = r.make();
      await tm.start();
      await tm.getToken(); // the transport logs in with this one...
      await advance(r, tm, 50 * MIN + 1); // ...a scheduled refresh replaces it...
      const before = r.fake.count("token");
      assert.equal(await tm.onAuthFailure(), true); // ...and the old login is rejected
      assert.equal(r.fake.count("token"), before);
      await tm.stop();
    });

    await t.step("a revoked refresh token: false, one clear message", async () => {
      const stored = await r.storedToken();
      const tm = r.make();
      await tm.start();
      await tm.getToken();
      r.fake.revokeRefresh(stored.refresh_token);
      const errors = errorLines(r.lines).length;
      assert.equal(await tm.onAuthFailure(), false);
      assert.equal(tm.status().state, "invalid");
      const line = errorLines(r.lines).at(-1)!;
      assert.match(line, /no longer accepts the refresh token of clankbot/);
      assert.match(line, /deno task auth/);
      assert.equal(await tm.onAuthFailure(), false);
      assert.equal(errorLines(r.lines).length, errors + 1);
      await tokenError(tm.getToken(), "deno task auth");
      await tm.stop();
    });

    await t.step("no refresh possible: explains why from a validation", async () => {
      const { accessToken } = r.fake.issue();
      const tm = r.make({ oauth_token: accessToken }, { store: null });
      await tm.start();
      await tm.getToken();
      r.fake.expire(accessToken);
      assert.equal(await tm.onAuthFailure(), false);
      assert.match(errorLines(r.lines).at(-1)!, /TWITCH_OAUTH_TOKEN of clankbot is expired or revoked/);
      assert.equal(r.fake.count("token"), r.fake.count("token", "refresh_token"));
      await tm.stop();
    });
  } finally {
    await r.close();
  }
});

Deno.test("TokenManager pairs an env token with a stored refresh token only when they belong together", async (t) => {
  const r = await rig();
  try {
    await t.step(
      "same user and client: refreshable, and the refreshed chain survives a restart",
      async () => {
        const stored = await r.storedToken({ userId: "1001" });
        const { accessToken: envToken } = r.fake.issue({ userId: "1001" });
        const tm = r.make({ oauth_token: envToken });
        assert.equal((await tm.start()).refreshable, true);
        assert.equal(await tm.getToken(), envToken);
        assert.equal(await tm.onAuthFailure(), true);
        const fresh = await tm.getToken();
        await tm.stop();
        assert.equal(
          r.fake.requests.find((q) => q.form.refresh_token)?.form.refresh_token,
          stored.refresh_token,
        );

        const again = r.make({ oauth_token: envToken });
        const status = await again.start();
        assert.equal(status.source, "env");
        assert.equal(await again.getToken(), fresh, "continues with the stored successor of the env token");
        assert.equal(r.fake.requests.at(-1)!.authorization, `OAuth ${fresh}`);
        await again.stop();
      },
    );

    await t.step("another user: not refreshable", async () => {
      await r.storedToken({ userId: "2002", login: "clankbot" });
      const { accessToken: envToken } = r.fake.issue({ userId: "1001" });
      const tm = r.make({ oauth_token: envToken });
      assert.equal((await tm.start()).refreshable, false);
      await tm.stop();
    });

    await t.step(
      "an expired env token is not refreshed with a stored token of unknown relation",
      async () => {
        await r.storedToken();
        const { accessToken: envToken } = r.fake.issue();
        r.fake.expire(envToken);
        const before = r.fake.count("token");
        await tokenError(r.make({ oauth_token: envToken }).start(), "another grant");
        assert.equal(r.fake.count("token"), before);
      },
    );
  } finally {
    await r.close();
  }
});

Deno.test("TokenManager.start with the wrong secret key is SECRET_KEY_INVALID", async () => {
  const r = await rig();
  try {
    await r.storedToken();
    const other = new TokenStore(r.kv, await envKey("6".repeat(64)));
    await assert.rejects(r.make({}, { store: other }).start(), (err) => {
      assert.ok(isClankError(err, "SECRET_KEY_INVALID"));
      assert.match(err.message, /CLANK_SECRET_KEY/);
      return true;
    });
  } finally {
    await r.close();
  }
});

/** Every way `secret` could show up in a byte dump or text. */
function formsOf(secret: string): string[] {
  const b64 = btoa(secret);
  return [secret, b64, b64.replace(/=+$/, ""), Array.from(new TextEncoder().encode(secret), hex).join("")];
}

function hex(b: number): string {
  return b.toString(16).padStart(2, "0");
}

function indexOfBytes(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

async function readIfExists(path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return new Uint8Array();
    throw err;
  }
}

Deno.test("TokenManager and deno task auth never leave a token or the key in plain text", async () => {
  const dir = await Deno.makeTempDir();
  const dbPath = `${dir}/clank.db`;
  const c = FakeTimers.createClock(Date.now());
  const fake = await startFakeTwitchOAuth({ now: () => c.now });
  const storage = new SqliteStorage(dbPath);
  const { log, lines } = memoryLogger("debug", "json");
  const consoleLog = memoryLogger("debug", "console");
  const out: string[] = [];
  const metrics = new Metrics();
  let tm: TokenManager | undefined;
  try {
    await storage.init();
    const config = ConfigSchema.parse({
      twitch: {
        username: "clankbot",
        client_id: fake.clientId,
        client_secret: fake.clientSecret,
        auth_url: fake.url,
      },
      auth: { key_file: `${dir}/secret.key` },
    });
    fake.device.approveAfterPolls = 1;
    fake.device.token = { expiresIn: 3600 };
    const deps = {
      log,
      storage,
      out: (l: string) => out.push(l),
      sleep: () => Promise.resolve(),
      env: () => undefined,
    };
    assert.equal(await runAuthCommand(["login"], config, deps), 0);

    tm = await createTokenManager(config, { log, storage, metrics, clock: clockOf(c), env: () => undefined });
    await tm.start();
    await tm.getToken();
    await c.tickAsync(50 * MIN + 1); // scheduled refresh
    await tm.idle();
    await tm.getToken(); // the transport logs in with the refreshed token, which chat rejects:
    assert.equal(await tm.onAuthFailure(), true); // refresh on auth failure
    log.debug("status", { status: tm.status() });
    consoleLog.log.info("token manager status", { status: tm.status() });
    assert.equal(await runAuthCommand(["status"], config, deps), 0);
    const metricsText = await metrics.text();

    // What must never appear.
    const keyText = (await Deno.readTextFile(config.auth.key_file)).trim();
    const keyBytes = decodeKeyText(keyText)!;
    const secrets = [
      ...fake.issued.flatMap((p) => [p.accessToken, p.refreshToken]),
      fake.clientSecret,
    ];
    assert.ok(fake.issued.length >= 3, "device grant plus two refreshes issued tokens");
    const textForms = [...secrets.flatMap(formsOf), ...keyTextForms(keyBytes)];

    const dbFiles = [dbPath, `${dbPath}-wal`, `${dbPath}-shm`];
    const scan = async (when: string) => {
      let scanned = 0;
      for (const file of dbFiles) {
        const bytes = await readIfExists(file);
        scanned += bytes.length;
        for (const form of textForms) {
          assert.equal(
            indexOfBytes(bytes, new TextEncoder().encode(form)),
            -1,
            `${file} (${when}) holds a secret`,
          );
        }
        assert.equal(indexOfBytes(bytes, keyBytes), -1, `${file} (${when}) holds the raw key`);
      }
      return scanned;
    };
    assert.ok((await scan("open")) > 0);
    // Positive control: the encrypted envelope is in the database, so the scan reads real content.
    const envelope = (await storage.kvGet("secrets", "twitch_token"))!;
    assert.match(envelope, /^v1\.[0-9a-f]{16}\./);

    const allText = [...lines, ...consoleLog.lines, ...out, metricsText];
    assert.ok(lines.length > 10, "debug logging was on");
    for (const line of allText) {
      for (const form of textForms) assert.ok(!line.includes(form), `output shows a secret: ${line}`);
    }
    assert.ok(out.some((l) => l.startsWith("Owner: clankbot")), "status printed the owner");

    await tm.stop();
    tm = undefined;
    await storage.close();
    await scan("closed");
    const dbBytes = await Deno.readFile(dbPath);
    assert.notEqual(indexOfBytes(dbBytes, new TextEncoder().encode(envelope.slice(0, 40))), -1);
  } finally {
    await tm?.stop();
    await storage.close().catch(() => {});
    await fake.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("TokenManager keeps the bot in chat through tmi.js when Twitch rejects the old token", async (t) => {
  const r = await rig();
  const fresh = r.fake.newToken();
  // Chat accepts only the token the next refresh hands out: the stored one is "expired" for IRC.
  const irc = await startFakeTwitch({ tokens: [fresh] });
  const { log, lines } = memoryLogger("debug");
  try {
    await t.step("the transport asks for a refresh and logs in again with the new token", async () => {
      const stored = await r.storedToken();
      r.fake.nextAccessTokens.push(fresh);
      const tm = r.make();
      await tm.start();
      const transport = new TwitchTransport({
        ircUrl: irc.url,
        username: "clankbot",
        token: () => tm.getToken(),
        onAuthFailure: () => tm.onAuthFailure(),
        log,
        metrics: r.metrics,
        joinIntervalMs: 500,
      });
      try {
        await transport.connect(["somechannel"]);
        assert.equal(transport.connected, true);
        assert.equal(irc.authFailures.length, 1, "the old token was refused once");
        assert.equal(r.fake.count("token", "refresh_token"), 1);
        assert.equal(await tm.getToken(), fresh);
        // The refreshed token is stored in the background (a database outage must not hold up the
        // reconnect); under load that save can still be running here.
        await tm.idle();
        assert.equal((await r.store.load())!.access_token, fresh);
        for (const line of [...lines, ...r.lines, ...irc.received]) {
          assert.ok(
            !line.includes(fresh) && !line.includes(stored.access_token),
            `a line shows a token: ${line}`,
          );
        }
      } finally {
        await transport.disconnect();
        await tm.stop();
      }
    });

    await t.step("a revoked refresh token ends in one message, not a reconnect loop", async () => {
      const stored = await r.storedToken();
      r.fake.revokeRefresh(stored.refresh_token);
      const tm = r.make();
      await tm.start();
      const transport = new TwitchTransport({
        ircUrl: irc.url,
        username: "clankbot",
        token: () => tm.getToken(),
        onAuthFailure: () => tm.onAuthFailure(),
        log,
        metrics: r.metrics,
        joinIntervalMs: 500,
      });
      const connections = irc.connectionCount;
      const refreshes = r.fake.count("token", "refresh_token");
      try {
        await assert.rejects(
          transport.connect(["somechannel"]),
          (err) => isClankError(err, "TWITCH_AUTH_FAILED"),
        );
        assert.equal(irc.connectionCount, connections + 1, "one login attempt");
        assert.equal(r.fake.count("token", "refresh_token"), refreshes + 1, "one refresh attempt");
        assert.equal(tm.status().state, "invalid");
        assert.match(tm.status().message!, /no longer accepts the refresh token.*deno task auth/);
        assert.equal(errorLines(r.lines).filter((l) => l.includes("refresh token")).length, 1);
      } finally {
        await transport.disconnect();
        await tm.stop();
      }
    });
  } finally {
    await irc.close();
    await r.close();
  }
});

Deno.test("TokenManager keeps chat going while the database is down", async (t) => {
  const r = await rig();
  try {
    await t.step("a refresh does not wait for the database to store the new token", async () => {
      const stored = await r.storedToken();
      r.fake.expire(stored.access_token);
      let release!: () => void;
      const blocked = new Promise<void>((resolve) => (release = resolve));
      // A store whose writes hang, as buffered writes do during an outage.
      const store = r.store as unknown as { save: (t: unknown) => Promise<void> };
      const save = store.save.bind(store);
      store.save = async (t) => {
        await blocked;
        return save(t);
      };
      const tm = r.make();
      await tm.start();
      const token = await tm.getToken();
      assert.ok(r.fake.isValid(token));
      // Shutdown during the outage: stop() gives the save a moment, then returns.
      let stopped = false;
      const stopping = tm.stop().then(() => (stopped = true));
      await r.c.tickAsync(1999);
      assert.equal(stopped, false, "stop() did not wait for the save at all");
      await r.c.tickAsync(1);
      await stopping;
      release();
    });
  } finally {
    await r.close();
  }
});

/** Moves fake time in `stepMs` steps, letting real I/O to the fake finish in between, until `done()`. */
async function until(r: Rig, done: () => boolean, stepMs: number, what: string): Promise<void> {
  for (let i = 0; i < 500 && !done(); i++) {
    await new Promise((res) => setTimeout(res, 2));
    await r.c.tickAsync(stepMs);
  }
  assert.ok(done(), `timed out waiting for ${what}`);
}

Deno.test("TokenManager rides out an outage of Twitch's token endpoint", async (t) => {
  const r = await rig();
  /**
   * A running manager whose token Twitch just rejected while its token endpoint answers `status`:
   * the login's wait (`answer` is set when it ends), once the manager says it is unverified.
   */
  const rejectedDuringOutage = async (status: number) => {
    const stored = await r.storedToken();
    const tm = r.make();
    await tm.start();
    await tm.getToken();
    r.fake.expire(stored.access_token);
    r.fake.tokenEndpointDown = status;
    const errors = errorLines(r.lines).length;
    const wait = { answer: undefined as boolean | undefined, result: Promise.resolve(false) };
    wait.result = tm.onAuthFailure().then((ok) => (wait.answer = ok));
    await until(r, () => tm.status().state === "unverified", 1000, "state unverified");
    return { tm, stored, errors, wait };
  };
  try {
    await t.step("mid-run: a rejected login waits for Twitch and then logs in again", async () => {
      const { tm, stored, errors, wait } = await rejectedDuringOutage(503);
      assert.match(tm.status().message ?? "", /Twitch's side/);
      assert.ok(
        r.lines.some((l) => /Twitch's side.*every minute/.test(JSON.parse(l).msg)),
        "the warning says whose side it is and that clank retries",
      );
      assert.equal(await tm.getToken(), stored.access_token, "the old token stays in use meanwhile");
      // A few minutes of outage: still waiting, never given up.
      await until(r, () => r.fake.count("token", "refresh_token") >= 3, MIN, "retries every minute");
      assert.equal(wait.answer, undefined);
      assert.notEqual(tm.status().state, "invalid");
      r.fake.tokenEndpointDown = null;
      await until(r, () => wait.answer !== undefined, MIN, "the refresh after Twitch recovered");
      await wait.result;
      assert.equal(wait.answer, true);
      assert.equal(tm.status().state, "valid");
      assert.equal(tm.status().message, null);
      const fresh = await tm.getToken();
      assert.notEqual(fresh, stored.access_token);
      assert.ok(r.fake.isValid(fresh));
      assert.equal(errorLines(r.lines).length, errors, "no error line for an outage");
      await tm.stop();
    });

    await t.step("HTTP 429 counts as an outage too", async () => {
      const { tm, wait } = await rejectedDuringOutage(429);
      r.fake.tokenEndpointDown = null;
      await until(r, () => wait.answer !== undefined, MIN, "recovery");
      await wait.result;
      assert.equal(wait.answer, true);
      await tm.stop();
    });

    await t.step("stop() ends the wait with false", async () => {
      const { tm, wait } = await rejectedDuringOutage(503);
      await tm.stop();
      await wait.result;
      assert.equal(wait.answer, false);
      r.fake.tokenEndpointDown = null;
    });

    await t.step("at start: an expired stored token and a 503 start unverified and recover", async () => {
      const stored = await r.storedToken();
      r.fake.expire(stored.access_token);
      r.fake.tokenEndpointDown = 503;
      const tm = r.make();
      const changes: string[] = [];
      tm.onChange((s) => changes.push(s.state));
      const status = await tm.start();
      assert.equal(status.state, "unverified");
      assert.match(status.message ?? "", /Twitch's side/);
      assert.equal(status.login, "clankbot");
      assert.equal(await tm.getToken(), stored.access_token);
      const refreshes = r.fake.count("token", "refresh_token");
      r.fake.tokenEndpointDown = null;
      await advance(r, tm, MIN);
      assert.equal(r.fake.count("token", "refresh_token"), refreshes + 1, "retried after a minute");
      assert.equal(tm.status().state, "valid");
      assert.ok(r.fake.isValid(await tm.getToken()));
      assert.deepEqual(changes, ["valid"]);
      await tm.stop();
    });

    await t.step(
      "hourly check: an invalidated token is refreshed every minute until Twitch answers",
      async () => {
        const stored = await r.storedToken();
        const tm = r.make();
        await tm.start();
        r.fake.expire(stored.access_token);
        r.fake.tokenEndpointDown = 503;
        await advance(r, tm, HOUR);
        assert.equal(tm.status().state, "unverified");
        r.fake.tokenEndpointDown = null;
        await advance(r, tm, MIN);
        assert.equal(tm.status().state, "valid");
        await tm.stop();
      },
    );
  } finally {
    r.fake.tokenEndpointDown = null;
    await r.close();
  }
});

Deno.test("TokenManager names a client id mismatch that turns refresh off", async (t) => {
  const r = await rig();
  try {
    await t.step("warns at start and names the cause when the token expires", async () => {
      const { accessToken, refreshToken } = r.fake.issue({ clientId: "appAclientid" });
      await r.store.save({
        access_token: accessToken,
        refresh_token: refreshToken,
        scopes: ["chat:edit", "chat:read"],
        login: "clankbot",
        user_id: "1001",
        expires_at: r.c.now + 4 * HOUR,
        client_id: "appAclientid",
        origin: "",
        saved_at: r.c.now,
      });
      const tm = r.make();
      const status = await tm.start();
      assert.equal(status.refreshable, false);
      const warning = r.lines.map((l) => JSON.parse(l)).find((l) =>
        l.level === "warn" && /client id/.test(l.msg)
      );
      assert.ok(warning, "a warning at start");
      assert.match(warning.msg, /appAclientid/);
      assert.match(warning.msg, /TWITCH_CLIENT_ID/);
      assert.match(warning.msg, /cannot be refreshed/);
      await advance(r, tm, 5 * HOUR);
      assert.equal(tm.status().state, "invalid");
      assert.match(tm.status().message ?? "", /appAclientid/);
      assert.match(tm.status().message ?? "", /TWITCH_CLIENT_ID/);
      await tm.stop();
    });
  } finally {
    await r.close();
  }
});

Deno.test("TokenManager reports a malformed token as malformed, never as Twitch unreachable", async (t) => {
  const r = await rig();
  try {
    for (
      const [name, bad] of [
        ["a zero-width space from a paste", "oauth:abcdefghij\u200bklmnopqrstuvwxyz0123"],
        ["a line break and a space", "abcdefghij klmnopqrstuvwxyz0123\nxyz"],
      ] as const
    ) {
      await t.step(name, async () => {
        const requests = r.fake.requests.length;
        const tm = r.make({ oauth_token: bad }, { store: null });
        const err = await tokenError(tm.start(), "TWITCH_OAUTH_TOKEN", "characters a token never has");
        assert.ok(!err.message.includes("abcdefghij"), err.message);
        assert.equal(tm.status().state, "invalid");
        assert.equal(r.fake.requests.length, requests, "no request with a broken token");
        assert.ok(r.lines.every((l) => !l.includes("abcdefghij")), "never echoed in a log line");
      });
    }

    await t.step("a space after the oauth: prefix is ignored", async () => {
      const { accessToken } = r.fake.issue();
      const tm = r.make({ oauth_token: `oauth: ${accessToken}` }, { store: null });
      assert.equal((await tm.start()).state, "valid");
      assert.equal(await tm.getToken(), accessToken, "tmi.js gets the token without the space");
      await tm.stop();
    });
  } finally {
    await r.close();
  }
});
