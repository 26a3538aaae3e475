import assert from "node:assert/strict";
import { isClankError } from "../core/errors.ts";
import { loadSecretKey, type SecretKey } from "../core/secret_key.ts";
import { decryptSecret, encryptSecret, ENVELOPE_VERSION } from "../core/token_crypto.ts";

const KEY_A = "a".repeat(64);
const KEY_B = "b".repeat(64);
const SECRET = "s3cr3t-token-value-0123456789";

function envKey(hex: string): Promise<SecretKey> {
  return loadSecretKey({ envValue: hex, keyFile: "/nonexistent/never-created.key" });
}

async function rejectsWith(p: Promise<unknown>, code: string, ...fragments: string[]): Promise<string> {
  try {
    await p;
  } catch (err) {
    assert.ok(isClankError(err), `expected a ClankError, got ${err}`);
    assert.equal(err.code, code, err.message);
    for (const f of fragments) {
      assert.ok(err.message.includes(f), `message lacks ${JSON.stringify(f)}: ${err.message}`);
    }
    assert.ok(!err.message.includes(SECRET), "message shows the plaintext");
    return err.message;
  }
  throw new Error(`Expected ${code}`);
}

Deno.test("encryptSecret writes a versioned AES-GCM envelope", async (t) => {
  const key = await envKey(KEY_A);

  await t.step("round trips and hides the plaintext", async () => {
    const env = await encryptSecret(key, SECRET, "secrets/x");
    const [version, kid, iv, ct, ...rest] = env.split(".");
    assert.equal(version, ENVELOPE_VERSION);
    assert.equal(kid, key.id);
    assert.equal(rest.length, 0);
    assert.match(iv!, /^[A-Za-z0-9_-]{16}$/, "96-bit IV in base64url");
    assert.match(ct!, /^[A-Za-z0-9_-]+$/);
    assert.ok(!env.includes(SECRET));
    assert.ok(!env.includes(btoa(SECRET).replace(/=+$/, "")));
    assert.equal(await decryptSecret(key, env, "secrets/x"), SECRET);
  });

  await t.step("uses a fresh IV every time", async () => {
    const envs = await Promise.all(Array.from({ length: 20 }, () => encryptSecret(key, SECRET, "secrets/x")));
    assert.equal(new Set(envs.map((e) => e.split(".")[2])).size, 20);
  });

  await t.step("round trips unicode and empty text", async () => {
    for (const text of ["", "ünïcødé ✓", "x".repeat(10_000)]) {
      assert.equal(await decryptSecret(key, await encryptSecret(key, text, "c"), "c"), text);
    }
  });
});

Deno.test("decryptSecret names what is wrong", async (t) => {
  const keyA = await envKey(KEY_A);
  const keyB = await envKey(KEY_B);
  const env = await encryptSecret(keyA, SECRET, "secrets/twitch_token");

  await t.step("a different key is SECRET_KEY_INVALID naming the key source and what to do", async () => {
    const msg = await rejectsWith(
      decryptSecret(keyB, env, "secrets/twitch_token"),
      "SECRET_KEY_INVALID",
      "CLANK_SECRET_KEY",
      keyA.id,
      keyB.id,
      "deno task auth",
    );
    assert.ok(!msg.includes(KEY_A) && !msg.includes(KEY_B), "message shows a key");
  });

  await t.step("a different key with a forged key id still fails (GCM tag)", async () => {
    const forged = env.replace(`.${keyA.id}.`, `.${keyB.id}.`);
    await rejectsWith(decryptSecret(keyB, forged, "secrets/twitch_token"), "SECRET_DATA_INVALID", "damaged");
  });

  await t.step("a key file source is named as such", async () => {
    const dir = await Deno.makeTempDir();
    try {
      const fileKey = await loadSecretKey({ keyFile: `${dir}/k.key` });
      await rejectsWith(
        decryptSecret(fileKey, env, "secrets/twitch_token"),
        "SECRET_KEY_INVALID",
        "key file",
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });

  await t.step("an envelope moved to another entry does not decrypt", async () => {
    await rejectsWith(decryptSecret(keyA, env, "secrets/other"), "SECRET_DATA_INVALID", "secrets/other");
  });

  await t.step("a flipped ciphertext bit is SECRET_DATA_INVALID", async () => {
    const parts = env.split(".");
    const ct = parts[3]!;
    parts[3] = (ct[0] === "A" ? "B" : "A") + ct.slice(1);
    await rejectsWith(decryptSecret(keyA, parts.join("."), "secrets/twitch_token"), "SECRET_DATA_INVALID");
  });

  await t.step("a truncated or garbled envelope is SECRET_DATA_INVALID", async () => {
    for (const bad of [env.split(".").slice(0, 3).join("."), `${env}.extra`, "v1.abc.!!!.???", "v1...."]) {
      await rejectsWith(decryptSecret(keyA, bad, "secrets/twitch_token"), "SECRET_DATA_INVALID");
    }
  });

  await t.step("another format version names the version", async () => {
    await rejectsWith(decryptSecret(keyA, env.replace(/^v1/, "v9"), "c"), "SECRET_DATA_INVALID", "v9", "v1");
    await rejectsWith(decryptSecret(keyA, "plain text", "c"), "SECRET_DATA_INVALID", "unknown format");
  });
});
