import assert from "node:assert/strict";
import { ClankError, isClankError } from "../core/errors.ts";
import { memoryLogger } from "../core/log.ts";
import {
  DEVICE_GRANT_TYPE,
  isTransientAuthError,
  stripOAuthPrefix,
  TwitchOAuth,
} from "../core/twitch_oauth.ts";
import { type FakeTwitchOAuth, startFakeTwitchOAuth } from "./fakes/fake_twitch_oauth.ts";

function clientFor(fake: FakeTwitchOAuth, extra: { clientSecret?: string; clientId?: string } = {}) {
  const { log, lines } = memoryLogger();
  const oauth = new TwitchOAuth({
    authUrl: fake.url,
    clientId: extra.clientId ?? fake.clientId,
    clientSecret: extra.clientSecret ?? fake.clientSecret,
    log,
  });
  return { oauth, lines, log };
}

async function rejection(p: Promise<unknown>): Promise<ClankError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ClankError, `expected ClankError, got ${err}`);
    return err;
  }
  throw new Error("Expected a rejection");
}

Deno.test("TwitchOAuth.validate", async (t) => {
  const fake = await startFakeTwitchOAuth();
  try {
    const { oauth, lines } = clientFor(fake);
    const { accessToken } = fake.issue({
      login: "ClankBot",
      userId: "42",
      scopes: ["chat:read"],
      expiresIn: 3600,
    });

    await t.step("returns owner, scopes and remaining lifetime", async () => {
      const info = await oauth.validate(accessToken);
      assert.deepEqual(info, {
        clientId: fake.clientId,
        login: "clankbot",
        userId: "42",
        scopes: ["chat:read"],
        expiresIn: info.expiresIn,
      });
      assert.ok(info.expiresIn > 3590 && info.expiresIn <= 3600);
      const req = fake.requests.at(-1)!;
      assert.equal(req.method, "GET");
      assert.equal(req.authorization, `OAuth ${accessToken}`);
    });

    await t.step("accepts the oauth: prefix of the IRC form", async () => {
      assert.equal((await oauth.validate(`oauth:${accessToken}`)).userId, "42");
      assert.equal(fake.requests.at(-1)!.authorization, `OAuth ${accessToken}`);
      assert.equal(stripOAuthPrefix(" OAuth:abc "), "abc");
    });

    await t.step("an expired token is TWITCH_TOKEN_INVALID", async () => {
      fake.expire(accessToken);
      const err = await rejection(oauth.validate(accessToken));
      assert.equal(err.code, "TWITCH_TOKEN_INVALID");
      assert.ok(!err.message.includes(accessToken));
      assert.equal(isTransientAuthError(err), false);
    });

    await t.step("never logs the token", () => {
      assert.ok(lines.length > 0, "debug lines were written");
      for (const l of lines) assert.ok(!l.includes(accessToken), l);
    });
  } finally {
    await fake.close();
  }
});

