/**
 * JSON error responses of the control plane. Every failure answers
 * `{"error": {"code", "message", ...details}}` with a stable, upper-case code, so scripts can branch
 * on the code and people can read the message.
 * @module
 */
import { ClankError, type ErrorCode } from "./errors.ts";

/** Codes the control plane answers with, besides `ClankError` codes passed through. */
export type HttpErrorCode =
  | "BAD_REQUEST"
  | "BODY_INVALID"
  | "JSON_INVALID"
  | "CHANNEL_INVALID"
  | "CHANNEL_NOT_FOUND"
  | "QUERY_INVALID"
  | "SETTING_INVALID"
  | "UNAUTHORIZED"
  | "TOKEN_REQUIRED"
  | "HOST_NOT_ALLOWED"
  | "NOT_FOUND"
  | "METHOD_NOT_ALLOWED"
  | "PAYLOAD_TOO_LARGE"
  | "UNSUPPORTED_MEDIA_TYPE"
  | "SHUTTING_DOWN"
  | "INTERNAL"
  | ErrorCode;

/** An error that becomes one JSON error response. Throw it from a route handler. */
export class HttpError extends Error {
  /** HTTP status code. */
  readonly status: number;
  /** Stable code in the JSON body. */
  readonly code: HttpErrorCode;
  /** Extra fields merged into the JSON `error` object (never secrets). */
  readonly details: Record<string, unknown>;
  /** Extra response headers, e.g. `Allow` or `WWW-Authenticate`. */
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    code: HttpErrorCode,
    message: string,
    options: { details?: Record<string, unknown>; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = "HttpError";
    this.status = status;
    this.code = code;
    this.details = options.details ?? {};
    this.headers = options.headers ?? {};
  }
}

/** Headers every API response carries: JSON, never cached, never sniffed. */
export const JSON_HEADERS: Readonly<Record<string, string>> = {
  "content-type": "application/json; charset=utf-8",
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
};

/**
 * A JSON response. `redact` runs over the serialized body so a secret that hid in a value (an error
 * message from a plugin, a database URL) never leaves the process.
 */
export function jsonResponse(
  status: number,
  body: unknown,
  redact: (text: string) => string,
  headers: Record<string, string> = {},
): Response {
  const text = redact(JSON.stringify(body));
  return new Response(text, { status, headers: { ...JSON_HEADERS, ...headers } });
}

/** The JSON response for an `HttpError`. */
export function errorResponse(err: HttpError, redact: (text: string) => string): Response {
  return jsonResponse(
    err.status,
    { error: { code: err.code, message: err.message, ...err.details } },
    redact,
    err.headers,
  );
}

const CLANK_STATUS: Partial<Record<ErrorCode, number>> = {
  SETTING_INVALID: 400,
  CONFIG_INVALID: 422,
  CONFIG_NOT_FOUND: 422,
  PLUGIN_INVALID: 422,
  PLUGIN_LOAD_FAILED: 422,
  PLUGIN_PERMISSION_MISSING: 422,
  OLLAMA_UNREACHABLE: 503,
  OLLAMA_MODEL_MISSING: 422,
  STORAGE_UNAVAILABLE: 503,
  TWITCH_AUTH_FAILED: 502,
  TWITCH_TOKEN_INVALID: 502,
};

/**
 * The `HttpError` for anything a handler threw: `HttpError` as is, a `ClankError` with its code and
 * message (a status chosen by code), anything else a 500 `INTERNAL` whose message points to the log
 * (the original error may carry details that do not belong in a response).
 */
export function toHttpError(err: unknown): { error: HttpError; internal: boolean } {
  if (err instanceof HttpError) return { error: err, internal: false };
  if (err instanceof ClankError) {
    const status = CLANK_STATUS[err.code] ?? 500;
    return { error: new HttpError(status, err.code, err.message), internal: status === 500 };
  }
  return {
    error: new HttpError(500, "INTERNAL", "Internal error; see the bot's log for details"),
    internal: true,
  };
}
