/**
 * Keeps the bot's Twitch token valid. At start it picks the token (`TWITCH_OAUTH_TOKEN` wins over
 * the stored one), validates it (Twitch requires this at start and hourly), checks the scopes
 * `chat:read` + `chat:edit` and that it belongs to `TWITCH_BOT_USERNAME`, and — with a client id and
 * a refresh token — refreshes it before it expires and when chat rejects it. A token that cannot be
 * made to work ends in one clear error message, never in a reconnect loop.
 * @module
 */
import type { Config } from "./config_schema.ts";
import { raceDeadline } from "./deadline.ts";
import { ClankError, describeError, isClankError } from "./errors.ts";
import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics.ts";
import { loadSecretKey, SECRET_KEY_ENV } from "./secret_key.ts";
import { type SecretKv, type StoredToken, TokenStore } from "./token_store.ts";
import {
  isTransientAuthError,
  malformedTokenMessage,
  stripOAuthPrefix,
  type TokenGrant,
  type TokenInfo,
  TwitchOAuth,
} from "./twitch_oauth.ts";

/** Scopes the bot needs to read and write chat. */
export const REQUIRED_SCOPES: readonly string[] = ["chat:read", "chat:edit"];

/** Twitch asks apps to validate tokens hourly. */
export const VALIDATE_INTERVAL_MS = 60 * 60 * 1000;

/** Timers and time, injectable so tests run hours in milliseconds. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

/** The real clock; its timers do not keep the process alive on their own. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const id = setTimeout(fn, Math.min(Math.max(0, ms), 2 ** 31 - 1));
    Deno.unrefTimer(id);
    return id;
  },
  clearTimeout: (id) => clearTimeout(id as number),
};

/** What the manager knows about the token — never the token itself. */
export interface TokenStatus {
  /** `absent`: no token; `unverified`: Twitch OAuth unreachable, token used unchecked; `invalid`: given up. */
  state: "absent" | "valid" | "unverified" | "invalid";
  /** Where the token chain started. */
  source: "env" | "storage" | "none";
  login: string | null;
  userId: string | null;
  scopes: string[];
  /** Expiry in ms since the epoch; `null` when it never expires or is unknown. */
  expiresAt: number | null;
  /** True when the manager can refresh the token (client id + refresh token). */
  refreshable: boolean;
  lastValidatedAt: number | null;
  lastRefreshedAt: number | null;
  /** Why the token is invalid or unverified. */
  message: string | null;
}

/** Options of {@link TokenManager}. */
export interface TokenManagerOptions {
  twitch: Pick<Config["twitch"], "username" | "oauth_token" | "client_id" | "client_secret" | "auth_url">;
  log: Logger;
  /** Encrypted token storage; without it refreshed tokens live in memory only. */
  store?: TokenStore;
  /** Defaults to a client for `twitch.auth_url`. */
  oauth?: TwitchOAuth;
  fetch?: typeof fetch;
  clock?: Clock;
  metrics?: Metrics;
  /** Default one hour. */
  validateIntervalMs?: number;
  /** Waits before retrying a refresh that failed because Twitch was unreachable (default 1 s, 5 s). */
  retryDelaysMs?: number[];
}

/** A token as the manager holds it: the secrets plus what is known about them. */
export interface CurrentToken {
  access: string;
  /** Empty when there is none. */
  refresh: string;
  login: string;
  userId: string;
  scopes: string[];
  clientId: string;
  expiresAt: number | null;
  source: "env" | "storage";
  /** Fingerprint of the env token the chain started from; empty for a token from deno task auth. */
  origin: string;
}

/** Which token the bot uses, as {@link selectToken} picks it. */
export interface TokenSelection {
  /** The token to use; `undefined` when there is none. */
  token: CurrentToken | undefined;
  /**
   * How it was picked: `env` (TWITCH_OAUTH_TOKEN itself, with its stored record if there is one),
   * `env_successor` (the stored token refreshed from it), `stored` (no env token), `none`.
   */
  kind: "env" | "env_successor" | "stored" | "none";
  /**
   * A stored token beside an env token of unknown relation: once the env token is validated, its
   * refresh token is used if {@link pairedRefreshToken} says they belong to one grant.
   */
  candidate: StoredToken | undefined;
}

/**
 * Picks the token the bot uses from `TWITCH_OAUTH_TOKEN` (raw, `oauth:` allowed) and the stored
 * record. The bot (TokenManager.start) and `deno task auth status` both call this, so they cannot
 * disagree about which token is in use or whether it can be refreshed.
 */