Deno.test("TwitchOAuth.refresh", async (t) => {
  const fake = await startFakeTwitchOAuth();
  try {
    const { oauth } = clientFor(fake);
    const first = fake.issue({ login: "clankbot", expiresIn: 600 });

    await t.step("trades a refresh token for a new token", async () => {
      const grant = await oauth.refresh(first.refreshToken);
      assert.notEqual(grant.accessToken, first.accessToken);
      assert.notEqual(grant.refreshToken, first.refreshToken);
      assert.deepEqual(grant.scopes, ["chat:edit", "chat:read"]);
      assert.equal(grant.expiresIn, 600);
      const req = fake.requests.at(-1)!;
      assert.equal(req.method, "POST");
      assert.deepEqual(req.form, {
        client_id: fake.clientId,
        client_secret: fake.clientSecret,
        grant_type: "refresh_token",
        refresh_token: first.refreshToken,
      });
    });

    await t.step(
      "a used or revoked refresh token is TWITCH_TOKEN_INVALID (invalid_refresh_token)",
      async () => {
        const err = await rejection(oauth.refresh(first.refreshToken));
        assert.equal(err.code, "TWITCH_TOKEN_INVALID");
        assert.equal(err.details?.reason, "invalid_refresh_token");
        assert.ok(!err.message.includes(first.refreshToken));
      },
    );

    await t.step("a wrong client secret is a permanent TWITCH_AUTH_FAILED naming the settings", async () => {
      const { oauth: bad } = clientFor(fake, { clientSecret: "wrongsecret000" });
      const err = await rejection(bad.refresh(fake.issue().refreshToken));
      assert.equal(err.code, "TWITCH_AUTH_FAILED");
      assert.equal(isTransientAuthError(err), false);
      assert.match(err.message, /TWITCH_CLIENT_SECRET/);
      assert.ok(!err.message.includes("wrongsecret000"));
    });

    await t.step("a public client refreshes without a secret", async () => {
      const { oauth: pub } = clientFor(fake, { clientSecret: "" });
      await pub.refresh(fake.issue().refreshToken);
      assert.equal(fake.requests.at(-1)!.form.client_secret, undefined);
    });

    await t.step("Twitch answering 5xx is transient", async () => {
      fake.failNextRefresh = 503;
      const err = await rejection(oauth.refresh(fake.issue().refreshToken));
      assert.equal(err.code, "TWITCH_AUTH_FAILED");
      assert.equal(isTransientAuthError(err), true);
      assert.match(err.message, /HTTP 503/);
    });

    await t.step("no client id is a clear error before any request", async () => {
      const before = fake.requests.length;
      const { oauth: none } = clientFor(fake, { clientId: "" });
      const err = await rejection(none.refresh("whatever0000"));
      assert.match(err.message, /TWITCH_CLIENT_ID is not set/);
      assert.equal(fake.requests.length, before);
    });
  } finally {
    await fake.close();
  }
});

Deno.test("TwitchOAuth reports an unreachable Twitch as transient", async () => {
  const fake = await startFakeTwitchOAuth();
  const url = fake.url;
  await fake.close();
  const oauth = new TwitchOAuth({ authUrl: url, clientId: "x" });
  const err = await rejection(oauth.validate("sometoken000000"));
  assert.equal(err.code, "TWITCH_AUTH_FAILED");
  assert.ok(isTransientAuthError(err));
  assert.ok(err.message.includes(url));
  assert.ok(!err.message.includes("sometoken000000"));
});

Deno.test("TwitchOAuth device code grant", async (t) => {
  const fake = await startFakeTwitchOAuth();
  try {
    const { oauth } = clientFor(fake);
    const scopes = ["chat:read", "chat:edit"];

    await t.step("startDeviceFlow returns code, URL, lifetime and interval", async () => {
      const d = await oauth.startDeviceFlow(scopes);
      assert.match(d.userCode, /^[A-Z0-9]{8}$/);
      assert.ok(d.verificationUri.includes(d.userCode));
      assert.equal(d.expiresIn, 1800);
      assert.equal(d.interval, 5);
      assert.deepEqual(fake.requests.at(-1)!.form, {
        client_id: fake.clientId,
        scopes: "chat:read chat:edit",
      });
    });

    await t.step("polls go pending, slow_down, then ok", async () => {
      fake.device.approveAfterPolls = 2;
      fake.device.slowDownAtPolls = [2];
      fake.device.token = { login: "clankbot" };
      const d = await oauth.startDeviceFlow(scopes);
      const seen = [];
      for (let i = 0; i < 3; i++) seen.push((await oauth.pollDeviceToken(d.deviceCode, scopes)).status);
      assert.deepEqual(seen, ["pending", "slow_down", "ok"]);
      const req = fake.requests.at(-1)!;
      assert.equal(req.form.grant_type, DEVICE_GRANT_TYPE);
      assert.equal(req.form.device_code, d.deviceCode);
      assert.equal(req.form.scopes, "chat:read chat:edit");
    });

    await t.step("the approved grant carries the tokens", async () => {
      fake.device.approveAfterPolls = 0;
      fake.device.slowDownAtPolls = [];
      const d = await oauth.startDeviceFlow(scopes);
      const poll = await oauth.pollDeviceToken(d.deviceCode, scopes);
      assert.equal(poll.status, "ok");
      if (poll.status !== "ok") return;
      assert.ok(fake.isValid(poll.grant.accessToken));
      assert.deepEqual(poll.grant.scopes, scopes);
    });

    await t.step("an expired code is reported as expired (Twitch text and RFC code)", async () => {
      fake.device.expired = true;
      for (const message of ["invalid device code", "expired_token"]) {
        fake.device.expiredMessage = message;
        const d = await oauth.startDeviceFlow(scopes);
        assert.equal((await oauth.pollDeviceToken(d.deviceCode, scopes)).status, "expired");
      }
      fake.device.expired = false;
    });

    await t.step("a denied request is reported as denied", async () => {
      fake.device.denied = true;
      const d = await oauth.startDeviceFlow(scopes);
      assert.equal((await oauth.pollDeviceToken(d.deviceCode, scopes)).status, "denied");
      fake.device.denied = false;
    });

    await t.step("an unknown client cannot start the flow", async () => {
      const { oauth: other } = clientFor(fake, { clientId: "someoneelse" });
      const err = await rejection(other.startDeviceFlow(scopes));
      assert.equal(err.code, "TWITCH_AUTH_FAILED");
      assert.match(err.message, /HTTP 400/);
    });
  } finally {
    await fake.close();
  }
});

