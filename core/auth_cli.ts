/**
 * `deno task auth` — get the bot's token with Twitch's device code flow and store it encrypted;
 * `deno task auth status` — show owner, scopes and expiry (never the token); `deno task auth logout`
 * — revoke and delete the stored token.
 * @module
 */
import type { Config } from "./config_schema.ts";
import { ClankError, describeError, isClankError } from "./errors.ts";
import type { Logger } from "./log.ts";
import { loadSecretKey, SECRET_KEY_ENV, type SecretKey } from "./secret_key.ts";
import {
  canRefreshWith,
  clientMismatch,
  pairedRefreshToken,
  REQUIRED_SCOPES,
  selectToken,
  tokenProblem,
  type TokenSelection,
} from "./token_manager.ts";
import { type SecretKv, type StoredToken, TokenStore } from "./token_store.ts";
import { isTransientAuthError, type TokenGrant, type TokenInfo, TwitchOAuth } from "./twitch_oauth.ts";

/** What {@link runAuthCommand} needs besides the config. */
export interface AuthCommandDeps {
  log: Logger;
  /** Where the encrypted token is stored (the storage's kv). */
  storage: SecretKv;
  /** Prints one line for the user (default `console.log`). */
  out?: (line: string) => void;
  fetch?: typeof fetch;
  /** Waits between device-flow polls (tests pass a recorder). */
  sleep?: (ms: number) => Promise<void>;
  /** Reads environment variables (default `Deno.env.get`). */
  env?: (name: string) => string | undefined;
  now?: () => number;
}

const USAGE = [
  "Usage: deno task auth [login|status|logout]",
  "  login   (default) get a token with Twitch's device code flow and store it encrypted",
  "  status  show owner, scopes and expiry of the token in use",
  "  logout  revoke the stored token at Twitch and delete it",
];

/** Polls in a row that may fail because Twitch is unreachable before the flow gives up. */
const MAX_POLL_ERRORS = 5;
/** Longest wait between two polls while backing off after failures. */
const MAX_POLL_BACKOFF_MS = 60_000;

/** Runs `deno task auth [login|status|logout]`; resolves with the process exit code. */
export async function runAuthCommand(args: string[], config: Config, deps: AuthCommandDeps): Promise<number> {
  const print = deps.out ?? ((line: string) => console.log(line));
  // Every line goes through the logger's redaction: an error text from fetch or the database can quote
  // a secret (a token in a rejected header), and the terminal is as public as a log.
  const out = (line: string) => print(deps.log.redact(line));
  const sub = args[0] ?? "login";
  try {
    switch (sub) {
      case "login":
        return await login(config, deps, out);
      case "status":
        return await status(config, deps, out);
      case "logout":
        return await logout(config, deps, out);
      case "help":
      case "--help":
      case "-h":
        USAGE.forEach((l) => out(l));
        return 0;
      default:
        out(`Unknown auth command ${JSON.stringify(sub)}; allowed: login, status, logout`);
        USAGE.forEach((l) => out(l));
        return 2;
    }
  } catch (err) {
    // Every message here is built without secrets; the logger redacts anyway.
    out(deps.log.redact(err instanceof ClankError ? err.message : describeError(err)));
    return 1;
  }
}

async function openStore(
  config: Config,
  deps: AuthCommandDeps,
): Promise<{ store: TokenStore; key: SecretKey }> {
  const key = await loadSecretKey({
    envValue: envOf(deps)(SECRET_KEY_ENV),
    keyFile: config.auth.key_file,
    log: deps.log,
  });
  return { store: new TokenStore(deps.storage, key, deps.log), key };
}

function oauthFor(config: Config, deps: AuthCommandDeps): TwitchOAuth {
  return new TwitchOAuth({
    authUrl: config.twitch.auth_url,
    clientId: config.twitch.client_id,
    clientSecret: config.twitch.client_secret,
    fetch: deps.fetch,
    log: deps.log,
  });
}

