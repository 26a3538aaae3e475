/**
 * Failure bookkeeping shared by the in-process and the sandboxed plugin handles: every failed call is
 * counted and logged with the plugin's name, and a plugin that keeps failing is disabled once, with
 * one clear log line and a metric, so the host goes on without it.
 * @module
 */
import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics.ts";
import type { CallOutcome } from "./plugin_handle.ts";

/** Why a call failed (`disabled` is never counted as a new failure). */
export type FailureReason = "threw" | "timeout" | "malformed";

/**
 * Errors that report an outage of a service the plugin depends on (Ollama down, an API timing out),
 * not a fault of the plugin: counted and logged quietly, never towards disabling it, so the plugin
 * is there again when the service comes back. Third-party plugins signal one by throwing an error
 * whose message starts with `UPSTREAM_UNAVAILABLE:`. Anchored: the code must open the error (after
 * the host's `method() threw` and the error's name), so a fault whose text merely mentions it still
 * counts towards disabling.
 */
export const UPSTREAM_FAILURE =
  /^(?:\w+\(\) threw )?(?:[A-Za-z]*Error: )?(?:OLLAMA_(?:UNREACHABLE|TIMEOUT|ERROR|MODEL_MISSING)|UPSTREAM_UNAVAILABLE):/;

/** Consecutive failures after which a plugin is disabled by default. */
export const DEFAULT_MAX_FAILURES = 5;

/** Failure counter and disable switch of one plugin. */
export class PluginHealth {
  readonly #name: string;
  readonly #log: Logger;
  readonly #metrics: Metrics;
  readonly #maxFailures: number;
  readonly #onDisable: (() => void) | undefined;
  #consecutive = 0;
  #disabled = false;

  /** `log` should already carry the plugin's name; `onDisable` releases resources (a Worker). */
  constructor(
    name: string,
    log: Logger,
    metrics: Metrics,
    maxFailures: number = DEFAULT_MAX_FAILURES,
    onDisable?: () => void,
  ) {
    this.#name = name;
    this.#onDisable = onDisable;
    this.#log = log;
    this.#metrics = metrics;
    this.#maxFailures = Math.max(1, maxFailures);
    // A reloaded plugin starts healthy, whatever its predecessor did.
    metrics.pluginsDisabled.set({ plugin: name }, 0);
  }

  /** True once the plugin was disabled. */
  get disabled(): boolean {
    return this.#disabled;
  }

  /** Records a successful call. */
  succeeded(): void {
    this.#consecutive = 0;
  }

  /** Records a failed call, disables the plugin after too many in a row, and returns the outcome. */
  failed(reason: FailureReason, error: string): CallOutcome<never> {
    if (this.#disabled) return { ok: false, reason: "disabled", error };
    if (reason === "threw" && UPSTREAM_FAILURE.test(error)) {
      this.#metrics.pluginFailures.inc({ plugin: this.#name, reason: "upstream" });
      this.#log.debug("Plugin call failed: its upstream service is unavailable", { error });
      return { ok: false, reason, error };
    }
    this.#metrics.pluginFailures.inc({ plugin: this.#name, reason });
    this.#consecutive++;
    this.#log.warn(`Plugin call failed (${reason})`, { reason, error, consecutive: this.#consecutive });
    if (this.#consecutive >= this.#maxFailures) {
      this.disable(`${this.#consecutive} consecutive failed calls, the last: ${error}`);
    }
    return { ok: false, reason, error };
  }

  /**
   * Counts a call that failed only because another one broke the Worker (it was in flight when the
   * Worker was restarted): in the metric, but not towards disabling.
   */
  collateral(reason: FailureReason, error: string): CallOutcome<never> {
    if (this.#disabled) return { ok: false, reason: "disabled", error };
    this.#metrics.pluginFailures.inc({ plugin: this.#name, reason });
    return { ok: false, reason, error };
  }

  /** Disables the plugin (idempotent): one error line and `clank_plugin_disabled{plugin} 1`. */
  disable(why: string): void {
    if (this.#disabled) return;
    this.#disabled = true;
    this.#metrics.pluginsDisabled.set({ plugin: this.#name }, 1);
    this.#log.error(
      `Plugin "${this.#name}" disabled after ${why}; the bot goes on without it until it is fixed and reloaded`,
    );
    this.#onDisable?.();
  }

  /** The outcome of a call to a disabled plugin. */
  disabledOutcome(): CallOutcome<never> {
    return { ok: false, reason: "disabled", error: `Plugin "${this.#name}" is disabled` };
  }
}