export async function selectToken(envRaw: string, stored: StoredToken | undefined): Promise<TokenSelection> {
  const envToken = stripOAuthPrefix(envRaw);
  if (envToken) {
    const origin = await fingerprint(envToken);
    if (stored && (stored.access_token === envToken || stored.origin === origin)) {
      // The stored token is this env token or its refreshed successor: continue the chain.
      return {
        token: { ...fromStored(stored, "env"), origin: stored.origin || origin },
        kind: stored.access_token === envToken ? "env" : "env_successor",
        candidate: undefined,
      };
    }
    return {
      token: {
        access: envToken,
        refresh: "",
        login: "",
        userId: "",
        scopes: [],
        clientId: "",
        expiresAt: null,
        source: "env",
        origin,
      },
      kind: "env",
      candidate: stored,
    };
  }
  if (stored) return { token: fromStored(stored, "storage"), kind: "stored", candidate: undefined };
  return { token: undefined, kind: "none", candidate: undefined };
}

/**
 * The stored refresh token to use with a validated env token: only when both belong to the same user
 * and the same app (so they came from one grant); empty otherwise.
 */
export function pairedRefreshToken(candidate: StoredToken | undefined, info: TokenInfo): string {
  if (
    candidate && candidate.refresh_token && candidate.user_id === info.userId &&
    candidate.client_id === info.clientId
  ) {
    return candidate.refresh_token;
  }
  return "";
}

/**
 * True when `token` can be refreshed with `clientId` (TWITCH_CLIENT_ID): Twitch only refreshes a
 * token for the app it was issued to.
 */
export function canRefreshWith(token: Pick<CurrentToken, "refresh" | "clientId">, clientId: string): boolean {
  if (!token.refresh || !clientId) return false;
  return token.clientId === "" || token.clientId === clientId;
}

/**
 * Why a token with a refresh token still cannot be refreshed because it belongs to another app than
 * TWITCH_CLIENT_ID, with what to do; `null` when that is not the case.
 */
export function clientMismatch(
  token: Pick<CurrentToken, "refresh" | "clientId">,
  clientId: string,
): string | null {
  if (!token.refresh || !clientId || !token.clientId || token.clientId === clientId) return null;
  return `it was issued to client id ${token.clientId}, but TWITCH_CLIENT_ID is ${clientId}, and Twitch ` +
    `refreshes a token only for the app that issued it: set TWITCH_CLIENT_ID (and TWITCH_CLIENT_SECRET) ` +
    `back to that app, or run deno task auth to log in with the new one`;
}

const MINUTE = 60_000;
/** A token is refreshed 10 minutes before expiry, or at 90 % of its remaining life if that is earlier. */
const REFRESH_LEAD_MS = 10 * MINUTE;
/** After an unreachable Twitch, try again this much later. */
const RETRY_UNREACHABLE_MS = 5 * MINUTE;
/** While Twitch's token endpoint is down, a refresh is tried this often. */
const RETRY_REFRESH_MS = MINUTE;
/** A second chat rejection within this window of a failure refresh means refreshing does not help. */
const FAILURE_WINDOW_MS = 5 * MINUTE;

/** Keeps the bot's token valid; see the module doc. */
export class TokenManager {
  #twitch: TokenManagerOptions["twitch"];
  #log: Logger;
  #store: TokenStore | undefined;
  #oauth: TwitchOAuth;
  #clock: Clock;
  #metrics: Metrics | undefined;
  #validateIntervalMs: number;
  #retryDelaysMs: number[];

  #cur: CurrentToken | undefined;
  #state: TokenStatus["state"] = "absent";
  #message: string | null = null;
  #lastValidatedAt: number | null = null;
  #lastRefreshedAt: number | null = null;
  #lastHanded: string | null = null;
  #failureToken: string | null = null;
  #failureAt = 0;
  #refreshing: Promise<void> | null = null;
  #validateTimer: unknown;
  #refreshTimer: unknown;
  #sleepers = new Set<{ id: unknown; resolve: () => void }>();
  #inflight = new Set<Promise<unknown>>();
  /** Background saves of refreshed tokens; they may wait on a database outage. */
  #saves = new Set<Promise<void>>();
  #listeners = new Set<(status: TokenStatus) => void>();
  /** Callers waiting for a refresh to succeed during an outage; told `false` when that ends otherwise. */
  #recoveryWaiters = new Set<(ok: boolean) => void>();
  /** True from a refresh that failed because Twitch was unreachable until one succeeds. */
  #refreshOutage = false;
  #started = false;
  #stopped = false;