async function login(config: Config, deps: AuthCommandDeps, out: (line: string) => void): Promise<number> {
  if (!config.twitch.client_id) {
    out(
      "TWITCH_CLIENT_ID is not set: register an application at https://dev.twitch.tv/console " +
        "(category Chat Bot), then set TWITCH_CLIENT_ID (and TWITCH_CLIENT_SECRET for a confidential client)",
    );
    return 1;
  }
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const { store, key } = await openStore(config, deps);
  const oauth = oauthFor(config, deps);

  const device = await oauth.startDeviceFlow(REQUIRED_SCOPES);
  const who = config.twitch.username ? `the bot account ${config.twitch.username}` : "the bot account";
  out(`Open ${device.verificationUri}`);
  out(`and enter the code ${device.userCode} while logged in to Twitch as ${who}.`);
  out(`Waiting for approval (the code expires in ${Math.round(device.expiresIn / 60)} minutes)...`);

  let intervalMs = device.interval * 1000;
  let waitedMs = 0;
  /** Polls in a row that failed because Twitch was unreachable. */
  let failures = 0;
  let grant: TokenGrant | undefined;
  while (!grant) {
    if (waitedMs >= device.expiresIn * 1000) {
      out("The code expired before it was approved: run deno task auth again");
      return 1;
    }
    // RFC 8628 §3.5: back off exponentially after a failed poll, so a struggling Twitch gets room.
    const waitMs = failures > 0 ? Math.min(MAX_POLL_BACKOFF_MS, intervalMs * 2 ** failures) : intervalMs;
    await sleep(waitMs);
    waitedMs += waitMs;
    let poll;
    try {
      poll = await oauth.pollDeviceToken(device.deviceCode, REQUIRED_SCOPES);
    } catch (err) {
      // Only failures in a row count: an outage of a minute now and then must not end a 30-minute wait.
      if (isTransientAuthError(err) && ++failures < MAX_POLL_ERRORS) continue;
      throw err;
    }
    failures = 0;
    switch (poll.status) {
      case "pending":
        break;
      case "slow_down":
        // RFC 8628 §3.5: add 5 seconds to the interval for this and all later polls.
        intervalMs += 5000;
        break;
      case "expired":
        out("The code expired before it was approved: run deno task auth again");
        return 1;
      case "denied":
        out("Authorization was denied on Twitch: run deno task auth again and choose Authorize");
        return 1;
      case "ok":
        grant = poll.grant;
    }
  }

  const info = await oauth.validate(grant.accessToken);
  const problem = tokenProblem(info, config.twitch.username);
  if (problem) {
    out(problem);
    // The token is of no use to us; do not leave a live credential behind.
    await oauth.revoke(grant.accessToken).catch(() => {});
    out("The new token was revoked and not stored");
    return 1;
  }
  const record: StoredToken = {
    access_token: grant.accessToken,
    refresh_token: grant.refreshToken,
    scopes: info.scopes,
    login: info.login,
    user_id: info.userId,
    expires_at: info.expiresIn > 0 ? now() + info.expiresIn * 1000 : null,
    client_id: info.clientId || config.twitch.client_id,
    origin: "",
    saved_at: now(),
  };
  await store.save(record);
  out(`Stored the token of ${info.login} (encrypted with ${key.description}).`);
  describeToken(out, info, record.expires_at, now());
  if (!config.twitch.username) {
    out(`Set TWITCH_BOT_USERNAME=${info.login} so the bot logs in as this account.`);
  }
  if (config.twitch.oauth_token) {
    out("Note: TWITCH_OAUTH_TOKEN is set and takes precedence; unset it to use the stored token.");
  }
  return 0;
}

