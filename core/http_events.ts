/**
 * `GET /api/events`: live chat and bot lines as NDJSON (one JSON object per line) over a streamed
 * response. NDJSON over `fetch` rather than Server-Sent Events because `EventSource` cannot send an
 * `Authorization` header.
 *
 * Objects on the stream:
 * - `{"type":"hello","time":…,"heartbeatMs":…}` first, once the subscription is live: a client that
 *   hears nothing for a few heartbeats knows the connection stalled;
 * - `{"type":"line","line":RecentLine}` for every new line;
 * - `{"type":"gap","dropped":N}` when N lines were dropped because the client read too slowly;
 * - `{"type":"ping","time":…}` every `heartbeatMs` so proxies keep the connection open.
 * @module
 */
import type { ControlApi, RecentLine } from "./control.ts";
import { HttpError } from "./http_errors.ts";

/** Lines buffered per client before new ones are dropped (and reported as a gap). */
const QUEUE_LINES = 512;

/** Tracks open event streams so shutdown can close them. */
export class EventStreams {
  #closers = new Set<() => void>();
  #heartbeatMs: number;
  #closed = false;

  constructor(heartbeatMs = 20_000) {
    this.#heartbeatMs = heartbeatMs;
  }

  /** Open streams right now. */
  get size(): number {
    return this.#closers.size;
  }

  /** A streamed NDJSON response of new lines, optionally for one channel only. */
  open(control: ControlApi, channel: string | undefined, redact: (s: string) => string): Response {
    if (this.#closed) throw new HttpError(503, "SHUTTING_DOWN", "The control plane is shutting down");
    const enc = new TextEncoder();
    let close = () => {};
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        let dropped = 0;
        let closed = false;
        const send = (obj: unknown) => controller.enqueue(enc.encode(redact(JSON.stringify(obj)) + "\n"));
        const unsubscribe = control.subscribe((line: RecentLine) => {
          if (closed || (channel !== undefined && line.channel !== channel)) return;
          if ((controller.desiredSize ?? 0) <= 0) {
            dropped++;
            return;
          }
          if (dropped > 0) {
            send({ type: "gap", dropped });
            dropped = 0;
          }
          send({ type: "line", line });
        });
        const heartbeat = setInterval(() => {
          if ((controller.desiredSize ?? 0) > 0) send({ type: "ping", time: Date.now() });
        }, this.#heartbeatMs);
        close = () => {
          if (closed) return;
          closed = true;
          clearInterval(heartbeat);
          unsubscribe();
          this.#closers.delete(close);
          try {
            controller.close();
          } catch {
            // Already closed or errored by the client going away.
          }
        };
        this.#closers.add(close);
        send({ type: "hello", time: Date.now(), heartbeatMs: this.#heartbeatMs });
      },
      cancel: () => close(),
    }, new CountQueuingStrategy({ highWaterMark: QUEUE_LINES }));
    return new Response(body, {
      headers: {
        "content-type": "application/x-ndjson; charset=utf-8",
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
      },
    });
  }

  /** Ends every open stream and refuses new ones (server shutdown). */
  closeAll(): void {
    this.#closed = true;
    for (const close of [...this.#closers]) close();
  }
}