  constructor(options: TokenManagerOptions) {
    this.#twitch = options.twitch;
    this.#log = options.log.child({ event: "twitch_auth" });
    this.#store = options.store;
    this.#clock = options.clock ?? systemClock;
    this.#metrics = options.metrics;
    this.#validateIntervalMs = options.validateIntervalMs ?? VALIDATE_INTERVAL_MS;
    this.#retryDelaysMs = options.retryDelaysMs ?? [1000, 5000];
    options.log.addSecret(stripOAuthPrefix(this.#twitch.oauth_token));
    options.log.addSecret(this.#twitch.client_secret);
    this.#oauth = options.oauth ?? new TwitchOAuth({
      authUrl: this.#twitch.auth_url,
      clientId: this.#twitch.client_id,
      clientSecret: this.#twitch.client_secret,
      fetch: options.fetch,
      log: options.log,
    });
  }

  /**
   * Picks and validates the token and starts the refresh and hourly validation timers. Resolves with
   * state `absent` when there is no token (the bot then runs read-only). Throws `TWITCH_TOKEN_INVALID`
   * (expired/revoked and not refreshable, wrong scopes, wrong owner) or `SECRET_KEY_INVALID` with a
   * message that says what to do.
   */
  async start(): Promise<TokenStatus> {
    if (this.#started) throw new Error("TokenManager.start() was already called");
    this.#started = true;
    let stored: StoredToken | undefined;
    try {
      stored = this.#store ? await this.#store.load() : undefined;
    } catch (err) {
      // The database being down must not cost chat: an env token still works; a stored one comes back
      // with the next start.
      // A wrong key or damaged record is the operator's to fix; anything else is the database.
      if (isClankError(err, "SECRET_KEY_INVALID") || isClankError(err, "SECRET_DATA_INVALID")) throw err;
      this.#log.warn(
        "Could not read the stored Twitch token (database unavailable); using TWITCH_OAUTH_TOKEN if set",
        {
          error: describeError(err),
        },
      );
    }
    const selection = await selectToken(this.#twitch.oauth_token, stored);
    if (!selection.token) {
      this.#log.warn(
        "No Twitch token: set TWITCH_OAUTH_TOKEN or run `deno task auth`; chat is read-only until then",
      );
      return this.status();
    }
    this.#cur = selection.token;
    await this.#validateAtStart(selection.candidate, selection.kind === "env");
    return this.status();
  }

  /**
   * The current token (without `oauth:`; tmi.js adds it) for the transport — e.g. as tmi.js's
   * `identity.password` function. Waits for a refresh in flight and refreshes a token about to
   * expire. Throws `TWITCH_TOKEN_INVALID` when there is no usable token.
   */
  async getToken(): Promise<string> {
    if (this.#refreshing) await this.#refreshing.catch(() => {});
    const cur = this.#cur;
    if (!cur) {
      throw new ClankError(
        "TWITCH_TOKEN_INVALID",
        "No Twitch token: set TWITCH_OAUTH_TOKEN or run deno task auth",
      );
    }
    if (this.#state === "invalid") {
      throw new ClankError("TWITCH_TOKEN_INVALID", this.#message ?? "Invalid token");
    }
    if (cur.expiresAt !== null && cur.expiresAt - this.#clock.now() < MINUTE && this.#canRefresh()) {
      // A timer can miss (suspended machine); never hand out a token that is about to die.
      try {
        await this.#refresh("expired");
      } catch (err) {
        if (!isTransientAuthError(err)) {
          this.#giveUp(describeMessage(err));
          throw err;
        }
      }
    }
    const token = this.#cur!.access;
    this.#lastHanded = token;
    return token;
  }

  /**
   * The transport calls this when Twitch rejects the login. Refreshes once; resolves `true` when a
   * new token is available (reconnect with it), `false` when not — then the reason has been logged
   * once as an error and further calls return `false` at once.
   */
  async onAuthFailure(): Promise<boolean> {
    const cur = this.#cur;
    if (!cur || this.#stopped || this.#state === "invalid") return false;
    if (this.#refreshing) {
      try {
        await this.#refreshing;
        return true;
      } catch {
        // Fall through: refresh once more for this failure, or explain why not.
      }
      // The failed refresh may have given up meanwhile (TS cannot see that across the await).
      if ((this.#state as TokenStatus["state"]) === "invalid") return false;
    }
    // The rejected login used an older token than the one we hold now.
    if (this.#lastHanded !== null && this.#lastHanded !== cur.access) return true;
    const now = this.#clock.now();
    const refreshedJustNow = this.#failureToken === cur.access && now - this.#failureAt < FAILURE_WINDOW_MS;
    if (refreshedJustNow || !this.#canRefresh()) {
      this.#giveUp(await this.#diagnoseRejection(refreshedJustNow));
      return false;
    }
    try {
      await this.#refresh("auth_failure");
    } catch (err) {
      if (this.#stopped) return false;
      if (!isTransientAuthError(err)) {
        this.#giveUp(describeMessage(err));
        return false;
      }
      // Twitch's token endpoint is down: giving up would keep the bot off chat until a restart. The
      // transport waits for the answer, so wait until a retry gets through.
      this.#onRefreshOutage(err);
      if (!(await this.#recovered())) return false;
    }
    this.#failureToken = this.#cur!.access;
    this.#failureAt = this.#clock.now();
    return true;
  }

  /** Scopes, owner, expiry and state — never the token. */
  status(): TokenStatus {
    const cur = this.#cur;
    return {
      state: this.#state,
      source: cur?.source ?? "none",
      login: cur?.login || null,
      userId: cur?.userId || null,
      scopes: cur ? [...cur.scopes] : [],
      expiresAt: cur?.expiresAt ?? null,
      refreshable: this.#canRefresh(),
      lastValidatedAt: this.#lastValidatedAt,
      lastRefreshedAt: this.#lastRefreshedAt,
      message: this.#message,
    };
  }

  /** Calls `listener` after every refresh and when the token becomes invalid; returns an unsubscribe. */
  onChange(listener: (status: TokenStatus) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Resolves once no validation, refresh or token save is running (tests). */
  async idle(): Promise<void> {
    while (this.#inflight.size > 0 || this.#saves.size > 0) {
      await Promise.allSettled([...this.#inflight, ...this.#saves]);
    }
  }

  /** Stops the timers and waits for work in flight. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#clearTimers();
    for (const s of this.#sleepers) {
      this.#clock.clearTimeout(s.id);
      s.resolve();
    }
    this.#sleepers.clear();
    this.#settleRecovery(false);
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
    // A save waiting on a database outage gets a moment, not the shutdown: the write stays in the
    // write buffer, which the caller flushes (or reports) when it closes storage.
    await this.#within(Promise.allSettled([...this.#saves]), 2000);
  }

  async #within(promise: Promise<unknown>, ms: number): Promise<void> {
    await raceDeadline(promise, ms, this.#clock);
  }

  async #validateAtStart(candidate: StoredToken | undefined, envTokenItself: boolean): Promise<void> {
    const cur = this.#cur!;
    let info: TokenInfo;
    try {
      info = await this.#validate(cur.access);
    } catch (err) {
      if (isClankError(err, "TWITCH_TOKEN_INVALID") && err.details?.reason === "malformed_token") {
        const name = envTokenItself ? "TWITCH_OAUTH_TOKEN" : "The stored Twitch token";
        const fix = envTokenItself ? "set it again without them" : "run deno task auth to store a new one";
        const message = `${malformedTokenMessage(name)}: ${fix}`;
        this.#markInvalid(message);
        throw new ClankError("TWITCH_TOKEN_INVALID", message, { details: { reason: "malformed_token" } });
      }
      if (isClankError(err, "TWITCH_TOKEN_INVALID")) {
        if (this.#canRefresh()) {
          try {
            await this.#refresh("expired");
          } catch (refreshErr) {
            // A bot that was off for hours has an expired token; a short outage at Twitch must not
            // make it read-only for the whole run.
            if (isTransientAuthError(refreshErr) && !this.#stopped) {
              this.#onRefreshOutage(refreshErr);
              return;
            }
            this.#markInvalid(describeMessage(refreshErr));
            throw refreshErr;
          }
          return;
        }
        const message = this.#expiredMessage(candidate !== undefined);
        this.#markInvalid(message);
        throw new ClankError("TWITCH_TOKEN_INVALID", message, { details: { reason: "expired_or_revoked" } });
      }
      if (isTransientAuthError(err)) {
        this.#unverified(err);
        return;
      }
      throw err;
    }
    const problem = this.#ownershipProblem(info);
    if (problem) {
      this.#markInvalid(problem);
      throw new ClankError("TWITCH_TOKEN_INVALID", problem, { details: { reason: "wrong_token" } });
    }
    const paired = pairedRefreshToken(candidate, info);
    if (paired) cur.refresh = paired;
    this.#apply(info);
    const mismatch = clientMismatch(cur, this.#twitch.client_id);
    if (mismatch) {
      // Otherwise refresh is silently off and the bot stops hours later with "expired".
      this.#log.warn(
        `The Twitch token of ${info.login} cannot be refreshed and stops working when it expires ` +
          `(${isoOrNever(cur.expiresAt)}): ${mismatch}`,
      );
    }
    this.#log.info("Twitch token is valid", {
      login: info.login,
      scopes: info.scopes.join(" "),
      expires_at: isoOrNever(cur.expiresAt),
      refreshable: this.#canRefresh(),
    });
    this.#schedule();
  }

  async #validate(token: string): Promise<TokenInfo> {
    try {
      const info = await this.#oauth.validate(token);
      this.#metrics?.tokenValidations.inc({ outcome: "valid" });
      return info;
    } catch (err) {
      const outcome = isClankError(err, "TWITCH_TOKEN_INVALID") ? "invalid" : "unreachable";
      this.#metrics?.tokenValidations.inc({ outcome });
      throw err;
    }
  }

  #apply(info: TokenInfo): void {
    const cur = this.#cur!;
    cur.login = info.login;
    cur.userId = info.userId;
    cur.scopes = [...info.scopes];
    cur.clientId = info.clientId;
    cur.expiresAt = info.expiresIn > 0 ? this.#clock.now() + info.expiresIn * 1000 : null;
    this.#lastValidatedAt = this.#clock.now();
    this.#state = "valid";
    this.#message = null;
    this.#metrics?.tokenExpiry.set(cur.expiresAt === null ? 0 : Math.floor(cur.expiresAt / 1000));
  }

  #canRefresh(): boolean {
    return this.#cur !== undefined && canRefreshWith(this.#cur, this.#twitch.client_id);
  }

  /** One refresh at a time: every caller shares the refresh in flight. */
  #refresh(trigger: string): Promise<void> {
    if (!this.#refreshing) {
      const p = this.#doRefresh(trigger).finally(() => {
        this.#refreshing = null;
      });
      this.#refreshing = p;
      this.#track(p);
    }
    return this.#refreshing;
  }

  /** Asks Twitch for a new token, retrying while Twitch is unreachable. */
  async #requestRefresh(trigger: string, refreshToken: string): Promise<TokenGrant> {
    for (let attempt = 0;; attempt++) {
      try {
        return await this.#oauth.refresh(refreshToken);
      } catch (err) {
        const delay = this.#retryDelaysMs[attempt];
        if (isTransientAuthError(err) && delay !== undefined && !this.#stopped) {
          this.#log.warn("Twitch token refresh failed; retrying", {
            error: describeError(err),
            retry_ms: delay,
          });
          await this.#sleep(delay);
          if (!this.#stopped) continue;
        }
        const outcome = isTransientAuthError(err) ? "unreachable" : "rejected";
        this.#metrics?.tokenRefreshes.inc({ trigger, outcome });
        throw this.#refreshError(err);
      }
    }
  }

  async #doRefresh(trigger: string): Promise<void> {
    const cur = this.#cur!;
    const grant = await this.#requestRefresh(trigger, cur.refresh);
    let info: TokenInfo | undefined;
    try {
      info = await this.#validate(grant.accessToken);
    } catch (err) {
      if (!isTransientAuthError(err)) {
        this.#metrics?.tokenRefreshes.inc({ trigger, outcome: "rejected" });
        throw new ClankError(
          "TWITCH_TOKEN_INVALID",
          "Twitch rejected the token it had just issued; run deno task auth",
          {
            cause: err,
          },
        );
      }
    }
    if (info) {
      const problem = this.#ownershipProblem(info);
      if (problem) {
        this.#metrics?.tokenRefreshes.inc({ trigger, outcome: "rejected" });
        throw new ClankError("TWITCH_TOKEN_INVALID", problem, { details: { reason: "wrong_token" } });
      }
    }
    this.#cur = {
      ...cur,
      access: grant.accessToken,
      refresh: grant.refreshToken || cur.refresh,
      scopes: grant.scopes.length > 0 ? grant.scopes : cur.scopes,
      expiresAt: grant.expiresIn > 0 ? this.#clock.now() + grant.expiresIn * 1000 : null,
    };
    if (info) this.#apply(info);
    this.#state = "valid";
    this.#message = null;
    this.#lastRefreshedAt = this.#clock.now();
    if (this.#refreshOutage) {
      this.#refreshOutage = false;
      this.#log.info("Twitch's token endpoint answers again");
    }
    this.#metrics?.tokenRefreshes.inc({ trigger, outcome: "ok" });
    // Stored in the background: during a database outage the write waits in the buffer, and the
    // transport must not wait with it for the token it needs to reconnect.
    const saving = this.#persist().finally(() => this.#saves.delete(saving));
    this.#saves.add(saving);
    this.#log.info("Refreshed the Twitch token", {
      trigger,
      login: this.#cur.login,
      expires_at: isoOrNever(this.#cur.expiresAt),
    });
    this.#schedule();
    this.#emit();
    this.#settleRecovery(true);
  }

  async #persist(): Promise<void> {
    const cur = this.#cur!;
    if (!this.#store) {
      this.#log.warn("No storage for the refreshed Twitch token; it is kept in memory until restart");
      return;
    }
    try {
      await this.#store.save({
        access_token: cur.access,
        refresh_token: cur.refresh,
        scopes: cur.scopes,
        login: cur.login,
        user_id: cur.userId,
        expires_at: cur.expiresAt,
        client_id: cur.clientId || this.#twitch.client_id,
        origin: cur.source === "env" ? cur.origin : "",
        saved_at: this.#clock.now(),
      });
    } catch (err) {
      // The bot keeps working with the token in memory; only a restart would need the stored one.
      this.#log.warn("Could not store the refreshed Twitch token; a restart may need `deno task auth`", {
        error: describeError(err),
      });
    }
  }

