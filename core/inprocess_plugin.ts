/**
 * Runs a plugin in the host's own isolate (built-ins, and `[[plugins]]` entries with `sandbox = false`).
 *
 * The handle applies the call deadline, validates every reply and disables the plugin after
 * repeated failures. Limit: a deadline can only cut an *asynchronous* hang. A synchronous infinite
 * loop (`while (true) {}`) blocks the isolate and cannot be preempted in-process; that is why
 * third-party code runs in a Worker (`sandbox_host.ts`), where a hung call gets the Worker terminated.
 * @module
 */
import { type DeadlineTimers, isTimedOut, raceDeadline } from "./deadline.ts";
import { ClankError, describeError } from "./errors.ts";
import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics.ts";
import type { CallOutcome, PluginHandle, PluginMeta, PluginMethod } from "./plugin_handle.ts";
import { DEFAULT_MAX_FAILURES, PluginHealth } from "./plugin_health.ts";
import { checkPluginOutput } from "./plugin_outputs.ts";
import { pluginLabel, validatePluginDefinition, validatePluginOptions } from "./plugin_validation.ts";
import type { Plugin, PluginApi } from "../plugins/sdk.ts";

/** Persistent per-plugin key-value storage; the host implements it over `Storage.kvGet/kvSet`. */
export interface PluginStoreBackend {
  get(plugin: string, key: string): Promise<unknown>;
  set(plugin: string, key: string, value: unknown): Promise<void>;
  delete(plugin: string, key: string): Promise<void>;
}

/** How to run one in-process plugin. */
export interface InProcessPluginOptions {
  /** `builtin:<name>` or the file path, for messages. */
  source: string;
  /** Raw `[[plugins]] options`, validated through the plugin's schema. */
  options?: Record<string, unknown>;
  log: Logger;
  metrics: Metrics;
  store: PluginStoreBackend;
  /** Deadline of one call in milliseconds. */
  timeoutMs: number;
  /** Deadline of `setup` and `teardown` (default 30 s: setup may load data). */
  setupTimeoutMs?: number;
  /**
   * Timers that measure the `setup` and `teardown` deadlines (default the global ones). Setup waits on
   * real I/O, so a test that fakes time passes real timers here: fake time would outrun the file read.
   */
  lifecycleTimers?: DeadlineTimers;
  /** Consecutive failures before the plugin is disabled (default 5). */
  maxFailures?: number;
}

/** Store keys: short, printable; values must be JSON. */
export const MAX_STORE_KEY_LENGTH = 200;

/** Validates a store key; throws a plain Error the plugin sees. */
export function checkStoreKey(key: unknown): asserts key is string {
  if (typeof key !== "string" || key.length === 0 || key.length > MAX_STORE_KEY_LENGTH) {
    throw new Error(`Store keys must be strings of 1-${MAX_STORE_KEY_LENGTH} characters`);
  }
}

/** The outcome of every successful `observe` (its value is always `undefined`); never mutated. */
const DONE: CallOutcome<undefined> = Object.freeze({ ok: true, value: undefined });

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (typeof v === "object" || typeof v === "function") && v !== null &&
    typeof (v as { then?: unknown }).then === "function";
}

function createApi(name: string, options: unknown, log: Logger, backend: PluginStoreBackend): PluginApi {
  return {
    name,
    options: options as Record<string, unknown>,
    log: {
      debug: (msg, fields) => log.debug(String(msg), fields),
      info: (msg, fields) => log.info(String(msg), fields),
      warn: (msg, fields) => log.warn(String(msg), fields),
      error: (msg, fields) => log.error(String(msg), fields),
    },
    store: {
      get: <T>(key: string) => {
        checkStoreKey(key);
        return backend.get(name, key) as Promise<T | undefined>;
      },
      set: (key, value) => {
        checkStoreKey(key);
        return backend.set(name, key, value);
      },
      delete: (key) => {
        checkStoreKey(key);
        return backend.delete(name, key);
      },
    },
  };
}

/**
 * Validates `plugin` (declaration and options), runs its `setup` and returns its handle.
 * Throws `PLUGIN_INVALID` for a bad declaration or options and `PLUGIN_LOAD_FAILED` when setup fails.
 *
 * @example
 * ```ts
 * const handle = await createInProcessPlugin(mod.default, {
 *   source: "builtin:repetition", log, metrics, store, timeoutMs: 2000,
 * });
 * const out = await handle.call("check", item);
 * ```
 */
