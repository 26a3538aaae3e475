/**
 * A tmi.js logger that says nothing, for the bare clients the benchmarks compare the bot with.
 * @module
 */

/** A logger for tmi.js's `logger` option whose every level does nothing. */
export function silentTmiLogger(): Record<string, () => void> {
  const noop = () => {};
  return { trace: noop, debug: noop, info: noop, warn: noop, error: noop, fatal: noop, setLevel: noop };
}
