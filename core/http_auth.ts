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
import { isLoopbackHost, parseHostPort } from "./loopback.ts";

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

/** Fewest characters of a control token; nothing throttles wrong guesses, so length is the defence. */
export const CONTROL_TOKEN_MIN_LENGTH = 16;

const TOKEN_ADVICE = "use letters, digits and -._~+/=, e.g. from `openssl rand -hex 32`";

/**
 * Why `token` cannot work as `CONTROL_TOKEN`, or `null` when it can (`""` means no token), phrased to
 * follow the token's name (`must not contain whitespace …`); it never contains the token.
 * Whitespace can never match (the header carries one word after `Bearer`), and a client sends
 * non-ASCII as bytes the server reads back as Latin-1, so either would lock everyone out without a
 * word; a short token could be guessed.
 */
export function controlTokenProblem(token: string): string | null {
  if (token === "") return null;
  if (/\s/.test(token)) {
    return `must not contain whitespace (it is sent in an Authorization header); ${TOKEN_ADVICE}`;
  }
  if (!/^[\x21-\x7e]+$/.test(token)) {
    return "must be visible ASCII characters only (it is sent in an Authorization header); " +
      TOKEN_ADVICE;
  }
  if (token.length < CONTROL_TOKEN_MIN_LENGTH) {
    return `must be at least ${CONTROL_TOKEN_MIN_LENGTH} characters long; ${TOKEN_ADVICE}`;
  }
  return null;
}

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
        // No Host at all is HTTP/1.0 from a local tool; browsers, the rebinding threat, always send one.
        const host = request.headers.get("host");
        const parsed = host === null ? null : parseHostPort(host);
        if (host !== null && (parsed === null || !isLoopbackHost(parsed.hostname))) {
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
      if (match === null && /^Bearer +\S+ +\S/i.test(header)) {
        throw new HttpError(
          401,
          "UNAUTHORIZED",
          "Authorization: Bearer must be followed by one token without spaces: Authorization: Bearer <CONTROL_TOKEN>",
          { headers: WWW_AUTHENTICATE },
        );
      }
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
