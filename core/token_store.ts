/**
 * The bot's Twitch token, kept encrypted in the storage key-value table (namespace `secrets`). Only
 * the envelope from `token_crypto.ts` reaches the database; every token that passes through here is
 * registered with the logger so no log line can show it.
 * @module
 */
import { z } from "zod";
import { ClankError } from "./errors.ts";
import type { Logger } from "./log.ts";
import type { SecretKey } from "./secret_key.ts";
import type { Storage } from "./storage.ts";
import { decryptSecret, encryptSecret } from "./token_crypto.ts";

/** The kv namespace of encrypted secrets. */
export const SECRETS_NAMESPACE = "secrets";
/** The kv key of the bot's Twitch token. */
export const TWITCH_TOKEN_KEY = "twitch_token";

/** What is stored about the bot's token. Times are milliseconds since the epoch. */
export interface StoredToken {
  access_token: string;
  /** Empty when the token came without one. */
  refresh_token: string;
  scopes: string[];
  login: string;
  user_id: string;
  /** `null` for a token that does not expire. */
  expires_at: number | null;
  /** Client id the token was issued to; a refresh needs the same one. */
  client_id: string;
  /**
   * SHA-256 fingerprint of the `TWITCH_OAUTH_TOKEN` this token was refreshed from, so a restart with
   * the same env token continues with its stored successor. Empty for tokens from `deno task auth`.
   */
  origin: string;
  saved_at: number;
}

const StoredTokenSchema = z.object({
  access_token: z.string().min(1),
  refresh_token: z.string(),
  scopes: z.array(z.string()),
  login: z.string(),
  user_id: z.string(),
  expires_at: z.number().nullable(),
  client_id: z.string(),
  origin: z.string().default(""),
  saved_at: z.number(),
});

/** The part of {@link Storage} the token store uses. */
export type SecretKv = Pick<Storage, "kvGet" | "kvSet">;

/** Loads and saves the bot's token, encrypted with a {@link SecretKey}. */
export class TokenStore {
  #kv: SecretKv;
  #key: SecretKey;
  #log: Logger | undefined;

  constructor(kv: SecretKv, key: SecretKey, log?: Logger) {
    this.#kv = kv;
    this.#key = key;
    this.#log = log;
  }

  /** The key this store encrypts with (its description and id, for status output). */
  get key(): SecretKey {
    return this.#key;
  }

  /** The stored token, or `undefined` when none is stored. Throws `SECRET_KEY_INVALID` for a wrong key. */
  async load(): Promise<StoredToken | undefined> {
    const envelope = await this.#kv.kvGet(SECRETS_NAMESPACE, TWITCH_TOKEN_KEY);
    if (envelope === undefined) return undefined;
    const json = await decryptSecret(this.#key, envelope, `${SECRETS_NAMESPACE}/${TWITCH_TOKEN_KEY}`);
    let parsed: StoredToken;
    try {
      parsed = StoredTokenSchema.parse(JSON.parse(json));
    } catch {
      throw new ClankError(
        "SECRET_DATA_INVALID",
        `Stored secret ${SECRETS_NAMESPACE}/${TWITCH_TOKEN_KEY} decrypted but is not a token record; ` +
          `run deno task auth to store the token again`,
      );
    }
    this.#register(parsed);
    return parsed;
  }

  /** Encrypts and stores `token`, replacing the previous one. */
  async save(token: StoredToken): Promise<void> {
    this.#register(token);
    const envelope = await encryptSecret(
      this.#key,
      JSON.stringify(token),
      `${SECRETS_NAMESPACE}/${TWITCH_TOKEN_KEY}`,
    );
    await this.#kv.kvSet(SECRETS_NAMESPACE, TWITCH_TOKEN_KEY, envelope);
  }

  /** Deletes the stored token. */
  async clear(): Promise<void> {
    await this.#kv.kvSet(SECRETS_NAMESPACE, TWITCH_TOKEN_KEY, null);
  }

  #register(token: StoredToken): void {
    this.#log?.addSecret(token.access_token);
    this.#log?.addSecret(token.refresh_token);
  }
}
