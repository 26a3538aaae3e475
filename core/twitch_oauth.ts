/**
 * Twitch's OAuth endpoints (`{auth_url}/oauth2/...`): validate, refresh, the device code grant and
 * revoke. Requests are form-encoded POSTs (validate is a GET with `Authorization: OAuth <token>`);
 * Twitch answers errors as `{"status": 400, "message": "..."}`. Thrown errors never carry a token:
 * messages are built here from the status and Twitch's short message text only.
 * @module
 */
import { ClankError } from "./errors.ts";
import type { Logger } from "./log.ts";

/** What `/oauth2/validate` says about a token. */
export interface TokenInfo {
  clientId: string;
  login: string;
  userId: string;
  scopes: string[];
  /** Seconds until the token expires; 0 for a token that does not expire. */
  expiresIn: number;
}

/** A token grant from `/oauth2/token`. */
export interface TokenGrant {
  accessToken: string;
  /** Empty when Twitch sent none. */
  refreshToken: string;
  scopes: string[];
  /** Seconds; 0 when Twitch sent none. */
  expiresIn: number;
}

/** The answer of `/oauth2/device`: what the user must enter, and where. */
export interface DeviceAuthorization {
  deviceCode: string;
  userCode: string;
  verificationUri: string;
  /** Seconds the codes stay valid. */
  expiresIn: number;
  /** Seconds to wait between two polls. */
  interval: number;
}

/** One poll of the device code grant. */
export type DevicePoll =
  | { status: "pending" }
  | { status: "slow_down" }
  | { status: "expired" }
  | { status: "denied" }
  | { status: "ok"; grant: TokenGrant };

/** Options of {@link TwitchOAuth}. */
export interface TwitchOAuthOptions {
  /** Base URL, e.g. `https://id.twitch.tv` (tests: a fake on 127.0.0.1). */
  authUrl: string;
  clientId: string;
  /** Empty for a public client. */
  clientSecret?: string;
  fetch?: typeof fetch;
  log?: Logger;
  /** Milliseconds one request may take (default 10000). */
  timeoutMs?: number;
}

/** Device code grant type (RFC 8628). */
export const DEVICE_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code";

/**
 * True when `err` is a failure on Twitch's side or the network's that may pass (network down,
 * timeout, HTTP 5xx, 408, 429): worth retrying later, never a reason to give up on a token.
 */
export function isTransientAuthError(err: unknown): boolean {
  return err instanceof ClankError && err.code === "TWITCH_AUTH_FAILED" && err.details?.transient === true;
}

/** True for an HTTP status that says "try again later" rather than "this request is wrong". */
export function isTransientStatus(status: number): boolean {
  return status >= 500 || status === 429 || status === 408;
}

// Twitch tokens are short runs of letters and digits; anything outside printable ASCII without space
// is a paste accident, and fetch would refuse it in a header with an error that quotes the token.
const TOKEN_CHARS = /^[\x21-\x7e]+$/;

/** `<name> has characters a token never has (…)`, for a token that fails {@link isWellFormedToken}. */
export function malformedTokenMessage(name: string): string {
  return `${name} has characters a token never has (a space, a line break, an invisible character ` +
    `from pasting?)`;
}

/** True when `token` could be a Twitch token at all (printable ASCII, no spaces). */
export function isWellFormedToken(token: string): boolean {
  return TOKEN_CHARS.test(token);
}

/** A client for Twitch's OAuth endpoints. */
export class TwitchOAuth {
  #base: string;
  #clientId: string;
  #clientSecret: string;
  #fetch: typeof fetch;
  #log: Logger | undefined;
  #timeoutMs: number;

  constructor(options: TwitchOAuthOptions) {
    this.#base = options.authUrl.replace(/\/+$/, "");
    this.#clientId = options.clientId;
    this.#clientSecret = options.clientSecret ?? "";
    this.#fetch = options.fetch ?? fetch;
    this.#log = options.log;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#log?.addSecret(this.#clientSecret);
  }

  /** True when a client id is configured (refresh and device flow need one). */
  get hasClientId(): boolean {
    return this.#clientId !== "";
  }

