/**
 * Reading a JSON request body with a size limit that holds while the bytes arrive, so a lying or
 * missing `Content-Length` (chunked uploads) cannot make the server buffer more than the limit.
 * @module
 */
import { HttpError } from "./http_errors.ts";

/** Default largest accepted request body: 16 KiB. */
export const DEFAULT_MAX_BODY_BYTES = 16 * 1024;

function tooLarge(maxBytes: number): HttpError {
  return new HttpError(413, "PAYLOAD_TOO_LARGE", `Body is larger than the ${maxBytes}-byte limit`, {
    details: { limit: maxBytes },
  });
}

/** True when a Content-Type header names JSON (`application/json` or any `+json` type). */
export function isJsonContentType(value: string | null): boolean {
  if (value === null) return false;
  const type = value.split(";")[0]!.trim().toLowerCase();
  return type === "application/json" || /^application\/[\w.-]+\+json$/.test(type);
}

/** Reads at most `maxBytes` of `request`'s body; throws 413 as soon as more arrive. */
export async function readBodyBytes(request: Request, maxBytes: number): Promise<Uint8Array> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > maxBytes) {
    await request.body?.cancel().catch(() => {});
    throw tooLarge(maxBytes);
  }
  if (request.body === null) return new Uint8Array();
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

/**
 * Parses a JSON request body: 415 unless the Content-Type is JSON, 413 over `maxBytes`, 400 for an
 * empty body, invalid UTF-8 or malformed JSON (the message names the parse problem).
 */
export async function readJsonBody(request: Request, maxBytes: number): Promise<unknown> {
  if (!isJsonContentType(request.headers.get("content-type"))) {
    await request.body?.cancel().catch(() => {});
    throw new HttpError(
      415,
      "UNSUPPORTED_MEDIA_TYPE",
      "Body must be JSON: send Content-Type: application/json",
      { details: { allowed: ["application/json"] } },
    );
  }
  const bytes = await readBodyBytes(request, maxBytes);
  if (bytes.byteLength === 0) {
    throw new HttpError(400, "BODY_INVALID", "Body is empty; send a JSON object");
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new HttpError(400, "JSON_INVALID", "Body is not valid UTF-8");
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new HttpError(400, "JSON_INVALID", `Body is not valid JSON: ${reason}`);
  }
}
