/**
 * Runs a third-party plugin in its own Worker with exactly the permissions the operator granted, and
 * exposes it as a {@link PluginHandle}.
 *
 * - Calls are pipelined: `call` never waits for an earlier call, and calls queued in the same tick
 *   go to the Worker in one message (answers come back batched the same way).
 * - Every reply is validated (`plugin_outputs.ts`); a throw, a malformed reply or a missed deadline
 *   fails that call.
 * - A Worker that misses a deadline and then does not answer a ping (a synchronous `while (true)`)
 *   is terminated and restarted with backoff (1 s, 2 s, 4 s… capped); calls in flight fail.
 * - Too many failures in a row, or too many restarts within a minute, disable the plugin with one
 *   log line and `clank_plugin_disabled{plugin} 1`; the host goes on.
 * @module
 */
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { raceDeadline } from "./deadline.ts";
import { ClankError, describeError } from "./errors.ts";
import { checkStoreKey, type PluginStoreBackend } from "./inprocess_plugin.ts";
import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics.ts";
import type { CallOutcome, PluginHandle, PluginMeta, PluginMethod } from "./plugin_handle.ts";
import { DEFAULT_MAX_FAILURES, PluginHealth } from "./plugin_health.ts";
import { checkPluginOutput } from "./plugin_outputs.ts";
import {
  checkDeclaredPermissions,
  checkHostHolds,
  resolveGrant,
  workerPermissions,
} from "./plugin_permissions.ts";
import { COMMAND_WORD_PATTERN, PLUGIN_KINDS, PLUGIN_NAME_PATTERN } from "./plugin_validation.ts";
import type { HostMessage, WorkerMessage } from "./sandbox_protocol.ts";
import { compactHostBatch, Outbox } from "./sandbox_protocol.ts";
import type { FilterVerdict, PluginPermissions } from "../plugins/sdk.ts";

const WORKER_URL = new URL("./sandbox_worker.ts", import.meta.url);
const SDK_URL = new URL("../plugins/sdk.ts", import.meta.url);

/** The outcome of every plain pass from a Worker: one frozen object, not two fresh ones per chat line. */
const PASSED: CallOutcome<FilterVerdict> = Object.freeze({
  ok: true,
  value: Object.freeze({ action: "pass" as const }),
});

/** Largest JSON value a sandboxed plugin may put in its store. */
export const MAX_STORE_VALUE_CHARS = 65_536;
/** Log lines per second a sandboxed plugin may write before the rest are dropped (and counted). */
export const MAX_LOG_LINES_PER_SECOND = 50;

/** Largest JSON size of the fields of one plugin log line. */
export const MAX_LOG_FIELDS_CHARS = 4_000;

/** Most distinct store keys one sandboxed plugin may write in a run of the bot. */
export const MAX_STORE_KEYS = 10_000;

/** Lifecycle events of a sandboxed plugin, for tests and diagnostics. */
export type SandboxEvent =
  | { type: "hung" }
  | { type: "crashed"; error: string }
  | { type: "restarting"; delayMs: number }
  | { type: "restarted" }
  | { type: "disabled" };

/** How to run one sandboxed plugin. */
export interface SandboxedPluginOptions {
  /** The plugin module (a `file:` URL). */
  url: URL;
  /** How messages name it: the file path or `builtin:<name>`. */
  source: string;
  /** Raw `[[plugins]] options`, validated inside the Worker through the plugin's schema. */
  options?: Record<string, unknown>;
  /** The operator's grant from `[[plugins]] permissions`. */
  grant?: PluginPermissions;
  /**
   * Names the plugin may not declare (the built-ins'): checked before its setup runs, because the
   * store is kept per plugin name.
   */
  reservedNames?: ReadonlySet<string>;
  /**
   * Paths the Worker may read besides the plugin file and the SDK, without being a grant the plugin
   * must declare: the loader passes the bot's own source directories for sandboxed built-ins.
   */
  implicitRead?: string[];
  /** Relative granted paths are resolved against this directory (default: the working directory). */
  baseDir?: string;
  log: Logger;
  metrics: Metrics;
  store: PluginStoreBackend;
  /** Deadline of one call in milliseconds. */
  timeoutMs: number;
  /** Consecutive failures before the plugin is disabled (default 5). */
  maxFailures?: number;
  /** Deadline of import + setup, and of a restart (default 30 s). */
  setupTimeoutMs?: number;
  /** How long a Worker that missed a deadline has to answer a ping (default min(timeoutMs, 1000)). */
  hangGraceMs?: number;
  /** First restart delay (default 1000 ms), doubled per restart up to `maxRestartBackoffMs` (30 s). */
  restartBackoffMs?: number;
  maxRestartBackoffMs?: number;
  /** Restarts allowed within a minute; the next hang or crash disables the plugin (default 3). */
  maxRestartsPerMinute?: number;
  /** Lifecycle observer. */
  onEvent?: (event: SandboxEvent) => void;
}

