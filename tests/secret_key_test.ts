import assert from "node:assert/strict";
import { isClankError } from "../core/errors.ts";
import { memoryLogger } from "../core/log.ts";
import fc from "fast-check";
import {
  decodeEnvKeyText,
  decodeKeyText,
  keyTextForms,
  loadSecretKey,
  MIN_PASSPHRASE_LENGTH,
} from "../core/secret_key.ts";

const HEX_KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

function bytesOfHex(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g)!, (h) => parseInt(h, 16));
}

async function expectKeyError(p: Promise<unknown>, ...fragments: string[]): Promise<string> {
  try {
    await p;
  } catch (err) {
    assert.ok(isClankError(err, "SECRET_KEY_INVALID"), `expected SECRET_KEY_INVALID, got ${err}`);
    for (const f of fragments) {
      assert.ok(err.message.includes(f), `message lacks ${JSON.stringify(f)}: ${err.message}`);
    }
    return err.message;
  }
  throw new Error("Expected SECRET_KEY_INVALID");
}

Deno.test("decodeKeyText accepts 32 bytes as hex, base64 or base64url only", async (t) => {
  const bytes = bytesOfHex(HEX_KEY);
  const [b64, b64nopad, b64url] = keyTextForms(bytes);
  await t.step("every form decodes to the same bytes", () => {
    for (const form of [HEX_KEY, HEX_KEY.toUpperCase(), b64!, b64nopad!, b64url!, ` ${b64}\n`]) {
      assert.deepEqual(decodeKeyText(form), bytes, form);
    }
  });
  await t.step("other lengths and alphabets are not keys", () => {
    assert.equal(decodeKeyText(HEX_KEY.slice(2)), undefined);
    assert.equal(decodeKeyText(btoa("x".repeat(31))), undefined);
    assert.equal(decodeKeyText(btoa("x".repeat(33))), undefined);
    assert.equal(decodeKeyText("correct horse battery staple"), undefined);
  });
});

