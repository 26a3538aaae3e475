/**
 * The key that encrypts stored secrets (Twitch tokens). It comes from `CLANK_SECRET_KEY` when set —
 * 32 bytes as base64/base64url or hex (see {@link decodeEnvKeyText} for when a value counts as a key),
 * or any passphrase of at least 16 characters, stretched with PBKDF2-SHA256 — and otherwise from a key file (default `./data/secret.key`) that is created with
 * mode 0600 on first use. The raw key never leaves this module: callers get a non-extractable
 * WebCrypto key, a key id for error messages and a description of where the key came from.
 * @module
 */
import { dirname } from "node:path";
import { ClankError } from "./errors.ts";
import type { Logger } from "./log.ts";

/** The environment variable that overrides the key file. */
export const SECRET_KEY_ENV = "CLANK_SECRET_KEY";

/** PBKDF2 iterations for a passphrase key (OWASP 2023 figure for PBKDF2-HMAC-SHA256). */
export const PASSPHRASE_ITERATIONS = 600_000;

/** Shortest passphrase accepted in `CLANK_SECRET_KEY`. */
export const MIN_PASSPHRASE_LENGTH = 16;

// A fixed, application-specific salt: there is nowhere to keep a random one before the key exists,
// and the passphrase must yield the same key on every start. The length rule plus 600k iterations
// carry the load a random salt would otherwise share.
const PASSPHRASE_SALT = new TextEncoder().encode("clank/secret-key/pbkdf2/v1");

/** The loaded encryption key. */
export interface SecretKey {
  /** AES-256-GCM key, not extractable. */
  readonly cryptoKey: CryptoKey;
  /** 16 hex digits derived one-way from the key; stored beside each ciphertext to name a wrong key. */
  readonly id: string;
  /** Where the key came from. */
  readonly source: "env" | "file";
  /** Human description for messages, e.g. `CLANK_SECRET_KEY (passphrase)` or `key file ./data/secret.key`. */
  readonly description: string;
  /** True when the key file was created by this call. */
  readonly created: boolean;
}

/** Options of {@link loadSecretKey}. */
export interface LoadSecretKeyOptions {
  /** Value of `CLANK_SECRET_KEY`; empty or undefined means "use the key file". */
  envValue?: string;
  /** Key file path (`auth.key_file`). */
  keyFile: string;
  /** Every form of the key is registered here as a secret, so no log line can show it. */
  log?: Logger;
}

/** Loads (or, for a missing key file, creates) the key. Throws `SECRET_KEY_INVALID` with what to do. */
export async function loadSecretKey(options: LoadSecretKeyOptions): Promise<SecretKey> {
  const envValue = options.envValue?.trim() ?? "";
  if (envValue !== "") {
    options.log?.addSecret(envValue);
    const bytes = decodeEnvKeyText(envValue);
    if (bytes) return await importKey(bytes, "env", `${SECRET_KEY_ENV} (32-byte key)`, false, options.log);
    if (envValue.length < MIN_PASSPHRASE_LENGTH) {
      throw new ClankError(
        "SECRET_KEY_INVALID",
        `${SECRET_KEY_ENV} is neither a 32-byte key (base64 or 64 hex digits) nor a passphrase of at least ` +
          `${MIN_PASSPHRASE_LENGTH} characters; generate a key with: openssl rand -base64 32`,
        { details: { source: "env", length: envValue.length } },
      );
    }
    const derived = await derivePassphraseKey(envValue);
    return await importKey(derived, "env", `${SECRET_KEY_ENV} (passphrase)`, false, options.log);
  }
  return await loadKeyFile(options.keyFile, options.log);
}

/**
 * Decodes 32 key bytes from 64 hex digits or canonical base64/base64url (with or without `=`);
 * `undefined` for anything else. Canonical means the text is exactly what encoding the bytes gives:
 * base64 of 32 bytes has 2 spare bits in its last character, which a decoder ignores, so without this
 * check four different texts would give one key.
 */