/** The delay before restart number `attempt` (0-based): `base * 2^attempt`, at most `cap`. */
export function restartDelay(attempt: number, base: number, cap: number): number {
  return Math.min(cap, base * 2 ** Math.min(attempt, 30));
}

/** Meta and declared permissions come from untrusted code, so the host checks their shape. */
const ReadySchema = z.object({
  meta: z.object({
    name: z.string().regex(PLUGIN_NAME_PATTERN),
    kind: z.enum(PLUGIN_KINDS as [string, ...string[]]),
    methods: z.array(z.enum(["observe", "provide", "check", "gate", "run", "generate"])),
    directions: z.array(z.enum(["in", "out"])).min(1).optional(),
    triggers: z.array(z.enum(["mention", "spontaneous"])).min(1).optional(),
    command: z.string().regex(COMMAND_WORD_PATTERN).optional(),
    aliases: z.array(z.string().regex(COMMAND_WORD_PATTERN)).optional(),
    usage: z.string().max(200).optional(),
    permission: z.enum(["everyone", "moderator"]).optional(),
    cooldown: z.object({ user: z.number().min(0).optional(), channel: z.number().min(0).optional() })
      .optional(),
  }),
  permissions: z.partialRecord(
    z.enum(["net", "read", "write", "env", "run", "ffi", "sys"]),
    z.array(z.string()),
  ),
});

type Timer = ReturnType<typeof setTimeout>;

/**
 * A call in flight. It is also the `call` message queued for the Worker (the extra fields are never
 * posted: batches are compacted first), so a call costs one object, not two.
 */
interface Pending extends Extract<HostMessage, { t: "call" }> {
  deadline: number;
  timeoutMs: number;
  resolve: (outcome: CallOutcome<unknown>) => void;
}

/** Refuses a plugin file that declares a built-in's name, before its setup can touch that store. */
export function checkReservedName(name: string, source: string, reserved?: ReadonlySet<string>): void {
  if (reserved?.has(name)) {
    throw new ClankError(
      "PLUGIN_INVALID",
      `Plugin at ${source} declares the name "${name}" of a built-in plugin (whose stored data goes by that ` +
        "name); give it a name of its own",
      { details: { plugin: name } },
    );
  }
}

/**
 * Starts the plugin's Worker, checks its permissions, runs its setup and returns its handle.
 * Throws `PLUGIN_LOAD_FAILED` (import error, setup failure, no `--unstable-worker-options`),
 * `PLUGIN_INVALID` (bad declaration or options) or `PLUGIN_PERMISSION_MISSING`.
 *
 * @example
 * ```ts
 * const handle = await createSandboxedPlugin({
 *   url: new URL("file:///srv/clank/plugins.d/dice.ts"), source: "plugins.d/dice.ts",
 *   grant: {}, log, metrics, store, timeoutMs: 2000,
 * });
 * ```
 */
export async function createSandboxedPlugin(opts: SandboxedPluginOptions): Promise<PluginHandle> {
  const plugin = new SandboxedPlugin(opts);
  await plugin.start();
  return plugin;
}

/**
 * Imports and validates a plugin in a permission-less Worker and returns its metadata, without
 * running `setup`. The loader uses it to learn a drop-in's declared name before choosing its grant.
 */
export function probeSandboxedPlugin(
  opts: Pick<SandboxedPluginOptions, "url" | "source" | "log" | "metrics" | "store" | "setupTimeoutMs">,
): Promise<PluginMeta> {
  return new SandboxedPlugin({ ...opts, timeoutMs: 1000 }).probe();
}

