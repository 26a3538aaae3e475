/**
 * AES-256-GCM encryption of stored secrets. An envelope is one ASCII string
 * `v1.<key id>.<iv>.<ciphertext+tag>` (base64url parts, random 96-bit IV). The version lets a later
 * format coexist; the key id lets a wrong key be named as such instead of as "corrupt data"; the
 * context (e.g. `secrets/twitch_token`) is bound as additional data, so a ciphertext copied to another
 * entry does not decrypt.
 * @module
 */
import { ClankError } from "./errors.ts";
import type { SecretKey } from "./secret_key.ts";

/** The envelope version this module writes. */
export const ENVELOPE_VERSION = "v1";

/** Encrypts `plaintext` for `context` (the place it is stored). */
export async function encryptSecret(key: SecretKey, plaintext: string, context: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: aad(context) },
    key.cryptoKey,
    new TextEncoder().encode(plaintext),
  );
  return [ENVELOPE_VERSION, key.id, toBase64Url(iv), toBase64Url(new Uint8Array(ct))].join(".");
}

/**
 * Decrypts an envelope written by {@link encryptSecret} for the same context. A different key throws
 * `SECRET_KEY_INVALID` naming the key source; a damaged envelope throws `SECRET_DATA_INVALID`.
 */
export async function decryptSecret(key: SecretKey, envelope: string, context: string): Promise<string> {
  const parts = envelope.split(".");
  const [version, keyId, ivText, ctText] = parts;
  if (version !== ENVELOPE_VERSION) {
    const seen = /^v\d{1,4}$/.test(version ?? "") ? `format ${version}` : "an unknown format";
    throw new ClankError(
      "SECRET_DATA_INVALID",
      `Stored secret ${context} has ${seen}; this version of clank reads ${ENVELOPE_VERSION}: ` +
        `upgrade clank, or run deno task auth to store the token again`,
      { details: { context } },
    );
  }
  if (parts.length !== 4 || !keyId || !/^[0-9a-f]{16}$/.test(keyId) || !ivText || !ctText) {
    throw damaged(context);
  }
  if (keyId !== key.id) throw wrongKey(key, keyId, context);
  let plain: ArrayBuffer;
  try {
    plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: fromBase64Url(ivText), additionalData: aad(context) },
      key.cryptoKey,
      fromBase64Url(ctText),
    );
  } catch {
    throw damaged(context);
  }
  return new TextDecoder().decode(plain);
}

function wrongKey(key: SecretKey, storedId: string, context: string): ClankError {
  const hint = key.source === "env"
    ? "set CLANK_SECRET_KEY to the value used when the token was stored (or unset it to use the key file)"
    : "restore the key file used when the token was stored, or set CLANK_SECRET_KEY to that key";
  return new ClankError(
    "SECRET_KEY_INVALID",
    `Stored secret ${context} was encrypted with another key (key id ${storedId.slice(0, 16)}) than ` +
      `${key.description} (key id ${key.id}): ${hint}; or run deno task auth to store a new token`,
    { details: { context, keySource: key.source, keyId: key.id, storedKeyId: storedId.slice(0, 16) } },
  );
}

function damaged(context: string): ClankError {
  return new ClankError(
    "SECRET_DATA_INVALID",
    `Stored secret ${context} is damaged (authentication tag mismatch or bad encoding); ` +
      `run deno task auth to store the token again`,
    { details: { context } },
  );
}

function aad(context: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`clank/${ENVELOPE_VERSION}/${context}`);
}

function toBase64Url(bytes: Uint8Array): string {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64Url(text: string): Uint8Array<ArrayBuffer> {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new Error("Not base64url");
  const std = text.replace(/-/g, "+").replace(/_/g, "/");
  const bin = atob(std + "=".repeat((4 - (std.length % 4)) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}
