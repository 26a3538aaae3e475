/**
 * The Worker side of a sandboxed plugin: imports the plugin file, validates it, and answers the host's
 * calls. It runs with exactly the permissions the operator granted (see `plugin_permissions.ts`), so
 * a denied operation inside a handler throws `Deno.errors.NotCapable`, which the host sees as a
 * failed call.
 *
 * The host posts arrays of {@link HostMessage}; this side answers with arrays of {@link WorkerMessage}.
 * @module
 */
import { describeError } from "./errors.ts";
import type { PluginMethod } from "./plugin_handle.ts";
import { pluginLabel, validatePluginDefinition, validatePluginOptions } from "./plugin_validation.ts";
import {
  compactWorkerBatch,
  type HostMessage,
  methodOf,
  Outbox,
  unpackInputs,
  type WorkerMessage,
} from "./sandbox_protocol.ts";
import type { Plugin, PluginApi } from "../plugins/sdk.ts";

// The Cache API is disk storage that no permission guards, shared by every Worker and kept across
// runs: a plugin without a write grant could fill the disk or hand data to another plugin through it.
// Removed before the plugin's module is even imported.
delete (globalThis as { caches?: unknown }).caches;

/** The parts of the Worker global scope used here (typed locally so this file checks with the default libs). */
const scope = globalThis as unknown as {
  postMessage(message: unknown): void;
  onmessage: ((e: MessageEvent) => void) | null;
  addEventListener(type: string, listener: (e: Event & { reason?: unknown; error?: unknown }) => void): void;
};

let plugin: Plugin | undefined;
let api: PluginApi | undefined;
let source = "";
let nextStoreId = 1;
const storeWaiters = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

const outbox = new Outbox<WorkerMessage>(scope, (message, err) => {
  const why = describeError(err);
  if (message.t === "result") {
    outbox.push({
      t: "result",
      id: message.id,
      ok: false,
      malformed: true,
      error: `returned a value that cannot be sent to the host (only plain data is allowed): ${why}`,
    });
  } else if (message.t === "store") {
    storeWaiters.get(message.id)?.reject(new Error(`Store values must be plain JSON data: ${why}`));
    storeWaiters.delete(message.id);
  } else if (message.t === "log") {
    outbox.push({ t: "log", level: message.level, msg: message.msg });
  }
}, compactWorkerBatch);

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (typeof v === "object" || typeof v === "function") && v !== null &&
    typeof (v as { then?: unknown }).then === "function";
}

function storeRequest(op: "get" | "set" | "delete", key: string, value?: unknown): Promise<unknown> {
  const id = nextStoreId++;
  return new Promise((resolve, reject) => {
    storeWaiters.set(id, { resolve, reject });
    outbox.push(op === "set" ? { t: "store", id, op, key, value } : { t: "store", id, op, key });
  });
}