export function decodeKeyText(text: string): Uint8Array | undefined {
  const t = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) {
    const out = new Uint8Array(32);
    for (let i = 0; i < 32; i++) out[i] = parseInt(t.slice(i * 2, i * 2 + 2), 16);
    return out;
  }
  const url = /[-_]/.test(t);
  if (!(url ? /^[A-Za-z0-9_-]{43}=?$/ : /^[A-Za-z0-9+/]{43}=?$/).test(t)) return undefined;
  let bin: string;
  try {
    bin = atob(t.replace(/-/g, "+").replace(/_/g, "/").replace(/=$/, "") + "=");
  } catch {
    return undefined;
  }
  if (bin.length !== 32) return undefined;
  let again = btoa(bin).replace(/=$/, "");
  if (url) again = again.replace(/\+/g, "-").replace(/\//g, "_");
  if (again !== t.replace(/=$/, "")) return undefined;
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

/**
 * Decodes `CLANK_SECRET_KEY` as a raw 32-byte key when it clearly is one; `undefined` means "treat it
 * as a passphrase". A value is a raw key when it is
 * - 64 hex digits, or
 * - canonical standard base64 with its `=` padding (44 characters: what `openssl rand -base64 32` and
 *   the key file hold), or
 * - canonical base64url or unpadded base64 (43 characters, or 44 with `=`) that mixes upper- and
 *   lowercase letters, as every randomly generated key does (the odds against are below 1 in 10^9).
 * The last rule exists because a hyphenated passphrase of 43 characters such as
 * `correct-horse-battery-staple-purple-monkeys` is valid base64url: it must be stretched with PBKDF2,
 * not used as key bytes.
 */
export function decodeEnvKeyText(text: string): Uint8Array | undefined {
  const t = text.trim();
  const bytes = decodeKeyText(t);
  if (!bytes) return undefined;
  if (/^[0-9a-fA-F]{64}$/.test(t)) return bytes;
  if (/^[A-Za-z0-9+/]{43}=$/.test(t)) return bytes;
  if (/[A-Z]/.test(t) && /[a-z]/.test(t)) return bytes;
  return undefined;
}

/** Every text form of the raw key (base64, base64url, hex) that must never appear in output. */
export function keyTextForms(bytes: Uint8Array): string[] {
  const b64 = btoa(String.fromCharCode(...bytes));
  const b64url = b64.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return [b64, b64.replace(/=+$/, ""), b64url, hex, hex.toUpperCase()];
}

async function derivePassphraseKey(passphrase: string): Promise<Uint8Array> {
  const base = await crypto.subtle.importKey("raw", new TextEncoder().encode(passphrase), "PBKDF2", false, [
    "deriveBits",
  ]);
  const bits = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt: PASSPHRASE_SALT, iterations: PASSPHRASE_ITERATIONS },
    base,
    256,
  );
  return new Uint8Array(bits);
}

async function loadKeyFile(path: string, log: Logger | undefined): Promise<SecretKey> {
  let stat: Deno.FileInfo | undefined;
  try {
    stat = await Deno.stat(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw keyFileError(path, "cannot be read", err);
  }
  if (stat === undefined) {
    const created = await createKeyFile(path);
    if (created) return await importKey(created, "file", `key file ${path}`, true, log);
    stat = await Deno.stat(path); // another process created it first
  }
  if (!stat.isFile) throw keyFileError(path, "is not a regular file");
  // Windows has no POSIX mode (null); there the file system ACLs decide.
  if (stat.mode !== null && (stat.mode & 0o077) !== 0) {
    const mode = (stat.mode & 0o777).toString(8).padStart(4, "0");
    throw new ClankError(
      "SECRET_KEY_INVALID",
      `Key file ${path} is accessible to other users (mode ${mode}); it must be mode 0600: run chmod 600 ${path}`,
      { details: { source: "file", path, mode } },
    );
  }
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    throw keyFileError(path, "cannot be read", err);
  }
  const bytes = decodeKeyText(text);
  if (!bytes) {
    throw new ClankError(
      "SECRET_KEY_INVALID",
      `Key file ${path} does not hold a 32-byte key (base64 or 64 hex digits); restore the original file, ` +
        `or delete it and run deno task auth again to store a new token under a new key`,
      { details: { source: "file", path } },
    );
  }
  return await importKey(bytes, "file", `key file ${path}`, false, log);
}

/** Writes a fresh random key with mode 0600; `undefined` when the file appeared meanwhile. */
async function createKeyFile(path: string): Promise<Uint8Array | undefined> {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  try {
    await Deno.mkdir(dirname(path), { recursive: true, mode: 0o700 });
    await Deno.writeTextFile(path, keyTextForms(bytes)[0] + "\n", { createNew: true, mode: 0o600 });
    // The umask can only clear bits, but a pre-set default ACL could add some: pin the mode.
    if (Deno.build.os !== "windows") await Deno.chmod(path, 0o600);
    return bytes;
  } catch (err) {
    if (err instanceof Deno.errors.AlreadyExists) return undefined;
    throw keyFileError(path, "cannot be created", err);
  }
}

async function importKey(
  bytes: Uint8Array,
  source: "env" | "file",
  description: string,
  created: boolean,
  log: Logger | undefined,
): Promise<SecretKey> {
  for (const form of keyTextForms(bytes)) log?.addSecret(form);
  const cryptoKey = await crypto.subtle.importKey("raw", bytes as Uint8Array<ArrayBuffer>, "AES-GCM", false, [
    "encrypt",
    "decrypt",
  ]);
  const label = new TextEncoder().encode("clank/secret-key/id/v1:");
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new Uint8Array([...label, ...bytes])));
  const id = Array.from(digest.slice(0, 8), (b) => b.toString(16).padStart(2, "0")).join("");
  bytes.fill(0);
  return { cryptoKey, id, source, description, created };
}

function keyFileError(path: string, what: string, cause?: unknown): ClankError {
  const reason = cause instanceof Error ? `: ${cause.message}` : "";
  return new ClankError(
    "SECRET_KEY_INVALID",
    `Key file ${path} ${what}${reason}; set auth.key_file to a writable path or set ${SECRET_KEY_ENV}`,
    { cause, details: { source: "file", path } },
  );
}