Deno.test("TwitchOAuth.revoke", async (t) => {
  const fake = await startFakeTwitchOAuth();
  try {
    const { oauth } = clientFor(fake);
    const { accessToken } = fake.issue();

    await t.step("revokes a token", async () => {
      await oauth.revoke(accessToken);
      assert.equal(fake.isValid(accessToken), false);
      assert.deepEqual(fake.requests.at(-1)!.form, { client_id: fake.clientId, token: accessToken });
    });

    await t.step("an already invalid token is not an error", async () => {
      await oauth.revoke(accessToken);
    });

    await t.step("an unknown client is an error", async () => {
      const { oauth: other } = clientFor(fake, { clientId: "someoneelse" });
      const err = await rejection(other.revoke(fake.issue().accessToken));
      assert.ok(isClankError(err, "TWITCH_AUTH_FAILED"));
      assert.match(err.message, /404/);
    });
  } finally {
    await fake.close();
  }
});

Deno.test("TwitchOAuth refuses a malformed token before any request, without echoing it", async (t) => {
  const fake = await startFakeTwitchOAuth();
  try {
    const { oauth, lines } = clientFor(fake);
    for (
      const bad of [
        "abcdefghij\u200bklmnopqrstuvwxyz0123",
        "abcdefghij klmnopqrstuvwxyz0123",
        "k3j4h5g6f7d8s9a0q1w2e3r4t5y6u7\nx",
        "k3j4h5g6f7d8s9a0q1w2e3r4t5y6u7\r\nx",
        "ünïcödétoken0000000000000000",
      ]
    ) {
      await t.step(JSON.stringify(bad), async () => {
        const before = fake.requests.length;
        for (const call of [() => oauth.validate(bad), () => oauth.revoke(bad)]) {
          const err = await rejection(call());
          assert.equal(err.code, "TWITCH_TOKEN_INVALID");
          assert.equal(err.details?.reason, "malformed_token");
          assert.equal(isTransientAuthError(err), false, "not 'Twitch unreachable'");
          assert.match(err.message, /characters a token never has/);
          assert.ok(!err.message.includes(bad.slice(0, 10)), err.message);
        }
        assert.equal(fake.requests.length, before);
      });
    }
    await t.step("nothing about them was logged", () => {
      for (const l of lines) assert.ok(!/abcdefghij|k3j4h5g6/.test(l), l);
    });
  } finally {
    await fake.close();
  }
});

Deno.test("stripOAuthPrefix drops the spaces around a token after the prefix too", () => {
  assert.equal(stripOAuthPrefix("oauth: abc123"), "abc123");
  assert.equal(stripOAuthPrefix(" oauth:\tabc123 \n"), "abc123");
  assert.equal(stripOAuthPrefix("abc123"), "abc123");
});

Deno.test("TwitchOAuth treats 429 and 408 as transient, other 4xx as not", async (t) => {
  const fake = await startFakeTwitchOAuth();
  try {
    const { oauth } = clientFor(fake);
    for (const [status, transient] of [[429, true], [408, true], [503, true], [418, false]] as const) {
      await t.step(`HTTP ${status}`, async () => {
        fake.tokenEndpointDown = status;
        const err = await rejection(oauth.refresh(fake.issue().refreshToken));
        fake.tokenEndpointDown = null;
        assert.equal(isTransientAuthError(err), transient);
      });
    }
  } finally {
    fake.tokenEndpointDown = null;
    await fake.close();
  }
});