  #schedule(): void {
    this.#clearTimers();
    if (this.#stopped) return;
    this.#validateTimer = this.#clock.setTimeout(
      () => this.#track(this.#onValidateTimer()),
      this.#validateIntervalMs,
    );
    const cur = this.#cur;
    if (cur && cur.expiresAt !== null && this.#canRefresh()) {
      const remaining = cur.expiresAt - this.#clock.now();
      const delay = Math.max(0, Math.min(remaining * 0.9, remaining - REFRESH_LEAD_MS));
      this.#refreshTimer = this.#clock.setTimeout(() => this.#track(this.#onRefreshTimer()), delay);
    }
  }

  #clearTimers(): void {
    if (this.#validateTimer !== undefined) this.#clock.clearTimeout(this.#validateTimer);
    if (this.#refreshTimer !== undefined) this.#clock.clearTimeout(this.#refreshTimer);
    this.#validateTimer = undefined;
    this.#refreshTimer = undefined;
  }

  async #onRefreshTimer(): Promise<void> {
    this.#refreshTimer = undefined;
    if (this.#stopped || this.#state === "invalid") return;
    try {
      await this.#refresh("scheduled");
    } catch (err) {
      if (this.#stopped) return;
      if (isTransientAuthError(err)) {
        this.#onRefreshOutage(err);
        return;
      }
      this.#giveUp(describeMessage(err));
    }
  }

  async #onValidateTimer(): Promise<void> {
    this.#validateTimer = undefined;
    if (this.#stopped || this.#state === "invalid") return;
    const cur = this.#cur!;
    let info: TokenInfo;
    try {
      info = await this.#validate(cur.access);
    } catch (err) {
      if (this.#stopped) return;
      if (isClankError(err, "TWITCH_TOKEN_INVALID")) {
        if (!this.#canRefresh()) {
          this.#giveUp(this.#expiredMessage(false));
          return;
        }
        try {
          await this.#refresh("validation");
        } catch (refreshErr) {
          if (this.#stopped) return;
          if (isTransientAuthError(refreshErr)) this.#onRefreshOutage(refreshErr);
          else this.#giveUp(describeMessage(refreshErr));
        }
        return;
      }
      this.#unverified(err);
      return;
    }
    if (this.#stopped || this.#cur !== cur) return; // a refresh replaced the token meanwhile
    const problem = this.#ownershipProblem(info);
    if (problem) {
      this.#giveUp(problem);
      return;
    }
    this.#apply(info);
    this.#log.debug("Twitch token validated", { expires_at: isoOrNever(cur.expiresAt) });
    this.#schedule();
  }

  /** Twitch OAuth is unreachable: keep using the token, check again later. */
  #unverified(err: unknown): void {
    this.#state = "unverified";
    this.#message = `Could not reach Twitch to validate the token: ${describeMessage(err)}`;
    this.#log.warn("Could not validate the Twitch token; using it unchecked and trying again in 5 minutes", {
      error: describeError(err),
    });
    if (this.#stopped) return;
    if (this.#validateTimer !== undefined) this.#clock.clearTimeout(this.#validateTimer);
    this.#validateTimer = this.#clock.setTimeout(
      () => this.#track(this.#onValidateTimer()),
      RETRY_UNREACHABLE_MS,
    );
  }

  /**
   * A refresh failed because Twitch's token endpoint is unreachable or overloaded (network, timeout,
   * 5xx, 429): keep the current token (state `unverified`) and try again every minute until Twitch
   * answers. Warns once per outage; the retries go to debug.
   */
  #onRefreshOutage(err: unknown): void {
    if (this.#state === "invalid") return;
    this.#state = "unverified";
    this.#message = `Could not refresh the Twitch token: Twitch's token endpoint is not answering ` +
      `(${describeMessage(err)}). That is on Twitch's side (or the network's); clank keeps the current ` +
      `token and tries again every minute`;
    if (!this.#refreshOutage) {
      this.#refreshOutage = true;
      this.#log.warn(this.#message, { error: describeError(err) });
    } else {
      this.#log.debug("Twitch's token endpoint is still not answering; trying again in a minute", {
        error: describeError(err),
      });
    }
    if (this.#stopped) return;
    // Replaces a before-expiry timer too: that one may be hours away, the retry is due in a minute.
    if (this.#refreshTimer !== undefined) this.#clock.clearTimeout(this.#refreshTimer);
    this.#refreshTimer = this.#clock.setTimeout(() => this.#track(this.#onRefreshTimer()), RETRY_REFRESH_MS);
  }

  /** Resolves `true` after the next successful refresh, `false` when the manager gives up or stops. */
  #recovered(): Promise<boolean> {
    if (this.#stopped || this.#state === "invalid") return Promise.resolve(false);
    return new Promise((resolve) => this.#recoveryWaiters.add(resolve));
  }

  #settleRecovery(ok: boolean): void {
    const waiters = [...this.#recoveryWaiters];
    this.#recoveryWaiters.clear();
    for (const w of waiters) w(ok);
  }

  /** Why the chat login was rejected, in one sentence with what to do. */
  async #diagnoseRejection(afterRefresh: boolean): Promise<string> {
    const cur = this.#cur!;
    let info: TokenInfo;
    try {
      info = await this.#validate(cur.access);
    } catch (err) {
      if (isClankError(err, "TWITCH_TOKEN_INVALID")) return this.#expiredMessage(false);
      return `Twitch chat rejected the login and Twitch OAuth could not be reached to check the token ` +
        `(${describeMessage(err)}); check the token and restart`;
    }
    const problem = this.#ownershipProblem(info);
    if (problem) return problem;
    return `Twitch chat rejected the login${afterRefresh ? " again after a token refresh" : ""} although ` +
      `the token of ${info.login} is valid with ${REQUIRED_SCOPES.join(" and ")}; check that ` +
      `TWITCH_BOT_USERNAME is ${info.login} and that the account is not suspended`;
  }

  #ownershipProblem(info: TokenInfo): string | null {
    return tokenProblem(info, this.#twitch.username);
  }

  #expiredMessage(storedTokenIgnored: boolean): string {
    const cur = this.#cur!;
    const who = cur.login ? ` of ${cur.login}` : "";
    if (cur.source === "env" && !cur.refresh) {
      return `TWITCH_OAUTH_TOKEN${who} is expired or revoked and cannot be refreshed: set a fresh token, ` +
        `or unset TWITCH_OAUTH_TOKEN and run deno task auth` +
        (storedTokenIgnored ? " (the stored token belongs to another grant and was not used)" : "");
    }
    const mismatch = clientMismatch(cur, this.#twitch.client_id);
    if (mismatch) {
      return `The stored Twitch token${who} is expired or revoked and cannot be refreshed: ${mismatch}`;
    }
    const why = !this.#twitch.client_id ? " and cannot be refreshed without TWITCH_CLIENT_ID" : "";
    return `The stored Twitch token${who} is expired or revoked${why}: run deno task auth to log in again`;
  }

  #refreshError(err: unknown): ClankError {
    if (isClankError(err, "TWITCH_TOKEN_INVALID")) {
      const cur = this.#cur!;
      const who = cur.login ? ` of ${cur.login}` : "";
      const alt = cur.source === "env" ? ", or set a fresh TWITCH_OAUTH_TOKEN" : "";
      return new ClankError(
        "TWITCH_TOKEN_INVALID",
        `Twitch no longer accepts the refresh token${who} (revoked, expired, or the app was disconnected): ` +
          `run deno task auth to log in again${alt}`,
        { details: { reason: "invalid_refresh_token" } },
      );
    }
    if (err instanceof ClankError) return err;
    return new ClankError("TWITCH_AUTH_FAILED", `Twitch token refresh failed: ${describeMessage(err)}`, {
      details: { transient: false },
    });
  }

  #markInvalid(message: string): void {
    this.#state = "invalid";
    this.#message = message;
    this.#clearTimers();
    this.#settleRecovery(false);
  }

  /** Gives up on the token with one error line; later calls stay quiet. */
  #giveUp(message: string): void {
    if (this.#state === "invalid") return;
    this.#markInvalid(message);
    this.#log.error(message);
    this.#emit();
  }

  #emit(): void {
    const status = this.status();
    for (const l of this.#listeners) {
      try {
        l(status);
      } catch (err) {
        this.#log.warn("A token change listener threw", { error: describeError(err) });
      }
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const entry = {
        id: undefined as unknown,
        resolve: () => {
          this.#sleepers.delete(entry);
          resolve();
        },
      };
      entry.id = this.#clock.setTimeout(entry.resolve, ms);
      this.#sleepers.add(entry);
    });
  }

  #track<T>(p: Promise<T>): Promise<T> {
    const tracked = p.catch(() => {});
    this.#inflight.add(tracked);
    tracked.finally(() => this.#inflight.delete(tracked));
    return p;
  }
}

