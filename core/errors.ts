/**
 * Coded errors. Tests and metrics name failures by code; messages say what was wrong and what is
 * allowed, start upper-case and have no trailing period.
 * @module
 */

/** Every error code clank raises. */
export type ErrorCode =
  | "CONFIG_INVALID"
  | "CONFIG_NOT_FOUND"
  | "PLUGIN_INVALID"
  | "PLUGIN_LOAD_FAILED"
  | "PLUGIN_PERMISSION_MISSING"
  | "PLUGIN_FAILED"
  | "PLUGIN_TIMEOUT"
  | "PLUGIN_DISABLED"
  | "OLLAMA_UNREACHABLE"
  | "OLLAMA_TIMEOUT"
  | "OLLAMA_ERROR"
  | "OLLAMA_MODEL_MISSING"
  | "STORAGE_UNAVAILABLE"
  | "STORAGE_FAILED"
  | "TWITCH_AUTH_FAILED"
  | "TWITCH_TOKEN_INVALID"
  | "TWITCH_NOT_CONNECTED"
  | "TWITCH_SEND_REFUSED"
  | "SECRET_KEY_INVALID"
  | "SECRET_DATA_INVALID"
  | "SETTING_INVALID"
  | "HTTP_BIND_REFUSED"
  | "UPSTREAM_UNAVAILABLE";

/** An error with a stable code and optional structured details (never secrets). */
export class ClankError extends Error {
  /** The stable code. */
  readonly code: ErrorCode;
  /** Structured details for logs and API responses. */
  readonly details?: Record<string, unknown>;

  constructor(
    code: ErrorCode,
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "ClankError";
    this.code = code;
    this.details = options?.details;
  }
}

/** True when `err` is a ClankError with the given code. */
export function isClankError(err: unknown, code?: ErrorCode): err is ClankError {
  return err instanceof ClankError && (code === undefined || err.code === code);
}

/** A one-line description of any thrown value, for logs. */
export function describeError(err: unknown): string {
  // Never throws: plugins can throw anything, including values with no string form
  // (`Object.create(null)`, a throwing `toString` or `message` getter), and a failed description
  // must not turn one failed call into a lost batch.
  try {
    if (err instanceof ClankError) return `${err.code}: ${err.message}`;
    if (err instanceof Error) return `${err.name}: ${err.message}`;
    return String(err);
  } catch {
    return `a thrown ${err === null ? "null" : typeof err} with no string form`;
  }
}