Deno.test("loadSecretKey reads CLANK_SECRET_KEY", async (t) => {
  const dir = await Deno.makeTempDir();
  const keyFile = `${dir}/never.key`;
  try {
    await t.step("hex, base64 and base64url of one key give one key id", async () => {
      const forms = [HEX_KEY, ...keyTextForms(bytesOfHex(HEX_KEY)).slice(0, 3)];
      const ids = new Set<string>();
      for (const envValue of forms) {
        const key = await loadSecretKey({ envValue, keyFile });
        assert.equal(key.source, "env");
        assert.match(key.description, /CLANK_SECRET_KEY \(32-byte key\)/);
        assert.match(key.id, /^[0-9a-f]{16}$/);
        ids.add(key.id);
      }
      assert.equal(ids.size, 1);
      await assert.rejects(Deno.stat(keyFile), Deno.errors.NotFound, "no key file when the env key is set");
    });

    await t.step("a passphrase is stretched to a stable key", async () => {
      const a = await loadSecretKey({ envValue: "correct horse battery staple", keyFile });
      const b = await loadSecretKey({ envValue: "correct horse battery staple", keyFile });
      const c = await loadSecretKey({ envValue: "correct horse battery stapler", keyFile });
      assert.match(a.description, /passphrase/);
      assert.equal(a.id, b.id);
      assert.notEqual(a.id, c.id);
    });

    await t.step("a short value that is no key is refused without echoing it", async () => {
      const value = "x".repeat(MIN_PASSPHRASE_LENGTH - 1);
      const msg = await expectKeyError(
        loadSecretKey({ envValue: value, keyFile }),
        "CLANK_SECRET_KEY",
        "openssl",
      );
      assert.ok(!msg.includes(value));
    });

    await t.step("every text form of the key is registered with the logger", async () => {
      const { log, lines } = memoryLogger();
      await loadSecretKey({ envValue: HEX_KEY, keyFile, log });
      for (const form of keyTextForms(bytesOfHex(HEX_KEY))) log.info(`key is ${form}`);
      assert.equal(lines.length, 5);
      for (const line of lines) {
        assert.ok(line.includes("[redacted]"), line);
        assert.ok(!line.includes(HEX_KEY), line);
      }
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadSecretKey keeps the key in a mode 0600 file", async (t) => {
  const dir = await Deno.makeTempDir();
  const keyFile = `${dir}/nested/data/secret.key`;
  try {
    let firstId = "";
    await t.step("creates the file (and its directory) with mode 0600 on first use", async () => {
      const key = await loadSecretKey({ keyFile });
      assert.equal(key.created, true);
      assert.equal(key.source, "file");
      assert.equal(key.description, `key file ${keyFile}`);
      const stat = await Deno.stat(keyFile);
      assert.equal(stat.mode! & 0o777, 0o600);
      assert.ok(decodeKeyText(await Deno.readTextFile(keyFile)), "file holds a 32-byte key");
      firstId = key.id;
    });

    await t.step("later loads read the same key", async () => {
      const key = await loadSecretKey({ keyFile, envValue: "" });
      assert.equal(key.created, false);
      assert.equal(key.id, firstId);
    });

    await t.step("the key in the file is registered with the logger", async () => {
      const { log, lines } = memoryLogger();
      await loadSecretKey({ keyFile, log });
      const text = (await Deno.readTextFile(keyFile)).trim();
      log.info("leak", { key: text });
      assert.ok(!lines[0]!.includes(text));
    });

    await t.step("refuses a file other users can read, saying how to fix it", async () => {
      await Deno.chmod(keyFile, 0o644);
      await expectKeyError(loadSecretKey({ keyFile }), keyFile, "0644", `chmod 600 ${keyFile}`);
      await Deno.chmod(keyFile, 0o640);
      await expectKeyError(loadSecretKey({ keyFile }), "0640");
      await Deno.chmod(keyFile, 0o600);
      assert.equal((await loadSecretKey({ keyFile })).id, firstId);
    });

    await t.step("refuses a file that holds no key", async () => {
      const bad = `${dir}/bad.key`;
      await Deno.writeTextFile(bad, "not a key\n", { mode: 0o600 });
      await Deno.chmod(bad, 0o600);
      await expectKeyError(loadSecretKey({ keyFile: bad }), bad, "32-byte key");
    });

    await t.step("a key file path that cannot be created is a clear error", async () => {
      const blocker = `${dir}/blocker`;
      await Deno.writeTextFile(blocker, "");
      await expectKeyError(
        loadSecretKey({ keyFile: `${blocker}/secret.key` }),
        `${blocker}/secret.key`,
        "auth.key_file",
      );
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** The decoder before canonical checking, kept to prove every canonical key still decodes the same. */
function legacyDecode(text: string): Uint8Array | undefined {
  const t = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) return bytesOfHex(t);
  if (!/^[A-Za-z0-9+/_-]{43}=?$/.test(t)) return undefined;
  const bin = atob(t.replace(/-/g, "+").replace(/_/g, "/").replace(/=$/, "") + "=");
  return bin.length === 32 ? Uint8Array.from(bin, (c) => c.charCodeAt(0)) : undefined;
}

Deno.test("CLANK_SECRET_KEY is a raw key only when it clearly is one", async (t) => {
  await t.step("a 43-character hyphenated passphrase is a passphrase, stretched with PBKDF2", async () => {
    const passphrase = "correct-horse-battery-staple-purple-monkeys";
    assert.equal(decodeEnvKeyText(passphrase), undefined);
    const key = await loadSecretKey({ envValue: passphrase, keyFile: "/nonexistent/k" });
    assert.match(key.description, /\(passphrase\)/);
  });

  await t.step("two values that differ only in ignored low bits are two passphrases, two keys", async () => {
    const a = await loadSecretKey({ envValue: "a".repeat(42) + "b", keyFile: "/nonexistent/k" });
    const b = await loadSecretKey({ envValue: "a".repeat(43), keyFile: "/nonexistent/k" });
    assert.notEqual(a.id, b.id);
    assert.match(a.description, /passphrase/);
  });

  await t.step("non-canonical base64 is not a key", () => {
    const [b64] = keyTextForms(bytesOfHex(HEX_KEY));
    // The 43rd character carries 2 spare bits; set one of them.
    const last = b64!.charAt(42);
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const tweaked = b64!.slice(0, 42) + alphabet[alphabet.indexOf(last) + 1] + "=";
    assert.deepEqual(legacyDecode(tweaked), legacyDecode(b64!), "the old decoder merged them");
    assert.equal(decodeKeyText(tweaked), undefined);
  });

  await t.step("every padded base64 key (openssl, key file) decodes as before", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (bytes) => {
        const [b64] = keyTextForms(bytes);
        assert.deepEqual(decodeEnvKeyText(b64!), legacyDecode(b64!));
        assert.deepEqual(decodeKeyText(b64!), bytes);
        const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
        assert.deepEqual(decodeEnvKeyText(hex), bytes);
      }),
      { numRuns: 500 },
    );
  });

  await t.step("every form of a generated key decodes as before and gives the same key id", async () => {
    for (let i = 0; i < 200; i++) {
      const bytes = crypto.getRandomValues(new Uint8Array(32));
      for (const form of keyTextForms(bytes)) {
        assert.deepEqual(decodeEnvKeyText(form), legacyDecode(form), form);
        assert.deepEqual(decodeEnvKeyText(form), bytes, form);
      }
    }
    const bytes = bytesOfHex(HEX_KEY);
    const ids = new Set<string>();
    for (const envValue of keyTextForms(bytes)) {
      ids.add((await loadSecretKey({ envValue, keyFile: "/nonexistent/k" })).id);
    }
    assert.equal(ids.size, 1);
  });
});
