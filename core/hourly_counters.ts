/**
 * Per-channel hourly counters (chat lines, lines sent by kind) kept in the database's
 * `metrics_rows`, so a channel's activity history survives restarts and Prometheus retention;
 * the maintenance job prunes old hours. Counts are summed in memory and written once a minute.
 * @module
 */
import type { MetricRow } from "./migrations.ts";

/**
 * Writes rows, adding each value to the stored one for its (channel, metric, hour), once per
 * `flushId` the rows carry.
 */
export type MetricRowWriter = (rows: MetricRow[]) => Promise<void>;

const HOUR_MS = 3_600_000;

/** Most distinct (channel, metric, hour) keys held while the database is unavailable. */
export const MAX_PENDING = 50_000;

/**
 * Sums counts per channel, metric and hour until they are flushed. Each flush carries a new flush id
 * on its rows; a flush that failed is sent again unchanged (same rows, same id) before anything
 * counted since, so a write that committed but lost its acknowledgement is recognised by the
 * database and not added twice.
 */
export class HourlyCounters {
  #pending = new Map<string, MetricRow>();
  /** The rows of a failed flush, kept as they were sent. */
  #retry: { id: string; rows: Map<string, MetricRow> } | undefined = undefined;

  /** Adds `n` to a channel's metric for the hour containing `time`. */
  add(channel: string, metric: string, time: number, n = 1): void {
    const hourMs = Math.floor(time / HOUR_MS) * HOUR_MS;
    const key = `${channel}\u0000${metric}\u0000${hourMs}`;
    const row = this.#pending.get(key);
    if (row !== undefined) {
      row.value += n;
      return;
    }
    // During a long outage the oldest hours go first (the failed flush holds the oldest); counts
    // are statistics, not chat.
    if (this.pending >= MAX_PENDING) {
      const retry = this.#retry?.rows;
      if (retry !== undefined && retry.size > 0) retry.delete(retry.keys().next().value!);
      else this.#pending.delete(this.#pending.keys().next().value!);
    }
    this.#pending.set(key, { channel, metric, hourMs, value: n });
  }

  /** Rows not yet written. */
  get pending(): number {
    return this.#pending.size + (this.#retry?.rows.size ?? 0);
  }

  /**
   * Writes everything summed so far: first a failed flush again, as it was, then the new counts
   * under a new flush id. On failure the rows are kept for the next try.
   */
  async flush(write: MetricRowWriter): Promise<void> {
    if (this.#retry !== undefined) {
      const retry = this.#retry;
      if (retry.rows.size > 0) await write([...retry.rows.values()]);
      if (this.#retry === retry) this.#retry = undefined;
    }
    if (this.#pending.size === 0) return;
    const id = crypto.randomUUID();
    const rows = new Map<string, MetricRow>();
    for (const [key, r] of this.#pending) rows.set(key, { ...r, flushId: id });
    this.#pending = new Map();
    try {
      await write([...rows.values()]);
    } catch (err) {
      this.#retry = { id, rows };
      throw err;
    }
  }
}