async function status(config: Config, deps: AuthCommandDeps, out: (line: string) => void): Promise<number> {
  const now = (deps.now ?? Date.now)();
  const { store, key } = await openStore(config, deps);
  let stored: StoredToken | undefined;
  let storeError: string | undefined;
  try {
    stored = await store.load();
  } catch (err) {
    if (!isClankError(err)) throw err;
    storeError = err.message;
  }
  // The same choice the bot makes at start, so status describes the token the bot really uses.
  const selection = await selectToken(config.twitch.oauth_token, stored);
  const token = selection.token;
  out(`Key: ${key.description} (key id ${key.id})`);
  if (storeError) out(`Stored token: unreadable: ${storeError}`);
  else if (stored) out(`Stored token: ${stored.login} (saved ${new Date(stored.saved_at).toISOString()})`);
  else out("Stored token: none");
  if (!token) {
    out("Token in use: none; run deno task auth, or set TWITCH_OAUTH_TOKEN");
    return 1;
  }
  out(`Token in use: ${inUse(selection)}`);

  const oauth = oauthFor(config, deps);
  let info: TokenInfo | undefined;
  try {
    info = await oauth.validate(token.access);
  } catch (err) {
    if (isClankError(err, "TWITCH_TOKEN_INVALID") && err.details?.reason === "malformed_token") {
      out(err.message);
    } else if (isClankError(err, "TWITCH_TOKEN_INVALID")) {
      out("Twitch says: invalid, expired or revoked");
    } else {
      out(`Twitch could not be reached to validate the token: ${describeError(err)}`);
    }
  }
  if (info) {
    // As the bot does after validating: pair a stored refresh token of the same grant, and take the
    // client id Twitch names.
    token.refresh = pairedRefreshToken(selection.candidate, info) || token.refresh;
    token.clientId = info.clientId;
    describeToken(out, info, info.expiresIn > 0 ? now + info.expiresIn * 1000 : null, now);
  } else if (selection.kind !== "env" && stored) {
    out(`Owner (stored): ${stored.login} (user id ${stored.user_id})`);
    out(`Scopes (stored): ${stored.scopes.join(" ") || "none"}`);
    out(`Expires (stored): ${expiryText(stored.expires_at, now)}`);
  }
  const clientId = config.twitch.client_id;
  const mismatch = clientMismatch(token, clientId);
  if (!clientId) out("Refresh: not possible (TWITCH_CLIENT_ID is not set)");
  else if (!token.refresh) out("Refresh: not possible (no refresh token for this token)");
  else if (mismatch) out(`Refresh: not possible (${mismatch})`);
  else if (canRefreshWith(token, clientId)) out("Refresh: automatic (client id and refresh token present)");
  if (!info && token.refresh && canRefreshWith(token, clientId)) {
    out("The bot tries to refresh it when it starts; if Twitch refuses, run deno task auth");
  }

  const problem = info ? tokenProblem(info, config.twitch.username) : null;
  if (problem) out(problem);
  return info && !problem ? 0 : 1;
}

function inUse(selection: TokenSelection): string {
  switch (selection.kind) {
    case "env":
      return "TWITCH_OAUTH_TOKEN (environment)";
    case "env_successor":
      return "stored token refreshed from TWITCH_OAUTH_TOKEN";
    case "stored":
      return "stored token";
    case "none":
      return "none";
  }
}

async function logout(config: Config, deps: AuthCommandDeps, out: (line: string) => void): Promise<number> {
  const { store } = await openStore(config, deps);
  const stored = await store.load();
  if (!stored) {
    out("No stored token");
    return 0;
  }
  if (config.twitch.client_id) {
    try {
      await oauthFor(config, deps).revoke(stored.access_token);
      out(`Revoked the token of ${stored.login} at Twitch`);
    } catch (err) {
      out(`Could not revoke the token at Twitch (${describeError(err)}); deleting it anyway`);
    }
  } else {
    out("TWITCH_CLIENT_ID is not set, so the token was not revoked at Twitch; deleting it");
  }
  await store.clear();
  out("Deleted the stored token");
  return 0;
}

function describeToken(
  out: (line: string) => void,
  info: TokenInfo,
  expiresAt: number | null,
  now: number,
): void {
  out(`Owner: ${info.login} (user id ${info.userId})`);
  out(`Scopes: ${info.scopes.join(" ") || "none"}`);
  out(`Expires: ${expiryText(expiresAt, now)}`);
}

/** `2025-01-01T12:00:00.000Z (in 3h 59m)` or `never`. */
export function expiryText(expiresAt: number | null, now: number): string {
  if (expiresAt === null) return "never";
  const left = expiresAt - now;
  if (left <= 0) return `${new Date(expiresAt).toISOString()} (expired)`;
  const mins = Math.floor(left / 60_000);
  const span = mins >= 60 ? `${Math.floor(mins / 60)}h ${mins % 60}m` : `${mins}m`;
  return `${new Date(expiresAt).toISOString()} (in ${span})`;
}

function envOf(deps: AuthCommandDeps): (name: string) => string | undefined {
  return deps.env ?? ((name) => Deno.env.get(name));
}
