/**
 * Control-plane authentication: `Authorization: Bearer <CONTROL_TOKEN>`, compared in constant time.
 *
 * Policy:
 * - `CONTROL_TOKEN` set: every `/api/*` route and `/metrics` need the bearer token.
 * - `CONTROL_TOKEN` unset (the server then only binds to loopback): read-only routes are open,
 *   mutating routes answer 401 `TOKEN_REQUIRED`, and the `Host` header must name a loopback host,
 *   so a web page cannot reach the API through DNS rebinding.
 * @module
 */
import { HttpError } from "./http_errors.ts";
import { isLoopbackHost, listenHost } from "./loopback.ts";

/** What a route does: `read` routes only look, `write` routes change the bot. */
export type Access = "read" | "write";

/** Checks requests against the control token. */
export interface Authenticator {
  /** True when a control token is configured. */
  readonly tokenSet: boolean;
  /** Resolves when `request` may perform `access`; throws an `HttpError` (401 or 403) otherwise. */
  check(request: Request, access: Access): Promise<void>;
}

const WWW_AUTHENTICATE = { "www-authenticate": 'Bearer realm="clank"' };

/** Equal-length byte arrays compared without an early exit. */
function fixedTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/**
 * Compares a presented token with the expected one in constant time: both go through HMAC-SHA-256
 * under a per-process random key, so the compared digests always have the same length and a
 * mismatch position says nothing about the token.
 */
export async function tokenMatcher(expected: string): Promise<(presented: string) => Promise<boolean>> {
  const key = await crypto.subtle.importKey(
    "raw",
    crypto.getRandomValues(new Uint8Array(32)),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const enc = new TextEncoder();
  const mac = async (s: string) => new Uint8Array(await crypto.subtle.sign("HMAC", key, enc.encode(s)));
  const want = await mac(expected);
  return async (presented) => fixedTimeEqual(await mac(presented), want);
}

/** Builds the authenticator for one server; `token` empty means no token is configured. */
export async function createAuthenticator(token: string): Promise<Authenticator> {
  const matches = token === "" ? null : await tokenMatcher(token);
  return {
    tokenSet: matches !== null,
    async check(request, access) {
      if (matches === null) {
        const host = request.headers.get("host");
        if (host !== null && !isLoopbackHost(listenHost(host))) {
          throw new HttpError(
            403,
            "HOST_NOT_ALLOWED",
            "Host header must name a loopback host (localhost, 127.0.0.1 or [::1]) while CONTROL_TOKEN is unset",
          );
        }
        if (access === "write") {
          throw new HttpError(
            401,
            "TOKEN_REQUIRED",
            "This route changes the bot and needs CONTROL_TOKEN to be set; set CONTROL_TOKEN and send Authorization: Bearer <token>",
            { headers: WWW_AUTHENTICATE },
          );
        }
        return;
      }
      const header = request.headers.get("authorization");
      if (header === null || header.trim() === "") {
        throw new HttpError(
          401,
          "UNAUTHORIZED",
          "Missing Authorization header; send Authorization: Bearer <CONTROL_TOKEN>",
          { headers: WWW_AUTHENTICATE },
        );
      }
      const match = /^Bearer +(\S+) *$/i.exec(header);
      if (match === null) {
        throw new HttpError(
          401,
          "UNAUTHORIZED",
          "Authorization must use the Bearer scheme: Authorization: Bearer <CONTROL_TOKEN>",
          { headers: WWW_AUTHENTICATE },
        );
      }
      if (!(await matches(match[1]!))) {
        throw new HttpError(401, "UNAUTHORIZED", "Wrong control token", { headers: WWW_AUTHENTICATE });
      }
    },
  };
}