function makeApi(name: string, options: unknown): PluginApi {
  const log =
    (level: "debug" | "info" | "warn" | "error") => (msg: string, fields?: Record<string, unknown>) =>
      outbox.push(
        fields === undefined
          ? { t: "log", level, msg: String(msg) }
          : { t: "log", level, msg: String(msg), fields },
      );
  return {
    name,
    options: options as Record<string, unknown>,
    log: { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") },
    store: {
      get: <T>(key: string) => storeRequest("get", key) as Promise<T | undefined>,
      set: async (key, value) => void await storeRequest("set", key, value),
      delete: async (key) => void await storeRequest("delete", key),
    },
  };
}

async function init(url: string, src: string): Promise<void> {
  source = src;
  let mod: { default?: unknown };
  try {
    mod = await import(url);
  } catch (err) {
    outbox.push({
      t: "init_error",
      code: "PLUGIN_LOAD_FAILED",
      // First line only, without terminal colours: the stack of a failed import is noise in a log.
      message: `Plugin at ${src} could not be imported: ${
        // deno-lint-ignore no-control-regex
        describeError(err).split("\n")[0]!.replace(/\x1b\[[0-9;]*m/g, "")}`,
    });
    return;
  }
  try {
    const validated = validatePluginDefinition(mod.default, src, true);
    plugin = validated.plugin;
    outbox.push({ t: "ready", meta: validated.meta, permissions: validated.permissions });
  } catch (err) {
    outbox.push({ t: "init_error", code: "PLUGIN_INVALID", message: (err as Error).message });
  }
}

async function setup(rawOptions: unknown): Promise<void> {
  if (!plugin) return;
  let options: unknown;
  try {
    options = await validatePluginOptions(plugin, source, rawOptions);
  } catch (err) {
    outbox.push({ t: "setup_error", code: "PLUGIN_INVALID", message: (err as Error).message });
    return;
  }
  api = makeApi(plugin.name, options);
  try {
    await plugin.setup?.(api);
    outbox.push({ t: "setup_done" });
  } catch (err) {
    outbox.push({
      t: "setup_error",
      code: "PLUGIN_LOAD_FAILED",
      message: `${pluginLabel(plugin.name, source)}: setup failed: ${describeError(err)}`,
    });
  }
}

function call(id: number, method: PluginMethod, input: unknown): void {
  const fn = plugin && api ? (plugin as unknown as Record<string, unknown>)[method] : undefined;
  if (typeof fn !== "function") {
    outbox.push(
      method === "observe" && plugin
        ? { t: "result", id, ok: true, value: undefined }
        : { t: "result", id, ok: false, error: `Plugin has no ${method}() handler` },
    );
    return;
  }
  try {
    const result = fn.call(plugin, input, api);
    // Closures only for async handlers: a synchronous answer is the common case, once per chat line.
    // Reading `then` runs plugin code too (a getter), so it stays inside the try.
    if (isThenable(result)) result.then((v) => succeeded(id, method, v), (err) => failed(id, method, err));
    else succeeded(id, method, result);
  } catch (err) {
    failed(id, method, err);
  }
}

function succeeded(id: number, method: PluginMethod, value: unknown): void {
  // observe() results are ignored, so they are not sent back (nothing to clone).
  outbox.push({ t: "result", id, ok: true, value: method === "observe" ? undefined : value });
}

function failed(id: number, method: PluginMethod, err: unknown): void {
  outbox.push({ t: "result", id, ok: false, error: `${method}() threw ${describeError(err)}` });
}

async function teardown(): Promise<void> {
  try {
    if (plugin && api) await plugin.teardown?.(api);
  } catch (err) {
    outbox.push({ t: "log", level: "warn", msg: `Plugin teardown failed: ${describeError(err)}` });
  }
  outbox.push({ t: "teardown_done" });
}

function handle(m: HostMessage): void {
  switch (m.t) {
    case "call":
      call(m.id, m.method, m.input);
      break;
    case "calls": {
      const inputs = unpackInputs(m);
      for (let i = 0; i < m.ids.length; i++) call(m.ids[i]!, methodOf(m, i), inputs[i]);
      break;
    }
    case "store_result": {
      const w = storeWaiters.get(m.id);
      storeWaiters.delete(m.id);
      if (m.ok) w?.resolve(m.value);
      else w?.reject(new Error(m.error));
      break;
    }
    case "ping":
      outbox.push({ t: "pong", id: m.id });
      break;
    case "init":
      void init(m.url, m.source);
      break;
    case "setup":
      void setup(m.options);
      break;
    case "teardown":
      void teardown();
      break;
  }
}

scope.onmessage = (e: MessageEvent) => {
  for (const m of e.data as HostMessage[]) handle(m);
};

// A stray rejection or timer exception in plugin code must not kill the Worker: report it instead.
scope.addEventListener("unhandledrejection", (e) => {
  e.preventDefault();
  outbox.push({ t: "log", level: "error", msg: `Unhandled rejection in plugin: ${describeError(e.reason)}` });
});
scope.addEventListener("error", (e) => {
  e.preventDefault();
  outbox.push({ t: "log", level: "error", msg: `Uncaught error in plugin: ${describeError(e.error)}` });
});
