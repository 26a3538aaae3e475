/**
 * The loaded plugins, grouped the way the pipeline uses them, with timing and failure accounting
 * around every call. Built-in and sandboxed plugins look the same here.
 * @module
 */
import type { CallOutcome, PluginHandle, PluginMethod } from "./plugin_handle.ts";
import { type Metrics, MIDDLEWARE_TIMING_SAMPLE } from "./metrics.ts";
import type { TriggerKind } from "../plugins/sdk.ts";

/** One plugin call in this many is timed (clank_middleware_duration_seconds is a sample). */
const TIMING_SAMPLE = MIDDLEWARE_TIMING_SAMPLE;

/** A call's outcome as the pipeline sees it; a failure was already logged and counted by the handle. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: string };

/**
 * The set that last loaded each plugin name, per registry. A reload builds the new set before it
 * closes the old one, so the old set may only drop the series of names no newer set has claimed.
 */
const seriesOwners = new WeakMap<Metrics, Map<string, PluginSet>>();

const DISABLED: Outcome<never> = Object.freeze({ ok: false, error: "disabled" });

function toOutcome<T>(outcome: CallOutcome<T>): Outcome<T> {
  return outcome.ok ? outcome : { ok: false, error: outcome.error };
}

/** Plugins by role. */
export class PluginSet {
  readonly all: readonly PluginHandle[];
  readonly observers: readonly PluginHandle[];
  readonly contexts: readonly PluginHandle[];
  readonly filtersIn: readonly PluginHandle[];
  readonly filtersOut: readonly PluginHandle[];
  readonly generators: ReadonlyMap<string, PluginHandle>;
  readonly commands: ReadonlyMap<string, PluginHandle>;
  readonly #gates: Record<TriggerKind, PluginHandle[]>;
  readonly #metrics: Metrics;

  constructor(plugins: readonly PluginHandle[], metrics: Metrics) {
    this.all = plugins;
    this.#metrics = metrics;
    const has = (p: PluginHandle, m: PluginMethod) => p.meta.methods.includes(m);
    this.observers = plugins.filter((p) => has(p, "observe"));
    this.contexts = plugins.filter((p) => p.meta.kind === "context" && has(p, "provide"));
    const filters = plugins.filter((p) => p.meta.kind === "filter");
    this.filtersIn = filters.filter((p) => (p.meta.directions ?? ["in", "out"]).includes("in"));
    this.filtersOut = filters.filter((p) => (p.meta.directions ?? ["in", "out"]).includes("out"));
    const gates = plugins.filter((p) => p.meta.kind === "cooldown");
    this.#gates = {
      mention: gates.filter((p) => (p.meta.triggers ?? ["mention", "spontaneous"]).includes("mention")),
      spontaneous: gates.filter((p) =>
        (p.meta.triggers ?? ["mention", "spontaneous"]).includes("spontaneous")
      ),
    };
    this.generators = new Map(
      plugins.filter((p) => p.meta.kind === "generator").map((p) => [p.meta.name, p]),
    );
    const commands = new Map<string, PluginHandle>();
    for (const p of plugins) {
      if (p.meta.kind !== "command" || p.meta.command === undefined) continue;
      for (const word of [p.meta.command, ...(p.meta.aliases ?? [])]) {
        if (!commands.has(word.toLowerCase())) commands.set(word.toLowerCase(), p);
      }
    }
    this.commands = commands;
    let owners = seriesOwners.get(metrics);
    if (owners === undefined) seriesOwners.set(metrics, owners = new Map());
    for (const p of plugins) owners.set(p.meta.name, this);
  }

  /** Cooldown plugins that gate a trigger. */
  gates(trigger: TriggerKind): readonly PluginHandle[] {
    return this.#gates[trigger];
  }

  /** Calls a plugin and records its time; a failure is `undefined` (the handle logged and counted it). */
  async call<T>(
    plugin: PluginHandle,
    method: PluginMethod,
    input: unknown,
    options?: { timeoutMs?: number },
  ): Promise<Outcome<T>> {
    if (plugin.disabled) return DISABLED;
    // One call in TIMING_SAMPLE is timed: reading the clock and updating a histogram on every call
    // would cost more than a typical in-process handler.
    // Random, not every n-th call: a fixed stride lines up with the fixed number of calls per line.
    if (Math.random() >= 1 / TIMING_SAMPLE) {
      return toOutcome(await plugin.call<T>(method, input, options));
    }
    const started = performance.now();
    try {
      return toOutcome(await plugin.call<T>(method, input, options));
    } finally {
      this.#metrics.middlewareDuration.observe(
        { plugin: plugin.meta.name, stage: method },
        (performance.now() - started) / 1000,
      );
    }
  }

  /**
   * Like {@link call}, but without a promise when the plugin answered synchronously: the
   * pipeline's per-line calls. Timed calls and handles without `callNow` go through {@link call}.
   */
  callNow<T>(
    plugin: PluginHandle,
    method: PluginMethod,
    input: unknown,
  ): Outcome<T> | Promise<Outcome<T>> {
    if (plugin.disabled) return DISABLED;
    if (plugin.callNow === undefined || Math.random() < 1 / TIMING_SAMPLE) {
      return this.call<T>(plugin, method, input);
    }
    const outcome = plugin.callNow<T>(method, input);
    return outcome instanceof Promise ? outcome.then(toOutcome) : toOutcome(outcome);
  }

  /**
   * Closes every plugin (teardown, workers terminated) and drops the `clank_plugin_disabled` series
   * of plugins no newer set loaded: a removed plugin must not report itself disabled until restart.
   */
  async close(): Promise<void> {
    await Promise.allSettled(this.all.map((p) => p.close()));
    const owners = seriesOwners.get(this.#metrics);
    for (const p of this.all) {
      if (owners?.get(p.meta.name) !== this) continue;
      owners.delete(p.meta.name);
      this.#metrics.pluginsDisabled.remove({ plugin: p.meta.name });
    }
  }
}