/**
 * What is wrong with a validated token for chat — app token, missing `chat:read`/`chat:edit`, or
 * another owner than `username` (empty: any owner) — as a message that says what to do; `null` if fine.
 */
export function tokenProblem(info: TokenInfo, username: string): string | null {
  if (!info.login || !info.userId) {
    return "The Twitch token is an app access token, but chat needs a user access token of the bot " +
      "account: run deno task auth";
  }
  const missing = REQUIRED_SCOPES.filter((s) => !info.scopes.includes(s));
  if (missing.length > 0) {
    const has = info.scopes.length > 0 ? info.scopes.join(" ") : "no scopes";
    return `The Twitch token of ${info.login} lacks the scope${missing.length > 1 ? "s" : ""} ` +
      `${missing.join(" and ")} (it has ${has}); run deno task auth, which asks for ` +
      `${REQUIRED_SCOPES.join(" and ")}`;
  }
  const want = username.toLowerCase();
  if (want && info.login !== want) {
    return `The Twitch token belongs to ${info.login}, but TWITCH_BOT_USERNAME is ${want}: run ` +
      `deno task auth while logged in to Twitch as ${want}, or set TWITCH_BOT_USERNAME=${info.login}`;
  }
  return null;
}

/** Options of {@link createTokenManager}. */
export interface CreateTokenManagerDeps {
  log: Logger;
  /** Where the encrypted token lives; omit to keep refreshed tokens in memory only. */
  storage?: SecretKv;
  metrics?: Metrics;
  fetch?: typeof fetch;
  clock?: Clock;
  /** Reads environment variables (default `Deno.env.get`); only `CLANK_SECRET_KEY` is read. */
  env?: (name: string) => string | undefined;
}

