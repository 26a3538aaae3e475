import assert from "node:assert/strict";
import { isClankError } from "../core/errors.ts";
import { memoryLogger } from "../core/log.ts";
import { loadSecretKey, type SecretKey } from "../core/secret_key.ts";
import { SECRETS_NAMESPACE, type StoredToken, TokenStore, TWITCH_TOKEN_KEY } from "../core/token_store.ts";
import { MemoryKv } from "./fakes/memory_kv.ts";

const TOKEN: StoredToken = {
  access_token: "accesstokenabcdefghijklmnopqrs",
  refresh_token: "refreshtokenabcdefghijklmnopqrstuvwxyz0123456789ab",
  scopes: ["chat:edit", "chat:read"],
  login: "clankbot",
  user_id: "1001",
  expires_at: 1_700_000_000_000,
  client_id: "clientid",
  origin: "",
  saved_at: 1_699_990_000_000,
};

function envKey(hex: string): Promise<SecretKey> {
  return loadSecretKey({ envValue: hex, keyFile: "/nonexistent/never-created.key" });
}

Deno.test("TokenStore keeps the token encrypted in the secrets namespace", async (t) => {
  const kv = new MemoryKv();
  const key = await envKey("1".repeat(64));

  await t.step("load is undefined before anything is stored", async () => {
    assert.equal(await new TokenStore(kv, key).load(), undefined);
  });

  await t.step("save stores only an envelope, load returns the record", async () => {
    const store = new TokenStore(kv, key);
    await store.save(TOKEN);
    assert.deepEqual([...kv.data.keys()], [`${SECRETS_NAMESPACE}/${TWITCH_TOKEN_KEY}`]);
    const raw = kv.data.get("secrets/twitch_token")!;
    assert.match(raw, /^v1\./);
    for (const s of [TOKEN.access_token, TOKEN.refresh_token, "clankbot", "chat:read"]) {
      assert.ok(!raw.includes(s), `stored value shows ${s}`);
    }
    assert.deepEqual(await store.load(), TOKEN);
  });

  await t.step("save replaces the previous token", async () => {
    const store = new TokenStore(kv, key);
    await store.save({ ...TOKEN, access_token: "secondaccesstoken0000000000000" });
    assert.equal((await store.load())?.access_token, "secondaccesstoken0000000000000");
    assert.equal(kv.data.size, 1);
  });

  await t.step("load with another key is SECRET_KEY_INVALID", async () => {
    const other = new TokenStore(kv, await envKey("2".repeat(64)));
    await assert.rejects(other.load(), (err) => {
      assert.ok(isClankError(err, "SECRET_KEY_INVALID"));
      assert.match(err.message, /secrets\/twitch_token/);
      assert.match(err.message, /CLANK_SECRET_KEY/);
      return true;
    });
  });

  await t.step("clear deletes the token", async () => {
    const store = new TokenStore(kv, key);
    await store.clear();
    assert.equal(kv.data.size, 0);
    assert.equal(await store.load(), undefined);
  });
});

Deno.test("TokenStore registers loaded and saved tokens with the logger", async (t) => {
  const kv = new MemoryKv();
  const key = await envKey("3".repeat(64));

  await t.step("after save", async () => {
    const { log, lines } = memoryLogger();
    await new TokenStore(kv, key, log).save(TOKEN);
    log.info(`a ${TOKEN.access_token} b ${TOKEN.refresh_token}`);
    assert.equal(lines[0]!.includes(TOKEN.access_token) || lines[0]!.includes(TOKEN.refresh_token), false);
  });

  await t.step("after load in a fresh logger", async () => {
    const { log, lines } = memoryLogger();
    await new TokenStore(kv, key, log).load();
    log.error("oops", { token: TOKEN.access_token, refresh: TOKEN.refresh_token });
    assert.match(lines[0]!, /\[redacted\].*\[redacted\]/);
  });
});

Deno.test("TokenStore rejects a decrypted value that is not a token record", async () => {
  const kv = new MemoryKv();
  const key = await envKey("4".repeat(64));
  const { encryptSecret } = await import("../core/token_crypto.ts");
  await kv.kvSet("secrets", "twitch_token", await encryptSecret(key, '{"hello":1}', "secrets/twitch_token"));
  await assert.rejects(new TokenStore(kv, key).load(), (err) => {
    assert.ok(isClankError(err, "SECRET_DATA_INVALID"));
    assert.match(err.message, /deno task auth/);
    return true;
  });
});
