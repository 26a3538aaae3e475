/**
 * The messages between the host (`sandbox_host.ts`) and a plugin Worker (`sandbox_worker.ts`).
 *
 * Both sides post *arrays* of messages: everything queued in the same tick goes out in one
 * `postMessage` (see {@link Outbox}), because a round trip costs far more than a message, and
 * pipelined events must not pay it one by one.
 *
 * Inside a batch, the most frequent messages travel in columns: a run of calls as one `calls`
 * message (chat-line filter inputs packed into one JSON string), a run of answers that are exactly
 * `{ action: "pass" }` or `undefined` as one `passes` or `dones` message ({@link compactHostBatch},
 * {@link compactWorkerBatch}). Structured clone pays per object: a wrapper object per call cost more
 * to clone than the call's own fields, reading back and checking a `{ action: "pass" }` object per
 * line cost more than the filter, and reading the filter inputs back cost the Worker more than the
 * filter too (bench/sandbox_cost.ts).
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
  /** Call a handler; answered by `result` (or within `passes`/`dones`) with the same id. */
  | { t: "call"; id: number; method: PluginMethod; input: unknown }
  /**
   * Consecutive calls: `ids[i]`, its method ({@link methodOf}) and `inputs[i]` make one call.
   * Chat-line filter inputs travel in `packed` instead (their `inputs[i]` is `null`): see
   * {@link compactHostBatch}.
   */
  | {
    t: "calls";
    ids: number[];
    /** The method of every call of the run, when they share one (the usual case)… */
    method?: PluginMethod;
    /** …else the method of each call. */
    methods?: PluginMethod[];
    /** Absent when every input of the run is packed. */
    inputs?: unknown[];
    /** JSON of {@link PACKED_FIELDS}-long rows: position in the run, then the input's strings. */
    packed?: string;
    /** The distinct `settings` objects of the packed inputs, by the index in their row. */
    shared?: unknown[];
  }
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
  /** Consecutive successful answers that were exactly `{ action: "pass" }`. */
  | { t: "passes"; ids: number[] }
  /** Consecutive successful answers that were `undefined` (every `observe`). */
  | { t: "dones"; ids: number[] }
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

/** A plain object (`Object.prototype` its prototype): what a compacted message may stand for. */
function isPlainRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}

/**
 * The enumerable keys of a plain object, counted: `Object.keys` would cost an array per answer and
 * per chat line on the busy threads that compact.
 */
function keyCount(value: Record<string, unknown>): number {
  let keys = 0;
  for (const _ in value) keys++;
  return keys;
}

/** True for exactly `{ action: "pass" }`: the answer the receiver can rebuild without checking it. */
export function isPlainPass(value: unknown): boolean {
  return isPlainRecord(value) && value.action === "pass" && keyCount(value) === 1;
}

/** Values per packed row: position, direction, channel, user, text, bot, settings index. */
export const PACKED_FIELDS = 7;

/**
 * True for a filter input of a chat line as the host builds it: a plain object with exactly
 * `direction`, `channel`, `user`, `text`, `bot` (strings) and `settings` (an object). Anything else,
 * such as an output filter's `recent` lists, travels by structured clone.
 */
function isPackable(input: unknown): input is {
  direction: string;
  channel: string;
  user: string;
  text: string;
  settings: object;
  bot: string;
} {
  if (!isPlainRecord(input)) return false;
  const f = input;
  if (
    typeof f.direction !== "string" || typeof f.channel !== "string" || typeof f.user !== "string" ||
    typeof f.text !== "string" || typeof f.bot !== "string" || typeof f.settings !== "object" ||
    f.settings === null
  ) return false;
  return keyCount(f) === 6;
}

/**
 * The row values of the run being compacted: one array reused for every batch, because a fresh one
 * grown push by push was the host's largest allocation per call (bench/sandbox_cost.ts).
 */
const rowScratch: unknown[] = [];

/**
 * Turns each run of `call` messages into one `calls` message; other messages keep their place.
 * The filter inputs of chat lines (one per line and filter, the bulk of the traffic) travel as one
 * JSON string per run, their shared `settings` objects once: reading such an object back from a
 * structured clone was the Worker's largest cost, more than the filter itself (bench/sandbox_cost.ts).
 * A run of one method names it once, and a run of packed inputs only has no `inputs` column: a
 * string or a `null` per call was cloned and read back for nothing.
 */