/**
 * Builds a {@link TokenManager} from the config: loads the secret key (`CLANK_SECRET_KEY` or
 * `auth.key_file`) and the encrypted token store when storage is given. Call `start()` next.
 */
export async function createTokenManager(
  config: Config,
  deps: CreateTokenManagerDeps,
): Promise<TokenManager> {
  let store: TokenStore | undefined;
  if (deps.storage) {
    const key = await loadSecretKey({
      envValue: (deps.env ?? ((n) => Deno.env.get(n)))(SECRET_KEY_ENV),
      keyFile: config.auth.key_file,
      log: deps.log,
    });
    store = new TokenStore(deps.storage, key, deps.log);
  }
  return new TokenManager({
    twitch: config.twitch,
    log: deps.log,
    store,
    metrics: deps.metrics,
    fetch: deps.fetch,
    clock: deps.clock,
  });
}

function fromStored(stored: StoredToken, source: "env" | "storage"): CurrentToken {
  return {
    access: stored.access_token,
    refresh: stored.refresh_token,
    login: stored.login,
    userId: stored.user_id,
    scopes: [...stored.scopes],
    clientId: stored.client_id,
    expiresAt: stored.expires_at,
    source,
    origin: stored.origin,
  };
}

/** A one-way fingerprint of an env token; only ever stored inside the encrypted record. */
async function fingerprint(token: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(`clank/env-token/v1:${token}`),
  );
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

function describeMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function isoOrNever(ms: number | null): string {
  return ms === null ? "never" : new Date(ms).toISOString();
}