export async function createInProcessPlugin(
  plugin: unknown,
  opts: InProcessPluginOptions,
): Promise<PluginHandle> {
  const { plugin: def, meta } = validatePluginDefinition(plugin, opts.source, false);
  const options = await validatePluginOptions(def, opts.source, opts.options ?? {});
  const log = opts.log.child({ plugin: meta.name });
  const api = createApi(meta.name, options, log, opts.store);
  const setupMs = opts.setupTimeoutMs ?? 30_000;
  if (def.setup) {
    let failure: string | undefined;
    try {
      const r = await raceDeadline(Promise.resolve(def.setup(api)), setupMs, opts.lifecycleTimers);
      if (isTimedOut(r)) failure = `did not finish within ${setupMs} ms`;
    } catch (err) {
      failure = describeError(err);
    }
    if (failure !== undefined) {
      throw new ClankError(
        "PLUGIN_LOAD_FAILED",
        `${pluginLabel(meta.name, opts.source)}: setup failed: ${failure}`,
        {
          details: { plugin: meta.name, source: opts.source },
        },
      );
    }
  }
  const health = new PluginHealth(meta.name, log, opts.metrics, opts.maxFailures ?? DEFAULT_MAX_FAILURES);
  return new InProcessPluginHandle(def, meta, api, log, health, opts.timeoutMs, {
    ms: setupMs,
    timers: opts.lifecycleTimers,
  });
}

class InProcessPluginHandle implements PluginHandle {
  readonly meta: PluginMeta;
  readonly #plugin: Plugin;
  readonly #api: PluginApi;
  readonly #log: Logger;
  readonly #health: PluginHealth;
  readonly #timeoutMs: number;
  readonly #teardown: { ms: number; timers?: DeadlineTimers };
  #closed = false;

  constructor(
    plugin: Plugin,
    meta: PluginMeta,
    api: PluginApi,
    log: Logger,
    health: PluginHealth,
    timeoutMs: number,
    teardown: { ms: number; timers?: DeadlineTimers },
  ) {
    this.#plugin = plugin;
    this.meta = meta;
    this.#api = api;
    this.#log = log;
    this.#health = health;
    this.#timeoutMs = timeoutMs;
    this.#teardown = teardown;
  }

  get disabled(): boolean {
    return this.#health.disabled || this.#closed;
  }

  call<T = unknown>(
    method: PluginMethod,
    input: unknown,
    options?: { timeoutMs?: number },
  ): Promise<CallOutcome<T>> {
    try {
      const outcome = this.#invoke<T>(method, input, options?.timeoutMs);
      return outcome instanceof Promise ? outcome : Promise.resolve(outcome);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  callNow<T = unknown>(method: PluginMethod, input: unknown): CallOutcome<T> | Promise<CallOutcome<T>> {
    return this.#invoke<T>(method, input, undefined);
  }

  #invoke<T>(
    method: PluginMethod,
    input: unknown,
    timeoutMs: number | undefined,
  ): CallOutcome<T> | Promise<CallOutcome<T>> {
    if (this.#closed || this.#health.disabled) return this.#health.disabledOutcome();
    const fn = (this.#plugin as unknown as Record<string, unknown>)[method];
    if (typeof fn !== "function") {
      // Every plugin may observe; one without observe() simply has nothing to do.
      if (method === "observe") return DONE as CallOutcome<T>;
      return { ok: false, reason: "threw", error: `Plugin "${this.meta.name}" has no ${method}() handler` };
    }
    let result: unknown;
    try {
      result = fn.call(this.#plugin, input, this.#api);
      // Only async handlers pay for a timer and a promise; a sync one has already finished. Reading
      // `then` runs plugin code too (a getter), so it stays inside the try.
      if (isThenable(result)) return this.#settle<T>(method, result, timeoutMs ?? this.#timeoutMs);
    } catch (err) {
      return this.#health.failed("threw", `${method}() threw ${describeError(err)}`);
    }
    return this.#checked<T>(method, result);
  }

  async #settle<T>(
    method: PluginMethod,
    pending: PromiseLike<unknown>,
    timeoutMs: number,
  ): Promise<CallOutcome<T>> {
    let result: unknown;
    try {
      result = await raceDeadline(pending, timeoutMs);
    } catch (err) {
      return this.#health.failed("threw", `${method}() threw ${describeError(err)}`);
    }
    if (isTimedOut(result)) {
      return this.#health.failed("timeout", `${method}() did not answer within ${timeoutMs} ms`);
    }
    return this.#checked<T>(method, result);
  }

  #checked<T>(method: PluginMethod, result: unknown): CallOutcome<T> {
    // An observer's answer is ignored: one shared outcome instead of a fresh object per chat line.
    if (method === "observe") {
      this.#health.succeeded();
      return DONE as CallOutcome<T>;
    }
    let checked: ReturnType<typeof checkPluginOutput>;
    try {
      checked = checkPluginOutput(method, result);
    } catch (err) {
      // An in-process reply can be any object, getters that throw included.
      return this.#health.failed(
        "malformed",
        `${method}() returned a value that cannot be read: ${describeError(err)}`,
      );
    }
    if (!checked.ok) return this.#health.failed("malformed", checked.error);
    this.#health.succeeded();
    return { ok: true, value: checked.value as T };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.#plugin.teardown) return;
    try {
      const { ms, timers } = this.#teardown;
      const r = await raceDeadline(Promise.resolve(this.#plugin.teardown(this.#api)), ms, timers);
      if (isTimedOut(r)) this.#log.warn(`Plugin teardown did not finish within ${ms} ms`);
    } catch (err) {
      this.#log.warn("Plugin teardown failed", { error: describeError(err) });
    }
  }
}