class SandboxedPlugin implements PluginHandle {
  #meta: PluginMeta | undefined;
  readonly #opts: SandboxedPluginOptions;
  readonly #grant: PluginPermissions;
  readonly #permissions: Deno.PermissionOptionsObject;
  /** The plugin file and the SDK: the Worker must read them to import the plugin. */
  readonly #implicitRead: string[];
  #log: Logger;
  #health: PluginHealth | undefined;
  readonly #storeKeys = new Set<string>();
  #state: "starting" | "running" | "restarting" | "closed" = "starting";
  #worker: Worker | undefined;
  #outbox: Outbox<HostMessage> | undefined;
  #control: { resolve: (m: WorkerMessage) => void; reject: (e: Error) => void } | undefined;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #watchdog: Timer | undefined;
  #watchdogAt = Infinity;
  #pingTimer: Timer | undefined;
  #awaitingPong = 0;
  #pingSeq = 0;
  #restartTimer: Timer | undefined;
  #restartTimes: number[] = [];
  #restartAttempt = 0;
  #logWindow = { start: 0, count: 0, dropped: 0 };

  constructor(opts: SandboxedPluginOptions) {
    this.#opts = opts;
    this.#grant = resolveGrant(opts.grant ?? {}, opts.baseDir ?? Deno.cwd());
    this.#implicitRead = [
      ...[SDK_URL, opts.url].filter((u) => u.protocol === "file:").map((u) => fileURLToPath(u)),
      ...(opts.implicitRead ?? []),
    ];
    this.#permissions = workerPermissions(this.#grant, this.#implicitRead);
    this.#log = opts.log.child({ plugin: opts.source });
  }

  get meta(): PluginMeta {
    if (!this.#meta) throw new Error("Plugin is not started");
    return this.#meta;
  }

  get disabled(): boolean {
    return this.#state === "closed" || (this.#health?.disabled ?? false);
  }

  /** First start: import, validate, check permissions, setup. */
  async start(): Promise<void> {
    await this.#preflight();
    try {
      await this.#boot();
    } catch (err) {
      this.#terminate();
      this.#state = "closed";
      throw err;
    }
    const meta = this.#meta!;
    this.#health = new PluginHealth(
      meta.name,
      this.#log,
      this.#opts.metrics,
      this.#opts.maxFailures ?? DEFAULT_MAX_FAILURES,
      () => {
        this.#opts.onEvent?.({ type: "disabled" });
        this.#stop(`Plugin "${meta.name}" is disabled`);
      },
    );
    this.#state = "running";
  }

  /** Refuses a grant the bot itself does not hold, before a Worker is created. */
  async #preflight(): Promise<void> {
    const label = `Plugin at ${this.#opts.source}`;
    await checkHostHolds(label, this.#grant);
    for (const file of this.#implicitRead) {
      if ((await Deno.permissions.query({ name: "read", path: file })).state !== "granted") {
        throw new ClankError(
          "PLUGIN_LOAD_FAILED",
          `${label}: the bot cannot read ${file}; start it with --allow-read covering the plugin files`,
        );
      }
    }
  }

  call<T = unknown>(
    method: PluginMethod,
    input: unknown,
    options?: { timeoutMs?: number },
  ): Promise<CallOutcome<T>> {
    const health = this.#health!;
    if (this.#state === "closed" || health.disabled) return Promise.resolve(health.disabledOutcome());
    if (!this.#meta!.methods.includes(method)) {
      return Promise.resolve(
        method === "observe"
          ? { ok: true, value: undefined as T }
          : { ok: false, reason: "threw", error: `Plugin "${this.#meta!.name}" has no ${method}() handler` },
      );
    }
    if (this.#state !== "running") {
      return Promise.resolve({
        ok: false,
        reason: "threw",
        error: "Plugin worker is restarting after a failure",
      });
    }
    const id = this.#nextId++;
    const timeoutMs = options?.timeoutMs ?? this.#opts.timeoutMs;
    const deadline = Date.now() + timeoutMs;
    return new Promise((resolve) => {
      const call: Pending = {
        t: "call",
        id,
        method,
        input,
        deadline,
        timeoutMs,
        resolve: resolve as Pending["resolve"],
      };
      this.#pending.set(id, call);
      this.#outbox!.push(call);
      if (this.#watchdog === undefined || deadline < this.#watchdogAt) this.#armWatchdog();
    });
  }

  async close(): Promise<void> {
    if (this.#state === "closed") return;
    // A Worker suspected of hanging (a ping is unanswered) gets no chance to run teardown.
    const wasRunning = this.#state === "running" && this.#worker !== undefined && this.#awaitingPong === 0;
    this.#state = "closed";
    // Calls already made finish first, up to their deadlines: failed as "disabled" they were waved
    // through, so a chat line halfway through the filters during a reload skipped the rest of them.
    if (wasRunning && this.#pending.size > 0) await this.#drain();
    this.#clearTimers();
    this.#failPending(() => ({ ok: false, reason: "disabled", error: "Plugin was closed" }));
    if (wasRunning) {
      try {
        await this.#request(
          { t: "teardown" },
          Math.max(this.#opts.timeoutMs, 1000),
          "teardown",
        );
      } catch (err) {
        this.#log.warn("Plugin teardown did not finish", { error: describeError(err) });
      }
    }
    this.#terminate();
  }

  /** Resolves once every pending call has its answer, or at the latest of their deadlines. */
  async #drain(): Promise<void> {
    let latest = 0;
    const answered: Promise<void>[] = [];
    for (const p of this.#pending.values()) {
      latest = Math.max(latest, p.deadline);
      const resolve = p.resolve;
      answered.push(
        new Promise((done) => {
          p.resolve = (outcome) => {
            resolve(outcome);
            done();
          };
        }),
      );
    }
    await raceDeadline(Promise.all(answered), Math.max(0, latest - Date.now()));
  }

  /** Spawns a Worker and brings it to the running state (first start and restarts). */
  /** Imports and validates the plugin in a Worker without running it, then stops the Worker. */
  async probe(): Promise<PluginMeta> {
    try {
      await this.#preflight();
      return await this.#boot(true);
    } finally {
      this.#terminate();
      this.#state = "closed";
    }
  }

  async #boot(probeOnly = false): Promise<PluginMeta> {
    const setupMs = this.#opts.setupTimeoutMs ?? 30_000;
    this.#spawn();
    const ready = await this.#request(
      { t: "init", url: this.#opts.url.href, source: this.#opts.source },
      setupMs,
      "load",
    );
    if (ready.t === "init_error") {
      throw new ClankError(ready.code, explainImportFailure(String(ready.message)));
    }
    const parsed = ReadySchema.safeParse(ready);
    if (ready.t !== "ready" || !parsed.success) {
      throw new ClankError(
        "PLUGIN_LOAD_FAILED",
        `Plugin at ${this.#opts.source}: its Worker sent an invalid ready message`,
      );
    }
    const meta = { ...parsed.data.meta, source: this.#opts.source, sandboxed: true } as PluginMeta;
    if (this.#meta && this.#meta.name !== meta.name) {
      throw new ClankError(
        "PLUGIN_LOAD_FAILED",
        `Plugin "${this.#meta.name}" changed its name to "${meta.name}"; reload instead`,
      );
    }
    if (probeOnly) return meta;
    checkReservedName(meta.name, this.#opts.source, this.#opts.reservedNames);
    checkDeclaredPermissions(meta.name, parsed.data.permissions, this.#grant);
    this.#meta ??= meta;
    this.#log = this.#opts.log.child({ plugin: meta.name });
    const done = await this.#request({ t: "setup", options: this.#opts.options ?? {} }, setupMs, "setup");
    if (done.t === "setup_error") throw new ClankError(done.code, String(done.message));
    if (done.t !== "setup_done") {
      throw new ClankError("PLUGIN_LOAD_FAILED", `Plugin "${meta.name}": unexpected reply to setup`);
    }
    return meta;
  }

  #spawn(): void {
    let worker: Worker;
    try {
      worker = new Worker(WORKER_URL, {
        type: "module",
        name: `clank plugin ${this.#opts.source}`,
        deno: { permissions: this.#permissions },
      } as WorkerOptions);
    } catch (err) {
      const hint = describeError(err).includes("unstable-worker-options")
        ? "start the bot with --unstable-worker-options (sandboxed plugins need it)"
        : describeError(err);
      throw new ClankError(
        "PLUGIN_LOAD_FAILED",
        `Plugin at ${this.#opts.source} could not be sandboxed: ${hint}`,
      );
    }
    this.#worker = worker;
    this.#outbox = new Outbox<HostMessage>(worker, (m, err) => this.#unsendable(m, err), compactHostBatch);
    worker.onmessage = (e: MessageEvent) => this.#receive(worker, e.data);
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.#crashed(worker, e.message);
    };
    worker.onmessageerror = () => this.#crashed(worker, "sent a message that could not be read");
  }

  /** Sends a lifecycle request and waits for its answer (one at a time). */
  #request(message: HostMessage, timeoutMs: number, what: string): Promise<WorkerMessage> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#control = undefined;
        reject(
          new ClankError(
            "PLUGIN_LOAD_FAILED",
            `Plugin at ${this.#opts.source}: ${what} did not finish within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      this.#control = {
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.#outbox!.push(message);
    });
  }

  #receive(worker: Worker, data: unknown): void {
    if (!Array.isArray(data)) return;
    for (const m of data as WorkerMessage[]) {
      // A restart or disable inside this loop retires the Worker; ignore the rest of its batch.
      if (worker !== this.#worker) return;
      if (typeof m !== "object" || m === null) continue;
      // One message the host cannot handle must not cost the rest of the batch, nor the process.
      try {
        switch (m.t) {
          case "result":
            this.#settle(m);
            break;
          case "passes":
          case "dones":
            if (!Array.isArray(m.ids)) break;
            for (const id of m.ids) {
              if (worker !== this.#worker) return;
              this.#settleCompact(id, m.t === "passes");
            }
            break;
          case "log":
            this.#pluginLog(m);
            break;
          case "store":
            void this.#storeOp(m);
            break;
          case "pong":
            if (m.id === this.#awaitingPong) {
              this.#awaitingPong = 0;
              clearTimeout(this.#pingTimer);
              this.#pingTimer = undefined;
            }
            break;
          case "ready":
          case "init_error":
          case "setup_done":
          case "setup_error":
          case "teardown_done": {
            const c = this.#control;
            this.#control = undefined;
            c?.resolve(m);
            break;
          }
        }
      } catch (err) {
        this.#log.warn("Plugin sent a message the host could not handle", { error: describeError(err) });
      }
    }
  }

  /**
   * An answer that arrived in a `passes` or `dones` run. A `check` that passed needs no schema check
   * (the answer is exactly `{ action: "pass" }`); anything else goes through the usual one, so a
   * Worker that claims a pass for another method gets the same verdict as if it had sent the object.
   */
  #settleCompact(id: unknown, pass: boolean): void {
    if (typeof id !== "number") return;
    const p = this.#pending.get(id);
    if (!p) return;
    if (!pass || p.method !== "check") {
      this.#settle({ t: "result", id, ok: true, value: pass ? { action: "pass" } : undefined });
      return;
    }
    this.#pending.delete(id);
    this.#health!.succeeded();
    p.resolve(PASSED);
  }

  #settle(m: Extract<WorkerMessage, { t: "result" }>): void {
    const p = this.#pending.get(m.id);
    if (!p) return;
    this.#pending.delete(m.id);
    const health = this.#health!;
    if (m.ok === true) {
      const checked = checkPluginOutput(p.method, m.value);
      if (checked.ok) {
        health.succeeded();
        p.resolve({ ok: true, value: checked.value });
      } else p.resolve(health.failed("malformed", checked.error));
    } else {
      p.resolve(health.failed(m.malformed === true ? "malformed" : "threw", String(m.error).slice(0, 1000)));
    }
  }

  #pluginLog(m: Extract<WorkerMessage, { t: "log" }>): void {
    const now = Date.now();
    const w = this.#logWindow;
    if (now - w.start >= 1000) {
      if (w.dropped > 0) this.#log.warn(`Dropped ${w.dropped} log lines: the plugin logs too much`);
      this.#logWindow = { start: now, count: 0, dropped: 0 };
    }
    if (++this.#logWindow.count > MAX_LOG_LINES_PER_SECOND) {
      this.#logWindow.dropped++;
      return;
    }
    const level = m.level === "debug" || m.level === "warn" || m.level === "error" ? m.level : "info";
    const fields = typeof m.fields === "object" && m.fields !== null && !Array.isArray(m.fields)
      ? m.fields
      : undefined;
    // Nested and size-capped: a plugin cannot overwrite the line's own level, plugin or event, nor
    // flood the log with megabytes per line.
    let extra: Record<string, unknown> | undefined;
    if (fields !== undefined) {
      try {
        const json = JSON.stringify(fields) ?? "";
        extra = {
          plugin_fields: json.length <= MAX_LOG_FIELDS_CHARS
            ? fields
            : `(${json.length} characters, dropped)`,
        };
      } catch (err) {
        // A BigInt or a cycle crosses the Worker boundary but has no JSON form.
        extra = { plugin_fields: `(could not be logged: ${describeError(err)})` };
      }
    }
    this.#log[level](String(m.msg).slice(0, 2000), extra);
  }

  async #storeOp(m: Extract<WorkerMessage, { t: "store" }>): Promise<void> {
    const outbox = this.#outbox;
    const name = this.#meta?.name;
    if (!outbox || !name) return;
    try {
      checkStoreKey(m.key);
      let value: unknown;
      if (m.op === "get") value = await this.#opts.store.get(name, m.key);
      else if (m.op === "delete") {
        await this.#opts.store.delete(name, m.key);
        this.#storeKeys.delete(m.key);
      } else if (m.op === "set") {
        if (!this.#storeKeys.has(m.key) && this.#storeKeys.size >= MAX_STORE_KEYS) {
          throw new Error(
            `Too many store keys: at most ${MAX_STORE_KEYS} per plugin; delete keys you no longer need`,
          );
        }
        this.#storeKeys.add(m.key);
        const json = JSON.stringify(m.value);
        if (json === undefined || json.length > MAX_STORE_VALUE_CHARS) {
          throw new Error(`Store values must be JSON of at most ${MAX_STORE_VALUE_CHARS} characters`);
        }
        await this.#opts.store.set(name, m.key, JSON.parse(json));
      } else throw new Error("Unknown store operation, allowed: get, set, delete");
      outbox.push({ t: "store_result", id: m.id, ok: true, value });
    } catch (err) {
      outbox.push({
        t: "store_result",
        id: m.id,
        ok: false,
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }

  #unsendable(m: HostMessage, err: unknown): void {
    if (m.t !== "call") return;
    const p = this.#pending.get(m.id);
    this.#pending.delete(m.id);
    // The host handed over something that is not plain data: a host bug, not the plugin's failure.
    p?.resolve({
      ok: false,
      reason: "threw",
      error: `Input is not structured-clone safe: ${describeError(err)}`,
    });
  }

  /** One timer for all calls in flight, set for the earliest deadline. */
  #armWatchdog(): void {
    clearTimeout(this.#watchdog);
    this.#watchdog = undefined;
    let earliest = Infinity;
    for (const p of this.#pending.values()) if (p.deadline < earliest) earliest = p.deadline;
    if (earliest === Infinity) return;
    this.#watchdogAt = earliest;
    this.#watchdog = setTimeout(() => this.#onWatchdog(), Math.max(0, earliest - Date.now()));
  }

  #onWatchdog(): void {
    this.#watchdog = undefined;
    const now = Date.now();
    const expired: Pending[] = [];
    for (const [id, p] of this.#pending) {
      if (p.deadline > now) continue;
      this.#pending.delete(id);
      expired.push(p);
    }
    if (expired.length > 0) {
      const health = this.#health!;
      const first = expired[0]!;
      // One missed deadline counts once towards disabling, however many calls were queued behind it.
      first.resolve(
        health.failed("timeout", `${first.method}() did not answer within ${first.timeoutMs} ms`),
      );
      for (const p of expired.slice(1)) {
        p.resolve(health.collateral("timeout", `${p.method}() did not answer within ${p.timeoutMs} ms`));
      }
      if (this.#state === "running" && this.#awaitingPong === 0 && !health.disabled) this.#ping();
    }
    if (this.#watchdog === undefined && this.#state === "running") this.#armWatchdog();
  }

  #ping(): void {
    const id = ++this.#pingSeq;
    this.#awaitingPong = id;
    this.#outbox!.push({ t: "ping", id });
    const grace = this.#opts.hangGraceMs ?? Math.min(this.#opts.timeoutMs, 1000);
    this.#pingTimer = setTimeout(() => {
      this.#pingTimer = undefined;
      if (this.#awaitingPong !== id) return;
      this.#log.warn("Plugin worker missed a deadline and does not respond; terminating it");
      this.#opts.onEvent?.({ type: "hung" });
      this.#restart("it hung");
    }, grace);
  }

  #crashed(worker: Worker, error: string): void {
    if (worker !== this.#worker) return;
    if (this.#control) {
      const c = this.#control;
      this.#control = undefined;
      c.reject(
        new ClankError("PLUGIN_LOAD_FAILED", `Plugin at ${this.#opts.source}: its Worker failed: ${error}`),
      );
      return;
    }
    if (this.#state !== "running") return;
    this.#log.error("Plugin worker crashed", { error });
    this.#opts.onEvent?.({ type: "crashed", error });
    this.#restart("it crashed");
  }

  /** Terminates the Worker, fails calls in flight, and schedules a restart (or disables). */
  #restart(why: string): void {
    const health = this.#health!;
    this.#stop(`Plugin worker was restarted (${why}) before it answered`, health);
    if (health.disabled) return;
    const now = Date.now();
    this.#restartTimes = this.#restartTimes.filter((t) => now - t < 60_000);
    const max = this.#opts.maxRestartsPerMinute ?? 3;
    if (this.#restartTimes.length >= max) {
      health.disable(`${max} worker restarts within a minute (${why} again)`);
      return;
    }
    if (this.#restartTimes.length === 0) this.#restartAttempt = 0;
    this.#restartTimes.push(now);
    const delayMs = restartDelay(
      this.#restartAttempt++,
      this.#opts.restartBackoffMs ?? 1000,
      this.#opts.maxRestartBackoffMs ?? 30_000,
    );
    this.#state = "restarting";
    this.#opts.onEvent?.({ type: "restarting", delayMs });
    this.#log.warn(`Restarting plugin worker in ${delayMs} ms`, { why });
    this.#restartTimer = setTimeout(async () => {
      this.#restartTimer = undefined;
      try {
        await this.#boot();
      } catch (err) {
        this.#terminate();
        if (this.#state !== "closed") {
          health.disable(`its worker could not be restarted: ${describeError(err)}`);
        }
        return;
      }
      if (this.#state === "closed") {
        this.#terminate();
        return;
      }
      this.#state = "running";
      this.#log.info("Plugin worker restarted");
      this.#opts.onEvent?.({ type: "restarted" });
    }, delayMs);
  }

  /** Terminates the Worker and fails every call in flight (not counted towards disabling). */
  #stop(error: string, health?: PluginHealth): void {
    this.#clearTimers();
    this.#terminate();
    this.#failPending(() =>
      health && !health.disabled
        ? health.collateral("timeout", error)
        : { ok: false, reason: "disabled", error }
    );
  }

  #failPending(outcome: () => CallOutcome<unknown>): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.resolve(outcome());
  }

  #clearTimers(): void {
    clearTimeout(this.#watchdog);
    clearTimeout(this.#pingTimer);
    clearTimeout(this.#restartTimer);
    this.#watchdog = this.#pingTimer = this.#restartTimer = undefined;
    this.#awaitingPong = 0;
  }

  #terminate(): void {
    const c = this.#control;
    this.#control = undefined;
    c?.reject(new ClankError("PLUGIN_LOAD_FAILED", `Plugin at ${this.#opts.source}: its Worker was stopped`));
    this.#outbox?.clear();
    this.#worker?.terminate();
    this.#worker = undefined;
    this.#outbox = undefined;
  }
}

/**
 * A Worker without read access cannot tell a missing import from a forbidden one; the host can.
 * Rewrites Deno's "Requires read access" for an import into which of the two it is.
 */
export function explainImportFailure(message: string): string {
  const m = /Requires read access to "([^"]+)"/.exec(message);
  if (m === null) return message;
  const path = m[1]!;
  let exists = true;
  try {
    Deno.statSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) exists = false;
  }
  const head = message.slice(0, message.indexOf(":", message.indexOf("could not be imported")) + 1);
  return exists
    ? `${head} it imports ${path}, which it may not read: grant it with permissions = { read = ["${path}"] }`
    : `${head} it imports ${path}, which does not exist`;
}