  /**
   * Asks Twitch about `token`. An invalid, expired or revoked token throws `TWITCH_TOKEN_INVALID`;
   * an unreachable Twitch throws a transient `TWITCH_AUTH_FAILED`.
   */
  async validate(token: string): Promise<TokenInfo> {
    const bare = stripOAuthPrefix(token);
    this.#log?.addSecret(bare);
    requireWellFormed(bare);
    const res = await this.#request("validate", "GET", { Authorization: `OAuth ${bare}` });
    if (res.status === 401) {
      throw new ClankError("TWITCH_TOKEN_INVALID", "Twitch says the token is invalid, expired or revoked", {
        details: { status: 401, reason: "invalid_token" },
      });
    }
    if (res.status !== 200) throw httpError("validate", res);
    const body = res.body as Record<string, unknown>;
    return {
      clientId: str(body.client_id),
      login: str(body.login).toLowerCase(),
      userId: str(body.user_id),
      scopes: strings(body.scopes),
      expiresIn: num(body.expires_in),
    };
  }

  /**
   * Trades a refresh token for a new token. A refresh token Twitch no longer accepts (revoked,
   * expired, or issued to another client) throws `TWITCH_TOKEN_INVALID` with reason
   * `invalid_refresh_token`.
   */
  async refresh(refreshToken: string): Promise<TokenGrant> {
    this.#log?.addSecret(refreshToken);
    this.#requireClientId("refresh a token");
    const form: Record<string, string> = {
      client_id: this.#clientId,
      grant_type: "refresh_token",
      refresh_token: refreshToken,
    };
    if (this.#clientSecret) form.client_secret = this.#clientSecret;
    const res = await this.#request("token", "POST", {}, form);
    if (res.status === 200) return this.#grant(res.body);
    const message = twitchMessage(res.body).toLowerCase();
    if ((res.status === 400 || res.status === 401) && message.includes("refresh token")) {
      throw new ClankError("TWITCH_TOKEN_INVALID", "Twitch no longer accepts the refresh token", {
        details: { status: res.status, reason: "invalid_refresh_token" },
      });
    }
    if (message.includes("client")) {
      throw new ClankError(
        "TWITCH_AUTH_FAILED",
        `Twitch refused the client credentials (HTTP ${res.status}: ${twitchMessage(res.body)}); ` +
          `check TWITCH_CLIENT_ID and TWITCH_CLIENT_SECRET`,
        { details: { status: res.status, reason: "invalid_client", transient: false } },
      );
    }
    throw httpError("token", res);
  }

  /** Starts the device code grant for `scopes`. */
  async startDeviceFlow(scopes: readonly string[]): Promise<DeviceAuthorization> {
    this.#requireClientId("start the device code flow");
    const res = await this.#request("device", "POST", {}, {
      client_id: this.#clientId,
      scopes: scopes.join(" "),
    });
    if (res.status !== 200) throw httpError("device", res);
    const body = res.body as Record<string, unknown>;
    const out: DeviceAuthorization = {
      deviceCode: str(body.device_code),
      userCode: str(body.user_code),
      verificationUri: str(body.verification_uri),
      expiresIn: num(body.expires_in) || 1800,
      interval: num(body.interval) || 5,
    };
    this.#log?.addSecret(out.deviceCode);
    if (!out.deviceCode || !out.verificationUri) {
      throw new ClankError(
        "TWITCH_AUTH_FAILED",
        "Twitch's device authorization answer lacks device_code or URL",
        {
          details: { transient: false },
        },
      );
    }
    return out;
  }

  /** Polls the token endpoint once for a device code. */
  async pollDeviceToken(deviceCode: string, scopes: readonly string[]): Promise<DevicePoll> {
    const form: Record<string, string> = {
      client_id: this.#clientId,
      scopes: scopes.join(" "),
      device_code: deviceCode,
      grant_type: DEVICE_GRANT_TYPE,
    };
    if (this.#clientSecret) form.client_secret = this.#clientSecret;
    const res = await this.#request("token", "POST", {}, form);
    if (res.status === 200) return { status: "ok", grant: this.#grant(res.body) };
    const body = res.body as Record<string, unknown> | undefined;
    // Twitch puts the RFC 8628 code in `message`; standard servers use `error`.
    const codes = [str(body?.message), str(body?.error)].map((s) => s.toLowerCase());
    if (codes.includes("authorization_pending")) return { status: "pending" };
    if (codes.includes("slow_down")) return { status: "slow_down" };
    if (codes.some((c) => c === "expired_token" || c === "invalid device code")) return { status: "expired" };
    if (codes.includes("access_denied")) return { status: "denied" };
    throw httpError("token", res);
  }

  /** Revokes `token` at Twitch; an already invalid token is not an error. */
  async revoke(token: string): Promise<void> {
    const bare = stripOAuthPrefix(token);
    this.#log?.addSecret(bare);
    requireWellFormed(bare);
    this.#requireClientId("revoke a token");
    const res = await this.#request("revoke", "POST", {}, { client_id: this.#clientId, token: bare });
    if (res.status === 200) return;
    if (res.status === 400 && twitchMessage(res.body).toLowerCase().includes("invalid token")) return;
    throw httpError("revoke", res);
  }

  #grant(raw: unknown): TokenGrant {
    const body = (raw ?? {}) as Record<string, unknown>;
    const grant: TokenGrant = {
      accessToken: str(body.access_token),
      refreshToken: str(body.refresh_token),
      scopes: Array.isArray(body.scope) ? strings(body.scope) : str(body.scope).split(" ").filter(Boolean),
      expiresIn: num(body.expires_in),
    };
    this.#log?.addSecret(grant.accessToken);
    this.#log?.addSecret(grant.refreshToken);
    if (!grant.accessToken) {
      throw new ClankError("TWITCH_AUTH_FAILED", "Twitch's token answer lacks access_token", {
        details: { transient: false },
      });
    }
    return grant;
  }

  #requireClientId(what: string): void {
    if (this.#clientId) return;
    throw new ClankError(
      "TWITCH_AUTH_FAILED",
      `TWITCH_CLIENT_ID is not set, so clank cannot ${what}; register an application at ` +
        `https://dev.twitch.tv/console and set TWITCH_CLIENT_ID (and TWITCH_CLIENT_SECRET for a confidential client)`,
      { details: { reason: "no_client_id", transient: false } },
    );
  }

  async #request(
    endpoint: "validate" | "token" | "device" | "revoke",
    method: "GET" | "POST",
    headers: Record<string, string>,
    form?: Record<string, string>,
  ): Promise<{ status: number; body: unknown }> {
    const url = `${this.#base}/oauth2/${endpoint}`;
    const ctrl = new AbortController();
    const timer = setTimeout(() => ctrl.abort(), this.#timeoutMs);
    try {
      const res = await this.#fetch(url, {
        method,
        headers: { Accept: "application/json", ...headers },
        body: form ? new URLSearchParams(form) : undefined,
        signal: ctrl.signal,
      });
      const text = await res.text();
      let body: unknown;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        body = undefined;
      }
      this.#log?.debug("Twitch OAuth answered", { endpoint, status: res.status });
      return { status: res.status, body };
    } catch (err) {
      const why = ctrl.signal.aborted ? `no answer within ${this.#timeoutMs} ms` : errorText(err);
      throw new ClankError("TWITCH_AUTH_FAILED", `Twitch OAuth ${endpoint} at ${url} failed: ${why}`, {
        details: { endpoint, transient: true },
      });
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Removes an `oauth:` prefix (the IRC PASS form) and surrounding whitespace from a token. */
export function stripOAuthPrefix(token: string): string {
  const t = token.trim();
  // `oauth: abc` is a common hand-edit; the space is not part of the token.
  return t.toLowerCase().startsWith("oauth:") ? t.slice(6).trim() : t;
}

/** Throws a clear `TWITCH_TOKEN_INVALID` (reason `malformed_token`, never echoing it) before any request. */
function requireWellFormed(token: string): void {
  if (isWellFormedToken(token)) return;
  throw new ClankError(
    "TWITCH_TOKEN_INVALID",
    `${malformedTokenMessage("The Twitch token")}: copy it again without them, or run deno task auth`,
    { details: { reason: "malformed_token" } },
  );
}

function httpError(endpoint: string, res: { status: number; body: unknown }): ClankError {
  const transient = isTransientStatus(res.status);
  const msg = twitchMessage(res.body);
  return new ClankError(
    "TWITCH_AUTH_FAILED",
    `Twitch OAuth ${endpoint} answered HTTP ${res.status}${msg ? `: ${msg}` : ""}`,
    { details: { endpoint, status: res.status, transient } },
  );
}

// Twitch's own short error text; bounded and stripped of anything but printable ASCII so a
// misbehaving server cannot smuggle much into our messages.
function twitchMessage(body: unknown): string {
  const b = body as Record<string, unknown> | undefined;
  const text = str(b?.message) || str(b?.error_description) || str(b?.error);
  return text.replace(/[^\x20-\x7e]/g, "").slice(0, 160);
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function str(v: unknown): string {
  return typeof v === "string" ? v : typeof v === "number" ? String(v) : "";
}

function num(v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) && v > 0 ? v : 0;
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((s): s is string => typeof s === "string") : [];
}
