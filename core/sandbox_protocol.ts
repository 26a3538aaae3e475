/**
 * The messages between the host (`sandbox_host.ts`) and a plugin Worker (`sandbox_worker.ts`).
 *
 * Both sides post *arrays* of messages: everything queued in the same tick goes out in one
 * `postMessage` (see {@link Outbox}), because a round trip costs far more than a message, and
 * pipelined events must not pay it one by one.
 * @module
 */
import type { PluginMeta, PluginMethod } from "./plugin_handle.ts";
import type { PluginPermissions } from "../plugins/sdk.ts";

/** Host → Worker. */
export type HostMessage =
  /** Import the plugin and validate its declaration; answered by `ready` or `init_error`. */
  | { t: "init"; url: string; source: string }
  /** Validate options and run `setup`; answered by `setup_done` or `setup_error`. */
  | { t: "setup"; options: unknown }
  /** Call a handler; answered by `result` with the same id. */
  | { t: "call"; id: number; method: PluginMethod; input: unknown }
  /** The answer to a `store` request. */
  | { t: "store_result"; id: number; ok: true; value?: unknown }
  | { t: "store_result"; id: number; ok: false; error: string }
  /** Liveness probe after a missed deadline; answered by `pong` unless the Worker is stuck. */
  | { t: "ping"; id: number }
  /** Run `teardown`; answered by `teardown_done`. */
  | { t: "teardown" };

/** Worker → Host. */
export type WorkerMessage =
  | { t: "ready"; meta: PluginMeta; permissions: PluginPermissions }
  | { t: "init_error"; code: "PLUGIN_INVALID" | "PLUGIN_LOAD_FAILED"; message: string }
  | { t: "setup_done" }
  | { t: "setup_error"; code: "PLUGIN_INVALID" | "PLUGIN_LOAD_FAILED"; message: string }
  /** `malformed` marks a reply that could not be sent back (not structured-clone safe). */
  | { t: "result"; id: number; ok: true; value: unknown }
  | { t: "result"; id: number; ok: false; error: string; malformed?: boolean }
  | { t: "log"; level: "debug" | "info" | "warn" | "error"; msg: string; fields?: Record<string, unknown> }
  | { t: "store"; id: number; op: "get" | "set" | "delete"; key: string; value?: unknown }
  | { t: "pong"; id: number }
  | { t: "teardown_done" };

/** Messages per `postMessage`: big enough to amortize a post, small enough to keep both threads busy. */
export const MAX_BATCH = 256;

/** Anything with `postMessage` (a Worker, or the Worker's global scope). */
export interface MessagePort {
  postMessage(message: unknown): void;
}

/**
 * Coalesces messages queued in the same tick into one `postMessage` of an array. When the batch
 * cannot be cloned (a plugin returned a function, say), each message is posted alone and the ones
 * that still fail are handed to `onUnsendable`, so one bad value never sinks its neighbours.
 */
export class Outbox<M> {
  readonly #port: MessagePort;
  readonly #onUnsendable: (message: M, error: unknown) => void;
  #queue: M[] = [];
  #scheduled = false;

  constructor(port: MessagePort, onUnsendable: (message: M, error: unknown) => void) {
    this.#port = port;
    this.#onUnsendable = onUnsendable;
  }

  /** Queues a message for the next flush. */
  push(message: M): void {
    // A full batch goes out at once, so the other side starts on it while this side prepares the next.
    if (this.#queue.push(message) >= MAX_BATCH) {
      this.flush();
      return;
    }
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(this.#onTick);
    }
  }

  readonly #onTick = (): void => {
    this.#scheduled = false;
    this.flush();
  };

  /** Sends everything queued now. */
  readonly flush = (): void => {
    const batch = this.#queue;
    if (batch.length === 0) return;
    this.#queue = [];
    try {
      this.#port.postMessage(batch);
    } catch {
      for (const m of batch) {
        try {
          this.#port.postMessage([m]);
        } catch (err) {
          this.#onUnsendable(m, err);
        }
      }
    }
  };

  /** Drops everything queued (the Worker was terminated). */
  clear(): void {
    this.#queue = [];
  }
}