export function compactHostBatch(batch: readonly HostMessage[]): HostMessage[] {
  const out: HostMessage[] = [];
  let run: Extract<HostMessage, { t: "calls" }> | undefined;
  let method: PluginMethod | undefined;
  let methods: PluginMethod[] | undefined;
  let inputs: unknown[] | undefined;
  let rows = 0;
  let shared = new Map<object, number>();
  const finish = () => {
    if (run === undefined) return;
    if (methods !== undefined) run.methods = methods;
    else run.method = method;
    if (inputs !== undefined) run.inputs = inputs;
    if (rows > 0) {
      rowScratch.length = rows;
      run.packed = JSON.stringify(rowScratch);
      run.shared = [...shared.keys()];
      shared = new Map();
    }
    rows = 0;
    run = undefined;
    methods = undefined;
    inputs = undefined;
  };
  for (const m of batch) {
    if (m.t !== "call") {
      finish();
      out.push(m);
      continue;
    }
    if (run === undefined) {
      run = { t: "calls", ids: [] };
      out.push(run);
      method = m.method;
    }
    const position = run.ids.length;
    if (methods !== undefined) methods.push(m.method);
    else if (m.method !== method) {
      methods = new Array<PluginMethod>(position).fill(method!);
      methods.push(m.method);
    }
    const input = m.input;
    if (m.method === "check" && isPackable(input)) {
      let index = shared.get(input.settings);
      if (index === undefined) shared.set(input.settings, index = shared.size);
      rowScratch[rows++] = position;
      rowScratch[rows++] = input.direction;
      rowScratch[rows++] = input.channel;
      rowScratch[rows++] = input.user;
      rowScratch[rows++] = input.text;
      rowScratch[rows++] = input.bot;
      rowScratch[rows++] = index;
      inputs?.push(null);
    } else {
      inputs ??= new Array<unknown>(position).fill(null);
      inputs.push(input);
    }
    run.ids.push(m.id);
  }
  finish();
  return out;
}

/** The method of call `i` of a `calls` message. */
export function methodOf(m: Extract<HostMessage, { t: "calls" }>, i: number): PluginMethod {
  return m.methods?.[i] ?? m.method!;
}

/** The inputs of a `calls` message, with its packed filter inputs put back in their places. */
export function unpackInputs(m: Extract<HostMessage, { t: "calls" }>): unknown[] {
  const inputs = m.inputs ?? new Array<unknown>(m.ids.length).fill(null);
  if (m.packed === undefined) return inputs;
  const rows = JSON.parse(m.packed) as unknown[];
  const shared = m.shared ?? [];
  for (let r = 0; r + PACKED_FIELDS <= rows.length; r += PACKED_FIELDS) {
    inputs[rows[r] as number] = {
      direction: rows[r + 1],
      channel: rows[r + 2],
      user: rows[r + 3],
      text: rows[r + 4],
      settings: shared[rows[r + 6] as number],
      bot: rows[r + 5],
    };
  }
  return inputs;
}

/**
 * Turns each run of successful results that are exactly `{ action: "pass" }` into one `passes`
 * message, and each run of `undefined` results into one `dones` message; everything else keeps its place.
 */
export function compactWorkerBatch(batch: readonly WorkerMessage[]): WorkerMessage[] {
  const out: WorkerMessage[] = [];
  let run: Extract<WorkerMessage, { t: "passes" | "dones" }> | undefined;
  for (const m of batch) {
    const kind = m.t === "result" && m.ok === true
      ? m.value === undefined ? "dones" : isPlainPass(m.value) ? "passes" : undefined
      : undefined;
    if (kind === undefined) {
      run = undefined;
      out.push(m);
      continue;
    }
    if (run === undefined || run.t !== kind) {
      const fresh: Extract<WorkerMessage, { t: "passes" | "dones" }> = { t: kind, ids: [] };
      out.push(fresh);
      run = fresh;
    }
    run.ids.push((m as { id: number }).id);
  }
  return out;
}

/**
 * Coalesces messages queued in the same tick into one `postMessage` of an array, compacted by
 * `compact`. When the batch cannot be cloned (a plugin returned a function, say), each message is
 * posted alone and the ones that still fail are handed to `onUnsendable`, so one bad value never
 * sinks its neighbours.
 */
export class Outbox<M> {
  readonly #port: MessagePort;
  readonly #onUnsendable: (message: M, error: unknown) => void;
  readonly #compact: (batch: M[]) => unknown[];
  #queue: M[] = [];
  #scheduled = false;

  constructor(
    port: MessagePort,
    onUnsendable: (message: M, error: unknown) => void,
    compact: (batch: M[]) => unknown[] = (batch) => batch,
  ) {
    this.#port = port;
    this.#onUnsendable = onUnsendable;
    this.#compact = compact;
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
      this.#port.postMessage(this.#compact(batch));
    } catch {
      for (const m of batch) {
        try {
          this.#port.postMessage(this.#compact([m]));
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
