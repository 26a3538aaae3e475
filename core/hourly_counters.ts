/**
 * Per-channel hourly counters (chat lines, lines sent by kind) kept in the database's
 * `metrics_rows`, so a channel's activity history survives restarts and Prometheus retention;
 * the maintenance job prunes old hours. Counts are summed in memory and written once a minute.
 * @module
 */
import type { MetricRow } from "./migrations.ts";

/** Writes rows, adding each value to the stored one for its (channel, metric, hour). */
export type MetricRowWriter = (rows: MetricRow[]) => Promise<void>;

const HOUR_MS = 3_600_000;

/** Most distinct (channel, metric, hour) keys held while the database is unavailable. */
export const MAX_PENDING = 50_000;

/** Sums counts per channel, metric and hour until they are flushed. */
export class HourlyCounters {
  #pending = new Map<string, MetricRow>();

  /** Adds `n` to a channel's metric for the hour containing `time`. */
  add(channel: string, metric: string, time: number, n = 1): void {
    const hourMs = Math.floor(time / HOUR_MS) * HOUR_MS;
    const key = `${channel}\u0000${metric}\u0000${hourMs}`;
    const row = this.#pending.get(key);
    if (row !== undefined) {
      row.value += n;
      return;
    }
    // During a long outage the oldest hours go first; counts are statistics, not chat.
    if (this.#pending.size >= MAX_PENDING) this.#pending.delete(this.#pending.keys().next().value!);
    this.#pending.set(key, { channel, metric, hourMs, value: n });
  }

  /** Rows not yet written. */
  get pending(): number {
    return this.#pending.size;
  }

  /** Writes everything summed so far; on failure the rows are kept (and merged) for the next try. */
  async flush(write: MetricRowWriter): Promise<void> {
    if (this.#pending.size === 0) return;
    const rows = [...this.#pending.values()];
    this.#pending = new Map();
    try {
      await write(rows);
    } catch (err) {
      // The failed rows go back ahead of those counted during the write: eviction takes the first key
      // in insertion order, and it must be the oldest hour, not a line said a moment ago.
      const arrived = this.#pending;
      this.#pending = new Map();
      for (const r of rows) this.add(r.channel, r.metric, r.hourMs, r.value);
      for (const r of arrived.values()) this.add(r.channel, r.metric, r.hourMs, r.value);
      throw err;
    }
  }
}
