/**
 * `clank healthcheck`: exits 0 when the running bot's `/healthz` answers 200. For container health
 * checks in images without curl.
 * @module
 */
import type { Config } from "./config_schema.ts";

/** Returns the exit code. */
export async function runHealthcheck(config: Config): Promise<number> {
  const listen = config.http.listen;
  if (listen === "") {
    console.error("healthcheck: HTTP_LISTEN is empty, so there is no /healthz to ask");
    return 1;
  }
  const [, host = "127.0.0.1", port = "8080"] = /^\[?([^\]]*)\]?:(\d+)$/.exec(listen) ?? [];
  const target = host === "0.0.0.0" || host === "::" || host === "" ? "127.0.0.1" : host;
  const url = `http://${target.includes(":") ? `[${target}]` : target}:${port}/healthz`;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
    await res.body?.cancel();
    if (res.ok) return 0;
    console.error(`healthcheck: ${url} answered ${res.status}`);
  } catch (err) {
    console.error(`healthcheck: ${url} did not answer: ${failureReason(err)}`);
  }
  return 1;
}

/**
 * One line saying why the request failed. Deno's fetch error says only "fetch failed"; the reason
 * (e.g. "Connection refused") is in its cause, after the URL the message already names.
 */
function failureReason(err: unknown): string {
  if (err instanceof DOMException && err.name === "TimeoutError") return "no answer within 3 seconds";
  const e = err as Error;
  const text = e.cause instanceof Error && e.cause.message !== "" ? e.cause.message : e.message;
  return text.replace(/^error sending request for url \([^)]*\): /, "").split("\n")[0]!;
}
